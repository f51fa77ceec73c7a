"""Shape manipulation that copies: concatenate, stack, split, tile, repeat, flip, roll, pad,
diag, tril/triu, ... Most are compositions of recorded ops (views, concatenate, take), so their
gradients (and gradients of gradients) come from those ops' vjps."""
import numbers

import numpy as _np

from .. import dtypes as dt
from ..base import DTypeError, MXNetError, ShapeError
from ..ndarray import ndarray
from ..ndarray.indexing import basic_view
from . import launch
from .args import as_flag, as_int, as_ints, sequence
from .core import array, copy, fill, same_device, zeros
from .reduce import AxisError, normalize_axes, normalize_axis
from .registry import invoke, register
from .shape import broadcast_to, expand_dims, getitem, ravel, reshape, transpose

__all__ = ["append", "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack",
           "concatenate", "diag", "diagflat", "diagonal", "dsplit", "dstack", "flip", "fliplr",
           "flipud", "hsplit", "hstack", "meshgrid", "pad", "repeat", "roll", "rot90",
           "row_stack", "split", "stack", "tile", "tril", "triu", "vsplit", "vstack"]


class ManipArgumentError(MXNetError, ValueError):
    """An argument that is not one of the accepted values (a mode, a pair of axes, ...)."""


def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def _axis_slice(ndim, axis, sl):
    return tuple(sl if d == axis else slice(None) for d in range(ndim))


# --- concatenate -------------------------------------------------------------------------------
def _concat_fwd(ctx, *arrays, axis, dtype):
    shape = list(arrays[0].shape)
    shape[axis] = sum(x.shape[axis] for x in arrays)
    out = ndarray._empty(tuple(shape), dtype, arrays[0].device)
    bounds, start = [], 0
    for x in arrays:
        stop = start + x.shape[axis]
        bounds.append((start, stop))
        if x.size:
            view = out[_axis_slice(out.ndim, axis, slice(start, stop))]
            launch.elementwise("copy", view, [x], "v0", [dtype])
        start = stop
    ctx.bounds, ctx.axis, ctx.dtypes = bounds, axis, [x.dtype for x in arrays]
    return out


def _concat_bwd(ctx, g):
    grads = []
    for (start, stop), d in zip(ctx.bounds, ctx.dtypes):
        gi = getitem(g, _axis_slice(g.ndim, ctx.axis, slice(start, stop)))
        grads.append(gi.astype(d) if d != g.dtype and d.kind == "f" else gi)
    return tuple(grads)


_concat_op = register("concatenate", _concat_fwd, _concat_bwd)


def concatenate(seq, axis=0, out=None, dtype=None):
    """Join arrays along an existing axis (None: flatten them first)."""
    arrays = [_as_array(x) for x in sequence(seq, "seq", "concatenate")]
    if not arrays:
        raise ShapeError("concatenate: need at least one array to concatenate")
    same_device(arrays, "concatenate")
    if axis is None:
        arrays = [ravel(x) for x in arrays]
        axis = 0
    nd = arrays[0].ndim
    if nd == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, nd)
    for i, x in enumerate(arrays):
        if x.ndim != nd:
            raise ShapeError(f"all the input arrays must have same number of dimensions, but the "
                             f"array at index 0 has {nd} dimension(s) and the array at index {i} "
                             f"has {x.ndim} dimension(s)")
        for d in range(nd):
            if d != axis and x.shape[d] != arrays[0].shape[d]:
                raise ShapeError(f"all the input array dimensions except for the concatenation "
                                 f"axis must match exactly, but along dimension {d}, the array "
                                 f"at index 0 has size {arrays[0].shape[d]} and the array at "
                                 f"index {i} has size {x.shape[d]}")
    dtype = dt.as_dtype(dtype) or dt.result_type(*[x.dtype for x in arrays])
    dt.check_device(dtype, arrays[0].device)
    res = invoke(_concat_op, arrays, axis=axis, dtype=dtype)
    if out is not None:
        from .core import assign
        return assign(out, res)
    return res


