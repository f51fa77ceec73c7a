"""Sorting and searching: sort, argsort, topk, searchsorted, unique (templates/sort.cl.mako).

Every sort is a bitonic network over (key, original index) pairs, so it is stable, correct for
any length (rows are padded to a power of two) and orders NaN last, as NumPy does. The gradient
of sorted values scatters through the sort's indices (a permutation: no collisions).
"""
import numbers

import numpy as _np

from .. import dtypes as dt
from ..base import MXNetError, ShapeError
from ..codegen import render as R
from ..ndarray import ndarray
from . import late, launch
from .args import as_flag, as_int
from .core import array, from_host
from .axes import AxisError, normalize_axis
from .registry import invoke, register

__all__ = ["argsort", "searchsorted", "sort", "topk", "unique"]


class SortArgumentError(MXNetError, ValueError):
    """An argument of a sort or search that is not one of the accepted values."""


_WG = 256           # largest work-group the local-memory stage is written for
_i64 = _np.int64

_KEY_NP = {"float": dt.float32, "double": dt.float64, "uchar": dt.uint8, "char": dt.int8,
           "short": dt.int16, "int": dt.int32, "long": dt.int64}


class _SortKernels:
    __slots__ = ("init", "step", "local", "finish", "key_dtype")

    def __init__(self, dev, dtype, descending, pnd):
        if dtype.kind == "c":
            raise dt.DTypeError(f"sorting is not supported for complex arrays ({dtype})")
        key_t = dt.compute_ctype(dtype)
        src = R.render("sort.cl.mako", prelude=R.prelude(dtype == dt.float64), kernels="sort",
                       key_t=key_t, is_float=dtype.kind == "f", descending=descending,
                       src=R.Operand(True, dtype), pnd=pnd, wg=_WG)
        self.init, self.step, self.local, self.finish = launch.kernels(dev, src, [
            ("sort_init", [None, None, None, _i64, _i64] + [_i64] * (2 * pnd) +
             [_i64, _i64, _i64], 256),
            ("sort_step", [None, None, _np.int32, _i64, _i64, _i64, _i64], 256),
            ("sort_local", [None, None, _np.int32, _i64, _i64, _i64, _i64], _WG),
            ("sort_finish", [None] * 4 + [_i64, _i64, _i64], 256)])
        self.key_dtype = _KEY_NP[key_t]


def _kernels(dev, dtype, descending, pnd):
    key = ("sort", dtype, descending, pnd)
    return launch.get_kernel(dev, key, lambda: _SortKernels(dev, dtype, descending, pnd))


def _moved(a, axis):
    """``a`` with ``axis`` moved last, as an unrecorded view."""
    order = [d for d in range(a.ndim) if d != axis] + [axis]
    return a._view(tuple(a.shape[d] for d in order), tuple(a._strides[d] for d in order),
                   a._offset)


def _move_back(x, axis):
    """Inverse of ``_moved``: the last axis of ``x`` goes back to position ``axis``."""
    nd = x.ndim
    order = list(range(nd - 1))
    order.insert(axis, nd - 1)
    return x._view(tuple(x.shape[d] for d in order), tuple(x._strides[d] for d in order),
                   x._offset)


