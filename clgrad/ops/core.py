"""Array creation, host transfer, copies and casts: the primitives every other op builds on."""
import numbers
import operator

import numpy as _np

from .. import dtypes as dt
from ..base import (ArgumentError, ArgumentTypeError, ArrayConversionError, DeviceMismatchError,
                    DeviceNotFoundError, ShapeError, ZeroStepError)
from ..codegen import render as R
from ..ndarray import ndarray
from ..runtime import Device, default_device
from . import launch
from .args import as_int, as_ints, need_array
from .registry import invoke, register


# --- devices ---------------------------------------------------------------------------------
def resolve_device(device=None, ctx=None):
    dev = device if device is not None else ctx
    if dev is None:
        return default_device()
    if isinstance(dev, Device):
        return dev
    if isinstance(dev, str):
        from ..runtime import get_device
        kind, _, rest = dev.partition("(")
        try:
            idx = int(rest.rstrip(")") or 0) if rest else 0
        except ValueError:
            raise DeviceNotFoundError(f"device={dev!r} is not a device: write 'cpu(0)', "
                                      "'gpu(1)', ...") from None
        return get_device(kind.strip(), idx)
    raise DeviceNotFoundError(f"device={dev!r} is not a device: give a Device (npx.cpu(0), "
                              "npx.gpu(0)) or a string such as 'cpu(0)'")


def same_device(arrays, what="operation"):
    dev = None
    for a in arrays:
        if isinstance(a, ndarray):
            if dev is None:
                dev = a._storage.device
            elif a._storage.device is not dev:
                raise DeviceMismatchError(
                    f"{what}: arrays are on different devices ({dev} and {a._storage.device}); "
                    "move one with .to_device() or .copyto()")
    return dev


def normalize_shape(shape):
    if isinstance(shape, numbers.Integral):
        shape = (int(shape),)
    try:
        shape = tuple(operator.index(n) for n in shape)   # 2.5 is not a dimension
    except TypeError:
        raise ShapeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ShapeError(f"negative dimensions are not allowed in shape {shape}")
    return shape


def empty(shape, dtype=None, order="C", device=None, ctx=None):
    dtype = dt.as_dtype(dtype) or dt.default_float
    dev = resolve_device(device, ctx)
    dt.check_device(dtype, dev)
    return ndarray._empty(normalize_shape(shape), dtype, dev)


def _filled(shape, value, dtype, dev):
    out = ndarray._empty(shape, dtype, dev)
    return fill(out, value)


def fill(out, value):
    """Write the scalar ``value`` into every element of ``out`` (a possibly strided view)."""
    need_array(out, "out", "fill")
    value = dt.cast_scalar(value, out.dtype)     # C's conversion: integers wrap
    out._storage.prepare_write()
    launch.elementwise("fill", out, [value], "v0", [out.dtype])
    return out


def full(shape, fill_value, dtype=None, order="C", device=None, ctx=None):
    dev = resolve_device(device, ctx)
    if isinstance(fill_value, ndarray):
        return broadcast_copy(fill_value, normalize_shape(shape), dtype)
    if dtype is None:       # MXNet's: a boolean stays bool, any other real number is float32
        dtype = (dt.bool_ if isinstance(fill_value, (bool, _np.bool_)) else
                 dt.default_float if isinstance(fill_value, numbers.Real) else
                 dt.default_complex)
    dtype = dt.as_dtype(dtype)
    dt.check_device(dtype, dev)
    return _filled(normalize_shape(shape), fill_value, dtype, dev)


def zeros(shape, dtype=None, order="C", device=None, ctx=None):
    return full(shape, 0, dt.as_dtype(dtype) or dt.default_float, device=device, ctx=ctx)


def ones(shape, dtype=None, order="C", device=None, ctx=None):
    return full(shape, 1, dt.as_dtype(dtype) or dt.default_float, device=device, ctx=ctx)


def _like(a, dtype, device):
    if not isinstance(a, ndarray):
        a = array(a)
    return (a.shape, dt.as_dtype(dtype) or a.dtype, device or a.device)


def empty_like(a, dtype=None, order="C", subok=False, shape=None, device=None):
    s, d, dev = _like(a, dtype, device)
    return empty(shape if shape is not None else s, d, device=dev)


