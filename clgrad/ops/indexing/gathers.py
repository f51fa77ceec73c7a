"""Gathers and their gradients: ``take`` (consecutive axes), ``take_along_axis`` (an index per
position) and ``pick``, each with a deterministic scatter-add gradient.
"""

import numpy as _np

from ... import dtypes as dt
from ...base import ShapeError
from ...ndarray import ndarray
from ...ndarray.ndarray import c_strides
from .. import launch
from ..core import (assign, broadcast_shapes, check_out, copy_raw, fill, from_host, kept,
                    same_device)
from ..axes import AxisError, normalize_axis
from ..registry import invoke, register
from .kernels import (_as_array, _bcast_view, _flat, _index_launch, _linear, _prod,
                      _segment_launch, _sorted_keys, prep_index)


# --- gathers along consecutive axes ("take" pattern) -------------------------------------------
def take_raw(src, idxs, axis):
    """src[..., idxs[0], ..., idxs[K-1], ...] with the K indexed axes starting at ``axis``.

    The index arrays broadcast to a shape B that replaces those axes: pre + B + post.
    """
    K = len(idxs)
    B = broadcast_shapes(*[i.shape for i in idxs])
    pre, post = src.shape[:axis], src.shape[axis + K:]
    if K == 1:
        idx, ax = idxs[0], src._strides[axis]
    else:
        idx, ax = _linear(idxs, src._strides[axis:axis + K], B), 1
    shape = pre + tuple(B) + post
    out = ndarray._empty(shape, src.dtype, src.device)
    ist = [0] * len(pre) + launch.broadcast_strides(idx, B) + [0] * len(post)
    sst = list(src._strides[:axis]) + [0] * len(B) + list(src._strides[axis + K:])
    _index_launch("gather", shape, out, 0, c_strides(shape), src, src._offset, sst, idx, ist,
                  ax)
    return out


def _take_grad_raw(g, idxs, axis, shape):
    """The vjp of ``take_raw``: zeros of ``shape`` plus g summed into the indexed places."""
    K = len(idxs)
    out = ndarray._empty(shape, g.dtype, g.device)
    fill(out, 0)
    B = broadcast_shapes(*[i.shape for i in idxs])
    J = _prod(B)
    pre, post = tuple(shape[:axis]), tuple(shape[axis + K:])
    if J == 0 or out.size == 0:
        return out
    cs = c_strides(shape)
    if K == 1:
        keys, dst_ax = idxs[0], cs[axis]
    else:
        keys, dst_ax = _linear(idxs, cs[axis:axis + K], B), 1
    skeys, perm = _sorted_keys(_flat(keys))
    from ..shape import reshape_raw
    gv = reshape_raw(g, pre + (J,) + post)
    _segment_launch("sum", out, 0, dst_ax, gv, gv._offset, gv._strides[axis], skeys, perm,
                    pre, cs[:axis], gv._strides[:axis], post, cs[axis + K:],
                    gv._strides[axis + 1:])
    return out


def _take_fwd(ctx, src, *idxs, axis):
    ctx.save(*idxs)
    ctx.axis, ctx.shape = axis, src.shape
    return take_raw(src, idxs, axis)


def _take_bwd(ctx, g):
    idxs = ctx.saved
    return (invoke(_take_grad_op, [g, *idxs], axis=ctx.axis, shape=ctx.shape),) + \
        (None,) * len(idxs)


def _take_grad_fwd(ctx, g, *idxs, axis, shape):
    ctx.save(*idxs)
    ctx.axis = axis
    return _take_grad_raw(g, idxs, axis, shape)


def _take_grad_bwd(ctx, gg):
    idxs = ctx.saved
    return (invoke(_take_op, [gg, *idxs], axis=ctx.axis),) + (None,) * len(idxs)


_take_op = register("take", _take_fwd, _take_bwd)
_take_grad_op = register("take_backward", _take_grad_fwd, _take_grad_bwd)


def gather_raw(src, idx):
    """``src[idx]`` for a 1-D ``src`` and a normalised int64 ``idx`` (not recorded)."""
    return take_raw(src, [idx], 0)


# --- gathers with an index per position ("along" pattern) ----------------------------------------
def _along_raw(src, idx, axis):
    """out[c] = src[c with c[axis] := idx[c]]; idx has src's rank and broadcasts to the output."""
    shape = list(src.shape)
    shape[axis] = idx.shape[axis]
    shape = tuple(shape)
    out = ndarray._empty(shape, src.dtype, src.device)
    sst = list(src._strides)
    ax, sst[axis] = sst[axis], 0
    _index_launch("gather", shape, out, 0, c_strides(shape), src, src._offset, sst, idx,
                  launch.broadcast_strides(idx, shape), ax)
    return out


