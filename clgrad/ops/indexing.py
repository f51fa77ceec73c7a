"""Advanced indexing (integer arrays, boolean masks), take, take_along_axis, pick, nonzero.

Kernels (templates/gather.cl.mako, scatter.cl.mako, compact.cl.mako):
- gather: one read per output element through an int64 index (already normalised to [0, n));
- the vjp of a gather is a deterministic scatter-add: the target keys are sorted (stably, on
  the device) and the first work-item of each run of equal keys sums the run in order, so
  repeated indices accumulate without float atomics and every run gives the same bits;
- assignment through indices sorts the same way and lets the last writer of each run win, as
  NumPy does;
- nonzero is a two-pass block compaction with one read-back (the count sizes the output).

Indices are validated before anything is written: on the host when they come from the host, else
with one device check and one read-back; an out-of-bounds index raises ``IndexError``.
"""
import numbers

import numpy as _np

from .. import dtypes as dt
from ..autograd import graph as _state
from ..autograd.graph import requires_grad
from ..base import DTypeError, MXNetError, ShapeError
from ..codegen import render as R
from ..ndarray import ndarray
from ..ndarray.ndarray import c_strides
from ..ndarray.indexing import IndexOutOfRange, basic_view
from . import launch
from .core import array, assign, broadcast_shapes, copy_raw, fill, from_host, same_device
from .reduce import AxisError, normalize_axes, reduce_raw
from .registry import invoke, register

__all__ = ["argwhere", "flatnonzero", "nonzero", "pick", "take", "take_along_axis"]

_i64 = _np.int64
_WORD = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}


class IndexTypeError(MXNetError, IndexError):
    """An index of a kind that cannot index (float arrays, strings, ...)."""


class IndexArgumentError(MXNetError, ValueError):
    """An argument of an indexing op that is not one of the accepted values."""


def _prod(shape):
    p = 1
    for n in shape:
        p *= n
    return p


# --- kernels -----------------------------------------------------------------------------------
def _index_kernel(dev, mode, itemsize, ndim):
    def make():
        if mode == "offsets":
            dst_t = src_t = "long"
        else:
            dst_t = src_t = _WORD[itemsize]
        name = f"index_{mode}"
        src = R.render("gather.cl.mako", prelude=R.prelude(False), name=name, mode=mode,
                       dst_t=dst_t, src_t=src_t, ndim=ndim)
        return launch.Kernel(dev, src, name, [None, _i64, None, _i64, None, _i64, _i64] +
                             [_i64] * (4 * ndim) + [_i64])
    return launch.get_kernel(dev, ("index", mode, itemsize, ndim), make)


def _index_launch(mode, shape, dst, dst_off, dst_st, src, src_off, src_st, idx, idx_st, ax):
    """Run the gather family over ``shape`` (see templates/gather.cl.mako)."""
    n = _prod(shape)
    if n == 0:
        return
    dev = dst.device
    cshape, (ds, ss, is_) = launch.collapse(list(shape), [list(dst_st), list(src_st),
                                                          list(idx_st)])
    k = _index_kernel(dev, mode, dst.dtype.itemsize, len(cshape))
    args = [dst._storage.buffer, dst_off, src._storage.buffer, src_off, idx._storage.buffer,
            idx._offset, ax]
    for d in range(len(cshape)):
        args += (cshape[d], ds[d], ss[d], is_[d])
    args.append(n)
    k(dev, n, *args)


def _segment_kernel(dev, mode, dtype, pre_nd, post_nd):
    def make():
        if mode == "sum":
            dst_t = src_t = dt.ctype(dtype)
            acc_t = dt.compute_ctype(dtype)
        elif mode == "last":
            dst_t = src_t = _WORD[dtype.itemsize]
            acc_t = None
        else:
            dst_t, src_t, acc_t = "uchar", "long", None
        op = R.Operand(True, dtype)
        name = f"segment_{mode}"
        src = R.render("scatter.cl.mako", prelude=R.prelude(dtype == dt.float64), name=name,
                       mode=mode, dst_t=dst_t, src_t=src_t, acc_t=acc_t, src_op=op, dst_op=op,
                       pre_nd=pre_nd, post_nd=post_nd)
        return launch.Kernel(dev, src, name, [None, _i64, _i64, None, _i64, _i64, None, None,
                                              _i64] + [_i64] * (3 * (pre_nd + post_nd)) +
                             [_i64, _i64])
    key = ("segment", mode, dtype if mode == "sum" else dtype.itemsize, pre_nd, post_nd)
    return launch.get_kernel(dev, key, make)


