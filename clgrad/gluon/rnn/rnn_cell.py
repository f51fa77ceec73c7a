"""Recurrent cells of MXNet 2.x Gluon: one time step per call, ``unroll`` over a sequence.

A cell is called as ``output, new_states = cell(x, states)`` with ``x`` of shape (N, C) and
``states`` the list that ``begin_state`` makes. The gated cells keep MXNet's parameters
``i2h_weight`` (gates*hidden, input_size), ``h2h_weight`` (gates*hidden, hidden), ``i2h_bias``
and ``h2h_bias`` with the gates stacked in MXNet's order (LSTM: i, f, c, o; GRU: r, z, n);
``input_size=0`` leaves it to the first call. The update rules are module functions so that the
recurrent layers (rnn_layer.py) run exactly the same math on their fused parameter.
"""
from numbers import Real

import numpy as _onp

from ... import npx
from ... import numpy as np
from ...base import MXNetError
from ..block import Block, HybridBlock
from ..nn.activations import ACTIVATION_TYPES, LayerError, LayerShapeError
from ..parameter import Parameter

__all__ = ["BidirectionalCell", "DropoutCell", "GRUCell", "HybridRecurrentCell",
           "HybridSequentialRNNCell", "LSTMCell", "ModifierCell", "RNNCell", "RNNUnsupportedError",
           "RecurrentCell", "ResidualCell", "SequentialRNNCell", "ZoneoutCell"]


class RNNUnsupportedError(MXNetError, NotImplementedError):
    """Something MXNet does that these cells and layers do not (stepping a BidirectionalCell,
    which MXNet refuses too; LSTM projections); MXNet raises NotImplementedError."""

# activations with a dedicated operator; other names go to npx.activation
_NAMED_ACTIVATIONS = {"tanh": np.tanh, "relu": npx.relu, "sigmoid": npx.sigmoid,
                      "softsign": npx.softsign}


def check_activation(owner, activation):
    """A name npx knows, or a callable (a function, or a block such as nn.LeakyReLU)."""
    if isinstance(activation, str):
        if activation not in _NAMED_ACTIVATIONS and activation not in ACTIVATION_TYPES:
            raise LayerError(f"{owner}: unknown activation {activation!r}; expected a callable "
                             f"or one of {', '.join(ACTIVATION_TYPES)}")
    elif not callable(activation):
        raise LayerError(f"{owner}: activation must be a name or a callable, got "
                         f"{type(activation).__name__}")


def apply_activation(x, activation):
    if isinstance(activation, str):
        fn = _NAMED_ACTIVATIONS.get(activation)
        return fn(x) if fn is not None else npx.activation(x, act_type=activation)
    return activation(x)


# --- update rules, shared with the recurrent layers -------------------------------------------
# i2h and h2h are the (N, gates*hidden) projections of the input and of the previous h, biases
# included.
def elman_update(i2h, h2h, activation):
    return apply_activation(i2h + h2h, activation)


def lstm_update(i2h, h2h, c, activation, recurrent_activation, clip=None):
    """(next_h, next_c); ``clip`` = (low, high, clip_nan) bounds the cell state (cuDNN's)."""
    in_gate, forget_gate, in_transform, out_gate = np.split(i2h + h2h, 4, axis=-1)
    next_c = apply_activation(forget_gate, recurrent_activation) * c + \
        apply_activation(in_gate, recurrent_activation) * \
        apply_activation(in_transform, activation)
    if clip is not None:
        low, high, clip_nan = clip
        # fmax/fmin turn NaN into a bound; clip lets it through
        next_c = np.fmin(np.fmax(next_c, low), high) if clip_nan else np.clip(next_c, low, high)
    next_h = apply_activation(out_gate, recurrent_activation) * \
        apply_activation(next_c, activation)
    return next_h, next_c


def gru_update(i2h, h2h, h, activation, recurrent_activation):
    """cuDNN's GRU: the reset gate scales h2h's n part (its bias included)."""
    i2h_r, i2h_z, i2h_n = np.split(i2h, 3, axis=-1)
    h2h_r, h2h_z, h2h_n = np.split(h2h, 3, axis=-1)
    reset_gate = apply_activation(i2h_r + h2h_r, recurrent_activation)
    update_gate = apply_activation(i2h_z + h2h_z, recurrent_activation)
    new_h = apply_activation(i2h_n + reset_gate * h2h_n, activation)
    return (1 - update_gate) * new_h + update_gate * h


