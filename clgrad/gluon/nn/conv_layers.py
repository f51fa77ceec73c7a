"""Convolution and pooling layers of MXNet 2.x Gluon, channels-first layouts (NCW, NCHW):
Conv1D, Conv2D, Conv1DTranspose, Conv2DTranspose, Max/Avg pooling and their global forms.

3-D layers are absent: ``npx.convolution`` and ``npx.pooling`` handle 1-D and 2-D data only.
Transposed convolutions are composed from existing ops (``npx`` has no deconvolution): the
input is spread with ``stride - 1`` zeros between elements, padded (or cropped), and convolved
with stride 1 by the kernel flipped in space and with its channel axes exchanged; autograd
differentiates the composition.
"""
import numbers

from ... import npx
from ... import numpy as np
from ...ops.args import as_flag, as_int
from ..block import HybridBlock
from ..parameter import Parameter
from .activations import Activation, LayerError, LayerShapeError
from .basic_layers import _known

__all__ = ["AvgPool1D", "AvgPool2D", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "MaxPool1D",
           "MaxPool2D"]

# the layout each spatial rank supports, and how its axes read in messages
_LAYOUTS = {1: "NCW", 2: "NCHW"}


def _ints(value, n, what, cls):
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    try:
        t = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise LayerError(f"{cls}: {what} must be a number or a list of {n} ints, got "
                         f"{value!r}") from None
    if len(t) != n:
        raise LayerError(f"{cls}: {what} must be a number or a list of {n} ints, got {value!r}")
    return t


def _check_layout(cls, layout, nsp):
    if not isinstance(layout, str) or layout != _LAYOUTS[nsp]:
        raise LayerError(f"{cls}: layout {layout!r} is not supported; only "
                         f"'{_LAYOUTS[nsp]}' (channels first) is")


def _check_rank(block, x, nsp):
    if x.ndim != nsp + 2:
        raise LayerShapeError(f"{block!r}: expects {nsp + 2}-D input "
                              f"({', '.join(_LAYOUTS[nsp])}), got shape {x.shape}")


# --- transposed convolution from existing ops ------------------------------------------------
def _slice(x, axis, start, stop):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _insert_zeros(x, axis, stride):
    """``stride - 1`` zeros between neighbouring elements along ``axis``."""
    n = x.shape[axis]
    if stride == 1 or n == 0:
        return x
    column = np.expand_dims(x, axis + 1)
    zshape = list(column.shape)
    zshape[axis + 1] = stride - 1
    zeros = np.zeros(tuple(zshape), dtype=x.dtype, device=x.device)
    spread = np.concatenate([column, zeros], axis=axis + 1)
    spread = spread.reshape(x.shape[:axis] + (n * stride,) + x.shape[axis + 1:])
    return _slice(spread, axis, 0, (n - 1) * stride + 1)


def _pad_or_crop(x, axis, lo, hi):
    """Zeros added at the low/high end of ``axis`` (a negative count crops instead)."""
    if lo > 0 or hi > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, widths)
    if lo < 0 or hi < 0:
        x = _slice(x, axis, max(-lo, 0), x.shape[axis] - max(-hi, 0))
    return x


