"""Shape ops that are views (reshape, transpose, expand_dims, squeeze, broadcast_to, basic
indexing) and their vjps, plus assignment through basic indices."""
import numbers

import numpy as _np

from ..autograd import graph as _state
from ..autograd.graph import check_assignable, requires_grad
from ..base import ArgumentError, ArgumentTypeError, DTypeError, ShapeError, UnsupportedError
from ..ndarray import ndarray
from ..ndarray.ndarray import c_strides
from ..ndarray.indexing import basic_view, is_basic
from .args import as_ints, need_array
from .core import array, assign, broadcast_shapes, copy_raw, zeros
from .axes import AxisError, normalize_axes, normalize_axis
from . import late
from .registry import invoke, register


# --- reshape ---------------------------------------------------------------------------------
def resolve_shape(shape, size):
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = [int(n) for n in shape]
    unknown = [i for i, n in enumerate(shape) if n == -1]
    if len(unknown) > 1:
        raise ShapeError("can only specify one unknown dimension (-1) in reshape")
    if any(n < -1 for n in shape):
        raise ShapeError(f"invalid shape {tuple(shape)}: negative dimensions")
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if unknown:
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape array of size {size} into shape {tuple(shape)}")
        shape[unknown[0]] = size // known
    elif known != size:
        raise ShapeError(f"cannot reshape array of size {size} into shape {tuple(shape)}")
    return tuple(shape)


def nocopy_strides(old_shape, old_strides, new_shape):
    """Strides that view ``old`` as ``new_shape`` without a copy, or None (NumPy's algorithm)."""
    olds = [(n, s) for n, s in zip(old_shape, old_strides) if n != 1]
    new_strides = [0] * len(new_shape)
    on = [n for n, _ in olds]
    os_ = [s for _, s in olds]
    nn = list(new_shape)
    non1 = [i for i, n in enumerate(nn) if n != 1]
    # walk groups of dimensions whose products match
    i, j = 0, 0
    while i < len(on) and j < len(non1):
        np_, op_ = nn[non1[j]], on[i]
        i0, j0 = i, j
        while np_ != op_:
            if np_ < op_:
                j += 1
                np_ *= nn[non1[j]]
            else:
                i += 1
                op_ *= on[i]
        for k in range(i0, i):
            if os_[k] != os_[k + 1] * on[k + 1]:
                return None
        st = os_[i]
        for k in range(j, j0 - 1, -1):
            new_strides[non1[k]] = st
            st *= nn[non1[k]]
        i += 1
        j += 1
    return tuple(new_strides)


def reshape_raw(a, shape):
    shape = resolve_shape(shape, a.size)
    if a._is_c_contiguous():
        return a._view(shape, c_strides(shape), a._offset)
    st = nocopy_strides(a.shape, a._strides, shape) if a.size else c_strides(shape)
    if st is None:
        c = copy_raw(a)
        return c._view(shape, c_strides(shape), c._offset)
    return a._view(shape, st, a._offset)


_reshape_op = register("reshape", lambda ctx, a, shape: _reshape_fwd(ctx, a, shape),
                       lambda ctx, g: (reshape(g, ctx.shape),))


def _reshape_fwd(ctx, a, shape):
    ctx.shape = a.shape
    return _new_array(a, reshape_raw(a, shape))


def _new_array(a, r):
    """``r``, a view of ``a``, made a new array as MXNet's ``reshape``, transposes and strided
    slices give: it shares the buffer until either side is written (``Storage.share``)."""
    if r._storage is a._storage:
        r._storage = a._storage.share()
    return r


