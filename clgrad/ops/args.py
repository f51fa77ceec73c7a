"""Checks of plain arguments (an integer, a tuple of integers, an array, a sequence of arrays)
shared by the ops. Each raises clgrad's error naming the function and the argument before any
work is done, where a bare ``int(x)`` or ``tuple(x)`` would raise Python's own error from deep
inside."""
import math
import numbers
import operator

from ..base import ArgumentError, ArgumentTypeError
from ..ndarray import ndarray


def as_int(value, name, what, truncate=False):
    """``value`` as a Python int: an integer (or an object with ``__index__``); with
    ``truncate``, also a finite real number, truncated as ``int()`` does (where the op took
    ``int(value)`` before these checks)."""
    if isinstance(value, numbers.Integral) or hasattr(value, "__index__"):
        try:
            return operator.index(value)
        except TypeError:
            pass
    elif truncate and isinstance(value, numbers.Real) and math.isfinite(value):
        return int(value)
    raise ArgumentTypeError(f"{what}: {name} must be an integer, got {value!r}")


def as_ints(value, name, what, truncate=False):
    """``value`` (an integer or a sequence of integers) as a tuple of Python ints."""
    if isinstance(value, ndarray):
        value = value.asnumpy().tolist()
    if isinstance(value, numbers.Number) or hasattr(value, "__index__"):
        return (as_int(value, name, what, truncate),)
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise ArgumentTypeError(f"{what}: {name} must be an integer or a sequence of integers, "
                                f"got {value!r}")
    return tuple(as_int(v, name, what, truncate) for v in value)


def need_array(x, name, what):
    """``x`` if it is a clgrad array (MXNet's functions take its arrays, not array-likes)."""
    if not isinstance(x, ndarray):
        raise ArgumentTypeError(f"{what}: {name} must be a clgrad array, not "
                                f"{type(x).__name__}")
    return x


def sequence(seq, name, what):
    """``seq`` (a list, a tuple or another iterable of arrays) as a list."""
    if isinstance(seq, (ndarray, str, bytes, dict)) or not hasattr(seq, "__iter__"):
        raise ArgumentTypeError(f"{what}: {name} must be a sequence of arrays, not "
                                f"{type(seq).__name__}")
    return list(seq)


def as_float(value, name, what):
    """``value`` (a real number) as a Python float."""
    if isinstance(value, numbers.Real) or hasattr(value, "__float__") and \
            not isinstance(value, (str, bytes, complex, ndarray)):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise ArgumentTypeError(f"{what}: {name} must be a real number, got {value!r}")


class TruthValueError(ArgumentError, TypeError):
    """A flag given something without a truth value (an array of several elements): a
    ``ValueError`` as an array's ``bool()`` raises, and a ``TypeError`` as NumPy raises for a
    flag it cannot read."""


def as_flag(value, name, what):
    """``value``'s truth value; an object that has none is refused by name."""
    try:
        return bool(value)
    except (TypeError, ValueError):
        raise TruthValueError(f"{what}: {name} must be a truth value, got {value!r}") from None
