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
from ..ndarray import Storage, ndarray
from ..ops import launch as _launch
from ..ops import core as _core
from . import fuse
from .program import Arena, Program, base_align, is_buffer, lifetimes, pack
from .trace import Copy, Ew, Launch, Tracer, Upload


class HybridizeWarning(UserWarning):
    """A hybridized call that runs eagerly (what could not be captured, and why)."""


def enabled():
    """Whether capture is on (``CLGRAD_HYBRIDIZE=0`` turns it off, for debugging)."""
    return os.environ.get("CLGRAD_HYBRIDIZE", "1").strip() not in ("0", "false", "off", "no")


def fusing():
    """Whether captured graphs fuse elementwise chains (``CLGRAD_HYBRIDIZE_FUSE=0`` keeps one
    launch per op, to tell a fusion problem from a capture problem, and to time replays)."""
    return os.environ.get("CLGRAD_HYBRIDIZE_FUSE", "1").strip() not in ("0", "false", "off",
                                                                         "no")


def capturing():
    """Whether this thread is inside a capture (a nested hybridized call then runs as part of
    the outer one)."""
    obs = _launch.observer()
    return obs is not None and isinstance(obs, Tracer) and obs._mine()


class Hybridized:
    """A function captured per signature (see the module's docstring). ``params()`` gives the
    parameter arrays the function reads besides its arguments (None when one is not ready yet:
    that call runs eagerly)."""

    max_graphs = 16     # signatures kept; the least recently used is dropped beyond

    def __init__(self, fn, params=lambda: [], name=None):
        self.fn = fn
        self.params = params
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.graphs = OrderedDict()     # signature -> CapturedCall
        self.eager = None               # why this function runs eagerly from now on
        self.captures = 0
        self.lock = threading.RLock()

    def __call__(self, *args):
        if self.eager is not None or not enabled() or capturing():
            return self.fn(*args)
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


def _as_outputs(out):
    """The output arrays of a call, and how to rebuild the call's structure from them."""
    if type(out) is ndarray:
        return [out], None
    if isinstance(out, (tuple, list)) and out and all(type(o) is ndarray for o in out):
        return list(out), type(out)
    return None, None


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
    outs, kind = _as_outputs(out)

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
        cc = CapturedCall(h.fn, h.name, device, tf, inputs, outs, kind, bwd, training)
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


