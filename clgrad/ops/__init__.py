"""Every op clgrad has, as plain functions over device arrays (the namespaces re-export them)."""
import sys

from ..base import DeviceMismatchError, MXNetError, ShapeError  # noqa: F401
from .core import (arange, array, asarray, assign, astype, broadcast_shapes, copy, copy_raw,  # noqa: F401
                   empty, empty_like, eye, fill, full, full_like, identity, linspace, ones,
                   ones_like, resolve_device, to_device, zeros, zeros_like)
from .elementwise import *  # noqa: F401,F403
from .elementwise import (abs, around, bitwise_not, clip, divide, inplace, invert, remainder,  # noqa: F401
                          round, round_, unbroadcast, where)
from .reduce import *  # noqa: F401,F403
from .shape import (broadcast_arrays, broadcast_to, expand_dims, getitem, moveaxis, ravel,  # noqa: F401
                    reshape, setitem, squeeze, swapaxes, transpose)
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .manip import *  # noqa: F401,F403
from .sort import *  # noqa: F401,F403


from ..ndarray import ndarray as _nd  # noqa: E402
sys.modules[_nd.__module__]._ops = sys.modules[__name__]
