"""one_hot, dropout (with ``bernoulli``), and layer and batch normalisation.
"""
import math
import numbers

from ... import dtypes as dt
from ...autograd import graph as _state
from ...base import DTypeError, ShapeError
from ...ndarray import ndarray
from .. import launch
from ..args import as_float, as_int
from ..core import arange, assign, same_device, zeros_like
from ..elementwise import add, less, multiply, sqrt, square, subtract, true_divide, where
from ..reduce import AxisError, normalize_axes, normalize_axis, reduce_raw
from ..reduce import mean as _mean
from ..reduce import sum as _sum
from ..registry import invoke, register
from ..shape import reshape
from .activations import sigmoid
from .common import (ParameterError, _arr, _grad_dtype, _map, _recording,
                     _scalar)


# --- one_hot -----------------------------------------------------------------------------------
def one_hot(data, depth=None, on_value=1.0, off_value=0.0, dtype="float32"):
    """An array of shape data.shape + (depth,): ``on_value`` at each index, ``off_value``
    elsewhere; indices outside [0, depth) give a row of ``off_value`` (as MXNet)."""
    idx = _arr(data, "indices")
    if depth is None:
        raise ParameterError("one_hot: depth is required")
    depth = as_int(depth, "depth", "one_hot", truncate=True)
    if depth < 0:
        raise ParameterError(f"one_hot: depth must be non-negative, got {depth}")
    dtype = dt.as_dtype(dtype)
    if idx.dtype == dt.bool_ or idx.dtype.kind == "c":
        raise DTypeError(f"one_hot: indices must be integers or floats, not {idx.dtype}")
    shape = idx.shape + (depth,)
    view = idx._view(shape, tuple(idx._strides) + (0,), idx._offset)
    # the flat output index's last coordinate is gid % depth (the output is C-contiguous)
    expr = "((long)v0 == gid % v1) ? v2 : v3"
    dt.check_device(dtype, idx.device)
    out = ndarray._empty(shape, dtype, idx.device)
    if out.size == 0:
        return out
    sv = [_scalar(on_value, dtype) if dtype != dt.bool_ else bool(on_value),
          _scalar(off_value, dtype) if dtype != dt.bool_ else bool(off_value)]
    comp = dtype if dtype != dt.float16 else dt.float32
    launch.elementwise("one_hot", out, [view, depth] + sv, expr,
                       [idx.dtype, dt.int64, comp, comp])
    return out


# --- dropout -----------------------------------------------------------------------------------
def _scaled_mul_fwd(ctx, x, mask, scale):
    ctx.save(mask)
    ctx.scale = scale
    compute = x.dtype
    return _map("dropout", "v0 * v1 * v2", [x, mask, scale], x.dtype, compute, shape=x.shape)


def _scaled_mul_bwd(ctx, g):
    (mask,) = ctx.saved
    return (_scaled_mul(g, mask, ctx.scale), None)


_scaled_mul_op = register("dropout", _scaled_mul_fwd, _scaled_mul_bwd)


def _scaled_mul(x, mask, scale):
    return invoke(_scaled_mul_op, [x, mask], scale=scale)


def dropout(data, p=0.5, mode="training", axes=(), cudnn_off=True, **kwargs):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Active while ``autograd.is_training()`` (or always with ``mode='always'``); otherwise the
    input is returned unchanged. ``axes`` share one mask value along those axes (variational
    dropout). The backward pass reuses the forward's mask.
    """
    x = _arr(data)
    p = as_float(p, "p", "dropout")
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"dropout: p must be in [0, 1], got {p}")
    if mode not in ("training", "always"):
        raise ParameterError(f"dropout: mode must be 'training' or 'always', got {mode!r}")
    if x.dtype.kind != "f":
        raise DTypeError(f"dropout: data must be a float array, got {x.dtype}")
    axes = normalize_axes(axes if axes is not None else (), x.ndim, "axes") if axes else ()
    if (mode == "training" and not _state.is_training()) or p == 0.0:
        return x
    mshape = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    from ..random import draw
    mask = draw("bernoulli", mshape, x.dtype, 1.0 - p, 0.0, x.device)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _scaled_mul(x, mask, scale)


def bernoulli(prob=None, logit=None, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples of 1 with probability ``prob`` (or sigmoid(``logit``)), else 0; float32."""
    from ..random import draw
    if (prob is None) == (logit is None):
        raise ParameterError("bernoulli: give exactly one of prob and logit")
    if isinstance(prob, ndarray) or isinstance(logit, ndarray):
        p = prob if prob is not None else sigmoid(logit)
        if prob is not None and p.size:
            # checked as MXNet checks them, on the host: the draw waits for the probabilities
            bad = _map("bad_prob", "!(v0 >= 0 && v0 <= 1)", [p], dt.bool_, p.dtype)
            if reduce_raw("any", reshape(bad, (-1,)), (0,), dt.bool_).item():
                raise ParameterError("bernoulli: prob must be in [0, 1] (an element of the "
                                     "array is not, or is NaN)")
        shape = p.shape if size is None else tuple(
            (size,) if isinstance(size, numbers.Integral) else size)
        u = draw("uniform", shape, dt.float32, 0.0, 1.0, p.device)
        res = less(u, p).astype(dt.as_dtype(dtype) or dt.float32)
    else:
        pv = float(prob) if prob is not None else 1.0 / (1.0 + math.exp(-float(logit)))
        if not 0.0 <= pv <= 1.0:
            raise ParameterError(f"bernoulli: prob must be in [0, 1], got {pv}")
        res = draw("bernoulli", size, dt.as_dtype(dtype) or dt.float32, pv, 0.0, device or ctx)
    if out is not None:
        return assign(out, res)
    return res