def reshape(a, newshape, order="C", reverse=False):
    if order != "C":
        if not isinstance(order, str):
            raise ArgumentTypeError(f"reshape: order must be a str, not {type(order).__name__}")
        if order in ("F", "A", "K"):
            raise UnsupportedError(f"reshape: order={order!r} is not supported (only 'C')")
        raise ArgumentError(f"reshape: order must be one of 'C', 'F', 'A' or 'K', got "
                            f"order={order!r}")
    a = _arr(a)
    newshape = as_ints(newshape, "newshape", "reshape")
    if newshape == a.shape and not (requires_grad(a) and _state.is_recording()):
        return a._shared(a.shape, a._strides, a._offset)    # still a new array, as MXNet
    return invoke(_reshape_op, [a], shape=newshape)


def ravel(a, order="C"):
    if order == "F":    # column-major: the axes reversed, read in C order
        return reshape(transpose(_arr(a)), (-1,))
    return reshape(a, (-1,), order=order)


def _arr(a):
    return a if isinstance(a, ndarray) else array(a)


# --- transpose family --------------------------------------------------------------------------
def _transpose_fwd(ctx, a, axes):
    ctx.axes = axes
    return a._shared(tuple(a.shape[i] for i in axes), tuple(a._strides[i] for i in axes),
                     a._offset)


def _transpose_bwd(ctx, g):
    inv = [0] * len(ctx.axes)
    for i, ax in enumerate(ctx.axes):
        inv[ax] = i
    return (transpose(g, tuple(inv)),)


_transpose_op = register("transpose", _transpose_fwd, _transpose_bwd)


def transpose(a, axes=None):
    a = _arr(a)
    if axes is None:
        axes = tuple(range(a.ndim - 1, -1, -1))
    else:
        axes = as_ints(axes, "axes", "transpose")
        if len(axes) != a.ndim:
            raise AxisError(f"axes don't match array: got {len(axes)} axes for a "
                            f"{a.ndim}-dimensional array")
        axes = tuple(normalize_axis(x, a.ndim) for x in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise AxisError(f"repeated axis in transpose: {axes}")
    return invoke(_transpose_op, [a], axes=axes)


def swapaxes(a, axis1, axis2):
    a = _arr(a)
    i = normalize_axis(axis1, a.ndim, "axis1")
    j = normalize_axis(axis2, a.ndim, "axis2")
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, axes)


