"""The softmax family: fused row kernels (templates/softmax.cl.mako) for softmax, log_softmax, their
gradients, lengths and masks, with the row layout chosen per device and tunable (``TUNABLE``).
"""
import math

import numpy as _np

from ... import dtypes as dt
from ...base import DTypeError, KernelBuildError, ShapeError
from ...codegen import render as R
from ...runtime import tuning, vector_width
from ...ndarray import ndarray
from .. import launch
from ..args import as_flag
from ..core import arange, broadcast_shapes, same_device
from ..elementwise import exp, less, multiply, subtract, where
from ..reduce import AxisError, normalize_axis
from ..reduce import sum as _sum
from ..registry import invoke, register
from ..shape import expand_dims, reshape
from .common import ParameterError, _arr, _grad_dtype, _recording


# --- softmax family ----------------------------------------------------------------------------
def _row_kernel(dev, kind, mode, wg, src_dtype, g_dtype, dst_dtype, len_dtype, outer_nd, acc,
                unroll=1, vw=0):
    # softmax stores each exp and rescales it, when the output holds ACC exactly
    reuse = kind == "softmax" and dst_dtype == acc
    key = ("rows", kind, mode, wg, src_dtype, g_dtype, dst_dtype, len_dtype, outer_nd, acc,
           unroll, vw)

    def make():
        bwd = g_dtype is not None
        strides = []
        s = wg // 2
        while s >= 1:
            strides.append(s)
            s //= 2
        src = R.render(
            "softmax.cl.mako", prelude=R.prelude(dt.float64 in (src_dtype, g_dtype, dst_dtype)),
            name=f"rows_{kind}_{mode}", kind=kind, mode=mode, wg=wg, strides=strides,
            acc=dt.compute_ctype(acc), bwd=bwd, use_length=len_dtype is not None,
            outer_nd=outer_nd, src=R.Operand(True, src_dtype, acc),
            g=R.Operand(True, g_dtype, acc) if bwd else None,
            dst=R.Operand(True, dst_dtype, acc),
            ln=R.Operand(True, len_dtype) if len_dtype is not None else None,
            unroll=unroll, reuse=reuse, vw=vw)
        n_ops = 2 + bwd + (len_dtype is not None)
        arg_dtypes = [None, _np.int64, _np.int64]
        if bwd:
            arg_dtypes += [None, _np.int64, _np.int64]
        arg_dtypes += [None, _np.int64, _np.int64]
        if len_dtype is not None:
            arg_dtypes += [None, _np.int64]
        arg_dtypes += [_np.int64, _np.int64, _np.float64 if acc == dt.float64 else _np.float32]
        arg_dtypes += [_np.int64] * (outer_nd * (1 + n_ops))
        return launch.Kernel(dev, src, f"rows_{kind}_{mode}", arg_dtypes,
                             local_cap=wg if mode == "group" else 256)

    return launch.get_kernel(dev, key, make)


#: rows at least this long get a work-group each; shorter ones one work-item each
GROUP_ROW_MIN = 128
_ROW_UNROLL = 8     # accumulators per row in the CPU serial layout


def _rows_size_key(K):
    """The tuning database's bucket for rows of ``K`` elements."""
    return "small" if K < GROUP_ROW_MIN else "medium" if K < 8192 else "large"


def _fit_rows_wg(wg, caps, acc):
    """The largest power of two <= ``wg`` that the device's group size and local memory (one
    accumulator per lane, half the local memory at most) allow."""
    w = 1
    while w * 2 <= min(wg, caps.max_wg) and w * 2 * acc.itemsize <= caps.local_mem // 2:
        w *= 2
    return w


