"""Basic layers of MXNet 2.x Gluon: containers (Sequential, HybridSequential, Concatenate,
Lambda, Identity), Dense, Dropout, Embedding, Flatten, and the normalizations (BatchNorm,
LayerNorm, GroupNorm, InstanceNorm).

Layers whose input size is not given (``in_units=0``, ``in_channels=0``) infer it at their
first call (``infer_shape``); later calls are checked against the parameters' shapes so that a
wrong input names the layer and the parameter instead of failing inside an operator.
"""
import numbers

from ... import dtypes as _dt
from ... import npx
from ... import numpy as np
from ...base import ArgumentTypeError
from ...ops.args import as_flag, as_float, as_int
from ..block import Block, HybridBlock
from ..parameter import Parameter
from .activations import Activation, LayerError, LayerShapeError

__all__ = ["BatchNorm", "Concatenate", "Dense", "Dropout", "Embedding", "Flatten", "GroupNorm",
           "HybridConcatenate", "HybridLambda", "HybridSequential", "Identity", "InstanceNorm",
           "Lambda", "LayerNorm", "Sequential"]


def _known(n):
    return n if n > 0 else None


def _channel_axis(block, axis, x):
    """``axis`` of ``x`` as a non-negative index, or an error naming ``block``."""
    if not isinstance(axis, numbers.Integral):
        raise ArgumentTypeError(f"{block!r}: axis must be an integer, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise LayerShapeError(f"{block!r}: axis {axis} is out of range for input of shape "
                              f"{x.shape}")
    return axis % x.ndim


def _check_channels(block, x, axis, params):
    """Every parameter in ``params`` must have one entry per element of ``x`` along ``axis``
    (one not yet shaped is left to ``Parameter.data`` to report)."""
    n = x.shape[axis]
    for p in params:
        if p.shape[0] > 0 and p.shape[0] != n:
            raise LayerShapeError(f"{block!r}: input of shape {x.shape} has {n} channels on "
                                  f"axis {axis}, but parameter '{p.name}' has shape {p.shape}")


# --- containers --------------------------------------------------------------------------------
class _SequentialMixin:
    """Children run one after another; ``net[i]`` is a child, ``net[a:b]`` a new container of
    the same class holding (not copying) those children."""

    def add(self, *blocks):
        """Append blocks; they are named '0', '1', ... in the order added."""
        for block in blocks:
            if not isinstance(block, Block):
                raise LayerError(f"{type(self).__name__}.add: expected a Block, got "
                                 f"{type(block).__name__}")
            self.register_child(block)

    def forward(self, x, *args):
        for block in self._children.values():
            x = block(x, *args)
            args = ()
            # a block returning several values feeds them all to the next one (MXNet 2.x)
            if isinstance(x, (tuple, list)):
                x, args = x[0], tuple(x[1:])
        return (x,) + args if args else x

    def _empty_like(self):
        return type(self)()

    def __getitem__(self, key):
        layers = list(self._children.values())[key]
        if isinstance(key, slice):
            net = self._empty_like()
            net.add(*layers)
            return net
        return layers

    def __len__(self):
        return len(self._children)

    def __iter__(self):
        return iter(list(self._children.values()))


class Sequential(_SequentialMixin, Block):
    """Stacks Blocks: the output of each is the input of the next."""


class HybridSequential(_SequentialMixin, HybridBlock):
    """Stacks HybridBlocks: the output of each is the input of the next."""


class _ConcatenateMixin:
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return np.concatenate([block(x) for block in self._children.values()], axis=self.axis)

    def _empty_like(self):
        return type(self)(self.axis)


class Concatenate(_ConcatenateMixin, Sequential):
    """Runs every child on the same input and concatenates their outputs along ``axis``."""


class HybridConcatenate(_ConcatenateMixin, HybridSequential):
    """Runs every child on the same input and concatenates their outputs along ``axis``."""


class Identity(HybridBlock):
    """Returns its input."""

    def forward(self, x):
        return x


def _lookup_function(cls, function):
    if isinstance(function, str):
        for namespace in (np, npx):
            if hasattr(namespace, function):
                return getattr(namespace, function), function
        raise LayerError(f"{cls}: function name {function!r} is not found in np/npx")
    if callable(function):
        return function, getattr(function, "__name__", type(function).__name__)
    raise LayerError(f"{cls}: unrecognized function in lambda: {function!r} of type "
                     f"{type(function).__name__}")