def append(arr, values, axis=None):
    arr, values = _as_array(arr), _as_array(values)
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def stack(arrays, axis=0, out=None):
    """Join arrays of one shape along a new axis."""
    arrays = [_as_array(x) for x in sequence(arrays, "arrays", "stack")]
    if not arrays:
        raise ShapeError("stack: need at least one array to stack")
    shape = arrays[0].shape
    if any(x.shape != shape for x in arrays):
        raise ShapeError("all input arrays must have the same shape, got " +
                         ", ".join(str(x.shape) for x in arrays))
    axis = normalize_axes(axis, len(shape) + 1)[0]
    return concatenate([expand_dims(x, axis) for x in arrays], axis=axis, out=out)


def atleast_1d(*arys):
    res = [a if a.ndim >= 1 else reshape(a, (1,)) for a in map(_as_array, arys)]
    return res[0] if len(res) == 1 else res


def atleast_2d(*arys):
    res = []
    for a in map(_as_array, arys):
        res.append(a if a.ndim >= 2 else reshape(a, (1,) * (2 - a.ndim) + a.shape))
    return res[0] if len(res) == 1 else res


def atleast_3d(*arys):
    res = []
    for a in map(_as_array, arys):
        if a.ndim == 0:
            a = reshape(a, (1, 1, 1))
        elif a.ndim == 1:
            a = reshape(a, (1, a.shape[0], 1))
        elif a.ndim == 2:
            a = reshape(a, a.shape + (1,))
        res.append(a)
    return res[0] if len(res) == 1 else res


def _listed(tup):
    arrs = [atleast_1d(x) for x in sequence(tup, "tup", "stacking")]
    if not arrs:
        raise ShapeError("stacking: need at least one array to concatenate")
    return arrs


def vstack(tup):
    return concatenate([atleast_2d(x) for x in _listed(tup)], axis=0)


row_stack = vstack


def hstack(tup):
    arrs = _listed(tup)
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


def dstack(tup):
    return concatenate([atleast_3d(x) for x in _listed(tup)], axis=2)


def column_stack(tup):
    arrs = []
    for x in _listed(tup):
        arrs.append(reshape(x, (x.shape[0], 1)) if x.ndim == 1 else x)
    return concatenate(arrs, axis=1)


# --- split -------------------------------------------------------------------------------------
def _split_at(ary, points, axis):
    n = ary.shape[axis]
    bounds = [0] + list(points) + [n]
    return [getitem(ary, _axis_slice(ary.ndim, axis, slice(s, e)))
            for s, e in zip(bounds[:-1], bounds[1:])]


def _sections(indices_or_sections):
    if isinstance(indices_or_sections, ndarray):
        indices_or_sections = indices_or_sections.asnumpy().tolist()
    if isinstance(indices_or_sections, (numbers.Integral, _np.integer)):
        return int(indices_or_sections), None
    return None, list(as_ints(indices_or_sections, "indices_or_sections", "split", True))


def split(ary, indices_or_sections, axis=0):
    """Views of ``ary`` split into equal sections, or at the given indices, along ``axis``."""
    ary = _as_array(ary)
    if ary.ndim == 0:
        raise AxisError("split: cannot split a 0-d array")
    axis = normalize_axis(axis, ary.ndim)
    sections, points = _sections(indices_or_sections)
    if points is not None:
        return _split_at(ary, points, axis)
    n = ary.shape[axis]
    if sections <= 0:
        raise ShapeError("number sections must be larger than 0.")
    if n % sections:
        raise ShapeError(f"array split does not result in an equal division: axis {axis} of "
                         f"length {n} into {sections} sections")
    step = n // sections
    return _split_at(ary, [step * i for i in range(1, sections)], axis)