# --- normalisation -----------------------------------------------------------------------------
def _param_view(p, ndim, axis):
    """``p`` (one value per channel) viewed to broadcast along ``axis`` of an ndim array."""
    return reshape(p, tuple(p.shape[0] if d == axis else 1 for d in range(ndim)))


def _moments(x, axes, eps):
    """(x - mean, mean, rstd, sum of squares) over ``axes`` (keepdims), in float32 or float64;
    not recorded."""
    acc = dt.float64 if x.dtype == dt.float64 else dt.float32
    K = 1
    for a in axes:
        K *= x.shape[a]
    mu = reduce_raw("mean", x, axes, acc, keepdims=True)
    xc = _map("center", "v0 - v1", [x, mu], acc, acc)
    ss = reduce_raw("sumsq", xc, axes, acc, keepdims=True)
    rstd = _map("rstd", "(T)1 / sqrt(v0 / (T)v1 + v2)", [ss, K, float(eps)], acc, acc)
    return xc, mu, rstd, ss


def _norm_stats_recorded(x, axes, eps):
    """xhat and rstd from recorded ops (for gradients of gradients)."""
    mu = _mean(x, axis=axes, keepdims=True)
    xc = subtract(x, mu)
    var = _mean(square(xc), axis=axes, keepdims=True)
    rstd = true_divide(1.0, sqrt(add(var, eps)))
    return multiply(xc, rstd), rstd


def _norm_input_grad(g, gamma_b, xhat, rstd, axes):
    """The gradient of (x - mean) * rstd * gamma with batch statistics over ``axes``."""
    gy = multiply(g, gamma_b) if gamma_b is not None else g
    m1 = _mean(gy, axis=axes, keepdims=True)
    m2 = _mean(multiply(gy, xhat), axis=axes, keepdims=True)
    return multiply(rstd, subtract(subtract(gy, m1), multiply(xhat, m2)))


def _layer_norm_fwd(ctx, x, gamma, beta, axis, eps, sink):
    xc, mu, rstd, _ = _moments(x, (axis,), eps)
    comp = xc.dtype
    xhat = _map("xhat", "v0 * v1", [xc, rstd], comp, comp)
    out = _map("norm_scale_shift", "v0 * v1 + v2",
               [xhat, _param_view(gamma, x.ndim, axis), _param_view(beta, x.ndim, axis)],
               x.dtype, comp, shape=x.shape)
    ctx.save(x, gamma, beta)
    ctx.xhat, ctx.rstd = xhat, rstd
    ctx.axis, ctx.eps = axis, eps
    if sink is not None:
        sink["mean"], sink["rstd"] = mu, rstd
    return out


def _layer_norm_bwd(ctx, g):
    x, gamma, beta = ctx.saved
    ax = ctx.axis
    if _recording():
        xhat, rstd = _norm_stats_recorded(x, (ax,), ctx.eps)
    else:
        xhat, rstd = ctx.xhat, ctx.rstd
    others = tuple(d for d in range(x.ndim) if d != ax)
    gx = ggamma = gbeta = None
    if ctx.needs is None or ctx.needs[0]:
        gx = _grad_dtype(_norm_input_grad(g, _param_view(gamma, x.ndim, ax), xhat, rstd, (ax,)),
                         x)
    if ctx.needs is None or ctx.needs[1]:
        gxh = multiply(g, xhat)
        ggamma = _grad_dtype(_sum(gxh, axis=others) if others else gxh, gamma)
    if ctx.needs is None or ctx.needs[2]:
        gbeta = _grad_dtype(_sum(g, axis=others) if others else g, beta)
    return gx, ggamma, gbeta


