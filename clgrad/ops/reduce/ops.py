"""The differentiable reductions and scans (sum, mean, prod, max/min, argmax/argmin, all/any,
var/std, logsumexp, cumsum/cumprod), each a forward over ``reduce_raw``/``scan_raw`` and a
vjp in clgrad ops.
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...autograd import graph as _state
from ...base import ArgumentTypeError
from ...ndarray import ndarray
from .. import late
from ..args import as_float
from ..core import array, assign, full
from ..registry import invoke, register
from .kernels import reduce_raw, scan_raw
from .kinds import AxisError, EmptyReductionError, normalize_axes, normalize_axis


# --- differentiable reductions ---------------------------------------------------------------
def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def _expand_back(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back over the reduced axes."""
    from ..shape import broadcast_to, reshape
    if not keepdims:
        kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g = reshape(g, kshape)
    return broadcast_to(g, shape)


def _count(shape, axes):
    K = 1
    for i in axes:
        K *= shape[i]
    return K


def _initial(value, dtype, name):
    """``initial`` in the reduction's dtype, as NumPy casts it (0.5 starts an integer sum at
    0; an integer beyond the type wraps, as every scalar operand does), so that it does not
    promote the result."""
    if isinstance(value, (ndarray, _np.ndarray, _np.generic)):
        value = _np.asarray(value).item() if _np.size(value) == 1 else value
    if not isinstance(value, numbers.Number):
        raise ArgumentTypeError(f"{name}: initial must be a number, got {value!r}")
    return dt.cast_scalar(value, dtype)


def _out(res, out):
    if out is None:
        return res
    if not isinstance(out, ndarray):
        raise ArgumentTypeError(f"out must be an array, not {type(out).__name__}")
    if out.shape != res.shape:
        from ...base import ShapeError
        raise ShapeError(f"output array has shape {out.shape}, the reduction's is {res.shape}")
    return assign(out, res)


def _sum_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
    return reduce_raw("sum", a, axes, dtype, keepdims)


def _sum_bwd(ctx, g):
    return (_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims),)


_sum_op = register("sum", _sum_fwd, _sum_bwd)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):  # noqa: A001
    """Sum over ``axis`` (None, int or tuple). As MXNet: integers keep their dtype (summed
    exactly in int64), booleans count in int64; float16 accumulates in float32."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_sum_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from ..elementwise import add
        res = add(res, _initial(initial, res.dtype, "sum"))
    return _out(res, out)


def _mean_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
    ctx.K = _count(a.shape, axes)
    return reduce_raw("mean", a, axes, dtype, keepdims)


def _mean_bwd(ctx, g):
    from ..elementwise import true_divide
    return (true_divide(_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims), ctx.K),)


_mean_op = register("mean", _mean_fwd, _mean_bwd)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Arithmetic mean; integer inputs give float32 (MXNet), the mean of nothing is NaN."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    return _out(invoke(_mean_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims),
                out)


def _prod_fwd(ctx, a, axes, dtype, keepdims):
    ctx.save(a)
    ctx.axes, ctx.keepdims = axes, keepdims
    return reduce_raw("prod", a, axes, dtype, keepdims)


def _prod_bwd(ctx, g):
    # d prod / d a_i is the product of the others: prod / a_i where a_i != 0; at the one zero
    # of a slice, the product with that zero replaced by 1; zero when a slice has two zeros.
    from ..elementwise import equal, multiply, true_divide, where
    (a,) = ctx.saved
    out = prod(a, axis=ctx.axes, keepdims=True)
    gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
    ob = _expand_back(out, a.shape, ctx.axes, True)
    zero = equal(a, 0)
    safe = where(zero, 1, a)
    others = where(zero, _expand_back(prod(safe, axis=ctx.axes, keepdims=True), a.shape,
                                      ctx.axes, True), true_divide(ob, safe))
    nz = sum(zero, axis=ctx.axes, keepdims=True)
    others = where(_expand_back(nz, a.shape, ctx.axes, True) > 1, 0, others)
    return (multiply(gb, others),)


_prod_op = register("prod", _prod_fwd, _prod_bwd)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):
    """Product over ``axis``; integers keep their dtype (bool gives int64, as MXNet), float16
    accumulates in float32."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_prod_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from ..elementwise import multiply
        res = multiply(res, _initial(initial, res.dtype, "prod"))
    return _out(res, out)