class Lambda(Block):
    """Wraps ``function`` (a callable, or the name of an ``np`` or ``npx`` function)."""

    def __init__(self, function):
        super().__init__()
        self._func, self._func_name = _lookup_function(type(self).__name__, function)

    def forward(self, *args):
        return self._func(*args)

    def __repr__(self):
        return f"{type(self).__name__}({self._func_name})"


class HybridLambda(Lambda, HybridBlock):
    """Wraps ``function`` (a callable, or the name of an ``np`` or ``npx`` function)."""


# --- dense, dropout, embedding, flatten --------------------------------------------------------
class Dense(HybridBlock):
    """``activation(x @ weight.T + bias)`` with weight (units, in_units). ``flatten`` folds
    every axis after the first into the input units; otherwise the last axis is."""

    _array_inputs = 1

    def __init__(self, units, activation=None, use_bias=True, flatten=True, dtype="float32",
                 weight_initializer=None, bias_initializer="zeros", in_units=0):
        super().__init__()
        self._units = as_int(units, "units", "Dense", True)
        self._flatten = as_flag(flatten, "flatten", "Dense")
        in_units = as_int(in_units, "in_units", "Dense", True)
        self.weight = Parameter("weight", shape=(self._units, in_units), dtype=dtype,
                                init=weight_initializer, allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(self._units,), dtype=dtype, init=bias_initializer,
                              allow_deferred_init=True) \
            if as_flag(use_bias, "use_bias", "Dense") else None
        self.act = Activation(activation) if activation is not None else None

    def _input_units(self, x):
        if x.ndim < (2 if self._flatten else 1):
            raise LayerShapeError(f"{self!r}: expects input of at least "
                                  f"{2 if self._flatten else 1} dimensions, got shape {x.shape}")
        if not self._flatten:
            return x.shape[-1]
        n = 1
        for k in x.shape[1:]:
            n *= k
        return n

    def infer_shape(self, x, *args):
        self.weight.shape = (self._units, self._input_units(x))

    def forward(self, x):
        n = self._input_units(x)
        if 0 < self.weight.shape[1] != n:
            raise LayerShapeError(f"{self!r}: input of shape {x.shape} has {n} input units, but "
                                  f"parameter 'weight' has shape {self.weight.shape}")
        dev = x.device
        out = npx.fully_connected(x, self.weight.data(dev),
                                  self.bias.data(dev) if self.bias is not None else None,
                                  no_bias=self.bias is None, num_hidden=self._units,
                                  flatten=self._flatten)
        return self.act(out) if self.act is not None else out

    def __repr__(self):
        w = self.weight.shape
        act = self.act if self.act is not None else "linear"
        return f"{type(self).__name__}({_known(w[1])} -> {w[0]}, {act})"


class Dropout(HybridBlock):
    """Zeroes a fraction ``rate`` of the elements in training mode (scaling the rest by
    1 / (1 - rate)); the identity when predicting. ``axes`` share one mask along them."""

    _array_inputs = 1

    def __init__(self, rate, axes=()):
        super().__init__()
        rate = as_float(rate, "rate", "Dropout")
        if not 0 <= rate <= 1:
            raise LayerError(f"Dropout: rate must be in [0, 1], got {rate}")
        self._rate = rate
        self._axes = axes

    def forward(self, x):
        if self._rate > 0:
            return npx.dropout(x, p=self._rate, axes=self._axes)
        return np.copy(x)

    def __repr__(self):
        return f"{type(self).__name__}(p = {self._rate}, axes={self._axes})"


class Embedding(HybridBlock):
    """Rows of weight (input_dim, output_dim) at integer indices: output shape
    ``x.shape + (output_dim,)``."""

    _array_inputs = 1

    def __init__(self, input_dim, output_dim, dtype="float32", weight_initializer=None,
                 sparse_grad=False):
        super().__init__()
        if sparse_grad:
            raise LayerError("Embedding: sparse_grad=True is not supported (sparse gradients "
                             "are not supported in Gluon 2.0)")
        input_dim = as_int(input_dim, "input_dim", "Embedding", True)
        output_dim = as_int(output_dim, "output_dim", "Embedding", True)
        self._kwargs = {"input_dim": input_dim, "output_dim": output_dim,
                        "dtype": _dt.as_dtype(dtype).name, "sparse_grad": False}
        self.weight = Parameter("weight", shape=(input_dim, output_dim), dtype=dtype,
                                init=weight_initializer, allow_deferred_init=True)

    def forward(self, x):
        return npx.embedding(x, self.weight.data(x.device), **self._kwargs)

    def __repr__(self):
        k = self._kwargs
        return f"{type(self).__name__}({k['input_dim']} -> {k['output_dim']}, {k['dtype']})"


