"""Reductions: one deterministic kernel family (see templates/reduce.cl.mako), many ops.

The reduced axes and the kept axes are each collapsed to as few dimensions as their strides
allow. Small reductions run one work-item per output; long ones a work-group per output, and a
second stage when there are too few outputs to fill the device.
"""
import builtins as _b
import numbers

import numpy as _np

from .. import dtypes as dt
from ..base import MXNetError
from ..codegen import render as R
from ..ndarray import ndarray
from . import launch
from .core import array, zeros_like
from .registry import invoke, register


__all__ = ["all", "amax", "amin", "any", "max", "mean", "min", "prod", "sum"]


class AxisError(MXNetError, IndexError):
    pass


def normalize_axes(axis, ndim, name="axis"):
    """A sorted tuple of non-negative axes; None means all."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if a < -ndim or a >= _b.max(ndim, 1) and not (ndim == 0 and a in (0, -1)):
            raise AxisError(f"{name} {a} is out of bounds for array of dimension {ndim}")
        a = a % ndim if ndim else 0
        if a in out:
            raise MXNetError(f"duplicate value in '{name}'")
        out.append(a)
    return tuple(sorted(out)) if ndim else ()


# kind -> (init, combine, map, finalize) as OpenCL C over ACC values a, b, v
_KINDS = {
    "sum": ("(ACC)0", "a + b", "v", "a"),
    "mean": ("(ACC)0", "a + b", "v", "a / (ACC)K"),
    "prod": ("(ACC)1", "a * b", "v", "a"),
    "max": (None, "(a >= b || isnan_acc(a)) ? a : b", "v", "a"),
    "min": (None, "(a <= b || isnan_acc(a)) ? a : b", "v", "a"),
    "all": ("(ACC)1", "a && b", "(v != 0)", "a"),
    "any": ("(ACC)0", "a || b", "(v != 0)", "a"),
    "sumsq": ("(ACC)0", "a + b", "v * v", "a"),
    "sumabs": ("(ACC)0", "a + b", "(v < 0 ? -v : v)", "a"),
    "maxabs": ("(ACC)0", "(a >= b || isnan_acc(a)) ? a : b", "(v < 0 ? -v : v)", "a"),
    "minabs": (None, "(a <= b || isnan_acc(a)) ? a : b", "(v < 0 ? -v : v)", "a"),
}

_LIMITS = {
    dt.float16: ("INFINITY", "-INFINITY"), dt.float32: ("INFINITY", "-INFINITY"),
    dt.float64: ("INFINITY", "-INFINITY"), dt.int8: ("127", "-128"), dt.int16: ("32767", "-32768"),
    dt.int32: ("2147483647", "(-2147483647 - 1)"),
    dt.int64: ("9223372036854775807L", "(-9223372036854775807L - 1)"),
    dt.uint8: ("255", "0"), dt.bool_: ("1", "0"),
}


def _acc_dtype(kind, dtype):
    if kind in ("all", "any"):
        return dt.bool_
    if dtype == dt.float16:
        return dt.float32
    if kind in ("sum", "prod", "sumabs", "sumsq") and dtype.kind in "biu":
        return dt.int64
    if kind == "mean" and dtype.kind in "biu":
        return dt.default_float
    return dtype


def reduce_raw(kind, a, axes, out_dtype=None, keepdims=False):
    """Reduce ``a`` over ``axes`` (normalised) with ``kind``; not recorded."""
    dev = a.device
    acc = _acc_dtype(kind, a.dtype)
    if out_dtype is None:
        out_dtype = acc if kind != "mean" or a.dtype.kind in "biu" else a.dtype
        if kind in ("sum", "prod", "mean") and a.dtype == dt.float16:
            out_dtype = dt.float16
    dt.check_device(out_dtype, dev)
    dt.check_device(acc, dev)
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims else \
        tuple(n for i, n in enumerate(a.shape) if i not in axes)
    K = 1
    for i in axes:
        K *= a.shape[i]
    M = 1
    for n in out_shape:
        M *= n
    out = ndarray._empty(out_shape, out_dtype, dev)
    if M == 0:
        return out
    if K == 0:
        init = _KINDS[kind][0]
        if init is None:
            raise MXNetError(f"zero-size array to reduction operation {kind} which has no "
                             "identity")
        from .core import fill
        fill(out, {"(ACC)0": 0, "(ACC)1": 1}[init] if kind != "mean" else float("nan"))
        return out
    outer = [i for i in range(a.ndim) if i not in axes]
    oshape, (ostr,) = launch.collapse([a.shape[i] for i in outer], [[a._strides[i] for i in outer]])
    ishape, (istr,) = launch.collapse([a.shape[i] for i in axes], [[a._strides[i] for i in axes]])
    caps = dev.caps
    wg = 1
    while wg * 2 <= _b.min(256, caps.max_wg) and wg * 2 * acc.itemsize <= caps.local_mem // 2:
        wg *= 2
    inner_contig = not istr or istr[-1] == 1
    use_group = K >= 32 and (inner_contig or M < 256) and wg > 1
    if not use_group:
        k = _kernel(dev, kind, a.dtype, acc, out_dtype, "serial", 1, len(oshape), len(ishape),
                    True)
        args = _args(a, out, M, K, K, 1, oshape, ostr, ishape, istr, K)
        k(dev, M, *args)
        return out
    target = 4 * _b.max(1, caps.compute_units)
    parts = 1
    if M < target and K >= 4 * wg * 2:
        parts = _b.min((target + M - 1) // M, K // (2 * wg))
    chunk = (K + parts - 1) // parts
    if parts == 1:
        k = _kernel(dev, kind, a.dtype, acc, out_dtype, "group", wg, len(oshape), len(ishape),
                    True)
        k.launch(dev, (M * wg,), (wg,), *_args(a, out, M, K, chunk, 1, oshape, ostr, ishape,
                                                istr, K))
        return out
    partial = ndarray._empty((M, parts), acc, dev)
    k1 = _kernel(dev, kind, a.dtype, acc, acc, "group", wg, len(oshape), len(ishape), False)
    k1.launch(dev, (M * parts * wg,), (wg,), *_args(a, partial, M, K, chunk, parts, oshape, ostr,
                                                     ishape, istr, K))
    # stage 2 combines the partials (already mapped) with the same combine, then finalises
    kind2 = {"sumsq": "sum", "sumabs": "sum", "maxabs": "max", "minabs": "min"}.get(kind, kind)
    k2 = _kernel(dev, kind2, acc, acc, out_dtype, "group", wg, 1, 1, True, stage2=True)
    k2.launch(dev, (M * wg,), (wg,), *_args(partial, out, M, parts, parts, 1, [M], [parts],
                                             [parts], [1], K))
    return out


def _args(a, out, M, K, chunk, parts, oshape, ostr, ishape, istr, K_total):
    args = [a._storage.buffer, a._offset, out._storage.buffer, M, K, chunk, parts]
    for n, s in zip(oshape, ostr):
        args += (n, s)
    for n, s in zip(ishape, istr):
        args += (n, s)
    args.append(K_total)
    return args


def _kernel(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final,
            stage2=False):
    key = ("reduce", kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final,
           stage2)
    return launch.get_kernel(dev, key, lambda: _make(dev, kind, src_dtype, acc, out_dtype, mode,
                                                    wg, outer_nd, inner_nd, final, stage2))


def _make(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final, stage2):
    init, combine, map_expr, finalize = _KINDS[kind]
    if stage2:
        map_expr = "v"
    if kind in ("all", "any"):
        acc_c = "uchar"
    else:
        acc_c = dt.compute_ctype(acc)
    if init is None:
        hi, lo = _LIMITS[acc]
        init = hi if kind in ("min", "minabs") else lo
    uses_fp64 = dt.float64 in (src_dtype, acc, out_dtype)
    isnan = "isnan(x)" if acc.kind == "f" else "0"
    prelude = R.prelude(uses_fp64) + f"\nstatic int isnan_acc({acc_c} x) {{ return {isnan}; }}\n"
    strides = []
    s = wg // 2
    while s >= 1:
        strides.append(s)
        s //= 2
    name = f"reduce_{kind}_{mode}"
    src = R.render("reduce.cl.mako", prelude=prelude, name=name, acc=acc_c, combine=combine,
                   map_expr=map_expr, finalize=finalize, init=init, mode=mode, wg=wg,
                   outer_nd=outer_nd, inner_nd=inner_nd, src=R.Operand(True, src_dtype),
                   dst=R.Operand(True, out_dtype), strides=strides, final=final)
    arg_dtypes = [None, _np.int64, None] + [_np.int64] * 4 + \
        [_np.int64] * (2 * (outer_nd + inner_nd)) + [_np.int64]
    return launch.Kernel(dev, src, name, arg_dtypes, local_cap=wg)


# --- differentiable reductions ---------------------------------------------------------------
def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def _expand_back(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back over the reduced axes."""
    from .shape import broadcast_to, reshape
    if not keepdims:
        kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g = reshape(g, kshape)
    return broadcast_to(g, shape)


