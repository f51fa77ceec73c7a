"""The dtypes clgrad supports, their OpenCL C types, and NumPy's promotion with MXNet's defaults."""
import math
import numbers

import numpy as _np

from .base import DeviceCapabilityError, DTypeError, ScalarConversionError

bool_ = _np.dtype(_np.bool_)
int8 = _np.dtype(_np.int8)
int16 = _np.dtype(_np.int16)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
uint8 = _np.dtype(_np.uint8)
float16 = _np.dtype(_np.float16)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
complex64 = _np.dtype(_np.complex64)
complex128 = _np.dtype(_np.complex128)

#: MXNet's default for Python floats and lists.
default_float = float32
#: The complex analogue of ``default_float``: Python complex numbers and lists of them.
default_complex = complex64

# storage C type, compute C type
_CTYPES = {
    bool_: ("uchar", "uchar"),
    int8: ("char", "char"),
    int16: ("short", "short"),
    int32: ("int", "int"),
    int64: ("long", "long"),
    uint8: ("uchar", "uchar"),
    float16: ("half", "float"),   # storage only: vload_half / vstore_half, arithmetic in float
    float32: ("float", "float"),
    float64: ("double", "double"),
    # (re, im) as a two-lane vector: loads and stores are plain vector reads and writes
    complex64: ("float2", "float2"),
    complex128: ("double2", "double2"),
}
SUPPORTED = tuple(_CTYPES)


def as_dtype(dtype):
    """Normalise a dtype-like (type, string, np.dtype) to a supported NumPy dtype."""
    if dtype is None:
        return None
    if getattr(dtype, "shape", None) is not None and not isinstance(dtype, (type, _np.dtype)):
        # an array (NumPy's dtype() would take its dtype, clgrad's would ask its truth value)
        raise DTypeError(f"unknown dtype: an array of shape {dtype.shape} is not a dtype")
    try:
        dt = _np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"unknown dtype {dtype!r}") from None
    if dt not in _CTYPES:
        raise DTypeError(f"dtype {dt} is not supported by clgrad "
                         f"(supported: {', '.join(str(d) for d in SUPPORTED)})")
    return dt


def ctype(dt):
    return _CTYPES[dt][0]


def compute_ctype(dt):
    return _CTYPES[dt][1]


def is_float(dt):
    return dt.kind == "f"


def real_of(dt):
    """The real dtype of a complex dtype's parts (complex64 -> float32); others unchanged."""
    return float32 if dt == complex64 else float64 if dt == complex128 else dt


def check_device(dt, device):
    """Raise if ``device`` cannot hold ``dt`` (float64 and complex128 need cl_khr_fp64)."""
    if (dt == float64 or dt == complex128) and not device.caps.fp64:
        raise DeviceCapabilityError(
            f"{dt} is not supported on {device} ({device.name}, {device.caps.platform}): the "
            "device lacks cl_khr_fp64. Use float32 (e.g. x.astype('float32')).")


def result_type(*operands):
    """MXNet's promotion: NumPy's, except that integer or boolean arrays mixed with floating
    ones take the floating ones' type (int32 + float32 is float32, int64 + float16 is float16);
    Python scalars are weak (NEP 50), a Python float giving MXNet's float32.

    ``operands`` are dtypes (arrays) or Python scalars.
    """
    arrays = [o for o in operands if isinstance(o, _np.dtype)]
    scalars = [o for o in operands if not isinstance(o, _np.dtype)]
    if not arrays:
        return _scalar_dtype(scalars[0]) if len(scalars) == 1 else _np.result_type(
            *[_scalar_dtype(s) for s in scalars])
    rt = _arrays_result_type(arrays)
    for s in scalars:
        if isinstance(s, bool):
            continue
        if isinstance(s, int):
            if rt == bool_:
                rt = int64
        elif isinstance(s, float):
            if rt.kind not in "fc":
                rt = default_float
        elif isinstance(s, complex):
            # weak, like Python floats: float32 arrays stay single precision, and integer
            # arrays take MXNet's single-precision default
            if rt.kind != "c":
                rt = complex128 if rt == float64 else default_complex
        else:
            raise DTypeError(f"unsupported scalar operand of type {type(s).__name__}")
    return as_dtype(rt)


def _arrays_result_type(arrays):
    inexact = [a for a in arrays if a.kind in "fc"]
    if inexact and len(inexact) < len(arrays):
        return _np.result_type(*inexact)
    return _np.result_type(*arrays)


def _scalar_dtype(s):
    if isinstance(s, bool):
        return bool_
    if isinstance(s, int):
        return int64
    if isinstance(s, float):
        return default_float
    if isinstance(s, complex):
        return default_complex
    raise DTypeError(f"unsupported scalar operand of type {type(s).__name__}")


def cast_scalar(value, dt):
    """The Python number ``value`` as an operand of type ``dt``, converted as C converts it
    (MXNet's rule: a scalar takes the type of the array it meets): a Python bool, int, float
    or complex, ready to be a kernel argument of ``dt``'s compute type.

    Into an integer type an integer wraps modulo 2**bits, two's complement for the signed
    types (int32 takes 2**31 as -2**31, uint8 takes 300 as 44), a float truncating toward zero
    first; into a float type a number beyond its range becomes infinite (the kernel argument's
    conversion, or the store of a float16 result); into bool, any nonzero number is True.
    ``ScalarConversionError`` for what has no such value: an integer beyond every float (into a
    float or complex type), infinity or NaN into an integer type.
    """
    kind = dt.kind
    if kind in "iu":
        if not isinstance(value, numbers.Integral):
            f = float(value)
            if not math.isfinite(f):
                raise ScalarConversionError(f"cannot convert {f} to {dt}: an integer type "
                                            "holds neither infinity nor NaN")
            value = f
        bits = dt.itemsize * 8
        v = int(value) & ((1 << bits) - 1)
        return v - (1 << bits) if kind == "i" and v >> (bits - 1) else v
    if kind == "b":
        return bool(value)
    try:
        return complex(value) if kind == "c" else float(value)
    except OverflowError:
        raise ScalarConversionError(f"the integer {_short(value)} is too large for {dt} (and "
                                    "for any float)") from None


def _short(n):
    """An integer for a message: its digits, or their start and count when there are many."""
    s = str(n)
    return s if len(s) <= 24 else f"{s[:12]}... ({len(s.lstrip('-'))} digits)"


def scalar_array(value, dt):
    """A 0-d NumPy array of ``dt`` holding ``value`` converted as ``cast_scalar`` converts it
    (for values written from the host)."""
    with _np.errstate(over="ignore"):       # float16 overflow gives infinity, as on the device
        return _np.array(cast_scalar(value, dt), dtype=dt)


def literal(value, dt):
    """An OpenCL C literal of ``value`` in dtype ``dt`` (no double literals in float kernels)."""
    if dt.kind == "f":
        v = float(value)
        if v != v:
            return "NAN"
        if v in (float("inf"), float("-inf")):
            return "INFINITY" if v > 0 else "(-INFINITY)"
        return f"{v!r}" + ("" if dt == float64 else "f")
    if dt == bool_:
        return "1" if value else "0"
    return f"({compute_ctype(dt)})({int(value)}L)" if dt == int64 else str(int(value))
