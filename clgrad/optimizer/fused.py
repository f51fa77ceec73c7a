"""Fused optimizer updates: every rule is a kernel of ``templates/optimizer.cl.mako``, and one
launch updates every parameter of a packed group (LAMB: three launches, for its norms).

A group is the parameters of one device whose weights, gradients, master copies and state
arrays have the same dtypes. It is packed when each of those kinds of array lies in one buffer,
at the same offsets relative to the weights (the Trainer's arenas, ``optimizer.arena``, are
built so). The kernel then takes a table per parameter (element offset, length, and four
scalars: lr with its multiplier and bias correction, wd with its multiplier, the bias-correction
terms c1 and c2) and a chunk table that maps each work-group to (parameter, chunk of CHUNK
elements), like CUDA's multi_tensor_apply. Arrays that are not packed are updated one parameter
per launch with the same kernel (a table of one parameter), copied to contiguous arrays first
when they are strided.
"""
import warnings

import numpy as _np

from .. import dtypes as _dt
from ..codegen import render as R
from ..ndarray import ndarray
from ..ops import launch
from ..ops.core import copy_into, copy_raw, from_host, empty
from .arena import arena_of
from .errors import OptimizerError, OptimizerTypeError, active_bound

__all__ = ["update", "create_states", "CHUNK"]

#: elements per work-group: a parameter of n elements takes ceil(n / CHUNK) groups
CHUNK = 4096
_GPU_WG = 256
_TABLES = {}
_TABLES_MAX = 256


# --- kernels ---------------------------------------------------------------------------------
def _compute(dtype):
    return _dt.float64 if dtype == _dt.float64 else _dt.float32


def _kernels(device, rule, hypers, w_dt, g_dt, master, s_dts):
    """(kernels by role, group size) of ``rule`` for these operand dtypes. CPUs run a chunk
    as one work-item's loop over contiguous elements; GPUs spread it over a group's lanes."""
    want = 1 if launch.launch_profile(device) == "cpu" else \
        min(_GPU_WG, launch.pow2_floor(device.caps.max_wg))
    key = ("optimizer", rule, hypers, w_dt, g_dt, master, s_dts, want)

    def make():
        wg = want
        while True:    # a compiled kernel may allow fewer lanes than asked: rebuild narrower
            ks = _build(device, rule, hypers, w_dt, g_dt, master, s_dts, wg)
            least = min(k.local for k in ks.values())
            if least >= wg:
                return ks, wg
            wg = least
    return launch.get_kernel(device, key, make)


def _build(device, rule, hypers, w_dt, g_dt, master, s_dts, wg):
    c_dt = _compute(_dt.float32 if master else w_dt)
    fp64 = _dt.float64 in (c_dt, w_dt, g_dt) + tuple(s_dts)
    name = f"opt_{rule}"
    src = R.render("optimizer.cl.mako", prelude=R.prelude(fp64), name=name, rule=rule,
                   ctype=_dt.compute_ctype(c_dt), w=R.Operand(True, w_dt, c_dt),
                   g=R.Operand(True, g_dt, c_dt), master=master,
                   states=[R.Operand(True, d, c_dt) for d in s_dts], hypers=list(hypers),
                   chunk=CHUNK, wg=wg)
    i64 = _np.int64
    sc = _np.float64 if c_dt == _dt.float64 else _np.float32
    operands = [None, i64, None, i64] + ([None, i64] if master else []) + \
        [None, i64] * len(s_dts) + [None] * 4
    scalars = [sc] * (2 + len(hypers))
    if rule != "lamb":
        return {"main": launch.Kernel(device, src, name, operands + scalars, local_cap=wg)}
    k1, kn, k2 = launch.kernels(device, src, [
        (name + "_phase1", operands + [None] + scalars, wg),
        (name + "_norms", [None] * 3, wg),
        (name + "_phase2", operands + [None] + scalars, wg)])
    return {"phase1": k1, "norms": kn, "phase2": k2}