# --- sequences ---------------------------------------------------------------------------------
def _split_steps(x, axis):
    return [s.reshape(s.shape[:axis] + s.shape[axis + 1:])
            for s in np.split(x, x.shape[axis], axis=axis)]


def _format_sequence(length, inputs, layout, merge, owner):
    """``inputs`` (one array with a time axis, or a list of per-step arrays) as a list of steps
    (``merge`` False), one array (True) or as given (None); with the time axis and batch size."""
    axis, batch_axis = layout.find("T"), layout.find("N")
    if axis < 0 or batch_axis < 0:
        raise LayerError(f"{owner}: layout {layout!r} must name a time axis 'T' and a batch axis "
                         "'N'")
    if isinstance(inputs, np.ndarray):
        if inputs.ndim != len(layout):
            raise LayerShapeError(f"{owner}: input of shape {inputs.shape} does not match "
                                  f"layout {layout!r}")
        if length is not None and length != inputs.shape[axis]:
            raise LayerShapeError(f"{owner}: unroll length {length} does not match the "
                                  f"{inputs.shape[axis]} time steps of input {inputs.shape}")
        batch_size = inputs.shape[batch_axis]
        if merge is False:
            inputs = _split_steps(inputs, axis)
    elif isinstance(inputs, (list, tuple)) and inputs:
        if length is not None and length != len(inputs):
            raise LayerShapeError(f"{owner}: unroll length {length} does not match the "
                                  f"{len(inputs)} input steps")
        batch_size = inputs[0].shape[0]
        inputs = np.stack(inputs, axis=axis) if merge is True else list(inputs)
    else:
        raise LayerError(f"{owner}: inputs must be an array or a non-empty list of arrays, got "
                         f"{type(inputs).__name__}")
    return inputs, axis, batch_size


def _begin_state_like(cell, begin_state, steps, batch_size):
    if begin_state is not None:
        return [begin_state] if isinstance(begin_state, np.ndarray) else list(begin_state)
    first = steps if isinstance(steps, np.ndarray) else steps[0]
    return cell.begin_state(batch_size, device=first.device, dtype=first.dtype)


def _keep_mask(valid_length, t, ndim):
    """Where step ``t`` is inside each sequence, shaped to broadcast over (N, ...)."""
    return (valid_length > t).reshape((-1,) + (1,) * (ndim - 1))


def _mask_sequence(outputs, valid_length, axis, merge):
    """Zero every step at or past each sequence's valid length."""
    if not isinstance(outputs, np.ndarray):
        outputs = np.stack(outputs, axis=axis)
    outputs = npx.sequence_mask(outputs, sequence_length=valid_length, use_sequence_length=True,
                                axis=axis)
    return outputs if merge else _split_steps(outputs, axis)


def _reverse_steps(steps, valid_length=None):
    """The list of steps backwards; with ``valid_length`` each sequence reverses only its valid
    steps and keeps its padding in place (MXNet's sequence_reverse)."""
    if valid_length is None:
        return list(reversed(steps))
    length, lengths = len(steps), valid_length.asnumpy().astype("int64")
    t = _onp.arange(length)[:, None]
    index = _onp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    stacked = np.stack(steps, axis=0)
    index = index.reshape(index.shape + (1,) * (stacked.ndim - 2))
    gathered = np.take_along_axis(stacked, np.array(index, device=stacked.device), axis=0)
    return _split_steps(gathered, 0)


def on_device(x, device):
    return x if x.device == device else x.to_device(device)


