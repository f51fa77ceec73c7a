"""``clgrad.array_api``: the Python Array API standard (2024.12) over clgrad's arrays and ops.

The arrays are the same ``clgrad.ndarray`` objects and every function is a thin layer over
``clgrad.ops`` (so autograd records them as usual). What differs from ``clgrad.np`` (MXNet's
namespace) are the standard's names, keyword-only signatures and defaults: a Python float or a
float-producing creation function gives the default floating dtype, float64 where the device
has ``cl_khr_fp64`` (float32 otherwise), and a Python int gives int64; ``np.array(3)`` in MXNet
is float32, ``asarray(3)`` here is int64.

``x.__array_namespace__()`` returns this module.

(Why this module is longer than most: it is the standard's namespace, one thin function per name
of the specification, kept in one place so that it reads against the specification's list.)

complex64 and complex128 (where the device has ``cl_khr_fp64``, which also makes complex128
the default complex dtype) cover creation, casts, arithmetic, equality, abs, real/imag/conj,
isnan/isinf/isfinite, the exponential, logarithmic, power, trigonometric and hyperbolic
functions (with the standard's special cases), sign, sum/prod/mean/any/all, the matrix products,
sort order and the unique functions; other functions refuse them with a ``DTypeError``.

Not provided: uint16/uint32/uint64 (clgrad has no such storage types), and the
optional ``linalg``/``fft`` extensions. Integer sums and products keep the input's integer type
(MXNet's rule; the standard would give int64/uint64).
"""
import builtins as _b
import math as _math
import numbers as _numbers
from collections import namedtuple as _namedtuple

import numpy as _np

from .. import dtypes as _dt
from .. import ops as _ops
from ..base import ArgumentError as _ArgumentError
from ..base import ArgumentTypeError as _ArgumentTypeError
from ..base import ArrayConversionError as _ArrayConversionError
from ..base import DTypeError as _DTypeError
from ..base import MXNetError as _MXNetError
from ..base import ScalarConversionError as _ScalarConversionError
from ..base import ShapeError as _ShapeError
from ..ndarray import ndarray as _ndarray
from ..ops.args import as_ints as _as_ints
from ..ops.args import sequence as _sequence
from . import _dlpack
from ._info import Info as _Info

__array_api_version__ = "2024.12"
_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")

# --- data types and constants -------------------------------------------------------------------
bool = _dt.bool_  # noqa: A001
int8, int16, int32, int64, uint8 = _dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8
float16, float32, float64 = _dt.float16, _dt.float32, _dt.float64
complex64, complex128 = _dt.complex64, _dt.complex128

e = _math.e
inf = _math.inf
nan = _math.nan
pi = _math.pi
newaxis = None


class CopyError(_MXNetError, ValueError):
    """``copy=False`` asked for an array that can only be produced by copying."""


def _namespace(api_version=None):
    if api_version is not None and api_version not in _VERSIONS:
        raise _ArgumentError(f"clgrad.array_api implements the Array API standard "
                         f"{__array_api_version__} (also serves {', '.join(_VERSIONS[:-1])}), "
                         f"not {api_version!r}")
    import sys
    return sys.modules[__name__]


def __array_namespace_info__():
    return _Info()


# --- helpers ------------------------------------------------------------------------------------
def _device(device):
    return _ops.resolve_device(device)


def _default_float(device=None):
    dev = device if device is not None and not isinstance(device, str) else _device(device)
    return _dt.float64 if dev.caps.fp64 else _dt.float32


def _default_complex(device=None):
    return _dt.complex128 if _default_float(device) == _dt.float64 else _dt.complex64


def _dtype(dtype):
    return _dt.as_dtype(dtype) if dtype is not None else None


def _arr(x, name="x"):
    if not isinstance(x, _ndarray):
        raise _ArgumentTypeError(f"{name} must be a clgrad array, not {type(x).__name__} "
                                 "(use asarray)")
    return x