def array_split(ary, indices_or_sections, axis=0):
    """Like ``split``, but a section count need not divide the axis (the first parts grow)."""
    ary = _as_array(ary)
    if ary.ndim == 0:
        raise AxisError("array_split: cannot split a 0-d array")
    axis = normalize_axis(axis, ary.ndim)
    sections, points = _sections(indices_or_sections)
    if points is not None:
        return _split_at(ary, points, axis)
    if sections <= 0:
        raise ShapeError("number sections must be larger than 0.")
    each, extra = divmod(ary.shape[axis], sections)
    try:
        sizes = [each + 1] * extra + [each] * (sections - extra)
    except MemoryError:
        from ..base import OutOfMemoryError
        raise OutOfMemoryError(f"array_split: {sections} sections (one array each) do not fit "
                               "in host memory") from None
    return _split_at(ary, list(_np.cumsum(sizes[:-1])), axis)


def hsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if ary.ndim == 0:
        raise ShapeError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, axis=1 if ary.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if ary.ndim < 2:
        raise ShapeError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    ary = _as_array(ary)
    if ary.ndim < 3:
        raise ShapeError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, axis=2)


# --- tile / repeat -----------------------------------------------------------------------------
def tile(A, reps):
    """``A`` repeated ``reps`` times along each axis (a broadcast, then one copy)."""
    A = _as_array(A)
    reps = as_ints(reps, "reps", "tile", truncate=True)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: negative repetitions {reps}")
    nd = max(len(reps), A.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - A.ndim) + A.shape
    if all(r == 1 for r in reps):
        return copy(reshape(A, shape))
    inter = tuple(v for n in shape for v in (1, n))
    wide = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    return reshape(broadcast_to(reshape(A, inter), wide), tuple(r * n for r, n in zip(reps, shape)))


def repeat(a, repeats, axis=None):
    """Each element repeated ``repeats`` times (an int, or one count per element) along ``axis``."""
    from .indexing import take
    a = _as_array(a)
    if axis is None:
        a = ravel(a)
        axis = 0
    elif a.ndim == 0:
        raise AxisError("repeat: axis given for a 0-d array")
    axis = normalize_axis(axis, a.ndim)
    n = a.shape[axis]
    if isinstance(repeats, ndarray):
        repeats = repeats.asnumpy()
    try:
        reps = _np.asarray(repeats)
    except ValueError as e:     # ragged nesting
        from ..base import ArrayConversionError
        raise ArrayConversionError(f"repeat: repeats cannot be converted to an array: {e}") \
            from None
    if reps.size == 0 and reps.dtype.kind == "f":
        reps = reps.astype(_np.int64)     # an empty list: no counts, of no particular type
    if reps.dtype.kind not in "iub":
        raise DTypeError(f"repeat: repeats must be integers, got {reps.dtype}")
    if reps.size == 1:
        r = int(reps.reshape(-1)[0])
        if r < 0:
            raise ShapeError("repeat: negative dimensions are not allowed")
        shape = a.shape[:axis + 1] + (r,) + a.shape[axis + 1:]
        wide = broadcast_to(expand_dims(a, axis + 1), shape)
        return reshape(wide, a.shape[:axis] + (n * r,) + a.shape[axis + 1:])
    if reps.ndim != 1 or reps.size != n:
        raise ShapeError(f"repeat: repeats of shape {reps.shape} do not match axis {axis} of "
                         f"length {n}")
    if (reps < 0).any():
        raise ShapeError("repeat: negative dimensions are not allowed")
    return take(a, _np.repeat(_np.arange(n, dtype=_np.int64), reps), axis=axis)


# --- flips and rolls ---------------------------------------------------------------------------
def flip(m, axis=None):
    """A view of ``m`` with the order of elements reversed along ``axis`` (None: all)."""
    m = _as_array(m)
    axes = normalize_axes(axis, m.ndim)
    return getitem(m, tuple(slice(None, None, -1) if d in axes else slice(None)
                            for d in range(m.ndim)))


def fliplr(m):
    m = _as_array(m)
    if m.ndim < 2:
        raise ShapeError("fliplr: input must be >= 2-d")
    return flip(m, 1)


