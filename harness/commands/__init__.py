"""prosparsity.harness.commands"""