# --- base cells --------------------------------------------------------------------------------
class RecurrentCell(Block):
    """Base of the recurrent cells: ``state_info`` describes the states, ``begin_state`` makes
    them, a call advances one step and ``unroll`` runs a whole sequence."""

    def __init__(self):
        super().__init__()
        self._modified = False
        self.reset()

    def reset(self):
        """Forget per-sequence bookkeeping before a new sequence (``unroll`` calls it)."""
        self._init_counter = -1
        self._counter = -1
        for cell in self._children.values():
            if isinstance(cell, RecurrentCell):
                cell.reset()

    def state_info(self, batch_size=0):
        raise NotImplementedError(f"{type(self).__name__} does not implement state_info")

    def _check_not_modified(self):
        if self._modified:
            raise LayerError(f"{type(self).__name__}: after applying modifier cells (e.g. "
                             "ZoneoutCell) the base cell cannot be called directly; call the "
                             "modifier cell instead")

    def begin_state(self, batch_size=0, func=np.zeros, **kwargs):
        """The initial states, ``func(shape=..., device=..., dtype=..., **rest)`` for each;
        ``kwargs`` override or extend what ``state_info`` gives."""
        self._check_not_modified()
        states = []
        for info in self.state_info(batch_size):
            info = dict(info or {}, **kwargs)
            info.pop("__layout__", None)
            states.append(func(shape=info.pop("shape", ()), device=info.pop("device", None),
                               dtype=info.pop("dtype", "float32"), **info))
        return states

    def __call__(self, inputs, states):
        self._counter += 1
        if isinstance(states, np.ndarray):
            states = [states]
        return super().__call__(inputs, list(states))

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """Run ``length`` steps over ``inputs`` (an array in ``layout``, or a list of (N, C)
        steps). The outputs are one array if ``merge_outputs``, a list of steps if False, and
        for None a list (one array with ``valid_length``), as MXNet; past ``valid_length``
        they are zero and the states are those after each sequence's last valid step."""
        self.reset()
        steps, axis, batch_size = _format_sequence(length, inputs, layout, False,
                                                   type(self).__name__)
        states = _begin_state_like(self, begin_state, steps, batch_size)
        outputs = []
        for t in range(len(steps)):
            output, new_states = self(steps[t], states)
            if valid_length is not None:
                new_states = [np.where(_keep_mask(valid_length, t, new.ndim), new, old)
                              for new, old in zip(new_states, states)]
            states = new_states
            outputs.append(output)
        if valid_length is not None:
            outputs = _mask_sequence(outputs, valid_length, axis, True)
        outputs, _, _ = _format_sequence(length, outputs, layout, merge_outputs,
                                         type(self).__name__)
        return outputs, states


class HybridRecurrentCell(RecurrentCell, HybridBlock):
    """A recurrent cell written with np/npx operations only."""


