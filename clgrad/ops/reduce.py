"""Reductions and scans: two deterministic kernel families (templates/reduce.cl.mako and
templates/scan.cl.mako), many ops.

The reduced axes and the kept axes are each collapsed to as few dimensions as their strides
allow. Small reductions run one work-item per output; long ones a work-group per output with a
local-memory tree, and a second stage when there are too few outputs to fill the device. Every
kind is a small accumulator (a scalar, or a struct such as argmax's (value, index)) with its own
init / map / combine / finalise in OpenCL C, so the combination order is fixed and results are
reproducible run to run (no atomics).

Dtypes follow NumPy, with MXNet's float32 for the mean (and var/std/logsumexp) of integers.
float16 accumulates in float32; integer and bool sums and products accumulate in and return
int64 (NumPy returns uint64 for unsigned inputs: clgrad has no uint64).

The work-group size and the layout thresholds come from ``runtime.tuning.params_for(device,
"reduce" | "scan", src_dtype, size_key, defaults)``; ``size_key`` is ``"small"`` (k < 1024),
``"medium"`` (k < 65536) or ``"large"``, k being the length of one reduction. Parameters:
``wg`` (power of two), ``min_group_k`` (shorter reductions run one work-item per output),
``serial_min_outputs`` (with strided reads and at least this many outputs, one work-item per
output reads coalesced across outputs) and ``waves`` (groups per compute unit to aim for before
splitting one reduction in parts).
"""
import builtins as _b
import numbers

import numpy as _np

from .. import dtypes as dt
from ..autograd import graph as _state
from ..base import KernelBuildError, MXNetError
from ..codegen import render as R
from ..ndarray import ndarray
from ..runtime import tuning
from . import launch
from .core import array
from .registry import invoke, register


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "cumprod", "cumsum", "logsumexp",
           "max", "mean", "min", "prod", "std", "sum", "var"]


class AxisError(MXNetError, ValueError, IndexError):
    """An axis out of range (or repeated); NumPy's AxisError is both a ValueError and an
    IndexError."""


class EmptyReductionError(MXNetError, ValueError):
    """A reduction without identity (max, argmax, ...) over an empty axis."""