def _segment_launch(mode, dst, dst_off, dst_ax, src, src_off, src_ax, skeys, perm,
                    pre=(), pre_d=(), pre_s=(), post=(), post_d=(), post_s=()):
    """Run the sorted-key scatter (see templates/scatter.cl.mako)."""
    J = skeys.size
    total = _prod(pre) * J * _prod(post)
    if total == 0:
        return
    dev = dst.device
    pshape, (pd, ps) = launch.collapse(list(pre), [list(pre_d), list(pre_s)])
    qshape, (qd, qs) = launch.collapse(list(post), [list(post_d), list(post_s)])
    k = _segment_kernel(dev, mode, dst.dtype if mode != "mark" else dt.bool_, len(pshape),
                        len(qshape))
    args = [dst._storage.buffer, dst_off, dst_ax, src._storage.buffer, src_off, src_ax,
            skeys._storage.buffer, perm._storage.buffer, J]
    for n, a, b in zip(pshape, pd, ps):
        args += (n, a, b)
    for n, a, b in zip(qshape, qd, qs):
        args += (n, a, b)
    args += (_prod(post), total)
    k(dev, total, *args)


def _sorted_keys(keys):
    """(sorted keys, permutation) of a flat int64 key array (stable)."""
    from .sort import argsort_keys
    return argsort_keys(keys)


def _flat(x):
    """``x`` as a 1-D array (a view when its layout allows, else a contiguous copy)."""
    from .shape import reshape_raw
    return reshape_raw(x, (-1,))


# --- stream compaction -------------------------------------------------------------------------
def _compact_kernels(dev, dtype):
    def make():
        src = R.render("compact.cl.mako", prelude=R.prelude(dtype == dt.float64),
                       src=R.Operand(True, dtype))
        return tuple(launch.kernels(dev, src, [
            ("compact_count", [None, _i64, _i64, _i64, None, _i64], 256),
            ("compact_write", [None, _i64, _i64, _i64, None, None, _i64], 256)]))
    return launch.get_kernel(dev, ("compact", dtype), make)


