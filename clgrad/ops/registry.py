"""The op registry and the record of one op call.

Every differentiable op is registered as a forward launch plus a vjp written in clgrad ops
(``register``). An op call is worked out once into a ``Call``: the op, its inputs, the device,
and, when recording, each input's place in the graph (``graph.parents_of``); elementwise ops add
the output's shape, whether every operand is laid out like it (the flat path), and the operand
dtypes. The launch reads it, and so does the graph node: nothing downstream decides these again.

``invoke`` is the path of the ops that are not elementwise: it runs the forward (with recording
paused, so composite forwards record nothing inside) and, when an input needs a gradient,
records one node whose backward is the op's vjp.
"""
from ..autograd.graph import OpContext, parents_of, record_node
from ..autograd.graph import flags as _flags
from . import launch as _launch

REGISTRY = {}


class OpDef:
    __slots__ = ("name", "forward", "backward")

    def __init__(self, name, forward, backward):
        self.name = name
        self.forward = forward
        self.backward = backward


def register(name, forward, backward=None):
    op = OpDef(name, forward, backward)
    REGISTRY[name] = op
    return op


class Call:
    """One op call, worked out once (see the module's docstring). ``parents`` and ``needs`` (per
    input: does it need a gradient) are None when the call is not recorded (not recording, or
    no input needs a gradient); ``plan`` is the op's launch plan for the operand signature."""

    __slots__ = ("op", "inputs", "device", "parents", "needs", "shape", "flat", "sig", "plan")

    def __init__(self, op, inputs, device, links, shape=None, flat=False, sig=None, plan=None):
        self.op = op
        self.inputs = inputs
        self.device = device
        self.parents, self.needs = links    # graph.parents_of(inputs), or (None, None)
        self.shape = shape
        self.flat = flat
        self.sig = sig
        self.plan = plan


_UNRECORDED = (None, None)


def record(call, ctx, outputs):
    """Record ``call`` (whose ``parents`` are known) as one graph node over ``outputs``."""
    op = call.op
    return record_node(op.name, op.backward, ctx, call.inputs, outputs, call.parents)


def invoke(op, inputs, **attrs):
    """Run ``op`` on ``inputs`` (positional, arrays or not); record it if needed.

    The record path does one pass over the inputs and builds one node; everything else the
    vjp needs is what the forward put in ``ctx``.
    """
    ctx = OpContext()
    obs = _launch.observer
    if obs is not None:
        obs.note_op(op.name)
    links = parents_of(inputs) if op.backward is not None and _flags.recording else \
        _UNRECORDED
    if links[0] is None:
        return op.forward(ctx, *inputs, **attrs)
    call = Call(op, inputs, None, links)
    ctx.needs = call.needs
    _flags.recording = False    # composite forwards record nothing inside
    try:
        out = op.forward(ctx, *inputs, **attrs)
    finally:
        _flags.recording = True
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    # A forward may return an input unchanged (a no-op view); give the output its own
    # identity so recording does not rewrite the input's graph links.
    fixed = None
    for k, o in enumerate(outs):
        for x in inputs:
            if o is x:
                if fixed is None:
                    fixed = list(outs)
                fixed[k] = o._view(o.shape, o._strides, o._offset)
                break
    if fixed is not None:
        outs = tuple(fixed)
    record(call, ctx, outs)
    return outs[0] if single else outs