def normalize_axes(axis, ndim, name="axis"):
    """A sorted tuple of non-negative axes; None means all.

    Like NumPy's reductions, a 0-d array accepts the integer axis 0 or -1 (reducing nothing),
    but not inside a tuple.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        if ndim == 0 and int(axis) in (0, -1):
            return ()
        axis = (axis,)
    out = []
    for a in axis:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise TypeError(f"'{type(a).__name__}' object cannot be interpreted as an integer "
                            f"{name}")
        a = int(a)
        if a < -ndim or a >= ndim:
            raise AxisError(f"{name} {a} is out of bounds for array of dimension {ndim}")
        a %= ndim
        if a in out:
            raise AxisError(f"duplicate value in '{name}': {a}")
        out.append(a)
    return tuple(sorted(out))


# --- the kinds ---------------------------------------------------------------------------------
class _Kind:
    """One reduction kind: its accumulator and the four OpenCL C functions over it.

    ``decl`` declares ACC (a scalar T or a struct); ``fields`` lists the struct's C types (to
    size the partial buffer); the bodies see T (accumulator scalar), S (loaded element), OUT
    (output compute type), LO/HI (the type's extremes), ISNAN(x), ACC_FLOAT and DDOF.
    """

    __slots__ = ("name", "decl", "fields", "init", "map", "combine", "final", "identity")

    def __init__(self, name, init, map_, combine, final="return (OUT)a;", decl=None,
                 fields=None, identity=True):
        self.name = name
        self.decl = decl or "typedef T ACC;"
        self.fields = fields or ("T",)
        self.init = init
        self.map = map_
        self.combine = combine
        self.final = final
        self.identity = identity


def _scalar(name, init, map_, combine, final="return (OUT)a;", identity=True):
    return _Kind(name, f"return (ACC)({init});", f"return (ACC)({map_});",
                 f"return {combine};", final, identity=identity)


_MAXC = "(a >= b || ISNAN(a)) ? a : b"     # the first NaN propagates, as NumPy's max
_MINC = "(a <= b || ISNAN(a)) ? a : b"
_ABS = "((T)v < 0 ? -(T)v : (T)v)"


def _arg_kind(name, init, better):
    # (value, index): the first NaN wins (NumPy), then the better value, then the lower index,
    # so the result is the first occurrence whatever order the lanes combine in.
    return _Kind(
        name,
        f"ACC r; r.v = {init}; r.i = LONG_MAX; return r;",
        "ACC r; r.v = (T)v; r.i = k; return r;",
        "#if ACC_FLOAT\n"
        "    const int an = isnan(a.v), bn = isnan(b.v);\n"
        "    if (an || bn) return (an && (!bn || a.i < b.i)) ? a : b;\n"
        "#endif\n"
        f"    return ((a.v {better} b.v) || (a.v == b.v && a.i < b.i)) ? a : b;",
        "return (OUT)a.i;",
        decl="typedef struct { T v; long i; } ACC;", fields=("T", "long"), identity=False)


_KINDS = {k.name: k for k in [
    _scalar("sum", "0", "(T)v", "a + b"),
    _scalar("mean", "0", "(T)v", "a + b", "return (OUT)a / (OUT)K;"),
    _scalar("prod", "1", "(T)v", "a * b"),
    _scalar("max", "LO", "(T)v", _MAXC, identity=False),
    _scalar("min", "HI", "(T)v", _MINC, identity=False),
    _scalar("all", "1", "(v != 0)", "a && b"),
    _scalar("any", "0", "(v != 0)", "a || b"),
    _scalar("sumsq", "0", "(T)v * (T)v", "a + b"),
    _scalar("sumabs", "0", _ABS, "a + b"),
    _scalar("maxabs", "0", _ABS, _MAXC),
    _scalar("minabs", "HI", _ABS, _MINC, identity=False),
    _arg_kind("argmax", "LO", ">"),
    _arg_kind("argmin", "HI", "<"),
    # (running max, sum of exp(x - max)): one stable pass; equal maxima (also +-inf) just add
    _Kind("logsumexp",
          "ACC r; r.m = -INFINITY; r.s = 0; return r;",
          "ACC r; r.m = (T)v; r.s = 1; return r;",
          # one exp and no divergent branches (CPU runtimes vectorise across work-items)
          "const int a_hi = a.m >= b.m;\n"
          "    const T hi = a_hi ? a.m : b.m, lo = a_hi ? b.m : a.m;\n"
          "    const T e = exp(a.m == b.m ? (T)0 : lo - hi);\n"
          "    ACC r;\n"
          "    r.m = (ISNAN(a.m) || ISNAN(b.m)) ? a.m + b.m : hi;\n"
          "    r.s = a_hi ? a.s + b.s * e : b.s + a.s * e;\n"
          "    return r;",
          "return (OUT)(a.m + log(a.s));",
          decl="typedef struct { T m; T s; } ACC;", fields=("T", "T")),
]}


def _moments_kind(name, final):
    # (count, mean, M2) combined with Chan et al.'s pairwise update: one stable pass
    return _Kind(
        name,
        "ACC r; r.n = 0; r.mu = 0; r.m2 = 0; return r;",
        "ACC r; r.n = 1; r.mu = (T)v; r.m2 = 0; return r;",
        "if (a.n == 0) return b;\n"
        "    if (b.n == 0) return a;\n"
        "    ACC r; r.n = a.n + b.n;\n"
        "    const T d = b.mu - a.mu;\n"
        "    const T fb = (T)b.n / (T)r.n;\n"
        "    r.mu = a.mu + d * fb;\n"
        "    r.m2 = a.m2 + b.m2 + d * d * ((T)a.n * fb);\n"
        "    return r;",
        "const T dof = (T)a.n - (T)(DDOF);\n"
        f"    const T v = a.m2 / (dof > 0 ? dof : (T)0);\n    return (OUT)({final});",
        decl="typedef struct { long n; T mu; T m2; } ACC;", fields=("long", "T", "T"))


_KINDS["var"] = _moments_kind("var", "v")
_KINDS["std"] = _moments_kind("std", "sqrt(v)")

_LIMITS = {
    dt.float16: ("INFINITY", "-INFINITY"), dt.float32: ("INFINITY", "-INFINITY"),
    dt.float64: ("INFINITY", "-INFINITY"), dt.int8: ("127", "-128"), dt.int16: ("32767", "-32768"),
    dt.int32: ("2147483647", "(-2147483647 - 1)"),
    dt.int64: ("9223372036854775807L", "(-9223372036854775807L - 1)"),
    dt.uint8: ("255", "0"), dt.bool_: ("1", "0"),
}

_CSIZE = {"uchar": 1, "char": 1, "short": 2, "int": 4, "long": 8, "float": 4, "double": 8}


def _acc_size(kind, t):
    """sizeof(ACC) on the device (C layout: each field aligned to its size)."""
    size = align = 0
    for f in _KINDS[kind].fields:
        n = _CSIZE[t if f == "T" else f]
        size = (size + n - 1) // n * n + n
        align = _b.max(align, n)
    return (size + align - 1) // align * align


def _wide(d):
    """The accumulator for a value dtype: float16 computes in float32."""
    return dt.float32 if d == dt.float16 else d


def acc_dtype(kind, src, out_dtype=None):
    """The accumulator dtype of ``kind`` over ``src`` (with an explicit output ``out_dtype``)."""
    if kind in ("all", "any"):
        return dt.bool_
    if kind in ("max", "min", "maxabs", "minabs", "argmax", "argmin"):
        return _wide(src)
    if kind in ("var", "std", "logsumexp"):
        d = out_dtype if out_dtype is not None else src
        return _wide(d) if d.kind == "f" else dt.default_float
    # sum-like: exact integer sums in int64, float16 in float32, or the requested dtype
    d = out_dtype if out_dtype is not None else src
    if d.kind in "biu":
        return dt.int64
    return _wide(d)


def default_out_dtype(kind, src):
    """The output dtype of ``kind`` over ``src`` when none is given (NumPy's, MXNet's mean)."""
    if kind in ("all", "any"):
        return dt.bool_
    if kind in ("argmax", "argmin"):
        return dt.int64
    if kind in ("max", "min"):
        return src
    if kind in ("mean", "var", "std", "logsumexp"):
        return src if src.kind == "f" else dt.default_float
    if kind in ("sum", "prod"):
        return dt.int64 if src.kind in "biu" else src
    return acc_dtype(kind, src)        # sumsq/sumabs/maxabs/minabs: the accumulator


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


def reduce_raw(kind, a, axes, out_dtype=None, keepdims=False, ddof=0):
    """Reduce ``a`` over ``axes`` (normalised) with ``kind``; not recorded.

    kinds: sum mean prod max min all any sumsq sumabs maxabs minabs argmax argmin logsumexp
    var std (``ddof`` for the last two).
    """
    if a.dtype.kind == "c":
        raise dt.DTypeError(f"{kind} is not supported for complex arrays ({a.dtype})")
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
            ddof=0, unroll=1, inner_unit=False):
    """(kernel, work-group size) for one instantiation; a group kernel whose compiled limit is
    below the requested size is rebuilt smaller (register pressure differs per device)."""
    inner_unit = bool(inner_unit and inner_nd == 1)
    key = ("reduce", kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final,
           stage2, ddof, unroll, inner_unit)

    def make():
        w = wg
        while True:
            k = _make(dev, kind, src_dtype, acc, out_dtype, mode, w, outer_nd, inner_nd, final,
                      stage2, ddof, unroll, inner_unit)
            if mode != "group" or k.local >= w:
                return k, w
            w = k.local
    return launch.get_kernel(dev, key, make)


def _functions(spec):
    return "\n".join([
        f"static ACC acc_init(void) {{ {spec.init} }}",
        f"static ACC acc_map(S v, long k) {{ {spec.map} }}",
        f"static ACC acc_combine(ACC a, ACC b) {{\n    {spec.combine}\n}}",
        f"static OUT acc_final(ACC a, long K) {{\n    {spec.final}\n}}"])


def _make(dev, kind, src_dtype, acc, out_dtype, mode, wg, outer_nd, inner_nd, final, stage2,
          ddof, unroll=1, inner_unit=False):
    spec = _KINDS[kind]
    t = dt.compute_ctype(acc)
    hi, lo = _LIMITS[acc]
    out_c = dt.compute_ctype(out_dtype) if final else t
    s_c = t if stage2 else dt.compute_ctype(src_dtype)
    uses_fp64 = dt.float64 in (src_dtype, acc, out_dtype)
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
    name = f"reduce_{kind}_{mode}" + ("_s2" if stage2 else "")
    if mode == "cols":
        assert not final and not stage2 and inner_nd == 1 and outer_nd >= 1
    src = R.Operand(True, src_dtype) if not stage2 else None
    dst = R.Operand(True, out_dtype) if final else None
    source = R.render("reduce.cl.mako", prelude=prelude, name=name, acc_decl=spec.decl,
                      s_type=s_c, out_type=out_c, functions=_functions(spec), mode=mode, wg=wg,
                      outer_nd=outer_nd, inner_nd=inner_nd, src=src, dst=dst, strides=strides,
                      final=final, stage2=stage2, unroll=unroll, inner_unit=inner_unit)
    arg_dtypes = [None, _np.int64, None] + [_np.int64] * 4 + \
        [_np.int64] * (2 * (outer_nd + inner_nd)) + [_np.int64] + \
        [_np.int64] * (2 if mode == "cols" else 0)
    # a serial kernel's group size is free; a group kernel's must equal the tree's ``wg``
    return launch.Kernel(dev, source, name, arg_dtypes, local_cap=wg if mode == "group" else 256)


# --- the scan kernel family ----------------------------------------------------------------
_SCANS = {"cumsum": ("sum", "0", "a + b"), "cumprod": ("prod", "1", "a * b")}


def scan_raw(kind, a, axis, out_dtype=None):
    """Inclusive ``cumsum``/``cumprod`` of ``a`` along ``axis`` (a normalised int); not recorded."""
    rkind, init, combine = _SCANS[kind]
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
    _, init, combine = _SCANS[kind]
    uses_fp64 = dt.float64 in (src_dtype, acc, out_dtype)
    steps = []
    s = 1
    while s < wg:
        steps.append(s)
        s *= 2
    name = f"scan_{kind}_{mode}"
    source = R.render("scan.cl.mako", prelude=R.prelude(uses_fp64), name=name,
                      acc=dt.compute_ctype(acc), s_type=dt.compute_ctype(src_dtype),
                      combine=combine, init=init, mode=mode, wg=wg, outer_nd=outer_nd,
                      src=R.Operand(True, src_dtype), dst=R.Operand(True, out_dtype),
                      steps=steps)
    arg_dtypes = [None, _np.int64, None, _np.int64, None] + [_np.int64] * 5 + \
        [_np.int64] * (3 * outer_nd) + [_np.int64] * 2
    return launch.Kernel(dev, source, name, arg_dtypes, local_cap=wg if mode == "group" else 256)


# --- differentiable reductions ---------------------------------------------------------------
def _as_array(a):
    return a if isinstance(a, ndarray) else array(a)


def _expand_back(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back over the reduced axes."""
    from .shape import broadcast_to, reshape
    if not keepdims:
        kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g = reshape(g, kshape)
    return broadcast_to(g, shape)


def _count(shape, axes):
    K = 1
    for i in axes:
        K *= shape[i]
    return K


def _out(res, out):
    if out is None:
        return res
    from .core import assign
    if not isinstance(out, ndarray):
        raise TypeError(f"out must be an array, not {type(out).__name__}")
    if out.shape != res.shape:
        from ..base import ShapeError
        raise ShapeError(f"output array has shape {out.shape}, the reduction's is {res.shape}")
    return assign(out, res)


def _sum_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
    return reduce_raw("sum", a, axes, dtype, keepdims)


def _sum_bwd(ctx, g):
    return (_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims),)


