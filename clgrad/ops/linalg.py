"""Linear algebra: the matmul kernel family and the products built on it.

``matmul`` runs one of two kernel families (templates/matmul.cl.mako, matmul_simple.cl.mako):

* the tiled, register-blocked kernel for floating-point problems of some size, with tile sizes,
  work-group shape, vector width and local-memory staging as parameters (``DEFAULT_PARAMS`` per
  device type, overridden by the tuning database through ``runtime.tuning.params_for``);
* a simple kernel for tiny, skinny (matrix-vector, dot product) and integer problems.

Both read every operand through its strides, so transposed and other strided views are consumed
in place, never copied. dot, vdot, inner, outer, tensordot and einsum are compositions of
matmul, views, sums and elementwise ops, so their gradients (and gradients of those) come from
the ops they are built of.
"""
import builtins as _b
import copy
import numbers

import numpy as _np
import pyopencl as cl

from .. import dtypes as dt
from ..autograd import graph as _state
from ..base import DTypeError, KernelBuildError, MXNetError, ShapeError
from ..codegen import render as R
from ..ndarray import ndarray
from ..runtime import tuning
from . import launch
from .core import array, assign, broadcast_shapes, copy_raw, eye, fill, same_device
from .registry import invoke, register

__all__ = ["dot", "einsum", "inner", "matmul", "outer", "tensordot", "vdot"]


# =============================================================================================
# Parameters of the tiled kernel
# =============================================================================================
PARAM_NAMES = ("MWG", "NWG", "KWG", "MDIMC", "NDIMC", "VW", "SA", "SB", "KC", "MC")
#: Parameters that may be left out, with their values then.
OPTIONAL_PARAMS = {"KC": 0, "MC": 0}

#: Baseline parameters per device type for ``A @ B`` (any layout; also what the tuner starts
#: from). CPUs: one work-item per group, no barriers, each holding an 8 x 32 block of C in 16
#: vector accumulators of 16 lanes (2x the GFLOP/s of 8 work-items with interleaved rows on
#: PoCL, 1024^2 and 2048^2); operands read straight from cache; K in chunks of KC = 256, so
#: the panel of B that consecutive groups share stays in cache (a host loop; the size buckets
#: below "large" run whole, see ``default_params``). MC (rows in blocks launched one after
#: another, so a block of A stays in cache while every panel of B passes) is left to the tuner:
#: at 2048^2 on PoCL 512 and 1024 measured within the noise of whole columns.
#: ``default_params`` adapts the vector width to the device. GPUs: 64 x 64 tiles staged in local
#: memory by 16 x 16 work-items, 4 x 4 outputs each.
DEFAULT_PARAMS = {
    "cpu": {"MWG": 8, "NWG": 32, "KWG": 16, "MDIMC": 1, "NDIMC": 1, "VW": 16, "SA": 0, "SB": 0,
            "KC": 256, "MC": 0},
    "gpu": {"MWG": 64, "NWG": 64, "KWG": 16, "MDIMC": 16, "NDIMC": 16, "VW": 4, "SA": 1, "SB": 1,
            "KC": 0, "MC": 0},
}
DEFAULT_PARAMS["accelerator"] = DEFAULT_PARAMS["gpu"]

#: Baseline parameters for ``A @ B.T`` with both operands contiguous along K (the "kvec" form,
#: vectors along K, summed at the end): a 2 x 8 block of outputs per work-item on CPUs.
DEFAULT_PARAMS_NT = {
    "cpu": {"MWG": 16, "NWG": 128, "KWG": 32, "MDIMC": 8, "NDIMC": 1, "VW": 16, "SA": 0,
            "SB": 0, "KC": 0, "MC": 0},
    "gpu": DEFAULT_PARAMS["gpu"],
}
DEFAULT_PARAMS_NT["accelerator"] = DEFAULT_PARAMS_NT["gpu"]

#: Small configurations tried in order when the chosen one does not fit the device (local
#: memory, work-group size, the compiled kernel's limit) or does not build.
FALLBACK_PARAMS = (
    {"MWG": 16, "NWG": 16, "KWG": 8, "MDIMC": 4, "NDIMC": 4, "VW": 1, "SA": 0, "SB": 0},
    {"MWG": 4, "NWG": 4, "KWG": 4, "MDIMC": 1, "NDIMC": 1, "VW": 4, "SA": 0, "SB": 0},
    {"MWG": 1, "NWG": 1, "KWG": 1, "MDIMC": 1, "NDIMC": 1, "VW": 1, "SA": 0, "SB": 0},
)

#: Parameter constraints, as Python expressions over the parameter names.
CONSTRAINTS = (
    "VW in (1, 2, 4, 8, 16)",
    "SA in (0, 1) and SB in (0, 1)",
    "MWG >= 1 and NWG >= 1 and KWG >= 1 and MDIMC >= 1 and NDIMC >= 1",
    "MWG % MDIMC == 0",
    "NWG % (NDIMC * VW) == 0",
    "KWG % VW == 0",
    # bounds the unrolled source (and the registers it asks for)
    "(MWG // MDIMC) * (NWG // (NDIMC * VW)) <= 64",
    "KC >= 0 and (KC == 0 or KC % KWG == 0)",
    "MC >= 0 and (MC == 0 or MC % MWG == 0)",
)

#: The parameters that shape the kernel source (KC and MC only shape the host loops).
_SOURCE_PARAMS = tuple(n for n in PARAM_NAMES if n not in ("KC", "MC"))


def full_params(params):
    """``params`` with the optional ones filled in, as ints (KeyError names a missing one)."""
    return {n: int(params[n]) if n in params else OPTIONAL_PARAMS[n] for n in PARAM_NAMES}


def local_mem_bytes(params, itemsize):
    """Local memory one work-group of ``params`` uses (compute type of ``itemsize`` bytes)."""
    return itemsize * params["KWG"] * (params["SA"] * params["MWG"] + params["SB"] * params["NWG"])


def work_group_size(params):
    """The work-group shape (dimension 0 along N, dimension 1 along M)."""
    return (params["NDIMC"], params["MDIMC"])


def _compute_dtype(dtype):
    return dt.float64 if dtype == dt.float64 else dt.float32


def param_problem(params, device=None, dtype=dt.float32):
    """Why ``params`` cannot run (a message), or None when they can, as far as is known before
    building: the constraints, the device's work-group and local-memory limits."""
    missing = [n for n in PARAM_NAMES if n not in params and n not in OPTIONAL_PARAMS]
    if missing:
        return f"missing parameters {missing}"
    try:
        p = full_params(params)
    except (TypeError, ValueError):
        return f"parameters must be integers: {params}"
    for c in CONSTRAINTS:
        if not eval(c, {}, dict(p)):  # noqa: S307  (our own constant expressions)
            return f"constraint '{c}' does not hold for {p}"
    if device is not None:
        caps = device.caps
        wx, wy = work_group_size(p)
        if wx * wy > caps.max_wg:
            return (f"work-group {wx}x{wy} is larger than the device's maximum work-group size "
                    f"{caps.max_wg}")
        sizes = caps.max_work_item_sizes
        if len(sizes) >= 2 and (wx > sizes[0] or wy > sizes[1]):
            return f"work-group {wx}x{wy} exceeds the device's work-item sizes {sizes[:2]}"
        lm = local_mem_bytes(p, _compute_dtype(dt.as_dtype(dtype)).itemsize)
        if lm > caps.local_mem:
            return f"needs {lm} bytes of local memory; the device has {caps.local_mem}"
        vw = vector_width(device, dt.as_dtype(dtype), 16)
        if p["VW"] > vw:
            return (f"vector width {p['VW']} did not pass the device self-check for "
                    f"{dt.as_dtype(dtype)} (at most {vw})")
    return None


