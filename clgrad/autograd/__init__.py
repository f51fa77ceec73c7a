"""MXNet's autograd: record scopes, training flags, backward, grad and custom Functions."""
from .function import (Function, FunctionGradientError, FunctionGradientTypeError,  # noqa: F401
                       FunctionInitError, FunctionOutputError, FunctionReuseError)
from .graph import (is_recording, is_training, pause, predict_mode, record, set_recording,
                    set_training, train_mode)
from .tape import (AutogradArgumentError, AutogradTypeError, backward, grad,  # noqa: F401
                   mark_variables)


def get_symbol(x):
    from ..base import UnsupportedError
    raise UnsupportedError("get_symbol is not available: clgrad has no symbolic graphs")


__all__ = ["Function", "backward", "grad", "is_recording", "is_training", "mark_variables",
           "pause", "predict_mode", "record", "set_recording", "set_training", "train_mode"]
