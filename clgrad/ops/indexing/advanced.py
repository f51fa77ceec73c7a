"""Advanced indexing: a key of integer arrays, booleans, slices, None and Ellipsis parsed once
into a plan, read (``advanced_getitem``) and written (``advanced_setitem``, the last write to a
position winning, as NumPy), both differentiable.
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...autograd import graph as _state
from ...autograd.graph import check_assignable, requires_grad
from ...base import DTypeError, ShapeError
from ...ndarray import ndarray
from ...ndarray.ndarray import c_strides
from ...ndarray.indexing import IndexOutOfRange, basic_view
from .. import late
from ..core import assign, broadcast_shapes, copy_raw, from_host, same_device
from ..registry import invoke, register
from .gathers import _take_op
from .kernels import (IndexTypeError, _bcast_view, _flat, _host_int_index, _linear, _oob_message,
                      _prod, _segment_launch, _sorted_keys, nonzero, prep_index)


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
        if k.dtype.kind not in "iuf":
            raise IndexTypeError(f"arrays used as indices must be of integer, boolean or "
                                 f"(truncated toward zero, as MXNet) float type, got {k.dtype}")
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
                    # NumPy lets an empty mask axis stand for any axis (it selects nothing)
                    if k.shape[j] != a.shape[adim + j] and k.shape[j] != 0:
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
            idxs.append(prep_index(k, n, "raise", dev, adim, allow_float=True))
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
    from ..shape import getitem, transpose
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
    from ..shape import reshape_raw
    x._storage.prepare_write()
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
        z = from_host(dt.scalar_array(value, x.dtype), x.device)
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
    from ..elementwise import multiply, unbroadcast
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
    plan = _plan(a, key)
    if isinstance(value, ndarray):
        same_device([a, value], "assignment")
        if broadcast_shapes(plan.rshape, value.shape) != plan.rshape:
            raise ShapeError(f"shape mismatch: value array of shape {value.shape} could not be "
                             f"broadcast to indexing result of shape {plan.rshape}")
    elif not isinstance(value, (numbers.Number, _np.generic)):
        raise DTypeError(f"cannot assign a {type(value).__name__} to an array of {a.dtype}")
    check_assignable(a, "a[key] = value")
    if _state.is_recording() and requires_grad(value):
        res = invoke(_advset_op, [a, value], plan=plan)
        assign(a, res)
        a._ag_node, a._ag_index = res._ag_node, res._ag_index
        return
    _plan_set_raw(a, plan, value)
    a._storage.version += 1


late.bind(advanced_getitem=advanced_getitem, advanced_setitem=advanced_setitem)