def size_key(M, N, K):
    """The size bucket tuned parameters are stored under."""
    w = M * N * K
    if w <= 1 << 21:
        return "small"
    if w <= 1 << 27:
        return "medium"
    return "large"


def default_params(device, dtype, nt=False, size=None, panel=False):
    """Baseline parameters for ``device`` and ``dtype`` (``nt``: the A @ B.T form) and the size
    bucket ``size`` (``size_key``; None: any); ``panel``: B is packed (``_pack_panels``)."""
    table = DEFAULT_PARAMS_NT if nt else DEFAULT_PARAMS
    p = dict(table.get(device.caps.kind, table["gpu"]))
    if device.caps.kind == "cpu":
        if panel:
            # a packed panel is contiguous: K in one pass beats chunks of 256 (2048^2 on PoCL:
            # 103-120 GFLOP/s against 57-68, both packed)
            p["KC"] = 0
        if size in ("small", "medium"):
            # K chunks and row blocks pay off when many row blocks re-read B's panel; below
            # the large bucket the extra launches cost more (128x784x256: 0.88 ms whole,
            # 1.13 ms in K chunks)
            p["KC"] = p["MC"] = 0
        caps = device.caps
        pref = caps.pref_vec_double if dtype == dt.float64 else caps.pref_vec_float
        vw = vector_width(device, dtype, _b.max(pref, 4))
        # keep the register block the same size in vectors when the width changes
        p["NWG"] = p["NWG"] // p["VW"] * vw
        p["KWG"] = _b.max(p["KWG"] // p["VW"] * vw, vw)
        if vw * _compute_dtype(dtype).itemsize < 64 and not nt:
            # narrower SIMD (SSE/AVX2) comes with 16 vector registers, not 32: halve the block
            p["MWG"] //= 2
        p["VW"] = vw
        if p["KC"] % p["KWG"]:
            p["KC"] = 0
    else:
        p["VW"] = vector_width(device, dtype, p["VW"] // 2 if dtype == dt.float64 else p["VW"])
    return p


def vector_width(device, dtype, want):
    """The widest vector (at most ``want``) the tiled kernel may use for ``dtype`` on
    ``device``: what the device self-check verified for arithmetic on its compute type, and
    for vload_halfN / vstore_halfN when ``dtype`` is stored as half."""
    from ..runtime import vector_width as verified_width
    w = verified_width(device, _compute_dtype(dtype), want=want)
    if dtype == dt.float16:
        w = _b.min(w, verified_width(device, dtype, ("loadstore",), want=want))
    return w


def _make_operands(M, N, K, dtype, device, nt=False):
    """Random operands for timing: ``A @ B`` or (nt) ``A @ B.T`` with B stored (N, K)."""
    from .core import from_host
    rng = _np.random.default_rng(0)
    a = from_host(rng.standard_normal((M, K)).astype(dtype), device)
    b = from_host(rng.standard_normal((N, K) if nt else (K, N)).astype(dtype), device)
    return a, (b.T if nt else b)


def _default_for_size(device, dtype, nt, M, N, K):
    """What ``_run`` uses for 2-D operands of this size when nothing is tuned (B packed into
    panels for the large bucket on CPUs, see ``_panel_wanted``)."""
    size = size_key(M, N, K)
    panel = _panel_wanted(device, size)
    return default_params(device, dtype, nt and not panel, size, panel)


def _tunable(name, nt):
    return {
        "kernel": name,
        "description": ("C = A @ B.T, A and B contiguous along K" if nt else
                        "C = A @ B (row-major operands)"),
        "params": {"MWG": [1, 2, 4, 8, 16, 32, 64, 128], "NWG": [8, 16, 32, 64, 128, 256],
                   "KWG": [4, 8, 16, 32, 64], "MDIMC": [1, 2, 4, 8, 16, 32],
                   "NDIMC": [1, 2, 4, 8, 16, 32], "VW": [1, 2, 4, 8, 16], "SA": [0, 1],
                   "SB": [0, 1], "KC": [0, 64, 128, 256, 512], "MC": [0, 256, 512, 1024]},
        "constraints": list(CONSTRAINTS),
        "local_mem": local_mem_bytes,
        "work_group": work_group_size,
        "problem": param_problem,
        "default": lambda device, dtype: default_params(device, dt.as_dtype(dtype), nt),
        "default_for_size": lambda device, dtype, M, N, K: _default_for_size(
            device, dt.as_dtype(dtype), nt, M, N, K),
        "size_key": size_key,
        "make_operands": lambda M, N, K, dtype, device: _make_operands(M, N, K, dtype, device,
                                                                        nt),
        "run": matmul_with_params,
        "flops": lambda M, N, K: 2 * M * N * K,
        "dtypes": ["float32", "float64", "float16"],
    }


# =============================================================================================
# Kernels
# =============================================================================================
class _NoFit(MXNetError):
    """A parameter set that cannot run on this device."""


#: How the last matmul launch was planned (path, form, layouts, ...): for tests and the tuner.
LAST_PLAN = {}


def _layout_a(M, K, sm, sk):
    """Layout flag of the left operand and its (m, k) strides (free where the size is 1)."""
    if sk == 1 or K == 1:
        return "k", sm, 1
    if sm == 1 or M == 1:
        return "m", 1, sk
    return "g", sm, sk


def _layout_b(K, N, sk, sn):
    if sn == 1 or N == 1:
        return "n", sk, 1
    if sk == 1 or K == 1:
        return "k", 1, sn
    return "g", sk, sn


def _ptuple(p):
    return tuple(int(p[n]) for n in _SOURCE_PARAMS)


def _tiled_kernel(dev, dtype, form, la, lb, bmode, c_n1, bnd, params):
    pt = _ptuple(params)
    key = ("matmul", form, dtype, la, lb, bmode, c_n1, bnd, pt)
    k = dev.kernels.get(key)
    if k is None:
        try:
            k = _build_tiled(dev, dtype, form, la, lb, bmode, c_n1, bnd,
                             full_params(dict(zip(_SOURCE_PARAMS, pt))))
        except (_NoFit, KernelBuildError) as e:
            # remembered, so that the next call falls back without rebuilding; without its
            # traceback, whose frames would keep the caller's arrays alive
            k = e.with_traceback(None)
        dev.kernels[key] = k
    if isinstance(k, Exception):
        raise copy.copy(k)      # a fresh exception each time: tracebacks attach to the copy
    return k


def _build_tiled(dev, dtype, form, la, lb, bmode, c_n1, bnd, p):
    why = param_problem(p, dev, dtype)
    if why:
        raise _NoFit(f"matmul parameters {p} do not fit {dev} ({dev.name}): {why}")
    comp = _compute_dtype(dtype)
    op = R.Operand(True, dtype, comp)
    name = f"matmul_{form}"
    src = R.render("matmul.cl.mako", prelude=R.prelude(dtype == dt.float64), name=name,
                   form=form, a=op, b=op, c=op, T=dt.ctype(comp), a_layout=la, b_layout=lb,
                   bmode=bmode, c_n1=c_n1, bnd=bnd, **p)
    arg_dtypes = ([None] + [_np.int64] * 3) * 3 + [_np.int64] * 3 + [_np.int32] + \
        [_np.int64] * (4 * bnd)
    k = launch.Kernel(dev, src, name, arg_dtypes, local_cap=p["MDIMC"] * p["NDIMC"])
    limit = k.kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE,
                                         dev.cl_device)
    if p["MDIMC"] * p["NDIMC"] > limit:
        raise _NoFit(f"matmul parameters {p}: the compiled kernel allows work-groups of at most "
                     f"{limit} work-items on {dev} ({dev.name})")
    return k


def _simple_kernel(dev, dtype, mode, wg, bnd):
    key = ("matmul_simple", mode, dtype, wg, bnd)
    return launch.get_kernel(dev, key, lambda: _build_simple(dev, dtype, mode, wg, bnd))


def _build_simple(dev, dtype, mode, wg, bnd):
    if dtype.kind == "f":
        acc = "double" if dtype == dt.float64 else "float"
    else:
        acc = "long"
    op = R.Operand(True, dtype)
    strides = []
    s = wg // 2
    while s >= 1:
        strides.append(s)
        s //= 2
    name = f"matmul_simple_{mode}"
    src = R.render("matmul_simple.cl.mako", prelude=R.prelude(dtype == dt.float64), name=name,
                   mode=mode, a=op, b=op, c=op, acc=acc, bnd=bnd, wg=wg, strides=strides)
    arg_dtypes = ([None] + [_np.int64] * 3) * 3 + [_np.int64] * (3 + 4 * bnd + 1)
    # serial: one output per work-item, many per group (the kernel bounds-checks)
    return launch.Kernel(dev, src, name, arg_dtypes, local_cap=wg if mode == "group" else 256)


class _Problem:
    """One batched product C = A @ B laid out for a kernel: buffers, offsets, strides."""

    __slots__ = ("A", "ao", "sam", "sak", "B", "bo", "sbk", "sbn", "C", "co", "scm", "scn",
                 "M", "N", "K", "bshape", "bstrides", "nbatch")

    def __init__(self, a, b, out):
        M, K = a.shape[-2:]
        N = b.shape[-1]
        nb = out.ndim - 2
        bshape = list(out.shape[:-2])

        def bstr(x):
            pad = nb - (x.ndim - 2)
            st = [0] * nb
            for d in range(x.ndim - 2):
                if x.shape[d] != 1:
                    st[pad + d] = x._strides[d]
            return st

        cshape, (sa, sb, sc) = launch.collapse(bshape, [bstr(a), bstr(b), bstr(out)])
        self.A, self.ao, self.sam, self.sak = a._storage.buffer, a._offset, a._strides[-2], \
            a._strides[-1]
        self.B, self.bo, self.sbk, self.sbn = b._storage.buffer, b._offset, b._strides[-2], \
            b._strides[-1]
        self.C, self.co, self.scm, self.scn = out._storage.buffer, out._offset, \
            out._strides[-2], out._strides[-1]
        self.M, self.N, self.K = M, N, K
        self.bshape = cshape
        self.bstrides = list(zip(sa, sb, sc))
        n = 1
        for s in bshape:
            n *= s
        self.nbatch = n

    def swapped(self):
        """The same product as C.T = B.T @ A.T."""
        q = object.__new__(_Problem)
        q.A, q.ao, q.sam, q.sak = self.B, self.bo, self.sbn, self.sbk
        q.B, q.bo, q.sbk, q.sbn = self.A, self.ao, self.sak, self.sam
        q.C, q.co, q.scm, q.scn = self.C, self.co, self.scn, self.scm
        q.M, q.N, q.K = self.N, self.M, self.K
        q.bshape = self.bshape
        q.bstrides = [(sb, sa, sc) for sa, sb, sc in self.bstrides]
        q.nbatch = self.nbatch
        return q

    def args(self, sam, sak, sbk, sbn, k0=0, k1=None, beta=None):
        """Kernel arguments; ``k0``/``k1``/``beta`` select a K chunk (tiled kernel only)."""
        k1 = self.K if k1 is None else k1
        out = [self.A, self.ao + k0 * sak, sam, sak, self.B, self.bo + k0 * sbk, sbk, sbn,
               self.C, self.co, self.scm, self.scn, self.M, self.N, k1 - k0]
        if beta is not None:
            out.append(beta)
        for n, (sa, sb, sc) in zip(self.bshape, self.bstrides):
            out += (n, sa, sb, sc)
        return out


def _plan_tiled(q, params):
    """(form, problem, a layout, b layout, strides) for the tiled kernel with ``params``."""
    la, sam, sak = _layout_a(q.M, q.K, q.sam, q.sak)
    lb, sbk, sbn = _layout_b(q.K, q.N, q.sbk, q.sbn)
    swap = False
    if not params["SB"] and lb != "n" and la == "m":
        # B is not contiguous along N but A is along M: C.T = B.T @ A.T reads both well.
        q = q.swapped()
        swap = True
        la, sam, sak = _layout_a(q.M, q.K, q.sam, q.sak)
        lb, sbk, sbn = _layout_b(q.K, q.N, q.sbk, q.sbn)
    form = "nvec"
    if not params["SA"] and not params["SB"] and la == "k" and lb == "k":
        form = "kvec"
    return form, q, la, lb, (sam, sak, sbk, sbn), swap


class _Plan:
    """Everything about one matmul that does not depend on the data: the kernel and, per
    launch (K chunk, row block), its global size and argument list with the operands' buffers
    and offsets left to fill in. Built once per device, dtype, parameters, shapes and strides;
    a call then only fills in six arguments per launch and enqueues."""

    __slots__ = ("kernel", "loc", "swap", "chunks", "info", "panel")

    def __init__(self, kernel, loc, q, launches, swap, info):
        self.kernel, self.loc, self.swap, self.info = kernel, loc, swap, info
        self.panel = 0      # B's panel width when the plan reads B packed (_pack_panels)
        # args[1] / args[5] / args[9] are the operands' offsets plus where the launch starts
        # (along K, and for A and C the row block); the buffers are dropped, so that a cached
        # plan keeps no array's memory alive
        self.chunks = []
        for glob, args in launches:
            deltas = (args[1] - q.ao, args[5] - q.bo, args[9] - q.co)
            args = list(args)
            args[0] = args[4] = args[8] = None
            self.chunks.append((glob, args, deltas))

    def run(self, a, b, out):
        x, y = (b, a) if self.swap else (a, b)
        A, ao, B, bo = x._storage.buffer, x._offset, y._storage.buffer, y._offset
        C, co = out._storage.buffer, out._offset
        k, dev, loc = self.kernel, out.device, self.loc
        for glob, args, (da, db, dc) in self.chunks:
            args = list(args)
            args[0], args[1], args[4], args[5], args[8], args[9] = \
                A, ao + da, B, bo + db, C, co + dc
            if loc is None:
                k(dev, glob, *args)
            else:
                k.launch(dev, glob, loc, *args)
        LAST_PLAN.clear()
        LAST_PLAN.update(self.info)


def _tiled_plan(dev, dtype, q, params, panel=False):
    if panel:       # B packed (_pack_panels): read as vectors from its panels, never swapped
        la, sam, sak = _layout_a(q.M, q.K, q.sam, q.sak)
        form, lb, st, swap = "nvec", "n", (sam, sak, q.sbk, q.sbn), False
    else:
        form, q, la, lb, st, swap = _plan_tiled(q, params)
    c_n1 = q.scn == 1 or q.N == 1
    if panel:
        bmode = "panel"
    elif form == "kvec":
        bmode = "kvec"          # B is read as vectors along K; no N-direction mode applies
    elif params["SB"]:
        bmode = "local"
    elif lb == "n" and q.N >= params["VW"]:
        bmode = "vector"
    else:
        bmode = "gather"
    k = _tiled_kernel(dev, dtype, form, la, lb, bmode, c_n1, len(q.bshape), params)
    p = params
    ntile = p["NWG"] if form == "nvec" else p["NWG"] // p["VW"]
    gm = (q.M + p["MWG"] - 1) // p["MWG"]
    gn = (q.N + ntile - 1) // ntile
    kc = p["KC"] if 0 < p["KC"] < q.K else q.K
    mc = p["MC"] if 0 < p["MC"] < q.M else q.M
    info = dict(path="tiled", form=form, a_layout=la, b_layout=lb, bmode=bmode, swapped=swap,
                params=dict(p), grid=(gm, gn, q.nbatch), chunks=(q.K + kc - 1) // kc,
                row_blocks=(q.M + mc - 1) // mc)
    loc = (p["NDIMC"], p["MDIMC"], 1)
    launches = []
    for k0 in range(0, q.K, kc):
        for m0 in range(0, q.M, mc):
            args = q.args(*st, k0=k0, k1=_b.min(q.K, k0 + kc), beta=int(k0 > 0))
            rows = _b.min(mc, q.M - m0)
            args[1] += m0 * st[0]           # A and C start at the block's first row
            args[9] += m0 * q.scm
            args[12] = rows
            glob = ((rows + p["MWG"] - 1) // p["MWG"] * p["NDIMC"], gn * p["MDIMC"], q.nbatch)
            launches.append((glob, args))
    return _Plan(k, loc, q, launches, swap, info)


def _simple_plan(dev, dtype, q):
    outputs = q.nbatch * q.M * q.N
    caps = dev.caps
    wg = 1
    while wg * 2 <= _b.min(64, caps.max_wg) and wg * 2 * 8 <= caps.local_mem:
        wg *= 2
    group = wg > 1 and ((q.K >= 256 and outputs <= 4096) or (q.K >= 64 and outputs <= 64))
    bnd = len(q.bshape)
    args = q.args(q.sam, q.sak, q.sbk, q.sbn) + [outputs]
    info = dict(path="simple", form="group" if group else "serial")
    if group:
        try:
            k = _simple_kernel(dev, dtype, "group", wg, bnd)
            return _Plan(k, (wg,), q, [((outputs * wg,), args)], False, info)
        except KernelBuildError as e:     # a work-group per output failed here: one work-item
            launch.fall_back(dev, "matmul", e)
            info["form"] = "serial"
    k = _simple_kernel(dev, dtype, "serial", 1, bnd)
    return _Plan(k, None, q, [(outputs, args)], False, info)


def _use_simple(dtype, M, N, K):
    return dtype.kind != "f" or M == 1 or N == 1 or K <= 2 or M * N * K <= 4096


#: Launch plans by (device, dtype, shapes, strides[, parameters]); cleared when it grows large
#: (a workload of ever new shapes), like a cache, never trusted beyond its key.
_PLANS = {}
_DEFAULTS = {}
launch.register_cache(_PLANS.clear)
launch.register_cache(_DEFAULTS.clear)


def plan_count():
    """How many matmul launch plans are kept (one per device, dtype, shapes and strides)."""
    return len(_PLANS)


def _run(a, b, out):
    """out[...] = a @ b with the path and parameters chosen for the device."""
    dev = out.device
    dtype = out.dtype
    key = (dev, dtype, a.shape, a._strides, b.shape, b._strides, out.shape, out._strides)
    plan = _PLANS.get(key)
    M, K = a.shape[-2:]
    N = b.shape[-1]
    if plan is None and _use_simple(dtype, M, N, K):
        plan = _PLANS[key] = _simple_plan(dev, dtype, _Problem(a, b, out))
    if plan is not None:
        plan.run(a, b, out)
        return out
    # the tiled kernel: its parameters come from the tuning database (which can change, or be
    # overridden in a scope), so they are part of the key
    size = size_key(M, N, K)
    cpu = launch.launch_profile(dev) == "cpu"
    panel = _panel_wanted(dev, size, a.ndim == 2 and b.ndim == 2)
    nt = not panel and (a._strides[-1] == 1 or K == 1) and (b._strides[-2] == 1 or K == 1) and \
        not (b._strides[-1] == 1 or N == 1)
    if nt and cpu:
        # CPUs: copying B.T into rows along N and running the "nvec" form beats reading both
        # operands along K ("kvec", summed across lanes at the end): 2x at 128x256x256 and
        # 1.4x at 1024^3 on PoCL, the copy included
        b = copy_raw(b)
        nt = False
        key = (dev, dtype, a.shape, a._strides, b.shape, b._strides, out.shape, out._strides)
    dkey = (dev, dtype, nt, size, panel)
    default = _DEFAULTS.get(dkey)
    if default is None:
        default = _DEFAULTS[dkey] = default_params(dev, dtype, nt, size, panel)
    params = tuning.params_for(dev, "matmul_nt" if nt else "matmul", dtype, size, default)
    pkey = key + tuple(params.values()) + (panel,)
    plan = _PLANS.get(pkey)
    if plan is None:
        plan, b = _new_tiled_plan(dev, dtype, a, b, out, params, panel)
        if len(_PLANS) > 4096:
            _PLANS.clear()
        _PLANS[pkey] = plan
    elif plan.panel:
        b = _pack_panels(b, plan.panel)
    plan.run(a, b, out)
    return out


def _panel_wanted(dev, size, two_d=True):
    """Whether B is copied into panels (``_pack_panels``) before the tiled kernel: on CPUs, for
    2-D products (``two_d``) of the large size bucket, where the copy is small next to the
    product (at 2048^2 on PoCL 83-109 GFLOP/s packed against 41-45 unpacked in K chunks of
    256, in the same runs)."""
    return size == "large" and two_d and launch.launch_profile(dev) == "cpu"


def _pack_panels(b, nwg):
    """``b`` (K, N) copied into zero-padded panels of ``nwg`` columns, (ceil(N / nwg), K, nwg)
    contiguous, described as the (K, N) view the "panel" kernel reads (row stride ``nwg``,
    panel stride K * nwg). A panel's rows are then contiguous whatever b's layout: with a
    power-of-two leading dimension every row of an unpacked panel maps to the same few cache
    sets, and the kernel's reuse of the panel from cache is lost."""
    from .core import copy_into
    K, N = b.shape
    sk, sn = b._strides
    full, rem = divmod(N, nwg)
    packed = ndarray._empty((full + (rem > 0), K, nwg), b.dtype, b.device)
    if full:
        copy_into(packed._view((full, K, nwg), (K * nwg, nwg, 1), 0),
                  b._view((full, K, nwg), (nwg * sn, sk, sn), b._offset))
    if rem:
        last = packed._view((K, nwg), (nwg, 1), full * K * nwg)
        fill(last, 0)
        copy_into(last._view((K, rem), (nwg, 1), last._offset),
                  b._view((K, rem), (sk, sn), b._offset + full * nwg * sn))
    return packed._view((K, N), (nwg, K * nwg), 0)


def _plan_for(dev, dtype, a, b, out, p, panel):
    """(plan, B as the plan reads it) for the full parameters ``p``; with ``panel`` and
    parameters that read B straight from memory, B is packed (``_pack_panels``)."""
    nwg = p["NWG"] if panel and not p["SA"] and not p["SB"] else 0
    if nwg:
        b = _pack_panels(b, nwg)
    plan = _tiled_plan(dev, dtype, _Problem(a, b, out), p, bool(nwg))
    plan.panel = nwg
    return plan, b


def _new_tiled_plan(dev, dtype, a, b, out, params, panel):
    """(plan, B as it reads it) for ``params``, or for the first fallback that runs on the
    device; when no tiled configuration runs, the simple kernel (the family's plain variant)."""
    tried = []
    for p in (params,) + FALLBACK_PARAMS:
        why = _cached_problem(p)
        if why:             # e.g. a database entry written for other parameters
            tried.append(f"matmul parameters {p}: {why}")
            continue
        try:
            return _plan_for(dev, dtype, a, b, out, full_params(p), panel)
        except (_NoFit, KernelBuildError) as e:
            if isinstance(e, KernelBuildError):
                launch.fall_back(dev, "matmul", e)
            tried.append(str(e))
    try:
        return _simple_plan(dev, dtype, _Problem(a, b, out)), b
    except KernelBuildError as e:
        tried.append(str(e))
    raise MXNetError("matmul: no kernel configuration runs on this device:\n" + "\n".join(tried))


_PROBLEMS = {}


def _cached_problem(params):
    """``param_problem(params)`` (device-independent checks), remembered per parameter set:
    evaluating the constraints costs ~0.2 ms, too much for every matmul call."""
    key = tuple(sorted(params.items()))
    why = _PROBLEMS.get(key, _PROBLEMS)
    if why is _PROBLEMS:
        why = _PROBLEMS[key] = param_problem(params)
    return why


def _result_shape(a, b):
    """Broadcast batch shape + (M, N) for ``a`` (..., M, K) and ``b`` (..., K, N)."""
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: size "
                         f"{a.shape[-1]} (last dimension of the first operand) != "
                         f"{b.shape[-2]} (second-to-last dimension of the second operand)")
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot "
                         "be broadcast together") from None
    return tuple(batch) + (a.shape[-2], b.shape[-1])


def _matmul_raw(a, b):
    """a @ b for arrays of one dtype and at least two dimensions; not recorded."""
    shape = _result_shape(a, b)
    out = ndarray._empty(shape, a.dtype, a.device)
    if out.size == 0:
        return out
    if a.shape[-1] == 0:
        return fill(out, 0)
    return _run(a, b, out)


def matmul_with_params(a, b, params, out=None):
    """``a @ b`` (arrays of one floating dtype, at least 2-d) with the tiled kernel and
    ``params``, whatever the problem size; not recorded. For the tuner and tests: a parameter
    set that cannot run raises ``MXNetError`` (build failures ``KernelBuildError``)."""
    if not isinstance(a, ndarray) or not isinstance(b, ndarray):
        raise DTypeError("matmul_with_params takes clgrad arrays")
    same_device([a, b], "matmul_with_params")
    if a.dtype != b.dtype or a.dtype.kind != "f":
        raise DTypeError(f"matmul_with_params needs two arrays of one floating dtype, got "
                         f"{a.dtype} and {b.dtype}")
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"matmul_with_params needs operands of at least 2 dimensions, got "
                         f"shapes {a.shape} and {b.shape}")
    dev = a.device
    why = param_problem(params, dev, a.dtype)
    if why:
        raise MXNetError(f"matmul parameters do not fit {dev} ({dev.name}): {why}")
    shape = _result_shape(a, b)
    if out is None:
        out = ndarray._empty(shape, a.dtype, dev)
    elif out.shape != shape or out.dtype != a.dtype or out.device is not dev:
        raise ShapeError(f"matmul_with_params: out must be a {a.dtype} array of shape {shape} "
                         f"on {dev}, got {out.dtype} {out.shape}")
    if out.size == 0:
        return out
    if a.shape[-1] == 0:
        return fill(out, 0)
    panel = _panel_wanted(dev, size_key(a.shape[-2], b.shape[-1], a.shape[-1]),
                          a.ndim == 2 and b.ndim == 2)
    plan, b = _plan_for(dev, a.dtype, a, b, out, full_params(params), panel)  # as _run does
    plan.run(a, b, out)
    return out


