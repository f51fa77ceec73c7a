"""The differentiable matrix products: matmul (NumPy's rules, batched and broadcast), tensordot,
dot, inner, outer, vdot.
"""
import numbers

import numpy as _np

from ... import dtypes as dt
from ...base import ArgumentTypeError, ShapeError
from ...ndarray import ndarray
from ..core import array, assign, astype, check_out, same_device
from ..registry import invoke, register
from .plans import _matmul_raw, _result_shape



# =============================================================================================
# Differentiable ops
# =============================================================================================
def _needs(ctx, i):
    return ctx.needs[i] if ctx.needs is not None else True


def _mm_fwd(ctx, a, b):
    ctx.save(a, b)
    return _matmul_raw(a, b) if a.dtype.kind != "c" else _complex_matmul_raw(a, b)


def _complex_matmul_raw(a, b):
    """A complex product from four real ones on the parts (strided views, no copies):
    (ar + i ai)(br + i bi) = (ar br - ai bi) + i (ar bi + ai br)."""
    from ..elementwise import add, imag, real, subtract
    ar, ai, br, bi = real(a), imag(a), real(b), imag(b)
    re = subtract(_matmul_raw(ar, br), _matmul_raw(ai, bi))
    im = add(_matmul_raw(ar, bi), _matmul_raw(ai, br))
    out = ndarray._empty(re.shape, a.dtype, a.device)
    assign(real(out), re)
    assign(imag(out), im)
    return out


def _mm_bwd(ctx, g):
    from ..elementwise import unbroadcast
    from ..shape import swapaxes
    a, b = ctx.saved
    ga = gb = None
    if _needs(ctx, 0):
        if g.ndim == 2 and _column_major(a):    # ga.T = b @ g.T, in a's own layout
            ga = swapaxes(_mm(b, swapaxes(g, -1, -2)), -1, -2)
        else:
            ga = unbroadcast(_mm(g, swapaxes(b, -1, -2)), a.shape)
    if _needs(ctx, 1):
        if g.ndim == 2 and _column_major(b):    # gb.T = g.T @ a
            gb = swapaxes(_mm(swapaxes(g, -1, -2), a), -1, -2)
        else:
            gb = unbroadcast(_mm(swapaxes(a, -1, -2), g), b.shape)
    return ga, gb


def _column_major(x):
    """Whether the matrix ``x`` is stored column by column (a transposed row-major matrix, such
    as a Dense weight's ``W.T``): its gradient is then computed in that layout, so that the
    gradient reaching the stored matrix is row-major and lands in ``.grad`` as one plain copy
    instead of a transposing one."""
    return x.ndim == 2 and x.shape[0] > 1 and x.shape[1] > 1 and x._strides[0] == 1 and \
        x._strides[1] == x.shape[0]


_matmul_op = register("matmul", _mm_fwd, _mm_bwd)


def _mm(a, b):
    """The recorded core product of two same-dtype arrays of at least 2 dimensions."""
    return invoke(_matmul_op, [a, b])


def _as_arrays(x, y, what):
    """Both operands as device arrays on one device (lists and NumPy arrays are uploaded)."""
    dev = same_device([x, y], what)
    out = []
    for v in (x, y):
        if not isinstance(v, ndarray):
            v = array(v, device=dev)
        out.append(v)
    return out


def _promote(a, b):
    rt = dt.result_type(a.dtype, b.dtype)
    dt.check_device(rt, a.device)
    if a.dtype != rt:
        a = astype(a, rt)
    if b.dtype != rt:
        b = astype(b, rt)
    return a, b


def _finish(res, out):
    if out is None:
        return res
    if not isinstance(out, ndarray):
        raise ArgumentTypeError(f"out must be a clgrad ndarray, not {type(out).__name__}")
    if out.shape != res.shape:
        raise ShapeError(f"out has shape {out.shape}, but the result has shape {res.shape}")
    return assign(out, res)