def zeros_like(a, dtype=None, order="C", subok=False, shape=None, device=None):
    s, d, dev = _like(a, dtype, device)
    return full(shape if shape is not None else s, 0, d, device=dev)


def ones_like(a, dtype=None, order="C", subok=False, shape=None, device=None):
    s, d, dev = _like(a, dtype, device)
    return full(shape if shape is not None else s, 1, d, device=dev)


def full_like(a, fill_value, dtype=None, order="C", subok=False, shape=None, device=None):
    s, d, dev = _like(a, dtype, device)
    return full(shape if shape is not None else s, fill_value, d, device=dev)


# --- host -> device ----------------------------------------------------------------------------
def _host_dtype(obj, dtype):
    """MXNet's rule: NumPy arrays keep their dtype, everything else defaults to float32."""
    if dtype is not None:
        return dt.as_dtype(dtype)
    if isinstance(obj, _np.ndarray) or isinstance(obj, _np.generic):
        d = obj.dtype
        if d not in dt.SUPPORTED:
            raise dt.DTypeError(f"dtype {d} is not supported by clgrad "
                                f"(supported: {', '.join(str(x) for x in dt.SUPPORTED)})")
        return d
    if _has_complex(obj):
        return dt.default_complex
    return dt.default_float


def _has_complex(obj):
    """Whether a Python scalar or (nested) list holds a complex number."""
    if isinstance(obj, complex):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_complex(o) for o in obj)
    return isinstance(obj, ndarray) and obj.dtype.kind == "c"


def array(obj, dtype=None, copy=True, device=None, ctx=None, ndmin=0):
    """A new device array from ``obj`` (a list, scalar, NumPy array or clgrad array)."""
    if isinstance(obj, ndarray):
        dev = resolve_device(device, ctx) if (device is not None or ctx is not None) \
            else obj.device
        out = obj
        if dtype is not None and dt.as_dtype(dtype) != obj.dtype:
            out = astype(obj, dt.as_dtype(dtype))
        elif copy:
            out = copy_raw(obj)
        if dev is not out.device:
            out = to_device(out, dev)
        return out
    if obj is None:     # (NumPy would make it NaN in a float array)
        raise ArrayConversionError("array: None cannot be converted to an array")
    dev = resolve_device(device, ctx)
    dtype = _host_dtype(obj, dtype)
    dt.check_device(dtype, dev)
    try:
        host = _np.array(obj, dtype=dtype, order="C", copy=True, ndmin=ndmin)
    except OverflowError:       # a number beyond dtype: converted as a scalar operand is
        host = _converted_host(obj, dtype, ndmin)
    except (ValueError, TypeError) as e:
        raise ArrayConversionError(f"array: object of type {type(obj).__name__} cannot be "
                                   f"converted to an array: {e}") from None
    return from_host(host, dev)


def _converted_host(obj, dtype, ndmin):
    """``obj`` (numbers, possibly nested in sequences) as a host array of ``dtype``, each
    number converted by ``dtypes.cast_scalar`` (integers wrap, as MXNet's ``np.array`` does)."""
    numbers_ = _np.array(obj, dtype=object, ndmin=ndmin)
    each = _np.frompyfunc(lambda v: dt.cast_scalar(v, dtype), 1, 1)
    with _np.errstate(over="ignore"):       # float16 overflow gives infinity
        return _np.array(each(numbers_), dtype=dtype, order="C")


#: key -> a device array made once (``kept``)
_KEPT = {}
launch.register_cache(_KEPT.clear)


def kept(key, make):
    """The device array ``make()`` gives, made once per ``key`` (which names its device) and
    kept: a constant for the ops' own use (positions, default head gradients), never written
    in place. At most 64 are kept; ``launch.clear_caches()`` forgets them."""
    a = _KEPT.get(key)
    if a is None:
        if len(_KEPT) >= 64:
            _KEPT.clear()
        a = _KEPT[key] = make()
    return a


def from_host(host, dev):
    if not host.flags.c_contiguous:
        host = host.copy(order="C")   # (ascontiguousarray would turn 0-d into 1-d)
    out = ndarray._empty(host.shape, host.dtype, dev)
    out._storage.upload(host)
    return out


def asarray(obj, dtype=None, device=None, ctx=None):
    if isinstance(obj, ndarray) and (dtype is None or dt.as_dtype(dtype) == obj.dtype) \
            and device is None and ctx is None:
        return obj
    return array(obj, dtype=dtype, copy=False, device=device, ctx=ctx)


