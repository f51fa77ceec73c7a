"""Benchmarks: clgrad side by side with NumPy, pyopencl (and PyTorch, CLBlast when installed)."""
