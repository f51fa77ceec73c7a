"""What the nn ops share: the parameter error, input checks and the map of an OpenCL C expression
over operands (the elementwise kernel family).
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...autograd import graph as _state
from ...base import DTypeError, MXNetError
from ...codegen import render as R
from ...ndarray import ndarray
from .. import launch
from ..core import array, broadcast_shapes, same_device


class ParameterError(MXNetError, ValueError):
    """An op parameter out of its domain (unknown act_type, p outside [0, 1], ...)."""


# --- shared helpers ----------------------------------------------------------------------------
def _arr(x, name="data"):
    if isinstance(x, ndarray):
        return x
    if isinstance(x, (_np.ndarray, list, tuple, numbers.Number, _np.generic)):
        return array(x)
    raise DTypeError(f"{name} must be an array, got {type(x).__name__}")


def _float_of(x, name):
    """(compute dtype, output dtype) of a float-valued op: floats keep theirs, ints -> float32."""
    d = x.dtype
    if d.kind == "f":
        return d, d
    if d == dt.bool_:
        raise DTypeError(f"{name} is not defined for boolean arrays")
    return dt.default_float, dt.default_float


def _scalar(v, compute):
    return dt.cast_scalar(v, compute)


def _map(name, expr, inputs, out_dtype, compute, shape=None):
    """A new array of ``expr`` over ``inputs`` (arrays broadcast together, or scalars).

    ``expr`` is OpenCL C over v0, v1, ... in the compute type; ``T`` names that type (as in
    the elementwise table: ``render.typed``). The kernel is the elementwise family's.
    """
    arrays = [x for x in inputs if isinstance(x, ndarray)]
    dev = same_device(arrays, name)
    if shape is None:
        a0 = arrays[0].shape if arrays else ()
        shape = a0 if all(a.shape == a0 for a in arrays) else \
            broadcast_shapes(*[a.shape for a in arrays])
    if (dev, out_dtype, compute) not in _CHECKED:
        dt.check_device(out_dtype, dev)
        dt.check_device(compute, dev)
        _CHECKED.add((dev, out_dtype, compute))
    out = ndarray._empty(shape, out_dtype, dev)
    ops_ = [x if isinstance(x, ndarray) else _scalar(x, compute) for x in inputs]
    launch.elementwise(name, out, ops_, R.typed(expr, dt.compute_ctype(compute)),
                       [compute] * len(inputs))
    return out


_CHECKED = set()    # (device, dtype, dtype) pairs that passed dt.check_device


def _recording():
    return _state.is_recording()


def _grad_dtype(g, x):
    """A gradient in the dtype of the input it belongs to (ops may compute in another)."""
    return g if g.dtype == x.dtype or x.dtype.kind != "f" else g.astype(x.dtype)
