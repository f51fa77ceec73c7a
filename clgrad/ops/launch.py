"""Kernel lookup and launch: the one path every generated kernel takes to the device.

A kernel is found by a small key tuple in the device's kernel table; only on a miss is the
template rendered and the program built (memory, then disk, then compiler). The launch geometry is
worked out once per kernel from the compiled kernel's own work-group limit and the device's
launch profile (``launch_profile``): CPU runtimes run a work-group's work-items as a loop on one
core (PoCL vectorises that loop), so they want few, large groups of contiguous work; GPUs want
one element per lane, coalesced, in groups of a few warps.

The elementwise family keeps everything that does not depend on the data in an ``EwPlan`` (one
per op expression and operand dtypes): the kernels per device and index width, the argument
layout, and, for strided operands, the collapsed dimensions per shape/stride signature. A call
then only fills the argument list and enqueues.

(Why this module is longer than most: the elementwise family's plans live with the launch
helper because every family launches them, to fill, copy, cast and combine; the elementwise
ops' definitions are ``ops/elementwise``.)
"""
import os
import warnings

import numpy as _np
import pyopencl as cl

from .. import dtypes as dt
from ..base import KernelBuildError, KernelFallbackWarning
from ..codegen import render as R
from ..ndarray import ndarray
from ..runtime import build_program, group_size, tuning, vector_width

_WGI = cl.kernel_work_group_info
_enqueue = cl.enqueue_nd_range_kernel
_launches = 0       # kernels enqueued by this process (``launch_count``)
#: The capture in progress (``set_observer``), None when running eagerly: a module attribute,
#: read on every call (one global read, no call).
observer = None


def set_observer(new):
    """Install ``new`` (None to remove it); returns the one it replaces.

    While one is installed (``observer``), every elementwise call is offered to
    ``observer.elementwise(plan, out, inputs, flat)`` and every launch to
    ``observer.launch(kernel, global_size, local_size, args)``; each returns True when it
    took the call over (then nothing is enqueued here). This is how a capture
    (``clgrad.hybrid``) sees the records of a call without a second dispatch path.
    """
    global observer
    prev = observer
    observer = new
    return prev


def per_call_args(positions, values):
    """Declare that the arguments at ``positions`` of the next launch are drawn anew by
    ``values()`` at every call (random streams): a captured replay calls it instead of
    repeating the captured values. A no-op when nothing captures."""
    if observer is not None:
        observer.per_call_args(positions, values)


def launch_count():
    """How many kernels clgrad has enqueued in this process so far: every generated kernel
    launches through ``Kernel``, so the difference around a call counts that call's launches
    (copies between host and device are transfers, not launches)."""
    return _launches


def add_launches(n):
    """Count ``n`` launches enqueued outside ``Kernel`` (a captured replay's prepared ones)."""
    global _launches
    _launches += n


def launch_profile(device):
    """``"cpu"`` or ``"gpu"``: which family of launch geometries suits ``device``.

    Accelerators and simulators count as GPUs (one element per lane). ``CLGRAD_LAUNCH_PROFILE``
    (``cpu``/``gpu``) overrides it, so that either family of layouts can be run, and checked, on
    any device.
    """
    p = device.__dict__.get("_launch_profile")
    if p is None:
        p = os.environ.get("CLGRAD_LAUNCH_PROFILE", "").strip().lower()
        if p not in ("cpu", "gpu"):
            p = "cpu" if device.caps.kind == "cpu" else "gpu"
        device._launch_profile = p
    return p


