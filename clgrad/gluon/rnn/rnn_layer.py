"""Recurrent layers of MXNet 2.x Gluon: RNN, LSTM and GRU over whole sequences.

As in MXNet 2.x, a layer holds one flat parameter, ``rnn_param``, laid out as MXNet's fused RNN
operator reads it (``fused_layout``), so parameter files move between the two. There is no
fused operator here: the layer unrolls over time, per layer and direction one fully_connected
over the whole sequence for the input projections (i2h), then per step the h2h projection and
the update rule of the matching cell (rnn_cell.py) on views of ``rnn_param``.
"""
import math

from ... import init as _init
from ... import npx
from ... import numpy as np
from ..block import HybridBlock
from ..nn.activations import LayerError, LayerShapeError
from ..parameter import Parameter
from .rnn_cell import (
    RNNUnsupportedError,
    elman_update,
    gru_update,
    lstm_update,
    on_device,
)

__all__ = ["GRU", "LSTM", "RNN"]

_GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def fused_layout(mode, hidden_size, input_size, num_layers, bidirectional):
    """``{(layer, direction, 'i2h' or 'h2h', 'weight' or 'bias'): (offset, shape)}`` in packing
    order, and the total size. The order is the fused operator's (src/operator/rnn-inl.h and
    rnn_impl.h: biases start at ``size - bias_size``): every weight first, layer by layer, the
    forward direction before the backward one, i2h (gates*hidden, inputs) before h2h
    (gates*hidden, hidden); then every bias (gates*hidden,) in the same order. A layer's inputs
    are ``input_size`` for the first layer, directions*hidden after."""
    rows, dirs = _GATES[mode] * hidden_size, 2 if bidirectional else 1
    layout, offset = {}, 0
    for kind in ("weight", "bias"):
        for layer in range(num_layers):
            for d in range(dirs):
                for conn in ("i2h", "h2h"):
                    cols = hidden_size if conn == "h2h" else \
                        input_size if layer == 0 else dirs * hidden_size
                    shape = (rows, cols) if kind == "weight" else (rows,)
                    layout[(layer, d, conn, kind)] = (offset, shape)
                    offset += math.prod(shape)
    return layout, offset


def _fused_input_size(mode, hidden_size, num_layers, bidirectional, total):
    """The input size a fused parameter of ``total`` elements implies, or None if none fits."""
    dirs = 2 if bidirectional else 1
    rows = _GATES[mode] * hidden_size * dirs
    rest = total - (num_layers - 1) * (dirs * hidden_size + hidden_size + 2) * rows
    if rest <= 0 or rest % rows or rest // rows - hidden_size - 2 < 1:
        return None
    return rest // rows - hidden_size - 2


class RNNFused(_init.Initializer):
    """Fills a fused ``rnn_param`` piece by piece as separate cells would be: each weight (as a
    matrix, so Xavier and the like see its fan-in and fan-out) by its own initializer or else
    the global one, each bias by its own initializer or else zero."""

    def __init__(self, mode, num_layers, state_size, bidirectional=False, projection_size=None,
                 i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer=None, h2h_bias_initializer=None,
                 h2r_weight_initializer=None):
        super().__init__(mode=mode, num_layers=num_layers, state_size=state_size,
                         bidirectional=bidirectional, projection_size=projection_size,
                         i2h_weight_initializer=i2h_weight_initializer,
                         h2h_weight_initializer=h2h_weight_initializer,
                         i2h_bias_initializer=i2h_bias_initializer,
                         h2h_bias_initializer=h2h_bias_initializer,
                         h2r_weight_initializer=h2r_weight_initializer)
        if projection_size:
            raise RNNUnsupportedError("RNNFused: projection_size is not supported")
        self._shape_args = (mode, state_size, num_layers, bidirectional)
        self._own = {("i2h", "weight"): i2h_weight_initializer,
                     ("h2h", "weight"): h2h_weight_initializer,
                     ("i2h", "bias"): i2h_bias_initializer,
                     ("h2h", "bias"): h2h_bias_initializer}

    def __call__(self, desc, arr):
        # whatever the parameter's name, the fused layout decides
        self._init_weight(desc if isinstance(desc, _init.InitDesc) else _init.InitDesc(desc),
                          arr)

    def _init_weight(self, desc, arr):
        mode, hidden, layers, bidirectional = self._shape_args
        input_size = _fused_input_size(mode, hidden, layers, bidirectional, arr.size) \
            if arr.ndim == 1 else None
        if input_size is None:
            raise _init.InitializerError(f"RNNFused: {desc} of shape {arr.shape} is not a fused "
                                         f"{mode} parameter of {layers} layer(s) of {hidden}")
        global_init = desc.global_init
        if global_init is None or global_init is self:
            global_init = _init.Uniform()
        layout, _ = fused_layout(mode, hidden, input_size, layers, bidirectional)
        pieces = []
        for (layer, d, conn, kind), (_, shape) in layout.items():
            piece = np.zeros(shape, dtype=arr.dtype, device=arr.device)
            own = self._own[(conn, kind)]
            name = f"{'lr'[d]}{layer}_{conn}_{kind}"     # MXNet 1.x's per-layer names
            global_init(_init.InitDesc(name, {"__init__": own} if own is not None else None,
                                       global_init), piece)
            pieces.append(piece.reshape(-1))
        arr[...] = np.concatenate(pieces)


