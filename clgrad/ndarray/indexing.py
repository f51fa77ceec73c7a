"""Basic indexing (ints, slices with steps, None, Ellipsis) resolved to a view: no copy."""
import numbers

from ..base import MXNetError


class IndexOutOfRange(MXNetError, IndexError):
    pass


class InvalidIndexError(MXNetError, IndexError):
    """An index NumPy rejects for its form (two ellipses): an ``IndexError``."""


def is_basic(key):
    """True when ``key`` uses only ints, slices, None and Ellipsis."""
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        if k is None or k is Ellipsis or isinstance(k, slice):
            continue
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            continue
        if hasattr(k, "__index__") and not hasattr(k, "shape") and not isinstance(k, bool):
            continue
        return False
    return True


def basic_view(shape, strides, offset, key):
    """(shape, strides, offset) of ``array[key]`` for a basic index ``key`` (element strides)."""
    items = list(key) if isinstance(key, tuple) else [key]
    n_ell = sum(1 for k in items if k is Ellipsis)
    if n_ell > 1:
        raise InvalidIndexError("an index can only have a single ellipsis ('...')")
    n_used = sum(1 for k in items if k is not None and k is not Ellipsis)
    if n_used > len(shape):
        raise IndexOutOfRange(f"too many indices for array: array is {len(shape)}-dimensional, "
                              f"but {n_used} were indexed")
    if n_ell:
        i = next(j for j, k in enumerate(items) if k is Ellipsis)
        items[i:i + 1] = [slice(None)] * (len(shape) - n_used)
    else:
        items += [slice(None)] * (len(shape) - n_used)
    out_shape, out_strides = [], []
    dim = 0
    for k in items:
        if k is None:
            out_shape.append(1)
            out_strides.append(0)
            continue
        n, st = shape[dim], strides[dim]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            length = len(range(start, stop, step))
            if length:
                offset += start * st
            out_shape.append(length)
            out_strides.append(st * step)
        else:
            i = k.__index__()
            if i < -n or i >= n:
                raise IndexOutOfRange(f"index {i} is out of bounds for axis {dim} with size {n}")
            offset += (i % n) * st
        dim += 1
    return tuple(out_shape), tuple(out_strides), offset
