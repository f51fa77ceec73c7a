"""Errors shared by every layer of clgrad.

MXNet users catch ``MXNetError``; every error clgrad raises on purpose derives from it, and the
more specific ones also derive from the builtin that NumPy or Python would raise, so that
``except ValueError`` keeps working for shape problems.
"""


class MXNetError(RuntimeError):
    """Base class of clgrad's own errors (named as in MXNet, whose users catch it)."""


class ShapeError(MXNetError, ValueError):
    """Shapes that cannot be broadcast, reshaped or combined."""


class DTypeError(MXNetError, TypeError):
    """A dtype clgrad does not know, or one an operation does not accept."""


class ScalarConversionError(MXNetError, OverflowError, ValueError):
    """A Python number that no value of an operand's type stands for, even wrapped: an integer
    beyond every float (2**1100 into float32), infinity or NaN into an integer type. An
    ``OverflowError`` as NumPy and Python raise for the first two, a ``ValueError`` as they
    raise for NaN."""


class DeviceCapabilityError(MXNetError, TypeError):
    """The device lacks what a request needs (float64 without cl_khr_fp64, say)."""


class DeviceMismatchError(MXNetError, ValueError):
    """An operation mixes arrays that live on different devices."""


class OutOfMemoryError(MXNetError, MemoryError):
    """A device allocation failed even after the pool released the blocks it held."""


class KernelBuildError(MXNetError):
    """An OpenCL program failed to build; carries the device, the log and the saved source."""

    def __init__(self, message, device_name="", build_log="", source_path=None):
        super().__init__(message)
        self.device_name = device_name
        self.build_log = build_log
        self.source_path = source_path


class KernelFallbackWarning(UserWarning):
    """A kernel variant chosen for speed failed on this device; its family's plain variant runs
    instead (issued once per kernel family and device)."""


class GradReqError(MXNetError, KeyError, ValueError):
    """An unknown ``grad_req``: a ``KeyError`` as MXNet raises (and a ``ValueError``)."""

    def __str__(self):      # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AutogradError(MXNetError):
    """Misuse of the autograd engine (freed graph, unrecorded head, in-place write to a saved array)."""


class ArgumentError(MXNetError, ValueError):
    """An argument value an operation does not accept (a negative sample count, an unknown
    mode): a ``ValueError`` as NumPy raises."""


class ArgumentTypeError(MXNetError, TypeError):
    """An argument of a type an operation does not take: a ``TypeError`` as Python raises."""


class ZeroStepError(ArgumentError, ZeroDivisionError):
    """A step of zero (``arange(0, 5, 0)``): a ``ZeroDivisionError`` as NumPy and MXNet raise,
    and a ``ValueError``."""


class ArrayConversionError(MXNetError, TypeError, ValueError):
    """An object that cannot become an array (ragged nesting, strings, dicts): a ``TypeError``
    as MXNet raises, and a ``ValueError`` as NumPy raises for ragged lists and strings."""


class DeviceNotFoundError(MXNetError, ValueError):
    """A device that is not here (``gpu(0)`` on a machine without an OpenCL GPU, ``cpu(5)``, a
    device string or object that names none): a ``ValueError`` as NumPy raises for a device it
    does not understand."""


class UnsupportedError(MXNetError, NotImplementedError):
    """Something NumPy or MXNet offers that clgrad does not implement (yet)."""