def to_device(a, device):
    need_array(a, "a", "to_device")
    dev = resolve_device(device)
    if dev is a.device:
        return a
    dt.check_device(a.dtype, dev)
    return invoke(_to_device_op, [a], device=dev)


def _to_device_fwd(ctx, a, device):
    ctx.src = a.device
    return from_host(a.asnumpy(), device)


_to_device_op = register("to_device", _to_device_fwd,
                         lambda ctx, g: (to_device(g, ctx.src),))


# --- copies and casts -----------------------------------------------------------------------
def copy_raw(a, dtype=None):
    """A C-contiguous copy of ``a`` (optionally cast), not recorded."""
    out = ndarray._empty(a.shape, dtype or a.dtype, a.device)
    copy_into(out, a)
    return out


def copy_into(dst, src):
    """dst[...] = src (broadcast), cast to dst's dtype as NumPy casts."""
    dst._storage.prepare_write()
    if dst.dtype == dt.bool_ and src.dtype.kind == "c":
        launch.elementwise("copy_bool", dst, [src], "(v0.x != 0 || v0.y != 0)", [src.dtype])
    elif dst.dtype == dt.bool_ and src.dtype != dt.bool_:
        # test the source value itself: converting 0.5 to uchar first would give False
        launch.elementwise("copy_bool", dst, [src], "(v0 != 0)", [src.dtype])
    else:
        launch.elementwise("copy", dst, [src], "v0", [dst.dtype])


def assign(dst, src):
    """Write ``src`` (array broadcast to ``dst.shape``, or scalar) into ``dst``; bumps its version."""
    need_array(dst, "dst", "assign")
    if isinstance(src, ndarray):
        same_device([dst, src], "assignment")
        shape = src.shape
        extra = src.ndim - dst.ndim
        if extra > 0 and all(n == 1 for n in shape[:extra]):
            # NumPy drops a value's leading size-1 dimensions (a[0] = ones((1, n)))
            src = src._view(shape[extra:], src._strides[extra:], src._offset)
        try:
            ok = broadcast_shapes(dst.shape, src.shape) == dst.shape
        except ShapeError:
            ok = False
        if not ok:
            raise ShapeError(f"could not broadcast input array from shape {shape} into "
                             f"shape {dst.shape}")
        if src._storage is dst._storage and (src._offset, src._strides) != \
                (dst._offset, dst._strides):
            src = copy_raw(src)     # overlapping views: read everything before writing
        copy_into(dst, src)
    else:
        fill(dst, src)
    dst._storage.version += 1
    return dst


#: copies per assign_many launch: each takes 48 bytes of the kernel's arguments, and OpenCL
#: promises a kernel 1024 bytes of them on every full-profile device
_COPIES_PER_LAUNCH = 8
_WORDS = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong", 16: "ulong2"}


def assign_many(pairs):
    """``assign(dst, src)`` for each ``(dst, src)`` of ``pairs``, in order. Same-shape, same-dtype
    copies between C-contiguous arrays of one device go in one launch per eight (backward writes
    every variable's gradient this way), any other pair by ``assign``; all of them one by one
    when one pair reads a buffer that a pair writes, or two pairs write one array."""
    pairs = list(pairs)
    plain, rest = [], []
    for dst, src in pairs:
        need_array(dst, "dst", "assign")
        if isinstance(src, ndarray) and src.shape == dst.shape and src.dtype == dst.dtype and \
                src.device is dst.device and dst.size and dst.dtype.itemsize in _WORDS and \
                src._is_c_contiguous() and dst._is_c_contiguous():
            plain.append((dst, src))
        else:
            rest.append((dst, src))
    written = {id(d._storage.buffer) for d, _ in pairs}
    if len(plain) < 2 or len({id(d) for d, _ in pairs}) < len(pairs) or \
            any(isinstance(s, ndarray) and id(s._storage.buffer) in written for _, s in pairs):
        for dst, src in pairs:      # the order matters, or nothing to batch
            assign(dst, src)
        return
    for dst, src in rest:
        assign(dst, src)
    groups = {}
    for dst, src in plain:
        groups.setdefault((dst.device, dst.dtype.itemsize), []).append((dst, src))
    for (dev, size), group in groups.items():
        for i in range(0, len(group), _COPIES_PER_LAUNCH):
            _copy_many(dev, size, group[i:i + _COPIES_PER_LAUNCH])