def sort_raw(a, axis=-1, descending=False, values=True, indices=True):
    """(sorted values, int64 indices) of ``a`` along ``axis``; either may be skipped (None).

    Not recorded. Outputs are contiguous in the layout with ``axis`` last (views otherwise).
    """
    axis = normalize_axis(axis, a.ndim) if a.ndim else 0
    if a.dtype.kind == "c" and a.ndim:
        return _complex_sort_raw(a, axis, descending, values)
    if a.ndim == 0:
        a = a._view((1,), (1,), a._offset)
        vals, idx = sort_raw(a, 0, descending, values, indices)
        return (vals._view((), (), vals._offset) if vals is not None else None,
                idx._view((), (), idx._offset) if idx is not None else None)
    dev = a.device
    m = _moved(a, axis)
    pre, L = m.shape[:-1], m.shape[-1]
    rows = 1
    for n in pre:
        rows *= n
    vals = ndarray._empty(m.shape, a.dtype, dev) if values else None
    idx = ndarray._empty(m.shape, dt.int64, dev) if indices else None
    if rows and L:
        if L >= 2 ** 31:
            raise SortArgumentError(f"sort: an axis of length {L} is too long (limit "
                                    "2**31 - 1)")
        L2 = 2
        while L2 < L:
            L2 *= 2
        pshape, (pstr,) = launch.collapse(list(pre), [list(m._strides[:-1])])
        ks = _kernels(dev, a.dtype, bool(descending), len(pshape))
        keys = ndarray._empty((rows * L2,), ks.key_dtype, dev)
        ids = ndarray._empty((rows * L2,), dt.int32, dev)
        kb, ib = keys._storage.buffer, ids._storage.buffer
        args = [kb, ib, a._storage.buffer, m._offset, m._strides[-1]]
        for n, s in zip(pshape, pstr):
            args += (n, s)
        ks.init(dev, rows * L2, *args, L, L2, rows * L2)
        if L > 1:
            _bitonic(dev, ks, kb, ib, rows, L, L2)
        ks.finish(dev, rows * L, kb, ib, vals._storage.buffer if values else None,
                  idx._storage.buffer if indices else None, L, L2, rows * L)
    return (_move_back(vals, axis) if values else None,
            _move_back(idx, axis) if indices else None)


def _complex_sort_raw(a, axis, descending, values):
    """NumPy's order of complex numbers: by where their NaNs are ([R + Rj, R + nanj, nan + Rj,
    nan + nanj]), then by real part, then by imaginary part. Three stable sorts, least
    significant key first, each reordering the permutation so far."""
    from .elementwise import imag, real
    from .indexing import take_along_axis
    if descending:
        raise SortArgumentError("sort: descending order is not defined for complex arrays")
    nan_class = ndarray._empty(a.shape, dt.int8, a.device)
    launch.elementwise("nan_class", nan_class, [a], "2 * isnan(v0.x) + isnan(v0.y)")
    perm = None
    for key in (imag(a), real(a), nan_class):
        k = key if perm is None else take_along_axis(key, perm, axis)
        step = sort_raw(k, axis, values=False)[1]
        perm = step if perm is None else take_along_axis(perm, step, axis)
    return (take_along_axis(a, perm, axis) if values else None), perm


