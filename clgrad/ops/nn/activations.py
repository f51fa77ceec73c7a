"""Activations: fused elementwise kernels with fused derivative kernels (each itself an op, so
higher derivatives are available), and the MXNet ``activation`` / ``leaky_relu`` front ends.
"""


from ...autograd import graph as _state
from ...base import ShapeError
from .. import launch
from ..core import same_device
from ..elementwise import (EwSpec, absolute, add, define, exp, greater, minimum, multiply,
                           negative, sign, square, subtract, tanh, true_divide, where)
from ..shape import reshape
from .common import ParameterError, _arr, _float_of, _grad_dtype, _recording


# --- activations -------------------------------------------------------------------------------
# An activation is an elementwise spec like any other (one kernel family, one dispatch path);
# what it adds is its derivative, itself an elementwise op ``g * f'(s)`` (``s``: the input, or
# the output where that is cheaper), linear in ``g`` and, where ``d2`` is given, differentiable
# in ``s`` through clgrad ops, so gradients of any order are available. Scalar parameters
# (slope, alpha) are trailing scalar operands.
def _derivative(name, expr, d2=None, nparams=0):
    """The op ``name(g, s, *params)`` = ``expr`` and its vjp."""
    def vjp(ctx, gg):
        g, s = ctx.saved[:2]
        params = ctx.scalars[2:]
        needs = ctx.needs
        d_g = fn(gg, s, *params) if needs[0] else None
        d_s = d2(gg, g, s, *params) if d2 is not None and needs[1] else None
        return (d_g, d_s) + (None,) * nparams

    vjp.uses = ((1,), (0, 1) if d2 is not None else ()) + ((),) * nparams
    fn = define(EwSpec(name, expr, "activation", 2 + nparams), vjp)
    fn.__module__ = __package__
    return fn


def _activation(name, expr, deriv, uses="x", int_expr=None, nparams=0):
    """The op ``name(x, *params)`` = ``expr`` (``int_expr``: integer arrays keep their type;
    otherwise they give float32) with vjp ``deriv(g, s, *params)``. ``uses``: whether ``s`` is
    the input ('x') or the output ('y'); the saved output serves a plain backward, and is
    recomputed, as a recorded op, under ``create_graph``."""
    def vjp(ctx, g):
        x = ctx.saved[0]
        params = ctx.scalars[1:]
        if uses == "y":
            s = fn(x, *params) if _recording() else ctx.saved[-1]
        else:
            s = x
        return (_grad_dtype(deriv(g, s, *params), x),) + (None,) * nparams

    vjp.uses = ((0,),) + ((),) * nparams
    vjp.saves_output = uses == "y"
    spec = EwSpec(name, {"f": expr, "i": int_expr} if int_expr else expr,
                  "nobool" if int_expr else "activation", 1 + nparams)
    fn = define(spec, vjp)
    fn.__module__ = __package__
    return fn


_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946

_relu_d = _derivative("relu_backward", "(v1 > 0) ? v0 : (T)0")
# the derivative from the saved output (y > 0 where x > 0), as MXNet's backward: a captured
# graph's backward then reads the output only, so the op that made the input fuses into relu
_relu = _activation("relu", "(v0 > 0 || isnan(v0)) ? v0 : (T)0", _relu_d, uses="y",
                    int_expr="(v0 > 0) ? v0 : (T)0")

_sigmoid_d = _derivative("sigmoid_backward", "v0 * v1 * ((T)1 - v1)",
                    lambda gg, g, y: multiply(multiply(gg, g), subtract(1, multiply(y, 2))))
_sigmoid = _activation("sigmoid", "(T)1 / ((T)1 + exp(-v0))", _sigmoid_d, uses="y")


def _sig_slope(x):
    s = sigmoid(x)
    return multiply(s, subtract(1, s))


_softrelu_d = _derivative("softrelu_backward", "v0 / ((T)1 + exp(-v1))",
                     lambda gg, g, x: multiply(multiply(gg, g), _sig_slope(x)))
_softrelu = _activation("softrelu", "fmax(v0, (T)0) + log1p(exp(-fabs(v0)))", _softrelu_d)

_log_sigmoid_d = _derivative("log_sigmoid_backward", "v0 / ((T)1 + exp(v1))",
                        lambda gg, g, x: negative(multiply(multiply(gg, g), _sig_slope(x))))
_log_sigmoid = _activation("log_sigmoid", "-(fmax(-v0, (T)0) + log1p(exp(-fabs(v0))))",
                           _log_sigmoid_d)


def _softsign_d2(gg, g, x):
    den = add(absolute(x), 1)
    return multiply(multiply(gg, g), true_divide(multiply(sign(x), -2), multiply(den, square(den))))


_softsign_d = _derivative("softsign_backward", "v0 / (((T)1 + fabs(v1)) * ((T)1 + fabs(v1)))",
                     _softsign_d2)