def _extreme(kind):
    def fwd(ctx, a, axes, keepdims):
        ctx.axes, ctx.keepdims = axes, keepdims
        out = reduce_raw(kind, a, axes, None, keepdims)
        ctx.save(a, out.detach())   # a detached view (no cycle), version-checked like a
        return out

    def bwd(ctx, g):
        # MXNet's rule: every element equal to the extreme receives the whole gradient.
        from ..elementwise import equal, multiply
        a, out = ctx.saved
        ob = _expand_back(out, a.shape, ctx.axes, ctx.keepdims)
        gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
        return (multiply(gb, equal(a, ob)),)

    op = register(kind, fwd, bwd)

    def fn(a, axis=None, out=None, keepdims=False, initial=None):
        a = _as_array(a)
        axes = normalize_axes(axis, a.ndim)
        if initial is not None and _count(a.shape, axes) == 0:
            shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims \
                else tuple(n for i, n in enumerate(a.shape) if i not in axes)
            return _out(full(shape, initial, dtype=a.dtype, device=a.device), out)
        res = invoke(op, [a], axes=axes, keepdims=keepdims)
        if initial is not None:
            from .. import elementwise as ew
            res = (ew.maximum if kind == "max" else ew.minimum)(
                res, _initial(initial, res.dtype, kind))
        return _out(res, out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"The {'largest' if kind == 'max' else 'smallest'} element over ``axis`` "
                  "(NaN propagates); the gradient goes to every element equal to it (MXNet).")
    return fn


max = _extreme("max")  # noqa: A001
min = _extreme("min")  # noqa: A001
amax, amin = max, min


def _arg(kind):
    def fn(a, axis=None, out=None, keepdims=False):
        a = _as_array(a)
        if axis is not None and not isinstance(axis, numbers.Integral):
            raise ArgumentTypeError(f"{kind}: axis must be an integer or None, not "
                                    f"{type(axis).__name__}")
        axes = normalize_axes(axis, a.ndim)
        if _count(a.shape, axes) == 0:
            raise EmptyReductionError(f"attempt to get {kind} of an empty sequence")
        return _out(reduce_raw(kind, a, axes, dt.int64, keepdims), out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"Index of the first {'largest' if kind == 'argmax' else 'smallest'} element "
                  "along ``axis`` (flat index when None); a NaN counts as the extreme, as in "
                  "NumPy. int64, not differentiable.")
    return fn


argmax = _arg("argmax")
argmin = _arg("argmin")


def _truth(a):
    """Complex elements are true when either part is non-zero: reduce that, as booleans."""
    if a.dtype.kind == "c":
        from ..elementwise import not_equal
        return not_equal(a, 0)
    return a