def _scalar_dtype(value, device):
    if isinstance(value, (_b.bool, _np.bool_)):
        return _dt.bool_
    if isinstance(value, _numbers.Integral):
        return _dt.int64
    if isinstance(value, _numbers.Real):
        return _default_float(device)
    if isinstance(value, _numbers.Complex):
        return _default_complex(device)
    raise _ArgumentTypeError(f"unsupported scalar of type {type(value).__name__}")


# --- creation -----------------------------------------------------------------------------------
def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """An array from ``obj`` (array, scalar, nested sequence, buffer or DLPack producer).

    ``copy=True`` always copies, ``copy=False`` never does (host data must be copied to reach an
    OpenCL device, so it raises ``CopyError`` for anything but a clgrad array already right).
    """
    dtype = _dtype(dtype)
    if isinstance(obj, _ndarray):
        dev = obj.device if device is None else _device(device)
        same = (dtype is None or dtype == obj.dtype) and dev is obj.device
        if copy is False and not same:
            raise CopyError("asarray: copy=False, but converting the array needs a copy "
                            f"(dtype {obj.dtype} -> {dtype}, device {obj.device} -> {dev})")
        out = obj
        if dtype is not None and dtype != obj.dtype:
            out = _ops.astype(out, dtype)
        elif copy:
            out = _ops.copy(out)
        return _ops.to_device(out, dev) if dev is not out.device else out
    if copy is False:
        raise CopyError(f"asarray: copy=False, but a {type(obj).__name__} must be copied into "
                        "OpenCL device memory")
    dev = _device(device)
    if not isinstance(obj, (_np.ndarray, _np.generic, list, tuple, _numbers.Number)) and \
            hasattr(obj, "__dlpack__"):
        out = _dlpack.from_dlpack(obj, device=dev)
        return _ops.astype(out, dtype) if dtype is not None and dtype != out.dtype else out
    if dtype is None:
        if isinstance(obj, (_np.ndarray, _np.generic)):
            host = _np.asarray(obj)
        else:
            try:
                host = _np.asarray(obj)
            except (ValueError, TypeError, OverflowError) as e:
                raise _conversion_error(obj, e) from None
            if host.dtype.kind == "f":
                host = host.astype(_default_float(dev))
            elif host.dtype.kind in "iu":
                if host.dtype.kind == "u" and host.size and host.max() > _np.iinfo(_np.int64).max:
                    raise OverflowError("asarray: integer too large for int64")
                host = host.astype(_dt.int64)
            elif host.dtype.kind == "c":
                host = host.astype(_default_complex(dev))
            elif host.dtype.kind == "O":
                # NumPy keeps ints beyond 64 bits as objects: int64 conversion says so
                try:
                    host = _np.asarray(obj, dtype=_dt.int64)
                except (ValueError, TypeError, OverflowError) as e:
                    raise _conversion_error(obj, e) from None
        return _ops.array(host, dtype=host.dtype, device=dev)
    return _ops.array(obj, dtype=dtype, device=dev)


def _conversion_error(obj, error):
    """The clgrad error for NumPy's ``error`` converting ``obj``: a number out of range stays an
    ``OverflowError``; anything else (ragged nesting, strings, dicts) is a TypeError and a
    ValueError."""
    cls = _ScalarConversionError if isinstance(error, OverflowError) else _ArrayConversionError
    return cls(f"asarray: obj of type {type(obj).__name__} cannot be converted to an array: "
               f"{error}")


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    dev = _device(device)
    ints = _b.all(isinstance(v, _numbers.Integral) for v in (start, stop, step) if v is not None)
    dtype = _dtype(dtype) or (_dt.int64 if ints else _default_float(dev))
    return _ops.arange(start, stop, step, dtype=dtype, device=dev)


def empty(shape, *, dtype=None, device=None):
    dev = _device(device)
    return _ops.empty(shape, dtype=_dtype(dtype) or _default_float(dev), device=dev)


