"""The elementwise ops: the table of expressions and derivatives, and the ops with more to them
(powers, complex parts, ``where``, ``clip``, rounding, in-place updates).
"""
import math


from ... import dtypes as dt
from ...autograd import graph as _state
from ...autograd.graph import check_assignable, mark_scaled as _mark_scaled, requires_grad
from ...base import ArgumentError, ShapeError
from ...ndarray import ndarray
from .. import late, launch
from ..core import array, assign, broadcast_shapes, check_out, zeros_like
from ..registry import invoke, register
from .spec import (_LN2, _LN10, EwSpec, _binary_vjp, _check_cast, _dtype_of, define,
                   _operand, _prepare, _run, _scalar_factor, _unary_vjp, _zero_vjp,
                   unbroadcast)

# --- the table ------------------------------------------------------------------------------
_FLOAT_UNARY = {
    "exp": ("exp(v0)", lambda x: exp(x)),
    "expm1": ("expm1(v0)", lambda x: exp(x)),
    "log": ("log(v0)", lambda x: reciprocal(x)),
    "log1p": ("log1p(v0)", lambda x: reciprocal(add(x, 1))),
    "log2": ("log2(v0)", lambda x: reciprocal(multiply(x, _LN2))),
    "log10": ("log10(v0)", lambda x: reciprocal(multiply(x, _LN10))),
    "sqrt": ("sqrt(v0)", lambda x: true_divide(0.5, sqrt(x))),
    "cbrt": ("cbrt(v0)", lambda x: true_divide(1.0 / 3.0, square(cbrt(x)))),
    "sin": ("sin(v0)", lambda x: cos(x)),
    "cos": ("cos(v0)", lambda x: negative(sin(x))),
    "tan": ("tan(v0)", lambda x: add(square(tan(x)), 1)),
    "arcsin": ("asin(v0)", lambda x: reciprocal(sqrt(subtract(1, square(x))))),
    "arccos": ("acos(v0)", lambda x: negative(reciprocal(sqrt(subtract(1, square(x)))))),
    "arctan": ("atan(v0)", lambda x: reciprocal(add(square(x), 1))),
    "sinh": ("sinh(v0)", lambda x: cosh(x)),
    "cosh": ("cosh(v0)", lambda x: sinh(x)),
    "tanh": ("tanh(v0)", lambda x: subtract(1, square(tanh(x)))),
    "arcsinh": ("asinh(v0)", lambda x: reciprocal(sqrt(add(square(x), 1)))),
    "arccosh": ("acosh(v0)", lambda x: reciprocal(sqrt(subtract(square(x), 1)))),
    "arctanh": ("atanh(v0)", lambda x: reciprocal(subtract(1, square(x)))),
    "degrees": ("v0 * (T)57.29577951308232", lambda x: 57.29577951308232),
    "radians": ("v0 * (T)0.017453292519943295", lambda x: 0.017453292519943295),
}

_SAME_UNARY = {
    # name: (exprs, rule, derivative or None for a zero gradient)
    "negative": ({"f": "-v0", "i": "-v0"}, "nobool", lambda x: -1),
    "positive": ({"f": "v0", "i": "v0"}, "nobool", lambda x: 1),
    "absolute": ({"f": "fabs(v0)", "i": "(v0 < 0 ? -v0 : v0)", "b": "v0"}, "same",
                 lambda x: sign(x)),
    "sign": ({"f": "(isnan(v0) ? v0 : (T)((v0 > 0) - (v0 < 0)))",
              "i": "(T)((v0 > 0) - (v0 < 0))"}, "nobool", None),
    "square": ({"f": "v0 * v0", "i": "v0 * v0"}, "bool_int8", lambda x: multiply(x, 2)),
    "reciprocal": ({"f": "(T)1 / v0", "i": "(v0 == 0 ? (T)0 : (T)1 / v0)"}, "bool_int8",
                   lambda x: negative(reciprocal(square(x)))),
    "floor": ({"f": "floor(v0)", "i": "v0"}, "same", None),
    "ceil": ({"f": "ceil(v0)", "i": "v0"}, "same", None),
    "trunc": ({"f": "trunc(v0)", "i": "v0"}, "same", None),
    "rint": ({"f": "rint(v0)", "i": "v0"}, "same", None),
    "fix": ({"f": "trunc(v0)", "i": "v0"}, "same", None),
}