def all(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _truth(_as_array(a))
    return _out(reduce_raw("all", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)


def any(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _truth(_as_array(a))
    return _out(reduce_raw("any", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)


# --- var and std: one pass of (count, mean, M2) ------------------------------------------------
def _moments(kind):
    def fwd(ctx, a, axes, dtype, ddof, keepdims):
        ctx.axes, ctx.keepdims, ctx.ddof = axes, keepdims, ddof
        out = reduce_raw(kind, a, axes, dtype, keepdims, ddof=ddof)
        ctx.save(a, out.detach() if kind == "std" else None)   # version-checked, no cycle
        return out

    def bwd(ctx, g):
        # d var / d x = 2 (x - mean) / (N - ddof);  d std = d var / (2 std)
        from ..elementwise import multiply, subtract, true_divide
        a, out = ctx.saved
        axes = ctx.axes
        n = _count(a.shape, axes) - ctx.ddof
        dev = subtract(a, mean(a, axis=axes, keepdims=True))
        gb = _expand_back(g, a.shape, axes, ctx.keepdims)
        if kind == "var":
            return (multiply(gb, multiply(dev, 2.0 / n if n > 0 else float("nan"))),)
        # the graph of a create_graph backward needs std as a function of a, not a constant
        s = std(a, axis=axes, ddof=ctx.ddof, keepdims=True) if _state.is_recording() else \
            _expand_back(out, a.shape, axes, ctx.keepdims)
        return (multiply(gb, true_divide(dev, multiply(s, float(n) if n > 0 else
                                                       float("nan")))),)

    op = register(kind, fwd, bwd)

    def fn(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        a = _as_array(a)
        axes = normalize_axes(axis, a.ndim)
        if not isinstance(ddof, numbers.Integral):
            ddof = as_float(ddof, "ddof", kind)
        return _out(invoke(op, [a], axes=axes, dtype=dt.as_dtype(dtype), ddof=ddof,
                           keepdims=keepdims), out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"{'Variance' if kind == 'var' else 'Standard deviation'} over ``axis`` with "
                  "divisor N - ddof, in one numerically stable pass; integer inputs give "
                  "float32 (as mean).")
    return fn


var = _moments("var")
std = _moments("std")


# --- logsumexp -------------------------------------------------------------------------------
def _lse_fwd(ctx, a, axes, keepdims):
    ctx.axes, ctx.keepdims = axes, keepdims
    out = reduce_raw("logsumexp", a, axes, None, keepdims)
    ctx.save(a, out.detach())   # version-checked, no cycle
    return out


def _lse_bwd(ctx, g):
    # the gradient is softmax(a) over the reduced axes: exp(a - logsumexp(a))
    from ..elementwise import exp, multiply, subtract
    a, out = ctx.saved
    lse = logsumexp(a, axis=ctx.axes, keepdims=True) if _state.is_recording() else out
    lse = _expand_back(lse, a.shape, ctx.axes, ctx.keepdims or _state.is_recording())
    return (multiply(_expand_back(g, a.shape, ctx.axes, ctx.keepdims), exp(subtract(a, lse))),)


_lse_op = register("logsumexp", _lse_fwd, _lse_bwd)


def logsumexp(a, axis=None, keepdims=False):
    """log(sum(exp(a))) over ``axis``, computed stably in one pass (a running maximum); its
    gradient is the softmax of ``a`` over those axes."""
    a = _as_array(a)
    return invoke(_lse_op, [a], axes=normalize_axes(axis, a.ndim), keepdims=keepdims)


# --- cumulative sums and products ------------------------------------------------------------
def _reverse(x, axis):
    """``x`` reversed along ``axis`` (a recorded view)."""
    from ..shape import getitem
    key = (slice(None),) * axis + (slice(None, None, -1),)
    return getitem(x, key)


def _cumsum_fwd(ctx, a, axis, dtype):
    ctx.axis = axis
    return scan_raw("cumsum", a, axis, dtype)


def _cumsum_bwd(ctx, g):
    # each input feeds every later output: the gradient is the reversed cumulative sum
    return (_reverse(cumsum(_reverse(g, ctx.axis), axis=ctx.axis), ctx.axis),)


_cumsum_op = register("cumsum", _cumsum_fwd, _cumsum_bwd)


def _cumprod_fwd(ctx, a, axis, dtype):
    ctx.save(a)
    ctx.axis = axis
    return scan_raw("cumprod", a, axis, dtype)


def _cumprod_bwd(ctx, g):
    # grad_i = sum_{j>=i} g_j prod_{k<=j, k!=i} a_k. Before the first zero of a line this is
    # revcumsum(g * P)_i / a_i (P = cumprod(a)); at the first zero it is revcumsum(g * Q)_i
    # with Q the cumprod of a with that zero replaced by 1; after it, every term holds a zero.
    from ..elementwise import equal, logical_and, multiply, true_divide, where
    (a,) = ctx.saved
    ax = ctx.axis
    zero = equal(a, 0)
    first = logical_and(zero, equal(cumsum(zero, axis=ax), 1))
    P = cumprod(a, axis=ax)
    Q = cumprod(where(first, 1, a), axis=ax)

    def revcumsum(x):
        return _reverse(cumsum(_reverse(x, ax), axis=ax), ax)

    plain = true_divide(revcumsum(multiply(g, P)), where(zero, 1, a))
    at_zero = revcumsum(multiply(g, Q))
    return (where(first, at_zero, where(zero, 0, plain)),)


_cumprod_op = register("cumprod", _cumprod_fwd, _cumprod_bwd)


def _scan_public(op, name):
    def fn(a, axis=None, dtype=None, out=None):
        a = _as_array(a)
        if axis is None:
            from ..shape import reshape
            a = reshape(a, (-1,))
            ax = 0
        else:
            if not isinstance(axis, numbers.Integral):
                raise ArgumentTypeError(f"{name}: axis must be an integer or None, not "
                                        f"{type(axis).__name__}")
            if a.ndim == 0:
                raise AxisError(f"axis {axis} is out of bounds for array of dimension 0")
            ax = normalize_axis(axis, a.ndim)
        return _out(invoke(op, [a], axis=ax, dtype=dt.as_dtype(dtype)), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Cumulative {'sum' if name == 'cumsum' else 'product'} along ``axis`` "
                  "(over the flattened array when None); integers keep their dtype, bool gives "
                  "int64 (MXNet's rule).")
    return fn


cumsum = _scan_public(_cumsum_op, "cumsum")
cumprod = _scan_public(_cumprod_op, "cumprod")


late.bind(sum=sum)