TUNABLES = {"matmul": _tunable("matmul", False), "matmul_nt": _tunable("matmul_nt", True)}
for _spec in TUNABLES.values():
    tuning.declare(_spec)       # how an entry tuned elsewhere is checked against this device
#: The search space of the tiled matmul kernel, for clgrad.tune.
TUNABLE = TUNABLES["matmul"]


# =============================================================================================
# Differentiable ops
# =============================================================================================
def _needs(ctx, i):
    return ctx.needs[i] if ctx.needs is not None else True


def _mm_fwd(ctx, a, b):
    ctx.save(a, b)
    return _matmul_raw(a, b)


def _mm_bwd(ctx, g):
    from .elementwise import unbroadcast
    from .shape import swapaxes
    a, b = ctx.saved
    ga = gb = None
    if _needs(ctx, 0):
        ga = unbroadcast(_mm(g, swapaxes(b, -1, -2)), a.shape)
    if _needs(ctx, 1):
        gb = unbroadcast(_mm(swapaxes(a, -1, -2), g), b.shape)
    return ga, gb


_matmul_op = register("matmul", _mm_fwd, _mm_bwd)


def _mm(a, b):
    """The recorded core product of two same-dtype arrays of at least 2 dimensions."""
    return invoke(_matmul_op, [a, b])