class CapturedCall:
    """One signature's captured forward (and backward): optimised events, the prepared
    programs, their arena, and how to make outputs and gradients from per-call buffers."""

    def __init__(self, fn, name, device, tf, inputs, outs, kind, bwd, training):
        self.fn = fn
        self.name = name
        self.device = device
        self.kind = kind
        self.training = training
        self.n_inputs = len(inputs)
        in_key = {}
        for k, x in enumerate(inputs):
            in_key.setdefault(id(x._storage.buffer), ("in", k))
        fwd_events = tf.events
        keys = dict(in_key)
        # the backward's own stand-ins read the inputs' buffers: the same keys
        out_ids = {}
        for o in outs:
            b = o._storage.buffer
            if id(b) not in keys and id(b) in tf.internal:
                out_ids.setdefault(id(b), ("out", len(out_ids)))
        keys.update(out_ids)
        internal = dict(tf.internal)
        bwd_events = []
        head_keys = {}
        grad_keys = {}
        if bwd is not None:
            tb, head_grads, head_index, grads, which = bwd
            self.head_index = head_index
            self.grad_for = which
            for k, g in enumerate(head_grads):
                head_keys.setdefault(id(g._storage.buffer), ("head", k))
            bwd_events = tb.events
            for g in grads:
                b = g._storage.buffer
                if id(b) in tb.internal and id(b) not in keys:
                    grad_keys.setdefault(id(b), ("grad", len(grad_keys)))
        # what the backward reads of the forward's values must outlive the forward
        bwd_touch = {id(b) for e in bwd_events for b in _touch(e)}
        saved = [i for i in internal if i in bwd_touch and i not in keys]
        keep_f = set(out_ids) | set(saved)
        self.counts = {"forward": fuse.count_kernels(fwd_events)}
        fwd_events = _optimise(fwd_events, internal, keep_f)
        if bwd is not None:
            keep_b = set(grad_keys)
            b_internal = dict(tb.internal)
            self.counts["backward"] = fuse.count_kernels(bwd_events)
            bwd_events = _optimise(bwd_events, b_internal, keep_b)
        fwd_list = _prepare(fwd_events)
        bwd_list = _prepare(bwd_events) if bwd is not None else []
        # saved values as the optimised lists use them
        bwd_touch = {id(b) for e in bwd_list for b in _touch(e)}
        fwd_touch = {id(b) for e in fwd_list for b in _touch(e)}
        saved = [i for i in internal if i in bwd_touch and i in fwd_touch and i not in keys]
        for j, i in enumerate(saved):
            keys[i] = ("saved", j)
        keys.update(head_keys)
        keys.update(grad_keys)
        sizes = dict(tf.sizes)
        if bwd is not None:
            sizes.update(tb.sizes)
            internal.update(tb.internal)
        self.sizes = {key: sizes[i] for i, key in keys.items() if i in sizes}
        # constants: internal values that only uploads write, or nothing in the program (a
        # folded op's result), kept as the capture left them (their uploads dropped)
        fixed = {}
        for lst in (fwd_events, bwd_events):     # (before _prepare: elementwise roles known)
            writers = {}
            for e in lst:
                for b in _touch(e):
                    writers.setdefault(id(b), [])
                for b in _writes(e):
                    writers[id(b)].append(type(e))
            for i, ts in writers.items():
                if i in internal and i not in keys and all(t is Upload for t in ts):
                    fixed[i] = internal[i]
        fwd_list = [e for e in fwd_list if not (type(e) is Upload and id(e.buffer) in fixed)]
        bwd_list = [e for e in bwd_list if not (type(e) is Upload and id(e.buffer) in fixed)]
        # the arena: every other internal value, packed per program by liveness
        align = base_align(device)
        offsets = {}
        total = 0
        for lst in (fwd_list, bwd_list):
            wanted = {i for e in lst for b in _touch(e) for i in (id(b),)
                      if i in internal and i not in keys and i not in fixed}
            life = lifetimes(lst, wanted)
            offs, size = pack(sizes, life, align)
            offsets.update(offs)
            total = max(total, size)
        self.arena = Arena(device, total)
        for i, off in offsets.items():
            fixed[i] = self.arena.part(off, sizes[i])

        def resolve(b):
            k = keys.get(id(b))
            if k is not None:
                return True, k
            return False, fixed.get(id(b), b)
        # outside buffers (constants captured from the caller's scope) stay referenced by the
        # kernel objects, which hold them alive
        self.forward = Program(fwd_list, resolve)
        self.backward = Program(bwd_list, resolve) if bwd is not None else None
        self.out_desc = [_describe(o, keys, fixed) for o in outs]
        self.grad_desc = [_describe(g, keys, fixed) for g in bwd[3]] if bwd is not None else []
        self.written_inputs = sorted({k[1] for e in fwd_events if type(e) is not Launch
                                      for b in _writes(e)
                                      for k in (keys.get(id(b)),) if k and k[0] == "in"})
        self.fixed = fixed      # the constants and the arena's parts, held
        self.counts["forward_after"] = fuse.count_kernels(fwd_events)
        if bwd is not None:
            self.counts["backward_after"] = fuse.count_kernels(bwd_events)
        self.fused_sources = self.forward.sources + (self.backward.sources if self.backward
                                                     else [])
        # the first call's own buffers, for its graph node
        self.first_binding = {}
        for i, key in keys.items():
            if key[0] in ("out", "saved") and i in internal:
                self.first_binding[key] = _Held(internal[i], sizes.get(i, 0), device)
        for o in outs:
            key = keys.get(id(o._storage.buffer))
            if key is not None and key[0] == "out":
                self.first_binding[key] = o._storage

    # --- replay ---------------------------------------------------------------------------------
    def replay(self, args, inputs, needs):
        recording = needs is not None and any(needs) and self.backward is not None
        binding = {"queue": self.device.queue}
        for k, x in enumerate(inputs):
            binding[("in", k)] = x._storage.buffer
        storages = {}
        for key, size in self.sizes.items():
            if key[0] == "out" or key[0] == "saved":
                st = Storage(self.device, size)
                storages[key] = st
                binding[key] = st.buffer
        self.forward.run(binding)
        for k in self.written_inputs:
            inputs[k]._storage.version += 1
        outs = [_materialise(d, storages, inputs) for d in self.out_desc]
        if recording:
            self.record(args, inputs, outs, storages)
        return outs[0] if self.kind is None else self.kind(outs)

    def record(self, args, inputs, outs, storages):
        ctx = _HybridContext()
        ctx.call = self
        ctx.args = args
        ctx.storages = storages
        ctx.inputs = list(inputs)
        ctx.save(*inputs)
        _graph.record_node(f"hybridized {self.name}", _hybrid_vjp, ctx, list(inputs), outs)

    def run_backward(self, ctx, cotangents):
        binding = {"queue": self.device.queue}
        for k, x in enumerate(ctx.inputs):
            binding[("in", k)] = x._storage.buffer
        storages = dict(ctx.storages)
        for key, st in storages.items():
            binding[key] = st.buffer
        for k, i in enumerate(self.head_index):
            g = cotangents[i]
            d = self.out_desc[i]
            if g.dtype != d[4] or g.shape != d[1] or not g._is_c_contiguous() or g._offset:
                g = _core.copy_raw(g, d[4])
            binding[("head", k)] = g._storage.buffer
            storages[("head", k)] = g._storage
        for key, size in self.sizes.items():
            if key[0] == "grad":
                st = Storage(self.device, size)
                storages[key] = st
                binding[key] = st.buffer
        self.backward.run(binding)
        grads = [None] * self.n_inputs
        for i, d in zip(self.grad_for, self.grad_desc):
            grads[i] = _materialise(d, storages, ctx.inputs)
        return tuple(grads)

    def describe(self):
        """Op counts before and after the passes, the arena, and each fused kernel's source."""
        lines = []
        for part in ("forward", "backward"):
            if part not in self.counts:
                continue
            ew, other, _ = self.counts[part]
            ew2, other2, fused = self.counts[part + "_after"]
            prog = getattr(self, part)
            lines.append(f"  {part}: {ew} elementwise ops + {other} other launches captured; "
                         f"after fusion {ew2} elementwise kernels (computing {fused} ops) + "
                         f"{other2} other launches = {prog.launches} launches per call")
        lines.append(f"  arena: {self.arena.size} bytes for the intermediates")
        for name, src in self.fused_sources:
            body = src[src.find("__kernel"):]
            lines.append(f"  --- {name} ---\n{body}")
        return "\n".join(lines)