def zeros(shape, *, dtype=None, device=None):
    dev = _device(device)
    return _ops.zeros(shape, dtype=_dtype(dtype) or _default_float(dev), device=dev)


def ones(shape, *, dtype=None, device=None):
    dev = _device(device)
    return _ops.ones(shape, dtype=_dtype(dtype) or _default_float(dev), device=dev)


def full(shape, fill_value, *, dtype=None, device=None):
    dev = _device(device)
    if isinstance(fill_value, _ndarray):
        fill_value = fill_value.item()
    dtype = _dtype(dtype) or _scalar_dtype(fill_value, dev)
    return _ops.full(shape, fill_value, dtype=dtype, device=dev)


def _like(x, dtype, device):
    x = _arr(x)
    return x.shape, _dtype(dtype) or x.dtype, x.device if device is None else _device(device)


def empty_like(x, /, *, dtype=None, device=None):
    shape, dtype, dev = _like(x, dtype, device)
    return _ops.empty(shape, dtype=dtype, device=dev)


def zeros_like(x, /, *, dtype=None, device=None):
    shape, dtype, dev = _like(x, dtype, device)
    return _ops.zeros(shape, dtype=dtype, device=dev)


def ones_like(x, /, *, dtype=None, device=None):
    shape, dtype, dev = _like(x, dtype, device)
    return _ops.ones(shape, dtype=dtype, device=dev)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    shape, dtype, dev = _like(x, dtype, device)
    return _ops.full(shape, fill_value, dtype=dtype, device=dev)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    dev = _device(device)
    return _ops.eye(n_rows, n_cols, k=k, dtype=_dtype(dtype) or _default_float(dev), device=dev)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    dev = _device(device)
    if isinstance(start, complex) or isinstance(stop, complex):
        raise _DTypeError("linspace: complex dtypes are not supported by clgrad")
    return _ops.linspace(start, stop, num, endpoint=endpoint,
                         dtype=_dtype(dtype) or _default_float(dev), device=dev)