def _sum_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims, ctx.in_dtype = a.shape, axes, keepdims, a.dtype
    return reduce_raw("sum", a, axes, dtype, keepdims)


def _sum_bwd(ctx, g):
    return (_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims),)


_sum_op = register("sum", _sum_fwd, _sum_bwd)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):  # noqa: A001
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_sum_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from .elementwise import add
        res = add(res, initial)
    return _out(res, out)


def _out(res, out):
    if out is None:
        return res
    from .core import assign
    return assign(out, res)


def _mean_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
    K = 1
    for i in axes:
        K *= a.shape[i]
    ctx.K = K
    return reduce_raw("mean", a, axes, dtype, keepdims)


def _mean_bwd(ctx, g):
    from .elementwise import true_divide
    return (true_divide(_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims), ctx.K),)


_mean_op = register("mean", _mean_fwd, _mean_bwd)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    return _out(invoke(_mean_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims),
                out)


def _prod_fwd(ctx, a, axes, dtype, keepdims):
    ctx.save(a)
    ctx.axes, ctx.keepdims = axes, keepdims
    return reduce_raw("prod", a, axes, dtype, keepdims)


def _prod_bwd(ctx, g):
    # d prod / d a_i = prod / a_i, computed without division where a_i == 0 would break it:
    # prod of the others = exp(sum log|a|) would lose signs; use the exclusive product instead.
    from .elementwise import multiply, true_divide, where, equal
    (a,) = ctx.saved
    out = prod(a, axis=ctx.axes, keepdims=True)
    gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
    ob = _expand_back(out, a.shape, ctx.axes, True)
    zero = equal(a, 0)
    safe = where(zero, 1, a)
    # where a has a zero, the product of the others is the product with that zero replaced by 1
    others = where(zero, _expand_back(prod(safe, axis=ctx.axes, keepdims=True), a.shape,
                                      ctx.axes, True), true_divide(ob, safe))
    nz = sum(zero, axis=ctx.axes, keepdims=True)
    others = where(_expand_back(nz, a.shape, ctx.axes, True) > 1, 0, others)
    return (multiply(gb, others),)


