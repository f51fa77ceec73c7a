"""Neural-network ops of the npx namespace: activations, the softmax family, one_hot, dropout,
layer and batch normalisation, fully connected, embedding, convolution and pooling.

Forwards are fused kernels (the elementwise family, the softmax row kernels of
templates/softmax.cl.mako, the im2col/pool kernels) or compositions of clgrad ops. Every vjp is
written in clgrad ops, so ``autograd.grad(..., create_graph=True)`` differentiates it again. Where
a vjp has a fast form that treats forward results as constants, it is used only while nothing is
being recorded; while recording (``create_graph``) those results are recomputed from the inputs
by recorded ops, so second derivatives see them.
"""
import math
import numbers

import numpy as _np

from .. import dtypes as dt
from ..autograd import graph as _state
from ..base import DTypeError, KernelBuildError, MXNetError, ShapeError
from ..codegen import render as R
from ..runtime import tuning, vector_width
from ..ndarray import ndarray
from . import launch
from .core import array, assign, broadcast_shapes, copy_raw, same_device
from .elementwise import (absolute, add, exp, greater, less, minimum, multiply, negative, sign,
                          sqrt, square, subtract, tanh, true_divide, where)
from .indexing import pick  # noqa: F401  (npx.pick: users write -pick(log_softmax(x), label))
from .indexing import take
from .reduce import AxisError, normalize_axes, reduce_raw
from .reduce import mean as _mean
from .reduce import sum as _sum
from .registry import invoke, register
from .shape import expand_dims, reshape, transpose

__all__ = ["activation", "batch_norm", "convolution", "dropout", "embedding",
           "fully_connected", "gelu", "layer_norm", "leaky_relu", "log_softmax",
           "masked_log_softmax", "masked_softmax", "one_hot", "pick", "pooling", "relu",
           "sigmoid", "softmax", "softplus", "softsign", "tanh"]


class ParameterError(MXNetError, ValueError):
    """An op parameter out of its domain (unknown act_type, p outside [0, 1], ...)."""


# --- shared helpers ----------------------------------------------------------------------------
def _arr(x, name="data"):
    if isinstance(x, ndarray):
        return x
    if isinstance(x, (_np.ndarray, list, tuple, numbers.Number, _np.generic)):
        return array(x)
    raise DTypeError(f"{name} must be an array, got {type(x).__name__}")


def _float_of(x, name):
    """(compute dtype, output dtype) of a float-valued op: floats keep theirs, ints -> float32."""
    d = x.dtype
    if d.kind == "f":
        return d, d
    if d == dt.bool_:
        raise DTypeError(f"{name} is not defined for boolean arrays")
    return dt.default_float, dt.default_float


def _scalar(v, compute):
    return float(v) if compute.kind == "f" else int(v)


def _map(name, expr, inputs, out_dtype, compute, shape=None):
    """A new array of ``expr`` over ``inputs`` (arrays broadcast together, or scalars).

    ``expr`` is OpenCL C over v0, v1, ... in the compute type; ``T`` names that type (as in
    the elementwise table: ``render.typed``). The kernel is the elementwise family's.
    """
    arrays = [x for x in inputs if isinstance(x, ndarray)]
    dev = same_device(arrays, name)
    if shape is None:
        a0 = arrays[0].shape if arrays else ()
        shape = a0 if all(a.shape == a0 for a in arrays) else \
            broadcast_shapes(*[a.shape for a in arrays])
    if (dev, out_dtype, compute) not in _CHECKED:
        dt.check_device(out_dtype, dev)
        dt.check_device(compute, dev)
        _CHECKED.add((dev, out_dtype, compute))
    out = ndarray._empty(shape, out_dtype, dev)
    ops_ = [x if isinstance(x, ndarray) else _scalar(x, compute) for x in inputs]
    launch.elementwise(name, out, ops_, R.typed(expr, dt.compute_ctype(compute)),
                       [compute] * len(inputs))
    return out


_CHECKED = set()    # (device, dtype, dtype) pairs that passed dt.check_device


def _recording():
    return _state.is_recording()


def _grad_dtype(g, x):
    """A gradient in the dtype of the input it belongs to (ops may compute in another)."""
    return g if g.dtype == x.dtype or x.dtype.kind != "f" else g.astype(x.dtype)


# --- activations -------------------------------------------------------------------------------
class _Deriv:
    """``g * f'(s)`` as one fused kernel: the vjp of an activation (``s`` is its input or output).

    It is itself an op: linear in ``g`` (its vjp there is itself) and, where ``d2`` is given,
    differentiable in ``s`` through clgrad ops, so gradients of any order are available.
    """

    def __init__(self, name, expr, d2=None):
        self.name = name
        self.expr = expr
        self.d2 = d2
        self.op = register(name, self._fwd, self._bwd)

    def _fwd(self, ctx, g, s, params):
        ctx.save(g, s)
        ctx.params = params
        compute = dt.result_type(g.dtype, s.dtype)
        if compute.kind != "f":
            compute = dt.default_float
        return _map(self.name, self.expr, [g, s, *params], compute, compute)

    def _bwd(self, ctx, gg):
        g, s = ctx.saved
        needs = ctx.needs or (True, True)
        gg_ = self(gg, s, ctx.params) if needs[0] else None
        gs = self.d2(gg, g, s, *ctx.params) if self.d2 is not None and needs[1] else None
        return gg_, gs

    def __call__(self, g, s, params=()):
        return invoke(self.op, [g, s], params=tuple(params))


