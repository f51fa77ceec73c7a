"""Advanced indexing (integer arrays and boolean masks)."""
from ..base import MXNetError

__all__ = ["nonzero"]


def advanced_getitem(a, key):
    raise MXNetError(f"advanced indexing with {type(key).__name__} is not supported yet")


def advanced_setitem(a, key, value):
    raise MXNetError(f"advanced index assignment with {type(key).__name__} is not supported yet")


def nonzero(a):
    raise MXNetError("nonzero is not supported yet")
