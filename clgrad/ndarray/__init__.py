"""The device array."""
from .ndarray import ndarray
from .storage import Storage

__all__ = ["ndarray", "Storage"]