def _as_arrays(x, y, what):
    """Both operands as device arrays on one device (lists and NumPy arrays are uploaded)."""
    dev = same_device([x, y], what)
    out = []
    for v in (x, y):
        if not isinstance(v, ndarray):
            v = array(v, device=dev)
        out.append(v)
    return out


def _promote(a, b):
    from .core import astype
    rt = dt.result_type(a.dtype, b.dtype)
    if rt.kind == "c":
        raise DTypeError(f"matrix products are not supported for complex arrays ({rt})")
    dt.check_device(rt, a.device)
    if a.dtype != rt:
        a = astype(a, rt)
    if b.dtype != rt:
        b = astype(b, rt)
    return a, b


def _finish(res, out):
    if out is None:
        return res
    if not isinstance(out, ndarray):
        raise TypeError("out must be a clgrad ndarray")
    if out.shape != res.shape:
        raise ShapeError(f"out has shape {out.shape}, but the result has shape {res.shape}")
    return assign(out, res)


def matmul(a, b, out=None, **kwargs):
    """Matrix product with NumPy's rules: batched over leading dimensions (broadcast), 1-d
    operands promoted to matrices and the added dimension removed from the result."""
    if kwargs:
        raise TypeError(f"matmul: unsupported arguments {sorted(kwargs)}")
    from .shape import reshape
    for i, x in enumerate((a, b)):
        if isinstance(x, (numbers.Number, _np.generic)) or (isinstance(x, ndarray) and
                                                             x.ndim == 0):
            raise ShapeError(f"matmul: input operand {i} does not have enough dimensions "
                             "(has 0, the signature (n?,k),(k,m?)->(n?,m?) requires 1)")
    a, b = _as_arrays(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: input operand {0 if a.ndim == 0 else 1} does not have enough "
                         "dimensions (has 0, the signature (n?,k),(k,m?)->(n?,m?) requires 1)")
    a0, b0 = a.shape, b.shape
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ShapeError(f"matmul: shapes {a0} and {b0} are not aligned: size {a0[-1]} (last "
                         f"dimension of the first operand) != {b2.shape[-2]} "
                         f"({'dimension 0' if b.ndim == 1 else 'second-to-last dimension'} of "
                         "the second operand)")
    rshape = _result_shape(a2, b2)
    a2, b2 = _promote(a2, b2)
    if out is not None:
        from .core import check_out
        if b.ndim == 1:
            rshape = rshape[:-1]
        if a.ndim == 1:
            rshape = rshape[:-2] + rshape[-1:] if b.ndim != 1 else rshape[:-1]
        check_out("matmul", out, rshape, a2.dtype, a2.device)
    res = _mm(a2, b2)
    if a.ndim == 1 or b.ndim == 1:
        shape = res.shape
        if b.ndim == 1:
            shape = shape[:-1]
        if a.ndim == 1:
            shape = shape[:-2] + shape[-1:] if b.ndim != 1 else shape[:-1]
        res = reshape(res, shape)
    return _finish(res, out)


