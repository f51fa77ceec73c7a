"""Launch plans and kernels of the reduction and scan families (templates/reduce.cl.mako,
scan.cl.mako): layouts per device (CPU runs, column blocks, work-groups, two stages), their
tuned parameters (``TUNABLE``), and ``reduce_raw`` / ``scan_raw``.
"""
import builtins as _b

import numpy as _np

from ... import dtypes as dt
from ...base import KernelBuildError
from ...codegen import render as R
from ...ndarray import ndarray
from ...runtime import tuning
from .. import launch
from ..args import as_flag
from .prologue import PrologueSite
from .kinds import (_KINDS, _LIMITS, EmptyReductionError, _acc_size, kind_spec,
                    acc_dtype, default_out_dtype)


# --- launch parameters ---------------------------------------------------------------------
_DEFAULTS = {"wg": 256, "min_group_k": 32, "serial_min_outputs": 256, "waves": 4}
# CPU runtimes run a work-group's lanes as a loop split at every barrier, so the local-memory
# tree is costly there; instead each work-item walks a contiguous run (mode "serial", several
# accumulators) or, for a leading-axis reduction, whole rows (mode "cols"), split in parts until
# every compute unit has several. These are used unless the tuning database holds parameters
# for the group layout (what the reduce tunable searches), which are then honoured as given.
_CPU_DEFAULTS = {"wg": 16, "min_group_k": 4096, "serial_min_outputs": 256, "waves": 4,
                 "layout": "cpu"}
_CPU_UNROLL = 32           # accumulators per work-item over a unit-stride run
_CPU_MIN_CHUNK = 16384     # elements per work-item before a reduction is split further
_CPU_COLS_MIN = 1 << 16    # elements before a leading-axis reduction takes the row layout
_CPU_COLS_WIDTH = 4096     # outputs per work-item in the row layout (a partial row in cache)


def _size_key(K):
    return "small" if K < 1024 else "medium" if K < 65536 else "large"


def _tunable_default(device, dtype):
    """The runtime's choice when nothing is tuned: the CPU layout on CPUs, else the group one."""
    if launch.launch_profile(device) == "cpu":
        return {"layout": "cpu", "wg": _CPU_DEFAULTS["wg"], "waves": _CPU_DEFAULTS["waves"]}
    return {"layout": "group", "wg": _DEFAULTS["wg"], "waves": _DEFAULTS["waves"]}


#: What clgrad.tune searches for the reduction family (sizes are (outputs, k)): the CPU layout
#: (its own geometry: ``wg`` and ``waves`` do not apply, so it is one candidate) or the group
#: layout with its group size and groups per compute unit.
TUNABLE = {
    "kernel": "reduce",
    "params": {"layout": ["cpu", "group"], "wg": [16, 32, 64, 128, 256, 512, 1024],
               "waves": [1, 2, 4, 8]},
    "constraints": [f"layout == 'group' or (wg == {_CPU_DEFAULTS['wg']} and "
                    f"waves == {_CPU_DEFAULTS['waves']})"],
    "default": _tunable_default,
    "local_size": "wg",
    "size_key": lambda m, k: _size_key(k),
}
tuning.declare(TUNABLE)     # how an entry tuned elsewhere is checked against this device


def _params(family, dev, src_dtype, K):
    cpu = launch.launch_profile(dev) == "cpu"
    p = dict(_CPU_DEFAULTS if cpu else _DEFAULTS)
    try:
        got = tuning.params_for(dev, family, src_dtype, _size_key(K), {})
    except Exception:       # a damaged tuning entry must not break a reduction
        got = None
    if isinstance(got, dict) and got:
        if got.get("layout") == "cpu":      # tuned: the CPU layout, with its own geometry
            return dict(_CPU_DEFAULTS)
        if got.get("layout") == "group":    # tuned: the group layout with its own thresholds
            p = dict(_DEFAULTS)
        p.update({k: v for k, v in got.items() if k in _DEFAULTS and isinstance(v, int)
                  and v > 0})
        p.pop("layout", None)       # tuned: the group layout, as the tuner measured it
    return p


