"""Tests of prosparsity.reports."""