def put_along_axis_raw(dst, idx, values, axis):
    """dst[c with c[axis] := idx[c]] = values[c] in place (indices distinct along the axis)."""
    shape = tuple(idx.shape)
    dst._storage.prepare_write()
    if isinstance(values, ndarray):
        if values.dtype != dst.dtype:
            values = copy_raw(values, dst.dtype)
    else:
        values = from_host(_np.array(values, dtype=dst.dtype), dst.device)
    dst_st = list(dst._strides)
    ax, dst_st[axis] = dst_st[axis], 0
    _index_launch("scatter", shape, dst, dst._offset, dst_st, values, values._offset,
                  launch.broadcast_strides(values, shape), idx,
                  launch.broadcast_strides(idx, shape), ax)
    dst._storage.version += 1
    return dst


def _along_grad_raw(g, idx, axis, shape, unique):
    """The vjp of ``_along_raw``: zeros of ``shape`` with g added at the gathered places."""
    out = ndarray._empty(shape, g.dtype, g.device)
    if unique and g.shape[axis] == 1 and g.dtype.kind == "f" and out.size and g.size:
        # one place per fibre (pick): out = (position along the axis == index) ? g : 0, one
        # elementwise launch (no fill, no scatter), which hybridize can fuse with its neighbours
        pos = _positions(g.device, shape[axis], idx.dtype)
        along = [0] * len(shape)
        along[axis] = 1
        ib = _bcast_view(idx, g.shape)
        views = [pos._view(shape, tuple(along), 0)]
        for x in (ib, g):
            st = list(launch.broadcast_strides(x, x.shape))
            st[axis] = 0
            views.append(x._view(shape, tuple(st), x._offset))
        comp = dt.float32 if g.dtype == dt.float16 else g.dtype
        zero = f"({dt.compute_ctype(comp)})0"
        launch.elementwise("pick_grad", out, views, f"(v0 == v1) ? v2 : {zero}",
                           [idx.dtype, idx.dtype, comp])
        return out
    fill(out, 0)
    if g.size == 0 or out.size == 0:
        return out
    if unique:      # no two positions of a fibre gather the same element: a plain scatter
        return put_along_axis_raw(out, _bcast_view(idx, g.shape), g, axis)
    cs = c_strides(shape)
    pos_st = list(cs)
    ax, pos_st[axis] = pos_st[axis], 0
    pos = ndarray._empty(g.shape, dt.int64, g.device)
    _index_launch("offsets", g.shape, pos, 0, c_strides(g.shape), idx, 0, pos_st, idx,
                  launch.broadcast_strides(idx, g.shape), ax)
    skeys, perm = _sorted_keys(pos.reshape(-1))
    gf = _flat(g)
    _segment_launch("sum", out, 0, 1, gf, gf._offset, gf._strides[0], skeys, perm)
    return out


def _positions(device, n, dtype):
    """0, 1, ..., n - 1, uploaded once per device, length and dtype (``core.kept``)."""
    return kept(("positions", device, n, dtype),
                lambda: from_host(_np.arange(n, dtype=dtype), device))


def _along_fwd(ctx, src, idx, axis, unique):
    ctx.save(idx)
    ctx.axis, ctx.shape, ctx.unique = axis, src.shape, unique
    return _along_raw(src, idx, axis)


def _along_bwd(ctx, g):
    (idx,) = ctx.saved
    return (invoke(_along_grad_op, [g, idx], axis=ctx.axis, shape=ctx.shape,
                   unique=ctx.unique), None)


def _along_grad_fwd(ctx, g, idx, axis, shape, unique):
    ctx.save(idx)
    ctx.axis, ctx.unique = axis, unique
    return _along_grad_raw(g, idx, axis, shape, unique)


def _along_grad_bwd(ctx, gg):
    (idx,) = ctx.saved
    return (invoke(_along_op, [gg, idx], axis=ctx.axis, unique=ctx.unique), None)


_along_op = register("take_along_axis", _along_fwd, _along_bwd)
_along_grad_op = register("take_along_axis_backward", _along_grad_fwd, _along_grad_bwd)


def put_along_axis_grad(g, idx, axis, shape):
    """Zeros of ``shape`` with ``g`` scattered through the distinct indices ``idx`` (recorded)."""
    return invoke(_along_grad_op, [g, idx], axis=axis, shape=tuple(shape), unique=True)


