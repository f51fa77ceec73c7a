"""Activations: fused elementwise kernels with fused derivative kernels (each itself an op, so
higher derivatives are available), and the MXNet ``activation`` / ``leaky_relu`` front ends.
"""


from ... import dtypes as dt
from ...autograd import graph as _state
from ...base import ShapeError
from .. import launch
from ..core import same_device
from ..elementwise import (absolute, add, exp, greater, minimum, multiply, negative, sign,
                          square, subtract, tanh, true_divide, where)
from ..registry import invoke, register
from ..shape import reshape
from .common import ParameterError, _arr, _float_of, _grad_dtype, _map, _recording


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
        from ..random import draw
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