def flipud(m):
    m = _as_array(m)
    if m.ndim < 1:
        raise ShapeError("flipud: input must be >= 1-d")
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Elements shifted cyclically by ``shift`` along ``axis`` (None: the flattened array)."""
    a = _as_array(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    shifts, axes = _np.broadcast_arrays(_np.asarray(shift), _np.asarray(axis))
    total = {}
    for s, ax in zip(shifts.reshape(-1), axes.reshape(-1)):
        ax = normalize_axis(as_int(ax, "axis", "roll"), a.ndim)
        total[ax] = total.get(ax, 0) + as_int(s, "shift", "roll", truncate=True)
    res = a
    for ax, s in total.items():
        n = a.shape[ax]
        if n == 0 or s % n == 0:
            continue
        s %= n
        nd = res.ndim
        res = concatenate([getitem(res, _axis_slice(nd, ax, slice(n - s, None))),
                           getitem(res, _axis_slice(nd, ax, slice(0, n - s)))], axis=ax)
    return copy(res) if res is a else res


def rot90(m, k=1, axes=(0, 1)):
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (a view)."""
    m = _as_array(m)
    axes = as_ints(axes, "axes", "rot90")
    k = as_int(k, "k", "rot90")
    if len(axes) != 2:
        raise ManipArgumentError("rot90: len(axes) must be 2")
    if m.ndim < 2:
        raise ManipArgumentError(f"rot90: m must have at least 2 dimensions, got {m.ndim}")
    a0, a1 = (normalize_axis(x, m.ndim) for x in axes)
    if a0 == a1:
        raise ManipArgumentError("rot90: axes must be different")
    k %= 4
    if k == 0:
        return getitem(m, ())
    if k == 2:
        return flip(flip(m, a0), a1)
    order = list(range(m.ndim))
    order[a0], order[a1] = order[a1], order[a0]
    return transpose(flip(m, a1), order) if k == 1 else flip(transpose(m, order), a1)


# --- pad ---------------------------------------------------------------------------------------
def _pairs(x, ndim, what, as_int):
    arr = _np.asarray(x.asnumpy() if isinstance(x, ndarray) else x)
    try:
        arr = _np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: {what} of shape {arr.shape} cannot be broadcast to "
                         f"({ndim}, 2)") from None
    if as_int:
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind != "f" or (arr != _np.round(arr)).any():
                raise ManipArgumentError(f"pad: {what} must be integers")
        arr = arr.astype(_np.int64)
        if (arr < 0).any():
            raise ShapeError(f"pad: {what} must not contain negative values")
    return arr.tolist()


def _pad_fwd(ctx, a, widths, values):
    shape = tuple(n + b + e for n, (b, e) in zip(a.shape, widths))
    out = ndarray._empty(shape, a.dtype, a.device)
    inner = tuple(slice(b, b + n) for n, (b, _) in zip(a.shape, widths))
    if a.size:
        launch.elementwise("copy", _part(out, inner), [a], "v0", [a.dtype])
    # NumPy's order: axis by axis, each over the full extent of the axes before it and the
    # original extent of those after it, so a corner takes the value of its last axis
    for ax, ((b, e), (vb, ve)) in enumerate(zip(widths, values)):
        head = (slice(None),) * ax
        tail = inner[ax + 1:]
        if b:
            fill(_part(out, head + (slice(0, b),) + tail), vb)
        if e:
            fill(_part(out, head + (slice(shape[ax] - e, None),) + tail), ve)
    ctx.inner = inner
    return out


def _part(out, key):
    """The part of ``out`` at a basic ``key`` as a view to write through (``out[key]`` may be
    a new array: MXNet's rule for strided results)."""
    return out._view(*basic_view(out.shape, out._strides, out._offset, key))


_pad_op = register("pad", _pad_fwd, lambda ctx, g: (getitem(g, ctx.inner),))