class _Activation:
    """A fused elementwise activation with a fused derivative kernel.

    ``uses`` says whether the derivative is a function of the input ('x') or of the output
    ('y'); the output is saved (detached) for the fast path and recomputed when recording.
    """

    def __init__(self, name, expr, deriv, uses="x", int_expr=None):
        self.name = name
        self.expr = expr
        self.int_expr = int_expr
        self.deriv = deriv
        self.uses = uses
        self.op = register(name, self._fwd, self._bwd)

    def raw(self, x, params=()):
        if x.dtype.kind in "iu" and self.int_expr is not None:
            return _map(self.name, self.int_expr, [x, *params], x.dtype, x.dtype)
        compute, out_dtype = _float_of(x, self.name)
        return _map(self.name, self.expr, [x, *params], out_dtype, compute)

    def _fwd(self, ctx, x, params):
        out = self.raw(x, params)
        ctx.params = params
        ctx.save(x, out.detach() if self.uses == "y" else None)
        return out

    def _bwd(self, ctx, g):
        x, y = ctx.saved
        if self.uses == "y":
            s = self(x, ctx.params) if _recording() else y
        else:
            s = x
        return (_grad_dtype(self.deriv(g, s, ctx.params), x),)

    def __call__(self, x, params=()):
        x = _arr(x)
        return invoke(self.op, [x], params=tuple(params))


_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946

_relu_d = _Deriv("relu_backward", "(v1 > 0) ? v0 : (T)0")
_relu = _Activation("relu", "(v0 > 0 || isnan(v0)) ? v0 : (T)0", _relu_d,
                    int_expr="(v0 > 0) ? v0 : (T)0")

_sigmoid_d = _Deriv("sigmoid_backward", "v0 * v1 * ((T)1 - v1)",
                    lambda gg, g, y: multiply(multiply(gg, g), subtract(1, multiply(y, 2))))
_sigmoid = _Activation("sigmoid", "(T)1 / ((T)1 + exp(-v0))", _sigmoid_d, uses="y")


def _sig_slope(x):
    s = sigmoid(x)
    return multiply(s, subtract(1, s))


_softrelu_d = _Deriv("softrelu_backward", "v0 / ((T)1 + exp(-v1))",
                     lambda gg, g, x: multiply(multiply(gg, g), _sig_slope(x)))
_softrelu = _Activation("softrelu", "fmax(v0, (T)0) + log1p(exp(-fabs(v0)))", _softrelu_d)

_log_sigmoid_d = _Deriv("log_sigmoid_backward", "v0 / ((T)1 + exp(v1))",
                        lambda gg, g, x: negative(multiply(multiply(gg, g), _sig_slope(x))))
_log_sigmoid = _Activation("log_sigmoid", "-(fmax(-v0, (T)0) + log1p(exp(-fabs(v0))))",
                           _log_sigmoid_d)


def _softsign_d2(gg, g, x):
    den = add(absolute(x), 1)
    return multiply(multiply(gg, g), true_divide(multiply(sign(x), -2), multiply(den, square(den))))


_softsign_d = _Deriv("softsign_backward", "v0 / (((T)1 + fabs(v1)) * ((T)1 + fabs(v1)))",
                     _softsign_d2)
_softsign = _Activation("softsign", "v0 / ((T)1 + fabs(v0))", _softsign_d)


def _gelu_d2(gg, g, x):
    # d/dx [Phi(x) + x phi(x)] = phi(x) (2 - x^2)
    x2 = square(x)
    phi = multiply(exp(multiply(x2, -0.5)), _INV_SQRT_2PI)
    return multiply(multiply(gg, g), multiply(phi, subtract(2, x2)))


_gelu_d = _Deriv("gelu_backward",
                 f"v0 * ((T)0.5 * ((T)1 + erf(v1 * (T){_SQRT1_2})) + "
                 f"v1 * exp((T)-0.5 * v1 * v1) * (T){_INV_SQRT_2PI})", _gelu_d2)
_gelu = _Activation("gelu", f"(T)0.5 * v0 * ((T)1 + erf(v0 * (T){_SQRT1_2}))",
                    _gelu_d)

_leaky_d = _Deriv("leaky_backward", "(v1 > 0) ? v0 : v2 * v0")
_leaky = _Activation("leaky", "(v0 > 0) ? v0 : v1 * v0", _leaky_d)


def _elu_d2(gg, g, x, alpha):
    e = multiply(exp(minimum(x, 0)), alpha)    # min: no overflow in the branch not taken
    return where(greater(x, 0), 0, multiply(multiply(gg, g), e))


_elu_d = _Deriv("elu_backward", "(v1 > 0) ? v0 : v0 * v2 * exp(v1)", _elu_d2)
_elu = _Activation("elu", "(v0 > 0) ? v0 : v1 * expm1(v0)", _elu_d)


def _selu_d2(gg, g, x):
    e = multiply(exp(minimum(x, 0)), _SELU_LAMBDA * _SELU_ALPHA)
    return where(greater(x, 0), 0, multiply(multiply(gg, g), e))


_selu_d = _Deriv("selu_backward",
                 f"v0 * ((v1 > 0) ? (T){_SELU_LAMBDA} : "
                 f"(T){_SELU_LAMBDA * _SELU_ALPHA} * exp(v1))", _selu_d2)
_selu = _Activation("selu", f"(v0 > 0) ? (T){_SELU_LAMBDA} * v0 : "
                            f"(T){_SELU_LAMBDA * _SELU_ALPHA} * expm1(v0)", _selu_d)


# the activations' and their derivatives' expressions are valid on vector types (see launch)
launch.VECTOR_SAFE.update(
    n + sfx for n in ("relu", "sigmoid", "softrelu", "log_sigmoid", "softsign", "gelu", "leaky",
                      "elu", "selu") for sfx in ("", "_backward"))
launch.VECTOR_SAFE.update(("dropout", "center", "xhat", "norm_scale_shift", "norm_shift",
                           "running_update", "xhat_running"))


def relu(data):
    """max(data, 0) elementwise (NaN propagates); integer arrays keep their dtype."""
    return _relu(data)


def sigmoid(data):
    """1 / (1 + exp(-data)); integer arrays give float32."""
    return _sigmoid(data)


def softplus(data):
    """log(1 + exp(data)), computed without overflow (MXNet's ``softrelu``)."""
    return _softrelu(data)


def softsign(data):
    """data / (1 + |data|)."""
    return _softsign(data)


def gelu(data):
    """The Gaussian error linear unit, erf form: 0.5 x (1 + erf(x / sqrt(2)))."""
    return _gelu(data)


def _mish(x):
    return multiply(x, tanh(softplus(x)))


_ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": lambda x: tanh(_arr(x)),
                "softrelu": softplus, "softsign": softsign, "log_sigmoid": _log_sigmoid,
                "mish": lambda x: _mish(_arr(x))}


def activation(data, act_type="relu", **kwargs):
    """MXNet's Activation: ``act_type`` in relu, sigmoid, tanh, softrelu, softsign, log_sigmoid,
    mish."""
    fn = _ACTIVATIONS.get(act_type)
    if fn is None:
        raise ParameterError(f"activation: unknown act_type {act_type!r} (expected one of "
                             f"{', '.join(sorted(_ACTIVATIONS))})")
    return fn(data)


def _prelu(x, gamma):
    gamma = _arr(gamma, "gamma")
    same_device([x, gamma], "leaky_relu")
    if gamma.size == 1:
        g = reshape(gamma, ())
    elif x.ndim >= 2 and gamma.ndim == 1 and gamma.shape[0] == x.shape[1]:
        g = reshape(gamma, (gamma.shape[0],) + (1,) * (x.ndim - 2))
    else:
        raise ShapeError(f"leaky_relu(prelu): gamma of shape {gamma.shape} must have one element "
                         f"or one per channel (axis 1) of data of shape {x.shape}")
    return where(greater(x, 0), x, multiply(g, x))


def _rrelu(x, lower, upper):
    if not 0 <= lower <= upper:
        raise ParameterError(f"leaky_relu(rrelu): need 0 <= lower_bound <= upper_bound, got "
                             f"{lower} and {upper}")
    if _state.is_training():
        from .random import draw
        slope = draw("uniform", x.shape, _float_of(x, "rrelu")[1], float(lower), float(upper),
                     x.device)
        return where(greater(x, 0), x, multiply(slope, x))
    return _leaky(x, ((lower + upper) / 2.0,))


def leaky_relu(data, gamma=None, act_type="leaky", slope=0.25, lower_bound=0.125,
               upper_bound=0.334, **kwargs):
    """MXNet's LeakyReLU: ``act_type`` leaky (x or slope*x), prelu (learned ``gamma`` per
    channel), rrelu (random slope in training), elu (slope*(exp(x)-1) below 0), selu, gelu."""
    x = _arr(data)
    if act_type == "leaky":
        return _leaky(x, (float(slope),))
    if act_type == "elu":
        return _elu(x, (float(slope),))
    if act_type == "selu":
        return _selu(x)
    if act_type == "gelu":
        return _gelu(x)
    if act_type == "prelu":
        if gamma is None:
            raise ParameterError("leaky_relu: act_type 'prelu' needs gamma")
        return _prelu(x, gamma)
    if act_type == "rrelu":
        return _rrelu(x, float(lower_bound), float(upper_bound))
    raise ParameterError(f"leaky_relu: unknown act_type {act_type!r} (expected one of elu, "
                         "gelu, leaky, prelu, rrelu, selu)")


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
    from .core import arange
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
    ax = normalize_axes(axis, x.ndim)
    if x.ndim == 0:
        raise AxisError(f"{name}: axis {axis} is out of bounds for array of dimension 0")
    ax = ax[0]
    t = 1.0 if temperature is None else float(temperature)
    if t == 0.0 or not math.isfinite(t):
        raise ParameterError(f"{name}: temperature must be finite and non-zero, got {t}")
    out_dtype = dt.as_dtype(dtype) or (x.dtype if x.dtype.kind == "f" else dt.default_float)
    if out_dtype.kind != "f":
        raise DTypeError(f"{name}: dtype must be a float type, got {out_dtype}")
    dt.check_device(out_dtype, x.device)
    inputs = [x]
    if use_length:
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


# --- one_hot -----------------------------------------------------------------------------------
def one_hot(data, depth=None, on_value=1.0, off_value=0.0, dtype="float32"):
    """An array of shape data.shape + (depth,): ``on_value`` at each index, ``off_value``
    elsewhere; indices outside [0, depth) give a row of ``off_value`` (as MXNet)."""
    idx = _arr(data, "indices")
    if depth is None:
        raise ParameterError("one_hot: depth is required")
    depth = int(depth)
    if depth < 0:
        raise ParameterError(f"one_hot: depth must be non-negative, got {depth}")
    dtype = dt.as_dtype(dtype)
    if idx.dtype == dt.bool_:
        raise DTypeError("one_hot: indices must be integers or floats, not bool")
    shape = idx.shape + (depth,)
    view = idx._view(shape, tuple(idx._strides) + (0,), idx._offset)
    # the flat output index's last coordinate is gid % depth (the output is C-contiguous)
    expr = "((long)v0 == gid % v1) ? v2 : v3"
    dt.check_device(dtype, idx.device)
    out = ndarray._empty(shape, dtype, idx.device)
    if out.size == 0:
        return out
    sv = [_scalar(on_value, dtype) if dtype != dt.bool_ else bool(on_value),
          _scalar(off_value, dtype) if dtype != dt.bool_ else bool(off_value)]
    comp = dtype if dtype != dt.float16 else dt.float32
    launch.elementwise("one_hot", out, [view, depth] + sv, expr,
                       [idx.dtype, dt.int64, comp, comp])
    return out


# --- dropout -----------------------------------------------------------------------------------
def _scaled_mul_fwd(ctx, x, mask, scale):
    ctx.save(mask)
    ctx.scale = scale
    compute = x.dtype
    return _map("dropout", "v0 * v1 * v2", [x, mask, scale], x.dtype, compute, shape=x.shape)


def _scaled_mul_bwd(ctx, g):
    (mask,) = ctx.saved
    return (_scaled_mul(g, mask, ctx.scale), None)


_scaled_mul_op = register("dropout", _scaled_mul_fwd, _scaled_mul_bwd)


def _scaled_mul(x, mask, scale):
    return invoke(_scaled_mul_op, [x, mask], scale=scale)


