"""A stand-in for ``matplotlib_inline`` where it is not installed (``tests/d2l/nbrun.py`` puts
this folder last on ``sys.path``): calculus.md and d2l's library import its ``backend_inline``."""