def pad(array, pad_width, mode="constant", **kwargs):
    """NumPy's pad: 'constant' (``constant_values``), 'edge', 'reflect', 'symmetric', 'wrap'."""
    from .indexing import take
    a = _as_array(array)
    widths = _pairs(pad_width, a.ndim, "pad_width", True)
    if mode in ("constant", "empty"):
        values = _pairs(kwargs.pop("constant_values", 0), a.ndim, "constant_values", False)
        if kwargs:
            raise ManipArgumentError(f"pad: unsupported keyword arguments {sorted(kwargs)} "
                                     f"for mode {mode!r}")
        return invoke(_pad_op, [a], widths=widths, values=values)
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ManipArgumentError(f"pad: mode {mode!r} is not supported (use 'constant', "
                                 "'edge', 'reflect', 'symmetric' or 'wrap')")
    extra = {}
    if mode in ("reflect", "symmetric"):
        extra["reflect_type"] = kwargs.pop("reflect_type", "even")
    if kwargs:
        raise ManipArgumentError(f"pad: unsupported keyword arguments {sorted(kwargs)} for "
                                 f"mode {mode!r}")
    res = a
    for ax, (b, e) in enumerate(widths):
        if b == 0 and e == 0:
            continue
        n = a.shape[ax]
        if n == 0:
            raise ShapeError(f"pad: can't extend empty axis {ax} using modes other than "
                             "'constant' or 'empty'")
        # the source position of every output position along this axis, from NumPy itself
        src = _np.pad(_np.arange(n, dtype=_np.int64), (b, e), mode=mode, **extra)
        res = take(res, src, axis=ax)
    return copy(res) if res is a else res


# --- diagonals and triangles -------------------------------------------------------------------
def _diag_layout(shape, strides, offset, k, axis1, axis2):
    n1, n2 = shape[axis1], shape[axis2]
    s1, s2 = strides[axis1], strides[axis2]
    if k >= 0:
        length = max(0, min(n1, n2 - k))
        start = k * s2
    else:
        length = max(0, min(n1 + k, n2))
        start = -k * s1
    rest = [d for d in range(len(shape)) if d not in (axis1, axis2)]
    return (tuple(shape[d] for d in rest) + (length,),
            tuple(strides[d] for d in rest) + (s1 + s2,),
            offset + (start if length else 0))


def _diagonal_fwd(ctx, a, k, axis1, axis2):
    ctx.shape, ctx.k, ctx.axes = a.shape, k, (axis1, axis2)
    # a new array, as MXNet (NumPy: a read-only view): shared until written
    return a._shared(*_diag_layout(a.shape, a._strides, a._offset, k, axis1, axis2))


def _diagonal_bwd(ctx, g):
    return (invoke(_diag_put_op, [g], shape=ctx.shape, k=ctx.k, axis1=ctx.axes[0],
                   axis2=ctx.axes[1]),)


def _diag_put_fwd(ctx, g, shape, k, axis1, axis2):
    """Zeros of ``shape`` with ``g`` on the k-th diagonal of (axis1, axis2)."""
    ctx.k, ctx.axes = k, (axis1, axis2)
    out = zeros(shape, dtype=g.dtype, device=g.device)
    view = out._view(*_diag_layout(out.shape, out._strides, out._offset, k, axis1, axis2))
    if view.size:
        launch.elementwise("copy", view, [g], "v0", [g.dtype])
    return out


def _diag_put_bwd(ctx, gg):
    return (invoke(_diagonal_op, [gg], k=ctx.k, axis1=ctx.axes[0], axis2=ctx.axes[1]),)