_softsign = _activation("softsign", "v0 / ((T)1 + fabs(v0))", _softsign_d)


def _gelu_d2(gg, g, x):
    # d/dx [Phi(x) + x phi(x)] = phi(x) (2 - x^2)
    x2 = square(x)
    phi = multiply(exp(multiply(x2, -0.5)), _INV_SQRT_2PI)
    return multiply(multiply(gg, g), multiply(phi, subtract(2, x2)))


_gelu_d = _derivative("gelu_backward",
                 f"v0 * ((T)0.5 * ((T)1 + erf(v1 * (T){_SQRT1_2})) + "
                 f"v1 * exp((T)-0.5 * v1 * v1) * (T){_INV_SQRT_2PI})", _gelu_d2)
_gelu = _activation("gelu", f"(T)0.5 * v0 * ((T)1 + erf(v0 * (T){_SQRT1_2}))",
                    _gelu_d)

_leaky_d = _derivative("leaky_backward", "(v1 > 0) ? v0 : v2 * v0", nparams=1)
_leaky = _activation("leaky", "(v0 > 0) ? v0 : v1 * v0", _leaky_d, nparams=1)


def _elu_d2(gg, g, x, alpha):
    e = multiply(exp(minimum(x, 0)), alpha)    # min: no overflow in the branch not taken
    return where(greater(x, 0), 0, multiply(multiply(gg, g), e))


_elu_d = _derivative("elu_backward", "(v1 > 0) ? v0 : v0 * v2 * exp(v1)", _elu_d2, nparams=1)
_elu = _activation("elu", "(v0 > 0) ? v0 : v1 * expm1(v0)", _elu_d, nparams=1)


def _selu_d2(gg, g, x):
    e = multiply(exp(minimum(x, 0)), _SELU_LAMBDA * _SELU_ALPHA)
    return where(greater(x, 0), 0, multiply(multiply(gg, g), e))


_selu_d = _derivative("selu_backward",
                 f"v0 * ((v1 > 0) ? (T){_SELU_LAMBDA} : "
                 f"(T){_SELU_LAMBDA * _SELU_ALPHA} * exp(v1))", _selu_d2)
_selu = _activation("selu", f"(v0 > 0) ? (T){_SELU_LAMBDA} * v0 : "
                            f"(T){_SELU_LAMBDA * _SELU_ALPHA} * expm1(v0)", _selu_d)


# the activations' and their derivatives' expressions are valid on vector types (see launch)
launch.VECTOR_SAFE.update(
    n + sfx for n in ("relu", "sigmoid", "softrelu", "log_sigmoid", "softsign", "gelu", "leaky",
                      "elu", "selu") for sfx in ("", "_backward"))
launch.VECTOR_SAFE.update(("dropout", "center", "xhat", "norm_scale_shift", "norm_shift",
                           "running_update", "xhat_running"))


def relu(data):
    """max(data, 0) elementwise (NaN propagates); integer arrays keep their dtype."""
    return _relu(_arr(data))


def sigmoid(data):
    """1 / (1 + exp(-data)); integer arrays give float32."""
    return _sigmoid(_arr(data))


def softplus(data):
    """log(1 + exp(data)), computed without overflow (MXNet's ``softrelu``)."""
    return _softrelu(_arr(data))


def softsign(data):
    """data / (1 + |data|)."""
    return _softsign(_arr(data))


def gelu(data):
    """The Gaussian error linear unit, erf form: 0.5 x (1 + erf(x / sqrt(2)))."""
    return _gelu(_arr(data))


def _mish(x):
    return multiply(x, tanh(softplus(x)))


_ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": lambda x: tanh(_arr(x)),
                "softrelu": softplus, "softsign": softsign,
                "log_sigmoid": lambda x: _log_sigmoid(_arr(x)),
                "mish": lambda x: _mish(_arr(x))}


def activation(data, act_type="relu", **kwargs):
    """MXNet's Activation: ``act_type`` in relu, sigmoid, tanh, softrelu, softsign, log_sigmoid,
    mish."""
    fn = _ACTIVATIONS.get(act_type) if isinstance(act_type, str) else None
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
    return _leaky(x, (lower + upper) / 2.0)


def leaky_relu(data, gamma=None, act_type="leaky", slope=0.25, lower_bound=0.125,
               upper_bound=0.334, **kwargs):
    """MXNet's LeakyReLU: ``act_type`` leaky (x or slope*x), prelu (learned ``gamma`` per
    channel), rrelu (random slope in training), elu (slope*(exp(x)-1) below 0), selu, gelu."""
    x = _arr(data)
    if not isinstance(act_type, str):
        raise ParameterError(f"leaky_relu: act_type must be a str, got {act_type!r}")
    if act_type == "leaky":
        return _leaky(x, float(slope))
    if act_type == "elu":
        return _elu(x, float(slope))
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
