"""The index kernel family (templates/gather.cl.mako, scatter.cl.mako, compact.cl.mako): gathers,
segment scatters, stream compaction and the nonzero ops built on it, and the validation and
normalisation of index arrays.
"""

import numpy as _np

from ... import dtypes as dt
from ...base import MXNetError, ShapeError
from ...codegen import render as R
from ...ndarray import ndarray
from ...ndarray.ndarray import c_strides
from ...ndarray.indexing import IndexOutOfRange
from ...runtime import default_device
from .. import late, launch
from ..core import array, copy_raw, from_host
from ..reduce import reduce_raw


_i64 = _np.int64
_WORD = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong", 16: "ulong2"}   # 16: complex128


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
    return late.argsort_keys(keys)


def _flat(x):
    """``x`` as a 1-D array (a view when its layout allows, else a contiguous copy)."""
    from ..shape import reshape_raw
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
    if a.dtype.kind == "c":     # non-zero when either part is (the kernel compares scalars)
        from ..elementwise import not_equal
        a = not_equal(a, 0)
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
    """A host index as int64; floats are truncated toward zero, as MXNet takes them."""
    h = _np.asarray(h)
    if h.dtype.kind == "f":
        if not _np.isfinite(h).all():
            raise IndexTypeError("an index array of floats holds NaN or infinity")
        h = _np.trunc(h).astype(_np.int64)
    if h.dtype.kind not in "iu":
        raise IndexTypeError(f"arrays used as indices must be of integer (or boolean) type, "
                             f"got {h.dtype}")
    return h.astype(_np.int64)


def prep_index(x, n, mode="raise", device=None, axis=None, allow_float=False):
    """An index (host or device) as a normalised int64 device array, values in [0, n).

    mode 'raise' checks every index against [-n, n) before returning; 'clip' and 'wrap' map
    out-of-range indices into range as NumPy does.
    """
    if not isinstance(mode, str) or mode not in _NORM:
        raise IndexArgumentError(f"mode must be 'raise', 'clip' or 'wrap', got {mode!r}")
    if isinstance(x, ndarray):
        if x.dtype == dt.bool_ or (x.dtype.kind not in "iu" and not allow_float):
            raise IndexTypeError(f"arrays used as indices must be of integer type, got "
                                 f"{x.dtype}")
        dev = x.device
        if x.size and n == 0:
            raise IndexOutOfRange("cannot do a non-empty take from an empty axis")
        floats = x.dtype.kind == "f"
        # one check, one read back: out-of-range indices (mode 'raise') and, for MXNet's float
        # indices (truncated toward zero, compared in their own type so none overflows a
        # long), NaN and infinity, which index nothing
        if floats:
            bad = "!isfinite(v0)" + (" || (trunc(v0) < -v1) || (trunc(v0) >= v1)"
                                     if mode == "raise" else "")
        else:
            bad = "(v0 < -v1) || (v0 >= v1)" if mode == "raise" else None
        if floats and mode != "raise" and launch.observer is not None:
            # a captured graph cannot raise at a later call: it takes MXNet's behaviour, no
            # check (clip and wrap keep every index, NaN's too, in range)
            bad = None
        if bad is not None and x.size:
            flag = ndarray._empty(x.shape, dt.bool_, dev)
            launch.elementwise("bad_index", flag, [x, n], bad,
                               [x.dtype, x.dtype] if floats else [dt.int64, dt.int64])
            if reduce_raw("any", flag, tuple(range(x.ndim)), dt.bool_).item():
                h = x.asnumpy().reshape(-1)
                if floats and not _np.isfinite(h).all():
                    raise IndexTypeError("an index array of floats holds NaN or infinity")
                h = _np.trunc(h).astype(_np.int64)
                raise IndexOutOfRange(_oob_message(int(h[(h < -n) | (h >= n)][0]), n, axis))
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


late.bind(nonzero=nonzero)