def _heuristic_rows(dev, M, K, acc, vector_rows):
    """(lanes per row, vector width) when nothing is tuned: on CPUs a row per work-item (on
    vectors of the preferred width when the rows allow) unless too few rows keep the cores
    busy; on GPUs a work-group per long row."""
    cpu = launch.launch_profile(dev) == "cpu"
    wg = 1
    # CPUs run a group's lanes as a loop split at each barrier: a row per work-item (several
    # accumulators) unless there are too few rows to keep every core busy
    if K >= GROUP_ROW_MIN and not (cpu and M >= 4 * dev.caps.compute_units):
        wg = _fit_rows_wg(256, dev.caps, acc)
    # unit-stride rows with every operand in the accumulator type run on vectors of the
    # device's preferred width (CPU runtimes vectorise exp and friends only on vector types;
    # 16 floats measured 1.3x faster than 8 on AVX-512)
    vw = launch.cpu_vectors(dev, acc)[1] if wg == 1 and cpu and vector_rows and \
        K >= 2 * _ROW_UNROLL else 0
    return wg, vw if vw > 1 else 0     # one lane is the scalar layout


def _tuned_rows(dev, dtype, K):
    """The tuning database's (or an active override's) {"wg", "vw"} for these rows, or None."""
    try:
        got = tuning.params_for(dev, "softmax", dtype, _rows_size_key(K), {})
    except Exception:       # a damaged tuning entry must not break a softmax
        return None
    if not isinstance(got, dict):
        return None
    wg, vw = got.get("wg"), got.get("vw", 0)
    if type(wg) is int and wg >= 1 and type(vw) is int and vw in (0, 2, 4, 8, 16):
        return {"wg": wg, "vw": vw}
    return None


def _default_tunable_rows(device, dtype, M=1024, K=1024):
    """What the runtime uses without a tuned entry for M contiguous rows of K elements (the
    tuner measures it first)."""
    acc = dt.float64 if _np.dtype(dtype) == dt.float64 else dt.float32
    wg, vw = _heuristic_rows(device, M, K, acc, _np.dtype(dtype) == acc)
    return {"wg": wg, "vw": vw}


#: What clgrad.tune searches for the softmax family's row kernels (sizes are (rows, row
#: length)): ``wg`` lanes per row (1: a row per work-item, else a work-group per row),
#: ``vw`` the vector width a row per work-item runs on (0: scalars with several accumulators;
#: rows of float16 or strided rows always take scalars).
TUNABLE = {
    "kernel": "softmax",
    "params": {"wg": [1, 16, 32, 64, 128, 256], "vw": [0, 4, 8, 16]},
    "constraints": ["wg == 1 or vw == 0"],
    "default": _default_tunable_rows,
    "default_for_size": _default_tunable_rows,
    "local_size": "wg",
    "local_mem": "wg * 8",
    "size_key": lambda m, k: _rows_size_key(k),
}
tuning.declare(TUNABLE)     # how an entry tuned elsewhere is checked against this device


