"""``clgrad.random``: MXNet's ``mx.random`` (the 1.x spelling): ``seed`` resets the generators
of every device (or of one, ``ctx=``/``device=``); the samplers take MXNet's ``shape=`` and
``ctx=`` and give clgrad arrays."""
from .numpy import random as _np_random
from .ops.random import seed  # noqa: F401


def uniform(low=0.0, high=1.0, shape=None, dtype=None, ctx=None, device=None, out=None):
    return _np_random.uniform(low, high, size=shape, dtype=dtype, device=device or ctx, out=out)


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, ctx=None, device=None, out=None):
    return _np_random.normal(loc, scale, size=shape, dtype=dtype, device=device or ctx, out=out)


def randn(*shape, dtype=None, ctx=None, device=None):
    return _np_random.normal(0.0, 1.0, size=shape, dtype=dtype, device=device or ctx)


def randint(low, high, shape=None, dtype=None, ctx=None, device=None, out=None):
    return _np_random.randint(low, high, size=shape, dtype=dtype, device=device or ctx, out=out)


def shuffle(data):
    """A copy of ``data`` shuffled along its first axis (MXNet's ``mx.random.shuffle``)."""
    return _np_random.permutation(data)