def matmul(a, b, out=None, **kwargs):
    """Matrix product with NumPy's rules: batched over leading dimensions (broadcast), 1-d
    operands promoted to matrices and the added dimension removed from the result."""
    if kwargs:
        raise ArgumentTypeError(f"matmul: unsupported arguments {sorted(kwargs)}")
    from ..shape import reshape
    for i, x in enumerate((a, b)):
        if isinstance(x, (numbers.Number, _np.generic)) or (isinstance(x, ndarray) and
                                                             x.ndim == 0):
            raise ShapeError(f"matmul: input operand {i} does not have enough dimensions "
                             "(has 0, the signature (n?,k),(k,m?)->(n?,m?) requires 1)")
    a, b = _as_arrays(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: input operand {0 if a.ndim == 0 else 1} does not have enough "
                         "dimensions (has 0, the signature (n?,k),(k,m?)->(n?,m?) requires 1)")
    a0, b0 = a.shape, b.shape
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ShapeError(f"matmul: shapes {a0} and {b0} are not aligned: size {a0[-1]} (last "
                         f"dimension of the first operand) != {b2.shape[-2]} "
                         f"({'dimension 0' if b.ndim == 1 else 'second-to-last dimension'} of "
                         "the second operand)")
    rshape = _result_shape(a2, b2)
    a2, b2 = _promote(a2, b2)
    if out is not None:
        if b.ndim == 1:
            rshape = rshape[:-1]
        if a.ndim == 1:
            rshape = rshape[:-2] + rshape[-1:] if b.ndim != 1 else rshape[:-1]
        check_out("matmul", out, rshape, a2.dtype, a2.device)
    res = _mm(a2, b2)
    if a.ndim == 1 or b.ndim == 1:
        shape = res.shape
        if b.ndim == 1:
            shape = shape[:-1]
        if a.ndim == 1:
            shape = shape[:-2] + shape[-1:] if b.ndim != 1 else shape[:-1]
        res = reshape(res, shape)
    return _finish(res, out)


def _is_scalar(x):
    return isinstance(x, (numbers.Number, _np.generic)) or (isinstance(x, ndarray) and
                                                             x.ndim == 0)


def _normalize_axis(ax, ndim, what):
    ax = int(ax)
    if ax < -ndim or ax >= ndim:
        from ..reduce import AxisError
        raise AxisError(f"{what}: axis {ax} is out of bounds for array of dimension {ndim}")
    return ax % ndim


