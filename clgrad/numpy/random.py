"""``clgrad.np.random``: NumPy's random API over the device's Philox stream."""
import numpy as _onp

from .. import dtypes as _dt
from ..ops.random import draw as _draw
from ..ops.random import seed  # noqa: F401


def _float(dtype):
    return _dt.as_dtype(dtype) or _dt.default_float


def uniform(low=0.0, high=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples from [low, high); float32 unless ``dtype`` says otherwise (MXNet). As in NumPy,
    ``low > high`` is allowed (samples from (high, low]); a range ``high - low`` that is not
    finite in the precision the samples are computed in raises ``RandomRangeError``."""
    dtype = _float(dtype)
    low, high = float(low), float(high)
    span = high - low
    # float32 and float16 samples are computed from float32 parameters
    limit = float(_onp.finfo(_onp.float64 if dtype == _dt.float64 else _onp.float32).max)
    if not abs(span) <= limit or not abs(low) <= limit or not abs(high) <= limit:
        from ..ops.random import RandomRangeError
        raise RandomRangeError(f"uniform: the range high - low ({high!r} - {low!r}) exceeds "
                               f"the valid bounds of {dtype} samples")
    res = _draw("uniform", size, dtype, low, high, device or ctx)
    return _into(res, out)


def normal(loc=0.0, scale=1.0, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples of the normal distribution; ``scale`` must not be negative (NaN gives NaN
    samples, as in NumPy)."""
    loc, scale = float(loc), float(scale)
    if scale < 0:
        from ..ops.random import RandomParameterError
        raise RandomParameterError(f"normal: scale < 0 (got {scale!r})")
    res = _draw("normal", size, _float(dtype), loc, scale, device or ctx)
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
        from ..ops.random import RandomParameterError
        raise RandomParameterError(f"randint: low ({low}) must be less than high ({high})")
    res = _draw("randint", size, _dt.as_dtype(dtype) or _dt.int64, int(low), int(high - low),
                device or ctx)
    return _into(res, out)


def _into(res, out):
    if out is None:
        return res
    from ..ops import assign
    return assign(out, res)


def choice(a, size=None, replace=True, p=None, device=None, ctx=None, out=None):
    """Samples from ``a`` (an int n: range(n); or a 1-D array), with or without replacement,
    uniformly or with probabilities ``p``. Indices are int64."""
    from ..ndarray import ndarray
    from ..ops import asarray
    from ..ops.indexing import take_raw
    from ..ops.random import RandomParameterError, choice_indices
    if isinstance(a, ndarray) or not isinstance(a, (int, _onp.integer)):
        pop = asarray(a, device=device or ctx)
        if pop.ndim != 1:
            raise RandomParameterError("a must be 1-dimensional")
        idx = choice_indices(pop.shape[0], size, replace, p, pop.device)
        res = take_raw(pop, [idx], 0)
    else:
        res = choice_indices(int(a), size, replace, p, device or ctx)
    return _into(res, out)


def permutation(x, device=None, ctx=None):
    """A random permutation of range(x) (an int), or a shuffled copy of an array along axis 0."""
    from ..ndarray import ndarray
    from ..ops import asarray
    from ..ops.indexing import take
    from ..ops.random import RandomParameterError, permutation_indices
    if not isinstance(x, ndarray) and isinstance(x, (int, _onp.integer)):
        if x < 0:
            raise RandomParameterError(f"permutation: x must be non-negative, got {x}")
        return permutation_indices(int(x), device or ctx)
    a = asarray(x, device=device or ctx)
    if a.ndim == 0:
        raise RandomParameterError("permutation: x must be an integer or at least 1-d")
    return take(a, permutation_indices(a.shape[0], a.device), axis=0)


def shuffle(x):
    """Shuffle the array ``x`` in place along its first axis."""
    from ..ndarray import ndarray
    from ..ops import assign
    from ..ops.indexing import take_raw
    from ..ops.random import RandomParameterError, permutation_indices
    if not isinstance(x, ndarray):
        from ..base import ArgumentTypeError
        raise ArgumentTypeError(f"shuffle: x must be a clgrad array, got {type(x).__name__}")
    if x.ndim == 0:
        raise RandomParameterError("shuffle: x must be at least 1-d")
    if x.shape[0] > 1:
        assign(x, take_raw(x, [permutation_indices(x.shape[0], x.device)], 0))


def multinomial(n, pvals, size=None):
    """Counts (int64) of ``n`` draws over the categories of probabilities ``pvals``; ``size``
    draws that many experiments (shape ``size + (len(pvals),)``), as NumPy and MXNet."""
    from ..ops import equal, expand_dims, sum
    from ..ops.random import RandomParameterError, choice_indices
    if isinstance(n, bool) or not isinstance(n, (int, _onp.integer)) or n < 0:
        raise RandomParameterError(f"multinomial: n must be a non-negative integer, got {n!r}")
    p = pvals.asnumpy() if hasattr(pvals, "asnumpy") else _onp.asarray(pvals, dtype=_onp.float64)
    if p.ndim != 1 or p.size == 0:
        raise RandomParameterError("multinomial: pvals must be a non-empty 1-d sequence")
    k = p.size
    shape = () if size is None else ((int(size),) if isinstance(size, (int, _onp.integer))
                                     else tuple(int(s) for s in size))
    p = p.astype(_onp.float64)
    if not ((p >= 0) & (p <= 1)).all():     # (NaN fails both)
        raise RandomParameterError("multinomial: pvals < 0, pvals > 1 or pvals contains NaNs")
    # the last category takes what the others leave, as NumPy: pvals need only sum to <= 1
    if p[:-1].sum() > 1.0 + 1e-12:
        raise RandomParameterError("multinomial: sum(pvals[:-1]) must not exceed 1")
    p[-1] = max(0.0, 1.0 - p[:-1].sum())
    p /= p.sum()
    idx = choice_indices(k, shape + (int(n),), True, p)
    from ..ops import arange
    cats = arange(k, dtype="int64", device=idx.device)
    return sum(equal(expand_dims(idx, -1), cats), axis=-2)
