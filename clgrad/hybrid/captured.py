"""One captured signature: its optimised programs, arena and autograd node.

``CapturedCall`` is built from the tracers of a capture (``cached.capture``): it decides which
buffers are bound per call (inputs, fresh outputs, values saved for the backward, output
cotangents, gradients), which are fixed (constants, outside arrays, parts of the arena), runs
the passes, prepares the forward and backward ``Program`` and replays them; its graph node's vjp
replays the backward (or recomputes eagerly under ``create_graph``).
"""
import os

from .. import autograd
from ..autograd import graph as _graph
from ..autograd.tape import reaches
from ..ndarray import Storage, ndarray
from ..ops import core as _core
from . import folds, fuse
from .program import Arena, Program, base_align, lifetimes, pack
from .trace import Copy, Ew, Launch, Tracer, Upload


def fusing():
    """Whether captured graphs fuse elementwise chains (``CLGRAD_HYBRIDIZE_FUSE=0`` keeps one
    launch per op, to tell a fusion problem from a capture problem, and to time replays)."""
    return os.environ.get("CLGRAD_HYBRIDIZE_FUSE", "1").strip() not in ("0", "false", "off",
                                                                         "no")


def as_outputs(out):
    """The output arrays of a call, and how to rebuild the call's structure from them."""
    if type(out) is ndarray:
        return [out], None
    if isinstance(out, (tuple, list)) and out and all(type(o) is ndarray for o in out):
        return list(out), type(out)
    return None, None


class CapturedCall:
    """One signature's captured forward (and backward): optimised events, the prepared
    programs, their arena, and how to make outputs and gradients from per-call buffers."""

    def __init__(self, fn, name, device, tf, inputs, outs, kind, bwd, training,
                 static_alloc=False):
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
        # static_alloc: the graph's own arena; else the one its device's graphs share. Its
        # parts are bound per call, and kept while its buffer stays the same
        self.arena_size = total
        self.static_alloc = static_alloc
        self.arena = None if not total else Arena(device) if static_alloc else \
            Arena.shared(device)
        self.part_places = []
        self._parts, self._parts_of = [], None
        for i, off in offsets.items():
            keys[i] = ("part", len(self.part_places))
            self.part_places.append((off, sizes[i]))

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
        self._run(self.forward, binding)
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
        self._run(self.backward, binding)
        grads = [None] * self.n_inputs
        for i, d in zip(self.grad_for, self.grad_desc):
            grads[i] = _materialise(d, storages, ctx.inputs)
        return tuple(grads)

    def _run(self, program, binding):
        """Enqueue ``program`` with ``binding`` and the parts of the graph's arena."""
        if self.arena is None:
            program.run(binding)
            return
        with self.arena.borrow(self.arena_size) as buf:
            if self._parts_of is not buf:
                self._parts = [buf.get_sub_region(off, max(size, 1))
                               for off, size in self.part_places]
                self._parts_of = buf
            for j, sub in enumerate(self._parts):
                binding[("part", j)] = sub
            program.run(binding)

    def describe(self):
        """Op counts before and after the passes, the arena, and each fused kernel's source."""
        lines = []
        for part in ("forward", "backward"):
            if part not in self.counts:
                continue
            ew, other = self.counts[part][:2]
            ew2, other2, fused, epi, pro, rows = self.counts[part + "_after"]
            prog = getattr(self, part)
            lines.append(f"  {part}: {ew} elementwise ops + {other} other launches captured; "
                         f"after fusion {ew2} elementwise kernels + {other2} other launches "
                         f"({epi} with an elementwise epilogue, {pro} with an elementwise "
                         f"prologue, {rows} writing a row sum beside), computing {fused} "
                         f"elementwise "
                         f"ops = {prog.launches} launches per call")
        where = "its own" if self.static_alloc else \
            "the device's arena, shared with its other graphs (static_alloc=False)"
        lines.append(f"  arena: {self.arena_size} bytes for the intermediates, in {where}")
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
    outs, _ = as_outputs(out)
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
    if not fusing():
        return events
    events = fuse.fuse_elementwise(events, internal, keep)
    events = folds.fuse_epilogues(events, internal, keep)
    events = folds.fuse_copies(events, internal, keep)
    events = folds.fuse_prologues(events, internal, keep)
    return folds.fuse_row_sums(events, internal, keep)


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


__all__ = ["CapturedCall", "as_outputs", "fusing"]