class Kernel:
    """A built kernel with its scalar-argument layout set and its work-group size chosen.

    ``local`` is the largest power of two within the compiled kernel's CL_KERNEL_WORK_GROUP_SIZE,
    the device's limit and ``local_cap``; ``limit`` is the compiled kernel's own limit. A
    program new to the device is launched once in the sandbox first (``build_program``'s
    ``trial``); ``KernelBuildError`` when it fails to build, is rejected, or lacks the kernel.
    """

    __slots__ = ("kernel", "local", "name", "limit", "queue", "lock", "arg_dtypes", "source",
                 "epilogue", "outputs", "prologue")

    def __init__(self, device, source, name, arg_dtypes, local_cap=256, program=None):
        prog = program if program is not None else build_program(
            device, source, trial=((name, tuple(arg_dtypes), local_cap),))
        try:
            k = cl.Kernel(prog, name)
        except cl.Error as e:
            raise KernelBuildError(f"kernel {name} cannot be created on {device} "
                                   f"({device.name}): {e}", device_name=device.name) from None
        k.set_scalar_arg_dtypes(arg_dtypes)
        self.arg_dtypes = tuple(arg_dtypes)
        self.source = source
        # set by a family whose kernels can take an elementwise epilogue (the tiled matmul):
        # an object whose ``product(args)`` tells where a launch writes its result and whose
        # ``fuse(...)`` gives the kernel and arguments with the epilogue applied before each store
        self.epilogue = None
        # the positions of the buffer arguments the kernel writes, where its family declares
        # them (None: any buffer argument may be written); a captured graph's passes read it
        self.outputs = None
        # set by a family whose kernels can compute what they read with an elementwise
        # prologue (the reductions' first stages): an object whose ``source(args)`` tells what a
        # launch reads and whose ``fuse(...)`` gives the launch computing it instead
        self.prologue = None
        limit = k.get_work_group_info(_WGI.WORK_GROUP_SIZE, device.cl_device)
        self.limit = min(limit, device.caps.max_wg)
        local = group_size(limit, device.caps.max_wg, local_cap)
        self.kernel = k
        self.local = local
        self.name = name
        self.queue = device.queue
        # one lock per device serialises set-args + enqueue on shared kernel objects
        self.lock = device.launch_lock

    # Arguments are set, then the range enqueued, skipping the keyword handling and checks of
    # pyopencl's all-in-one kernel call that every launch here has already done (about 1.2k
    # fewer interpreter instructions per launch under callgrind).
    def __call__(self, device, n, *args):
        """Launch over ``n`` work-items (one per element), padding to whole work-groups."""
        global _launches
        local = self.local
        if observer is not None and observer.launch(
                self, ((n + local - 1) // local * local,), (local,), args):
            return
        k = self.kernel
        with self.lock:
            k.set_args(*args)
            _enqueue(self.queue, k, ((n + local - 1) // local * local,), (local,))
            _launches += 1

    def launch(self, device, global_size, local_size, *args):
        global _launches
        if observer is not None and observer.launch(self, global_size, local_size, args):
            return
        k = self.kernel
        with self.lock:
            k.set_args(*args)
            _enqueue(self.queue, k, global_size, local_size)
            _launches += 1


def kernels(device, source, specs):
    """Several ``Kernel`` objects of one program: ``specs`` are (name, argument dtypes, group
    size cap); the sandbox's trial launches every one of them before this process builds it."""
    specs = [(name, tuple(dts), cap) for name, dts, cap in specs]
    prog = build_program(device, source, trial=specs)
    return [Kernel(device, source, name, dts, cap, program=prog) for name, dts, cap in specs]


_FELL_BACK = set()


def fall_back(device, family, error):
    """Note that a speed variant of kernel ``family`` failed on ``device`` (``error``): one
    warning per family and device. The failure itself is remembered by the program cache (the
    variant is not built again); the caller then takes its family's plain variant."""
    key = (family, device)
    if key in _FELL_BACK:
        return
    _FELL_BACK.add(key)
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    warnings.warn(f"clgrad: a {family} kernel variant failed on {device} ({device.name}); the "
                  f"plain {family} kernels run instead. {first}", KernelFallbackWarning,
                  stacklevel=3)


def items_local(device, kernel, items, work=1):
    """Group size for ``items`` independent work-items of ``kernel`` on ``device``, each doing
    about ``work`` elements of work.

    GPUs take the kernel's size. CPUs take the largest of 256, 16 and 1 that still leaves four
    groups per compute unit - at most 16 for long work-items, where big groups measured slower
    and the cost per group does not matter: few sizes, because runtimes such as PoCL compile a
    kernel once per group size.
    """
    if launch_profile(device) != "cpu":
        return kernel.local
    cu = max(1, device.caps.compute_units)
    for local in ((16,) if work >= 64 else (256, 16)):
        if local <= kernel.local and items >= 4 * cu * local:
            return local
    return 1


_CACHES = []


def register_cache(clear):
    """Declare a cache of launch plans (``clear()`` empties it) for ``clear_caches``."""
    _CACHES.append(clear)
    return clear


def clear_caches():
    """Forget every launch plan the kernel families worked out (layouts, chosen kernels,
    parameters); the next call of each op plans anew. Built programs stay (they depend only on
    their source). After changing what plans depend on: the launch profile, a device limit."""
    for clear in _CACHES:
        clear()


def get_kernel(device, key, make):
    """The kernel cached under ``key`` on ``device``, created by ``make()`` on first use."""
    k = device.kernels.get(key)
    if k is None:
        k = make()
        device.kernels[key] = k
    return k


def pow2_floor(n):
    p = 1
    while p * 2 <= n:
        p *= 2
    return p


# --- dimension collapsing -------------------------------------------------------------------
def collapse(shape, strides_list):
    """Drop size-1 dimensions and merge neighbours that are contiguous in every operand.

    Returns (shape, [strides per operand]); an empty shape means a single element.
    """
    dims = [d for d, n in enumerate(shape) if n != 1]
    shp = [shape[d] for d in dims]
    sts = [[s[d] for d in dims] for s in strides_list]
    i = len(shp) - 2
    while i >= 0:
        if all(st[i] == st[i + 1] * shp[i + 1] for st in sts):
            shp[i] *= shp[i + 1]
            del shp[i + 1]
            for st in sts:
                st[i] = st[i + 1]
                del st[i + 1]
        i -= 1
    return shp, sts


def broadcast_strides(arr, shape):
    """Element strides of ``arr`` viewed as ``shape`` (zeros on broadcast dimensions)."""
    nd = len(shape)
    pad = nd - arr.ndim
    out = [0] * nd
    for d in range(arr.ndim):
        if arr.shape[d] != 1:
            out[pad + d] = arr._strides[d]
    return out


def _c_contig_strides(shape):
    st = [0] * len(shape)
    acc = 1
    for d in range(len(shape) - 1, -1, -1):
        st[d] = acc
        acc *= shape[d]
    return st


# --- the elementwise family -------------------------------------------------------------------
def _operand_args(out, inputs):
    """Kernel arguments for the operands (buffer and offset per array, scalars as they are),
    and the largest offset among them (it decides between 32- and 64-bit indexing)."""
    off = out._offset
    args = [out._storage.buffer, off]
    for x in inputs:
        if type(x) is ndarray:
            o = x._offset
            if o > off:
                off = o
            args.append(x._storage.buffer)
            args.append(o)
        else:
            args.append(x)
    return args, off


def _scalar_slots(sig):
    """Per scalar operand of an elementwise signature that may need converting: (its position
    in the kernel's argument list, its compute dtype, the Python type the argument takes, and
    for integer types the range that goes to the kernel unconverted). A float, bool or complex
    operand that the signature promises is always of its slot's Python type needs nothing."""
    slots = []
    pos = 2         # after the output's buffer and offset; an array operand takes two places
    for is_array, given, c in sig:
        if is_array:
            pos += 2
            continue
        if c.kind in "iu":
            info = _np.iinfo(c)
            slots.append((pos, c, int, int(info.min), int(info.max)))
        elif given is not _PY_TYPE[c.kind]:
            slots.append((pos, c, _PY_TYPE[c.kind], None, None))
        pos += 1
    return tuple(slots)


# Packers of the flat path's kernel arguments, one per pattern of array (a) and scalar (s)
# operands, chosen once per plan: the output's buffer and offset, each operand's (buffer and
# offset, or the scalar), then the element count; and a bound on the largest offset (their
# sum: cheaper than max, and a bound that is too high only takes the 64-bit kernel).
def _pack_a(out, inputs, n):
    a, = inputs
    o, oa = out._offset, a._offset
    return [out._storage.buffer, o, a._storage.buffer, oa, n], o + oa


def _pack_aa(out, inputs, n):
    a, b = inputs
    o, oa, ob = out._offset, a._offset, b._offset
    return [out._storage.buffer, o, a._storage.buffer, oa, b._storage.buffer, ob, n], o + oa + ob


def _pack_as(out, inputs, n):
    a, b = inputs
    o, oa = out._offset, a._offset
    return [out._storage.buffer, o, a._storage.buffer, oa, b, n], o + oa


def _pack_sa(out, inputs, n):
    a, b = inputs
    o, ob = out._offset, b._offset
    return [out._storage.buffer, o, a, b._storage.buffer, ob, n], o + ob


def _pack_any(out, inputs, n):
    args, off = _operand_args(out, inputs)
    args.append(n)
    return args, off


_PACKERS = {(True,): _pack_a, (True, True): _pack_aa, (True, False): _pack_as,
            (False, True): _pack_sa}


_PY_TYPE = {"b": bool, "f": float, "c": complex}


def _fit_scalars(args, slots):
    """Convert, in ``args``, the scalar operands that are not already a value of their compute
    type (an integer outside its range, say) as ``dtypes.cast_scalar`` does: every Python
    number an elementwise kernel receives passes here, so every op wraps integers alike (and
    none reaches pyopencl's packing, which rejects them with a bare ``std::bad_cast``)."""
    for pos, dtype, py, lo, hi in slots:
        v = args[pos]
        if type(v) is not py or (lo is not None and not lo <= v <= hi):
            args[pos] = dt.cast_scalar(v, dtype)


_INT_LIMIT = 2 ** 31 - 1
_SCALAR_STREAM = (1, 1, "interleaved", 256)     # one element per work-item
_PAD_MARGIN = 1 << 20   # indices past n that padded work-items of the flat path may form
_FLAT_INT_LIMIT = _INT_LIMIT - _PAD_MARGIN      # n + offsets below it: 32-bit flat indexing
_PLANS = {}         # (name, expr, out dtype, signature, helpers) -> EwPlan
_LAYOUT_CACHE_MAX = 512


PY_SCALARS = (bool, int, float, complex)


def operands(args):
    """One pass over the operands of an elementwise call: (device, shape, flat, signature).

    ``device`` is None when an operand is neither a clgrad array nor a Python scalar, or the
    arrays are on different devices (the caller prepares the operands and asks again), or there
    is no array. ``shape`` is the arrays' common shape, None when they differ (broadcasting).
    ``flat`` tells whether they all have that shape and are C-contiguous: the condition of the
    flat (one index) path, decided here, once per op call. The signature is each operand's dtype
    or Python type.
    """
    if len(args) == 2:      # binary ops, the common case, without the loop
        a, b = args
        ta, tb = type(a), type(b)
        if ta is ndarray and tb is ndarray:
            dev = a._storage.device
            if b._storage.device is not dev:
                return None, None, False, None
            sig = (a.dtype, b.dtype)
            if a.shape != b.shape:
                return dev, None, False, sig
            # (``_contig`` is True, or False or None: then the method, which caches, decides)
            return dev, a.shape, (a._contig or a._is_c_contiguous()) and \
                (b._contig or b._is_c_contiguous()), sig
        if ta is ndarray and tb in PY_SCALARS:
            return a._storage.device, a.shape, a._contig or a._is_c_contiguous(), (a.dtype, tb)
        if tb is ndarray and ta in PY_SCALARS:
            return b._storage.device, b.shape, b._contig or b._is_c_contiguous(), (ta, b.dtype)
    dev = shape = None
    flat = True
    sig = []
    for a in args:
        t = type(a)
        if t is ndarray:
            d = a._storage.device
            if dev is None:
                dev, shape = d, a.shape
            elif d is not dev:
                return None, None, False, None
            elif a.shape != shape:
                shape = _MIXED
            if flat and not (a._contig or a._is_c_contiguous()):
                flat = False
            sig.append(a.dtype)
        elif t in PY_SCALARS:
            sig.append(t)
        else:
            return None, None, False, None
    if shape is _MIXED:
        return dev, None, False, tuple(sig)
    return dev, shape, flat, tuple(sig)


_MIXED = object()


class EwPlan:
    """One elementwise expression over one operand signature: its kernels and launch layouts.

    ``sig`` holds, per input, ``(is_array, storage dtype, compute dtype)``, where a scalar's
    middle entry is None or the Python type every call passes for it (then a float, bool or
    complex scalar reaches the kernel as it is, unchecked). Kernels are built on first use per
    (device, index width, rank, inner-stride classes); strided layouts (collapsed shape and
    strides, launch geometry) are kept per shape/stride signature.
    """

    __slots__ = ("name", "expr", "out_dtype", "sig", "helpers", "flat", "layouts", "vec_ok",
                 "classes", "scalars", "lets", "pack")

    def __init__(self, name, expr, out_dtype, sig, helpers, lets=()):
        self.name = name
        self.expr = expr
        self.out_dtype = out_dtype
        self.sig = sig
        self.helpers = helpers
        self.lets = lets        # (C type, expression) evaluated before expr (fused chains)
        self.flat = {}       # (device, size bucket, index type) -> (kernel, elements per item)
        self.layouts = {}    # (device, shapes and strides) -> _Layout
        # vector loads need an expression valid on vector types and one float type throughout
        text = expr + "".join(e for _, e in lets)
        self.vec_ok = name in VECTOR_SAFE and out_dtype in _VEC_DTYPES and \
            "gid" not in text and all(c == out_dtype and (not a or d == out_dtype)
                                      for a, d, c in sig)
        # what the expression does to vectors decides how wide they may be on a device
        self.classes = R.vector_classes(text + helpers) if self.vec_ok else None
        self.scalars = _scalar_slots(sig)
        self.pack = _PACKERS.get(tuple([a for a, _, _ in sig]), _pack_any)
        # (kernels do not depend on a scalar's Python type: one kernel for both signatures)
        self.sig = tuple([(a, d if a else None, c) for a, d, c in sig])

    def reset(self):
        """Forget the kernels and layouts chosen so far (the next call looks them up anew)."""
        self.flat.clear()
        self.layouts.clear()

    def kernel(self, device, ndim, idx, inner_cls, stream=None):
        stream = stream or _SCALAR_STREAM
        key = ("ew", self.name, self.expr, self.out_dtype, self.sig, ndim, idx, inner_cls,
               stream, self.lets)
        k = device.kernels.get(key)
        if k is None:
            k = get_kernel(device, key, lambda: _make_elementwise(
                device, self.name, self.out_dtype, self.sig, self.expr, ndim, self.helpers, idx,
                inner_cls, *stream, lets=self.lets))
        return k

    def flat_kernel(self, device, n, idx="int"):
        """(kernel, elements per work-item) of the flat path for ``n`` elements: built with
        ``stream_params`` for the size bucket, looked up once per bucket."""
        bucket = 0 if n < 65536 else 1 if n < 4194304 else 2
        got = self.flat.get((device, bucket, idx))
        if got is None:
            # (``classes`` is None for an expression not valid on vectors: then vw is 1)
            stream = stream_params(device, self.out_dtype, n, self.classes)
            ept = stream[0]
            try:
                k = self.kernel(device, 0, idx, "", stream)
            except KernelBuildError as e:
                if stream == _SCALAR_STREAM:
                    raise
                fall_back(device, "elementwise", e)
                k, ept = self.kernel(device, 0, idx, "", _SCALAR_STREAM), 1
            got = self.flat[(device, bucket, idx)] = (k, ept)
        return got

    def run(self, out, inputs, flat):
        """Write the expression of ``inputs`` into ``out`` (any views); ``flat``: every operand,
        ``out`` included, has ``out``'s shape and is C-contiguous (``operands``)."""
        if observer is not None and observer.elementwise(self, out, inputs, flat):
            return out
        return self.execute(out, inputs, flat)

    def execute(self, out, inputs, flat):
        """``run`` without offering the call to an observer (the observer's own way in)."""
        n = 1
        for d in out.shape:
            n *= d
        if n == 0:
            return out
        if flat:
            return self.run_flat(out, inputs, n, False)
        return self._strided(out, inputs, n)

    def run_flat(self, out, inputs, n, offer=True):
        """The contiguous fast path: every array input has ``out``'s shape, all C-contiguous
        (``offer``: offered to the observer first, as ``run`` does)."""
        if observer is not None and offer and observer.elementwise(self, out, inputs, True):
            return out
        args, off = self.pack(out, inputs, n)
        if self.scalars:
            _fit_scalars(args, self.scalars)
        device = out._storage.device
        narrow = n + off < _FLAT_INT_LIMIT
        got = self.flat.get((device, 0 if n < 65536 else 1 if n < 4194304 else 2, "int")) \
            if narrow else None
        if got is None:
            got = self.flat_kernel(device, n, "int" if narrow else "long")
        k, ept = got
        k(device, n if ept == 1 else (n + ept - 1) // ept, *args)
        return out

    def _strided(self, out, inputs, n):
        device = out._storage.device
        lkey = [device, out.shape, out._strides]
        for x in inputs:
            if type(x) is ndarray:
                lkey.append(x.shape)
                lkey.append(x._strides)
        lkey = tuple(lkey)
        lay = self.layouts.get(lkey)
        if lay is None:
            if len(self.layouts) > _LAYOUT_CACHE_MAX:
                self.layouts.clear()
            lay = self.layouts[lkey] = _Layout(self, device, out, inputs)
        args, off = _operand_args(out, inputs)
        if self.scalars:
            _fit_scalars(args, self.scalars)
        wide = n + off + lay.extent >= _INT_LIMIT
        if lay.ndim == 0:
            args.append(n)
            k = lay.kernel_long if wide else lay.kernel_int
            k(device, n, *args)
            return out
        args += lay.dim_args
        args.append(n)
        k = lay.kernel_long if wide else lay.kernel_int
        k.launch(device, lay.glob, lay.local, *args)
        return out


class _Layout:
    """The collapsed view of one shape/stride signature: rank, kernel arguments, geometry."""

    __slots__ = ("ndim", "dim_args", "extent", "glob", "local", "kernel_int", "kernel_long",
                 "vw")

    def __init__(self, plan, device, out, inputs):
        shape = out.shape
        strides = [list(out._strides)] + [broadcast_strides(x, shape) for x in inputs
                                          if type(x) is ndarray]
        cshape, cstrides = collapse(shape, strides)
        n = 1
        for d in shape:
            n *= d
        ndim = 0 if all(st == _c_contig_strides(cshape) for st in cstrides) else len(cshape)
        self.ndim = ndim
        # how far past its offset the farthest operand reaches (decides 32- or 64-bit indices)
        self.extent = sum((k - 1) * abs(st[d]) for st in cstrides for d, k in enumerate(cshape))
        inner_cls = "" if ndim == 0 else "".join(
            "0" if st[-1] == 0 else "1" if st[-1] == 1 else "s" for st in cstrides)
        ept, stream = 1, _SCALAR_STREAM
        if ndim and _row_vectors(plan, device, inner_cls, cshape[-1]):
            ept, vw = cpu_vectors(device, plan.out_dtype, plan.classes)
            stream = (ept, vw, "interleaved", 256)
        try:
            self.kernel_int = plan.kernel(device, ndim, "int", inner_cls, stream)
        except KernelBuildError as e:
            if stream == _SCALAR_STREAM:
                raise
            fall_back(device, "elementwise", e)
            ept, stream = 1, _SCALAR_STREAM
            self.kernel_int = plan.kernel(device, ndim, "int", inner_cls, stream)
        self.vw = stream[1]     # vector width along rows (1: one element per work-item)
        self.kernel_long = _Lazy(plan, device, ndim, inner_cls, stream)
        self.dim_args = []
        self.glob = self.local = None
        if ndim == 0:
            return
        for d in range(ndim):
            self.dim_args.append(cshape[d])
            for st in cstrides:
                self.dim_args.append(st[d])
        inner = cshape[-1]
        rows = n // inner
        caps = device.caps
        self.local, self.glob = strided_geometry(
            launch_profile(device), (inner + ept - 1) // ept, rows, self.kernel_int.local,
            self.kernel_int.limit,
            caps.max_work_item_sizes[1] if len(caps.max_work_item_sizes) > 1 else 1,
            caps.compute_units)
        # padded rows compute a flat index past n before they return, and the runs of padded
        # work-items start past the row's end
        self.extent += (self.glob[1] - rows) * inner + self.glob[0] * ept - inner


def _row_vectors(plan, device, inner_cls, inner):
    """Whether the strided path runs rows on vectors: on CPUs, for a vector-safe expression
    whose output and array inputs are unit-stride or broadcast along rows of at least one run.

    A work-item then covers a run of a row (four vectors), as the flat path does: PoCL's
    implicit vectorisation of one element per work-item reached about 80% of the streaming
    kernel on a broadcast add, four interleaved 16-wide vectors per work-item about 95%.
    """
    if not (plan.vec_ok and launch_profile(device) == "cpu" and inner_cls[0] == "1"
            and "s" not in inner_cls):
        return False
    ept, vw = cpu_vectors(device, plan.out_dtype, plan.classes)
    return vw > 1 and inner >= ept


def strided_geometry(profile, inner, rows, local, limit, max_y, compute_units):
    """(local, global) of the 2-D strided elementwise range: dimension 0 walks the innermost
    (collapsed) dimension (``inner`` work-items per row), dimension 1 the rows; rows are padded
    to whole groups.

    A group spans a whole row when it fits (short rows take several rows per group), so lanes
    stay busy on GPUs and CPU groups are long contiguous loops. CPUs take groups up to the
    kernel's limit, but keep several groups per compute unit.
    """
    cap = pow2_floor(max(limit, 1)) if profile == "cpu" else local
    lx = 1
    while lx < inner and lx * 2 <= cap:
        lx *= 2
    ly = 1
    want = max(1, cap // lx)
    if profile == "cpu":
        # at least 4 groups per compute unit when there are rows enough
        while ly * 2 <= want and (rows + ly * 2 - 1) // (ly * 2) >= 4 * compute_units:
            ly *= 2
    else:
        while ly * 2 <= want and ly * 2 <= max(rows, 1):
            ly *= 2
    ly = max(1, min(ly, max_y))
    gx = (inner + lx - 1) // lx * lx
    gy = (rows + ly - 1) // ly * ly
    return (lx, ly), (gx, gy)


class _Lazy:
    """The 64-bit index variant of a kernel, built only if an operand ever needs it."""

    __slots__ = ("plan", "device", "ndim", "inner_cls", "stream", "k")

    def __init__(self, plan, device, ndim, inner_cls, stream=None):
        self.plan, self.device, self.ndim, self.inner_cls = plan, device, ndim, inner_cls
        self.stream = stream or _SCALAR_STREAM
        self.k = None

    def _get(self):
        if self.k is None:
            self.k = self.plan.kernel(self.device, self.ndim, "long", self.inner_cls,
                                      self.stream)
        return self.k

    def __call__(self, device, n, *args):
        return self._get()(device, n, *args)

    def launch(self, device, global_size, local_size, *args):
        return self._get().launch(device, global_size, local_size, *args)


#: Elementwise kernels (by name) whose expression is valid on OpenCL vector types: builtins,
#: arithmetic, comparisons used only inside ``?:``. Registered by the op modules.
VECTOR_SAFE = set()
_VEC_DTYPES = (_np.dtype(_np.float32), _np.dtype(_np.float64))
_VW_OK = (1, 2, 4, 8, 16)


def stream_params(device, dtype, n, classes=None):
    """The (elements per work-item, vector width, layout, group size) the flat path uses for
    ``n`` elements of ``dtype`` on ``device``, for an expression doing ``classes`` to its
    operands (its ``vector_classes``; None for an expression not valid on vector types).

    Stream parameters measured on this very device (``python -m clgrad.tune elementwise``) or set
    by ``tuning.override`` are used when ``stream_problem`` accepts them - exactly what the tuner
    may store - with the vector width narrowed to what the device self-check verified for
    ``classes`` (1 without vectors). Otherwise ``builtin_stream``: on a CPU, expressions valid on
    vector types run on vectors (``cpu_vectors``): PoCL's implicit vectorisation across a group
    leaves bodies that call builtins or select scalar (exp and relu 7x slower than on 8-wide
    vectors), and even plain arithmetic streams faster so (``a * b``: 101-108% of the streaming
    kernel against 84-94% one element per work-item). Everything else, and every GPU, runs one
    element per work-item (coalesced). (Borrowed and shipped entries are not used here: on PoCL
    the shipped CPU entry, 4-wide blocked runs, measured far below either.)
    """
    p = _tuned_stream(device, dtype, n)
    if p is not None and stream_problem(p, device.caps, dtype) is None:
        ept, vw, layout, ls = int(p["EPT"]), int(p["VW"]), p["LAYOUT"], int(p["LS"])
        vw = 1 if classes is None else vector_width(device, dtype, classes, want=vw)
        return ept, vw, layout, ls
    return builtin_stream(device, dtype, classes)


def builtin_stream(device, dtype, classes=None):
    """The flat path's (elements per work-item, vector width, layout, group size) when nothing
    is tuned: vectors on CPUs (``cpu_vectors``) for expressions valid on vector types (their
    ``classes``; None: not valid), else one element per work-item. The tuner measures it first,
    so a short run never stores a slower winner."""
    if classes is not None and launch_profile(device) == "cpu":
        ept, vw = cpu_vectors(device, dtype, classes)
        return ept, vw, "interleaved", 256
    return _SCALAR_STREAM


def cpu_vectors(device, dtype, classes=("math",)):
    """(elements per work-item, vector width) of the vector layouts on a CPU: four vectors of
    the device's preferred width (one AVX-512 register: 16 floats, 8 doubles), narrowed to what
    the device self-check verified for the operations used (``classes``), the four runs of a
    work-item strided by the global size.

    Measured on PoCL (2 cores, AVX-512), exp on 16M floats: 8-wide, one vector per work-item 55%
    of the streaming kernel; 16-wide 70-75%; four 16-wide vectors side by side 83-90% (more
    reads in flight; eight measured 50-60%). 16 doubles measured 1.6x slower than 8.
    """
    vw = vector_width(device, dtype, classes)
    return 4 * vw, vw


def _tuned_stream(device, dtype, n):
    """This device's own tuned elementwise entry for ``n`` elements of ``dtype`` (or an active
    override), else None."""
    return tuning.own_entry(device, "elementwise", dtype, stream_size_key(n))


def stream_size_key(n):
    """The size bucket of a streaming problem of ``n`` elements (the tuner's too)."""
    if n < (1 << 16):
        return "small"
    if n < (1 << 22):
        return "medium"
    return "large"


def stream_width(caps, dtype):
    """The widest vector a stream entry may ask for with ``dtype`` on a device with ``caps``:
    for float32 and float64, what the self-check verified for arithmetic (the tuner's
    ``alpha * x + y``); 1 for every other dtype, which the flat path runs one element at a time."""
    dtype = _np.dtype(dtype)
    if dtype not in _VEC_DTYPES:
        return 1
    return vector_width(caps, dtype, ("arith",), want=16)


def stream_problem(params, caps, dtype):
    """None when stream parameters ``params`` ({LS, EPT, VW, LAYOUT}) can drive the flat path
    for ``dtype`` on a device with ``caps``, else why not: the one rule for what the tuner may
    store (its fit check), what the runtime takes from this device's entries (``stream_params``)
    and from other devices' (``stream_fits``)."""
    try:
        ls, ept, vw = int(params["LS"]), int(params["EPT"]), int(params["VW"])
        layout = params["LAYOUT"]
    except (KeyError, TypeError, ValueError):
        return f"not stream parameters (LS, EPT, VW, LAYOUT): {params!r}"
    if layout not in ("blocked", "interleaved"):
        return f"layout {layout!r} is neither 'interleaved' nor 'blocked'"
    if vw not in _VW_OK:
        return f"vector width {vw} is not one of {', '.join(map(str, _VW_OK))}"
    if not 1 <= ept <= 64 or ept % vw:
        return f"{ept} elements per work-item: not a multiple of the vector width {vw} in 1..64"
    if not 1 <= ls <= caps.max_wg:
        return f"group size {ls} is not within the device's work-group limit {caps.max_wg}"
    width = stream_width(caps, dtype)
    if vw > width:
        dtype = _np.dtype(dtype)
        if dtype not in _VEC_DTYPES:
            return (f"vector width {vw}: the flat path runs {dtype} one element at a time "
                    "(vectors only for float32 and float64)")
        return (f"vector width {vw} did not pass the device self-check for {dtype} arithmetic "
                f"(at most {width})")
    return None


def stream_fits(params, caps, dtype_name):
    """Whether stream parameters (tuned for another device, or shipped) fit this one."""
    return stream_problem(params, caps, dtype_name) is None


def flat_index(n):
    """The index type ("int" or "long") of the flat path's kernel for ``n`` elements at offset
    0: what the tuner builds its candidates with."""
    return "int" if n < _FLAT_INT_LIMIT else "long"


tuning.register_fit_check("elementwise", stream_fits)


@register_cache
@tuning.on_change       # (their flat kernels follow the tuned stream parameters)
def _reset_plans():
    for p in _PLANS.values():   # (the op modules hold on to their plans: reset, not dropped)
        p.reset()


def ew_plan(name, expr, out_dtype, sig, helpers="", lets=()):
    """The (cached) EwPlan of ``expr`` over the operand signature ``sig`` (``lets``: named
    subexpressions evaluated first, as u0, u1, ...; fused chains use them)."""
    key = (name, expr, out_dtype, sig, helpers, lets)
    p = _PLANS.get(key)
    if p is None:
        if len(_PLANS) > _PLANS_MAX and lets:
            _drop_fused_plans()
        p = _PLANS[key] = EwPlan(name, expr, out_dtype, sig, helpers, lets)
    return p


_PLANS_MAX = 4096


def _drop_fused_plans():
    """Forget the plans of fused chains (each captured graph holds its own): the op modules'
    plans stay, they hold on to them."""
    for key in [k for k in _PLANS if k[5]]:
        del _PLANS[key]


def elementwise(name, out, inputs, expr, compute_dtypes=None, helpers=""):
    """Write ``expr`` of ``inputs`` into ``out`` (an array, possibly a strided view).

    ``inputs`` are arrays (broadcast to ``out.shape``) or Python scalars; ``expr`` refers to
    them as v0, v1, ... in their compute dtypes (``compute_dtypes``, default: their own).
    """
    if compute_dtypes is None:
        compute_dtypes = [x.dtype if type(x) is ndarray else out.dtype for x in inputs]
    sig = []
    for x, c in zip(inputs, compute_dtypes):
        if type(x) is ndarray:
            sig.append((True, x.dtype, c))
        else:
            sig.append((False, None, c))
    _, shape, flat, _ = operands([out] + list(inputs))
    return ew_plan(name, expr, out.dtype, tuple(sig), helpers).run(out, inputs, flat)


def _make_elementwise(device, name, out_dtype, sig, expr, ndim, helpers, idx, inner_cls,
                      ept=1, vw=1, layout="interleaved", local_cap=256, lets=()):
    out_op = R.Operand(True, out_dtype)
    ops = [out_op] + [R.Operand(is_arr, d if is_arr else c, c) for is_arr, d, c in sig]
    uses_fp64 = any(o.dtype in (dt.float64, dt.complex128) or o.compute in ("double", "double2")
                    for o in ops) or any(t.startswith("double") for t, _ in lets)
    kname = f"ew_{name}"
    src = R.render("elementwise.cl.mako", prelude=R.prelude(uses_fp64), helpers=helpers,
                   name=kname, operands=ops, ndim=ndim, expr=expr, out=out_op, idx=idx,
                   inner_cls=_operand_classes(ops, inner_cls),
                   ept=ept if ndim == 0 or vw > 1 else 1, vw=vw, layout=layout, lets=lets)
    it = _np.int32 if idx == "int" else _np.int64
    arg_dtypes = [None, it]
    for o in ops[1:]:
        if o.is_array:
            arg_dtypes += [None, it]
        else:
            arg_dtypes.append(scalar_np_dtype(o.compute))
    n_arrays = sum(1 for o in ops if o.is_array)
    arg_dtypes += [it] * (ndim * (1 + n_arrays))
    arg_dtypes.append(it)
    return Kernel(device, src, kname, arg_dtypes, local_cap=local_cap if ndim == 0 else 256)


def _operand_classes(ops, inner_cls):
    """Spread the per-array inner-stride classes over all operands (scalars get none)."""
    it = iter(inner_cls)
    return [next(it) if o.is_array else "" for o in ops] if inner_cls else [""] * len(ops)


_SCALAR_NP = {"uchar": _np.uint8, "char": _np.int8, "short": _np.int16, "int": _np.int32,
              "long": _np.int64, "float": _np.float32, "double": _np.float64,
              "float2": _np.complex64, "double2": _np.complex128}


def scalar_np_dtype(ctype):
    """The NumPy type a kernel's scalar argument of C type ``ctype`` is passed as."""
    return _SCALAR_NP[ctype]
