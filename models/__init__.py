"""prosparsity.models"""
