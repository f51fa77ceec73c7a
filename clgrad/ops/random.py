"""Counter-based random numbers (Philox-4x32-10): the same seed gives the same stream on every
OpenCL device and in every run; each draw advances the stream, so two draws differ."""
import threading

import numpy as _np

from .. import dtypes as dt
from ..base import ArgumentTypeError, MXNetError
from ..codegen import render as R
from ..ndarray import ndarray
from . import launch
from .core import normalize_shape, resolve_device


class _Stream:
    __slots__ = ("key", "counter", "lock")

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.reset(seed)

    def reset(self, seed):
        seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.key = (seed & 0xFFFFFFFF, seed >> 32)
        self.counter = 0

    def take(self, n_counters):
        with self.lock:
            base = self.counter
            self.counter += n_counters
            return base


# One stream per device, as MXNet keeps one generator per device: ``seed(s)`` resets them all
# (and fixes the seed of devices first used later), ``seed(s, device=d)`` only d's.
_streams = {}
_default_seed = [0]
_streams_lock = threading.Lock()


def _stream_of(dev):
    s = _streams.get(dev)
    if s is None:
        with _streams_lock:
            s = _streams.get(dev)
            if s is None:
                s = _streams[dev] = _Stream(_default_seed[0])
    return s


def seed(seed=None, device="all", ctx=None):
    """Reset the generators (MXNet's ``random.seed(seed_state, ctx='all')``): every device's
    when ``device`` is 'all' (or None), else only ``device``'s. The same seed repeats the same
    draws, on every OpenCL device alike; None seeds from the operating system."""
    if ctx is not None and device in ("all", None):
        device = ctx
    if seed is None:
        import os
        seed = int.from_bytes(os.urandom(8), "little")
    if isinstance(seed, bool) or not isinstance(seed, (int, _np.integer)):
        raise ArgumentTypeError(f"seed must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise RandomParameterError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if device is None or (isinstance(device, str) and device == "all"):
        with _streams_lock:
            _default_seed[0] = seed
            for s in _streams.values():
                s.reset(seed)
    else:
        _stream_of(resolve_device(device)).reset(seed)


def draw(dist, shape, dtype, p0, p1, device=None):
    """A new array of ``shape`` filled from distribution ``dist`` with parameters p0, p1."""
    dev = resolve_device(device)
    shape = normalize_shape(shape if shape is not None else ())
    dtype = dt.as_dtype(dtype)
    dt.check_device(dtype, dev)
    out = ndarray._empty(shape, dtype, dev)
    n = out.size
    if n == 0:
        return out
    if dist == "randint" or dist == "bernoulli" and dtype.kind != "f":
        param = dt.int64 if dist == "randint" else dt.float32
    else:
        param = dt.float64 if dtype == dt.float64 else dt.float32
    if dist == "bernoulli":
        param = dt.float32
    key = ("random", dist, dtype, param)
    k = launch.get_kernel(dev, key, lambda: _make(dev, dist, dtype, param))
    # one counter per four elements: a draw continues exactly where the previous one stopped
    # (draw(n) then draw(m) is draw(n + m) split at n, for n a multiple of 4). Wide 64-bit
    # draws take each value's low bits from a second block of the same counter (its fourth
    # word 1, not 0), so they advance the stream by as many counters as narrow ones.
    counters = (n + 3) // 4
    stream = _stream_of(dev)
    base = stream.take(counters)
    # a captured replay draws anew each call: the stream's key (a later seed()) and counters
    launch.per_call_args((2, 3, 4), lambda: (stream.key[0], stream.key[1],
                                              stream.take(counters)))
    k(dev, counters, out._storage.buffer, n, stream.key[0], stream.key[1], base, p0, p1)
    return out


def _make(dev, dist, dtype, param):
    pc = dt.compute_ctype(param)
    src = R.render("random.cl.mako", prelude=R.prelude(dt.float64 in (dtype, param)),
                   philox=R.cl_source("philox.cl"), name=f"rand_{dist}", out=R.Operand(True, dtype),
                   dist=dist, param_t=pc)
    pnp = {"float": _np.float32, "double": _np.float64, "long": _np.int64}[pc]
    return launch.Kernel(dev, src, f"rand_{dist}",
                         [None, _np.int64, _np.uint32, _np.uint32, _np.uint64, pnp, pnp])


class RandomParameterError(MXNetError, ValueError):
    """Invalid arguments to a sampler (probabilities, sample sizes, ...)."""


class RandomRangeError(RandomParameterError, OverflowError):
    """A sampling range too wide for the samples' type (``uniform``'s ``high - low`` not
    finite): an ``OverflowError``, as NumPy raises."""


def permutation_indices(n, device=None):
    """A uniformly random permutation of range(n) (int64), from one draw of 62-bit keys.

    Sorting random keys is unbiased as long as no two keys collide; with 62 bits a collision
    among a million keys has probability about 1e-7, and the stable sort breaks even that tie
    by position.
    """
    from .sort import sort_raw
    keys = draw("randint", (int(n),), dt.int64, 0, 1 << 62, device)
    return sort_raw(keys, 0, values=False)[1]


def _sample_size(size):
    if size is None:
        return ()
    return normalize_shape(size)


def _probabilities(p, n):
    """``p`` as a validated float64 host vector of length ``n`` (NumPy's checks)."""
    p = p.asnumpy() if isinstance(p, ndarray) else _np.asarray(p)
    atol = _np.sqrt(_np.finfo(_np.float64).eps)
    if p.dtype.kind == "f":
        atol = max(atol, _np.sqrt(_np.finfo(p.dtype).eps))
    p = p.astype(_np.float64)
    if p.ndim != 1:
        raise RandomParameterError("p must be 1-dimensional")
    if p.size != n:
        raise RandomParameterError("a and p must have same size")
    if not _np.isfinite(p).all():
        raise RandomParameterError("probabilities contain NaN or infinity")
    if (p < 0).any():
        raise RandomParameterError("probabilities are not non-negative")
    if abs(p.sum() - 1) > atol:
        raise RandomParameterError("probabilities do not sum to 1")
    return p


_U53 = 2 ** 53


def choice_indices(n, size=None, replace=True, p=None, device=None):
    """Indices into a population of ``n`` as ``np.random.choice`` draws them (int64)."""
    from .core import from_host
    from .sort import searchsorted_raw, sort_raw
    dev = resolve_device(device)
    shape = _sample_size(size)
    m = 1
    for s in shape:
        m *= s
    if n < 0 or (n == 0 and m):
        raise RandomParameterError("a must be greater than 0 unless no samples are taken")
    if p is not None:
        p = _probabilities(p, n)
    if not replace and m > n:
        raise RandomParameterError("Cannot take a larger sample than population when "
                                   "'replace=False'")
    if m == 0:
        return ndarray._empty(shape, dt.int64, dev)
    # uniform draws as 53-bit integers: the same stream positions and the same numbers on every
    # device, with or without float64
    if replace:
        if p is None:
            return draw("randint", shape, dt.int64, 0, int(n), dev)
        # category i takes the integers in [t[i-1], t[i]): exact comparisons, no rounding of u
        cdf = _np.cumsum(p)
        t = _np.round(cdf / cdf[-1] * _U53).astype(_np.int64)
        t[-1] = _U53
        u = draw("randint", shape, dt.int64, 0, _U53, dev)
        return searchsorted_raw(from_host(t, dev), u, right=True)
    if p is None:
        perm = permutation_indices(n, dev)
        return perm[:m].reshape(shape) if m < n else perm.reshape(shape)
    if _np.count_nonzero(p) < m:
        raise RandomParameterError("Fewer non-zero entries in p than size")
    # weighted sampling without replacement: the m largest keys log(u) / p_i (Efraimidis and
    # Spirakis), the same distribution as drawing one at a time from the renormalised rest;
    # the keys are computed in float64 where the device has it
    fdt = dt.float64 if dev.caps.fp64 else dt.float32
    u = draw("randint", (n,), dt.int64, 0, _U53, dev)
    pd = from_host(p.astype(fdt), dev)
    keys = ndarray._empty((n,), fdt, dev)
    launch.elementwise("es_key", keys, [u, pd],
                       f"(v1 > 0) ? log1p(-v0 * {dt.literal(1.0 / _U53, fdt)}) / v1 : -INFINITY",
                       [fdt, fdt])
    order = sort_raw(keys, 0, descending=True, values=False)[1]
    return order[:m].reshape(shape)
