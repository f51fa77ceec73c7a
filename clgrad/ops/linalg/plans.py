"""Launch plans of the two matmul kernel families (templates/matmul.cl.mako, matmul_simple.cl.mako):
the kernels, the problem as a kernel sees it, the tiled and simple plans, B packed in panels on
CPUs, and the tuner's declaration (``TUNABLES``).
"""
import builtins as _b
import copy

import numpy as _np
import pyopencl as cl

from ... import dtypes as dt
from ...base import DTypeError, KernelBuildError, MXNetError, ShapeError
from ...codegen import render as R
from ...ndarray import ndarray
from ...runtime import tuning, vector_width
from .. import launch
from ..core import broadcast_shapes, copy_into, copy_raw, fill, from_host, same_device
from .params import (_SOURCE_PARAMS, CONSTRAINTS, FALLBACK_PARAMS, _compute_dtype,
                     default_params, full_params, local_mem_bytes, param_problem, size_key,
                     work_group_size)


def _make_operands(M, N, K, dtype, device, nt=False):
    """Random operands for timing: ``A @ B`` or (nt) ``A @ B.T`` with B stored (N, K)."""
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


class ParamsDoNotFitError(MXNetError, ValueError):
    """Parameters given to ``matmul_with_params`` that this device cannot run (a ``ValueError``;
    the tuner records the candidate as not fitting)."""

    does_not_fit = True


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


class Epilogue:
    """An elementwise op applied to each value of C before it is stored (the template's
    ``epi``): ``operands`` (``render.Operand``: arrays read at (m, n), scalars), ``lets`` and
    ``expr`` over ``v_`` (C's value), ``w0, w1, ...`` and ``u0, u1, ...``, the ``helpers`` they
    call, and ``out`` (``render.Operand``), what C then holds. Built by clgrad.hybrid's fusion;
    the kernel takes, after its own arguments, per array operand its buffer, offset and strides
    along m and n, per scalar its value."""

    def __init__(self, operands, lets, expr, helpers, out, nclass=None, vector=False,
                 classes=("math",)):
        self.operands, self.lets, self.expr, self.helpers, self.out = \
            tuple(operands), tuple(lets), expr, helpers, out
        #: per operand, its stride along n: "unit", "zero" or "any" (how the vector path reads)
        self.nclass = tuple(nclass or ("any",) * len(self.operands))
        #: whether ``expr`` and ``lets`` are valid on vectors of the product's compute type
        #: (then whole vectors of C go through them as vectors, where the device verified
        #: ``classes``, the kinds of operation they apply, at the product's vector width)
        self.vector = vector
        self.classes = tuple(classes)
        self.key = (tuple((o.is_array, o.dtype, o.compute) for o in self.operands), self.lets,
                    expr, helpers, (out.dtype, out.compute), self.nclass, vector)
        self.fp64 = any(o.compute.startswith("double") or o.dtype == dt.float64
                        for o in self.operands + (out,)) or \
            any(t.startswith("double") for t, _ in self.lets)

    def lanewise(self):
        """The same epilogue applied lane by lane (for a vector width the device did not
        verify its operations at)."""
        e = copy.copy(self)
        e.vector = False
        e.key = e.key[:-1] + (False,)
        return e

    def arg_dtypes(self):
        out = []
        for o in self.operands:
            out += [None, _np.int64, _np.int64, _np.int64] if o.is_array else \
                [launch.scalar_np_dtype(o.compute)]
        return out


class _EpilogueSite:
    """What a tiled product's launch offers for an elementwise epilogue (``Kernel.epilogue``):
    the layout of its arguments is this module's business, not the caller's."""

    __slots__ = ("build", "dtype", "rows", "epi")

    def __init__(self, build, dtype, rows, epi=None):
        self.build = build      # (c_n1, Epilogue, rows, c2) -> the kernel with them
        self.dtype = dtype      # of A and B (and of C without an epilogue)
        self.rows = rows        # whether the kernel can also write A's row sums
        self.epi = epi          # the epilogue the kernel applies already (None: none)

    def product(self, args):
        """(C's buffer, offset, strides along m and n, M, N) of a launch with these arguments
        when it writes its whole result in one pass (one K chunk, no batch dimensions), else
        None: only then can an epilogue see each final value."""
        return None if self.epi is not None else self.output(args)

    def output(self, args):
        """(C's buffer, offset, strides along m and n, M, N) of a launch that writes its whole
        result in one pass, with or without an epilogue, else None."""
        n = 16 + (len(self.epi.arg_dtypes()) if self.epi is not None else 0)
        if len(args) != n or args[15] != 0:
            return None
        return args[_C_ARG], args[9], args[10], args[11], args[12], args[13]

    def fuse_copy(self, args, c2, out, out_offset, som, son):
        """(kernel, arguments) of the launch that also stores every final value of C to
        ``out`` (``c2``: a ``render.Operand``) at ``out_offset`` with strides ``som``/``son``
        along m and n."""
        kernel = self.build(args[11] == 1 or args[13] == 1, self.epi, None, c2)
        return kernel, list(args) + [out, out_offset, som, son]

    def operand_a(self, args):
        """(A's buffer, offset, strides along m and k, M, K) of a launch that writes its whole
        result in one pass and can add A's row sums, else None."""
        if not self.rows or self.epi is not None or len(args) != 16 or args[15] != 0:
            return None
        return args[0], args[1], args[2], args[3], args[12], args[14]

    def fuse_rows(self, args, rows, out, out_offset, out_stride):
        """(kernel, arguments) of the launch that also writes A's row sums (``rows``: a
        ``render.Operand``, their storage and compute types) to ``out`` at ``out_offset``, one
        every ``out_stride`` elements."""
        kernel = self.build(args[11] == 1 or args[13] == 1, None, rows)
        return kernel, list(args) + [out, out_offset, out_stride]

    def fuse(self, args, epi, out, out_offset, som, son, epi_args):
        """(kernel, arguments) of the launch with ``epi`` applied to each value, writing it to
        ``out`` at ``out_offset`` with strides ``som``/``son`` along m and n."""
        kernel = self.build(son == 1 or args[13] == 1, epi)
        return kernel, list(args[:8]) + [out, out_offset, som, son] + list(args[12:16]) + \
            list(epi_args)


