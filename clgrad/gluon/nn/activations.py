"""Activation layers of MXNet 2.x Gluon (``gluon.nn.Activation``, ``LeakyReLU``, ``PReLU``,
``ELU``, ``SELU``, ``GELU``, ``SiLU``, ``Swish``).

The errors every nn layer raises live here too: this module is the bottom of ``gluon.nn``
(basic and conv layers build on ``Activation``), so all three can import them.
"""
import math

from ... import init as _init
from ... import npx
from ... import numpy as np
from ...base import MXNetError, ShapeError
from ...ops.args import as_float, as_int
from ..block import HybridBlock
from ..parameter import Parameter

__all__ = ["ELU", "GELU", "SELU", "Activation", "LayerError", "LayerShapeError", "LeakyReLU",
           "PReLU", "SiLU", "Swish"]


class LayerError(MXNetError, AssertionError, ValueError):
    """A layer built with arguments MXNet rejects (an unsupported layout, a kernel size of the
    wrong length, an unknown activation); MXNet raises AssertionError or ValueError for these,
    and both catch it."""


class LayerShapeError(ShapeError):
    """An input whose shape does not fit the layer (rank, channels, units); the message names
    the layer and, where one is involved, the parameter."""


# the act_type names npx.activation accepts (MXNet 2.x's Activation operator)
ACTIVATION_TYPES = ("relu", "sigmoid", "tanh", "softrelu", "softsign", "log_sigmoid", "mish")


class Activation(HybridBlock):
    """An elementwise activation named by ``activation``: 'relu', 'sigmoid', 'tanh',
    'softrelu', 'softsign', 'log_sigmoid' or 'mish'."""

    _array_inputs = 1

    def __init__(self, activation):
        super().__init__()
        if not isinstance(activation, str) or activation not in ACTIVATION_TYPES:
            raise LayerError(f"Activation: unknown activation {activation!r}; expected one of "
                             f"{', '.join(ACTIVATION_TYPES)}")
        self._act_type = activation

    def forward(self, x):
        return npx.activation(x, act_type=self._act_type)

    def __repr__(self):
        return f"{type(self).__name__}({self._act_type})"


class LeakyReLU(HybridBlock):
    """x for x >= 0, ``alpha * x`` below (``alpha`` >= 0)."""

    _array_inputs = 1

    def __init__(self, alpha):
        super().__init__()
        if not alpha >= 0:
            raise LayerError(f"LeakyReLU: slope coefficient alpha must be no less than 0, got "
                             f"{alpha}")
        self._alpha = alpha

    def forward(self, x):
        return npx.leaky_relu(x, act_type="leaky", slope=self._alpha)

    def __repr__(self):
        return f"{type(self).__name__}({self._alpha})"


_PRELU_ALPHA = _init.Constant(0.25)     # stateless, so one instance serves every PReLU


class PReLU(HybridBlock):
    """LeakyReLU with a learned slope ``alpha``: one value (``in_channels=1``) shared by all
    elements, or one per channel (axis 1). Its shape is fixed at construction, as MXNet's."""

    _array_inputs = 1

    def __init__(self, alpha_initializer=_PRELU_ALPHA, in_channels=1):
        super().__init__()
        in_channels = as_int(in_channels, "in_channels", "PReLU", True)
        if in_channels < 1:
            raise LayerError(f"PReLU: in_channels must be at least 1, got {in_channels}")
        self.alpha = Parameter("alpha", shape=(in_channels,), init=alpha_initializer)

    def forward(self, x):
        n = self.alpha.shape[0]
        if n != 1 and (x.ndim < 2 or x.shape[1] != n):
            raise LayerShapeError(f"PReLU(in_channels={n}): input of shape {x.shape} does not "
                                  f"have {n} channels on axis 1 for parameter 'alpha' of shape "
                                  f"{self.alpha.shape}")
        return npx.leaky_relu(x, gamma=self.alpha.data(x.device), act_type="prelu")

    def __repr__(self):
        return f"{type(self).__name__}(in_channels={self.alpha.shape[0]})"


class ELU(HybridBlock):
    """x for x > 0, ``alpha * (exp(x) - 1)`` below."""

    _array_inputs = 1

    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def forward(self, x):
        return npx.leaky_relu(x, act_type="elu", slope=self._alpha)

    def __repr__(self):
        return f"{type(self).__name__}({self._alpha})"


class SELU(HybridBlock):
    """Scaled ELU with the fixed constants of Klambauer et al. (2017)."""

    _array_inputs = 1

    def forward(self, x):
        return npx.leaky_relu(x, act_type="selu")


class GELU(HybridBlock):
    """Gaussian error linear unit: ``approximation`` 'erf' (exact) or 'tanh'."""

    _array_inputs = 1

    def __init__(self, approximation="erf"):
        super().__init__()
        if not isinstance(approximation, str) or approximation not in ("erf", "tanh"):
            raise LayerError(f"GELU: unsupported approximation {approximation!r}; supported "
                             "values are 'erf' and 'tanh'")
        self._approximation = approximation

    def forward(self, x):
        if self._approximation == "erf":
            return npx.leaky_relu(x, act_type="gelu")
        # npx has no 'gelu_tanh' act_type: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + np.tanh(inner))

    def __repr__(self):
        return f"{type(self).__name__}(approximation={self._approximation})"


class SiLU(HybridBlock):
    """x * sigmoid(x)."""

    _array_inputs = 1

    def forward(self, x):
        return x * npx.sigmoid(x)


class Swish(HybridBlock):
    """x * sigmoid(beta * x)."""

    _array_inputs = 1

    def __init__(self, beta=1.0):
        super().__init__()
        self._beta = as_float(beta, "beta", "Swish")

    def forward(self, x):
        return x * npx.sigmoid(self._beta * x)

    def __repr__(self):
        return f"{type(self).__name__}(beta={self._beta})"
