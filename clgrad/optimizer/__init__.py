"""``clgrad.optimizer``: MXNet 2.x's optimizers (``mx.optimizer``) on generated OpenCL kernels.

``create('adam', learning_rate=...)`` or the classes themselves; ``fused.update`` runs an
update over lists of arrays, one launch per packed group (see ``optimizer.fused``).
"""
from . import fused  # noqa: F401
from .adam import Adam, AdamW
from .arena import Arena
from .lamb import LAMB
from .optimizer import (Optimizer, OptimizerError, OptimizerTypeError, SchedulerConflictError,
                        create, register)
from .rmsprop import AdaGrad, RMSProp
from .sgd import NAG, SGD

__all__ = ["Optimizer", "OptimizerError", "OptimizerTypeError", "SchedulerConflictError",
           "register", "create", "SGD", "NAG", "Adam", "AdamW", "RMSProp", "AdaGrad", "LAMB",
           "Arena", "fused"]