def _rows(kind, src, g, length, out, axis, inv_t):
    """Run a softmax row kernel: ``src`` (and ``g``) read along ``axis`` into ``out``."""
    dev = src.device
    K = src.shape[axis]
    if out.size == 0:
        return out
    outer = [d for d in range(src.ndim) if d != axis]
    ops_ = [src] + ([g] if g is not None else []) + [out]
    st_lists = [[a._strides[d] for d in outer] for a in ops_]
    if length is not None:
        st_lists.append(list(length._strides))
    oshape, ostr = launch.collapse([src.shape[d] for d in outer], st_lists)
    M = 1
    for n in oshape:
        M *= n
    acc = dt.float64 if dt.float64 in (src.dtype, out.dtype) or (
        g is not None and g.dtype == dt.float64) else dt.float32
    cpu = launch.launch_profile(dev) == "cpu"
    vector_rows = all(a.dtype == acc and a._strides[axis] == 1 for a in ops_)
    tuned = _tuned_rows(dev, src.dtype, K)
    if tuned is None:
        wg, vw = _heuristic_rows(dev, M, K, acc, vector_rows)
    else:
        wg = _fit_rows_wg(tuned["wg"], dev.caps, acc)
        vw = tuned.get("vw", 0) if wg == 1 and vector_rows else 0
        if vw > vector_width(dev, acc, ("math",), want=16):
            vw = _heuristic_rows(dev, M, K, acc, vector_rows)[1] if wg == 1 else 0
    gdt = g.dtype if g is not None else None
    ldt = length.dtype if length is not None else None

    def kernel(wg, vw, plain=False):
        # a row per work-item without vectors keeps several scalar accumulators on CPUs
        unroll = 1 if vw or wg > 1 or plain else \
            _ROW_UNROLL if cpu and K >= 2 * _ROW_UNROLL else 1
        return _row_kernel(dev, kind, "group" if wg > 1 else "serial", wg, src.dtype, gdt,
                           out.dtype, ldt, len(oshape), acc, unroll, vw)
    try:
        k = kernel(wg, vw)
        if k.local < wg:
            # the compiled kernel allows fewer lanes than asked for: render it for that many
            wg = k.local
            k = kernel(wg, vw)
    except KernelBuildError as e:
        # the layout chosen for speed failed on this device: a row per work-item, scalars
        launch.fall_back(dev, "softmax", e)
        wg, vw = 1, 0
        k = kernel(wg, vw, plain=True)
    mode = "group" if wg > 1 else "serial"
    args = [src._storage.buffer, src._offset, src._strides[axis]]
    if g is not None:
        args += [g._storage.buffer, g._offset, g._strides[axis]]
    args += [out._storage.buffer, out._offset, out._strides[axis]]
    if length is not None:
        args += [length._storage.buffer, length._offset]
    args += [M, K, inv_t]
    for d, n in enumerate(oshape):
        args.append(n)
        for st in ostr:
            args.append(st[d])
    if mode == "group":
        k.launch(dev, (M * wg,), (wg,), *args)
    elif cpu:
        local = launch.items_local(dev, k, M, K)
        k.launch(dev, ((M + local - 1) // local * local,), (local,), *args)
    else:
        k(dev, M, *args)
    return out


def _length_mask(length, shape, axis):
    """Boolean mask: position k along ``axis`` is below length[row]."""
    K = shape[axis]
    ks = reshape(arange(K, dtype=dt.int64, device=length.device),
                 tuple(K if d == axis else 1 for d in range(len(shape))))
    return less(ks, expand_dims(length, axis))


def _softmax_family(kind):
    def fwd(ctx, x, length=None, *, axis, inv_t, dtype):
        out = ndarray._empty(x.shape, dtype, x.device)
        _rows(kind, x, None, length, out, axis, inv_t)
        ctx.save(x, length, out.detach())
        ctx.axis, ctx.inv_t, ctx.dtype = axis, inv_t, dtype
        return out

    def bwd(ctx, g):
        x, length, y = ctx.saved
        ax, inv_t = ctx.axis, ctx.inv_t
        gdt = x.dtype if x.dtype.kind == "f" else dt.default_float
        extra = (None,) if length is not None else ()
        if not _recording():
            gx = ndarray._empty(x.shape, gdt, x.device)
            _rows(kind + "_bwd", y, g, length, gx, ax, inv_t)
            return (gx,) + extra
        # recorded: y is recomputed from x so that the result can be differentiated again
        inputs = [x] + ([length] if length is not None else [])
        y = invoke(op, inputs, axis=ax, inv_t=inv_t, dtype=ctx.dtype)
        if kind == "softmax":
            gx = multiply(y, subtract(g, _sum(multiply(g, y), axis=ax, keepdims=True)))
        else:
            mask = _length_mask(length, x.shape, ax) if length is not None else None
            gm = where(mask, g, 0) if mask is not None else g
            gx = subtract(gm, multiply(exp(y), _sum(gm, axis=ax, keepdims=True)))
            if mask is not None:
                gx = where(mask, gx, 0)
        if inv_t != 1.0:
            gx = multiply(gx, inv_t)
        return (_grad_dtype(gx, x),) + extra

    op = register(kind, fwd, bwd)
    return op


_softmax_op = _softmax_family("softmax")
_log_softmax_op = _softmax_family("log_softmax")


def _softmax_call(op, name, data, axis, length, temperature, use_length, dtype):
    x = _arr(data)
    if x.dtype == dt.bool_:
        raise DTypeError(f"{name} is not defined for boolean arrays")
    if x.ndim == 0:
        raise AxisError(f"{name}: axis {axis} is out of bounds for array of dimension 0")
    ax = normalize_axis(axis, x.ndim)
    t = 1.0 if temperature is None else float(temperature)
    if t == 0.0 or not math.isfinite(t):
        raise ParameterError(f"{name}: temperature must be finite and non-zero, got {t}")
    out_dtype = dt.as_dtype(dtype) or (x.dtype if x.dtype.kind == "f" else dt.default_float)
    if out_dtype.kind != "f":
        raise DTypeError(f"{name}: dtype must be a float type, got {out_dtype}")
    dt.check_device(out_dtype, x.device)
    inputs = [x]
    if as_flag(use_length, "use_length", name):
        if length is None:
            raise ParameterError(f"{name}: use_length=True needs length")
        length = _arr(length, "length")
        same_device([x, length], name)
        if length.dtype.kind not in "iu":
            raise DTypeError(f"{name}: length must be an integer array, got {length.dtype}")
        want = x.shape[:ax] + x.shape[ax + 1:]
        if length.shape != want:
            raise ShapeError(f"{name}: length has shape {length.shape}, expected {want} (data's "
                             f"shape {x.shape} without axis {ax})")
        inputs.append(length)
    return invoke(op, inputs, axis=ax, inv_t=1.0 / t, dtype=out_dtype)


def softmax(data, length=None, axis=-1, temperature=None, use_length=False, dtype=None):
    """exp(x / t) / sum(exp(x / t)) along ``axis``, in one fused, numerically stable kernel.

    With ``use_length``, only the first ``length[i]`` elements of each row count; the rest are 0.
    """
    return _softmax_call(_softmax_op, "softmax", data, axis, length, temperature, use_length,
                         dtype)


def log_softmax(data, axis=-1, length=None, temperature=None, use_length=False, dtype=None):
    """log(softmax(x)) along ``axis``, computed as x / t - max - log(sum(exp(x / t - max)))."""
    return _softmax_call(_log_softmax_op, "log_softmax", data, axis, length, temperature,
                         use_length, dtype)


def _masked(name, data, mask, axis, temperature, log):
    x = _arr(data)
    mask = _arr(mask, "mask")
    same_device([x, mask], name)
    try:
        fits = broadcast_shapes(x.shape, mask.shape) == x.shape
    except ShapeError:
        fits = False
    if not fits:
        raise ShapeError(f"{name}: mask of shape {mask.shape} does not broadcast to data's "
                         f"shape {x.shape}")
    keep = mask if mask.dtype == dt.bool_ else mask.astype(dt.bool_)
    t = 1.0 if temperature is None else float(temperature)
    x = where(keep, x, -math.inf)
    if log:
        return where(keep, log_softmax(x, axis=axis, temperature=t), -math.inf)
    # rows with every element masked give 0, not NaN
    return where(keep, softmax(x, axis=axis, temperature=t), 0)


def masked_softmax(data, mask, axis=-1, temperature=1.0, normalize=True):
    """softmax over the elements where ``mask`` is true; masked elements give 0.

    ``normalize`` is accepted for MXNet compatibility: the max is always subtracted first.
    """
    return _masked("masked_softmax", data, mask, axis, temperature, False)


def masked_log_softmax(data, mask, axis=-1, temperature=1.0, normalize=True):
    """log_softmax over the elements where ``mask`` is true; masked elements give -inf."""
    return _masked("masked_log_softmax", data, mask, axis, temperature, True)