_layer_norm_op = register("layer_norm", _layer_norm_fwd, _layer_norm_bwd)


def _check_param(p, name, n, x, op):
    p = _arr(p, name)
    same_device([x, p], op)
    if p.shape != (n,):
        raise ShapeError(f"{op}: {name} has shape {p.shape}, expected ({n},) (one value per "
                         "channel)")
    return p


def layer_norm(data, gamma, beta, axis=-1, eps=1e-5, output_mean_var=False):
    """(x - mean) / sqrt(var + eps) * gamma + beta, with mean and var over ``axis``."""
    x = _arr(data)
    if x.dtype.kind != "f":
        raise DTypeError(f"layer_norm: data must be a float array, got {x.dtype}")
    if x.ndim == 0:
        raise AxisError("layer_norm: data must have at least one dimension")
    ax = normalize_axis(axis, x.ndim)
    n = x.shape[ax]
    gamma = _check_param(gamma, "gamma", n, x, "layer_norm")
    beta = _check_param(beta, "beta", n, x, "layer_norm")
    if float(eps) < 0:
        raise ParameterError(f"layer_norm: eps must be non-negative, got {eps}")
    sink = {} if output_mean_var else None
    out = invoke(_layer_norm_op, [x, gamma, beta], axis=ax, eps=float(eps), sink=sink)
    if not output_mean_var:
        return out
    # MXNet returns the mean and the standard deviation sqrt(var + eps), keeping the axis
    std = _map("std", "(T)1 / v0", [sink["rstd"]], x.dtype, sink["rstd"].dtype)
    return out, sink["mean"].astype(x.dtype), std


def _batch_norm_fwd(ctx, x, gamma, beta, rmean, rvar, axis, eps, fix_gamma, batch, sink):
    red = tuple(d for d in range(x.ndim) if d != axis)
    comp = dt.float64 if x.dtype == dt.float64 else dt.float32
    if batch:
        xc, mu, rstd, ss = _moments(x, red, eps)
        xhat = _map("xhat", "v0 * v1", [xc, rstd], comp, comp)
        count = x.size // x.shape[axis]
        sink["mean"] = reshape(mu, (x.shape[axis],))
        sink["var"] = reshape(_map("var", "v0 / (T)v1", [ss, count], comp, comp),
                              (x.shape[axis],))
        ctx.save(x, gamma, None, None)    # the running statistics change after this forward
    else:
        rm = _param_view(rmean, x.ndim, axis)
        rv = _param_view(rvar, x.ndim, axis)
        rstd = _map("rstd", "(T)1 / sqrt(v0 + v1)", [rv, float(eps)], comp, comp)
        xhat = _map("xhat_running", "(v0 - v1) * v2", [x, rm, rstd], comp, comp)
        ctx.save(x, gamma, rmean, rvar)
    bb = _param_view(beta, x.ndim, axis)
    if fix_gamma:
        out = _map("norm_shift", "v0 + v1", [xhat, bb], x.dtype, comp)
    else:
        gb = _param_view(gamma, x.ndim, axis)
        out = _map("norm_scale_shift", "v0 * v1 + v2", [xhat, gb, bb], x.dtype, comp)
    ctx.xhat, ctx.rstd = xhat, rstd
    ctx.axis, ctx.eps, ctx.fix_gamma, ctx.batch, ctx.red = axis, eps, fix_gamma, batch, red
    return out


def _batch_norm_bwd(ctx, g):
    x, gamma, rmean, rvar = ctx.saved
    ax, red = ctx.axis, ctx.red
    needs = ctx.needs or (True,) * 5
    if _recording():
        if ctx.batch:
            xhat, rstd = _norm_stats_recorded(x, red, ctx.eps)
        else:
            rstd = true_divide(1.0, sqrt(add(_param_view(rvar, x.ndim, ax), ctx.eps)))
            xhat = multiply(subtract(x, _param_view(rmean, x.ndim, ax)), rstd)
    else:
        xhat, rstd = ctx.xhat, ctx.rstd
    gamma_b = None if ctx.fix_gamma else _param_view(gamma, x.ndim, ax)
    gx = ggamma = gbeta = None
    if needs[0]:
        if ctx.batch:
            gx = _norm_input_grad(g, gamma_b, xhat, rstd, red)
        else:
            gx = multiply(g, rstd if gamma_b is None else multiply(gamma_b, rstd))
        gx = _grad_dtype(gx, x)
    if needs[1]:
        if ctx.fix_gamma:
            ggamma = zeros_like(gamma)
        else:
            gxh = multiply(g, xhat)
            ggamma = _grad_dtype(_sum(gxh, axis=red) if red else gxh, gamma)
    if needs[2]:
        gbeta = _grad_dtype(_sum(g, axis=red) if red else g, gamma)
    return gx, ggamma, gbeta, None, None