class _ProjectionCell(HybridRecurrentCell):
    """RNNCell, LSTMCell and GRUCell: their parameters, shape inference and input checks, and
    the i2h and h2h projections their update rules start from."""

    _gates = 1

    def __init__(self, hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                 i2h_bias_initializer, h2h_bias_initializer, input_size):
        super().__init__()
        if int(hidden_size) < 1:
            raise LayerError(f"{type(self).__name__}: hidden_size must be positive, got "
                             f"{hidden_size}")
        self._hidden_size = int(hidden_size)
        self._input_size = int(input_size)
        rows = self._gates * self._hidden_size
        self.i2h_weight = Parameter("i2h_weight", shape=(rows, self._input_size),
                                    init=i2h_weight_initializer, allow_deferred_init=True)
        self.h2h_weight = Parameter("h2h_weight", shape=(rows, self._hidden_size),
                                    init=h2h_weight_initializer, allow_deferred_init=True)
        self.i2h_bias = Parameter("i2h_bias", shape=(rows,), init=i2h_bias_initializer,
                                  allow_deferred_init=True)
        self.h2h_bias = Parameter("h2h_bias", shape=(rows,), init=h2h_bias_initializer,
                                  allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"}]

    def _check_step_input(self, inputs):
        if inputs.ndim != 2:
            raise LayerShapeError(f"{self!r}: a step takes input of shape (batch_size, "
                                  f"input_size), got {inputs.shape}")

    def infer_shape(self, inputs, *args):
        self._check_step_input(inputs)
        self.i2h_weight.shape = (self._gates * self._hidden_size, inputs.shape[1])

    def _projections(self, inputs, states):
        """i2h and h2h, after checking the input and the states against the parameters."""
        self._check_step_input(inputs)
        if 0 < self.i2h_weight.shape[1] != inputs.shape[1]:
            raise LayerShapeError(f"{self!r}: input of shape {inputs.shape} has "
                                  f"{inputs.shape[1]} features, but parameter 'i2h_weight' has "
                                  f"shape {self.i2h_weight.shape}")
        expected = [info["shape"] for info in self.state_info(inputs.shape[0])]
        if len(states) != len(expected) or any(s.shape != e for s, e in zip(states, expected)):
            raise LayerShapeError(f"{self!r}: expected {len(expected)} state(s) of shape "
                                  f"{expected[0]}, got {[s.shape for s in states]}")
        dev, rows = inputs.device, self._gates * self._hidden_size
        i2h = npx.fully_connected(inputs, self.i2h_weight.data(dev), self.i2h_bias.data(dev),
                                  num_hidden=rows)
        h2h = npx.fully_connected(on_device(states[0], dev), self.h2h_weight.data(dev),
                                  self.h2h_bias.data(dev), num_hidden=rows)
        return i2h, h2h

    def _mapping(self):
        rows, cols = self.i2h_weight.shape
        return f"{cols if cols > 0 else None} -> {rows}"

    def __repr__(self):
        return f"{type(self).__name__}({self._mapping()})"


class RNNCell(_ProjectionCell):
    """Elman cell: h' = activation(x @ i2h_weight.T + i2h_bias + h @ h2h_weight.T + h2h_bias)."""

    def __init__(self, hidden_size, activation="tanh", i2h_weight_initializer=None,
                 h2h_weight_initializer=None, i2h_bias_initializer="zeros",
                 h2h_bias_initializer="zeros", input_size=0):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size)
        check_activation("RNNCell", activation)
        self._activation = activation

    def forward(self, inputs, states):
        i2h, h2h = self._projections(inputs, states)
        output = elman_update(i2h, h2h, self._activation)
        return output, [output]

    def __repr__(self):
        return f"{type(self).__name__}({self._mapping()}, {self._activation})"


class LSTMCell(_ProjectionCell):
    """Long short-term memory cell; states [h, c]; gates i, f, c, o stacked in that order."""

    _gates = 4

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 activation="tanh", recurrent_activation="sigmoid"):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size)
        check_activation("LSTMCell", activation)
        check_activation("LSTMCell", recurrent_activation)
        self._activation = activation
        self._recurrent_activation = recurrent_activation

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"},
                {"shape": (batch_size, self._hidden_size), "__layout__": "NC"}]

    def forward(self, inputs, states):
        i2h, h2h = self._projections(inputs, states)
        next_h, next_c = lstm_update(i2h, h2h, on_device(states[1], inputs.device),
                                     self._activation, self._recurrent_activation)
        return next_h, [next_h, next_c]


class GRUCell(_ProjectionCell):
    """Gated recurrent unit (cuDNN's variant); gates r, z, n stacked in that order."""

    _gates = 3

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 activation="tanh", recurrent_activation="sigmoid"):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size)
        check_activation("GRUCell", activation)
        check_activation("GRUCell", recurrent_activation)
        self._activation = activation
        self._recurrent_activation = recurrent_activation

    def forward(self, inputs, states):
        i2h, h2h = self._projections(inputs, states)
        next_h = gru_update(i2h, h2h, on_device(states[0], inputs.device), self._activation,
                            self._recurrent_activation)
        return next_h, [next_h]


