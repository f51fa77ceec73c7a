"""Axis arguments: NumPy's rules for one axis and for a set of axes, and their error. Every op
family takes axes, so this sits below all of them."""
import numbers

from ..base import ArgumentTypeError, MXNetError


class AxisError(MXNetError, ValueError, IndexError):
    """An axis out of range (or repeated); NumPy's AxisError is both a ValueError and an
    IndexError."""


def normalize_axes(axis, ndim, name="axis"):
    """A sorted tuple of non-negative axes; None means all.

    Like NumPy's reductions, a 0-d array accepts the integer axis 0 or -1 (reducing nothing),
    but not inside a tuple.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        if ndim == 0 and int(axis) in (0, -1):
            return ()
        axis = (axis,)
    if not isinstance(axis, (tuple, list)):
        raise ArgumentTypeError(f"'{type(axis).__name__}' object cannot be interpreted as an "
                                f"integer {name}")
    out = []
    for a in axis:
        a = normalize_axis(a, ndim, name)
        if a in out:
            raise AxisError(f"duplicate value in '{name}': {a}")
        out.append(a)
    return tuple(sorted(out))


def normalize_axis(axis, ndim, name="axis"):
    """One axis (an integer, as NumPy's single-axis functions take) as a non-negative int."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise ArgumentTypeError(f"'{type(axis).__name__}' object cannot be interpreted as an "
                                f"integer {name}")
    a = int(axis)
    if a < -ndim or a >= ndim:
        raise AxisError(f"{name} {a} is out of bounds for array of dimension {ndim}")
    return a % ndim
