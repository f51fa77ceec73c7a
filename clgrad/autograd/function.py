"""Custom differentiable functions, MXNet style: subclass, define forward and backward.

Calling an instance runs ``forward`` with recording paused and records one node whose vjp is
the user's ``backward`` (itself run without recording: like MXNet, a custom Function is
differentiable once).
"""
from ..base import MXNetError
from ..ndarray import ndarray
from . import graph


class FunctionReuseError(MXNetError, AssertionError):
    """A ``Function`` instance called a second time (MXNet asserts; ``except AssertionError``
    catches it as there)."""


class FunctionInitError(MXNetError, AttributeError):
    """A ``Function`` subclass whose ``__init__`` did not call ``super().__init__()`` (MXNet
    then fails with an ``AttributeError``)."""


class FunctionOutputError(MXNetError, TypeError):
    """``forward`` returned something other than arrays (a ``TypeError`` as in MXNet)."""


class FunctionGradientError(MXNetError, AssertionError, ValueError):
    """``backward`` returned the wrong number of gradients, or one of the wrong shape: an
    ``AssertionError`` as MXNet asserts, and a ``ValueError``."""


class FunctionGradientTypeError(MXNetError, AssertionError, TypeError):
    """``backward`` returned a gradient that is not an array: an ``AssertionError`` as MXNet
    asserts, and a ``TypeError``."""


class Function:
    """Subclass with ``forward(self, *inputs)`` and ``backward(self, *output_grads)``."""

    def __init__(self):
        self._used = False
        self.saved_tensors = ()
        self._saved_versions = ()

    def save_for_backward(self, *args):
        self.saved_tensors = args
        self._saved_versions = tuple(getattr(getattr(a, "_storage", None), "version", None)
                                     for a in args)

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *output_grads):
        raise NotImplementedError

    def __call__(self, *inputs):
        if getattr(self, "_used", False):
            raise FunctionReuseError("Each Function instance can only be called once. Please "
                                     "create another instance.")
        if not hasattr(self, "_used"):
            raise FunctionInitError(f"{type(self).__name__}.__init__ must call "
                                    "super().__init__()")
        self._used = True
        with graph.pause(train_mode=graph.is_training()):
            outputs = self.forward(*inputs)
        single = not isinstance(outputs, (tuple, list))
        outs = (outputs,) if single else tuple(outputs)
        for o in outs:
            if not isinstance(o, ndarray):
                raise FunctionOutputError(f"{type(self).__name__}.forward must return arrays, "
                                          f"got {type(o).__name__}")
        # an output that is an input, an already recorded array, or another output gets its
        # own identity, so that each output slot and each input keeps its own graph link
        fixed = []
        for o in outs:
            if any(o is x for x in inputs) or o._ag_node is not None or \
                    any(o is f for f in fixed):
                o = o._view(o.shape, o._strides, o._offset)
            fixed.append(o)
        outs = tuple(fixed)
        if graph.is_recording() and any(graph.requires_grad(x) for x in inputs):
            self._input_meta = tuple((x.shape, x.dtype) if isinstance(x, ndarray) else None
                                     for x in inputs)
            graph.record_node(type(self).__name__, _function_backward, self, inputs, outs)
        return outs[0] if single else outs

    # the backward pass checks saved arrays through this hook before calling backward
    def check_versions(self, op_name):
        graph.check_saved(op_name, self.saved_tensors, self._saved_versions)


def _function_backward(fn, *out_grads):
    name = type(fn).__name__
    with graph.pause(train_mode=graph.is_training()):
        grads = fn.backward(*out_grads)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    meta = fn._input_meta
    if len(grads) != len(meta):
        raise FunctionGradientError(f"{name}.backward returned an incorrect number of gradients "
                                    f"(expected {len(meta)}, one per input of forward, got "
                                    f"{len(grads)})")
    out = []
    for i, (g, m) in enumerate(zip(grads, meta)):
        if m is None or g is None:
            out.append(None)
            continue
        if not isinstance(g, ndarray):
            raise FunctionGradientTypeError(f"{name}.backward must return arrays; gradient {i} "
                                            f"is {type(g).__name__}")
        if g.shape != m[0]:
            raise FunctionGradientError(f"{name}.backward returned a gradient of shape {g.shape} "
                                        f"for input {i}, whose shape is {m[0]}")
        # detach: a gradient is a value, not a link into the user's graph
        out.append(g.detach())
    return tuple(out)
