"""The op registry: every differentiable op is a forward launch plus a vjp written in clgrad ops.

``invoke`` is the one path from the namespaces to the device and the tape: it runs the forward
(with recording paused, so composite forwards record nothing inside), and, when recording and
an input needs a gradient, records one node whose backward is the op's vjp.
"""
from ..autograd.graph import LeafNode as _Leaf
from ..autograd.graph import OpContext, record_node
from ..autograd.graph import flags as _flags
from ..ndarray import ndarray

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


def invoke(op, inputs, **attrs):
    """Run ``op`` on ``inputs`` (positional, arrays or not); record it if needed.

    The record path does one pass over the inputs and builds one node; everything else the
    vjp needs is what the forward put in ``ctx``.
    """
    ctx = OpContext()
    if op.backward is None or not _flags.recording:
        return op.forward(ctx, *inputs, **attrs)
    needs = []
    any_need = False
    for x in inputs:
        t = type(x)
        if t is float or t is int or t is bool or x is None:
            needs.append(False)
            continue
        node = x._ag_node if t is ndarray else getattr(x, "_ag_node", None)
        n = node is not None and not (type(node) is _Leaf and node.grad_req == "null")
        needs.append(n)
        any_need = any_need or n
    if not any_need:
        return op.forward(ctx, *inputs, **attrs)
    needs = tuple(needs)
    ctx.needs = needs
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
    record_node(op.name, op.backward, ctx, inputs, outs, needs)
    return outs[0] if single else outs