_PREDICATES = {
    "isnan": {"f": "isnan(v0)", "i": "0"},
    "isinf": {"f": "isinf(v0)", "i": "0"},
    "isfinite": {"f": "isfinite(v0)", "i": "1"},
    "isposinf": {"f": "(isinf(v0) && v0 > 0)", "i": "0"},
    "isneginf": {"f": "(isinf(v0) && v0 < 0)", "i": "0"},
    "signbit": {"f": "signbit(v0)", "i": "(v0 < 0)"},
    "logical_not": {"f": "(v0 == 0)", "i": "(v0 == 0)"},
}

_COMPARE = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=",
            "greater": ">", "greater_equal": ">="}

_LOGICAL = {"logical_and": "((v0 != 0) && (v1 != 0))", "logical_or": "((v0 != 0) || (v1 != 0))",
            "logical_xor": "((v0 != 0) != (v1 != 0))"}

_BITWISE = {"bitwise_and": {"i": "v0 & v1"}, "bitwise_or": {"i": "v0 | v1"},
            "bitwise_xor": {"i": "v0 ^ v1"},
            "left_shift": {"i": "(v1 < 0 || v1 >= 8 * (T)sizeof(T)) ? (T)0 : (T)(v0 << v1)"},
            "right_shift": {"i": "(v1 < 0 || v1 >= 8 * (T)sizeof(T)) ? (v0 < 0 ? (T)-1 : (T)0)"
                                 " : (T)(v0 >> v1)"}}


_g = globals()
_CONST_DERIV = ("degrees", "radians", "negative", "positive")   # their vjps never read x


def _define_all():
    for name, (expr, deriv) in _FLOAT_UNARY.items():
        spec = EwSpec(name, {"f": expr}, "float", 1)
        _g[name] = define(spec, _unary_vjp(deriv, name not in _CONST_DERIV))
    for name, (exprs, rule, deriv) in _SAME_UNARY.items():
        spec = EwSpec(name, exprs, rule, 1)
        _g[name] = define(spec, _unary_vjp(deriv, name not in _CONST_DERIV) if deriv
                         else _zero_vjp)
    for name, exprs in _PREDICATES.items():
        _g[name] = define(EwSpec(name, exprs, "bool", 1), None)
    for name, sym in _COMPARE.items():
        _g[name] = define(EwSpec(name, f"(v0 {sym} v1)", "bool", 2), None)
    for name, expr in _LOGICAL.items():
        _g[name] = define(EwSpec(name, expr, "bool", 2), None)
    for name, exprs in _BITWISE.items():
        _g[name] = define(EwSpec(name, exprs, "shift" if "shift" in name else "int", 2), None)


_define_all()
# Expressions valid on OpenCL vector types (for float operands): the flat path may run them on
# vloadn/vstoren vectors, which is what lets CPU runtimes vectorise exp, log, tanh, ...
launch.VECTOR_SAFE.update(list(_FLOAT_UNARY) + [
    "negative", "positive", "absolute", "square", "reciprocal", "floor", "ceil", "trunc", "rint",
    "fix", "add", "subtract", "multiply", "true_divide", "maximum", "minimum", "fmax", "fmin",
    "power", "arctan2", "hypot", "copysign", "fmod", "clip"])
invert = define(EwSpec("invert", {"i": "~v0", "b": "!v0"}, "int", 1), None)
bitwise_not = bitwise_invert = invert
abs = absolute  # noqa: A001  (NumPy's name)

add = define(EwSpec("add", "v0 + v1", "same", 2),
            _binary_vjp(lambda g, a, b: g, lambda g, a, b: g, ((), ())))


subtract = define(EwSpec("subtract", "v0 - v1", "nobool", 2),
                 _binary_vjp(lambda g, a, b: g, lambda g, a, b: negative(g), ((), ())))
_multiply_vjp = _binary_vjp(lambda g, a, b: multiply(g, b), lambda g, a, b: multiply(g, a),
                            ((1,), (0,)))
_mark_scaled(_multiply_vjp, _scalar_factor)
multiply = define(EwSpec("multiply", {"f": "v0 * v1", "i": "v0 * v1", "b": "v0 && v1"}, "same", 2),
                 _multiply_vjp)
