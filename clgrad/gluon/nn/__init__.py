"""``clgrad.gluon.nn``: MXNet 2.x Gluon's neural network layers (NumPy mode)."""
from .activations import *
from .basic_layers import *
from .conv_layers import *