# --- public gathers ----------------------------------------------------------------------------
def take(a, indices, axis=None, mode="raise", out=None):
    """Elements of ``a`` at ``indices`` along ``axis`` (None: of the flattened array).

    ``mode``: 'raise' (out-of-bounds indices raise IndexError), 'clip' or 'wrap'.
    """
    from ..shape import ravel
    a = _as_array(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    else:
        if a.ndim == 0:
            raise AxisError("take: axis given for a 0-d array")
        axis = normalize_axis(axis, a.ndim)
    if isinstance(indices, ndarray):
        same_device([a, indices], "take")
    if out is not None:     # validated before the index check enqueues anything
        ishape = indices.shape if isinstance(indices, ndarray) else _np.shape(indices)
        check_out("take", out, a.shape[:axis] + tuple(ishape) + a.shape[axis + 1:], a.dtype,
                  a.device)
    idx = prep_index(indices, a.shape[axis], mode, a.device, axis)
    res = invoke(_take_op, [a, idx], axis=axis)
    if out is not None:
        return assign(out, res)
    return res


def take_along_axis(arr, indices, axis):
    """out[..., j, ...] = arr[..., indices[..., j, ...], ...] along ``axis`` (None: flattened)."""
    from ..shape import broadcast_to, ravel
    arr = _as_array(arr)
    try:
        ind_ndim = indices.ndim if isinstance(indices, ndarray) else _np.ndim(indices)
    except ValueError as e:     # ragged nesting
        from ...base import ArrayConversionError
        raise ArrayConversionError(f"take_along_axis: indices cannot be converted to an "
                                   f"array: {e}") from None
    if axis is None:
        if ind_ndim != 1:
            raise ShapeError("take_along_axis: when axis=None, indices must have a single "
                             "dimension")
        arr = ravel(arr)
        axis = 0
    if ind_ndim != arr.ndim:
        raise ShapeError(f"take_along_axis: indices and arr must have the same number of "
                         f"dimensions ({ind_ndim} != {arr.ndim})")
    axis = normalize_axis(axis, arr.ndim)
    if isinstance(indices, ndarray):
        same_device([arr, indices], "take_along_axis")
    idx = prep_index(indices, arr.shape[axis], "raise", arr.device, axis)
    a1 = tuple(1 if d == axis else n for d, n in enumerate(arr.shape))
    i1 = tuple(1 if d == axis else n for d, n in enumerate(idx.shape))
    common = list(broadcast_shapes(a1, i1))
    src_shape = tuple(arr.shape[axis] if d == axis else n for d, n in enumerate(common))
    idx_shape = tuple(idx.shape[axis] if d == axis else n for d, n in enumerate(common))
    src = broadcast_to(arr, src_shape)
    return invoke(_along_op, [src, _bcast_view(idx, idx_shape)], axis=axis, unique=False)


def pick(data, index, axis=-1, keepdims=False, mode="clip"):
    """MXNet's ``npx.pick``: ``data[..., index[...], ...]`` along ``axis``, one per position.

    ``index`` has ``data``'s shape without ``axis`` (or with it of length 1); float indices are
    truncated. ``mode``: 'clip' (default) or 'wrap' ('raise' checks the bounds).
    """
    from ..shape import broadcast_to, reshape
    data = _as_array(data)
    if data.ndim == 0:
        raise AxisError("pick: data must have at least one dimension")
    axis = normalize_axis(axis, data.ndim)
    if isinstance(index, ndarray):
        same_device([data, index], "pick")
    idx = prep_index(index, data.shape[axis], mode, data.device, axis, allow_float=True)
    if idx.ndim == data.ndim - 1:
        idx = idx._view(idx.shape[:axis] + (1,) + idx.shape[axis:],
                        idx._strides[:axis] + (0,) + idx._strides[axis:], idx._offset)
    elif not (idx.ndim == data.ndim and idx.shape[axis] == 1):
        raise ShapeError(f"pick: index of shape {idx.shape} does not match data of shape "
                         f"{data.shape} without axis {axis}")
    d1 = tuple(1 if d == axis else n for d, n in enumerate(data.shape))
    common = broadcast_shapes(d1, idx.shape)
    src_shape = tuple(data.shape[axis] if d == axis else n for d, n in enumerate(common))
    src = broadcast_to(data, src_shape)
    res = invoke(_along_op, [src, _bcast_view(idx, common)], axis=axis, unique=True)
    if not keepdims:
        res = reshape(res, tuple(n for d, n in enumerate(res.shape) if d != axis))
    return res
