"""``clgrad.np.linalg``: norms and products (MXNet's ``mxnet.np.linalg``, NumPy's ``numpy.linalg``).

Factorisations and solvers (svd, qr, cholesky, inv, solve, det, eig*, lstsq, pinv, ...) are not
provided; asking for one raises an ``MXNetError`` that says so.
"""
from ..base import MXNetError  # noqa: F401  (np.linalg.MXNetError stays importable)
from ..base import UnsupportedError
from ..ndarray import ndarray as _ndarray
from ..ops.linalg import matmul, norm, outer, tensordot

__all__ = ["matmul", "matrix_norm", "matrix_transpose", "norm", "outer", "tensordot", "vecdot",
           "vector_norm"]

_NOT_PROVIDED = ("cholesky", "cond", "det", "eig", "eigh", "eigvals", "eigvalsh", "inv",
                 "lstsq", "matrix_power", "matrix_rank", "multi_dot", "pinv", "qr", "slogdet",
                 "solve", "svd", "svdvals", "tensorinv", "tensorsolve")


def vector_norm(x, axis=None, keepdims=False, ord=2):
    """The array API's vector norm: over all elements when ``axis`` is None."""
    from ..ops.linalg import as_float_input, vector_norm_over
    from ..ops.reduce import normalize_axes
    x = as_float_input(x)
    return vector_norm_over(x, ord, normalize_axes(axis, x.ndim), keepdims)


def matrix_norm(x, keepdims=False, ord="fro"):
    """The array API's matrix norm over the last two axes."""
    from ..base import ShapeError
    from ..ops.linalg import as_float_input, matrix_norm_over
    x = as_float_input(x)
    if x.ndim < 2:
        raise ShapeError(f"matrix_norm: needs at least 2 dimensions, got shape {x.shape}")
    return matrix_norm_over(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)


def matrix_transpose(x):
    """Swap the last two axes (a view)."""
    from ..base import ShapeError
    from ..ops import swapaxes
    if not isinstance(x, _ndarray) or x.ndim < 2:
        raise ShapeError("matrix_transpose: needs an array of at least 2 dimensions")
    return swapaxes(x, -1, -2)


def vecdot(x1, x2, axis=-1):
    """Sum product over ``axis`` after broadcasting (real arrays: no conjugation)."""
    from ..ops import broadcast_arrays, moveaxis
    from ..ops.linalg import matmul as _mm
    from ..ops.shape import expand_dims, reshape
    from ..ops.reduce import normalize_axis
    a, b = broadcast_arrays(x1, x2)
    normalize_axis(axis, a.ndim)        # (refused here by its own name, not moveaxis's)
    a = moveaxis(a, axis, -1)
    b = moveaxis(b, axis, -1)
    r = _mm(expand_dims(a, -2), expand_dims(b, -1))
    return reshape(r, r.shape[:-2])


class NotProvidedError(UnsupportedError, AttributeError):
    """A NumPy ``linalg`` function clgrad does not have: a ``NotImplementedError``, and an
    ``AttributeError`` so that ``hasattr`` and ``getattr(..., default)`` answer as for any
    missing attribute."""


def __getattr__(name):
    if name in _NOT_PROVIDED:
        raise NotProvidedError(f"np.linalg.{name} is not provided by clgrad (no factorisations "
                               "or solvers); linalg offers " + ", ".join(__all__))
    raise AttributeError(f"module 'clgrad.numpy.linalg' has no attribute {name!r}")
