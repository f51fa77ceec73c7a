"""Elementwise ops: one table of (expression per dtype kind, dtype rule, vjp), one kernel family.

Each op's expression is OpenCL C over ``v0, v1, ...`` (the inputs converted to the compute type
``T``). Python scalars travel as kernel arguments, never as device arrays. vjps are written with
these same ops, so they are recorded when a backward pass builds a graph (``create_graph``).
"""
from .spec import EwSpec, define, unbroadcast  # noqa: F401
from .table import *  # noqa: F401,F403
from .table import __all__  # noqa: F401
from .table import (abs, around, bitwise_not, clip, divide, inplace, invert,  # noqa: F401
                    remainder, round, round_, where)