def compact_raw(a):
    """Flat (C-order) positions, int64 and ascending, of the non-zero elements of ``a``."""
    dev = a.device
    src = a if a._is_c_contiguous() else copy_raw(a)
    n = a.size
    if n == 0:
        return ndarray._empty((0,), dt.int64, dev)
    B = max(256, -(-n // 16384))
    nb = -(-n // B)
    count_k, write_k = _compact_kernels(dev, a.dtype)
    counts = ndarray._empty((nb,), dt.int64, dev)
    count_k(dev, nb, src._storage.buffer, src._offset, n, B, counts._storage.buffer, nb)
    c = counts.asnumpy()
    total = int(c.sum())
    out = ndarray._empty((total,), dt.int64, dev)
    if total:
        offs = from_host(_np.concatenate(([0], _np.cumsum(c)[:-1])).astype(_np.int64), dev)
        write_k(dev, nb, src._storage.buffer, src._offset, n, B, offs._storage.buffer,
                out._storage.buffer, nb)
    return out


def _unravel(flat, shape, out_views):
    """Write the coordinates of flat C-order positions ``flat`` into ``out_views`` (one per dim)."""
    cs = c_strides(shape)
    for d, view in enumerate(out_views):
        launch.elementwise("unravel", view, [flat, cs[d], shape[d]], "(v0 / v1) % v2",
                           [dt.int64, dt.int64, dt.int64])


def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def nonzero(a):
    """A tuple of int64 arrays, one per dimension, with the coordinates of non-zero elements."""
    a = _as_array(a)
    if a.ndim == 0:
        raise ShapeError("nonzero: calling nonzero on 0-d arrays is not allowed; use "
                         "atleast_1d(a).nonzero() instead")
    flat = compact_raw(a)
    if a.ndim == 1:
        return (flat,)
    outs = tuple(ndarray._empty(flat.shape, dt.int64, a.device) for _ in range(a.ndim))
    _unravel(flat, a.shape, outs)
    return outs


def flatnonzero(a):
    """Positions (int64) of the non-zero elements of ``a`` flattened."""
    return compact_raw(_as_array(a))


def argwhere(a):
    """Coordinates of the non-zero elements, one row each: shape (count, a.ndim)."""
    a = _as_array(a)
    if a.ndim == 0:
        count = int(bool(a.item()))
        return ndarray._empty((count, 0), dt.int64, a.device)
    flat = compact_raw(a)
    out = ndarray._empty((flat.size, a.ndim), dt.int64, a.device)
    _unravel(flat, a.shape, [out[:, d] for d in range(a.ndim)])
    return out


# --- index arrays: validation and normalisation ------------------------------------------------
_NORM = {"raise": "(v0 < 0) ? v0 + v1 : v0",
         "clip": "(v0 < 0) ? (long)0 : ((v0 >= v1) ? v1 - 1 : v0)",
         "wrap": "((v0 % v1) + v1) % v1"}


def _oob_message(bad, n, axis):
    where = f" for axis {axis}" if axis is not None else ""
    return f"index {bad} is out of bounds{where} with size {n}"


def _host_int_index(h, what="index"):
    h = _np.asarray(h)
    if h.dtype.kind == "f" and h.size == 0:
        h = h.astype(_np.int64)
    if h.dtype.kind not in "iu":
        raise IndexTypeError(f"arrays used as indices must be of integer (or boolean) type, "
                             f"got {h.dtype}")
    return h.astype(_np.int64)


def prep_index(x, n, mode="raise", device=None, axis=None, allow_float=False):
    """An index (host or device) as a normalised int64 device array, values in [0, n).

    mode 'raise' checks every index against [-n, n) before returning; 'clip' and 'wrap' map
    out-of-range indices into range as NumPy does.
    """
    if mode not in _NORM:
        raise IndexArgumentError(f"mode must be 'raise', 'clip' or 'wrap', got {mode!r}")
    if isinstance(x, ndarray):
        if x.dtype == dt.bool_ or (x.dtype.kind not in "iu" and not allow_float):
            raise IndexTypeError(f"arrays used as indices must be of integer type, got "
                                 f"{x.dtype}")
        dev = x.device
        if x.size and n == 0:
            raise IndexOutOfRange("cannot do a non-empty take from an empty axis")
        if mode == "raise" and x.size:
            flag = ndarray._empty(x.shape, dt.bool_, dev)
            launch.elementwise("oob", flag, [x, n], "(v0 < -v1) || (v0 >= v1)",
                               [dt.int64, dt.int64])
            if reduce_raw("any", flag, tuple(range(x.ndim)), dt.bool_).item():
                h = x.asnumpy().astype(_np.int64).reshape(-1)
                bad = h[(h < -n) | (h >= n)][0]
                raise IndexOutOfRange(_oob_message(int(bad), n, axis))
        out = ndarray._empty(x.shape, dt.int64, dev)
        launch.elementwise(f"norm_{mode}", out, [x, n], _NORM[mode], [dt.int64, dt.int64])
        return out
    if allow_float:
        h = _np.asarray(x)
        h = h.astype(_np.int64) if h.dtype.kind in "fb" else _host_int_index(h)
    else:
        if isinstance(x, (bool, _np.bool_)):
            raise IndexTypeError("a boolean cannot be used as an integer index here")
        h = _host_int_index(x)
    if h.size and n == 0:
        raise IndexOutOfRange("cannot do a non-empty take from an empty axis")
    if mode == "raise":
        bad = (h < -n) | (h >= n)
        if bad.any():
            raise IndexOutOfRange(_oob_message(int(h[bad].reshape(-1)[0]), n, axis))
        h = _np.where(h < 0, h + n, h)
    elif n:
        h = _np.clip(h, 0, n - 1) if mode == "clip" else _np.mod(h, n)
    from ..runtime import default_device
    # (np.array, not ascontiguousarray, which would make a 0-d index 1-d)
    return from_host(_np.array(h, dtype=_np.int64, order="C"), device or default_device())


def _linear(idxs, mults, shape):
    """sum_k idxs[k] * mults[k] as one int64 array of ``shape`` (the broadcast index shape)."""
    dev = idxs[0].device
    out = ndarray._empty(shape, dt.int64, dev)
    K = len(idxs)
    expr = " + ".join(f"v{k} * v{K + k}" for k in range(K))
    launch.elementwise(f"linear{K}", out, list(idxs) + [int(m) for m in mults], expr,
                       [dt.int64] * (2 * K))
    return out


def _bcast_view(x, shape):
    """``x`` viewed with ``shape`` (NumPy broadcasting), unrecorded."""
    return x._view(tuple(shape), tuple(launch.broadcast_strides(x, shape)), x._offset)


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
    from .shape import reshape_raw
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
    from .shape import ravel
    a = _as_array(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    else:
        if a.ndim == 0:
            raise AxisError("take: axis given for a 0-d array")
        axis = normalize_axes(axis, a.ndim)[0]
    if isinstance(indices, ndarray):
        same_device([a, indices], "take")
    if out is not None:     # validated before the index check enqueues anything
        from .core import check_out
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
    from .shape import broadcast_to, ravel
    arr = _as_array(arr)
    ind_ndim = indices.ndim if isinstance(indices, ndarray) else _np.ndim(indices)
    if axis is None:
        if ind_ndim != 1:
            raise ShapeError("take_along_axis: when axis=None, indices must have a single "
                             "dimension")
        arr = ravel(arr)
        axis = 0
    if ind_ndim != arr.ndim:
        raise ShapeError(f"take_along_axis: indices and arr must have the same number of "
                         f"dimensions ({ind_ndim} != {arr.ndim})")
    axis = normalize_axes(axis, arr.ndim)[0]
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
    from .shape import broadcast_to, reshape
    data = _as_array(data)
    if data.ndim == 0:
        raise AxisError("pick: data must have at least one dimension")
    axis = normalize_axes(axis, data.ndim)[0]
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


# --- advanced indexing: parsing a key --------------------------------------------------------
class _Plan:
    """A resolved advanced index: a basic view, then a gather along K consecutive axes.

    ``basic``: the basic key (ints/arrays replaced by full slices); ``perm``: a transpose of the
    basic view that brings non-adjacent advanced axes to the front (NumPy's rule), or None;
    ``axis``: where the K indexed axes start after it; ``idxs``: normalised int64 arrays;
    ``B``: their broadcast shape; ``rshape``: the shape of ``a[key]``.
    """

    __slots__ = ("basic", "trivial", "perm", "axis", "idxs", "B", "rshape")


def _classify(k):
    if k is None or k is Ellipsis or isinstance(k, slice):
        return "basic", k
    if isinstance(k, (bool, _np.bool_)):
        return "bool0", bool(k)
    if isinstance(k, numbers.Integral):
        return "int", int(k)
    if isinstance(k, ndarray):
        if k.dtype == dt.bool_:
            return ("bool0", bool(k.item())) if k.ndim == 0 else ("mask", k)
        if k.dtype.kind not in "iu":
            raise IndexTypeError(f"arrays used as indices must be of integer (or boolean) "
                                 f"type, got {k.dtype}")
        return "arr", k
    if isinstance(k, (list, tuple, _np.ndarray)):
        h = _np.asarray(k)
        if h.dtype == _np.bool_:
            return ("bool0", bool(h)) if h.ndim == 0 else ("mask", h)
        return "arr", _host_int_index(h)
    if hasattr(k, "__index__"):
        return "int", int(k.__index__())
    raise IndexTypeError("only integers, slices (`:`), ellipsis (`...`), None and integer or "
                         f"boolean arrays are valid indices, got {type(k).__name__}")


def _plan(a, key):
    items = [_classify(k) for k in (key if isinstance(key, tuple) else (key,))]
    dev = a.device
    used = sum(k.ndim if kind == "mask" else 1 for kind, k in items
               if kind in ("int", "arr", "mask") or (kind == "basic" and isinstance(k, slice)))
    n_ell = sum(1 for kind, k in items if kind == "basic" and k is Ellipsis)
    if n_ell > 1:
        raise IndexTypeError("an index can only have a single ellipsis ('...')")
    if used > a.ndim:
        raise IndexOutOfRange(f"too many indices for array: array is {a.ndim}-dimensional, but "
                              f"{used} were indexed")
    if n_ell:
        i = next(j for j, (kind, k) in enumerate(items) if kind == "basic" and k is Ellipsis)
        items[i:i + 1] = [("basic", slice(None))] * (a.ndim - used)
    else:
        items += [("basic", slice(None))] * (a.ndim - used)
    basic, adv = [], []       # adv: (dim in the basic view, kind, index, axis length)
    vdim = adim = 0
    for kind, k in items:
        if kind == "basic":
            basic.append(k)
            vdim += 1
            adim += 0 if k is None else 1
        elif kind in ("int", "arr"):
            basic.append(slice(None))
            adv.append((vdim, kind, k, a.shape[adim], adim))
            vdim += 1
            adim += 1
        elif kind == "mask":
            m = k.ndim
            if tuple(k.shape) != tuple(a.shape[adim:adim + m]):
                for j in range(m):
                    if k.shape[j] != a.shape[adim + j]:
                        raise IndexOutOfRange(
                            f"boolean index did not match indexed array along axis {adim + j}; "
                            f"size of axis is {a.shape[adim + j]} but size of corresponding "
                            f"boolean axis is {k.shape[j]}")
            basic += [slice(None)] * m
            adv.append((vdim, "mask", k, m, adim))
            vdim += m
            adim += m
        else:   # a boolean scalar: a new axis of length 1, kept (True) or emptied (False)
            basic.append(None)
            adv.append((vdim, "arr", _np.zeros(1 if k else 0, _np.int64), 1, None))
            vdim += 1
    vshape, _, _ = basic_view(a.shape, a._strides, a._offset, tuple(basic))
    dims, idxs = [], []
    for vd, kind, k, n, adim in adv:
        if kind == "int":
            if k < -n or k >= n:
                raise IndexOutOfRange(_oob_message(k, n, adim))
            dims.append(vd)
            idxs.append(from_host(_np.array(k % n, dtype=_np.int64), dev))
        elif kind == "arr":
            if isinstance(k, ndarray):
                same_device([a, k], "indexing")
            dims.append(vd)
            idxs.append(prep_index(k, n, "raise", dev, adim))
        else:
            if isinstance(k, ndarray):
                same_device([a, k], "indexing")
                coords = nonzero(k)
            else:
                coords = tuple(from_host(c.astype(_np.int64), dev) for c in _np.nonzero(k))
            dims += list(range(vd, vd + n))
            idxs += list(coords)
    try:
        B = broadcast_shapes(*[i.shape for i in idxs])
    except ShapeError:
        raise IndexOutOfRange("shape mismatch: indexing arrays could not be broadcast together "
                              "with shapes " + " ".join(str(i.shape) for i in idxs)) from None
    p = _Plan()
    p.basic = tuple(basic)
    p.trivial = all(isinstance(k, slice) and k == slice(None) for k in basic)
    p.idxs = idxs
    p.B = tuple(B)
    K = len(dims)
    if dims == list(range(dims[0], dims[0] + K)):
        p.perm, p.axis = None, dims[0]
        p.rshape = tuple(vshape[:p.axis]) + p.B + tuple(vshape[p.axis + K:])
    else:
        p.perm = dims + [d for d in range(len(vshape)) if d not in dims]
        p.axis = 0
        p.rshape = p.B + tuple(vshape[d] for d in p.perm[K:])
    return p


def _plan_get(x, plan):
    """``x[key]`` for a resolved key (recorded: basic view, transpose, gather)."""
    from .shape import getitem, transpose
    v = x if plan.trivial else getitem(x, plan.basic)
    if plan.perm is not None:
        v = transpose(v, plan.perm)
    return invoke(_take_op, [v, *plan.idxs], axis=plan.axis)


def advanced_getitem(a, key):
    """``a[key]`` for keys with integer arrays or boolean masks (NumPy's advanced indexing)."""
    return _plan_get(a, _plan(a, key))


# --- advanced assignment -----------------------------------------------------------------------
def _plan_layout(shape, strides, offset, plan):
    """(shape, strides, offset) of the view whose K axes from ``plan.axis`` the indices address."""
    sh, st, off = basic_view(shape, strides, offset, plan.basic)
    if plan.perm is not None:
        sh = tuple(sh[d] for d in plan.perm)
        st = tuple(st[d] for d in plan.perm)
    return sh, st, off


def _plan_target(x, plan):
    return x._view(*_plan_layout(x.shape, x._strides, x._offset, plan))


def _plan_keys(plan, strides):
    """Flat int64 keys of the indexed places: positions along the axis (K = 1) or offsets."""
    if len(plan.idxs) == 1:
        return _flat(plan.idxs[0]), strides[plan.axis]
    K = len(plan.idxs)
    return _flat(_linear(plan.idxs, strides[plan.axis:plan.axis + K], plan.B)), 1


def _plan_set_raw(x, plan, value):
    """``x[key] = value`` for a resolved key, in place, last write winning; not recorded."""
    from .shape import reshape_raw
    W = _plan_target(x, plan)
    K, axis = len(plan.idxs), plan.axis
    J = _prod(plan.B)
    pre, post = W.shape[:axis], W.shape[axis + K:]
    if J == 0 or _prod(pre) * _prod(post) == 0:
        return
    keys, dst_ax = _plan_keys(plan, W._strides)
    vshape = tuple(pre) + (J,) + tuple(post)
    if isinstance(value, ndarray):
        vb = _bcast_view(value, plan.rshape)
        if value.dtype != x.dtype or value._storage is x._storage:
            vb = copy_raw(vb, x.dtype)      # cast, and never read what this write may change
        vals = reshape_raw(vb, vshape)
    else:
        z = from_host(_np.array(value, dtype=x.dtype), x.device)
        vals = z._view(vshape, (0,) * len(vshape), z._offset)
    skeys, perm = _sorted_keys(keys)
    _segment_launch("last", W, W._offset, dst_ax, vals, vals._offset, vals._strides[axis],
                    skeys, perm, pre, W._strides[:axis], vals._strides[:axis], post,
                    W._strides[axis + K:], vals._strides[axis + 1:])


def _plan_winners(plan, shape):
    """Bool array, broadcastable to ``plan.rshape``: which written element is the one kept."""
    _, st, _ = _plan_layout(shape, c_strides(shape), 0, plan)
    keys, _ = _plan_keys(plan, st)
    skeys, perm = _sorted_keys(keys)
    win = ndarray._empty((skeys.size,), dt.bool_, skeys.device)
    _segment_launch("mark", win, 0, 0, skeys, 0, 0, skeys, perm)
    lead = 0 if plan.perm is not None else plan.axis
    tail = len(plan.rshape) - lead - len(plan.B)
    return win.reshape((1,) * lead + plan.B + (1,) * tail)


def _advset_fwd(ctx, a, value, plan):
    out = copy_raw(a)
    _plan_set_raw(out, plan, value)
    ctx.plan = plan
    ctx.vshape = value.shape if isinstance(value, ndarray) else None
    ctx.winners = None
    if ctx.vshape is not None and ctx.needs is not None and ctx.needs[1] and _prod(plan.B):
        ctx.winners = _plan_winners(plan, a.shape)
    return out


def _advset_bwd(ctx, g):
    from .elementwise import multiply, unbroadcast
    plan = ctx.plan
    ga = invoke(_advset_op, [g, 0.0], plan=plan)
    gv = None
    if ctx.vshape is not None:
        t = _plan_get(g, plan)
        if ctx.winners is not None:
            t = multiply(t, ctx.winners)
        gv = unbroadcast(t, ctx.vshape)
    return ga, gv


_advset_op = register("advanced_setitem", _advset_fwd, _advset_bwd)


def advanced_setitem(a, key, value):
    """``a[key] = value`` for advanced keys; repeated indices: the last assignment wins."""
    from ..autograd.graph import LeafNode
    plan = _plan(a, key)
    if isinstance(value, ndarray):
        same_device([a, value], "assignment")
        if broadcast_shapes(plan.rshape, value.shape) != plan.rshape:
            raise ShapeError(f"shape mismatch: value array of shape {value.shape} could not be "
                             f"broadcast to indexing result of shape {plan.rshape}")
    elif not isinstance(value, (numbers.Number, _np.generic)):
        raise DTypeError(f"cannot assign a {type(value).__name__} to an array of {a.dtype}")
    if _state.is_recording() and (requires_grad(a) or requires_grad(value)):
        if type(a._ag_node) is LeafNode:
            raise MXNetError("an array with attach_grad() is being modified in place inside "
                             "autograd.record(); use an out-of-place op instead")
        res = invoke(_advset_op, [a, value], plan=plan)
        assign(a, res)
        a._ag_node, a._ag_index = res._ag_node, res._ag_index
        return
    _plan_set_raw(a, plan, value)
    a._storage.version += 1