#: where C's buffer is among both families' kernel arguments (A, B, C: buffer, offset, strides)
_C_ARG = 8


def _tiled_kernel(dev, dtype, form, la, lb, bmode, c_n1, bnd, params, epi=None, rows=None,
                  c2=None):
    pt = _ptuple(params)
    key = ("matmul", form, dtype, la, lb, bmode, c_n1, bnd, pt) + \
        ((epi.key,) if epi is not None else ()) + \
        ((("rows", rows.dtype, rows.compute),) if rows is not None else ()) + \
        ((("c2", c2.dtype, c2.compute),) if c2 is not None else ())
    k = dev.kernels.get(key)
    if k is None:
        try:
            fp = full_params(dict(zip(_SOURCE_PARAMS, pt)))
            k = _build_tiled(dev, dtype, form, la, lb, bmode, c_n1, bnd, fp, epi, rows, c2)
            if rows is None and c2 is None and not bnd:
                # what fusion may still add: an epilogue and row sums to a plain product, a
                # second output to a product with or without its epilogue
                k.epilogue = _EpilogueSite(
                    lambda c_n1, epi, rows=None, c2=None: _tiled_kernel(
                        dev, dtype, form, la, lb, bmode, c_n1, bnd, params, epi, rows, c2),
                    dtype, form == "nvec" and not fp["SA"] and not fp["SB"], epi)
        except (_NoFit, KernelBuildError) as e:
            # remembered, so that the next call falls back without rebuilding; without its
            # traceback, whose frames would keep the caller's arrays alive
            k = e.with_traceback(None)
        dev.kernels[key] = k
    if isinstance(k, Exception):
        raise copy.copy(k)      # a fresh exception each time: tracebacks attach to the copy
    return k


def _build_tiled(dev, dtype, form, la, lb, bmode, c_n1, bnd, p, epi=None, rows=None, c2=None):
    why = param_problem(p, dev, dtype)
    if why:
        raise _NoFit(f"matmul parameters {p} do not fit {dev} ({dev.name}): {why}")
    comp = _compute_dtype(dtype)
    if epi is not None and epi.vector and p["VW"] > 1 and \
            vector_width(dev, comp, epi.classes, want=p["VW"]) < p["VW"]:
        epi = epi.lanewise()
    op = R.Operand(True, dtype, comp)
    name = f"matmul_{form}" + ("" if epi is None else "_epi") + \
        ("" if rows is None else "_rows") + ("" if c2 is None else "_c2")
    src = R.render("matmul.cl.mako", prelude=R.prelude(dtype == dt.float64 or
                                                        (epi is not None and epi.fp64)),
                   name=name, form=form, a=op, b=op, c=op if epi is None else epi.out,
                   T=dt.ctype(comp), a_layout=la, b_layout=lb, bmode=bmode, c_n1=c_n1, bnd=bnd,
                   epi=epi, rows=rows, c2=c2, **p)
    arg_dtypes = ([None] + [_np.int64] * 3) * 3 + [_np.int64] * 3 + [_np.int32] + \
        [_np.int64] * (4 * bnd) + (epi.arg_dtypes() if epi is not None else []) + \
        ([None, _np.int64, _np.int64] if rows is not None else []) + \
        ([None, _np.int64, _np.int64, _np.int64] if c2 is not None else [])
    k = launch.Kernel(dev, src, name, arg_dtypes, local_cap=p["MDIMC"] * p["NDIMC"])
    k.outputs = (_C_ARG,) + ((len(arg_dtypes) - 3 - (4 if c2 is not None else 0),)
                             if rows is not None else ()) + \
        ((len(arg_dtypes) - 4,) if c2 is not None else ())
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
    k = launch.Kernel(dev, src, name, arg_dtypes, local_cap=wg if mode == "group" else 256)
    k.outputs = (_C_ARG,)
    return k


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
    if nt and cpu and N > _KVEC_MAX_N:
        # CPUs: copying B.T into rows along N and running the "nvec" form beats reading both
        # operands along K ("kvec", summed across lanes at the end): 2x at 128x256x256 and
        # 1.4x at 1024^3 on PoCL, the copy included; not for a few columns, where the copy's
        # launch costs more than it saves
        if M < N and a.ndim == 2 and b.ndim == 2:
            # A is the smaller one to copy: C.T = B.T @ A.T, B.T's rows read along K and A
            # copied into rows along M (a Dense layer's batch of 128 against 256 units: 0.50
            # against 0.81 ms at 128x784x256 on PoCL, the copies included)
            _run(b._view((N, K), (b._strides[1], b._strides[0]), b._offset),
                 copy_raw(a._view((K, M), (a._strides[1], a._strides[0]), a._offset)),
                 out._view((N, M), (out._strides[1], out._strides[0]), out._offset))
            return out
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


#: On CPUs, ``A @ B.T`` with at most this many columns reads both operands along K as they are
#: (the "kvec" form) instead of copying B.T first: 128x256 @ (10x256).T took 0.031 ms against
#: 0.042 ms with the copy on PoCL (Zen 4, AVX2), even at 32 columns, 1.3x slower at 64.
_KVEC_MAX_N = 16


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
        raise ParamsDoNotFitError(f"matmul parameters do not fit {dev} ({dev.name}): {why}")
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