def moveaxis(a, source, destination):
    a = _arr(a)
    src = [normalize_axis(s, a.ndim, "source") for s in
           (source if isinstance(source, (tuple, list)) else [source])]
    dst = [normalize_axis(d, a.ndim, "destination") for d in
           (destination if isinstance(destination, (tuple, list)) else [destination])]
    if len(src) != len(dst):
        raise ArgumentError(f"moveaxis: source and destination must have the same number of "
                            f"elements (got {len(src)} and {len(dst)})")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def expand_dims(a, axis):
    a = _arr(a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = a.ndim + len(axes)
    axes = normalize_axes(axes, nd)
    shape = list(a.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return reshape(a, tuple(shape))


def squeeze(a, axis=None):
    a = _arr(a)
    if axis is None:
        axes = [i for i, n in enumerate(a.shape) if n == 1]
    else:
        axes = normalize_axes(axis, a.ndim)
        for ax in axes:
            if a.shape[ax] != 1:
                raise ShapeError("cannot select an axis to squeeze out which has size not equal "
                                 "to one")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def _broadcast_fwd(ctx, a, shape):
    ctx.shape = a.shape
    nd = len(shape)
    pad = nd - a.ndim
    strides = [0] * nd
    for i in range(a.ndim):
        if a.shape[i] == shape[i + pad]:
            strides[i + pad] = a._strides[i] if a.shape[i] != 1 else 0
        elif a.shape[i] != 1:
            raise ShapeError(f"cannot broadcast array of shape {a.shape} to shape {shape}")
    return a._view(shape, tuple(strides), a._offset)


def _broadcast_bwd(ctx, g):
    from .elementwise import unbroadcast
    return (unbroadcast(g, ctx.shape),)


_broadcast_op = register("broadcast_to", _broadcast_fwd, _broadcast_bwd)


def broadcast_to(a, shape):
    a = _arr(a)
    shape = as_ints(shape, "shape", "broadcast_to")
    if len(shape) < a.ndim:
        raise ShapeError(f"cannot broadcast array of shape {a.shape} to a shape with fewer "
                         f"dimensions {shape}")
    if shape == a.shape:
        return a
    return invoke(_broadcast_op, [a], shape=shape)


def broadcast_arrays(*arrays):
    arrays = [_arr(a) for a in arrays]
    shape = broadcast_shapes(*[a.shape for a in arrays])
    return [broadcast_to(a, shape) for a in arrays]


# --- basic indexing ------------------------------------------------------------------------
def _getitem_fwd(ctx, a, key):
    ctx.shape, ctx.dtype, ctx.key = a.shape, a.dtype, key
    shape, strides, offset = basic_view(a.shape, a._strides, a._offset, key)
    v = a._view(shape, strides, offset)
    # MXNet's rule: a result contiguous in memory is a view (writes reach the source), any
    # other (steps, columns) a new array
    return v if v._is_c_contiguous() else _new_array(a, v)


def _getitem_bwd(ctx, g):
    return (invoke(_scatter_op, [g], shape=ctx.shape, key=ctx.key),)


def _scatter_fwd(ctx, g, shape, key):
    """The vjp of basic indexing: zeros with ``g`` written at ``key``."""
    ctx.key = key
    out = zeros(shape, dtype=g.dtype, device=g.device)
    sh, st, off = basic_view(out.shape, out._strides, out._offset, key)
    assign(out._view(sh, st, off), g)
    return out


_getitem_op = register("getitem", _getitem_fwd, _getitem_bwd)
_scatter_op = register("getitem_backward", _scatter_fwd,
                       lambda ctx, g: (getitem(g, ctx.key),))


def getitem(a, key):
    need_array(a, "a", "getitem")
    if is_basic(key):
        return invoke(_getitem_op, [a], key=key)
    return late.advanced_getitem(a, key)


def _setitem_fwd(ctx, a, value, key):
    """Out-of-place form of ``a[key] = value`` used while recording."""
    ctx.key = key
    ctx.vshape = value.shape if isinstance(value, ndarray) else None
    out = copy_raw(a)
    sh, st, off = basic_view(out.shape, out._strides, out._offset, key)
    assign(out._view(sh, st, off), value)
    return out


def _setitem_bwd(ctx, g):
    from .elementwise import unbroadcast
    ga = invoke(_setitem_op, [g, 0.0], key=ctx.key)
    gv = None
    if ctx.vshape is not None:
        gv = unbroadcast(getitem(g, ctx.key), ctx.vshape)
    return ga, gv


_setitem_op = register("setitem", _setitem_fwd, _setitem_bwd)


def setitem(a, key, value):
    """``a[key] = value`` with NumPy broadcasting of ``value``; bumps ``a``'s version."""
    need_array(a, "a", "setitem")
    if not isinstance(value, ndarray):
        if isinstance(value, (_np.ndarray, list, tuple)):
            value = array(_np.asarray(value), dtype=a.dtype, device=a.device)
        elif not isinstance(value, (numbers.Number, _np.generic)):
            raise DTypeError(f"setitem: cannot assign a value of type {type(value).__name__} "
                             f"to an array of {a.dtype}")
    if isinstance(key, list) or not is_basic(key):
        return late.advanced_setitem(a, key, value)
    check_assignable(a, "a[key] = value")
    if _state.is_recording() and requires_grad(value):
        sh, st, off = basic_view(a.shape, a._strides, a._offset, key)
        if isinstance(value, ndarray):
            broadcast_shapes(sh, value.shape)
        res = invoke(_setitem_op, [a, value], key=key)
        assign(a, res)
        a._ag_node, a._ag_index = res._ag_node, res._ag_index
        return
    sh, st, off = basic_view(a.shape, a._strides, a._offset, key)
    assign(a._view(sh, st, off), value)     # checks the value's shape before writing


def npx_shape(src, codes, reverse=False):
    """The shape MXNet's ``npx.reshape`` makes of ``src`` from ``codes``: a positive size,
    -1 (inferred), -2 (copy this dimension), -3 (drop this dimension, which must be 1), -4
    (copy all remaining dimensions), -5 (merge this dimension and the next), -6 (split this
    dimension in the two sizes that follow, one of which may be -1). ``reverse``: match
    from the right."""
    src = tuple(src)
    codes = as_ints(codes, "newshape", "npx.reshape")
    if reverse:
        # the codes read right to left: reverse both, resolve, reverse back (-6's two sizes
        # keep their order)
        rc, i = [], len(codes) - 1
        while i >= 0:
            if i >= 2 and codes[i - 2] == -6:
                rc += [-6, codes[i], codes[i - 1]]
                i -= 3
            else:
                rc.append(codes[i])
                i -= 1
        return tuple(reversed(npx_shape(src[::-1], rc)))
    out, infer, i, j = [], None, 0, 0

    def need(k, code):
        if j + k > len(src):
            raise ShapeError(f"npx.reshape: code {code} at position {i} needs {k} more "
                             f"dimension(s) of the input shape {src}")
    while i < len(codes):
        c = codes[i]
        if c > 0 or c == 0:
            if c == 0:
                raise ShapeError(f"npx.reshape: size 0 at position {i} of {codes} (MXNet's "
                                 "npx.reshape copies a dimension with -2)")
            out.append(c)
            j += 1
        elif c == -1:
            if infer is not None:
                raise ShapeError(f"npx.reshape: more than one -1 in {codes}")
            infer = len(out)
            out.append(1)
            j += 1
        elif c == -2:
            need(1, c)
            out.append(src[j])
            j += 1
        elif c == -3:
            need(1, c)
            if src[j] != 1:
                raise ShapeError(f"npx.reshape: -3 drops a dimension of size 1, but dimension {j} "
                                 f"of {src} is {src[j]}")
            j += 1
        elif c == -4:
            out.extend(src[j:])
            j = len(src)
        elif c == -5:
            need(2, c)
            out.append(src[j] * src[j + 1])
            j += 2
        elif c == -6:
            if i + 2 >= len(codes):
                raise ShapeError(f"npx.reshape: -6 must be followed by two sizes in {codes}")
            need(1, c)
            a, b = codes[i + 1], codes[i + 2]
            if a == -1 and b == -1 or a < -1 or b < -1 or 0 in (a, b):
                raise ShapeError(f"npx.reshape: -6 splits into two positive sizes, one of which "
                                 f"may be -1; got {a}, {b}")
            n = src[j]
            a = n // b if a == -1 else a
            b = n // a if b == -1 else b
            if a * b != n:
                raise ShapeError(f"npx.reshape: cannot split dimension {j} of size {n} into "
                                 f"{a} x {b}")
            out += [a, b]
            j += 1
            i += 2
        else:
            raise ShapeError(f"npx.reshape: unknown code {c} in {codes}")
        i += 1
    size = 1
    for s in src:
        size *= s
    if infer is not None:
        known = 1
        for k, s in enumerate(out):
            if k != infer:
                known *= s
        if known == 0 or size % known:
            raise ShapeError(f"npx.reshape: cannot reshape array of shape {src} into {codes}")
        out[infer] = size // known
    total = 1
    for s in out:
        total *= s
    if total != size:
        raise ShapeError(f"npx.reshape: cannot reshape array of shape {src} into {codes} "
                         f"(gives {tuple(out)})")
    return tuple(out)


def npx_reshape(a, newshape, reverse=False, order="C"):
    """MXNet's ``npx.reshape``: ``reshape`` with MXNet's special codes (see ``npx_shape``)."""
    a = _arr(a)
    return reshape(a, npx_shape(a.shape, newshape, reverse), order=order)


late.bind(reshape=reshape)
