"""prosparsity.accel"""
