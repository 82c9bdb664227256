"""prosparsity.reports"""