_sum_op = register("sum", _sum_fwd, _sum_bwd)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):  # noqa: A001
    """Sum over ``axis`` (None, int or tuple); integers and bool sum in int64, float16 in
    float32."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_sum_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from .elementwise import add
        res = add(res, initial)
    return _out(res, out)


def _mean_fwd(ctx, a, axes, dtype, keepdims):
    ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
    ctx.K = _count(a.shape, axes)
    return reduce_raw("mean", a, axes, dtype, keepdims)


def _mean_bwd(ctx, g):
    from .elementwise import true_divide
    return (true_divide(_expand_back(g, ctx.shape, ctx.axes, ctx.keepdims), ctx.K),)


_mean_op = register("mean", _mean_fwd, _mean_bwd)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Arithmetic mean; integer inputs give float32 (MXNet), the mean of nothing is NaN."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    return _out(invoke(_mean_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims),
                out)


def _prod_fwd(ctx, a, axes, dtype, keepdims):
    ctx.save(a)
    ctx.axes, ctx.keepdims = axes, keepdims
    return reduce_raw("prod", a, axes, dtype, keepdims)


def _prod_bwd(ctx, g):
    # d prod / d a_i is the product of the others: prod / a_i where a_i != 0; at the one zero
    # of a slice, the product with that zero replaced by 1; zero when a slice has two zeros.
    from .elementwise import equal, multiply, true_divide, where
    (a,) = ctx.saved
    out = prod(a, axis=ctx.axes, keepdims=True)
    gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
    ob = _expand_back(out, a.shape, ctx.axes, True)
    zero = equal(a, 0)
    safe = where(zero, 1, a)
    others = where(zero, _expand_back(prod(safe, axis=ctx.axes, keepdims=True), a.shape,
                                      ctx.axes, True), true_divide(ob, safe))
    nz = sum(zero, axis=ctx.axes, keepdims=True)
    others = where(_expand_back(nz, a.shape, ctx.axes, True) > 1, 0, others)
    return (multiply(gb, others),)


_prod_op = register("prod", _prod_fwd, _prod_bwd)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None):
    """Product over ``axis``; integers and bool multiply in int64, float16 in float32."""
    a = _as_array(a)
    axes = normalize_axes(axis, a.ndim)
    res = invoke(_prod_op, [a], axes=axes, dtype=dt.as_dtype(dtype), keepdims=keepdims)
    if initial is not None:
        from .elementwise import multiply
        res = multiply(res, initial)
    return _out(res, out)


def _extreme(kind):
    def fwd(ctx, a, axes, keepdims):
        ctx.axes, ctx.keepdims = axes, keepdims
        out = reduce_raw(kind, a, axes, None, keepdims)
        ctx.save(a, out.detach())   # a detached view (no cycle), version-checked like a
        return out

    def bwd(ctx, g):
        # MXNet's rule: every element equal to the extreme receives the whole gradient.
        from .elementwise import equal, multiply
        a, out = ctx.saved
        ob = _expand_back(out, a.shape, ctx.axes, ctx.keepdims)
        gb = _expand_back(g, a.shape, ctx.axes, ctx.keepdims)
        return (multiply(gb, equal(a, ob)),)

    op = register(kind, fwd, bwd)

    def fn(a, axis=None, out=None, keepdims=False, initial=None):
        a = _as_array(a)
        axes = normalize_axes(axis, a.ndim)
        if initial is not None and _count(a.shape, axes) == 0:
            from .core import full
            shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims \
                else tuple(n for i, n in enumerate(a.shape) if i not in axes)
            return _out(full(shape, initial, dtype=a.dtype, device=a.device), out)
        res = invoke(op, [a], axes=axes, keepdims=keepdims)
        if initial is not None:
            from . import elementwise as ew
            res = (ew.maximum if kind == "max" else ew.minimum)(res, initial)
        return _out(res, out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"The {'largest' if kind == 'max' else 'smallest'} element over ``axis`` "
                  "(NaN propagates); the gradient goes to every element equal to it (MXNet).")
    return fn


max = _extreme("max")  # noqa: A001
min = _extreme("min")  # noqa: A001
amax, amin = max, min


def _arg(kind):
    def fn(a, axis=None, out=None, keepdims=False):
        a = _as_array(a)
        if axis is not None and not isinstance(axis, numbers.Integral):
            raise TypeError(f"{kind}: axis must be an integer or None, not "
                            f"{type(axis).__name__}")
        axes = normalize_axes(axis, a.ndim)
        if _count(a.shape, axes) == 0:
            raise EmptyReductionError(f"attempt to get {kind} of an empty sequence")
        return _out(reduce_raw(kind, a, axes, dt.int64, keepdims), out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"Index of the first {'largest' if kind == 'argmax' else 'smallest'} element "
                  "along ``axis`` (flat index when None); a NaN counts as the extreme, as in "
                  "NumPy. int64, not differentiable.")
    return fn


argmax = _arg("argmax")
argmin = _arg("argmin")


def all(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _as_array(a)
    return _out(reduce_raw("all", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)


def any(a, axis=None, out=None, keepdims=False):  # noqa: A001
    a = _as_array(a)
    return _out(reduce_raw("any", a, normalize_axes(axis, a.ndim), dt.bool_, keepdims), out)


# --- var and std: one pass of (count, mean, M2) ------------------------------------------------
def _moments(kind):
    def fwd(ctx, a, axes, dtype, ddof, keepdims):
        ctx.axes, ctx.keepdims, ctx.ddof = axes, keepdims, ddof
        out = reduce_raw(kind, a, axes, dtype, keepdims, ddof=ddof)
        ctx.save(a, out.detach() if kind == "std" else None)   # version-checked, no cycle
        return out

    def bwd(ctx, g):
        # d var / d x = 2 (x - mean) / (N - ddof);  d std = d var / (2 std)
        from .elementwise import multiply, subtract, true_divide
        a, out = ctx.saved
        axes = ctx.axes
        n = _count(a.shape, axes) - ctx.ddof
        dev = subtract(a, mean(a, axis=axes, keepdims=True))
        gb = _expand_back(g, a.shape, axes, ctx.keepdims)
        if kind == "var":
            return (multiply(gb, multiply(dev, 2.0 / n if n > 0 else float("nan"))),)
        # the graph of a create_graph backward needs std as a function of a, not a constant
        s = std(a, axis=axes, ddof=ctx.ddof, keepdims=True) if _state.is_recording() else \
            _expand_back(out, a.shape, axes, ctx.keepdims)
        return (multiply(gb, true_divide(dev, multiply(s, float(n) if n > 0 else
                                                       float("nan")))),)

    op = register(kind, fwd, bwd)

    def fn(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        a = _as_array(a)
        axes = normalize_axes(axis, a.ndim)
        return _out(invoke(op, [a], axes=axes, dtype=dt.as_dtype(dtype), ddof=ddof,
                           keepdims=keepdims), out)

    fn.__name__ = fn.__qualname__ = kind
    fn.__doc__ = (f"{'Variance' if kind == 'var' else 'Standard deviation'} over ``axis`` with "
                  "divisor N - ddof, in one numerically stable pass; integer inputs give "
                  "float32 (as mean).")
    return fn


var = _moments("var")
std = _moments("std")


# --- logsumexp -------------------------------------------------------------------------------
def _lse_fwd(ctx, a, axes, keepdims):
    ctx.axes, ctx.keepdims = axes, keepdims
    out = reduce_raw("logsumexp", a, axes, None, keepdims)
    ctx.save(a, out.detach())   # version-checked, no cycle
    return out


def _lse_bwd(ctx, g):
    # the gradient is softmax(a) over the reduced axes: exp(a - logsumexp(a))
    from .elementwise import exp, multiply, subtract
    a, out = ctx.saved
    lse = logsumexp(a, axis=ctx.axes, keepdims=True) if _state.is_recording() else out
    lse = _expand_back(lse, a.shape, ctx.axes, ctx.keepdims or _state.is_recording())
    return (multiply(_expand_back(g, a.shape, ctx.axes, ctx.keepdims), exp(subtract(a, lse))),)


_lse_op = register("logsumexp", _lse_fwd, _lse_bwd)


def logsumexp(a, axis=None, keepdims=False):
    """log(sum(exp(a))) over ``axis``, computed stably in one pass (a running maximum); its
    gradient is the softmax of ``a`` over those axes."""
    a = _as_array(a)
    return invoke(_lse_op, [a], axes=normalize_axes(axis, a.ndim), keepdims=keepdims)


# --- cumulative sums and products ------------------------------------------------------------
def _reverse(x, axis):
    """``x`` reversed along ``axis`` (a recorded view)."""
    from .shape import getitem
    key = (slice(None),) * axis + (slice(None, None, -1),)
    return getitem(x, key)


def _cumsum_fwd(ctx, a, axis, dtype):
    ctx.axis = axis
    return scan_raw("cumsum", a, axis, dtype)


def _cumsum_bwd(ctx, g):
    # each input feeds every later output: the gradient is the reversed cumulative sum
    return (_reverse(cumsum(_reverse(g, ctx.axis), axis=ctx.axis), ctx.axis),)


_cumsum_op = register("cumsum", _cumsum_fwd, _cumsum_bwd)


def _cumprod_fwd(ctx, a, axis, dtype):
    ctx.save(a)
    ctx.axis = axis
    return scan_raw("cumprod", a, axis, dtype)


def _cumprod_bwd(ctx, g):
    # grad_i = sum_{j>=i} g_j prod_{k<=j, k!=i} a_k. Before the first zero of a line this is
    # revcumsum(g * P)_i / a_i (P = cumprod(a)); at the first zero it is revcumsum(g * Q)_i
    # with Q the cumprod of a with that zero replaced by 1; after it, every term holds a zero.
    from .elementwise import equal, logical_and, multiply, true_divide, where
    (a,) = ctx.saved
    ax = ctx.axis
    zero = equal(a, 0)
    first = logical_and(zero, equal(cumsum(zero, axis=ax), 1))
    P = cumprod(a, axis=ax)
    Q = cumprod(where(first, 1, a), axis=ax)

    def revcumsum(x):
        return _reverse(cumsum(_reverse(x, ax), axis=ax), ax)

    plain = true_divide(revcumsum(multiply(g, P)), where(zero, 1, a))
    at_zero = revcumsum(multiply(g, Q))
    return (where(first, at_zero, where(zero, 0, plain)),)


_cumprod_op = register("cumprod", _cumprod_fwd, _cumprod_bwd)


def _scan_public(op, name):
    def fn(a, axis=None, dtype=None, out=None):
        a = _as_array(a)
        if axis is None:
            from .shape import reshape
            a = reshape(a, (-1,))
            ax = 0
        else:
            if not isinstance(axis, numbers.Integral):
                raise TypeError(f"{name}: axis must be an integer or None, not "
                                f"{type(axis).__name__}")
            if a.ndim == 0:
                raise AxisError(f"axis {axis} is out of bounds for array of dimension 0")
            ax = normalize_axes(axis, a.ndim)[0]
        return _out(invoke(op, [a], axis=ax, dtype=dt.as_dtype(dtype)), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Cumulative {'sum' if name == 'cumsum' else 'product'} along ``axis`` "
                  "(over the flattened array when None); integers and bool in int64.")
    return fn


cumsum = _scan_public(_cumsum_op, "cumsum")
cumprod = _scan_public(_cumprod_op, "cumprod")