class _RNNLayer(HybridBlock):
    """The stacked, optionally bidirectional recurrence shared by RNN, LSTM and GRU."""

    def __init__(self, hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                 i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                 h2h_bias_initializer, mode, projection_size, h2r_weight_initializer,
                 lstm_state_clip_min, lstm_state_clip_max, lstm_state_clip_nan, dtype,
                 use_sequence_length=False):
        super().__init__()
        name = type(self).__name__
        if layout not in ("TNC", "NTC"):
            raise LayerError(f"{name}: invalid layout {layout!r}; must be 'TNC' or 'NTC'")
        if int(hidden_size) < 1 or int(num_layers) < 1:
            raise LayerError(f"{name}: hidden_size and num_layers must be positive, got "
                             f"{hidden_size} and {num_layers}")
        if not 0 <= dropout <= 1:
            raise LayerError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if projection_size:
            raise RNNUnsupportedError(f"{name}: projection_size (LSTMP) is not supported")
        if (lstm_state_clip_min is None) != (lstm_state_clip_max is None):
            raise LayerError(f"{name}: state_clip_min and state_clip_max must be given together")
        if lstm_state_clip_min is not None and lstm_state_clip_max < lstm_state_clip_min:
            raise LayerError(f"{name}: state_clip_max ({lstm_state_clip_max}) must be at least "
                             f"state_clip_min ({lstm_state_clip_min})")
        self._hidden_size, self._num_layers = int(hidden_size), int(num_layers)
        self._mode, self._layout, self._dropout = mode, layout, dropout
        self._dir = 2 if bidirectional else 1
        self._clip = None if lstm_state_clip_min is None else \
            (lstm_state_clip_min, lstm_state_clip_max, bool(lstm_state_clip_nan))
        self._dtype = dtype
        self._use_sequence_length = use_sequence_length
        param_init = RNNFused(mode, self._num_layers, self._hidden_size, bidirectional, None,
                              i2h_weight_initializer, h2h_weight_initializer,
                              i2h_bias_initializer, h2h_bias_initializer)
        # a known input_size creates rnn_param at initialize(), otherwise the first call does
        input_size = int(input_size)
        size = self._fused_size(input_size) if input_size > 0 else -1
        self.rnn_param = Parameter("rnn_param", shape=(size,), init=param_init,
                                   allow_deferred_init=True, dtype=dtype)

    def _fused_size(self, input_size):
        return fused_layout(self._mode, self._hidden_size, input_size, self._num_layers,
                            self._dir == 2)[1]

    def _input_size(self):
        """The input size rnn_param was made for; None while its shape is unknown."""
        total = self.rnn_param.shape[0]
        if total <= 0:
            return None
        size = _fused_input_size(self._mode, self._hidden_size, self._num_layers,
                                 self._dir == 2, total)
        if size is None:
            raise LayerShapeError(f"{self!r}: parameter 'rnn_param' of shape "
                                  f"{self.rnn_param.shape} fits no input size")
        return size

    def __repr__(self):
        size = self._input_size() if self.rnn_param.shape[0] > 0 else None
        text = f"{type(self).__name__}({size} -> {self._hidden_size}, {self._layout}"
        if self._num_layers != 1:
            text += f", num_layers={self._num_layers}"
        if self._dropout != 0:
            text += f", dropout={self._dropout}"
        if self._dir == 2:
            text += ", bidirectional"
        return text + ")"

    def state_info(self, batch_size=0):
        shape = (self._num_layers * self._dir, batch_size, self._hidden_size)
        return [{"shape": shape, "__layout__": "LNC", "dtype": self._dtype}
                for _ in range(2 if self._mode == "lstm" else 1)]

    def begin_state(self, batch_size=0, func=np.zeros, **kwargs):
        """The initial states, ``func(shape=..., device=..., dtype=..., **rest)`` for each."""
        states = []
        for info in self.state_info(batch_size):
            info = dict(info, **kwargs)
            info.pop("__layout__", None)
            states.append(func(shape=info.pop("shape"), device=info.pop("device", None),
                               dtype=info.pop("dtype", "float32"), **info))
        return states

    def cast(self, dtype):
        super().cast(dtype)
        self._dtype = dtype

    def _check_input(self, inputs):
        if not isinstance(inputs, np.ndarray) or inputs.ndim != 3:
            raise LayerShapeError(f"{self!r}: input should be a rank-3 array of layout "
                                  f"{self._layout}, got shape {getattr(inputs, 'shape', None)}")

    def infer_shape(self, inputs, *args):
        self._check_input(inputs)
        self.rnn_param.shape = (self._fused_size(inputs.shape[2]),)

    def forward(self, inputs, states=None, sequence_length=None):
        """The output (T, N, directions*hidden) in the layer's layout; with ``states`` given,
        (output, new_states). ``sequence_length`` (N,) zeroes the output past each sequence's
        end and takes its states from its last valid step (the backward direction starts
        there)."""
        self._check_input(inputs)
        expected = self._input_size()
        if expected is not None and inputs.shape[2] != expected:
            raise LayerShapeError(f"{self!r}: input of shape {inputs.shape} has "
                                  f"{inputs.shape[2]} features, but parameter 'rnn_param' was "
                                  f"made for {expected}")
        batch_size = inputs.shape[self._layout.find("N")]
        skip_states = states is None
        if states is None:
            states = self.begin_state(batch_size, device=inputs.device, dtype=inputs.dtype)
        states = [states] if isinstance(states, np.ndarray) else list(states)
        infos = self.state_info(batch_size)
        if len(states) != len(infos) or any(s.shape != i["shape"] for s, i in zip(states, infos)):
            raise LayerShapeError(f"{self!r}: invalid recurrent states; expecting "
                                  f"{len(infos)} of shape {infos[0]['shape']}, got "
                                  f"{[s.shape for s in states]}")
        if sequence_length is None and self._use_sequence_length:
            raise LayerError(f"{self!r}: use_sequence_length=True needs sequence_length")
        if sequence_length is not None:
            if not isinstance(sequence_length, np.ndarray):
                sequence_length = np.array(sequence_length)
            sequence_length = on_device(sequence_length, inputs.device)
            if sequence_length.shape != (batch_size,):
                raise LayerShapeError(f"{self!r}: sequence_length must have shape "
                                      f"({batch_size},), got {sequence_length.shape}")
        x = np.swapaxes(inputs, 0, 1) if self._layout == "NTC" else inputs
        out, new_states = self._unroll(x, states, sequence_length)
        if self._layout == "NTC":
            out = np.swapaxes(out, 0, 1)
        return out if skip_states else (out, new_states)

    def _unroll(self, x, states, sequence_length):
        """Every layer and direction over x (T, N, C): the output and the final states."""
        dev = x.device
        states = [on_device(s, dev) for s in states]
        flat = self.rnn_param.data(dev)
        layout, _ = fused_layout(self._mode, self._hidden_size, x.shape[2], self._num_layers,
                                 self._dir == 2)

        def view(*key):
            offset, shape = layout[key]
            return flat[offset:offset + math.prod(shape)].reshape(shape)

        keep = None if sequence_length is None else \
            [(sequence_length > t).reshape(-1, 1) for t in range(x.shape[0])]
        finals = [[] for _ in states]
        for layer in range(self._num_layers):
            outputs = []
            for d in range(self._dir):
                index = layer * self._dir + d
                out, last = self._run_direction(
                    x, [s[index] for s in states], view(layer, d, "i2h", "weight"),
                    view(layer, d, "h2h", "weight"), view(layer, d, "i2h", "bias"),
                    view(layer, d, "h2h", "bias"), d == 1, keep)
                outputs.append(out)
                for final, s in zip(finals, last):
                    final.append(s)
            x = outputs[0] if self._dir == 1 else np.concatenate(outputs, axis=2)
            if self._dropout > 0 and layer < self._num_layers - 1:
                x = npx.dropout(x, p=self._dropout)
        if sequence_length is not None:
            x = npx.sequence_mask(x, sequence_length=sequence_length, use_sequence_length=True,
                                  axis=0)
        return x, [np.stack(final, axis=0) for final in finals]

    def _run_direction(self, x, states, i2h_weight, h2h_weight, i2h_bias, h2h_bias, reverse,
                       keep):
        steps, batch_size, features = x.shape
        rows = i2h_weight.shape[0]
        i2h = npx.fully_connected(x.reshape(steps * batch_size, features), i2h_weight, i2h_bias,
                                  num_hidden=rows).reshape(steps, batch_size, rows)
        outputs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            h2h = npx.fully_connected(states[0], h2h_weight, h2h_bias, num_hidden=rows)
            new_states = self._update(i2h[t], h2h, states)
            if keep is not None:    # past a sequence's end its states stay as they were
                new_states = [np.where(keep[t], new, old) for new, old in zip(new_states, states)]
            states = new_states
            outputs[t] = states[0]
        return np.stack(outputs, axis=0), states

    def _update(self, i2h, h2h, states):
        if self._mode == "lstm":
            return list(lstm_update(i2h, h2h, states[1], "tanh", "sigmoid", self._clip))
        if self._mode == "gru":
            return [gru_update(i2h, h2h, states[0], "tanh", "sigmoid")]
        return [elman_update(i2h, h2h, self._mode[4:])]