true_divide = define(
    EwSpec("true_divide", "v0 / v1", "float", 2),
    _binary_vjp(lambda g, a, b: true_divide(g, b),
                lambda g, a, b: negative(true_divide(multiply(g, a), multiply(b, b))),
                ((1,), (0, 1))))
divide = true_divide
floor_divide = define(EwSpec("floor_divide", {"f": "pyfloordiv_T(v0, v1)",
                                             "i": "floordiv_T(v0, v1)"}, "bool_int8", 2, "int"),
                     _zero_vjp)
mod = define(EwSpec("mod", {"f": "pymod_T(v0, v1)", "i": "mod_T(v0, v1)"}, "bool_int8", 2,
                   "int"),
            _binary_vjp(lambda g, a, b: g,
                        lambda g, a, b: negative(multiply(g, floor_divide(a, b))), ((), (0, 1))))
remainder = mod
fmod = define(EwSpec("fmod", {"f": "fmod(v0, v1)", "i": "(v1 == 0 ? (T)0 : v0 % v1)"},
                    "nobool", 2),
             _binary_vjp(lambda g, a, b: g,
                         lambda g, a, b: negative(multiply(g, trunc(true_divide(a, b)))),
                         ((), (0, 1))))


def _pow_da(g, a, b):
    # a Python exponent stays a Python number: a 0-d int64 array would promote float32 to float64
    bm1 = subtract(b, 1) if isinstance(b, ndarray) else b - 1
    return multiply(g, multiply(b, power(a, bm1)))


def _pow_db(g, a, b):
    # d/db a**b = a**b * log(a); defined as 0 where a == 0 (the limit used by NumPy-based AD)
    la = log(where(equal(a, 0), 1, a)) if isinstance(a, ndarray) else math.log(a) if a > 0 \
        else 0.0
    return multiply(g, multiply(power(a, b), la))


power = define(EwSpec("power", {"f": "pow(v0, v1)", "i": "ipow_T(v0, v1)"}, "bool_int8", 2,
                     "int"),
              _binary_vjp(_pow_da, _pow_db))
maximum = define(EwSpec("maximum", {"f": "((v0 >= v1 || isnan(v0)) ? v0 : v1)",
                                   "i": "((v0 >= v1) ? v0 : v1)"}, "same", 2),
                _binary_vjp(lambda g, a, b: multiply(g, greater_equal(a, b)),
                            lambda g, a, b: multiply(g, less(a, b))))
minimum = define(EwSpec("minimum", {"f": "((v0 <= v1 || isnan(v0)) ? v0 : v1)",
                                   "i": "((v0 <= v1) ? v0 : v1)"}, "same", 2),
                _binary_vjp(lambda g, a, b: multiply(g, less_equal(a, b)),
                            lambda g, a, b: multiply(g, greater(a, b))))
fmax = define(EwSpec("fmax", {"f": "fmax(v0, v1)", "i": "((v0 >= v1) ? v0 : v1)"}, "same", 2),
             _binary_vjp(lambda g, a, b: multiply(g, logical_or(greater_equal(a, b), isnan(b))),
                         lambda g, a, b: multiply(g, logical_not(
                             logical_or(greater_equal(a, b), isnan(b))))))
fmin = define(EwSpec("fmin", {"f": "fmin(v0, v1)", "i": "((v0 <= v1) ? v0 : v1)"}, "same", 2),
             _binary_vjp(lambda g, a, b: multiply(g, logical_or(less_equal(a, b), isnan(b))),
                         lambda g, a, b: multiply(g, logical_not(
                             logical_or(less_equal(a, b), isnan(b))))))


def _sign_bit(b):
    """+1 or -1 from b's sign bit (what copysign transfers), for arrays and Python numbers."""
    return sign(copysign(1.0, b)) if isinstance(b, ndarray) else math.copysign(1.0, b)


def _den(a, b):
    return add(multiply(a, a), multiply(b, b))


arctan2 = define(EwSpec("arctan2", {"f": "atan2(v0, v1)"}, "float", 2),
                _binary_vjp(lambda g, a, b: true_divide(multiply(g, b), _den(a, b)),
                            lambda g, a, b: negative(true_divide(multiply(g, a), _den(a, b)))))