def _is_scalar(x):
    return isinstance(x, (numbers.Number, _np.generic)) or (isinstance(x, ndarray) and
                                                             x.ndim == 0)


def _normalize_axis(ax, ndim, what):
    ax = int(ax)
    if ax < -ndim or ax >= ndim:
        from .reduce import AxisError
        raise AxisError(f"{what}: axis {ax} is out of bounds for array of dimension {ndim}")
    return ax % ndim


def tensordot(a, b, axes=2):
    """Sum of products over ``axes`` (an int n: the last n of a with the first n of b; or a pair
    of sequences of axes)."""
    from .shape import reshape, transpose
    a, b = _as_arrays(a, b, "tensordot")
    if isinstance(axes, numbers.Integral):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ShapeError(f"tensordot: cannot contract the last {n} axes of shape {a.shape} "
                             f"with the first {n} of shape {b.shape}")
        ax_a = list(range(a.ndim - n, a.ndim))
        ax_b = list(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ShapeError("tensordot: axes must be an int or a pair of sequences of axes") \
                from None
        ax_a = [ax_a] if isinstance(ax_a, numbers.Integral) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, numbers.Integral) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ShapeError(f"tensordot: axes {ax_a} and {ax_b} differ in length")
        ax_a = [_normalize_axis(x, a.ndim, "tensordot") for x in ax_a]
        ax_b = [_normalize_axis(x, b.ndim, "tensordot") for x in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ShapeError("tensordot: repeated axis in axes")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: shape-mismatch for sum: axis {i} of shape {a.shape} "
                             f"(size {a.shape[i]}) and axis {j} of shape {b.shape} (size "
                             f"{b.shape[j]})")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    K = 1
    for i in ax_a:
        K *= a.shape[i]
    M = 1
    for i in free_a:
        M *= a.shape[i]
    N = 1
    for j in free_b:
        N *= b.shape[j]
    at = transpose(a, free_a + ax_a) if free_a + ax_a != list(range(a.ndim)) else a
    bt = transpose(b, ax_b + free_b) if ax_b + free_b != list(range(b.ndim)) else b
    at = reshape(at, (M, K))
    bt = reshape(bt, (K, N))
    at, bt = _promote(at, bt)
    res = _mm(at, bt)
    return reshape(res, tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def dot(a, b, out=None):
    """NumPy's dot: product of scalars, inner product of vectors, matrix product of matrices,
    and for N-d arrays a sum product over the last axis of a and the second-to-last of b."""
    from .elementwise import multiply
    if _is_scalar(a) or _is_scalar(b):
        return _finish(multiply(a, b), out)
    a, b = _as_arrays(a, b, "dot")
    if b.ndim == 1 or a.ndim == 1 and b.ndim <= 2:
        ka, kb = a.shape[-1], b.shape[0 if b.ndim == 1 else -2]
        if ka != kb:
            raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {ka} (dim "
                             f"{a.ndim - 1}) != {kb} (dim {0 if b.ndim == 1 else b.ndim - 2})")
    if a.ndim <= 2 and b.ndim <= 2:
        return _finish(matmul(a, b), out)
    if b.ndim == 1:
        return _finish(tensordot(a, b, ([a.ndim - 1], [0])), out)
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} (dim "
                         f"{a.ndim - 1}) != {b.shape[-2]} (dim {b.ndim - 2})")
    return _finish(tensordot(a, b, ([a.ndim - 1], [b.ndim - 2])), out)


