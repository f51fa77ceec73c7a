"""Kernel lookup and launch: the one path every generated kernel takes to the device.

A kernel is found by a small key tuple in the device's kernel table; only on a miss is the
template rendered and the program built (memory, then disk, then compiler). The launch geometry is
worked out once per kernel from the compiled kernel's own work-group limit.
"""
import numpy as _np
import pyopencl as cl

from .. import dtypes as dt
from ..codegen import render as R
from ..ndarray import ndarray
from ..runtime import build_program

_WGI = cl.kernel_work_group_info


class Kernel:
    """A built kernel with its scalar-argument layout set and its work-group size chosen."""

    __slots__ = ("kernel", "local", "name")

    def __init__(self, device, source, name, arg_dtypes, local_cap=256):
        prog = build_program(device, source)
        k = cl.Kernel(prog, name)
        k.set_scalar_arg_dtypes(arg_dtypes)
        limit = k.get_work_group_info(_WGI.WORK_GROUP_SIZE, device.cl_device)
        limit = min(limit, device.caps.max_wg, local_cap)
        local = 1
        while local * 2 <= limit:
            local *= 2
        self.kernel = k
        self.local = local
        self.name = name

    def __call__(self, device, n, *args):
        """Launch over ``n`` work-items (one per element), padding to whole work-groups."""
        local = self.local
        glob = ((n + local - 1) // local) * local
        with device.launch_lock:
            self.kernel(device.queue, (glob,), (local,), *args)

    def launch(self, device, global_size, local_size, *args):
        with device.launch_lock:
            self.kernel(device.queue, global_size, local_size, *args)


def get_kernel(device, key, make):
    """The kernel cached under ``key`` on ``device``, created by ``make()`` on first use."""
    k = device.kernels.get(key)
    if k is None:
        k = make()
        device.kernels[key] = k
    return k


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
def elementwise(name, out, inputs, expr, compute_dtypes=None, helpers=""):
    """Write ``expr`` of ``inputs`` into ``out`` (an array, possibly a strided view).

    ``inputs`` are arrays (broadcast to ``out.shape``) or Python scalars; ``expr`` refers to
    them as v0, v1, ... in their compute dtypes (``compute_dtypes``, default: their own).
    """
    n = out.size
    if n == 0:
        return out
    device = out._storage.device
    shape = out.shape
    if compute_dtypes is None:
        compute_dtypes = [x.dtype if isinstance(x, ndarray) else out.dtype for x in inputs]
    # fast path: every array C-contiguous with the output's shape -> flat indexing
    flat = out._is_c_contiguous()
    sig = []
    for x, c in zip(inputs, compute_dtypes):
        if isinstance(x, ndarray):
            sig.append((True, x.dtype, c))
            if flat and (x.shape != shape or not x._is_c_contiguous()):
                flat = False
        else:
            sig.append((False, None, c))
    sig = tuple(sig)
    if flat:
        ndim = 0
        span = n + _max_offset(out, inputs)
    else:
        strides = [list(out._strides)] + [broadcast_strides(x, shape) for x in inputs
                                          if isinstance(x, ndarray)]
        cshape, cstrides = collapse(shape, strides)
        ndim = 0 if all(st == _c_contig_strides(cshape) for st in cstrides) else len(cshape)
        span = n + _max_offset(out, inputs) + sum(
            (k - 1) * abs(st[d]) for st in cstrides for d, k in enumerate(cshape))
    idx = "int" if span < _INT_LIMIT else "long"
    inner_cls = "" if ndim == 0 else "".join(
        "0" if st[-1] == 0 else "1" if st[-1] == 1 else "s" for st in cstrides)
    key = ("ew", name, expr, out.dtype, sig, ndim, idx, inner_cls)
    kernel = device.kernels.get(key)
    if kernel is None:
        kernel = get_kernel(device, key, lambda: _make_elementwise(
            device, name, out.dtype, sig, expr, ndim, helpers, idx, inner_cls))
    args = [out._storage.buffer, out._offset]
    for x in inputs:
        if isinstance(x, ndarray):
            args += (x._storage.buffer, x._offset)
        else:
            args.append(x)
    if ndim == 0:
        args.append(n)
        kernel(device, n, *args)
        return out
    for d in range(ndim):
        args.append(cshape[d])
        for st in cstrides:
            args.append(st[d])
    args.append(n)
    inner = cshape[-1]
    local = kernel.local
    while local > 1 and local // 2 >= inner:
        local //= 2
    kernel.launch(device, (((inner + local - 1) // local) * local, n // inner), (local, 1), *args)
    return out


_INT_LIMIT = 2 ** 31 - 1


def _max_offset(out, inputs):
    m = out._offset
    for x in inputs:
        if isinstance(x, ndarray) and x._offset > m:
            m = x._offset
    return m


def _make_elementwise(device, name, out_dtype, sig, expr, ndim, helpers, idx, inner_cls):
    out_op = R.Operand(True, out_dtype)
    ops = [out_op] + [R.Operand(is_arr, d if is_arr else c, c) for is_arr, d, c in sig]
    uses_fp64 = any(o.dtype == dt.float64 or o.compute == "double" for o in ops)
    kname = f"ew_{name}"
    src = R.render("elementwise.cl.mako", prelude=R.prelude(uses_fp64), helpers=helpers,
                   name=kname, operands=ops, ndim=ndim, expr=expr, out=out_op, idx=idx,
                   inner_cls=_operand_classes(ops, inner_cls))
    it = _np.int32 if idx == "int" else _np.int64
    arg_dtypes = [None, it]
    for o in ops[1:]:
        if o.is_array:
            arg_dtypes += [None, it]
        else:
            arg_dtypes.append(_scalar_np_dtype(o.compute))
    n_arrays = sum(1 for o in ops if o.is_array)
    arg_dtypes += [it] * (ndim * (1 + n_arrays))
    arg_dtypes.append(it)
    return Kernel(device, src, kname, arg_dtypes)


def _operand_classes(ops, inner_cls):
    """Spread the per-array inner-stride classes over all operands (scalars get none)."""
    it = iter(inner_cls)
    return [next(it) if o.is_array else "" for o in ops] if inner_cls else [""] * len(ops)


_SCALAR_NP = {"uchar": _np.uint8, "char": _np.int8, "short": _np.int16, "int": _np.int32,
              "long": _np.int64, "float": _np.float32, "double": _np.float64}


def _scalar_np_dtype(ctype):
    return _SCALAR_NP[ctype]