hypot = define(EwSpec("hypot", {"f": "hypot(v0, v1)"}, "float", 2),
              _binary_vjp(lambda g, a, b: multiply(g, true_divide(a, hypot(a, b))),
                          lambda g, a, b: multiply(g, true_divide(b, hypot(a, b)))))
copysign = define(EwSpec("copysign", {"f": "copysign(v0, v1)"}, "float", 2),
                 _binary_vjp(lambda g, a, b: multiply(g, multiply(sign(a), _sign_bit(b))), None))


conjugate = define(EwSpec("conjugate", {"f": "v0", "i": "v0"}, "same", 1),
                  _unary_vjp(lambda x: 1, False))
conj = conjugate


def _part(x, k):
    if not isinstance(x, ndarray):
        x = array(x)
    if x.dtype.kind != "c":
        # NumPy: the real part of a real array is the array, its imaginary part zeros
        return x if k == 0 else zeros_like(x)
    # a view of one lane: the parts are interleaved, so element strides double
    return ndarray._make(x._storage, x.shape, tuple(2 * s for s in x._strides),
                         2 * x._offset + k, dt.real_of(x.dtype))


def real(x):
    """The real part of ``x``: for a complex array a writable view, as in NumPy."""
    return _part(x, 0)


def imag(x):
    """The imaginary part of ``x``: for a complex array a writable view, as in NumPy."""
    return _part(x, 1)


# --- where and clip --------------------------------------------------------------------------
class _WhereSpec(EwSpec):
    def dtypes(self, operands):
        t = dt.result_type(*[_dtype_of(o) for o in operands[1:]])
        return t, t


_where_spec = _WhereSpec("where", "(v0 != 0) ? v1 : v2", "same", 3)


def _where_fwd(ctx, c, a, b):
    if ctx.needs is not None:   # the vjp reads only the condition, and the branches' shapes
        ctx.save(c if isinstance(c, ndarray) else None)
        ctx.cond = None if isinstance(c, ndarray) else c
        ctx.shapes = tuple(o.shape if isinstance(o, ndarray) else None for o in (a, b))
    compute, out_dtype = _where_spec.dtypes((c, a, b))
    shape = broadcast_shapes(*[o.shape for o in (c, a, b) if isinstance(o, ndarray)])
    dev = next(o for o in (c, a, b) if isinstance(o, ndarray)).device
    dt.check_device(out_dtype, dev)
    out = ndarray._empty(shape, out_dtype, dev)
    ops_ = [c if isinstance(c, ndarray) else bool(c), a, b]    # (launch converts scalars)
    cd = c.dtype if isinstance(c, ndarray) else dt.bool_
    launch.elementwise("where", out, ops_, "(v0 != 0) ? v1 : v2", [cd, compute, compute])
    return out


def _where_bwd(ctx, g):
    (c,) = ctx.saved
    cond = c if c is not None else ctx.cond
    _, na, nb = ctx.needs
    ga = unbroadcast(where(cond, g, 0), ctx.shapes[0]) if na else None
    gb = unbroadcast(where(cond, 0, g), ctx.shapes[1]) if nb else None
    return None, ga, gb


_where_op = register("where", _where_fwd, _where_bwd)