def inner(a, b):
    """Sum product over the last axes of a and b (a product when either is a scalar)."""
    from .elementwise import multiply
    if _is_scalar(a) or _is_scalar(b):
        return multiply(a, b)
    a, b = _as_arrays(a, b, "inner")
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: shapes {a.shape} and {b.shape} not aligned: last dimensions "
                         f"{a.shape[-1]} != {b.shape[-1]}")
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def outer(a, b, out=None):
    """Outer product of the flattened inputs."""
    from .elementwise import multiply
    from .shape import reshape
    a, b = _as_arrays(a, b, "outer")
    return _finish(multiply(reshape(a, (-1, 1)), reshape(b, (1, -1))), out)


def vdot(a, b):
    """Dot product of the flattened inputs (real arrays: no conjugation)."""
    from .shape import reshape
    a, b = _as_arrays(a, b, "vdot")
    if a.size != b.size:
        raise ShapeError(f"vdot: inputs have different sizes: {a.size} (shape {a.shape}) and "
                         f"{b.size} (shape {b.shape})")
    return tensordot(reshape(a, (-1,)), reshape(b, (-1,)), 1)


# --- einsum ------------------------------------------------------------------------------------
class EinsumError(ShapeError):
    """A malformed or unsupported einsum specification."""


def _diag_fwd(ctx, a, i, j):
    ctx.i, ctx.j, ctx.shape = i, j, a.shape
    shape = list(a.shape)
    strides = list(a._strides)
    strides[i] += strides[j]
    del shape[j]
    del strides[j]
    return a._view(tuple(shape), tuple(strides), a._offset)


