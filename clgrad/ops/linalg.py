"""Linear algebra: matmul and friends."""
from ..base import MXNetError

__all__ = ["matmul"]


def matmul(a, b):
    raise MXNetError("matmul is not supported yet")
