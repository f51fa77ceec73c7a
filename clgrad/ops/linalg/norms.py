"""Vector and matrix norms (clgrad.np.linalg re-exports them).
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...autograd import graph as _state
from ...base import ArgumentError, ShapeError, UnsupportedError
from ...ndarray import ndarray
from ..registry import invoke, register
from ..core import asarray, astype, copy_raw


# =============================================================================================
# Norms (clgrad.np.linalg re-exports them)
# =============================================================================================
def _expand(g, shape, axes, keepdims):
    from ..shape import broadcast_to, reshape
    if not keepdims:
        g = reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return broadcast_to(g, shape)


def _vnorm_fwd(ctx, x, axes, keepdims, kind):
    from ..elementwise import sqrt
    from ..reduce import reduce_raw
    ctx.axes, ctx.keepdims, ctx.kind = axes, keepdims, kind
    raw = {"2": "sumsq", "1": "sumabs", "inf": "maxabs", "-inf": "minabs"}[kind]
    r = reduce_raw(raw, x, axes, None, keepdims)
    if kind == "2":
        r = sqrt(r)
    if r.dtype != x.dtype:
        r = copy_raw(r, x.dtype)
    ctx.save(x, r.detach())
    return r


def _vnorm_bwd(ctx, g):
    from ..elementwise import abs as _abs
    from ..elementwise import equal, multiply, sign, true_divide, where
    x, r = ctx.saved
    axes, keepdims, kind = ctx.axes, ctx.keepdims, ctx.kind
    if kind == "2":
        if _state.is_recording():
            # a graph of the gradient is being built: the norm must be part of it
            r = invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind=kind)
        # d|x| = x / |x|, with 0 where the norm is 0 (x is then 0 as well)
        safe = where(equal(r, 0), 1, r)
        return (multiply(_expand(true_divide(g, safe), x.shape, axes, keepdims), x),)
    gs = multiply(_expand(g, x.shape, axes, keepdims), sign(x))
    if kind == "1":
        return (gs,)
    # max / min of |x|: every element attaining it receives the gradient (MXNet's rule)
    return (multiply(gs, equal(_abs(x), _expand(r, x.shape, axes, keepdims))),)


_vnorm_op = register("norm", _vnorm_fwd, _vnorm_bwd)


def as_float_input(x):
    x = x if isinstance(x, ndarray) else asarray(x)
    if x.dtype.kind != "f":
        x = astype(x, dt.default_float)
    return x


def vector_norm_over(x, ord, axes, keepdims):
    from ..elementwise import abs as _abs
    from ..elementwise import not_equal, power
    from ..reduce import sum as _sum
    if ord is None or ord == 2:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="2")
    if ord == 1:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="1")
    if isinstance(ord, str):
        raise ArgumentError(f"norm: invalid norm order ord={ord!r} for vectors")
    if ord == _np.inf:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="inf")
    if ord == -_np.inf:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="-inf")
    if ord == 0:
        return astype(_sum(not_equal(x, 0), axis=axes, keepdims=keepdims), x.dtype)
    p = float(ord)
    return power(_sum(power(_abs(x), p), axis=axes, keepdims=keepdims), 1.0 / p)


def matrix_norm_over(x, ord, axes, keepdims):
    from ..reduce import max as _max
    from ..reduce import min as _min
    from ..shape import reshape
    r, c = axes
    if ord in (None, "fro"):
        return invoke(_vnorm_op, [x], axes=tuple(sorted(axes)), keepdims=keepdims, kind="2")
    if ord in ("nuc", 2, -2):
        raise UnsupportedError(f"norm: the matrix norm ord={ord!r} needs a singular value "
                               "decomposition, which clgrad does not provide; use ord='fro', "
                               "1, -1, inf or -inf")
    if ord in (1, -1):
        s = invoke(_vnorm_op, [x], axes=(r,), keepdims=True, kind="1")
        res = (_max if ord == 1 else _min)(s, axis=c, keepdims=True)
    elif ord in (_np.inf, -_np.inf):
        s = invoke(_vnorm_op, [x], axes=(c,), keepdims=True, kind="1")
        res = (_max if ord > 0 else _min)(s, axis=r, keepdims=True)
    else:
        raise ArgumentError(f"norm: invalid norm order ord={ord!r} for matrices")
    if not keepdims:
        res = reshape(res, tuple(n for i, n in enumerate(res.shape) if i not in axes))
    return res


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms (NumPy's ``linalg.norm``): ord None/'fro', 1, -1, 2 (vectors),
    inf, -inf, 0 and other p for vectors; 'fro', 1, -1, inf, -inf for matrices."""
    from ..reduce import normalize_axes, normalize_axis
    x = as_float_input(x)
    if axis is None:
        if ord is None:
            return invoke(_vnorm_op, [x], axes=tuple(range(x.ndim)), keepdims=keepdims,
                          kind="2")
        if x.ndim == 1:
            return vector_norm_over(x, ord, (0,), keepdims)
        if x.ndim == 2:
            return matrix_norm_over(x, ord, (0, 1), keepdims)
        raise ShapeError(f"norm: improper number of dimensions to norm ({x.ndim}) for ord="
                         f"{ord!r}; give axis")
    if isinstance(axis, numbers.Integral):
        axes = normalize_axes(axis, x.ndim)
        return vector_norm_over(x, ord, axes, keepdims)
    from ..args import as_ints
    axis = as_ints(axis, "axis", "norm")
    if len(axis) == 1:
        return vector_norm_over(x, ord, normalize_axes(axis, x.ndim), keepdims)
    if len(axis) == 2:
        r = normalize_axis(axis[0], x.ndim)
        c = normalize_axis(axis[1], x.ndim)
        if r == c:
            raise ArgumentError(f"norm: duplicate axes given (axis={axis})")
        return matrix_norm_over(x, ord, (r, c), keepdims)
    raise ShapeError(f"norm: improper number of dimensions to norm (axis={axis})")