def _diag_bwd(ctx, g):
    from .elementwise import multiply
    from .shape import expand_dims, reshape
    i, j, shape = ctx.i, ctx.j, ctx.shape
    n = shape[i]
    mask_shape = [1] * len(shape)
    mask_shape[i] = mask_shape[j] = n
    mask = reshape(eye(n, dtype=g.dtype, device=g.device), tuple(mask_shape))
    return (multiply(expand_dims(g, j), mask),)


_diag_op = register("einsum_diagonal", _diag_fwd, _diag_bwd)


def _parse_einsum(subscripts, shapes):
    if not isinstance(subscripts, str):
        raise EinsumError("einsum: the first argument must be a subscripts string such as "
                          "'ij,jk->ik'")
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->", 1)
        if "->" in rhs:
            raise EinsumError(f"einsum: '{subscripts}' has more than one '->'")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise EinsumError(f"einsum: '{subscripts}' names {len(terms)} operands but "
                          f"{len(shapes)} were given")
    used = set(c for c in s if c.isalpha())
    for c in s:
        if not (c.isalpha() and c.isascii()) and c not in ",->.":
            raise EinsumError(f"einsum: invalid character {c!r} in subscripts '{subscripts}'")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    ell_nd = 0
    for t, shp in zip(terms, shapes):
        if "..." in t:
            ell_nd = _b.max(ell_nd, len(shp) - (len(t) - 3))
    if ell_nd > len(spare):
        raise EinsumError("einsum: too many dimensions under '...'")
    ell = spare[:ell_nd]
    out_terms = []
    for t, shp in zip(terms, shapes):
        if t.count("...") > 1 or "." in t.replace("...", ""):
            raise EinsumError(f"einsum: malformed term '{t}' in '{subscripts}'")
        if "..." in t:
            k = len(shp) - (len(t) - 3)
            if k < 0:
                raise EinsumError(f"einsum: term '{t}' has more labels than operand dimensions "
                                  f"{shp}")
            t = t.replace("...", "".join(ell[ell_nd - k:]))
        if len(t) != len(shp):
            raise EinsumError(f"einsum: term '{t}' has {len(t)} labels but the operand has "
                              f"{len(shp)} dimensions (shape {shp})")
        out_terms.append(t)
    if rhs is None:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, n in counts.items()
                                            if n == 1 and c not in ell))
    else:
        if rhs.count("...") > 1 or "." in rhs.replace("...", ""):
            raise EinsumError(f"einsum: malformed output '{rhs}'")
        out = rhs.replace("...", "".join(ell))
        if "..." not in rhs and ell and any(c not in out for c in ell):
            # NumPy: broadcast dimensions must appear in an explicit output
            raise EinsumError("einsum: output subscripts must include '...' when the inputs use it")
    for c in out:
        if out.count(c) > 1:
            raise EinsumError(f"einsum: output label '{c}' appears more than once in "
                              f"'{subscripts}'")
        if not any(c in t for t in out_terms):
            raise EinsumError(f"einsum: output label '{c}' does not appear in any input of "
                              f"'{subscripts}'")
    return out_terms, out


def _einsum_single(x, lx, keep):
    """Take diagonals of repeated labels and sum labels not in ``keep``; returns (x, labels)."""
    from .reduce import sum as _sum
    lx = list(lx)
    while True:
        rep = next((c for c in lx if lx.count(c) > 1), None)
        if rep is None:
            break
        i = lx.index(rep)
        j = lx.index(rep, i + 1)
        if x.shape[i] != x.shape[j]:
            raise EinsumError(f"einsum: repeated label '{rep}' has sizes {x.shape[i]} and "
                              f"{x.shape[j]} in one operand (shape {x.shape})")
        x = invoke(_diag_op, [x], i=i, j=j)
        del lx[j]
    drop = [i for i, c in enumerate(lx) if c not in keep]
    if drop:
        dtype = x.dtype
        x = _sum(x, axis=tuple(drop))
        if x.dtype != dtype:        # einsum keeps the operand dtype (sum widens integers)
            from .core import astype
            x = astype(x, dtype)
        lx = [c for c in lx if c in keep]
    return x, lx


def _align(x, lx, lo):
    """``x`` (labels ``lx``, a subset of ``lo``) transposed and expanded to broadcast over lo."""
    from .shape import reshape, transpose
    order = [lx.index(c) for c in lo if c in lx]
    if order != list(range(len(order))):
        x = transpose(x, order)
    shape = []
    for c in lo:
        shape.append(x.shape[[d for d in lo if d in lx].index(c)] if c in lx else 1)
    return reshape(x, tuple(shape)) if tuple(shape) != x.shape else x


def _einsum_pair(x, lx, y, ly, lo):
    """Contract x (labels lx) with y (labels ly) to labels lo."""
    from .elementwise import multiply
    from .shape import broadcast_to, reshape, transpose
    keep_x = set(lo) | set(ly)
    keep_y = set(lo) | set(lx)
    x, lx = _einsum_single(x, lx, keep_x)
    y, ly = _einsum_single(y, ly, keep_y)
    size = {}
    for t, v in ((lx, x), (ly, y)):
        for c, n in zip(t, v.shape):
            if c in size and size[c] != n and 1 not in (size[c], n):
                raise EinsumError(f"einsum: label '{c}' has sizes {size[c]} and {n} in operands "
                                  f"of shapes {x.shape} and {y.shape}")
            size[c] = n if c not in size or size[c] == 1 else size[c]
    contract = [c for c in lx if c in ly and c not in lo]
    if not contract:
        return multiply(_align(x, lx, lo), _align(y, ly, lo)), lo
    batch = [c for c in lo if c in lx and c in ly]
    xf = [c for c in lx if c not in ly]
    yf = [c for c in ly if c not in lx]
    # contracted labels of size 1 in one operand and n in the other: broadcast (a view)
    for c in contract:
        if x.shape[lx.index(c)] != size[c]:
            x = broadcast_to(x, tuple(size[d] if d == c else n for d, n in zip(lx, x.shape)))
        if y.shape[ly.index(c)] != size[c]:
            y = broadcast_to(y, tuple(size[d] if d == c else n for d, n in zip(ly, y.shape)))
    ox = [lx.index(c) for c in batch + xf + contract]
    oy = [ly.index(c) for c in batch + contract + yf]
    xt = transpose(x, ox) if ox != list(range(len(ox))) else x
    yt = transpose(y, oy) if oy != list(range(len(oy))) else y
    xb = tuple(xt.shape[:len(batch)])
    yb = tuple(yt.shape[:len(batch)])
    M = K = N = 1
    for c in xf:
        M *= size[c]
    for c in contract:
        K *= size[c]
    for c in yf:
        N *= size[c]
    xt = reshape(xt, xb + (M, K))
    yt = reshape(yt, yb + (K, N))
    xt, yt = _promote(xt, yt)
    r = _mm(xt, yt)
    rb = r.shape[:len(batch)]
    r = reshape(r, tuple(rb) + tuple(size[c] for c in xf) + tuple(size[c] for c in yf))
    have = batch + xf + yf
    order = [have.index(c) for c in lo]
    if order != list(range(len(order))):
        r = transpose(r, order)
    return r, lo


