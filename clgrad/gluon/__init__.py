"""``clgrad.gluon``: MXNet 2.x's Gluon API (NumPy mode) for building and training models."""
from .block import Block, BlockError, HybridBlock  # noqa: F401
from .parameter import (Constant, DeferredInitializationError, Parameter,  # noqa: F401
                        ParameterDict, ParameterError)
from .trainer import DistributedTrainer, Trainer  # noqa: F401
from . import data, loss, metric, nn, parameter, rnn, utils  # noqa: F401
