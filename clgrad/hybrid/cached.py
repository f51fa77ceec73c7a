"""Captured calls: capture once per input signature, optimise, replay as prepared launches.

``Hybridized(fn, params)`` wraps a function of arrays (a HybridBlock's forward, or a user's
function through ``npx.hybridize``). A call works out its signature: every array input's and
parameter's shape, dtype, strides, offset and device, which inputs share a buffer, the other
arguments' values, the training flag, and, when recording, which inputs need a gradient. The
first call with a signature runs eagerly under a ``Tracer`` (its results are this call's), and,
inside ``autograd.record()``, the backward is captured too: ``autograd.grad`` of the outputs
with respect to stand-ins of the inputs that need gradients (fresh leaves over the same
buffers) and the parameters. Both event lists are optimised (``fuse``) and prepared
(``program``). Later calls replay; inside ``record()`` a replay records one graph node whose vjp
replays the captured backward (``create_graph=True`` recomputes eagerly instead).
"""
import os
import threading
import warnings
from collections import OrderedDict

from .. import autograd
from ..autograd import graph as _graph
from ..autograd.tape import reaches
from ..base import KernelBuildError
from ..ndarray import ndarray
from ..ops import core as _core
from ..ops import launch as _launch
from ..ops.args import as_flag
from .captured import CapturedCall, as_outputs
from .trace import Tracer


class HybridizeWarning(UserWarning):
    """A hybridized call that runs eagerly (what could not be captured, and why)."""


def enabled():
    """Whether capture is on (``CLGRAD_HYBRIDIZE=0`` turns it off, for debugging)."""
    return os.environ.get("CLGRAD_HYBRIDIZE", "1").strip() not in ("0", "false", "off", "no")


def capturing():
    """Whether this thread is inside a capture (a nested hybridized call then runs as part of
    the outer one)."""
    obs = _launch.observer
    return obs is not None and isinstance(obs, Tracer) and obs._mine()


class Hybridized:
    """A function captured per signature (see the module's docstring). ``params()`` gives the
    parameter arrays the function reads besides its arguments (None when one is not ready yet:
    that call runs eagerly)."""

    max_graphs = 16     # signatures kept; the least recently used is dropped beyond

    def __init__(self, fn, params=lambda: [], name=None, static_alloc=False):
        self.fn = fn
        # each graph its own arena (else the device's graphs share one)
        self.static_alloc = as_flag(static_alloc, "static_alloc", "hybridize")
        self.params = params
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.graphs = OrderedDict()     # signature -> CapturedCall
        self.eager = None               # why this function runs eagerly from now on
        self.captures = 0
        self.lock = threading.RLock()

    def __call__(self, *args, **kwargs):
        if kwargs or self.eager is not None or not enabled() or capturing():
            return self.fn(*args, **kwargs)     # (keyword arguments: not part of signatures)
        params = self.params()
        if params is None:
            return self.fn(*args)
        arrays = [a for a in args if type(a) is ndarray]
        inputs = arrays + [p for p in params if all(p is not a for a in arrays)]
        sig = _signature(args, inputs)
        if sig is None:
            return self.fn(*args)
        recording = _graph.flags.recording
        needs = _graph.parents_of(inputs)[1] if recording and inputs else None
        key = (sig, _graph.flags.training, needs)
        with self.lock:
            cc = self.graphs.get(key)
            if cc is not None:
                self.graphs.move_to_end(key)
        if cc is not None:
            return cc.replay(args, inputs, needs)
        out, cc = self._capture(args, inputs, needs)
        if cc is not None:
            with self.lock:
                self.graphs[key] = cc
                while len(self.graphs) > self.max_graphs:
                    self.graphs.popitem(last=False)
        return out

    def _capture(self, args, inputs, needs):
        self.captures += 1
        n_args = sum(1 for a in args if type(a) is ndarray)
        try:
            return capture(self, args, inputs, n_args, needs)
        except _Uncapturable as e:
            self.eager = e.why
            warnings.warn(f"clgrad: hybridized '{self.name}' runs eagerly: {e.why}",
                          HybridizeWarning, stacklevel=3)
            return e.result() if e.result is not None else self.fn(*args), None

    def clear(self):
        """Drop every captured graph (the next call captures again)."""
        with self.lock:
            self.graphs.clear()
            self.eager = None

    def describe(self):
        """A readable account of every captured graph (see ``CapturedCall.describe``)."""
        parts = [f"hybridized '{self.name}': {len(self.graphs)} captured signature(s)"
                 + (f"; runs eagerly: {self.eager}" if self.eager else "")]
        for cc in self.graphs.values():
            parts.append(cc.describe())
        return "\n".join(parts)


