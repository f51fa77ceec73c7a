"""``clgrad.np``: the NumPy-compatible namespace over device arrays (MXNet's ``mxnet.np``)."""
import builtins as _b

import numpy as _onp

from .. import ops as _ops
from ..dtypes import (bool_, float16, float32, float64, int8, int16, int32, int64,  # noqa: F401
                      uint8)
from ..ndarray import ndarray
from ..ops import *  # noqa: F401,F403
from ..ops import (abs, all, amax, amin, any, arange, around, array, asarray, astype,  # noqa: F401
                   bitwise_not, broadcast_arrays, broadcast_shapes, broadcast_to, clip, copy,
                   divide, empty, empty_like, expand_dims, eye, full, full_like, identity, invert,
                   linspace, matmul, max, mean, min, moveaxis, ones, ones_like, prod, ravel,
                   remainder, reshape, round, round_, squeeze, sum, swapaxes, transpose, where,
                   zeros, zeros_like)
from . import random  # noqa: F401
import clgrad.numpy.linalg as linalg  # noqa: F401  (`from . import` would find ops.linalg)

# MXNet prints its arrays' type as mxnet.numpy.ndarray: the class's public home is here
ndarray.__module__ = __name__

bool = bool_  # noqa: A001
pi = _onp.pi
e = _onp.e
inf = _onp.inf
nan = _onp.nan
newaxis = None
dtype = _onp.dtype
finfo = _onp.finfo
iinfo = _onp.iinfo


def _host(a):
    return a.asnumpy() if isinstance(a, ndarray) else _onp.asarray(a)


def _on_host(name, fn, *args, **kwargs):
    """``fn`` (NumPy's) on host copies; its TypeError / ValueError as clgrad's, with ``name``."""
    from ..base import ArgumentError, ArgumentTypeError
    try:
        return fn(*[_host(a) for a in args], **kwargs)
    except TypeError as e:
        raise ArgumentTypeError(f"{name}: {e}") from None
    except ValueError as e:
        raise ArgumentError(f"{name}: {e}") from None
    except OverflowError as e:      # an integer beyond C's (an axis, say)
        from ..base import ScalarConversionError
        raise ScalarConversionError(f"{name}: {e}") from None


def array_equal(a1, a2, equal_nan=False):
    """True if both have the same shape and elements (NumPy or clgrad arrays)."""
    return _b.bool(_on_host("array_equal", _onp.array_equal, a1, a2, equal_nan=equal_nan))


def array_equiv(a1, a2):
    """True if the arrays are shape-consistent (broadcastable) and equal elementwise."""
    return _b.bool(_on_host("array_equiv", _onp.array_equiv, a1, a2))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _b.bool(_on_host("allclose", _onp.allclose, a, b, rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def _close_operand(x, like):
    """``x`` as an array on ``like``'s device; Python scalars stay weak (as NumPy's)."""
    if isinstance(x, (_b.bool, _b.int, _b.float)):
        from ..dtypes import result_type as _rt
        return array(x, dtype=_rt(like.dtype, x), device=like.device)
    return array(_onp.asarray(x), device=like.device)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness, computed on the device."""
    if not isinstance(equal_nan, (_b.bool, _onp.bool_, _b.int)):
        from ..base import ArgumentTypeError
        raise ArgumentTypeError(f"isclose: equal_nan must be a bool, not "
                                f"{type(equal_nan).__name__}")
    a_arr = a if isinstance(a, ndarray) else None
    b_arr = b if isinstance(b, ndarray) else None
    if a_arr is None and b_arr is None:
        return array(_on_host("isclose", _onp.isclose, a, b, rtol=rtol, atol=atol,
                              equal_nan=equal_nan))
    a = a_arr if a_arr is not None else _close_operand(a, b_arr)
    b = b_arr if b_arr is not None else _close_operand(b, a)
    close = _ops.less_equal(_ops.absolute(_ops.subtract(a, b)),
                            _ops.add(atol, _ops.multiply(rtol, _ops.absolute(b))))
    # an infinite b is close only to itself (inf - -inf <= rtol * inf would say otherwise)
    close = _ops.logical_and(close, _ops.isfinite(b))
    close = _ops.logical_or(close, _ops.equal(a, b))
    if equal_nan:
        close = _ops.logical_or(close, _ops.logical_and(_ops.isnan(a), _ops.isnan(b)))
    return close


def shape(a):
    return a.shape if isinstance(a, ndarray) else _onp.shape(a)


def size(a, axis=None):
    if not isinstance(a, ndarray):
        return _on_host("size", lambda h: _onp.size(h, axis), a)
    if axis is None:
        return a.size
    from ..ops.reduce import normalize_axis
    return a.shape[normalize_axis(axis, a.ndim)]


def ndim(a):
    return a.ndim if isinstance(a, ndarray) else _onp.ndim(a)


def result_type(*arrays_and_dtypes):
    from ..dtypes import result_type as rt
    if not arrays_and_dtypes:
        from ..base import ArgumentError
        raise ArgumentError("result_type: at least one array or dtype is required")
    return rt(*[x.dtype if isinstance(x, ndarray) else (_onp.dtype(x) if isinstance(
        x, (str, type, _onp.dtype)) else x) for x in arrays_and_dtypes])


def ascontiguousarray(a, dtype=None):
    a = asarray(a, dtype=dtype)
    return a if a._is_c_contiguous() else copy(a)