class RNN(_RNNLayer):
    """Multi-layer Elman RNN: h_t = activation(x_t @ W_ih.T + b_ih + h_(t-1) @ W_hh.T + b_hh)
    with ``activation`` 'relu' or 'tanh'. Input (T, N, C) in layout 'TNC' ((N, T, C) in
    'NTC'); states [h] of shape (num_layers*directions, N, hidden_size)."""

    def __init__(self, hidden_size, num_layers=1, activation="relu", layout="TNC", dropout=0,
                 bidirectional=False, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 dtype="float32", **kwargs):
        if activation not in ("relu", "tanh"):
            raise LayerError(f"RNN: activation must be 'relu' or 'tanh', got {activation!r}")
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "rnn_" + activation, None, None, None, None,
                         False, dtype, **kwargs)


class LSTM(_RNNLayer):
    """Multi-layer LSTM (gates i, f, c, o as LSTMCell); states [h, c], each of shape
    (num_layers*directions, N, hidden_size). ``state_clip_min``/``state_clip_max`` bound the
    cell state c after each step (``state_clip_nan``: NaN becomes a bound)."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros",
                 projection_size=None, h2r_weight_initializer=None, state_clip_min=None,
                 state_clip_max=None, state_clip_nan=False, dtype="float32", **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "lstm", projection_size, h2r_weight_initializer,
                         state_clip_min, state_clip_max, state_clip_nan, dtype, **kwargs)


class GRU(_RNNLayer):
    """Multi-layer GRU (cuDNN's variant, gates r, z, n as GRUCell); states [h] of shape
    (num_layers*directions, N, hidden_size)."""

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", dtype="float32",
                 **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "gru", None, None, None, None, False, dtype,
                         **kwargs)