#: elements per work-item of copy_many: on CPUs a run of consecutive ones (1.1 MB of gradients
#: in six copies on PoCL: 0.08 ms in runs of 64, 0.27-0.48 ms interleaved, 0.21 ms as six
#: assigns); on GPUs work-items interleave, so that neighbours touch neighbouring elements
_COPY_CHUNK = {"cpu": 64}


def _copy_many(dev, itemsize, group):
    if len(group) == 1:
        assign(*group[0])
        return
    P = len(group)
    chunk = _COPY_CHUNK.get(launch.launch_profile(dev), 0)
    k = launch.get_kernel(dev, ("copy_many", P, itemsize, chunk),
                          lambda: launch.Kernel(dev, _render_copy_many(P, itemsize, chunk),
                                                "copy_many", [None, _np.int64, None, _np.int64,
                                                              _np.int64, _np.int64] * P +
                                                [_np.int64]))
    args, start = [], 0
    for dst, src in group:
        n = dst.size
        dst._storage.prepare_write()
        args += [dst._storage.buffer, dst._offset, src._storage.buffer, src._offset, n, start]
        start += (n + (chunk or 16) - 1) // (chunk or 16)     # interleaved: ~16 per work-item
    args.append(start)
    local = launch.items_local(dev, k, start, chunk or 16)
    k.launch(dev, ((start + local - 1) // local * local,), (local,), *args)
    for dst, _ in group:
        dst._storage.version += 1


def _render_copy_many(P, itemsize, chunk):
    """The source of the kernel that makes ``P`` contiguous copies of ``itemsize``-byte
    elements (templates/copy_many.cl.mako), ``chunk`` consecutive elements per work-item (0:
    work-items interleaved)."""
    return R.render("copy_many.cl.mako", prelude=R.prelude(False), name="copy_many", P=P,
                    W=_WORDS[itemsize], chunk=chunk)


def copy(a):
    return invoke(_copy_op, [need_array(a, "a", "copy")])


_copy_op = register("copy", lambda ctx, a: copy_raw(a), lambda ctx, g: (g,))


def astype(a, dtype):
    need_array(a, "a", "astype")
    dtype = dt.as_dtype(dtype)
    dt.check_device(dtype, a.device)
    return invoke(_astype_op, [a], dtype=dtype)


def _astype_fwd(ctx, a, dtype):
    if ctx.needs is not None and (a.dtype.kind == "c" or dtype.kind == "c"):
        raise dt.DTypeError("astype: autograd does not support complex arrays")
    ctx.src_dtype = a.dtype
    return copy_raw(a, dtype)


def _astype_bwd(ctx, g):
    # MXNet casts the gradient back to the source dtype (integers included); a boolean source
    # has no meaningful gradient value, so it gets zeros
    if ctx.src_dtype == dt.bool_:
        return (zeros_like(g, dtype=dt.bool_),)
    return (astype(g, ctx.src_dtype),)


_astype_op = register("astype", _astype_fwd, _astype_bwd)


def check_out(name, out, shape, dtype, device=None):
    """Validate an ``out=`` array before any work is enqueued: type, device, shape, and NumPy's
    'same_kind' casting from the result dtype."""
    if not isinstance(out, ndarray):
        raise ArgumentTypeError(f"{name}: out must be a clgrad ndarray, not "
                                f"{type(out).__name__}")
    if device is not None and out.device is not device:
        raise DeviceMismatchError(f"{name}: out is on {out.device}, the operands on {device}")
    if tuple(out.shape) != tuple(shape):
        raise ShapeError(f"{name}: out has shape {out.shape}, but the result has shape "
                         f"{tuple(shape)}")
    if not _np.can_cast(dtype, out.dtype, "same_kind"):
        raise dt.DTypeError(f"{name}: cannot cast the result from {dtype} to the output's dtype "
                            f"{out.dtype} (casting rule 'same_kind')")


def broadcast_shapes(*shapes):
    for s in shapes:
        if type(s) is not tuple:    # a user's int or list (the ops pass tuples)
            shapes = tuple(s if type(s) is tuple else as_ints(s, "shapes", "broadcast_shapes")
                           for s in shapes)
            break
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        pad = nd - len(s)
        for i, n in enumerate(s):
            j = i + pad
            if n == out[j] or n == 1:
                continue
            if out[j] == 1:
                out[j] = n
            else:
                raise ShapeError("operands could not be broadcast together with shapes " +
                                 " ".join(str(tuple(x)) for x in shapes))
    return tuple(out)


def broadcast_copy(a, shape, dtype=None):
    out = ndarray._empty(shape, dt.as_dtype(dtype) or a.dtype, a.device)
    broadcast_shapes(shape, a.shape)
    copy_into(out, a)
    return out


def _real_only(name, dtype):
    # these kernels compute a real value per element (a complex store would fill both parts)
    if dtype.kind == "c":
        raise dt.DTypeError(f"{name}: complex dtypes are not supported ({dtype})")


# --- ranges ----------------------------------------------------------------------------------
def arange(start, stop=None, step=1, dtype=None, device=None, ctx=None):
    """Evenly spaced values in [start, stop); float32 unless ``dtype`` says otherwise (MXNet)."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ZeroStepError(f"arange: step must not be zero (got step={step!r})")
    dtype = dt.as_dtype(dtype) or dt.default_float
    _real_only("arange", dtype)
    n = max(0, int(_np.ceil((stop - start) / step)))
    dev = resolve_device(device, ctx)
    dt.check_device(dtype, dev)
    out = ndarray._empty((n,), dtype, dev)
    if dtype.kind in "iu":
        # NumPy's integer fill: the first value and a fixed integer delta, exact at any size
        first = int(start)
        delta = int(start + step) - first
        launch.elementwise("ramp_int", out, [first, delta], "v0 + gid * v1",
                           [dt.int64, dt.int64])
        return out
    # NumPy's float fill: first two values in the output dtype, their difference as the step
    two = _np.array([start, start + step], dtype=dtype if dtype != dt.bool_ else dt.float64)
    return _ramp(out, float(two[0]), float(two[1] - two[0]), dt.float32 if dtype.kind != "f"
                 else dtype if dtype != dt.float16 else dt.float32)


def _ramp(out, start, step, comp, floor=False):
    """out[i] = start + i * step computed in ``comp``; ``floor`` rounds down before storing."""
    c = dt.compute_ctype(comp)
    expr = f"v0 + ({c})gid * v1"
    launch.elementwise("ramp", out, [float(start), float(step)],
                       f"floor({expr})" if floor else expr, [comp, comp])
    return out


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0,
             device=None, ctx=None):
    num = int(num)
    if num < 0:
        raise ArgumentError(f"linspace: num, the number of samples, must be non-negative "
                            f"(got num={num})")
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else 0.0
    dtype = dt.as_dtype(dtype) or dt.default_float
    _real_only("linspace", dtype)
    dev = resolve_device(device, ctx)
    dt.check_device(dtype, dev)
    out = ndarray._empty((num,), dtype, dev)
    # computed in float64 where the device has it, as NumPy does; integer dtypes round down
    # (NumPy 2's rule)
    _ramp(out, start, step, dt.float64 if dev.caps.fp64 else dt.float32,
          floor=dtype.kind in "iu")
    if endpoint and num > 1:
        fill(out[num - 1:], stop)
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None, device=None, ctx=None):
    N = as_int(N, "N", "eye")
    M = N if M is None else as_int(M, "M", "eye")
    k = as_int(k, "k", "eye")
    if N < 0 or M < 0:      # (an array of negative shape would be made otherwise)
        raise ArgumentError(f"eye: negative dimensions are not allowed (N={N}, M={M})")
    dtype = dt.as_dtype(dtype) or dt.default_float
    dev = resolve_device(device, ctx)
    dt.check_device(dtype, dev)
    if dtype.kind == "c":       # the real eye, cast: the kernel writes one real value per element
        return astype(eye(N, M, k, dt.real_of(dtype), dev), dtype)
    out = ndarray._empty((N, M), dtype, dev)
    k = max(-N - 1, min(M + 1, int(k)))       # a far diagonal is empty however far: keep int64
    launch.elementwise("eye", out, [int(M), k],
                       "((gid % v0) - (gid / v0) == v1) ? 1 : 0", [dt.int64, dt.int64])
    return out


def identity(n, dtype=None, device=None, ctx=None):
    return eye(n, dtype=dtype, device=device, ctx=ctx)
