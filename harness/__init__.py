"""prosparsity.harness"""