class Flatten(HybridBlock):
    """Folds every axis after the first: (N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    _array_inputs = 1

    def forward(self, x):
        if x.ndim < 1:
            raise LayerShapeError(f"Flatten: expects input with a batch axis, got shape "
                                  f"{x.shape}")
        n = 1
        for k in x.shape[1:]:
            n *= k
        return x.reshape((x.shape[0], n))

    def __repr__(self):
        return type(self).__name__


# --- normalization -----------------------------------------------------------------------------
def _scale_shift_params(block, in_channels, center, scale, beta_init, gamma_init):
    """gamma and beta of shape (in_channels,); an unlearned one (center/scale False) keeps its
    initial value (1 and 0 by default) and takes no gradient, as MXNet's."""
    n = as_int(in_channels, "in_channels", type(block).__name__, True)
    block.gamma = Parameter("gamma", grad_req="write" if scale else "null",
                            shape=(n,), init=gamma_init, allow_deferred_init=True)
    block.beta = Parameter("beta", grad_req="write" if center else "null",
                           shape=(n,), init=beta_init, allow_deferred_init=True)


def _norm_repr(block, kwargs, in_channels):
    content = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{type(block).__name__}({content}, in_channels={in_channels})"


class BatchNorm(HybridBlock):
    """Normalizes each channel (``axis``) over the batch and the other axes.

    In training mode (``autograd.record()`` / ``train_mode()``) the batch statistics are used
    and the running ones updated as ``running = momentum * running + (1 - momentum) * batch``
    (biased batch variance); when predicting, or with ``use_global_stats``, the running
    statistics normalize and nothing changes.
    """

    _array_inputs = 1

    def __init__(self, axis=1, momentum=0.9, epsilon=1e-5, center=True, scale=True,
                 use_global_stats=False, beta_initializer="zeros", gamma_initializer="ones",
                 running_mean_initializer="zeros", running_variance_initializer="ones",
                 in_channels=0):
        super().__init__()
        self._axis = axis
        self._kwargs = {"axis": axis, "eps": epsilon, "momentum": momentum,
                        "fix_gamma": not scale, "use_global_stats": use_global_stats}
        n = as_int(in_channels, "in_channels", "BatchNorm", True)
        self.gamma = Parameter("gamma", grad_req="write" if scale else "null", shape=(n,),
                               init=gamma_initializer, allow_deferred_init=True,
                               differentiable=scale)
        self.beta = Parameter("beta", grad_req="write" if center else "null", shape=(n,),
                              init=beta_initializer, allow_deferred_init=True,
                              differentiable=center)
        self.running_mean = Parameter("running_mean", grad_req="null", shape=(n,),
                                      init=running_mean_initializer, allow_deferred_init=True,
                                      differentiable=False)
        self.running_var = Parameter("running_var", grad_req="null", shape=(n,),
                                     init=running_variance_initializer,
                                     allow_deferred_init=True, differentiable=False)

    def _params(self):
        return (self.gamma, self.beta, self.running_mean, self.running_var)

    def cast(self, dtype):
        # float16 statistics lose too much; MXNet keeps them in float32
        super().cast("float32" if _dt.as_dtype(dtype).name == "float16" else dtype)

    def infer_shape(self, x, *args):
        n = x.shape[_channel_axis(self, self._axis, x)]
        for p in self._params():
            p.shape = (n,)

    def forward(self, x):
        _check_channels(self, x, _channel_axis(self, self._axis, x), self._params())
        dev = x.device
        return npx.batch_norm(x, *(p.data(dev) for p in self._params()), **self._kwargs)

    def __repr__(self):
        return _norm_repr(self, self._kwargs, _known(self.gamma.shape[0]))


class LayerNorm(HybridBlock):
    """Normalizes each sample over ``axis`` (the last by default), then scales by gamma and
    shifts by beta, both of shape (in_channels,) along that axis."""

    _array_inputs = 1

    def __init__(self, axis=-1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0):
        super().__init__()
        self._axis = axis
        self._epsilon = epsilon
        self._kwargs = {"eps": epsilon, "axis": axis, "center": center, "scale": scale}
        _scale_shift_params(self, in_channels, center, scale, beta_initializer,
                            gamma_initializer)

    def infer_shape(self, x, *args):
        n = x.shape[_channel_axis(self, self._axis, x)]
        self.gamma.shape = (n,)
        self.beta.shape = (n,)

    def forward(self, x):
        ax = _channel_axis(self, self._axis, x)
        _check_channels(self, x, ax, (self.gamma, self.beta))
        dev = x.device
        return npx.layer_norm(x, self.gamma.data(dev), self.beta.data(dev), axis=ax,
                              eps=self._epsilon)

    def __repr__(self):
        return _norm_repr(self, self._kwargs, self.gamma.shape[0])