def einsum(subscripts, *operands, out=None, optimize=False):
    """Einstein summation: any number of operands, contracted pairwise left to right through
    matmul (transposes, diagonals of repeated labels, sums of labels that appear once, '...',
    implicit and explicit output)."""
    from .shape import transpose
    if not operands:
        raise EinsumError("einsum: no operands given")
    dev = same_device(operands, "einsum")
    ops = [x if isinstance(x, ndarray) else array(x, device=dev) for x in operands]
    terms, lo = _parse_einsum(subscripts, [x.shape for x in ops])
    lo = list(lo)
    x, lx = ops[0], list(terms[0])
    for i in range(1, len(ops)):
        later = set("".join(terms[i + 1:])) | set(lo)
        y, ly = ops[i], list(terms[i])
        want = []
        for c in lx + ly:
            if c in later and c not in want:
                want.append(c)
        x, lx = _einsum_pair(x, lx, y, ly, want)
    x, lx = _einsum_single(x, lx, set(lo))
    order = [lx.index(c) for c in lo]
    if order != list(range(len(order))) or any(x is o for o in ops):
        x = transpose(x, order)     # a view, as NumPy returns, never the operand itself
    return _finish(x, out)


# =============================================================================================
# Norms (clgrad.np.linalg re-exports them)
# =============================================================================================
def _expand(g, shape, axes, keepdims):
    from .shape import broadcast_to, reshape
    if not keepdims:
        g = reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return broadcast_to(g, shape)


def _vnorm_fwd(ctx, x, axes, keepdims, kind):
    from .elementwise import sqrt
    from .reduce import reduce_raw
    ctx.axes, ctx.keepdims, ctx.kind = axes, keepdims, kind
    raw = {"2": "sumsq", "1": "sumabs", "inf": "maxabs", "-inf": "minabs"}[kind]
    r = reduce_raw(raw, x, axes, None, keepdims)
    if kind == "2":
        r = sqrt(r)
    if r.dtype != x.dtype:
        from .core import copy_raw
        r = copy_raw(r, x.dtype)
    ctx.save(x, r.detach())
    return r


def _vnorm_bwd(ctx, g):
    from .elementwise import abs as _abs
    from .elementwise import equal, multiply, sign, true_divide, where
    x, r = ctx.saved
    axes, keepdims, kind = ctx.axes, ctx.keepdims, ctx.kind
    if kind == "2":
        if _state.is_recording():
            # a graph of the gradient is being built: the norm must be part of it
            r = invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind=kind)
        # d|x| = x / |x|, with 0 where the norm is 0 (x is then 0 as well)
        safe = where(equal(r, 0), 1, r)
        return (multiply(_expand(true_divide(g, safe), x.shape, axes, keepdims), x),)
    gs = multiply(_expand(g, x.shape, axes, keepdims), sign(x))
    if kind == "1":
        return (gs,)
    # max / min of |x|: every element attaining it receives the gradient (MXNet's rule)
    return (multiply(gs, equal(_abs(x), _expand(r, x.shape, axes, keepdims))),)


_vnorm_op = register("norm", _vnorm_fwd, _vnorm_bwd)


def as_float_input(x):
    from .core import asarray, astype
    x = x if isinstance(x, ndarray) else asarray(x)
    if x.dtype.kind != "f":
        x = astype(x, dt.default_float)
    return x


def vector_norm_over(x, ord, axes, keepdims):
    from .elementwise import abs as _abs
    from .elementwise import not_equal, power
    from .reduce import sum as _sum
    if ord is None or ord == 2:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="2")
    if ord == 1:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="1")
    if isinstance(ord, str):
        raise MXNetError(f"norm: invalid norm order '{ord}' for vectors")
    if ord == _np.inf:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="inf")
    if ord == -_np.inf:
        return invoke(_vnorm_op, [x], axes=axes, keepdims=keepdims, kind="-inf")
    if ord == 0:
        from .core import astype
        return astype(_sum(not_equal(x, 0), axis=axes, keepdims=keepdims), x.dtype)
    p = float(ord)
    return power(_sum(power(_abs(x), p), axis=axes, keepdims=keepdims), 1.0 / p)


def matrix_norm_over(x, ord, axes, keepdims):
    from .reduce import max as _max
    from .reduce import min as _min
    from .shape import reshape
    r, c = axes
    if ord in (None, "fro"):
        return invoke(_vnorm_op, [x], axes=tuple(sorted(axes)), keepdims=keepdims, kind="2")
    if ord in ("nuc", 2, -2):
        raise MXNetError(f"norm: the matrix norm ord={ord!r} needs a singular value "
                         "decomposition, which clgrad does not provide; use ord='fro', 1, -1, "
                         "inf or -inf")
    if ord in (1, -1):
        s = invoke(_vnorm_op, [x], axes=(r,), keepdims=True, kind="1")
        res = (_max if ord == 1 else _min)(s, axis=c, keepdims=True)
    elif ord in (_np.inf, -_np.inf):
        s = invoke(_vnorm_op, [x], axes=(c,), keepdims=True, kind="1")
        res = (_max if ord > 0 else _min)(s, axis=r, keepdims=True)
    else:
        raise MXNetError(f"norm: invalid norm order {ord!r} for matrices")
    if not keepdims:
        res = reshape(res, tuple(n for i, n in enumerate(res.shape) if i not in axes))
    return res


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms (NumPy's ``linalg.norm``): ord None/'fro', 1, -1, 2 (vectors),
    inf, -inf, 0 and other p for vectors; 'fro', 1, -1, inf, -inf for matrices."""
    from .reduce import normalize_axes
    x = as_float_input(x)
    if axis is None:
        if ord is None:
            return invoke(_vnorm_op, [x], axes=tuple(range(x.ndim)), keepdims=keepdims,
                          kind="2")
        if x.ndim == 1:
            return vector_norm_over(x, ord, (0,), keepdims)
        if x.ndim == 2:
            return matrix_norm_over(x, ord, (0, 1), keepdims)
        raise ShapeError(f"norm: improper number of dimensions to norm ({x.ndim}) for ord="
                         f"{ord!r}; give axis")
    if isinstance(axis, numbers.Integral):
        axes = normalize_axes(axis, x.ndim)
        return vector_norm_over(x, ord, axes, keepdims)
    axis = tuple(axis)
    if len(axis) == 1:
        return vector_norm_over(x, ord, normalize_axes(axis, x.ndim), keepdims)
    if len(axis) == 2:
        r = normalize_axes(axis[0], x.ndim)[0]
        c = normalize_axes(axis[1], x.ndim)[0]
        if r == c:
            raise MXNetError("norm: duplicate axes given")
        return matrix_norm_over(x, ord, (r, c), keepdims)
    raise ShapeError(f"norm: improper number of dimensions to norm (axis={axis})")