def dropout(data, p=0.5, mode="training", axes=(), cudnn_off=True, **kwargs):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Active while ``autograd.is_training()`` (or always with ``mode='always'``); otherwise the
    input is returned unchanged. ``axes`` share one mask value along those axes (variational
    dropout). The backward pass reuses the forward's mask.
    """
    x = _arr(data)
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"dropout: p must be in [0, 1], got {p}")
    if mode not in ("training", "always"):
        raise ParameterError(f"dropout: mode must be 'training' or 'always', got {mode!r}")
    if x.dtype.kind != "f":
        raise DTypeError(f"dropout: data must be a float array, got {x.dtype}")
    axes = normalize_axes(axes if axes is not None else (), x.ndim, "axes") if axes else ()
    if (mode == "training" and not _state.is_training()) or p == 0.0:
        return x
    mshape = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    from .random import draw
    mask = draw("bernoulli", mshape, x.dtype, 1.0 - p, 0.0, x.device)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return _scaled_mul(x, mask, scale)


def bernoulli(prob=None, logit=None, size=None, dtype=None, device=None, ctx=None, out=None):
    """Samples of 1 with probability ``prob`` (or sigmoid(``logit``)), else 0; float32."""
    from .random import draw
    if (prob is None) == (logit is None):
        raise ParameterError("bernoulli: give exactly one of prob and logit")
    if isinstance(prob, ndarray) or isinstance(logit, ndarray):
        p = prob if prob is not None else sigmoid(logit)
        shape = p.shape if size is None else tuple(
            (size,) if isinstance(size, numbers.Integral) else size)
        u = draw("uniform", shape, dt.float32, 0.0, 1.0, p.device)
        res = less(u, p).astype(dt.as_dtype(dtype) or dt.float32)
    else:
        pv = float(prob) if prob is not None else 1.0 / (1.0 + math.exp(-float(logit)))
        if not 0.0 <= pv <= 1.0:
            raise ParameterError(f"bernoulli: prob must be in [0, 1], got {pv}")
        res = draw("bernoulli", size, dt.as_dtype(dtype) or dt.float32, pv, 0.0, device or ctx)
    if out is not None:
        return assign(out, res)
    return res


# --- normalisation -----------------------------------------------------------------------------
def _param_view(p, ndim, axis):
    """``p`` (one value per channel) viewed to broadcast along ``axis`` of an ndim array."""
    return reshape(p, tuple(p.shape[0] if d == axis else 1 for d in range(ndim)))


def _moments(x, axes, eps):
    """(x - mean, mean, rstd, sum of squares) over ``axes`` (keepdims), in float32 or float64;
    not recorded."""
    acc = dt.float64 if x.dtype == dt.float64 else dt.float32
    K = 1
    for a in axes:
        K *= x.shape[a]
    mu = reduce_raw("mean", x, axes, acc, keepdims=True)
    xc = _map("center", "v0 - v1", [x, mu], acc, acc)
    ss = reduce_raw("sumsq", xc, axes, acc, keepdims=True)
    rstd = _map("rstd", "(T)1 / sqrt(v0 / (T)v1 + v2)", [ss, K, float(eps)], acc, acc)
    return xc, mu, rstd, ss


def _norm_stats_recorded(x, axes, eps):
    """xhat and rstd from recorded ops (for gradients of gradients)."""
    mu = _mean(x, axis=axes, keepdims=True)
    xc = subtract(x, mu)
    var = _mean(square(xc), axis=axes, keepdims=True)
    rstd = true_divide(1.0, sqrt(add(var, eps)))
    return multiply(xc, rstd), rstd


def _norm_input_grad(g, gamma_b, xhat, rstd, axes):
    """The gradient of (x - mean) * rstd * gamma with batch statistics over ``axes``."""
    gy = multiply(g, gamma_b) if gamma_b is not None else g
    m1 = _mean(gy, axis=axes, keepdims=True)
    m2 = _mean(multiply(gy, xhat), axis=axes, keepdims=True)
    return multiply(rstd, subtract(subtract(gy, m1), multiply(xhat, m2)))


def _layer_norm_fwd(ctx, x, gamma, beta, axis, eps, sink):
    xc, mu, rstd, _ = _moments(x, (axis,), eps)
    comp = xc.dtype
    xhat = _map("xhat", "v0 * v1", [xc, rstd], comp, comp)
    out = _map("norm_scale_shift", "v0 * v1 + v2",
               [xhat, _param_view(gamma, x.ndim, axis), _param_view(beta, x.ndim, axis)],
               x.dtype, comp, shape=x.shape)
    ctx.save(x, gamma, beta)
    ctx.xhat, ctx.rstd = xhat, rstd
    ctx.axis, ctx.eps = axis, eps
    if sink is not None:
        sink["mean"], sink["rstd"] = mu, rstd
    return out


def _layer_norm_bwd(ctx, g):
    x, gamma, beta = ctx.saved
    ax = ctx.axis
    if _recording():
        xhat, rstd = _norm_stats_recorded(x, (ax,), ctx.eps)
    else:
        xhat, rstd = ctx.xhat, ctx.rstd
    others = tuple(d for d in range(x.ndim) if d != ax)
    gx = ggamma = gbeta = None
    if ctx.needs is None or ctx.needs[0]:
        gx = _grad_dtype(_norm_input_grad(g, _param_view(gamma, x.ndim, ax), xhat, rstd, (ax,)),
                         x)
    if ctx.needs is None or ctx.needs[1]:
        gxh = multiply(g, xhat)
        ggamma = _grad_dtype(_sum(gxh, axis=others) if others else gxh, gamma)
    if ctx.needs is None or ctx.needs[2]:
        gbeta = _grad_dtype(_sum(g, axis=others) if others else g, beta)
    return gx, ggamma, gbeta


_layer_norm_op = register("layer_norm", _layer_norm_fwd, _layer_norm_bwd)


def _check_param(p, name, n, x, op):
    p = _arr(p, name)
    same_device([x, p], op)
    if p.shape != (n,):
        raise ShapeError(f"{op}: {name} has shape {p.shape}, expected ({n},) (one value per "
                         "channel)")
    return p


def layer_norm(data, gamma, beta, axis=-1, eps=1e-5, output_mean_var=False):
    """(x - mean) / sqrt(var + eps) * gamma + beta, with mean and var over ``axis``."""
    x = _arr(data)
    if x.dtype.kind != "f":
        raise DTypeError(f"layer_norm: data must be a float array, got {x.dtype}")
    if x.ndim == 0:
        raise AxisError("layer_norm: data must have at least one dimension")
    ax = normalize_axes(axis, x.ndim)[0]
    n = x.shape[ax]
    gamma = _check_param(gamma, "gamma", n, x, "layer_norm")
    beta = _check_param(beta, "beta", n, x, "layer_norm")
    if float(eps) < 0:
        raise ParameterError(f"layer_norm: eps must be non-negative, got {eps}")
    sink = {} if output_mean_var else None
    out = invoke(_layer_norm_op, [x, gamma, beta], axis=ax, eps=float(eps), sink=sink)
    if not output_mean_var:
        return out
    # MXNet returns the mean and the standard deviation sqrt(var + eps), keeping the axis
    std = _map("std", "(T)1 / v0", [sink["rstd"]], x.dtype, sink["rstd"].dtype)
    return out, sink["mean"].astype(x.dtype), std


def _batch_norm_fwd(ctx, x, gamma, beta, rmean, rvar, axis, eps, fix_gamma, batch, sink):
    red = tuple(d for d in range(x.ndim) if d != axis)
    comp = dt.float64 if x.dtype == dt.float64 else dt.float32
    if batch:
        xc, mu, rstd, ss = _moments(x, red, eps)
        xhat = _map("xhat", "v0 * v1", [xc, rstd], comp, comp)
        count = x.size // x.shape[axis]
        sink["mean"] = reshape(mu, (x.shape[axis],))
        sink["var"] = reshape(_map("var", "v0 / (T)v1", [ss, count], comp, comp),
                              (x.shape[axis],))
        ctx.save(x, gamma, None, None)    # the running statistics change after this forward
    else:
        rm = _param_view(rmean, x.ndim, axis)
        rv = _param_view(rvar, x.ndim, axis)
        rstd = _map("rstd", "(T)1 / sqrt(v0 + v1)", [rv, float(eps)], comp, comp)
        xhat = _map("xhat_running", "(v0 - v1) * v2", [x, rm, rstd], comp, comp)
        ctx.save(x, gamma, rmean, rvar)
    bb = _param_view(beta, x.ndim, axis)
    if fix_gamma:
        out = _map("norm_shift", "v0 + v1", [xhat, bb], x.dtype, comp)
    else:
        gb = _param_view(gamma, x.ndim, axis)
        out = _map("norm_scale_shift", "v0 * v1 + v2", [xhat, gb, bb], x.dtype, comp)
    ctx.xhat, ctx.rstd = xhat, rstd
    ctx.axis, ctx.eps, ctx.fix_gamma, ctx.batch, ctx.red = axis, eps, fix_gamma, batch, red
    return out


def _batch_norm_bwd(ctx, g):
    x, gamma, rmean, rvar = ctx.saved
    ax, red = ctx.axis, ctx.red
    needs = ctx.needs or (True,) * 5
    if _recording():
        if ctx.batch:
            xhat, rstd = _norm_stats_recorded(x, red, ctx.eps)
        else:
            rstd = true_divide(1.0, sqrt(add(_param_view(rvar, x.ndim, ax), ctx.eps)))
            xhat = multiply(subtract(x, _param_view(rmean, x.ndim, ax)), rstd)
    else:
        xhat, rstd = ctx.xhat, ctx.rstd
    gamma_b = None if ctx.fix_gamma else _param_view(gamma, x.ndim, ax)
    gx = ggamma = gbeta = None
    if needs[0]:
        if ctx.batch:
            gx = _norm_input_grad(g, gamma_b, xhat, rstd, red)
        else:
            gx = multiply(g, rstd if gamma_b is None else multiply(gamma_b, rstd))
        gx = _grad_dtype(gx, x)
    if needs[1]:
        if ctx.fix_gamma:
            from .core import zeros_like
            ggamma = zeros_like(gamma)
        else:
            gxh = multiply(g, xhat)
            ggamma = _grad_dtype(_sum(gxh, axis=red) if red else gxh, gamma)
    if needs[2]:
        gbeta = _grad_dtype(_sum(g, axis=red) if red else g, gamma)
    return gx, ggamma, gbeta, None, None


_batch_norm_op = register("batch_norm", _batch_norm_fwd, _batch_norm_bwd)


def batch_norm(x, gamma, beta, running_mean, running_var, eps=1e-3, momentum=0.9,
               fix_gamma=True, use_global_stats=False, output_mean_var=False, axis=1,
               cudnn_off=False, min_calib_range=None, max_calib_range=None, **kwargs):
    """Batch normalisation over every axis but ``axis`` (the channels).

    In training (``autograd.is_training()``, unless ``use_global_stats``) the batch's mean and
    (biased) variance normalise, and ``running_mean``/``running_var`` are updated in place as
    ``momentum * running + (1 - momentum) * batch`` (not recorded). Otherwise the running
    statistics normalise. ``fix_gamma`` uses 1 for gamma (its gradient is then 0). With
    ``output_mean_var`` also returns the mean and variance used.
    """
    x = _arr(x, "x")
    if x.dtype.kind != "f":
        raise DTypeError(f"batch_norm: data must be a float array, got {x.dtype}")
    if x.ndim == 0:
        raise AxisError("batch_norm: data must have at least one dimension")
    ax = normalize_axes(axis, x.ndim)[0]
    n = x.shape[ax]
    gamma = _check_param(gamma, "gamma", n, x, "batch_norm")
    beta = _check_param(beta, "beta", n, x, "batch_norm")
    running_mean = _check_param(running_mean, "running_mean", n, x, "batch_norm")
    running_var = _check_param(running_var, "running_var", n, x, "batch_norm")
    for p in (running_mean, running_var):
        if p.dtype.kind != "f":
            raise DTypeError(f"batch_norm: running statistics must be float arrays, got "
                             f"{p.dtype}")
    if float(eps) < 0:
        raise ParameterError(f"batch_norm: eps must be non-negative, got {eps}")
    m = float(momentum)
    if not 0.0 <= m <= 1.0:
        raise ParameterError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    batch = _state.is_training() and not use_global_stats
    if batch and x.size == 0:
        raise ShapeError("batch_norm: cannot compute batch statistics of an empty batch")
    sink = {}
    out = invoke(_batch_norm_op, [x, gamma, beta, running_mean, running_var], axis=ax,
                 eps=float(eps), fix_gamma=bool(fix_gamma), batch=batch, sink=sink)
    if batch:
        mean, var = sink["mean"], sink["var"]
        for run, new in ((running_mean, mean), (running_var, var)):
            upd = _map("running_update", "v0 * v2 + v1 * v3", [run, new, m, 1.0 - m], run.dtype,
                       run.dtype)
            assign(run, upd)
    else:
        mean, var = running_mean, running_var
    if not output_mean_var:
        return out
    return out, mean.astype(x.dtype), var.astype(x.dtype)


# --- pooling -----------------------------------------------------------------------------------
def _tuple(v, n, name, op):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    try:
        t = tuple(int(a) for a in v)
    except TypeError:
        raise ParameterError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                             f"{v!r}") from None
    if len(t) != n:
        raise ParameterError(f"{op}: {name} must have {n} values for {n}-D data, got {t}")
    return t


def _spatial_args(op, nsp, kernel, stride, pad, dilate=None):
    kernel = _tuple(kernel, nsp, "kernel", op)
    stride = _tuple(stride, nsp, "stride", op) if stride not in (None, ()) else (1,) * nsp
    pad = _tuple(pad, nsp, "pad", op) if pad not in (None, ()) else (0,) * nsp
    dilate = _tuple(dilate, nsp, "dilate", op) if dilate not in (None, ()) else (1,) * nsp
    if any(k <= 0 for k in kernel):
        raise ParameterError(f"{op}: kernel sizes must be positive, got {kernel}")
    if any(s <= 0 for s in stride):
        raise ParameterError(f"{op}: strides must be positive, got {stride}")
    if any(p < 0 for p in pad):
        raise ParameterError(f"{op}: padding must be non-negative, got {pad}")
    if any(d <= 0 for d in dilate):
        raise ParameterError(f"{op}: dilations must be positive, got {dilate}")
    return kernel, stride, pad, dilate


def _as_2d(t, fill):
    """A 1-D spatial parameter as 2-D (height 1); 2-D unchanged."""
    return t if len(t) == 2 else (fill,) + t


def _pool_kernel(dev, kind, src_dtype, dst_dtype, acc):
    key = ("pool", kind, src_dtype, dst_dtype, acc)

    def make():
        src = R.render("pool.cl.mako", prelude=R.prelude(dt.float64 in (src_dtype, dst_dtype)),
                       name=f"pool_{kind}", kind=kind, acc=dt.compute_ctype(acc),
                       src=R.Operand(True, src_dtype, acc), dst=R.Operand(True, dst_dtype, acc))
        arg_dtypes = [None, _np.int64] + [_np.int64] * 4
        if kind in ("max", "max_bwd", "gather"):
            arg_dtypes.append(None)
        arg_dtypes += [None] + [_np.int64] * 11 + [_np.int32, _np.int64]
        return launch.Kernel(dev, src, f"pool_{kind}", arg_dtypes)

    return launch.get_kernel(dev, key, make)


def _pool_launch(kind, src, argmax, out, geo):
    """Launch a pool kernel; ``geo`` = (C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, include_pad)."""
    if out.size == 0:
        return out
    dev = src.device
    acc = dt.float64 if dt.float64 in (src.dtype, out.dtype) else dt.float32
    k = _pool_kernel(dev, kind, src.dtype, out.dtype, acc)
    args = [src._storage.buffer, src._offset] + list(src._strides)
    if argmax is not None:
        args.append(argmax._storage.buffer)
    args.append(out._storage.buffer)
    args += list(geo[:11]) + [int(geo[11]), out.size]
    k(dev, out.size, *args)
    return out


def _pool_fwd(ctx, x, kind, geo):
    N = x.shape[0]
    C, H, W, OH, OW = geo[:5]
    out = ndarray._empty((N, C, OH, OW), x.dtype, x.device)
    argmax = None
    if kind == "max":
        argmax = ndarray._empty((N, C, OH, OW), dt.int32, x.device)
    _pool_launch(kind, x, argmax, out, geo)
    ctx.save(argmax)
    ctx.kind, ctx.geo, ctx.xshape = kind, geo, x.shape
    return out


def _pool_bwd(ctx, g):
    (argmax,) = ctx.saved
    if ctx.kind == "max":
        return (invoke(_pool_max_t_op, [g, argmax], geo=ctx.geo, xshape=ctx.xshape),)
    return (invoke(_pool_lin_t_op, [g], kind=ctx.kind, geo=ctx.geo, xshape=ctx.xshape),)


def _pool_max_t_fwd(ctx, g, argmax, geo, xshape):
    out = ndarray._empty(xshape, g.dtype, g.device)
    _pool_launch("max_bwd", g, argmax, out, geo)
    ctx.save(argmax)
    ctx.geo = geo
    return out


def _pool_gather_fwd(ctx, x, argmax, geo, xshape):
    out = ndarray._empty(argmax.shape, x.dtype, x.device)
    _pool_launch("gather", x, argmax, out, geo)
    ctx.save(argmax)
    ctx.geo, ctx.xshape = geo, xshape
    return out


def _pool_lin_t_fwd(ctx, g, kind, geo, xshape):
    out = ndarray._empty(xshape, g.dtype, g.device)
    _pool_launch(kind + "_bwd", g, None, out, geo)
    ctx.kind, ctx.geo = kind, geo
    return out


_pool_op = register("pooling", _pool_fwd, _pool_bwd)
# the adjoint pairs: max-pool's scatter <-> gather at the argmax, avg/sum pool <-> its transpose
_pool_max_t_op = register(
    "pooling_max_backward", _pool_max_t_fwd,
    lambda ctx, gg: (invoke(_pool_gather_op, [gg, ctx.saved[0]], geo=ctx.geo,
                            xshape=gg.shape), None))
_pool_gather_op = register(
    "pooling_gather", _pool_gather_fwd,
    lambda ctx, gg: (invoke(_pool_max_t_op, [gg, ctx.saved[0]], geo=ctx.geo,
                            xshape=ctx.xshape), None))
_pool_lin_t_op = register(
    "pooling_backward", _pool_lin_t_fwd,
    lambda ctx, gg: (invoke(_pool_op, [gg], kind=ctx.kind, geo=ctx.geo),))


def _out_size(n, k, s, p, d, ceil, op):
    span = n + 2 * p - (d * (k - 1) + 1)
    if span < 0:
        raise ShapeError(f"{op}: kernel (extent {d * (k - 1) + 1}) is larger than the padded "
                         f"input ({n + 2 * p})")
    return (span + s - 1) // s + 1 if ceil else span // s + 1


def pooling(data, kernel=None, stride=None, pad=None, pool_type="max",
            pooling_convention="valid", global_pool=False, cudnn_off=False, p_value=None,
            count_include_pad=None, layout=None, **kwargs):
    """Max, average or sum pooling over the last 1 or 2 axes of (N, C, [H,] W) data.

    ``pooling_convention`` 'valid' floors the output size, 'full' ceils it; ``global_pool``
    pools each whole plane. Average pooling divides by the window size including padding unless
    ``count_include_pad=False``. Gradients are gathered per input element (deterministic).
    """
    x = _arr(data)
    if x.ndim not in (3, 4):
        raise ShapeError(f"pooling: data must be 3-D (N, C, W) or 4-D (N, C, H, W), got shape "
                         f"{x.shape}")
    if layout not in (None, "NCW", "NCHW"):
        raise ParameterError(f"pooling: layout {layout!r} is not supported (use NCW or NCHW)")
    if pool_type not in ("max", "avg", "sum"):
        raise ParameterError(f"pooling: pool_type {pool_type!r} is not supported (use max, avg "
                             "or sum)")
    if pooling_convention not in ("valid", "full"):
        raise ParameterError(f"pooling: pooling_convention must be 'valid' or 'full', got "
                             f"{pooling_convention!r}")
    if x.dtype.kind != "f":
        raise DTypeError(f"pooling: data must be a float array, got {x.dtype}")
    nsp = x.ndim - 2
    if global_pool:
        kernel, stride, pad = x.shape[2:], (1,) * nsp, (0,) * nsp
    elif kernel is None:
        raise ParameterError("pooling: kernel is required unless global_pool=True")
    kernel, stride, pad, _ = _spatial_args("pooling", nsp, kernel, stride, pad)
    ceil = pooling_convention == "full" and not global_pool
    outs = tuple(_out_size(n, k, s, p, 1, ceil, "pooling")
                 for n, k, s, p in zip(x.shape[2:], kernel, stride, pad))
    include_pad = True if count_include_pad is None else bool(count_include_pad)
    xr = x if nsp == 2 else expand_dims(x, 2)
    K, S, P, O = _as_2d(kernel, 1), _as_2d(stride, 1), _as_2d(pad, 0), _as_2d(outs, 1)
    geo = (x.shape[1], xr.shape[2], xr.shape[3], O[0], O[1], K[0], K[1], S[0], S[1], P[0], P[1],
           include_pad)
    out = invoke(_pool_op, [xr], kind=pool_type, geo=geo)
    return out if nsp == 2 else reshape(out, out.shape[:2] + (out.shape[3],))


# --- convolution (im2col + matmul) -------------------------------------------------------------
def _im2col_kernel(dev, kind, src_dtype, dst_dtype):
    key = ("im2col", kind, src_dtype, dst_dtype)

    def make():
        src = R.render("im2col.cl.mako", prelude=R.prelude(dt.float64 in (src_dtype, dst_dtype)),
                       name=kind, kind=kind, src=R.Operand(True, src_dtype, dst_dtype),
                       dst=R.Operand(True, dst_dtype))
        arg_dtypes = [None, _np.int64] + [_np.int64] * 4 + [None] + [_np.int64] * 14
        return launch.Kernel(dev, src, kind, arg_dtypes)

    return launch.get_kernel(dev, key, make)


def _im2col_launch(kind, src, out, geo):
    """``geo`` = (C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW)."""
    if out.size == 0:
        return out
    dev = src.device
    strides = list(src._strides) + [0] * (4 - src.ndim)
    k = _im2col_kernel(dev, kind, src.dtype, out.dtype)
    k(dev, out.size, src._storage.buffer, src._offset, *strides, out._storage.buffer, *geo,
      out.size)
    return out


def _im2col_fwd(ctx, x, geo):
    C, H, W, OH, OW, KH, KW = geo[:7]
    out = ndarray._empty((x.shape[0], C * KH * KW, OH * OW), x.dtype, x.device)
    ctx.geo, ctx.xshape = geo, x.shape
    return _im2col_launch("im2col", x, out, geo)


def _col2im_fwd(ctx, cols, geo, xshape):
    out = ndarray._empty(xshape, cols.dtype, cols.device)
    ctx.geo = geo
    return _im2col_launch("col2im", cols, out, geo)


_im2col_op = register("im2col", _im2col_fwd,
                      lambda ctx, g: (invoke(_col2im_op, [g], geo=ctx.geo, xshape=ctx.xshape),))
_col2im_op = register("col2im", _col2im_fwd,
                      lambda ctx, g: (invoke(_im2col_op, [g], geo=ctx.geo),))


def convolution(data=None, weight=None, bias=None, kernel=None, stride=None, dilate=None,
                pad=None, num_filter=None, num_group=1, workspace=1024, no_bias=False,
                cudnn_tune=None, cudnn_off=False, layout=None, **kwargs):
    """1-D or 2-D convolution (cross-correlation, as MXNet) of (N, C, [H,] W) data with
    weight (num_filter, C / num_group, [KH,] KW), via im2col and matmul."""
    from .linalg import matmul
    x = _arr(data)
    w = _arr(weight, "weight")
    same_device([x, w], "convolution")
    if x.ndim not in (3, 4):
        raise ShapeError(f"convolution: data must be 3-D (N, C, W) or 4-D (N, C, H, W), got "
                         f"shape {x.shape}")
    if layout not in (None, "NCW", "NCHW"):
        raise ParameterError(f"convolution: layout {layout!r} is not supported (use NCW or "
                             "NCHW)")
    if x.dtype.kind != "f" or w.dtype.kind != "f":
        raise DTypeError(f"convolution: data and weight must be float arrays, got {x.dtype} and "
                         f"{w.dtype}")
    nsp = x.ndim - 2
    if w.ndim != x.ndim:
        raise ShapeError(f"convolution: weight must be {x.ndim}-D for {x.ndim}-D data, got shape "
                         f"{w.shape}")
    G = int(num_group)
    N, C = x.shape[:2]
    F = w.shape[0]
    if G <= 0 or C % G or F % G:
        raise ParameterError(f"convolution: num_group {G} must divide the channels ({C}) and "
                             f"the filters ({F})")
    if w.shape[1] != C // G:
        raise ShapeError(f"convolution: weight has {w.shape[1]} input channels per group, data "
                         f"has {C} channels in {G} group(s)")
    if num_filter is not None and int(num_filter) != F:
        raise ShapeError(f"convolution: num_filter {num_filter} does not match weight's "
                         f"{F} filters")
    if kernel is not None and _tuple(kernel, nsp, "kernel", "convolution") != w.shape[2:]:
        raise ShapeError(f"convolution: kernel {kernel} does not match weight's spatial shape "
                         f"{w.shape[2:]}")
    kernel, stride, pad, dilate = _spatial_args("convolution", nsp, w.shape[2:], stride, pad,
                                                dilate)
    outs = tuple(_out_size(n, k, s, p, d, False, "convolution")
                 for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilate))
    xr = x if nsp == 2 else expand_dims(x, 2)
    wr = w if nsp == 2 else expand_dims(w, 2)
    K, S, P, D, O = (_as_2d(kernel, 1), _as_2d(stride, 1), _as_2d(pad, 0), _as_2d(dilate, 1),
                     _as_2d(outs, 1))
    geo = (C, xr.shape[2], xr.shape[3], O[0], O[1], K[0], K[1], S[0], S[1], P[0], P[1], D[0],
           D[1])
    cols = invoke(_im2col_op, [xr], geo=geo)                 # (N, C*KH*KW, L)
    L = O[0] * O[1]
    kk = (C // G) * K[0] * K[1]
    if G == 1:
        out = matmul(reshape(wr, (F, kk)), cols)              # (N, F, L)
    else:
        out = matmul(reshape(wr, (G, F // G, kk)), reshape(cols, (N, G, kk, L)))
    out = reshape(out, (N, F) + outs)
    if bias is not None and not no_bias:
        b = _arr(bias, "bias")
        same_device([x, b], "convolution")
        if b.shape != (F,):
            raise ShapeError(f"convolution: bias has shape {b.shape}, expected ({F},)")
        out = add(out, reshape(b, (F,) + (1,) * nsp))
    return out


# --- fully connected and embedding -------------------------------------------------------------
def fully_connected(x, weight, bias=None, num_hidden=None, no_bias=False, flatten=True,
                    **kwargs):
    """x @ weight.T + bias, with weight (num_hidden, in_units). ``flatten`` folds every axis
    after the first into the input units; otherwise the last axis is the input units."""
    from .linalg import matmul
    x = _arr(x, "x")
    w = _arr(weight, "weight")
    same_device([x, w], "fully_connected")
    if w.ndim != 2:
        raise ShapeError(f"fully_connected: weight must be 2-D (num_hidden, in_units), got "
                         f"shape {w.shape}")
    if num_hidden is not None and int(num_hidden) != w.shape[0]:
        raise ShapeError(f"fully_connected: num_hidden {num_hidden} does not match weight's "
                         f"{w.shape[0]} rows")
    if x.ndim == 0:
        raise ShapeError("fully_connected: data must have at least one dimension")
    if flatten and x.ndim != 2:
        rest = 1
        for n in x.shape[1:]:
            rest *= n
        x = reshape(x, (x.shape[0], rest))
    if x.shape[-1] != w.shape[1]:
        raise ShapeError(f"fully_connected: data has {x.shape[-1]} input units, weight expects "
                         f"{w.shape[1]}")
    out = matmul(x, transpose(w))
    if bias is not None and not no_bias:
        b = _arr(bias, "bias")
        same_device([x, b], "fully_connected")
        if b.shape != (w.shape[0],):
            raise ShapeError(f"fully_connected: bias has shape {b.shape}, expected "
                             f"({w.shape[0]},)")
        out = add(out, b)
    return out


def embedding(data, weight, input_dim=None, output_dim=None, dtype="float32",
              sparse_grad=False, **kwargs):
    """Rows of ``weight`` (input_dim, output_dim) at the indices ``data`` (clipped to the valid
    range, as MXNet): shape data.shape + (output_dim,). The weight's gradient sums the rows'
    gradients per index deterministically (sorted keys, no atomics)."""
    idx = _arr(data)
    w = _arr(weight, "weight")
    same_device([idx, w], "embedding")
    if w.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (input_dim, output_dim), got shape "
                         f"{w.shape}")
    if input_dim is not None and int(input_dim) != w.shape[0]:
        raise ShapeError(f"embedding: input_dim {input_dim} does not match weight's "
                         f"{w.shape[0]} rows")
    if output_dim is not None and int(output_dim) != w.shape[1]:
        raise ShapeError(f"embedding: output_dim {output_dim} does not match weight's "
                         f"{w.shape[1]} columns")
    if idx.dtype == dt.bool_:
        raise DTypeError("embedding: indices must be integers or floats, not bool")
    if sparse_grad:
        raise ParameterError("embedding: sparse_grad=True is not supported")
    if w.shape[0] == 0 and idx.size:
        raise ShapeError("embedding: cannot look up indices in an empty weight")
    if idx.dtype.kind == "f":
        idx = copy_raw(idx, dt.int64)      # MXNet feeds float indices; they truncate
    # a gather whose vjp is the deterministic sorted-key scatter-add of np.take
    return take(w, idx, axis=0, mode="clip")