def tensordot(a, b, axes=2):
    """Sum of products over ``axes`` (an int n: the last n of a with the first n of b; or a pair
    of sequences of axes)."""
    from ..shape import reshape, transpose
    a, b = _as_arrays(a, b, "tensordot")
    if isinstance(axes, numbers.Integral):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ShapeError(f"tensordot: cannot contract the last {n} axes of shape {a.shape} "
                             f"with the first {n} of shape {b.shape}")
        ax_a = list(range(a.ndim - n, a.ndim))
        ax_b = list(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ShapeError("tensordot: axes must be an int or a pair of sequences of axes") \
                from None
        ax_a = [ax_a] if isinstance(ax_a, numbers.Integral) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, numbers.Integral) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ShapeError(f"tensordot: axes {ax_a} and {ax_b} differ in length")
        ax_a = [_normalize_axis(x, a.ndim, "tensordot") for x in ax_a]
        ax_b = [_normalize_axis(x, b.ndim, "tensordot") for x in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ShapeError("tensordot: repeated axis in axes")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: shape-mismatch for sum: axis {i} of shape {a.shape} "
                             f"(size {a.shape[i]}) and axis {j} of shape {b.shape} (size "
                             f"{b.shape[j]})")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    K = 1
    for i in ax_a:
        K *= a.shape[i]
    M = 1
    for i in free_a:
        M *= a.shape[i]
    N = 1
    for j in free_b:
        N *= b.shape[j]
    at = transpose(a, free_a + ax_a) if free_a + ax_a != list(range(a.ndim)) else a
    bt = transpose(b, ax_b + free_b) if ax_b + free_b != list(range(b.ndim)) else b
    at = reshape(at, (M, K))
    bt = reshape(bt, (K, N))
    at, bt = _promote(at, bt)
    res = _mm(at, bt)
    return reshape(res, tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def dot(a, b, out=None):
    """NumPy's dot: product of scalars, inner product of vectors, matrix product of matrices,
    and for N-d arrays a sum product over the last axis of a and the second-to-last of b."""
    from ..elementwise import multiply
    if _is_scalar(a) or _is_scalar(b):
        return _finish(multiply(a, b), out)
    a, b = _as_arrays(a, b, "dot")
    if b.ndim == 1 or a.ndim == 1 and b.ndim <= 2:
        ka, kb = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
        if ka != kb:
            raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {ka} (dim "
                             f"{a.ndim - 1}) != {kb} (dim {0 if b.ndim == 1 else b.ndim - 2})")
    if a.ndim <= 2 and b.ndim <= 2:
        return _finish(matmul(a, b), out)
    if b.ndim == 1:
        return _finish(tensordot(a, b, ([a.ndim - 1], [0])), out)
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} (dim "
                         f"{a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})")
    return _finish(tensordot(a, b, ([a.ndim - 1], [b.ndim - 2])), out)


def inner(a, b):
    """Sum product over the last axes of a and b (a product when either is a scalar)."""
    from ..elementwise import multiply
    if _is_scalar(a) or _is_scalar(b):
        return multiply(a, b)
    a, b = _as_arrays(a, b, "inner")
    if a.ndim == 0 or b.ndim == 0:      # a 0-d array is a scalar here too
        return multiply(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: shapes {a.shape} and {b.shape} not aligned: last dimensions "
                         f"{a.shape[-1]} != {b.shape[-1]}")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def outer(a, b, out=None):
    """Outer product of the flattened inputs."""
    from ..elementwise import multiply
    from ..shape import reshape
    a, b = _as_arrays(a, b, "outer")
    return _finish(multiply(reshape(a, (-1, 1)), reshape(b, (1, -1))), out)


def vdot(a, b):
    """Dot product of the flattened inputs; a complex ``a`` is conjugated first (NumPy)."""
    from ..elementwise import conjugate
    from ..shape import reshape
    a, b = _as_arrays(a, b, "vdot")
    if a.dtype.kind == "c":
        a = conjugate(a)
    if a.size != b.size:
        raise ShapeError(f"vdot: inputs have different sizes: {a.size} (shape {a.shape}) and "
                         f"{b.size} (shape {b.shape})")
    return tensordot(reshape(a, (-1,)), reshape(b, (-1,)), 1)


def batch_dot(a, b, transpose_a=False, transpose_b=False, forward_stype=None):
    """MXNet's ``npx.batch_dot``: matrix products over a batch of N-d arrays ``(..., M, K)``
    and ``(..., K, N)`` (their last two axes swapped first where ``transpose_a``/``_b``)."""
    from ..shape import swapaxes
    a = a if isinstance(a, ndarray) else array(a)
    b = b if isinstance(b, ndarray) else array(b)
    if a.ndim < 3 or b.ndim < 3 or a.ndim != b.ndim:
        raise ShapeError(f"batch_dot: both operands must be batches of matrices of the same "
                         f"rank (>= 3), got shapes {a.shape} and {b.shape}")
    if a.shape[:-2] != b.shape[:-2]:
        raise ShapeError(f"batch_dot: batch dimensions differ: {a.shape} and {b.shape}")
    if transpose_a:
        a = swapaxes(a, -1, -2)
    if transpose_b:
        b = swapaxes(b, -1, -2)
    return matmul(a, b)