class _Held(Storage):
    """The storage of a value the first call computed during its capture (its graph node's
    saved buffer), made from the captured buffer without allocating."""

    __slots__ = ()

    def __init__(self, buffer, nbytes, device):    # (Storage.__init__ would allocate)
        self.buffer = buffer
        self.nbytes = nbytes
        self.device = device
        self.version = 0
        self.shared = False


class _HybridContext(_graph.OpContext):
    call = None
    args = ()
    storages = None
    inputs = None


def _hybrid_vjp(ctx, *cotangents):
    if _graph.flags.recording:      # create_graph: the captured backward is not recorded
        return _eager_vjp(ctx, cotangents)
    return ctx.call.run_backward(ctx, cotangents)


def _eager_vjp(ctx, cotangents):
    """The vjp of a hybridized call computed eagerly and recorded (``create_graph=True``): the
    call runs again on its inputs under ``record()`` and is differentiated as eager code is."""
    call = ctx.call
    with autograd.record(train_mode=call.training):
        out = call.fn(*ctx.args)
    outs, _ = _as_outputs(out)
    heads, head_grads = [], []
    for o, g in zip(outs, cotangents):
        if _graph.requires_grad(o):
            heads.append(o)
            head_grads.append(g)
    which = [i for i, x in enumerate(ctx.inputs) if _graph.requires_grad(x)]
    grads = [None] * len(ctx.inputs)
    if not heads or not which:
        return tuple(grads)
    ok = reaches(heads, [ctx.inputs[i] for i in which])
    which = [i for i, r in zip(which, ok) if r]
    if which:
        got = autograd.grad(heads, [ctx.inputs[i] for i in which], head_grads=head_grads,
                            create_graph=True, retain_graph=True)
        for i, g in zip(which, got):
            grads[i] = g
    return tuple(grads)


def _touch(e):
    t = type(e)
    if t is Launch:
        return e.buffers()
    if t is Ew:
        return e.reads() + e.writes()
    if t is Copy:
        return [e.dst, e.src]
    return [e.buffer]


def _writes(e):
    return e.writes()


def _optimise(events, internal, keep):
    events = fuse.fold_constants(events, internal, keep)
    events = fuse.eliminate_dead(events, internal, keep)
    return fuse.fuse_elementwise(events, internal, keep) if fusing() else events


def _prepare(events):
    """The launches of ``events`` (elementwise calls worked out into their kernel launches),
    listed without running anything."""
    with Tracer(collect=True) as tc:
        for e in events:
            if type(e) is Ew:
                e.plan.execute(e.out, e.inputs, e.flat)
            else:
                tc.events.append(e)
    return tc.events


def _describe(a, keys, fixed):
    b = a._storage.buffer
    key = keys.get(id(b))
    if key is None:
        return ("fixed", a.shape, a._strides, a._offset, a.dtype, a._storage)
    return (key, a.shape, a._strides, a._offset, a.dtype, None)


def _materialise(d, storages, inputs):
    key, shape, strides, offset, dtype, st = d
    if key == "fixed":
        pass
    elif key[0] == "in":
        # an input (or a view of one) returned: MXNet's copy semantics at a view's price, as
        # eager reshapes give them (a write to either side copies first)
        st = inputs[key[1]]._storage.share()
    else:
        st = storages[key]
    return ndarray._make(st, shape, strides, offset, dtype)


__all__ = ["Hybridized", "HybridizeWarning", "CapturedCall", "enabled", "capturing",
           "is_buffer"]