# --- containers and modifiers -----------------------------------------------------------------
class SequentialRNNCell(RecurrentCell):
    """Stacks cells: each step feeds the output of one cell to the next; the states are the
    cells' states one after another."""

    def add(self, cell):
        if not isinstance(cell, RecurrentCell):
            raise LayerError(f"{type(self).__name__}.add: expected a recurrent cell, got "
                             f"{type(cell).__name__}")
        self.register_child(cell)

    def __getitem__(self, i):
        return list(self._children.values())[i]

    def __len__(self):
        return len(self._children)

    def state_info(self, batch_size=0):
        return [info for cell in self._children.values() for info in cell.state_info(batch_size)]

    def begin_state(self, batch_size=0, func=np.zeros, **kwargs):
        self._check_not_modified()
        return [s for cell in self._children.values()
                for s in cell.begin_state(batch_size, func, **kwargs)]

    def __call__(self, inputs, states):
        self._counter += 1
        states, next_states, p = list(states), [], 0
        for cell in self._children.values():
            n = len(cell.state_info())
            inputs, cell_states = cell(inputs, states[p:p + n])
            p += n
            next_states.extend(cell_states)
        return inputs, next_states

    def forward(self, inputs, states):
        return self(inputs, states)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        _, _, batch_size = _format_sequence(length, inputs, layout, None, type(self).__name__)
        states = _begin_state_like(self, begin_state, inputs, batch_size)
        cells, next_states, p = list(self._children.values()), [], 0
        for i, cell in enumerate(cells):
            n = len(cell.state_info())
            inputs, cell_states = cell.unroll(
                length, inputs, begin_state=states[p:p + n], layout=layout,
                merge_outputs=merge_outputs if i == len(cells) - 1 else None,
                valid_length=valid_length)
            p += n
            next_states.extend(cell_states)
        return inputs, next_states

    def __repr__(self):
        body = "\n".join(f"  ({name}): " + repr(cell).replace("\n", "\n  ")
                         for name, cell in self._children.items())
        return f"{type(self).__name__}(\n{body}\n)"


class HybridSequentialRNNCell(SequentialRNNCell, HybridRecurrentCell):
    """SequentialRNNCell of hybrid cells."""


class DropoutCell(HybridRecurrentCell):
    """Applies dropout (rate ``rate``, one mask shared along ``axes``) to its input in
    training mode; it has no states."""

    def __init__(self, rate, axes=()):
        super().__init__()
        if not isinstance(rate, Real) or not 0 <= rate <= 1:
            raise LayerError(f"DropoutCell: rate must be a number in [0, 1], got {rate!r}")
        self._rate = rate
        self._axes = axes

    def state_info(self, batch_size=0):
        return []

    def forward(self, inputs, states):
        if self._rate > 0:
            inputs = npx.dropout(inputs, p=self._rate, axes=self._axes)
        return inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        inputs, _, _ = _format_sequence(length, inputs, layout, merge_outputs,
                                        type(self).__name__)
        if isinstance(inputs, np.ndarray):      # one mask draw for the whole sequence
            return self.forward(inputs, list(begin_state or []))
        return super().unroll(length, inputs, begin_state, layout, merge_outputs)

    def __repr__(self):
        return f"{type(self).__name__}(rate={self._rate}, axes={self._axes})"


class ModifierCell(HybridRecurrentCell):
    """Wraps ``base_cell`` to change what it does; the base cell is then used only through the
    modifier (it is marked modified, and its ``begin_state`` refuses direct calls)."""

    def __init__(self, base_cell):
        if not isinstance(base_cell, RecurrentCell):
            raise LayerError(f"{type(self).__name__}: base_cell must be a recurrent cell, got "
                             f"{type(base_cell).__name__}")
        if base_cell._modified:
            raise LayerError(f"{type(self).__name__}: cell {base_cell!r} is already modified; "
                             "one cell cannot be modified twice")
        base_cell._modified = True
        super().__init__()
        self.base_cell = base_cell

    @property
    def params(self):
        return self.base_cell.params

    def state_info(self, batch_size=0):
        return self.base_cell.state_info(batch_size)

    def begin_state(self, batch_size=0, func=np.zeros, **kwargs):
        self._check_not_modified()
        self.base_cell._modified = False
        try:
            return self.base_cell.begin_state(batch_size, func, **kwargs)
        finally:
            self.base_cell._modified = True

    def __repr__(self):
        return f"{type(self).__name__}({self.base_cell!r})"