_batch_norm_op = register("batch_norm", _batch_norm_fwd, _batch_norm_bwd)


def batch_norm(x, gamma, beta, running_mean, running_var, eps=1e-3, momentum=0.9,
               fix_gamma=True, use_global_stats=False, output_mean_var=False, axis=1,
               cudnn_off=False, min_calib_range=None, max_calib_range=None, **kwargs):
    """Batch normalisation over every axis but ``axis`` (the channels).

    In training (``autograd.is_training()``, unless ``use_global_stats``) the batch's mean and
    (biased) variance normalise, and ``running_mean``/``running_var`` are updated in place as
    ``momentum * running + (1 - momentum) * batch`` (not recorded). Otherwise the running
    statistics normalise. ``fix_gamma`` uses 1 for gamma (its gradient is then 0). With
    ``output_mean_var`` also returns the mean and variance used.
    """
    x = _arr(x, "x")
    if x.dtype.kind != "f":
        raise DTypeError(f"batch_norm: data must be a float array, got {x.dtype}")
    if x.ndim == 0:
        raise AxisError("batch_norm: data must have at least one dimension")
    ax = normalize_axis(axis, x.ndim)
    n = x.shape[ax]
    gamma = _check_param(gamma, "gamma", n, x, "batch_norm")
    beta = _check_param(beta, "beta", n, x, "batch_norm")
    running_mean = _check_param(running_mean, "running_mean", n, x, "batch_norm")
    running_var = _check_param(running_var, "running_var", n, x, "batch_norm")
    for p in (running_mean, running_var):
        if p.dtype.kind != "f":
            raise DTypeError(f"batch_norm: running statistics must be float arrays, got "
                             f"{p.dtype}")
    if float(eps) < 0:
        raise ParameterError(f"batch_norm: eps must be non-negative, got {eps}")
    m = float(momentum)
    if not 0.0 <= m <= 1.0:
        raise ParameterError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    batch = _state.is_training() and not use_global_stats
    if batch and x.size == 0:
        raise ShapeError("batch_norm: cannot compute batch statistics of an empty batch")
    sink = {}
    out = invoke(_batch_norm_op, [x, gamma, beta, running_mean, running_var], axis=ax,
                 eps=float(eps), fix_gamma=bool(fix_gamma), batch=batch, sink=sink)
    if batch:
        mean, var = sink["mean"], sink["var"]
        for run, new in ((running_mean, mean), (running_var, var)):
            upd = _map("running_update", "v0 * v2 + v1 * v3", [run, new, m, 1.0 - m], run.dtype,
                       run.dtype)
            assign(run, upd)
    else:
        mean, var = running_mean, running_var
    if not output_mean_var:
        return out
    return out, mean.astype(x.dtype), var.astype(x.dtype)


def sequence_mask(data, sequence_length=None, use_sequence_length=False, value=0.0, axis=0):
    """MXNet's SequenceMask: the steps of each sequence at or past its length set to ``value``.

    ``data`` has the time axis at ``axis`` (0: ``(T, B, ...)``, 1: ``(B, T, ...)``) and
    ``sequence_length`` one length per batch entry (floats are truncated, as MXNet). Without
    ``use_sequence_length`` the data is returned as it is. Differentiable in ``data``.
    """
    x = _arr(data)
    if not use_sequence_length:
        return x
    if axis not in (0, 1):
        raise ParameterError(f"sequence_mask: axis must be 0 or 1, got {axis}")
    if x.ndim < 2:
        raise ShapeError(f"sequence_mask: data must have a time and a batch axis, got shape "
                         f"{x.shape}")
    if sequence_length is None:
        raise ParameterError("sequence_mask: use_sequence_length=True needs sequence_length")
    lengths = _arr(sequence_length, "sequence_length")
    same_device([x, lengths], "sequence_mask")
    t, b = (x.shape[0], x.shape[1]) if axis == 0 else (x.shape[1], x.shape[0])
    if lengths.shape != (b,):
        raise ShapeError(f"sequence_mask: sequence_length must have shape ({b},) (one length "
                         f"per batch entry), got {lengths.shape}")
    steps = arange(t, dtype=lengths.dtype if lengths.dtype.kind == "f" else "int64",
                   device=x.device)
    if axis == 0:
        keep = less(reshape(steps, (t, 1)), reshape(lengths, (1, b)))
    else:
        keep = less(reshape(steps, (1, t)), reshape(lengths, (b, 1)))
    keep = reshape(keep, keep.shape + (1,) * (x.ndim - 2))
    return where(keep, x, value)