_diagonal_op = register("diagonal", _diagonal_fwd, _diagonal_bwd)
_diag_put_op = register("diagonal_backward", _diag_put_fwd, _diag_put_bwd)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The ``offset``-th diagonal of the (axis1, axis2) planes, as the last axis (a view)."""
    a = _as_array(a)
    if a.ndim < 2:
        raise ShapeError("diagonal requires an array of at least two dimensions")
    ax1 = normalize_axis(axis1, a.ndim, "axis1")
    ax2 = normalize_axis(axis2, a.ndim, "axis2")
    if ax1 == ax2:
        raise ManipArgumentError("diagonal: axis1 and axis2 cannot be the same")
    return invoke(_diagonal_op, [a], k=as_int(offset, "offset", "diagonal", True), axis1=ax1,
                  axis2=ax2)


def diag(v, k=0):
    """The k-th diagonal of a 2-D array, or a 2-D array with the 1-D ``v`` on its k-th diagonal."""
    v = _as_array(v)
    k = as_int(k, "k", "diag", truncate=True)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        return invoke(_diag_put_op, [v], shape=(n, n), k=k, axis1=0, axis2=1)
    if v.ndim == 2:
        return diagonal(v, k)
    raise ShapeError(f"diag: input must be 1- or 2-d, got {v.ndim} dimensions")


def diagflat(v, k=0):
    return diag(ravel(_as_array(v)), k)


def _tri_fwd(ctx, m, k, lower):
    ctx.k, ctx.lower = k, lower
    out = ndarray._empty(m.shape, m.dtype, m.device)
    rows, cols = m.shape[-2], m.shape[-1]
    keep = "<=" if lower else ">="
    zero = f"({dt.compute_ctype(m.dtype)})0"
    # a diagonal past the matrix keeps all or nothing however far it is: within int64, k
    # would otherwise wrap as a scalar operand does
    k = max(-rows - 1, min(cols + 1, k))
    launch.elementwise("tril" if lower else "triu", out, [m, cols, rows, k],
                       f"((gid % v1) - ((gid / v1) % v2) {keep} v3) ? v0 : {zero}",
                       [m.dtype, dt.int64, dt.int64, dt.int64])
    return out


_tri_op = register("tri", _tri_fwd,
                   lambda ctx, g: (invoke(_tri_op, [g], k=ctx.k, lower=ctx.lower),))


def _tri(m, k, lower):
    m = _as_array(m)
    if m.ndim == 0:
        raise ShapeError(f"{'tril' if lower else 'triu'}: input must be at least 1-d")
    if m.ndim == 1:
        m = broadcast_to(m, (m.shape[0], m.shape[0]))
    return invoke(_tri_op, [m], k=as_int(k, "k", "tril" if lower else "triu", truncate=True),
                  lower=lower)


def tril(m, k=0):
    """``m`` with the elements above the k-th diagonal zeroed (the last two axes)."""
    return _tri(m, k, True)


def triu(m, k=0):
    """``m`` with the elements below the k-th diagonal zeroed (the last two axes)."""
    return _tri(m, k, False)


_copy_array = copy     # (meshgrid's ``copy`` parameter hides the function)


def meshgrid(*xi, indexing="xy", sparse=False, copy=True):
    """Coordinate matrices from 1-D coordinate vectors (NumPy's ``meshgrid``): ``indexing``
    'xy' (Cartesian: the first two outputs' axes swapped) or 'ij' (matrix); ``sparse`` keeps
    size-1 axes instead of broadcasting. Each output is a recorded op of its input."""
    if not isinstance(indexing, str) or indexing not in ("xy", "ij"):
        raise ManipArgumentError(f"meshgrid: indexing must be 'xy' or 'ij', got "
                                 f"indexing={indexing!r}")
    xs = [ravel(x if isinstance(x, ndarray) else array(x)) for x in xi]
    same_device(xs, "meshgrid")
    n = len(xs)
    shapes = []
    for i, x in enumerate(xs):
        s = [1] * n
        s[i] = x.shape[0]
        if indexing == "xy" and n > 1 and i < 2:
            s[0], s[1] = s[1], s[0]
        shapes.append(tuple(s))
    out = [reshape(x, s) for x, s in zip(xs, shapes)]
    if as_flag(sparse, "sparse", "meshgrid"):
        return out
    full = tuple(max(s[k] for s in shapes) for k in range(n))
    out = [broadcast_to(o, full) for o in out]
    return [_copy_array(o) for o in out] if as_flag(copy, "copy", "meshgrid") else out