def _flipped_kernel(weight, groups):
    """(in_channels, channels/groups, *k) -> (channels, in_channels/groups, *k), each kernel
    flipped in space: the convolution kernel equivalent to the transposed one."""
    c, per_group = weight.shape[:2]
    k = weight.shape[2:]
    w = weight.reshape((groups, c // groups, per_group) + k)
    w = np.swapaxes(w, 1, 2).reshape((groups * per_group, c // groups) + k)
    return np.flip(w, axis=tuple(range(2, 2 + len(k))))


def _conv_transpose(x, weight, bias, stride, pad, output_padding, dilate, groups):
    """MXNet's Deconvolution for NC[H]W data and weight (in_channels, channels/groups, *k):
    output size (n - 1) * stride - 2 * pad + dilate * (k - 1) + 1 + output_padding."""
    k = weight.shape[2:]
    for i, (s, p, a, d) in enumerate(zip(stride, pad, output_padding, dilate)):
        axis = 2 + i
        x = _insert_zeros(x, axis, s)
        lo = d * (k[i] - 1) - p
        x = _pad_or_crop(x, axis, lo, lo + a)
    w = _flipped_kernel(weight, groups)
    return npx.convolution(x, w, bias, kernel=k, dilate=dilate, num_filter=w.shape[0],
                           num_group=groups, no_bias=bias is None)


# --- convolution layers ----------------------------------------------------------------------
class _Conv(HybridBlock):
    """Shared by the convolution layers: parameters, shape inference, checks and repr."""

    _array_inputs = 1

    _nsp = 2              # spatial dimensions
    _transpose = False

    def __init__(self, channels, kernel_size, strides, padding, dilation, groups, layout,
                 in_channels, activation, use_bias, weight_initializer, bias_initializer,
                 output_padding=None):
        super().__init__()
        cls, nsp = type(self).__name__, self._nsp
        _check_layout(cls, layout, nsp)
        self._channels = as_int(channels, "channels", cls, True)
        self._groups = as_int(groups, "groups", cls, True)
        self._layout = layout
        self._kernel = _ints(kernel_size, nsp, "kernel_size", cls)
        self._strides = _ints(strides, nsp, "strides", cls)
        self._padding = _ints(padding, nsp, "padding", cls)
        self._dilation = _ints(dilation, nsp, "dilation", cls)
        self._output_padding = _ints(output_padding or 0, nsp, "output_padding", cls)
        in_channels = as_int(in_channels, "in_channels", cls, True)
        if min(self._kernel + self._strides + self._dilation) < 1 or min(self._padding) < 0:
            raise LayerError(f"{cls}: kernel_size, strides and dilation must be positive and "
                             f"padding non-negative")
        if self._groups < 1 or self._channels % self._groups or in_channels % self._groups:
            raise LayerError(f"{cls}: groups={groups} must divide channels ({channels}) and "
                             f"in_channels ({in_channels or 'inferred'})")
        if any(not 0 <= a < s for a, s in zip(self._output_padding, self._strides)):
            raise LayerError(f"{cls}: output_padding {self._output_padding} must be smaller "
                             f"than strides {self._strides}")
        self.weight = Parameter("weight", shape=self._weight_shape(in_channels),
                                init=weight_initializer, allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(self._channels,), init=bias_initializer,
                              allow_deferred_init=True) if use_bias else None
        self.act = Activation(activation) if activation is not None else None

    def _weight_shape(self, in_channels):
        if self._transpose:
            return (in_channels, self._channels // self._groups) + self._kernel
        return (self._channels, in_channels // self._groups) + self._kernel

    def _weight_in_channels(self):
        w = self.weight.shape
        return w[0] if self._transpose else w[1] * self._groups

    def _check_input(self, x):
        _check_rank(self, x, self._nsp)
        if x.shape[1] % self._groups:
            raise LayerShapeError(f"{self!r}: input of shape {x.shape} has {x.shape[1]} "
                                  f"channels, which groups={self._groups} does not divide")

    def infer_shape(self, x, *args):
        self._check_input(x)
        self.weight.shape = self._weight_shape(x.shape[1])

    def forward(self, x):
        self._check_input(x)
        expected = self._weight_in_channels()
        if 0 < expected != x.shape[1]:
            raise LayerShapeError(f"{self!r}: input of shape {x.shape} has {x.shape[1]} "
                                  f"channels, but parameter 'weight' of shape "
                                  f"{self.weight.shape} expects {expected}")
        dev = x.device
        w = self.weight.data(dev)
        b = self.bias.data(dev) if self.bias is not None else None
        if self._transpose:
            self._check_output_size(x)
            out = _conv_transpose(x, w, b, self._strides, self._padding, self._output_padding,
                                 self._dilation, self._groups)
        else:
            out = npx.convolution(x, w, b, kernel=self._kernel, stride=self._strides,
                                  dilate=self._dilation, pad=self._padding,
                                  num_filter=self._channels, num_group=self._groups,
                                  no_bias=b is None, layout=self._layout)
        return self.act(out) if self.act is not None else out

    def _check_output_size(self, x):
        sizes = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 + a for n, s, p, d, k, a in zip(
            x.shape[2:], self._strides, self._padding, self._dilation, self._kernel,
            self._output_padding))
        if min(sizes) < 1:
            raise LayerShapeError(f"{self!r}: input of shape {x.shape} gives the empty output "
                                  f"size {sizes}; the padding is too large")

    def __repr__(self):
        nsp = self._nsp
        s = f"kernel_size={self._kernel}, stride={self._strides}"
        if self._padding != (0,) * nsp:
            s += f", padding={self._padding}"
        if self._dilation != (1,) * nsp:
            s += f", dilation={self._dilation}"
        if self._output_padding != (0,) * nsp:
            s += f", output_padding={self._output_padding}"
        if self._groups != 1:
            s += f", groups={self._groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.act is not None:
            s += f", {self.act}"
        # MXNet reads both sides off the weight's first two axes
        w = self.weight.shape
        mapping = f"{_known(w[0])} -> {w[1]}" if self._transpose else \
            f"{_known(w[1])} -> {w[0]}"
        return f"{type(self).__name__}({mapping}, {s})"


class Conv1D(_Conv):
    """1-D convolution of (N, C, W) data; weight (channels, in_channels / groups, k)."""

    _nsp = 1

    def __init__(self, channels, kernel_size, strides=1, padding=0, dilation=1, groups=1,
                 layout="NCW", activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer)


class Conv2D(_Conv):
    """2-D convolution of (N, C, H, W) data; weight (channels, in_channels / groups, kh, kw)."""

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0), dilation=(1, 1),
                 groups=1, layout="NCHW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer)


class Conv1DTranspose(_Conv):
    """Transposed 1-D convolution; weight (in_channels, channels / groups, k)."""

    _nsp = 1
    _transpose = True

    def __init__(self, channels, kernel_size, strides=1, padding=0, output_padding=0,
                 dilation=1, groups=1, layout="NCW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, output_padding)


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution; weight (in_channels, channels / groups, kh, kw)."""

    _transpose = True

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0),
                 output_padding=(0, 0), dilation=(1, 1), groups=1, layout="NCHW",
                 activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, output_padding)


# --- pooling ---------------------------------------------------------------------------------
class _Pooling(HybridBlock):
    """Shared by the pooling layers; ``strides`` None means the pool size."""

    _array_inputs = 1

    _nsp = 2              # spatial dimensions

    def __init__(self, pool_size, strides, padding, ceil_mode, global_pool, pool_type, layout,
                 count_include_pad=None):
        super().__init__()
        cls, nsp = type(self).__name__, self._nsp
        _check_layout(cls, layout, nsp)
        pool_size = _ints(pool_size, nsp, "pool_size", cls)
        self._kwargs = {
            "kernel": pool_size,
            "stride": _ints(strides if strides is not None else pool_size, nsp, "strides", cls),
            "pad": _ints(padding, nsp, "padding", cls),
            "global_pool": global_pool, "pool_type": pool_type, "layout": layout,
            "pooling_convention": "full" if as_flag(ceil_mode, "ceil_mode", cls) else "valid"}
        if count_include_pad is not None:
            self._kwargs["count_include_pad"] = count_include_pad

    def forward(self, x):
        _check_rank(self, x, self._nsp)
        return npx.pooling(x, **self._kwargs)

    def __repr__(self):
        k = self._kwargs
        return (f"{type(self).__name__}(size={k['kernel']}, stride={k['stride']}, "
                f"padding={k['pad']}, ceil_mode={k['pooling_convention'] == 'full'}, "
                f"global_pool={k['global_pool']}, pool_type={k['pool_type']}, "
                f"layout={k['layout']})")


class MaxPool1D(_Pooling):
    """Max over windows of (N, C, W) data."""

    _nsp = 1

    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout)


class MaxPool2D(_Pooling):
    """Max over windows of (N, C, H, W) data."""

    def __init__(self, pool_size=(2, 2), strides=None, padding=0, layout="NCHW",
                 ceil_mode=False):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout)


class AvgPool1D(_Pooling):
    """Mean over windows of (N, C, W) data; ``count_include_pad`` counts padding zeros."""

    _nsp = 1

    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False,
                 count_include_pad=True):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "avg", layout,
                         count_include_pad)


class AvgPool2D(_Pooling):
    """Mean over windows of (N, C, H, W) data; ``count_include_pad`` counts padding zeros."""

    def __init__(self, pool_size=(2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCHW", count_include_pad=True):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "avg", layout,
                         count_include_pad)


class GlobalMaxPool1D(_Pooling):
    """Max over the whole width: (N, C, W) -> (N, C, 1)."""

    _nsp = 1

    def __init__(self, layout="NCW"):
        super().__init__(1, None, 0, True, True, "max", layout)


class GlobalMaxPool2D(_Pooling):
    """Max over each whole plane: (N, C, H, W) -> (N, C, 1, 1)."""

    def __init__(self, layout="NCHW"):
        super().__init__(1, None, 0, True, True, "max", layout)


class GlobalAvgPool1D(_Pooling):
    """Mean over the whole width: (N, C, W) -> (N, C, 1)."""

    _nsp = 1

    def __init__(self, layout="NCW"):
        super().__init__(1, None, 0, True, True, "avg", layout)


class GlobalAvgPool2D(_Pooling):
    """Mean over each whole plane: (N, C, H, W) -> (N, C, 1, 1)."""

    def __init__(self, layout="NCHW"):
        super().__init__(1, None, 0, True, True, "avg", layout)