def _bitonic(dev, ks, kb, ib, rows, L, L2):
    half = rows * (L2 // 2)
    lsz = min(ks.local.local, L2 // 2, _WG)
    block = 2 * lsz
    ks.local.launch(dev, (half,), (lsz,), kb, ib, L, L2, 2, block, 1)
    k = 2 * block
    while k <= L2:
        j = k // 2
        while j >= block:
            ks.step(dev, half, kb, ib, L, L2, k, j, half)
            j //= 2
        ks.local.launch(dev, (half,), (lsz,), kb, ib, L, L2, k, k, lsz)
        k *= 2


def argsort_keys(keys):
    """(sorted keys, permutation) of a 1-D integer array: the stable order used by scatters."""
    return sort_raw(keys, 0, False, True, True)


# --- differentiable sort -----------------------------------------------------------------------
def _sort_fwd(ctx, a, axis, descending, indices_out=None):
    vals, idx = sort_raw(a, axis, descending)
    ctx.save(idx)
    ctx.axis, ctx.shape = axis, a.shape
    if indices_out is not None:     # the indices are not differentiable: handed out on the side
        indices_out.append(idx)
    return vals


def _sort_bwd(ctx, g):
    from .indexing import put_along_axis_grad
    (idx,) = ctx.saved
    return (put_along_axis_grad(g, idx, ctx.axis, ctx.shape),)


_sort_op = register("sort", _sort_fwd, _sort_bwd)


def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def _sorted(a, axis, descending):
    """(values, indices) along ``axis`` (None: flattened); values are differentiable."""
    a = _as_array(a)
    if axis is None:
        from .shape import ravel
        a = ravel(a)
        axis = 0
    if a.ndim == 0:
        raise AxisError("sort: cannot sort a 0-d array along an axis (use axis=None)")
    axis = normalize_axis(axis, a.ndim)
    holder = []
    vals = invoke(_sort_op, [a], axis=axis, descending=descending, indices_out=holder)
    return vals, holder[0]


def _check_kind(kind, order):
    if order is not None:
        raise SortArgumentError("sort: the order argument (structured arrays) is not supported")
    if kind is not None and (not isinstance(kind, str) or
                             kind not in ("quicksort", "mergesort", "heapsort", "stable")):
        raise SortArgumentError(f"sort: unknown kind {kind!r}")


def sort(a, axis=-1, kind=None, order=None, descending=False, stable=None):
    """A sorted copy of ``a`` along ``axis`` (None: flattened). NaN sorts last; stable."""
    _check_kind(kind, order)
    return _sorted(a, axis, as_flag(descending, "descending", "sort"))[0]


def argsort(a, axis=-1, kind=None, order=None, descending=False, stable=None):
    """Indices (int64) that sort ``a`` along ``axis``; equal elements keep their order."""
    _check_kind(kind, order)
    a = _as_array(a)
    if axis is None:
        a = a.reshape(-1)
        axis = 0
    if a.ndim == 0:
        raise AxisError("argsort: cannot sort a 0-d array along an axis (use axis=None)")
    axis = normalize_axis(axis, a.ndim)
    return sort_raw(a, axis, as_flag(descending, "descending", "argsort"), values=False)[1]


def topk(data, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    """MXNet's ``npx.topk``: the k largest (or smallest) elements along ``axis``.

    ``ret_typ``: 'indices' (in ``dtype``), 'value', 'both' ([value, indices]) or 'mask' (1 at
    the chosen positions). ``k < 1`` selects the whole axis.
    """
    if ret_typ not in ("indices", "value", "both", "mask"):
        raise SortArgumentError(f"topk: ret_typ must be 'indices', 'value', 'both' or 'mask', got "
                         f"{ret_typ!r}")
    data = _as_array(data)
    if axis is None:
        data = data.reshape(-1)
        axis = 0
    if data.ndim == 0:
        raise AxisError("topk: the input must have at least one dimension")
    axis = normalize_axis(axis, data.ndim)
    n = data.shape[axis]
    k = as_int(k, "k", "topk", truncate=True)
    if k < 1:
        k = n
    if k > n:
        raise SortArgumentError(f"topk: k ({k}) must not exceed the length of axis {axis} ({n})")
    sl = tuple(slice(None) if d != axis else slice(0, k) for d in range(data.ndim))
    if ret_typ == "mask":
        from .indexing import put_along_axis_raw
        _, idx = sort_raw(data, axis, not is_ascend, values=False)
        out = ndarray._empty(data.shape, data.dtype, data.device)
        from .core import fill
        fill(out, 0)
        put_along_axis_raw(out, idx[sl], 1, axis)
        return out
    if ret_typ == "indices":
        idx = sort_raw(data, axis, not is_ascend, values=False)[1][sl]
        return idx.astype(dtype) if dt.as_dtype(dtype) != dt.int64 else idx.copy()
    holder = []
    vals = invoke(_sort_op, [data], axis=axis, descending=not is_ascend, indices_out=holder)
    idx = holder[0][sl]
    vals = vals[sl]
    if ret_typ == "both":
        idx = idx.astype(dtype) if dt.as_dtype(dtype) != dt.int64 else idx.copy()
    return vals if ret_typ == "value" else [vals, idx]


# --- searching ---------------------------------------------------------------------------------
def _search_kernel(dev, dtype):
    def make():
        src = R.render("sort.cl.mako", prelude=R.prelude(dtype == dt.float64),
                       kernels="search", key_t=dt.compute_ctype(dtype),
                       is_float=dtype.kind == "f", descending=False,
                       src=R.Operand(True, dtype), pnd=0, wg=_WG)
        return launch.Kernel(dev, src, "searchsorted",
                             [None, _i64, _i64, _i64, None, _i64, None, _i64, _np.int32])
    return launch.get_kernel(dev, ("searchsorted", dtype), make)


def searchsorted_raw(a, v, right=False):
    """Insertion points (int64, shape of ``v``) of ``v`` in the sorted 1-D array ``a``."""
    from .core import copy_raw
    common = dt.result_type(a.dtype, v.dtype)
    dt.check_device(common, a.device)
    if a.dtype != common:
        a = copy_raw(a, common)
    if v.dtype != common or not v._is_c_contiguous():
        v = copy_raw(v, common)
    dev = a.device
    out = ndarray._empty(v.shape, dt.int64, dev)
    if v.size:
        k = _search_kernel(dev, common)
        k(dev, v.size, a._storage.buffer, a._offset, a._strides[0] if a.ndim else 1, a.size,
          v._storage.buffer, v._offset, out._storage.buffer, v.size, int(bool(right)))
    return out


def searchsorted(a, v, side="left", sorter=None):
    """Indices where ``v`` would be inserted into the sorted 1-D ``a`` to keep it sorted."""
    if not isinstance(side, str) or side not in ("left", "right"):
        raise SortArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a = _as_array(a)
    if a.ndim != 1:
        raise ShapeError(f"searchsorted: a must be 1-dimensional, got {a.ndim} dimensions")
    if sorter is not None:
        from .indexing import take
        a = take(a, sorter)
    if not isinstance(v, ndarray):
        if isinstance(v, (numbers.Number, _np.generic)):
            v = from_host(_np.asarray(v, dtype=dt.result_type(a.dtype, v.item() if isinstance(
                v, _np.generic) else v)), a.device)
        else:
            v = array(v, device=a.device)
    from .core import same_device
    same_device([a, v], "searchsorted")
    return searchsorted_raw(a, v, side == "right")


# --- unique ------------------------------------------------------------------------------------
def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           equal_nan=True):
    """The sorted unique elements of ``ar`` (flattened), with NumPy's optional outputs."""
    from .core import copy_raw, fill
    from .indexing import compact_raw, gather_raw, put_along_axis_raw
    ar = _as_array(ar)
    return_index, return_inverse, return_counts, equal_nan = (
        as_flag(v, n, "unique") for v, n in ((return_index, "return_index"),
                                             (return_inverse, "return_inverse"),
                                             (return_counts, "return_counts"),
                                             (equal_nan, "equal_nan")))
    if axis is not None:
        raise SortArgumentError("unique: only axis=None (the flattened array) is supported")
    dev = ar.device
    flat = ar.reshape(-1) if ar._is_c_contiguous() else copy_raw(ar).reshape(-1)
    flat = flat.detach()
    N = flat.size
    svals, perm = sort_raw(flat, 0)
    flags = ndarray._empty((N,), dt.bool_, dev)
    if N:
        fill(flags[:1], True)
    if N > 1:
        same = "(v0 == v1)"
        if ar.dtype.kind == "f" and equal_nan:
            same = "((v0 == v1) || (isnan(v0) && isnan(v1)))"
        elif ar.dtype.kind == "c":       # as NumPy: with equal_nan, every value with a NaN is one
            same = "(v0.x == v1.x && v0.y == v1.y)"
            if equal_nan:
                same = (f"({same} || ((isnan(v0.x) || isnan(v0.y)) && "
                        "(isnan(v1.x) || isnan(v1.y))))")
        launch.elementwise("unique_flag", flags[1:], [svals[1:], svals[:-1]], f"!{same}")
    starts = compact_raw(flags)
    U = starts.size
    out = [gather_raw(svals, starts)]
    if return_index:
        out.append(gather_raw(perm, starts))
    if return_inverse:
        ramp = ndarray._empty((N,), dt.int64, dev)
        launch.elementwise("ramp_i", ramp, [], "gid")
        group = searchsorted_raw(starts, ramp, right=True)
        launch.elementwise("dec", group, [group], "v0 - 1")
        inv = ndarray._empty((N,), dt.int64, dev)
        put_along_axis_raw(inv, perm, group, 0)
        out.append(inv.reshape(ar.shape))     # NumPy 2: shaped like the input
    if return_counts:
        counts = ndarray._empty((U,), dt.int64, dev)
        if U:
            launch.elementwise("diff", counts[:-1], [starts[1:], starts[:-1]], "v0 - v1")
            launch.elementwise("tail", counts[-1:], [starts[-1:], N], "v1 - v0",
                               [dt.int64, dt.int64])
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


late.bind(argsort_keys=argsort_keys)
