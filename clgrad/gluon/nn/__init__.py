"""``clgrad.gluon.nn``: MXNet 2.x Gluon's neural network layers (NumPy mode)."""
from ..block import Block, HybridBlock  # noqa: F401  (MXNet's nn re-exports them: nn.Block)
from .activations import *
from .basic_layers import *
from .conv_layers import *
