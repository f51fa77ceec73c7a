"""The optimizers' errors, and how a bound is passed to the update kernels: below both the
Optimizer base class and the fused kernels that it launches."""
from ..base import MXNetError


class OptimizerError(MXNetError, ValueError):
    """An unknown optimizer name, or settings that do not fit together (MXNet raises
    ValueError or fails an assertion there)."""


class OptimizerTypeError(MXNetError, TypeError):
    """An argument of the wrong kind: an unknown keyword, a weight that is not an array."""


def active_bound(value):
    """A bound the kernels apply: ``value`` when it is set and positive, else -1 (off), as
    MXNet passes a clip only when it is truthy and its kernels apply it when >= 0."""
    return float(value) if value is not None and value > 0 else -1.0