def _fit_wg(wg, dev, acc_bytes):
    """The largest power of two <= ``wg`` that the device's group and local-memory limits allow."""
    caps = dev.caps
    w = 1
    while w * 2 <= _b.min(wg, caps.max_wg) and w * 2 * acc_bytes <= caps.local_mem // 2:
        w *= 2
    return w


def _plan(dev, src_dtype, M, K, inner_contig, acc_bytes, family="reduce", layout=None):
    """(mode, wg, parts) for M outputs of K elements each.

    ``layout`` (collapsed outer shape and strides, inner shape and strides), when given, lets a
    CPU plan pick the row layout ("cols") for a reduction over a leading axis.
    """
    p = _params(family, dev, src_dtype, K)
    if p.get("layout") == "cpu" and family == "reduce":
        return _cpu_plan(dev, M, K, layout)
    wg = _fit_wg(p["wg"], dev, acc_bytes)
    if K < _b.max(2, p["min_group_k"]) or wg < 2 or \
            (not inner_contig and M >= p["serial_min_outputs"]):
        return "serial", 1, 1
    target = p["waves"] * _b.max(1, dev.caps.compute_units)
    parts = 1
    if M < target and K >= 8 * wg:
        parts = _b.min((target + M - 1) // M, K // (2 * wg))
    return "group", wg, _b.max(1, parts)


def _cpu_plan(dev, M, K, layout):
    # work-items to keep every core busy, with some slack for cores that other work slows
    target = 16 * _b.max(1, dev.caps.compute_units)
    if layout is not None:
        oshape, ostr, ishape, istr = layout
        if len(ishape) == 1 and istr[0] != 1 and oshape and ostr[-1] == 1 and K >= 2 and \
                M * K >= _CPU_COLS_MIN:
            items = (M // oshape[-1]) * -(-oshape[-1] // _CPU_COLS_WIDTH)
            parts = _b.max(1, _b.min(-(-target // items), K // 8))
            return "cols", 1, parts
    parts = 1
    if M < target and K >= 2 * _CPU_MIN_CHUNK:
        parts = _b.min(-(-target // M), K // _CPU_MIN_CHUNK)
    return "serial", 1, _b.max(1, parts)


def _serial_local(dev, k, items, work=1):
    return launch.items_local(dev, k, items, work)


# --- the reduction kernel family -----------------------------------------------------------
_RPLANS = {}
launch.register_cache(_RPLANS.clear)


class _RPlan:
    """Everything a reduction of one kind, dtype, shape, strides and axes needs, worked out once:
    the output's shape, the kernels of each stage and their launch geometry and arguments."""

    __slots__ = ("out_shape", "out_dtype", "M", "steps", "partial")

    def run(self, a):
        dev = a._storage.device
        out = ndarray._empty(self.out_shape, self.out_dtype, dev)
        if self.M == 0:
            return out
        src = (a._storage.buffer, a._offset)
        part = ndarray._empty((self.partial,), dt.uint8, dev) if self.partial else None
        for k, glob, local, first, final, tail in self.steps:
            s = src if first else (part._storage.buffer, 0)
            d = out._storage.buffer if final else part._storage.buffer
            k.launch(dev, glob, local, s[0], s[1], d, *tail)
        return out


def _cast_input(a, out_dtype):
    """``a`` cast to ``dtype=`` first where the kernels cannot convert on the fly, as NumPy
    casts the elements: a complex array into a real type (its real parts; the kernels
    accumulate complex values only into a complex type), any array into bool (non-zero is
    True, 0.5 included, where a C conversion through an integer would give 0)."""
    if out_dtype is None or out_dtype == a.dtype:
        return a
    if (a.dtype.kind == "c" and out_dtype.kind != "c") or out_dtype == dt.bool_:
        from ..core import copy_raw
        return copy_raw(a, out_dtype)
    return a


def reduce_raw(kind, a, axes, out_dtype=None, keepdims=False, ddof=0):
    """Reduce ``a`` over ``axes`` (normalised) with ``kind``; not recorded.

    kinds: sum mean prod max min all any sumsq sumabs maxabs minabs argmax argmin logsumexp
    var std (``ddof`` for the last two).
    """
    if a.dtype.kind == "c":
        kind_spec(kind, a.dtype)        # raises for the kinds complex numbers lack
    if kind in ("sum", "prod", "mean"):
        a = _cast_input(a, out_dtype)
    keepdims = as_flag(keepdims, "keepdims", kind)  # (part of the plan's key)
    dev = a._storage.device
    # launch parameters come from _params and the tuning database: a plan made under other
    # parameters (an override, a reloaded database) is not reused
    key = (kind, a.dtype, a.shape, a._strides, axes, out_dtype, keepdims, ddof, dev, _params,
           tuning.generation())
    plan = _RPLANS.get(key)
    if plan is None:
        try:
            plan = _make_plan(kind, a, axes, out_dtype, keepdims, ddof)
        except KernelBuildError as e:
            # the layout chosen for speed failed on this device: one work-item per output
            launch.fall_back(dev, "reduce", e)
            plan = _make_plan(kind, a, axes, out_dtype, keepdims, ddof, plain=True)
        if plan.steps is not None:
            if len(_RPLANS) > 1024:
                _RPLANS.clear()
            _RPLANS[key] = plan
    return plan.run(a)


def _make_plan(kind, a, axes, out_dtype, keepdims, ddof, plain=False):
    spec = _KINDS[kind]
    dev = a.device
    acc = acc_dtype(kind, a.dtype, out_dtype)
    if out_dtype is None:
        out_dtype = default_out_dtype(kind, a.dtype)
    dt.check_device(out_dtype, dev)
    dt.check_device(acc, dev)
    out_shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims else \
        tuple(n for i, n in enumerate(a.shape) if i not in axes)
    K = 1
    for i in axes:
        K *= a.shape[i]
    M = 1
    for n in out_shape:
        M *= n
    if K == 0 and not spec.identity:
        raise EmptyReductionError(f"zero-size array to reduction operation {kind} which has "
                                  "no identity")
    plan = _RPlan()
    plan.out_shape, plan.out_dtype, plan.M, plan.steps, plan.partial = \
        out_shape, out_dtype, M, [], 0
    if M == 0:
        return plan
    outer = [i for i in range(a.ndim) if i not in axes]
    oshape, (ostr,) = launch.collapse([a.shape[i] for i in outer], [[a._strides[i] for i in outer]])
    ishape, (istr,) = launch.collapse([a.shape[i] for i in axes], [[a._strides[i] for i in axes]])
    if K == 0:
        ishape, istr = [], []          # the loop runs zero times: the result is the identity
    t = dt.compute_ctype(acc)
    asize = _acc_size(kind, t)
    inner_contig = not istr or istr[-1] == 1
    mode, wg, parts = ("serial", 1, 1) if plain else _plan(
        dev, a.dtype, M, K, inner_contig, asize, layout=(oshape, ostr, ishape, istr))
    steps = plan.steps
    chunk = (K + parts - 1) // parts
    src_dtype = a.dtype
    unit = len(ishape) == 1 and istr[0] == 1

    def tail(M_, K_, chunk_, parts_, osh, ost, ish, ist, extra=()):
        args = [M_, K_, chunk_, parts_]
        for n, st in zip(osh, ost):
            args += (n, st)
        for n, st in zip(ish, ist):
            args += (n, st)
        args.append(K)
        args += extra
        return tuple(args)

    def serial_step(k, items, first, final, args, work):
        local = _serial_local(dev, k, items, work)
        steps.append((k, ((items + local - 1) // local * local,), (local,), first, final, args))

    if mode == "serial":
        unroll = _CPU_UNROLL if launch.launch_profile(dev) == "cpu" and len(ishape) <= 1 \
            and not plain else 1
        final = parts == 1
        k = _kernel(dev, kind, src_dtype, acc, out_dtype if final else None, "serial", 1,
                    len(oshape), len(ishape), final, False, ddof, unroll, unit)[0]
        serial_step(k, M * parts, True, final,
                    tail(M, K, chunk, parts, oshape, ostr, ishape, istr), chunk)
        if not final:       # partials m * parts + part, combined per output in order
            plan.partial = M * parts * asize
            k2 = _kernel(dev, kind, acc, acc, out_dtype, "serial", 1, 1, 1, True, True, ddof,
                         1, True)[0]
            serial_step(k2, M, False, True, tail(M, parts, parts, 1, [M], [parts], [parts], [1]),
                        parts)
        return plan
    if mode == "cols":
        # outputs [row, j0, j0 + width) of part p accumulate in partial[p * M + m]
        n_last = oshape[-1]
        bw = _b.min(n_last, _CPU_COLS_WIDTH)
        nblk = -(-n_last // bw)
        items = (M // n_last) * nblk * parts
        plan.partial = M * parts * asize
        k = _kernel(dev, kind, src_dtype, acc, None, "cols", 1, len(oshape), 1, False, False,
                    ddof, 1, False)[0]
        serial_step(k, items, True, False,
                    tail(M, K, chunk, parts, oshape, ostr, ishape, istr, (bw, nblk)), bw * chunk)
        k2 = _kernel(dev, kind, acc, acc, out_dtype, "serial", 1, 1, 1, True, True, ddof, 1,
                     False)[0]
        serial_step(k2, M, False, True, tail(M, parts, parts, 1, [M], [1], [parts], [M]), parts)
        return plan
    if parts == 1:
        k, wg = _kernel(dev, kind, src_dtype, acc, out_dtype, "group", wg, len(oshape),
                        len(ishape), True, False, ddof, 1, unit)
        steps.append((k, (M * wg,), (wg,), True, True,
                      tail(M, K, chunk, 1, oshape, ostr, ishape, istr)))
        return plan
    plan.partial = M * parts * asize      # M x parts ACC structs
    k1, wg1 = _kernel(dev, kind, src_dtype, acc, None, "group", wg, len(oshape), len(ishape),
                      False, False, ddof, 1, unit)
    steps.append((k1, (M * parts * wg1,), (wg1,), True, False,
                  tail(M, K, chunk, parts, oshape, ostr, ishape, istr)))
    k2, wg2 = _kernel(dev, kind, acc, acc, out_dtype, "group", wg, 1, 1, True, True, ddof, 1,
                      True)
    steps.append((k2, (M * wg2,), (wg2,), False, True,
                  tail(M, parts, parts, 1, [M], [parts], [parts], [1])))
    return plan


def _args(src_buf, src_off, out, M, K, chunk, parts, oshape, ostr, ishape, istr, K_total):
    args = [src_buf, src_off, out._storage.buffer, M, K, chunk, parts]
    for n, s in zip(oshape, ostr):
        args += (n, s)
    for n, s in zip(ishape, istr):
        args += (n, s)
    args.append(K_total)
    return args


def _kernel(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final, stage2,
            ddof=0, unroll=1, inner_unit=False, pro=None):
    """(kernel, work-group size) for one instantiation; a group kernel whose compiled limit is
    below the requested size is rebuilt smaller (register pressure differs per device). A
    first stage's kernel offers its launches an elementwise prologue (``Kernel.prologue``)."""
    inner_unit = bool(inner_unit and inner_nd == 1)
    key = ("reduce", kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final,
           stage2, ddof, unroll, inner_unit) + ((pro.key,) if pro is not None else ())

    def make():
        w = wg
        while True:
            k = _make(dev, kind, src_dtype, acc, out_dtype, mode, w, outer_nd, inner_nd, final,
                      stage2, ddof, unroll, inner_unit, pro)
            if mode != "group" or k.local >= w:
                break
            w = k.local
        k.outputs = (2,)        # dst: the source is only read
        if not stage2 and pro is None:
            k.prologue = PrologueSite(
                lambda p, unit, o, i: _kernel(dev, kind, src_dtype, acc, out_dtype, mode, w, o, i,
                                              final, stage2, ddof, unroll, unit, p),
                outer_nd, inner_nd, mode, kind, out_dtype if final else None)
        return k, w
    return launch.get_kernel(dev, key, make)


def _functions(spec):
    return "\n".join([
        f"static ACC acc_init(void) {{ {spec.init} }}",
        f"static ACC acc_map(S v, long k) {{ {spec.map} }}",
        f"static ACC acc_combine(ACC a, ACC b) {{\n    {spec.combine}\n}}",
        f"static OUT acc_final(ACC a, long K) {{\n    {spec.final}\n}}"])


def _make(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final, stage2,
          ddof, unroll=1, inner_unit=False, pro=None):
    spec = kind_spec(kind, acc, None if stage2 else src_dtype)
    t = dt.compute_ctype(acc)
    hi, lo = _LIMITS.get(acc, ("0", "0"))     # (complex kinds have no extremes)
    out_c = dt.compute_ctype(out_dtype) if final else t
    s_c = t if stage2 else dt.compute_ctype(src_dtype)
    uses_fp64 = any(d in (dt.float64, dt.complex128) for d in (src_dtype, acc, out_dtype)) or \
        (pro is not None and pro.fp64)
    isnan = "isnan(x)" if acc.kind == "f" else "0"
    prelude = "\n".join([
        R.prelude(uses_fp64),
        f"#define T {t}", f"#define LO {lo}", f"#define HI {hi}",
        f"#define ISNAN(x) ({isnan})", f"#define ACC_FLOAT {int(acc.kind == 'f')}",
        f"#define DDOF {dt.literal(ddof, acc)}"])
    strides = []
    s = wg // 2
    while s >= 1:
        strides.append(s)
        s //= 2
    name = f"reduce_{kind}_{mode}" + ("_s2" if stage2 else "") + ("_pro" if pro else "")
    if mode == "cols":
        assert not final and not stage2 and inner_nd == 1 and outer_nd >= 1
    src = None if stage2 else R.Operand(True, src_dtype) if pro is None else \
        pro.operands[pro.first]
    dst = R.Operand(True, out_dtype) if final else None
    source = R.render("reduce.cl.mako", prelude=prelude, name=name, acc_decl=spec.decl,
                      s_type=s_c, out_type=out_c, functions=_functions(spec), mode=mode, wg=wg,
                      outer_nd=outer_nd, inner_nd=inner_nd, src=src, dst=dst, strides=strides,
                      final=final, stage2=stage2, unroll=unroll, inner_unit=inner_unit, pro=pro)
    arg_dtypes = [None, _np.int64, None] + [_np.int64] * 4 + \
        [_np.int64] * (2 * (outer_nd + inner_nd)) + [_np.int64] + \
        [_np.int64] * (2 if mode == "cols" else 0) + \
        (pro.arg_dtypes(outer_nd, inner_nd) if pro is not None else [])
    # a serial kernel's group size is free; a group kernel's must equal the tree's ``wg``
    return launch.Kernel(dev, source, name, arg_dtypes, local_cap=wg if mode == "group" else 256)


# --- the scan kernel family ----------------------------------------------------------------
_SCANS = {"cumsum": ("sum", "0", "a + b"), "cumprod": ("prod", "1", "a * b")}
# complex (float2/double2) running products multiply as complex numbers; sums add lanewise
_COMPLEX_SCANS = {"cumsum": _SCANS["cumsum"],
                  "cumprod": ("prod", "1, 0", "(ACC)((a).x * (b).x - (a).y * (b).y, "
                                              "(a).x * (b).y + (a).y * (b).x)")}


def scan_raw(kind, a, axis, out_dtype=None):
    """Inclusive ``cumsum``/``cumprod`` of ``a`` along ``axis`` (a normalised int); not recorded."""
    rkind, init, combine = _SCANS[kind]
    a = _cast_input(a, out_dtype)
    dev = a.device
    acc = acc_dtype(rkind, a.dtype, out_dtype)
    if out_dtype is None:
        out_dtype = default_out_dtype(rkind, a.dtype)
    dt.check_device(out_dtype, dev)
    dt.check_device(acc, dev)
    out = ndarray._empty(a.shape, out_dtype, dev)
    if out.size == 0:
        return out
    K = a.shape[axis]
    M = out.size // K
    other = [d for d in range(a.ndim) if d != axis]
    oshape, (os_, od_) = launch.collapse([a.shape[d] for d in other],
                                         [[a._strides[d] for d in other],
                                          [out._strides[d] for d in other]])
    ks, kd = a._strides[axis], out._strides[axis]
    mode, wg, parts = _plan(dev, a.dtype, M, K, ks == 1, acc.itemsize, "scan")
    if mode != "serial":
        try:
            _scan_kernel(dev, kind, a.dtype, acc, out_dtype, "group", wg, len(oshape))
            if parts > 1:
                _kernel(dev, rkind, a.dtype, acc, None, "group", wg, len(oshape), 1, False,
                        False)
        except KernelBuildError as e:    # the group layout failed here: one row per work-item
            launch.fall_back(dev, "scan", e)
            mode = "serial"
    if mode == "serial":
        k = _scan_kernel(dev, kind, a.dtype, acc, out_dtype, "serial", 1, len(oshape))[0]
        k(dev, M, *_scan_args(a._storage.buffer, a._offset, out, 0, out, 0, M, K, K, 1, oshape,
                              os_, od_, ks, kd))
        return out
    chunk = (K + parts - 1) // parts
    carry, use = out, 0
    if parts > 1:
        # totals of each part (the reduction family's stage 1), then their inclusive scan
        totals = ndarray._empty((M, parts), acc, dev)
        k1, w1 = _kernel(dev, rkind, a.dtype, acc, None, "group", wg, len(oshape), 1, False,
                         False)
        k1.launch(dev, (M * parts * w1,), (w1,), *_args(
            a._storage.buffer, a._offset, totals, M, K, chunk, parts, oshape, os_, [K], [ks], K))
        carry = ndarray._empty((M, parts), acc, dev)
        k2 = _scan_kernel(dev, kind, acc, acc, acc, "serial", 1, 1)[0]
        k2(dev, M, *_scan_args(totals._storage.buffer, 0, carry, 0, carry, 0, M, parts, parts,
                               1, [M], [parts], [parts], 1, 1))
        use = 1
    k, wg = _scan_kernel(dev, kind, a.dtype, acc, out_dtype, "group", wg, len(oshape))
    k.launch(dev, (M * parts * wg,), (wg,), *_scan_args(
        a._storage.buffer, a._offset, out, 0, carry, use, M, K, chunk, parts, oshape, os_, od_,
        ks, kd))
    return out


def _scan_args(src_buf, src_off, out, out_off, carry, use, M, K, chunk, parts, oshape, os_, od_,
               ks, kd):
    args = [src_buf, src_off, out._storage.buffer, out_off, carry._storage.buffer, use, M, K,
            chunk, parts]
    for n, s, d in zip(oshape, os_, od_):
        args += (n, s, d)
    args += (ks, kd)
    return args


def _scan_kernel(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd):
    key = ("scan", kind, src_dtype, acc, out_dtype, mode, wg, outer_nd)

    def make():
        w = wg
        while True:
            k = _make_scan(dev, kind, src_dtype, acc, out_dtype, mode, w, outer_nd)
            if mode != "group" or k.local >= w:
                return k, w
            w = k.local
    return launch.get_kernel(dev, key, make)


def _make_scan(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd):
    _, init, combine = (_COMPLEX_SCANS if acc.kind == "c" else _SCANS)[kind]
    uses_fp64 = any(d in (dt.float64, dt.complex128) for d in (src_dtype, acc, out_dtype))
    steps = []
    s = 1
    while s < wg:
        steps.append(s)
        s *= 2
    name = f"scan_{kind}_{mode}"
    # an element becomes an accumulator: a cast, or part by part for a complex one (OpenCL has
    # no cast between vector types, and a real element is re + 0i, not a broadcast)
    map_ = "(ACC)(v)" if acc.kind != "c" else \
        "(ACC)((v).x, (v).y)" if src_dtype.kind == "c" else "(ACC)((v), 0)"
    source = R.render("scan.cl.mako", prelude=R.prelude(uses_fp64), name=name,
                      acc=dt.compute_ctype(acc), s_type=dt.compute_ctype(src_dtype),
                      combine=combine, init=init, map_=map_, mode=mode, wg=wg, outer_nd=outer_nd,
                      src=R.Operand(True, src_dtype), dst=R.Operand(True, out_dtype),
                      steps=steps)
    arg_dtypes = [None, _np.int64, None, _np.int64, None] + [_np.int64] * 5 + \
        [_np.int64] * (3 * outer_nd) + [_np.int64] * 2
    return launch.Kernel(dev, source, name, arg_dtypes, local_cap=wg if mode == "group" else 256)