def _normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` (biased variance), differentiable."""
    mean = np.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    return centered / np.sqrt(var + eps)


def _per_channel(p, ndim):
    """A (C,) parameter shaped to broadcast along axis 1 of an ``ndim``-D array."""
    return p.reshape((p.shape[0],) + (1,) * (ndim - 2))


class GroupNorm(HybridBlock):
    """Splits the channels (axis 1) into ``num_groups`` groups and normalizes each group of
    each sample, then scales and shifts per channel (gamma, beta of shape (in_channels,))."""

    _array_inputs = 1

    def __init__(self, num_groups=1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0):
        super().__init__()
        num_groups = as_int(num_groups, "num_groups", "GroupNorm", True)
        if num_groups < 1:
            raise LayerError(f"GroupNorm: num_groups must be at least 1, got {num_groups}")
        self._num_groups = int(num_groups)
        self._epsilon = epsilon
        self._kwargs = {"eps": epsilon, "num_groups": num_groups, "center": center,
                        "scale": scale}
        _scale_shift_params(self, in_channels, center, scale, beta_initializer,
                            gamma_initializer)

    def _check_input(self, x):
        if x.ndim < 2:
            raise LayerShapeError(f"{self!r}: expects input (N, C, ...) of at least 2 "
                                  f"dimensions, got shape {x.shape}")
        if x.shape[1] % self._num_groups:
            raise LayerShapeError(f"{self!r}: {x.shape[1]} channels of input of shape "
                                  f"{x.shape} do not split into {self._num_groups} groups")

    def infer_shape(self, x, *args):
        self._check_input(x)
        self.gamma.shape = (x.shape[1],)
        self.beta.shape = (x.shape[1],)

    def forward(self, x):
        # composed from np ops (npx has no group_norm); autograd differentiates it
        self._check_input(x)
        _check_channels(self, x, 1, (self.gamma, self.beta))
        n = x.shape[0]
        grouped = x.reshape((n, self._num_groups, -1))
        out = _normalize(grouped, 2, self._epsilon).reshape(x.shape)
        dev = x.device
        return out * _per_channel(self.gamma.data(dev), x.ndim) + \
            _per_channel(self.beta.data(dev), x.ndim)

    def __repr__(self):
        return _norm_repr(self, self._kwargs, self.gamma.shape[0])


class InstanceNorm(HybridBlock):
    """Normalizes each channel (``axis``) of each sample over the remaining (spatial) axes,
    then scales and shifts per channel. ``scale`` defaults to False, as MXNet's."""

    _array_inputs = 1

    def __init__(self, axis=1, epsilon=1e-5, center=True, scale=False,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0):
        super().__init__()
        self._axis = axis
        self._epsilon = epsilon
        self._kwargs = {"eps": epsilon, "axis": axis, "center": center, "scale": scale}
        _scale_shift_params(self, in_channels, center, scale, beta_initializer,
                            gamma_initializer)

    def _channels_first(self, x):
        if x.ndim < 3:
            raise LayerShapeError(f"{self!r}: expects input (N, C, spatial...) of at least 3 "
                                  f"dimensions, got shape {x.shape}")
        ax = _channel_axis(self, self._axis, x)
        if ax == 0:
            raise LayerShapeError(f"{self!r}: axis 0 is the batch axis, not a channel axis")
        return ax

    def infer_shape(self, x, *args):
        n = x.shape[self._channels_first(x)]
        self.gamma.shape = (n,)
        self.beta.shape = (n,)

    def forward(self, x):
        # composed from np ops (npx has no instance_norm); autograd differentiates it
        ax = self._channels_first(x)
        _check_channels(self, x, ax, (self.gamma, self.beta))
        xc = np.swapaxes(x, 1, ax) if ax != 1 else x
        out = _normalize(xc, tuple(range(2, xc.ndim)), self._epsilon)
        dev = x.device
        out = out * _per_channel(self.gamma.data(dev), xc.ndim) + \
            _per_channel(self.beta.data(dev), xc.ndim)
        return np.swapaxes(out, 1, ax) if ax != 1 else out

    def __repr__(self):
        return _norm_repr(self, self._kwargs, self.gamma.shape[0])