def meshgrid(*arrays, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise _ArgumentError(f"meshgrid: indexing must be 'xy' or 'ij', not {indexing!r}")
    arrays = [_arr(a, "arrays") for a in arrays]
    for a in arrays:
        if a.ndim != 1:
            raise _ShapeError(f"meshgrid: arrays must be one-dimensional, got shape {a.shape}")
    if len({a.dtype for a in arrays}) > 1:
        raise _DTypeError("meshgrid: arrays must have one dtype")
    shape = [a.shape[0] for a in arrays]
    if indexing == "xy" and len(arrays) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, a in enumerate(arrays):
        axis = i if indexing == "ij" or len(arrays) < 2 else {0: 1, 1: 0}.get(i, i)
        view = [1] * len(arrays)
        view[axis] = a.shape[0]
        out.append(_ops.copy(_ops.broadcast_to(_ops.reshape(a, tuple(view)), tuple(shape))))
    return out


def tril(x, /, *, k=0):
    return _ops.tril(_arr(x), k=k)


def triu(x, /, *, k=0):
    return _ops.triu(_arr(x), k=k)


def from_dlpack(x, /, *, device=None, copy=None):
    return _dlpack.from_dlpack(x, device=device, copy=copy)


# --- data type functions ------------------------------------------------------------------------
def astype(x, dtype, /, *, copy=True, device=None):
    x = _arr(x)
    dtype = _dt.as_dtype(dtype)
    dev = x.device if device is None else _device(device)
    out = x
    if dtype != x.dtype:
        out = _ops.astype(x, dtype)
    elif copy:
        out = _ops.copy(x)
    return _ops.to_device(out, dev) if dev is not out.device else out




def _as_dtype_of(x):
    if x is None:
        raise _ArgumentTypeError("None is not a dtype (nor an array)")
    return x.dtype if isinstance(x, _ndarray) else _dt.as_dtype(x)


def can_cast(from_, to, /):
    """Whether ``from_`` casts to ``to`` safely, by NumPy's rule: within a category to a type that
    holds every value, and up the ladder bool -> integer -> floating -> complex (as NumPy and
    MXNet cast integers to floats; the standard leaves cross-category casts to the library)."""
    a, b = _as_dtype_of(from_), _dt.as_dtype(to)
    return _b.bool(_np.can_cast(a, b, casting="safe"))


def result_type(*arrays_and_dtypes):
    """The promoted dtype; Python scalars are weak (they take the arrays' dtype where they fit)."""
    if not arrays_and_dtypes:
        raise _ArgumentTypeError("result_type: at least one array or dtype is required")
    items = []
    for x in arrays_and_dtypes:
        if isinstance(x, _ndarray):
            items.append(x.dtype)
        elif isinstance(x, (_b.bool, int, float, complex)):
            items.append(x)
        else:
            items.append(_dt.as_dtype(x))
    if not _b.any(isinstance(i, _np.dtype) for i in items):
        raise _ArgumentTypeError("result_type: at least one array or dtype is required (not "
                                 "only Python scalars)")
    return _dt.result_type(*items)


def isdtype(dtype, kind):
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name, or a tuple of those."""
    if dtype is None:
        raise _ArgumentTypeError("isdtype: dtype must be a dtype, not None")
    dtype = _dt.as_dtype(dtype)
    if isinstance(kind, tuple):
        return _b.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        k = dtype.kind
        table = {"bool": k == "b", "signed integer": k == "i", "unsigned integer": k == "u",
                 "integral": k in "iu", "real floating": k == "f", "complex floating": k == "c",
                 "numeric": k in "iufc"}
        if kind not in table:
            raise _ArgumentError(f"isdtype: unknown kind {kind!r} (known: {', '.join(table)})")
        return table[kind]
    return dtype == _dt.as_dtype(kind)


_finfo = _namedtuple("finfo_object", "bits eps max min smallest_normal dtype")
_iinfo = _namedtuple("iinfo_object", "bits max min dtype")


def finfo(type, /):  # noqa: A002
    d = _dt.real_of(_as_dtype_of(type))    # a complex dtype's parts: the standard's rule
    if d.kind != "f":
        raise _DTypeError(f"finfo: {d} is not a floating dtype")
    f = _np.finfo(d)
    return _finfo(f.bits, float(f.eps), float(f.max), float(f.min), float(f.smallest_normal), d)


def iinfo(type, /):  # noqa: A002
    d = _as_dtype_of(type)
    if d.kind not in "iu":
        raise _DTypeError(f"iinfo: {d} is not an integer dtype")
    i = _np.iinfo(d)
    return _iinfo(i.bits, int(i.max), int(i.min), d)


# --- element-wise functions: the standard's names for clgrad's ops --------------------------------
def _alias(std_name, op_name):
    def fn(*args, **kw):
        return getattr(_ops, op_name)(*args, **kw)
    fn.__name__ = fn.__qualname__ = std_name
    fn.__doc__ = f"The Array API's ``{std_name}``: clgrad's ``{op_name}``."
    return fn


_ALIASES = {
    "abs": "absolute", "acos": "arccos", "acosh": "arccosh", "add": "add", "asin": "arcsin",
    "asinh": "arcsinh", "atan": "arctan", "atan2": "arctan2", "atanh": "arctanh",
    "bitwise_and": "bitwise_and", "bitwise_invert": "invert", "bitwise_left_shift": "left_shift",
    "bitwise_or": "bitwise_or", "bitwise_right_shift": "right_shift",
    "bitwise_xor": "bitwise_xor", "ceil": "ceil", "copysign": "copysign", "cos": "cos",
    "cosh": "cosh", "equal": "equal", "exp": "exp", "expm1": "expm1", "floor": "floor",
    "floor_divide": "floor_divide", "greater": "greater", "greater_equal": "greater_equal",
    "hypot": "hypot", "isfinite": "isfinite", "isinf": "isinf", "isnan": "isnan",
    "less": "less", "less_equal": "less_equal", "log": "log", "log1p": "log1p", "log2": "log2",
    "log10": "log10", "logical_and": "logical_and", "logical_not": "logical_not",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "maximum": "maximum",
    "minimum": "minimum", "multiply": "multiply", "negative": "negative",
    "not_equal": "not_equal", "positive": "positive", "pow": "power",
    "reciprocal": "reciprocal", "remainder": "remainder", "sign": "sign", "signbit": "signbit",
    "sin": "sin", "sinh": "sinh", "square": "square", "sqrt": "sqrt", "subtract": "subtract",
    "tan": "tan", "tanh": "tanh", "trunc": "trunc",
}
globals().update({_n: _alias(_n, _t) for _n, _t in _ALIASES.items()})


def divide(x1, x2, /):
    """True division; integer operands divide in the default floating dtype."""
    r = result_type(x1, x2)
    if r.kind not in "fc":
        f = _default_float(_first_device(x1, x2))
        x1 = astype(x1, f) if isinstance(x1, _ndarray) else x1
        x2 = astype(x2, f) if isinstance(x2, _ndarray) else x2
    return _ops.true_divide(x1, x2)


def _first_device(*xs):
    for x in xs:
        if isinstance(x, _ndarray):
            return x.device
    return _device(None)


def round(x, /):  # noqa: A001
    """Round half to even (integers unchanged)."""
    return _ops.rint(_arr(x))


def clip(x, /, min=None, max=None):  # noqa: A002
    """``x`` limited to [min, max] (either may be None; both None gives a copy)."""
    x = _arr(x)
    if min is None and max is None:
        return _ops.copy(x)
    r = _ops.clip(x, min, max)
    return r if r.dtype == x.dtype else _ops.astype(r, x.dtype)


def logaddexp(x1, x2, /):
    """log(exp(x1) + exp(x2)) without overflow: max + log1p(exp(-|x1 - x2|))."""
    for x in (x1, x2):
        if isinstance(x, complex) or isinstance(x, _ndarray) and x.dtype.kind == "c":
            raise _DTypeError("logaddexp: complex operands are not supported (the standard "
                              "defines it for real-valued data types)")
    f = getattr(_ops, "logaddexp", None)
    if f is not None:
        return f(x1, x2)
    m = _ops.maximum(x1, x2)
    d = _ops.absolute(_ops.subtract(x1, x2))
    # equal arguments (also equal infinities, where x1 - x2 is NaN): x + log(2)
    same = _ops.equal(x1, x2)
    safe = _ops.where(same, 0.0, d)
    return _ops.where(same, _ops.add(m, _math.log(2.0)),
                      _ops.add(m, _ops.log1p(_ops.exp(_ops.negative(safe)))))


def nextafter(x1, x2, /):
    """The next representable value after ``x1`` towards ``x2`` (floating dtypes)."""
    from ..ops import launch
    a = x1 if isinstance(x1, _ndarray) else None
    b = x2 if isinstance(x2, _ndarray) else None
    if a is None and b is None:
        raise _ArgumentTypeError("nextafter: at least one argument must be an array")
    r = result_type(x1, x2)
    if r.kind != "f":
        raise _DTypeError(f"nextafter: needs floating arrays, not {r}")
    from ..ops.args import as_float
    x1 = x1 if a is not None else as_float(x1, "x1", "nextafter")
    x2 = x2 if b is not None else as_float(x2, "x2", "nextafter")
    shape = _ops.broadcast_shapes(*[x.shape for x in (x1, x2) if isinstance(x, _ndarray)])
    dev = _first_device(x1, x2)
    out = _ops.empty(shape, dtype=r, device=dev)
    if r == _dt.float16:    # computed in float, the next float is not the next half
        raise _DTypeError("nextafter: float16 is not supported")
    ins = [x if not isinstance(x, _ndarray) or x.dtype == r else astype(x, r) for x in (x1, x2)]
    return launch.elementwise("nextafter", out, ins, "nextafter(v0, v1)", [r, r])


def conj(x, /):
    x = _arr(x)
    return _ops.conjugate(x) if x.dtype.kind == "c" else _ops.copy(x)


def real(x, /):
    x = _arr(x)
    return _ops.copy(_ops.real(x))      # a new array (clgrad.np's real is a view)


def imag(x, /):
    x = _arr(x)
    return _ops.copy(_ops.imag(x)) if x.dtype.kind == "c" else _ops.zeros_like(x)


# --- linear algebra ----------------------------------------------------------------------------
def matmul(x1, x2, /):
    return _ops.matmul(x1, x2)


def matrix_transpose(x, /):
    x = _arr(x)
    if x.ndim < 2:
        raise _ShapeError(f"matrix_transpose: needs at least 2 dimensions, got shape {x.shape}")
    return _ops.swapaxes(x, -1, -2)


def tensordot(x1, x2, /, *, axes=2):
    return _ops.tensordot(x1, x2, axes=axes)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot products of vectors along ``axis`` (after broadcasting)."""
    x1, x2 = _arr(x1, "x1"), _arr(x2, "x2")
    shape = _ops.broadcast_shapes(x1.shape, x2.shape)
    if not shape:
        raise _ShapeError("vecdot: needs arrays with at least one dimension")
    from ..ops.args import as_int
    axis = as_int(axis, "axis", "vecdot")
    ax = axis if axis < 0 else axis - len(shape)
    s1 = (1,) * (len(shape) - x1.ndim) + x1.shape
    s2 = (1,) * (len(shape) - x2.ndim) + x2.shape
    if not -len(shape) <= ax < 0 or s1[ax] != s2[ax]:
        raise _ShapeError(f"vecdot: axis {axis} does not name one size in both shapes "
                          f"{x1.shape} and {x2.shape}")
    if x1.dtype.kind == "c":
        x1 = _ops.conjugate(x1)        # the standard's vecdot conjugates its first argument
    return _ops.sum(_ops.multiply(x1, x2), axis=ax)


# --- manipulation ------------------------------------------------------------------------------
def broadcast_arrays(*arrays):
    return list(_ops.broadcast_arrays(*arrays))


def broadcast_to(x, /, shape):
    return _ops.broadcast_to(_arr(x), shape)


def concat(arrays, /, *, axis=0):
    arrays = [_arr(a, "arrays") for a in _sequence(arrays, "arrays", "concat")]
    if axis is None:
        arrays = [_ops.reshape(a, (-1,)) for a in arrays]
        axis = 0
    return _ops.concatenate(arrays, axis=axis)


def expand_dims(x, /, axis=0):
    if not isinstance(axis, _numbers.Integral):
        raise _ArgumentTypeError("expand_dims: axis must be an integer")
    return _ops.expand_dims(_arr(x), axis)


def flip(x, /, *, axis=None):
    return _ops.flip(_arr(x), axis=axis)


def moveaxis(x, source, destination, /):
    return _ops.moveaxis(_arr(x), source, destination)


def permute_dims(x, /, axes):
    return _ops.transpose(_arr(x), _as_ints(axes, "axes", "permute_dims"))


def repeat(x, repeats, /, *, axis=None):
    if isinstance(repeats, _ndarray):
        repeats = repeats.tolist()
    return _ops.repeat(_arr(x), repeats, axis=axis)


def reshape(x, /, shape, *, copy=None):
    """``x`` in ``shape``; ``copy=False`` raises when a view cannot express it."""
    from ..ops.shape import nocopy_strides, resolve_shape
    x = _arr(x)
    if copy is True:
        return _ops.reshape(_ops.copy(x), shape)
    if copy is False and not x._is_c_contiguous() and x.size and \
            nocopy_strides(x.shape, x._strides, resolve_shape(shape, x.size)) is None:
        raise CopyError(f"reshape: copy=False, but this view of shape {x.shape} cannot be "
                        f"reshaped to {tuple(shape)} without a copy")
    return _ops.reshape(x, shape)


def roll(x, /, shift, *, axis=None):
    return _ops.roll(_arr(x), shift, axis=axis)


def squeeze(x, /, axis):
    return _ops.squeeze(_arr(x), axis)


def stack(arrays, /, *, axis=0):
    return _ops.stack([_arr(a, "arrays") for a in _sequence(arrays, "arrays", "stack")],
                      axis=axis)


def tile(x, repetitions, /):
    return _ops.tile(_arr(x), _as_ints(repetitions, "repetitions", "tile"))


def unstack(x, /, *, axis=0):
    x = _arr(x)
    from ..ops.reduce import normalize_axis
    if x.ndim == 0:
        raise _ShapeError("unstack: needs an array with at least one dimension")
    ax = normalize_axis(axis, x.ndim)
    return tuple(x[(slice(None),) * ax + (i,)] for i in range(x.shape[ax]))


# --- indexing, searching, sets, sorting -----------------------------------------------------------
def take(x, indices, /, *, axis=None):
    x = _arr(x)
    if axis is None and x.ndim != 1:
        raise _ShapeError("take: axis is required for arrays with more than one dimension")
    return _ops.take(x, indices, axis=0 if axis is None else axis)


def take_along_axis(x, indices, /, *, axis=-1):
    return _ops.take_along_axis(_arr(x), indices, axis)


def argmax(x, /, *, axis=None, keepdims=False):
    return _ops.argmax(_arr(x), axis=axis, keepdims=keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    return _ops.argmin(_arr(x), axis=axis, keepdims=keepdims)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    x = _arr(x)
    return _ops.sum(_ops.not_equal(x, 0), axis=axis, keepdims=keepdims, dtype=_dt.int64)


def nonzero(x, /):
    x = _arr(x)
    if x.ndim == 0:
        raise _ShapeError("nonzero: 0-d arrays are not accepted (the standard forbids them)")
    return tuple(_ops.nonzero(x))


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    return _ops.searchsorted(_arr(x1, "x1"), x2, side=side, sorter=sorter)


def where(condition, x1, x2, /):
    return _ops.where(condition, x1, x2)


UniqueAllResult = _namedtuple("UniqueAllResult", "values indices inverse_indices counts")
UniqueCountsResult = _namedtuple("UniqueCountsResult", "values counts")
UniqueInverseResult = _namedtuple("UniqueInverseResult", "values inverse_indices")


def _unique(x, **kw):
    x = _arr(x)
    try:
        return _ops.unique(x, equal_nan=False, **kw)
    except TypeError:       # an op without equal_nan
        return _ops.unique(x, **kw)


def unique_all(x, /):
    v, i, inv, c = _unique(x, return_index=True, return_inverse=True, return_counts=True)
    return UniqueAllResult(v, i, _ops.reshape(inv, x.shape), c)


def unique_counts(x, /):
    v, c = _unique(x, return_counts=True)
    return UniqueCountsResult(v, c)


def unique_inverse(x, /):
    v, inv = _unique(x, return_inverse=True)
    return UniqueInverseResult(v, _ops.reshape(inv, x.shape))


def unique_values(x, /):
    return _unique(x)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return _ops.argsort(_arr(x), axis=axis, descending=descending, stable=stable)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    return _ops.sort(_arr(x), axis=axis, descending=descending, stable=stable)


# --- statistics and utilities ------------------------------------------------------------------
def _sum_dtype(x, dtype):
    """The standard's default: integers accumulate in the default integer dtype (int64)."""
    if dtype is not None:
        return _dt.as_dtype(dtype)
    return _dt.int64 if x.dtype.kind in "biu" else x.dtype


def sum(x, /, *, axis=None, dtype=None, keepdims=False):  # noqa: A001
    x = _arr(x)
    return _ops.sum(x, axis=axis, dtype=_sum_dtype(x, dtype), keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    x = _arr(x)
    return _ops.prod(x, axis=axis, dtype=_sum_dtype(x, dtype), keepdims=keepdims)


def mean(x, /, *, axis=None, keepdims=False):
    return _ops.mean(_arr(x), axis=axis, keepdims=keepdims)


def max(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return _ops.max(_arr(x), axis=axis, keepdims=keepdims)


def min(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return _ops.min(_arr(x), axis=axis, keepdims=keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _ops.var(_arr(x), axis=axis, ddof=correction, keepdims=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    return _ops.std(_arr(x), axis=axis, ddof=correction, keepdims=keepdims)


def all(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return _ops.all(_arr(x), axis=axis, keepdims=keepdims)


def any(x, /, *, axis=None, keepdims=False):  # noqa: A001
    return _ops.any(_arr(x), axis=axis, keepdims=keepdims)


def _cumulative(fn, identity, x, axis, dtype, include_initial):
    x = _arr(x)
    if axis is None:
        if x.ndim != 1:
            raise _ShapeError(f"{fn.__name__}: axis is required for arrays with more than one "
                              "dimension")
        axis = 0
    if x.ndim == 0:
        raise _ShapeError(f"{fn.__name__}: cumulative functions need an array with at least "
                          "one dimension")
    r = fn(x, axis=axis, dtype=_sum_dtype(x, dtype))
    if include_initial:
        from ..ops.reduce import normalize_axis
        ax = normalize_axis(axis, x.ndim)
        shape = list(r.shape)
        shape[ax] = 1
        first = _ops.full(tuple(shape), identity, dtype=r.dtype, device=r.device)
        r = _ops.concatenate([first, r], axis=ax)
    return r


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(_ops.cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _cumulative(_ops.cumprod, 1, x, axis, dtype, include_initial)


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    """The n-th discrete difference along ``axis`` (with optional prepended/appended values)."""
    from ..ops.reduce import normalize_axis
    x = _arr(x)
    if x.ndim == 0:
        raise _ShapeError("diff: needs an array with at least one dimension")
    if not isinstance(n, _numbers.Integral) or n < 0:
        raise _ArgumentError(f"diff: n must be a non-negative integer, got {n!r}")
    ax = normalize_axis(axis, x.ndim)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        parts = [p if isinstance(p, _ndarray) else
                 full(tuple(1 if d == ax else s for d, s in enumerate(x.shape)), p,
                      dtype=x.dtype, device=x.device) for p in parts]
        x = _ops.concatenate(parts, axis=ax)
    for _ in range(n):
        hi = (slice(None),) * ax + (slice(1, None),)
        lo = (slice(None),) * ax + (slice(None, -1),)
        x = _ops.subtract(x[hi], x[lo]) if x.dtype != _dt.bool_ else \
            _ops.not_equal(x[hi], x[lo])
    return x


__all__ = sorted(n for n in list(globals()) if not n.startswith("_") and n not in (
    "CopyError", "UniqueAllResult", "UniqueCountsResult",
    "UniqueInverseResult")) + ["__array_api_version__", "__array_namespace_info__"]


# --- the array's hooks into this namespace ---------------------------------------------------
def _array_namespace(self, *, api_version=None):
    return _namespace(api_version)


def _dlpack_export(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    return _dlpack.export(self, stream=stream, max_version=max_version, dl_device=dl_device,
                          copy=copy)


_ndarray.__array_namespace__ = _array_namespace
_ndarray.__dlpack__ = _dlpack_export
_ndarray.__dlpack_device__ = _dlpack.device_of
