"""Pooling and convolution (im2col + matmul, kernels of templates/pool.cl.mako and im2col.cl.mako),
fully connected layers and embeddings.
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...base import DTypeError, ShapeError
from ...codegen import render as R
from ...ndarray import ndarray
from .. import launch
from ..args import as_int
from ..core import copy_raw, same_device
from ..elementwise import add
from ..indexing import take
from ..registry import invoke, register
from ..shape import expand_dims, reshape, transpose
from .common import ParameterError, _arr


# --- pooling -----------------------------------------------------------------------------------
def _tuple(v, n, name, op):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    try:
        t = tuple(int(a) for a in v)
    except TypeError:
        raise ParameterError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                             f"{v!r}") from None
    if len(t) != n:
        raise ParameterError(f"{op}: {name} must have {n} values for {n}-D data, got {t}")
    return t


def _spatial_args(op, nsp, kernel, stride, pad, dilate=None):
    kernel = _tuple(kernel, nsp, "kernel", op)
    stride = _tuple(stride, nsp, "stride", op) if stride not in (None, ()) else (1,) * nsp
    pad = _tuple(pad, nsp, "pad", op) if pad not in (None, ()) else (0,) * nsp
    dilate = _tuple(dilate, nsp, "dilate", op) if dilate not in (None, ()) else (1,) * nsp
    if any(k <= 0 for k in kernel):
        raise ParameterError(f"{op}: kernel sizes must be positive, got {kernel}")
    if any(s <= 0 for s in stride):
        raise ParameterError(f"{op}: strides must be positive, got {stride}")
    if any(p < 0 for p in pad):
        raise ParameterError(f"{op}: padding must be non-negative, got {pad}")
    if any(d <= 0 for d in dilate):
        raise ParameterError(f"{op}: dilations must be positive, got {dilate}")
    return kernel, stride, pad, dilate


def _as_2d(t, fill):
    """A 1-D spatial parameter as 2-D (height 1); 2-D unchanged."""
    return t if len(t) == 2 else (fill,) + t


def _pool_kernel(dev, kind, src_dtype, dst_dtype, acc):
    key = ("pool", kind, src_dtype, dst_dtype, acc)

    def make():
        src = R.render("pool.cl.mako", prelude=R.prelude(dt.float64 in (src_dtype, dst_dtype)),
                       name=f"pool_{kind}", kind=kind, acc=dt.compute_ctype(acc),
                       src=R.Operand(True, src_dtype, acc), dst=R.Operand(True, dst_dtype, acc))
        arg_dtypes = [None, _np.int64] + [_np.int64] * 4
        if kind in ("max", "max_bwd", "gather"):
            arg_dtypes.append(None)
        arg_dtypes += [None] + [_np.int64] * 11 + [_np.int32, _np.int64]
        return launch.Kernel(dev, src, f"pool_{kind}", arg_dtypes)

    return launch.get_kernel(dev, key, make)


def _pool_launch(kind, src, argmax, out, geo):
    """Launch a pool kernel; ``geo`` = (C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, include_pad)."""
    if out.size == 0:
        return out
    dev = src.device
    acc = dt.float64 if dt.float64 in (src.dtype, out.dtype) else dt.float32
    k = _pool_kernel(dev, kind, src.dtype, out.dtype, acc)
    args = [src._storage.buffer, src._offset] + list(src._strides)
    if argmax is not None:
        args.append(argmax._storage.buffer)
    args.append(out._storage.buffer)
    args += list(geo[:11]) + [int(geo[11]), out.size]
    k(dev, out.size, *args)
    return out


def _pool_fwd(ctx, x, kind, geo):
    N = x.shape[0]
    C, H, W, OH, OW = geo[:5]
    out = ndarray._empty((N, C, OH, OW), x.dtype, x.device)
    argmax = None
    if kind == "max":
        argmax = ndarray._empty((N, C, OH, OW), dt.int32, x.device)
    _pool_launch(kind, x, argmax, out, geo)
    ctx.save(argmax)
    ctx.kind, ctx.geo, ctx.xshape = kind, geo, x.shape
    return out


def _pool_bwd(ctx, g):
    (argmax,) = ctx.saved
    if ctx.kind == "max":
        return (invoke(_pool_max_t_op, [g, argmax], geo=ctx.geo, xshape=ctx.xshape),)
    return (invoke(_pool_lin_t_op, [g], kind=ctx.kind, geo=ctx.geo, xshape=ctx.xshape),)


def _pool_max_t_fwd(ctx, g, argmax, geo, xshape):
    out = ndarray._empty(xshape, g.dtype, g.device)
    _pool_launch("max_bwd", g, argmax, out, geo)
    ctx.save(argmax)
    ctx.geo = geo
    return out


def _pool_gather_fwd(ctx, x, argmax, geo, xshape):
    out = ndarray._empty(argmax.shape, x.dtype, x.device)
    _pool_launch("gather", x, argmax, out, geo)
    ctx.save(argmax)
    ctx.geo, ctx.xshape = geo, xshape
    return out


def _pool_lin_t_fwd(ctx, g, kind, geo, xshape):
    out = ndarray._empty(xshape, g.dtype, g.device)
    _pool_launch(kind + "_bwd", g, None, out, geo)
    ctx.kind, ctx.geo = kind, geo
    return out


_pool_op = register("pooling", _pool_fwd, _pool_bwd)
# the adjoint pairs: max-pool's scatter <-> gather at the argmax, avg/sum pool <-> its transpose
_pool_max_t_op = register(
    "pooling_max_backward", _pool_max_t_fwd,
    lambda ctx, gg: (invoke(_pool_gather_op, [gg, ctx.saved[0]], geo=ctx.geo,
                            xshape=gg.shape), None))
_pool_gather_op = register(
    "pooling_gather", _pool_gather_fwd,
    lambda ctx, gg: (invoke(_pool_max_t_op, [gg, ctx.saved[0]], geo=ctx.geo,
                            xshape=ctx.xshape), None))
_pool_lin_t_op = register(
    "pooling_backward", _pool_lin_t_fwd,
    lambda ctx, gg: (invoke(_pool_op, [gg], kind=ctx.kind, geo=ctx.geo),))


def _out_size(n, k, s, p, d, ceil, op):
    span = n + 2 * p - (d * (k - 1) + 1)
    if span < 0:
        raise ShapeError(f"{op}: kernel (extent {d * (k - 1) + 1}) is larger than the padded "
                         f"input ({n + 2 * p})")
    return (span + s - 1) // s + 1 if ceil else span // s + 1


def pooling(data, kernel=None, stride=None, pad=None, pool_type="max",
            pooling_convention="valid", global_pool=False, cudnn_off=False, p_value=None,
            count_include_pad=None, layout=None, **kwargs):
    """Max, average or sum pooling over the last 1 or 2 axes of (N, C, [H,] W) data.

    ``pooling_convention`` 'valid' floors the output size, 'full' ceils it; ``global_pool``
    pools each whole plane. Average pooling divides by the window size including padding unless
    ``count_include_pad=False``. Gradients are gathered per input element (deterministic).
    """
    x = _arr(data)
    if x.ndim not in (3, 4):
        raise ShapeError(f"pooling: data must be 3-D (N, C, W) or 4-D (N, C, H, W), got shape "
                         f"{x.shape}")
    if layout not in (None, "NCW", "NCHW"):
        raise ParameterError(f"pooling: layout {layout!r} is not supported (use NCW or NCHW)")
    if pool_type not in ("max", "avg", "sum"):
        raise ParameterError(f"pooling: pool_type {pool_type!r} is not supported (use max, avg "
                             "or sum)")
    if pooling_convention not in ("valid", "full"):
        raise ParameterError(f"pooling: pooling_convention must be 'valid' or 'full', got "
                             f"{pooling_convention!r}")
    if x.dtype.kind != "f":
        raise DTypeError(f"pooling: data must be a float array, got {x.dtype}")
    nsp = x.ndim - 2
    if global_pool:
        kernel, stride, pad = x.shape[2:], (1,) * nsp, (0,) * nsp
    elif kernel is None:
        raise ParameterError("pooling: kernel is required unless global_pool=True")
    kernel, stride, pad, _ = _spatial_args("pooling", nsp, kernel, stride, pad)
    ceil = pooling_convention == "full" and not global_pool
    outs = tuple(_out_size(n, k, s, p, 1, ceil, "pooling")
                 for n, k, s, p in zip(x.shape[2:], kernel, stride, pad))
    include_pad = True if count_include_pad is None else bool(count_include_pad)
    xr = x if nsp == 2 else expand_dims(x, 2)
    K, S, P, O = _as_2d(kernel, 1), _as_2d(stride, 1), _as_2d(pad, 0), _as_2d(outs, 1)
    geo = (x.shape[1], xr.shape[2], xr.shape[3], O[0], O[1], K[0], K[1], S[0], S[1], P[0], P[1],
           include_pad)
    out = invoke(_pool_op, [xr], kind=pool_type, geo=geo)
    return out if nsp == 2 else reshape(out, out.shape[:2] + (out.shape[3],))


# --- convolution (im2col + matmul) -------------------------------------------------------------
def _im2col_kernel(dev, kind, src_dtype, dst_dtype):
    key = ("im2col", kind, src_dtype, dst_dtype)

    def make():
        src = R.render("im2col.cl.mako", prelude=R.prelude(dt.float64 in (src_dtype, dst_dtype)),
                       name=kind, kind=kind, src=R.Operand(True, src_dtype, dst_dtype),
                       dst=R.Operand(True, dst_dtype))
        arg_dtypes = [None, _np.int64] + [_np.int64] * 4 + [None] + [_np.int64] * 14
        return launch.Kernel(dev, src, kind, arg_dtypes)

    return launch.get_kernel(dev, key, make)


def _im2col_launch(kind, src, out, geo):
    """``geo`` = (C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW)."""
    if out.size == 0:
        return out
    dev = src.device
    strides = list(src._strides) + [0] * (4 - src.ndim)
    k = _im2col_kernel(dev, kind, src.dtype, out.dtype)
    k(dev, out.size, src._storage.buffer, src._offset, *strides, out._storage.buffer, *geo,
      out.size)
    return out


def _im2col_fwd(ctx, x, geo):
    C, H, W, OH, OW, KH, KW = geo[:7]
    out = ndarray._empty((x.shape[0], C * KH * KW, OH * OW), x.dtype, x.device)
    ctx.geo, ctx.xshape = geo, x.shape
    return _im2col_launch("im2col", x, out, geo)


def _col2im_fwd(ctx, cols, geo, xshape):
    out = ndarray._empty(xshape, cols.dtype, cols.device)
    ctx.geo = geo
    return _im2col_launch("col2im", cols, out, geo)


_im2col_op = register("im2col", _im2col_fwd,
                      lambda ctx, g: (invoke(_col2im_op, [g], geo=ctx.geo, xshape=ctx.xshape),))
_col2im_op = register("col2im", _col2im_fwd,
                      lambda ctx, g: (invoke(_im2col_op, [g], geo=ctx.geo),))


def convolution(data=None, weight=None, bias=None, kernel=None, stride=None, dilate=None,
                pad=None, num_filter=None, num_group=1, workspace=1024, no_bias=False,
                cudnn_tune=None, cudnn_off=False, layout=None, **kwargs):
    """1-D or 2-D convolution (cross-correlation, as MXNet) of (N, C, [H,] W) data with
    weight (num_filter, C / num_group, [KH,] KW), via im2col and matmul."""
    from ..linalg import matmul
    x = _arr(data)
    w = _arr(weight, "weight")
    same_device([x, w], "convolution")
    if x.ndim not in (3, 4):
        raise ShapeError(f"convolution: data must be 3-D (N, C, W) or 4-D (N, C, H, W), got "
                         f"shape {x.shape}")
    if layout not in (None, "NCW", "NCHW"):
        raise ParameterError(f"convolution: layout {layout!r} is not supported (use NCW or "
                             "NCHW)")
    if x.dtype.kind != "f" or w.dtype.kind != "f":
        raise DTypeError(f"convolution: data and weight must be float arrays, got {x.dtype} and "
                         f"{w.dtype}")
    nsp = x.ndim - 2
    if w.ndim != x.ndim:
        raise ShapeError(f"convolution: weight must be {x.ndim}-D for {x.ndim}-D data, got shape "
                         f"{w.shape}")
    G = int(num_group)
    N, C = x.shape[:2]
    F = w.shape[0]
    if G <= 0 or C % G or F % G:
        raise ParameterError(f"convolution: num_group {G} must divide the channels ({C}) and "
                             f"the filters ({F})")
    if w.shape[1] != C // G:
        raise ShapeError(f"convolution: weight has {w.shape[1]} input channels per group, data "
                         f"has {C} channels in {G} group(s)")
    if num_filter is not None and int(num_filter) != F:
        raise ShapeError(f"convolution: num_filter {num_filter} does not match weight's "
                         f"{F} filters")
    if kernel is not None and _tuple(kernel, nsp, "kernel", "convolution") != w.shape[2:]:
        raise ShapeError(f"convolution: kernel {kernel} does not match weight's spatial shape "
                         f"{w.shape[2:]}")
    kernel, stride, pad, dilate = _spatial_args("convolution", nsp, w.shape[2:], stride, pad,
                                                dilate)
    outs = tuple(_out_size(n, k, s, p, d, False, "convolution")
                 for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilate))
    xr = x if nsp == 2 else expand_dims(x, 2)
    wr = w if nsp == 2 else expand_dims(w, 2)
    K, S, P, D, O = (_as_2d(kernel, 1), _as_2d(stride, 1), _as_2d(pad, 0), _as_2d(dilate, 1),
                     _as_2d(outs, 1))
    geo = (C, xr.shape[2], xr.shape[3], O[0], O[1], K[0], K[1], S[0], S[1], P[0], P[1], D[0],
           D[1])
    cols = invoke(_im2col_op, [xr], geo=geo)                 # (N, C*KH*KW, L)
    L = O[0] * O[1]
    kk = (C // G) * K[0] * K[1]
    if G == 1:
        out = matmul(reshape(wr, (F, kk)), cols)              # (N, F, L)
    else:
        out = matmul(reshape(wr, (G, F // G, kk)), reshape(cols, (N, G, kk, L)))
    out = reshape(out, (N, F) + outs)
    if bias is not None and not no_bias:
        b = _arr(bias, "bias")
        same_device([x, b], "convolution")
        if b.shape != (F,):
            raise ShapeError(f"convolution: bias has shape {b.shape}, expected ({F},)")
        out = add(out, reshape(b, (F,) + (1,) * nsp))
    return out


# --- fully connected and embedding -------------------------------------------------------------
def fully_connected(x, weight, bias=None, num_hidden=None, no_bias=False, flatten=True,
                    **kwargs):
    """x @ weight.T + bias, with weight (num_hidden, in_units). ``flatten`` folds every axis
    after the first into the input units; otherwise the last axis is the input units."""
    from ..linalg import matmul
    x = _arr(x, "x")
    w = _arr(weight, "weight")
    same_device([x, w], "fully_connected")
    if w.ndim != 2:
        raise ShapeError(f"fully_connected: weight must be 2-D (num_hidden, in_units), got "
                         f"shape {w.shape}")
    if num_hidden is not None and \
            as_int(num_hidden, "num_hidden", "fully_connected", True) != w.shape[0]:
        raise ShapeError(f"fully_connected: num_hidden {num_hidden} does not match weight's "
                         f"{w.shape[0]} rows")
    if x.ndim == 0:
        raise ShapeError("fully_connected: data must have at least one dimension")
    if flatten and x.ndim != 2:
        rest = 1
        for n in x.shape[1:]:
            rest *= n
        x = reshape(x, (x.shape[0], rest))
    if x.shape[-1] != w.shape[1]:
        raise ShapeError(f"fully_connected: data has {x.shape[-1]} input units, weight expects "
                         f"{w.shape[1]}")
    out = matmul(x, transpose(w))
    if bias is not None and not no_bias:
        b = _arr(bias, "bias")
        same_device([x, b], "fully_connected")
        if b.shape != (w.shape[0],):
            raise ShapeError(f"fully_connected: bias has shape {b.shape}, expected "
                             f"({w.shape[0]},)")
        out = add(out, b)
    return out


def embedding(data, weight, input_dim=None, output_dim=None, dtype="float32",
              sparse_grad=False, **kwargs):
    """Rows of ``weight`` (input_dim, output_dim) at the indices ``data`` (clipped to the valid
    range, as MXNet): shape data.shape + (output_dim,). The weight's gradient sums the rows'
    gradients per index deterministically (sorted keys, no atomics)."""
    idx = _arr(data)
    w = _arr(weight, "weight")
    same_device([idx, w], "embedding")
    if w.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (input_dim, output_dim), got shape "
                         f"{w.shape}")
    if input_dim is not None and as_int(input_dim, "input_dim", "embedding", True) != w.shape[0]:
        raise ShapeError(f"embedding: input_dim {input_dim} does not match weight's "
                         f"{w.shape[0]} rows")
    if output_dim is not None and \
            as_int(output_dim, "output_dim", "embedding", True) != w.shape[1]:
        raise ShapeError(f"embedding: output_dim {output_dim} does not match weight's "
                         f"{w.shape[1]} columns")
    if idx.dtype == dt.bool_:
        raise DTypeError("embedding: indices must be integers or floats, not bool")
    if sparse_grad:
        raise ParameterError("embedding: sparse_grad=True is not supported")
    if w.shape[0] == 0 and idx.size:
        raise ShapeError("embedding: cannot look up indices in an empty weight")
    if idx.dtype.kind == "f":
        idx = copy_raw(idx, dt.int64)      # MXNet feeds float indices; they truncate
    # a gather whose vjp is the deterministic sorted-key scatter-add of np.take
    return take(w, idx, axis=0, mode="clip")