class _Uncapturable(Exception):
    def __init__(self, why, result=None):
        super().__init__(why)
        self.why = why
        self.result = result


def _signature(args, inputs):
    """The part of a call's signature that its arguments give (None: not capturable)."""
    items = []
    for a in args:
        if type(a) is ndarray:
            continue
        try:
            hash(a)
        except TypeError:
            return None
        if isinstance(a, (list, tuple, dict)) or hasattr(a, "_storage"):
            return None
        items.append((type(a), a))
    metas = []
    owner = {}
    for i, x in enumerate(inputs):
        b = x._storage.buffer
        first = owner.setdefault(id(b), i)
        metas.append((x.shape, x.dtype, x._strides, x._offset, x._storage.device, first))
    return tuple(items), tuple(metas), tuple(i for i, a in enumerate(args)
                                             if type(a) is ndarray)


# one capture at a time in a process: the tracer is the launch helper's one observer (other
# threads' eager calls pass through it untouched, but a second tracer would take its place)
_CAPTURE_LOCK = threading.Lock()


def capture(h, args, inputs, n_args, needs):
    """Run ``h.fn`` once under a tracer, capturing the backward too when recording; returns
    (this call's outputs, CapturedCall). ``_Uncapturable`` when it cannot be replayed."""
    with _CAPTURE_LOCK:
        return _capture(h, args, inputs, n_args, needs)


def _capture(h, args, inputs, n_args, needs):
    recording = needs is not None and any(needs)
    training = _graph.flags.training
    # inputs that need a gradient are replaced by fresh leaves over the same buffers, so the
    # captured graph ends at them (parameters are leaves already)
    stand = list(inputs)
    if recording:
        for i, x in enumerate(inputs[:n_args]):
            if needs[i]:
                s = x._view(x.shape, x._strides, x._offset)
                s.attach_grad()
                stand[i] = s
    call_args = list(args)
    it = iter(stand[:n_args])
    for i, a in enumerate(call_args):
        if type(a) is ndarray:
            call_args[i] = next(it)
    with Tracer() as tf:
        out = h.fn(*call_args)
    outs, kind = as_outputs(out)

    def rerun():
        # the capture ran on stand-ins: run again on the real inputs so gradients reach them
        return h.fn(*args) if recording else out

    if outs is None:
        raise _Uncapturable(f"it returns {type(out).__name__}, not an array or a tuple of "
                            "arrays", rerun)
    if tf.failed is not None:
        op, why = tf.failed
        raise _Uncapturable(f"op '{op}' cannot be captured: {why}", rerun)
    devices = {x._storage.device for x in inputs + outs}
    if len(devices) != 1:
        raise _Uncapturable("its arrays are on more than one device", rerun)
    device = devices.pop()
    bwd = None
    heads = [o for o in outs if _graph.requires_grad(o)] if recording else []
    if heads:
        variables = [s for s, n in zip(stand, needs) if n]
        which = [i for i, n in enumerate(needs) if n]
        ok = reaches(heads, variables)
        variables = [v for v, r in zip(variables, ok) if r]
        which = [i for i, r in zip(which, ok) if r]
        head_grads = [_core.zeros(o.shape, dtype=o.dtype, device=device) for o in heads]
        if variables:
            with Tracer() as tb:
                grads = autograd.grad(heads, variables, head_grads=head_grads,
                                      retain_graph=False, train_mode=training)
            if tb.failed is not None:
                op, why = tb.failed
                raise _Uncapturable(f"the backward of op '{op}' cannot be captured: {why}",
                                    rerun)
            bwd = (tb, head_grads, [_index(outs, o) for o in heads], grads, which)
    try:
        cc = CapturedCall(h.fn, h.name, device, tf, inputs, outs, kind, bwd, training,
                          h.static_alloc)
    except KernelBuildError as e:
        raise _Uncapturable(f"a fused kernel failed to build ({e})", rerun) from None
    result = out if kind is None else kind(outs)
    if bwd is not None:
        cc.record(args, inputs, outs, cc.first_binding)
    cc.first_binding = None     # (the first call's node holds what it needs)
    return result, cc


def _index(seq, x):
    for i, y in enumerate(seq):
        if y is x:
            return i
    raise ValueError("not found")



__all__ = ["Hybridized", "HybridizeWarning", "enabled", "capturing"]