# --- tables ----------------------------------------------------------------------------------
class _Tables:
    """The device tables of one layout: parameter offsets and lengths, the chunk map, each
    parameter's first chunk (LAMB's norms), and buffers for the per-parameter scalars and
    LAMB's partial sums. Scalars are uploaded only when they change."""

    def __init__(self, device, offsets, sizes, c_dt):
        nch = _np.array([(n + CHUNK - 1) // CHUNK for n in sizes], dtype=_np.int64)
        first = _np.concatenate([[0], _np.cumsum(nch)]).astype(_np.int32)
        params = _np.repeat(_np.arange(len(sizes), dtype=_np.int32), nch)
        within = _np.arange(len(params), dtype=_np.int32) - _np.repeat(first[:-1], nch)
        self.n_params = len(sizes)
        self.n_chunks = int(len(params))
        self.p_off = from_host(_np.array(offsets, dtype=_np.int64), device)
        self.p_len = from_host(_np.array(sizes, dtype=_np.int64), device)
        self.chunks = from_host(_np.stack([params, within], axis=1).reshape(-1)
                                if len(params) else _np.zeros(2, _np.int32), device)
        self.p_chunk = from_host(first, device)
        self.scal = empty((4 * max(1, self.n_params),), dtype=c_dt, device=device)
        self.c_np = _np.dtype(c_dt)
        self._last = None
        self.partials = self.norms = None

    def set_scalars(self, rows):
        host = _np.ascontiguousarray(rows, dtype=self.c_np)
        raw = host.tobytes()
        if raw != self._last:
            self.scal._storage.upload(host)
            self._last = raw

    def lamb_buffers(self, device, c_dt):
        if self.partials is None:
            self.partials = empty((2 * max(1, self.n_chunks),), dtype=c_dt, device=device)
            self.norms = empty((2 * max(1, self.n_params),), dtype=c_dt, device=device)
        return self.partials, self.norms


def _tables(device, offsets, sizes, c_dt):
    key = (device, offsets, sizes, c_dt)
    t = _TABLES.get(key)
    if t is None:
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.clear()
        t = _TABLES[key] = _Tables(device, offsets, sizes, c_dt)
    return t


# --- one update ------------------------------------------------------------------------------
class _Entry:
    __slots__ = ("w", "g", "master", "slots", "scalars")

    def __init__(self, w, g, master, slots, scalars):
        self.w, self.g, self.master, self.slots, self.scalars = w, g, master, slots, scalars

    def written(self):
        return [self.w] + ([self.master] if self.master is not None else []) + self.slots

    def operands(self):
        """weight, gradient, master copy (if any), states: the kernel's order."""
        return [self.w, self.g] + ([self.master] if self.master is not None else []) + \
            self.slots


def update(optimizer, indices, weights, grads, states, packed=True):
    """Update ``weights`` in place from ``grads`` with ``optimizer``'s rule (lists of equal
    length; ``states`` as ``create_state_multi_precision`` makes them).

    Counts one update of each index, then runs the rule with each parameter's learning rate
    and weight decay (multipliers and bias correction included) and the optimizer's
    rescale_grad and clip_gradient. With ``packed`` every group of parameters packed in shared
    buffers is updated in one launch (three for LAMB); otherwise, and for arrays that are not
    packed, one parameter per launch. Both give the same values.
    """
    rule = optimizer._rule()
    if rule is None:
        raise OptimizerError(f"{type(optimizer).__name__} has no kernel update rule")
    indices, weights, grads, states = list(indices), list(weights), list(grads), list(states)
    if not len(indices) == len(weights) == len(grads) == len(states):
        raise OptimizerError(f"update: {len(indices)} indices, {len(weights)} weights, "
                             f"{len(grads)} gradients and {len(states)} states differ in number")
    entries = _entries(optimizer, indices, weights, grads, states)
    if optimizer._skip_update():
        return
    hyper = optimizer._hyperparams()
    names, values = tuple(hyper), [float(v) for v in hyper.values()]
    common = [float(optimizer.rescale_grad), active_bound(optimizer.clip_gradient)] + values
    groups = {}
    for e in entries:
        sig = (e.w.device, e.w.dtype, e.g.dtype, e.master is not None,
               tuple(s.dtype for s in e.slots))
        groups.setdefault(sig, []).append(e)
    for (device, w_dt, g_dt, master, s_dts), group in groups.items():
        for d in {w_dt, g_dt, *s_dts}:
            _dt.check_device(d, device)
        kernels, wg = _kernels(device, rule, names, w_dt, g_dt, master, s_dts)
        c_dt = _compute(_dt.float32 if master else w_dt)
        for e in group:
            for a in e.written():
                a._storage.prepare_write()    # copy-on-write first: then read the buffers
            _check_disjoint(e)
        layout = _packed_layout(group) if packed else None
        if layout is not None:
            offsets, shifts = layout
            tables = _tables(device, offsets, tuple(e.w.size for e in group), c_dt)
            _run(kernels, wg, device, tables, c_dt, group[0].operands(), shifts,
                 [e.scalars for e in group], common)
        else:
            for e in group:
                _run_one(kernels, wg, device, c_dt, e, common)
        _touch(a for e in group for a in e.written())


def _entries(optimizer, indices, weights, grads, states):
    optimizer._update_count(indices)
    lrs = optimizer._get_lrs(indices)
    wds = optimizer._get_wds(indices)
    out = []
    for k, (idx, w, g, s) in enumerate(zip(indices, weights, grads, states)):
        if not isinstance(w, ndarray) or not isinstance(g, ndarray):
            raise OptimizerTypeError(f"update: weight and gradient of index {idx!r} must be "
                                     f"clgrad arrays, got {type(w).__name__} and "
                                     f"{type(g).__name__}")
        if g.shape != w.shape or g.device is not w.device:
            raise OptimizerError(f"update: the gradient of index {idx!r} (shape {g.shape} on "
                                 f"{g.device}) does not match its weight (shape {w.shape} on "
                                 f"{w.device})")
        master = None
        if optimizer.multi_precision and w.dtype == _dt.float16:
            if not (isinstance(s, (tuple, list)) and len(s) == 2 and isinstance(s[0], ndarray)
                    and s[0].dtype == _dt.float32):
                raise OptimizerError(
                    f"update: with multi_precision the state of float16 weight {idx!r} must be "
                    "(float32 master copy, state), as create_state_multi_precision makes it")
            master, s = s[0], s[1]
        slots = optimizer._slots_of(s)
        want = optimizer._state_dtypes((master if master is not None else w).dtype)
        if len(slots) != len(want) or any(
                not isinstance(a, ndarray) or a.shape != w.shape or a.device is not w.device
                for a in slots + ([master] if master is not None else [])):
            raise OptimizerError(
                f"update: the state of index {idx!r} does not fit {type(optimizer).__name__} "
                f"(expected {len(want)} array(s) of shape {w.shape} on {w.device}); create it "
                "with create_state_multi_precision")
        factor, c1, c2 = optimizer._bias_terms(optimizer._index_update_count[idx])
        out.append(_Entry(w, g, master, slots, (lrs[k] * factor, wds[k], c1, c2)))
    return out


def _span(a):
    """The bytes of its buffer that array ``a`` reaches: [first, last + 1)."""
    lo = hi = a._offset
    for n, s in zip(a.shape, a._strides):
        if n > 1:
            if s > 0:
                hi += (n - 1) * s
            else:
                lo += (n - 1) * s
    return lo * a.itemsize, (hi + 1) * a.itemsize


def _check_disjoint(e):
    """The kernels take their operands as ``restrict`` pointers: no two may overlap."""
    ops = e.operands()
    for i, a in enumerate(ops):
        for b in ops[i + 1:]:
            if a._storage.buffer is b._storage.buffer and a.size and b.size:
                (a0, a1), (b0, b1) = _span(a), _span(b)
                if a0 < b1 and b0 < a1:
                    raise OptimizerError("update: a weight, its gradient and its states must be "
                                         "separate arrays, but two of them share memory")


def _packed_layout(group):
    """(weight offsets, shift of each operand) when the group is packed, else None.

    Packed: every array contiguous, each kind of operand in one buffer (a buffer of its own),
    each at a fixed distance from its weight, and no two weights overlapping.
    """
    ops = [e.operands() for e in group]
    for row in ops:
        for a in row:
            if not (a._contig if a._contig is not None else a._is_c_contiguous()):
                return None
    first = ops[0]
    shifts = [a._offset - first[0]._offset for a in first]
    buffers = [a._storage.buffer for a in first]
    if len({id(b) for b in buffers}) != len(buffers):
        return None
    for row in ops[1:]:
        base = row[0]._offset
        for k, a in enumerate(row):
            if a._storage.buffer is not buffers[k] or a._offset - base != shifts[k]:
                return None
    spans = sorted((e.w._offset, e.w._offset + e.w.size) for e in group)
    if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        return None
    return tuple(e.w._offset for e in group), shifts


def _run(kernels, wg, device, tables, c_dt, operands, shifts, scalars, common):
    """Launch the rule over ``tables`` (operands: one array per kind, whose buffers and
    ``shifts`` are passed; the tables give the per-parameter offsets)."""
    if tables.n_chunks == 0:
        return
    tables.set_scalars(scalars)
    args = []
    for a, shift in zip(operands, shifts):
        args += (a._storage.buffer, shift)
    args += (tables.p_off._storage.buffer, tables.p_len._storage.buffer,
             tables.scal._storage.buffer, tables.chunks._storage.buffer)
    glob = (tables.n_chunks * wg,)
    if "main" in kernels:
        kernels["main"].launch(device, glob, (wg,), *args, *common)
        return
    partials, norms = tables.lamb_buffers(device, c_dt)
    kernels["phase1"].launch(device, glob, (wg,), *args, partials._storage.buffer, *common)
    kernels["norms"].launch(device, (tables.n_params * wg,), (wg,), partials._storage.buffer,
                            tables.p_chunk._storage.buffer, norms._storage.buffer)
    kernels["phase2"].launch(device, glob, (wg,), *args, norms._storage.buffer, *common)


def _run_one(kernels, wg, device, c_dt, e, common):
    """One parameter alone: a table of one, each operand at its own offset (strided arrays
    through contiguous copies, written back)."""
    ops = e.operands()
    flat = [a if a._is_c_contiguous() else copy_raw(a) for a in ops]
    tables = _tables(device, (0,), (e.w.size,), c_dt)
    _run(kernels, wg, device, tables, c_dt, flat, [a._offset for a in flat], [e.scalars],
         common)
    for a, f in zip(ops, flat):
        if f is not a and a is not e.g:
            copy_into(a, f)


def _touch(arrays):
    """Count the kernel's writes: each written array's version moves on (and its arena's)."""
    arenas = set()
    for a in arrays:
        a._storage.version += 1
        st = arena_of(a)
        if st is not None and id(st) not in arenas:
            arenas.add(id(st))
            st.version += 1


# --- states ------------------------------------------------------------------------------------
def create_states(optimizer, indices, arena):
    """The state of each array packed in ``arena`` (weights) for ``optimizer``, in arenas of the
    same layout (so the packed update finds them): ``create_state_multi_precision``'s shapes,
    float32 master copies of float16 weights with ``multi_precision`` included. An optimizer
    without a kernel rule gets its own ``create_state_multi_precision`` per array."""
    indices = list(indices)
    if optimizer._rule() is None:
        return [optimizer.create_state_multi_precision(i, v)
                for i, v in zip(indices, arena.views)]
    mp = optimizer.multi_precision and arena.dtype == _dt.float16
    master = None
    if mp:
        master = arena.like(_dt.float32)
        copy_into(master.flat, arena.flat)
    elif arena.dtype == _dt.float16 and arena.views:
        warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                      "slow convergence. Consider using multi_precision=True option of the "
                      "optimizer", stacklevel=2)
    run = master if master is not None else arena
    slot_arenas = [run.like(d) for d in optimizer._state_dtypes(run.dtype)]
    states = []
    for k in range(len(arena.views)):
        inner = optimizer._state_from_slots([a.views[k] for a in slot_arenas])
        states.append((master.views[k], inner) if mp else inner)
    return states