_prod_op = register("prod", _prod_fwd, _prod_bwd)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_prod_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from .elementwise import multiply
        res = multiply(res, initial)
    return _out(res, out)


def _extreme(kind):
    def fwd(ctx, a, axes, keepdims):
        ctx.save(a)
        ctx.axes, ctx.keepdims = axes, keepdims
        out = reduce_raw(kind, a, axes, None, keepdims)
        ctx.out = out.detach()
        return out

    def bwd(ctx, g):
        # MXNet's rule: every element equal to the extreme receives the gradient.
        from .elementwise import equal, multiply
        (a,) = ctx.saved
        ob = _expand_back(ctx.out, a.shape, ctx.axes, ctx.keepdims)
        gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
        return (multiply(gb, equal(a, ob)),)

    op = register(kind, fwd, bwd)

    def fn(a, axis=None, out=None, keepdims=False):
        a = _as_array(a)
        axes = normalize_axes(axis, a.ndim)
        if a.size == 0 and _b.any(a.shape[i] == 0 for i in axes):
            raise MXNetError(f"zero-size array to reduction operation {kind} which has no "
                             "identity")
        return _out(invoke(op, [a], axes=axes, keepdims=keepdims), out)

    fn.__name__ = kind
    return fn


max = _extreme("max")  # noqa: A001
min = _extreme("min")  # noqa: A001
amax, amin = max, min


def all(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _as_array(a)
    return _out(reduce_raw("all", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)


def any(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _as_array(a)
    return _out(reduce_raw("any", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)
