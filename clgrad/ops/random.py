"""Counter-based random numbers (Philox-4x32-10): the same seed gives the same stream on every
OpenCL device and in every run; each draw advances the stream, so two draws differ."""
import threading

import numpy as _np

from .. import dtypes as dt
from ..base import MXNetError
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


_stream = _Stream(0)


def seed(seed=None, device=None):
    """Reset the generator: ``seed`` fixes the stream (the same on every device)."""
    if seed is None:
        import os
        seed = int.from_bytes(os.urandom(8), "little")
    if not isinstance(seed, (int, _np.integer)) or seed < 0:
        raise MXNetError(f"seed must be a non-negative integer, got {seed!r}")
    _stream.reset(int(seed))


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
    counters = (n + 3) // 4
    base = _stream.take(counters * (2 if dist == "uniform" and param == dt.float64 else 1))
    k(dev, counters, out._storage.buffer, n, _stream.key[0], _stream.key[1], base, p0, p1)
    return out


def _make(dev, dist, dtype, param):
    pc = dt.compute_ctype(param)
    src = R.render("random.cl.mako", prelude=R.prelude(dt.float64 in (dtype, param)),
                   philox=R.cl_source("philox.cl"), name=f"rand_{dist}", out=R.Operand(True, dtype),
                   dist=dist, param_t=pc)
    pnp = {"float": _np.float32, "double": _np.float64, "long": _np.int64}[pc]
    return launch.Kernel(dev, src, f"rand_{dist}",
                         [None, _np.int64, _np.uint32, _np.uint32, _np.uint64, pnp, pnp])