class ZoneoutCell(ModifierCell):
    """Zoneout: in training, each output element keeps the previous step's value with
    probability ``zoneout_outputs`` and each state element its old value with probability
    ``zoneout_states``."""

    def __init__(self, base_cell, zoneout_outputs=0.0, zoneout_states=0.0):
        if isinstance(base_cell, BidirectionalCell):
            raise LayerError("ZoneoutCell: a BidirectionalCell cannot be stepped; wrap the cells "
                             "inside it instead")
        super().__init__(base_cell)
        self.zoneout_outputs = zoneout_outputs
        self.zoneout_states = zoneout_states
        self._prev_output = None

    def reset(self):
        super().reset()
        self._prev_output = None

    def forward(self, inputs, states):
        next_output, next_states = self.base_cell(inputs, states)
        prev = self._prev_output
        if prev is None:
            prev = np.zeros(next_output.shape, dtype=next_output.dtype,
                            device=next_output.device)
        output = np.where(_keep_new(self.zoneout_outputs, next_output), next_output, prev) \
            if self.zoneout_outputs != 0 else next_output
        if self.zoneout_states != 0:
            next_states = [np.where(_keep_new(self.zoneout_states, new), new,
                                    on_device(old, new.device))
                           for new, old in zip(next_states, states)]
        self._prev_output = output
        return output, next_states

    def __repr__(self):
        return (f"{type(self).__name__}(p_out={self.zoneout_outputs}, "
                f"p_state={self.zoneout_states}, {self.base_cell!r})")


def _keep_new(p, like):
    """Where a zoned-out element takes its new value: dropout of ones is nonzero there."""
    return npx.dropout(np.ones(like.shape, dtype=like.dtype, device=like.device), p=p) != 0


class ResidualCell(ModifierCell):
    """Adds the input to the base cell's output (the feature sizes must agree)."""

    def forward(self, inputs, states):
        output, states = self.base_cell(inputs, states)
        return output + inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs, begin_state, layout,
                                                    merge_outputs, valid_length)
        finally:
            self.base_cell._modified = True
        merge = isinstance(outputs, np.ndarray)
        inputs, axis, _ = _format_sequence(length, inputs, layout, merge, type(self).__name__)
        if valid_length is not None:
            inputs = _mask_sequence(inputs, valid_length, axis, merge)
        if merge:
            return outputs + inputs, states
        return [o + i for o, i in zip(outputs, inputs)], states


class BidirectionalCell(HybridRecurrentCell):
    """Runs ``l_cell`` forwards and ``r_cell`` backwards over a sequence and concatenates their
    outputs on the feature axis; only ``unroll`` is possible. States: l_cell's then r_cell's."""

    def __init__(self, l_cell, r_cell):
        super().__init__()
        for name, cell in (("l_cell", l_cell), ("r_cell", r_cell)):
            if not isinstance(cell, RecurrentCell):
                raise LayerError(f"BidirectionalCell: {name} must be a recurrent cell, got "
                                 f"{type(cell).__name__}")
        self.l_cell = l_cell
        self.r_cell = r_cell

    def __call__(self, inputs, states):
        raise RNNUnsupportedError("BidirectionalCell cannot be stepped; use unroll")

    def state_info(self, batch_size=0):
        return self.l_cell.state_info(batch_size) + self.r_cell.state_info(batch_size)

    def begin_state(self, batch_size=0, func=np.zeros, **kwargs):
        self._check_not_modified()
        return self.l_cell.begin_state(batch_size, func, **kwargs) + \
            self.r_cell.begin_state(batch_size, func, **kwargs)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        self.reset()
        steps, axis, batch_size = _format_sequence(length, inputs, layout, False,
                                                   type(self).__name__)
        states = _begin_state_like(self, begin_state, steps, batch_size)
        n_left = len(self.l_cell.state_info(batch_size))
        l_outputs, l_states = self.l_cell.unroll(length, steps, states[:n_left], layout,
                                                 False, valid_length)
        r_outputs, r_states = self.r_cell.unroll(length, _reverse_steps(steps, valid_length),
                                                 states[n_left:], layout, False, valid_length)
        r_outputs = _reverse_steps(r_outputs, valid_length)
        outputs = [np.concatenate([lo, ro], axis=-1) for lo, ro in zip(l_outputs, r_outputs)]
        if merge_outputs is None:   # MXNet merges exactly when its masking already did
            merge_outputs = valid_length is not None
        if valid_length is not None:
            return _mask_sequence(outputs, valid_length, axis, merge_outputs), \
                l_states + r_states
        if merge_outputs:
            outputs = np.stack(outputs, axis=axis)
        return outputs, l_states + r_states

    def __repr__(self):
        return f"{type(self).__name__}(forward={self.l_cell!r}, backward={self.r_cell!r})"
