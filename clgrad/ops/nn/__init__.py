"""Neural-network ops of the npx namespace: activations, the softmax family, one_hot, dropout,
layer and batch normalisation, fully connected, embedding, convolution and pooling.

Forwards are fused kernels (the elementwise family, the softmax row kernels of
templates/softmax.cl.mako, the im2col/pool kernels) or compositions of clgrad ops. Every vjp is
written in clgrad ops, so ``autograd.grad(..., create_graph=True)`` differentiates it again. Where
a vjp has a fast form that treats forward results as constants, it is used only while nothing is
being recorded; while recording (``create_graph``) those results are recomputed from the inputs
by recorded ops, so second derivatives see them.
"""
from .activations import (activation, gelu, leaky_relu, relu, sigmoid, softplus,  # noqa: F401
                          softsign)
from .common import ParameterError  # noqa: F401
from .conv import convolution, embedding, fully_connected, pooling  # noqa: F401
from .layers import (batch_norm, bernoulli, dropout, layer_norm, one_hot,  # noqa: F401
                     sequence_mask)
from .rows import (TUNABLE, log_softmax, masked_log_softmax, masked_softmax,  # noqa: F401
                      softmax)
from ..elementwise import tanh  # noqa: F401
from ..indexing import pick  # noqa: F401  (npx.pick: users write -pick(log_softmax(x), label))

__all__ = ["activation", "batch_norm", "convolution", "dropout", "embedding",
           "fully_connected", "gelu", "layer_norm", "leaky_relu", "log_softmax",
           "masked_log_softmax", "masked_softmax", "one_hot", "pick", "pooling", "relu",
           "sequence_mask", "sigmoid", "softmax", "softplus", "softsign", "tanh"]