def where(condition, x=None, y=None):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (broadcast together)."""
    if x is None and y is None:
        return late.nonzero(condition)
    if x is None or y is None:
        raise ArgumentError("where: either both or neither of x and y should be given")
    args = _prepare([condition, x, y], "where")
    if not any(isinstance(a, ndarray) for a in args):
        args[1] = array(args[1])
    return invoke(_where_op, args)


def _clip_fwd(ctx, a, lo, hi):
    ctx.save(a, lo if isinstance(lo, ndarray) else None, hi if isinstance(hi, ndarray) else None)
    ctx.bounds = (lo, hi)
    ops_ = [a]
    parts = "v0"
    k = 1
    if lo is not None:
        ops_.append(lo)
        parts = f"(({parts}) < v{k} ? v{k} : ({parts}))"
        k += 1
    if hi is not None:
        ops_.append(hi)
        parts = f"(({parts}) > v{k} ? v{k} : ({parts}))"
    spec = EwSpec("clip", parts, "same", len(ops_))
    return _run(spec, ops_)


def _clip_bwd(ctx, g):
    a = ctx.saved[0]
    lo, hi = ctx.bounds
    mask = None
    if lo is not None:
        mask = greater_equal(a, lo)
    if hi is not None:
        m2 = less_equal(a, hi)
        mask = m2 if mask is None else logical_and(mask, m2)
    na, nlo, nhi = ctx.needs
    # bounds may broadcast a to a larger result: its gradient is summed back to a's shape
    ga = unbroadcast(multiply(g, mask) if mask is not None else g, a.shape) if na else None
    glo = unbroadcast(multiply(g, less(a, lo)), lo.shape) if nlo else None
    ghi = unbroadcast(multiply(g, greater(a, hi)), hi.shape) if nhi else None
    return ga, glo, ghi


_clip_op = register("clip", _clip_fwd, _clip_bwd)


def clip(a, a_min=None, a_max=None, out=None):
    """Limit the values of ``a`` to [a_min, a_max]; the gradient passes where a is inside."""
    if a_min is None and a_max is None:
        raise ArgumentError("clip: one of a_min and a_max must be given")
    # None means "no bound": only the given bounds are operands
    given = iter(_prepare([a] + [b for b in (a_min, a_max) if b is not None], "clip"))
    a = next(given)
    lo = next(given) if a_min is not None else None
    hi = next(given) if a_max is not None else None
    if not isinstance(a, ndarray):
        a = array(a)
    if out is not None:
        ops_ = [x for x in (a, lo, hi) if x is not None]
        check_out("clip", out, broadcast_shapes(*[x.shape for x in ops_ if
                                                  isinstance(x, ndarray)]),
                  dt.result_type(*[_dtype_of(x) for x in ops_]), a.device)
    res = invoke(_clip_op, [a, lo, hi])
    if out is not None:
        return assign(out, res)
    return res


def round(a, decimals=0, out=None):  # noqa: A001  (NumPy's name)
    """Round half to even, as NumPy does, to ``decimals`` places."""
    from ..args import as_int
    decimals = as_int(decimals, "decimals", "round")
    if decimals == 0:
        return rint(a, out=out)
    try:
        scale = 10.0 ** decimals
    except OverflowError:
        from ...base import ScalarConversionError
        raise ScalarConversionError(f"round: decimals={decimals} is out of range (10 ** "
                                    "decimals overflows a float)") from None
    return true_divide(rint(multiply(a, scale)), scale, out=out)


around = round_ = round


# --- in place --------------------------------------------------------------------------------
def inplace(fn, x, other):
    """``x op= other``: writes into ``x`` and, when recording, rebinds ``x`` to the new node."""
    check_assignable(x, f"x {_AUGMENTED.get(fn.__name__, fn.__name__)}= y")
    if _state.is_recording() and requires_grad(other):
        res = fn(x, other)
        if res.shape != x.shape:
            raise ShapeError(f"non-broadcastable output operand with shape {x.shape} doesn't "
                             f"match the broadcast shape {res.shape}")
        _check_cast(fn.__name__, res.dtype, x.dtype)
        assign(x, res)
        x._ag_node, x._ag_index = res._ag_node, res._ag_index
        return x
    other = _operand(other)
    if isinstance(other, ndarray) and broadcast_shapes(x.shape, other.shape) != x.shape:
        raise ShapeError(f"non-broadcastable output operand with shape {x.shape} doesn't match "
                         f"the broadcast shape {broadcast_shapes(x.shape, other.shape)}")
    if _overlaps(x, other) and (other._offset, other._strides) != (x._offset, x._strides):
        res = fn(x, other)          # aliasing views: compute fully before writing
        _check_cast(fn.__name__, res.dtype, x.dtype)
        assign(x, res)
    else:
        fn(x, other, out=x)
    return x


_AUGMENTED = {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/",
              "floor_divide": "//", "mod": "%", "power": "**", "bitwise_and": "&",
              "bitwise_or": "|", "bitwise_xor": "^", "left_shift": "<<", "right_shift": ">>"}


def _overlaps(x, other):
    return isinstance(other, ndarray) and other._storage is x._storage


__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and getattr(v, "__module__", "").startswith(__package__)
                 and not n.startswith("_") and n not in ("EwSpec", "inplace", "unbroadcast"))


late.bind(multiply=multiply)
