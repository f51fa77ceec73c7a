"""``clgrad.np.random``: NumPy's random API over the device's Philox stream."""
from .. import dtypes as _dt
from ..ops.random import draw as _draw
from ..ops.random import seed  # noqa: F401


def _float(dtype):
    return _dt.as_dtype(dtype) or _dt.default_float


def uniform(low=0.0, high=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples from [low, high); float32 unless ``dtype`` says otherwise (MXNet)."""
    res = _draw("uniform", size, _float(dtype), float(low), float(high), device or ctx)
    return _into(res, out)


def normal(loc=0.0, scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    res = _draw("normal", size, _float(dtype), float(loc), float(scale), device or ctx)
    return _into(res, out)


def randn(*size, dtype=None, device=None):
    return normal(0.0, 1.0, size=size, dtype=dtype, device=device)


def rand(*size, dtype=None, device=None):
    return uniform(0.0, 1.0, size=size, dtype=dtype, device=device)


def randint(low, high=None, size=None, dtype=None, device=None, ctx=None, out=None):
    """Integers from [low, high) (int64 unless ``dtype`` says otherwise)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        from ..base import MXNetError
        raise MXNetError(f"randint: low ({low}) must be less than high ({high})")
    res = _draw("randint", size, _dt.as_dtype(dtype) or _dt.int64, int(low), int(high - low),
                device or ctx)
    return _into(res, out)


def _into(res, out):
    if out is None:
        return res
    from ..ops import assign
    return assign(out, res)
