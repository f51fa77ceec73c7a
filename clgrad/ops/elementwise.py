"""Elementwise ops: one table of (expression per dtype kind, dtype rule, vjp), one kernel family.

Each op's expression is OpenCL C over ``v0, v1, ...`` (the inputs converted to the compute type
``T``). Python scalars travel as kernel arguments, never as device arrays. vjps are written with
these same ops, so they are recorded when a backward pass builds a graph (``create_graph``).
"""
import math
import numbers

import numpy as _np

from .. import dtypes as dt
from ..autograd import graph as _state
from ..autograd.graph import OpContext
from ..autograd.graph import flags as _flags
from ..autograd.graph import parents_of as _parents_of
from ..autograd.graph import record_node as _record_node
from ..base import DTypeError, MXNetError, ShapeError
from ..codegen.render import cl_source, typed
from ..ndarray import ndarray
from . import launch
from .core import array, broadcast_shapes, same_device, zeros_like
from .registry import Call, invoke, register

_INT_HELPERS = {}


def _helpers_for(ctype, kind):
    """Per-type helper definitions (integer floor-div/mod/pow, float Python-style mod)."""
    key = (ctype, kind)
    h = _INT_HELPERS.get(key)
    if h is None:
        if kind == "int":
            h = cl_source("intmath.cl") + f"\nCLGRAD_DEFINE_INTMATH({ctype})\n"
        else:
            h = cl_source("intmath.cl") + f"\nCLGRAD_DEFINE_FMOD({ctype})\n"
        _INT_HELPERS[key] = h
    return h


def _complex_helpers(ctype):
    """The complex arithmetic helpers for float2 (complex64) or double2 (complex128)."""
    key = (ctype, "complex")
    h = _INT_HELPERS.get(key)
    if h is None:
        part = ctype[:-1]
        h = _INT_HELPERS[key] = cl_source("complex.cl") + \
            f"\nCLGRAD_DEFINE_COMPLEX({ctype}, {part})\n"
    return h


# --- operand preparation ---------------------------------------------------------------------
def _operand(x):
    if isinstance(x, ndarray):
        return x
    if isinstance(x, (bool, _np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, numbers.Complex):
        return complex(x)
    if isinstance(x, _np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        return _np.asarray(x, dtype=dt.default_float) if not isinstance(x, _np.ndarray) else x
    raise DTypeError(f"unsupported operand type {type(x).__name__}")


def _prepare(args, name):
    args = [_operand(a) for a in args]
    dev = same_device(args, name)
    if any(isinstance(a, _np.ndarray) for a in args):
        from ..runtime import default_device
        dev = dev or default_device()
        args = [array(a, device=dev) if isinstance(a, _np.ndarray) else a for a in args]
    return args


def _dtype_of(x):
    return x.dtype if isinstance(x, ndarray) else x


# --- op definitions --------------------------------------------------------------------------
class EwSpec:
    """How one elementwise op computes: expression, dtype rule, optional vjp."""

    __slots__ = ("name", "exprs", "rule", "nin", "helper", "op", "plans")

    def __init__(self, name, exprs, rule, nin, helper=None):
        self.name = name
        self.exprs = exprs      # dict: 'f' (float), 'i' (int), 'b' (bool) -> expr, or str
        self.rule = rule        # 'same', 'float', 'bool', 'int', 'shift', 'nobool', 'bool_int8'
        self.nin = nin
        self.helper = helper    # None, 'int' (integer helpers), 'fmod' (float helpers)
        self.op = None
        self.plans = {}         # operand signature -> _Plan

    def dtypes(self, operands):
        """(compute dtype, output dtype) for these operands."""
        common = dt.result_type(*[_dtype_of(o) for o in operands])
        rule = self.rule
        if common.kind == "c":
            if self.name not in _COMPLEX:
                raise DTypeError(f"{self.name} is not supported for complex arrays ({common})")
            if rule == "bool":
                return common, dt.bool_
            return common, dt.real_of(common) if self.name == "absolute" else common
        if rule == "float":
            if common.kind != "f":
                common = dt.default_float
            return common, common
        if rule == "bool":
            return common, dt.bool_
        if rule in ("int", "shift"):
            if common.kind not in "iub":
                raise DTypeError(f"{self.name} is only defined for integer and boolean arrays, "
                                 f"not {common}")
            if rule == "shift" and common == dt.bool_:
                return dt.int8, dt.int8     # as NumPy: shifting booleans gives int8
            return common, common
        if rule == "nobool" and common == dt.bool_:
            raise DTypeError(f"{self.name} is not supported for boolean arrays")
        if rule == "bool_int8" and common == dt.bool_:
            return dt.int8, dt.int8         # as NumPy: these ops compute booleans as int8
        return common, common

    def expr(self, compute):
        e = self.exprs
        if compute.kind == "c":
            text = _COMPLEX.get(self.name)
            if text is None:
                raise DTypeError(f"{self.name} is not supported for complex arrays ({compute})")
        elif isinstance(e, str):
            text = e
        else:
            k = "f" if compute.kind == "f" else ("b" if compute == dt.bool_ else "i")
            text = e.get(k) or e.get("i" if k == "b" else k)
            if text is None:
                raise DTypeError(f"{self.name} is not supported for {compute} arrays")
        return typed(text, dt.compute_ctype(compute))


class _Plan:
    """What one op needs for one operand signature: dtypes, expression, helpers, and the
    launch plan of its kernel family (all worked out once, on the first call)."""

    __slots__ = ("compute", "out_dtype", "expr", "helpers", "computes", "fp64", "ew",
                 "convert", "is_complex", "checked")

    def __init__(self, spec, operands):
        compute, out_dtype = spec.dtypes(operands)
        self.compute = compute
        self.out_dtype = out_dtype
        self.expr = spec.expr(compute)
        self.helpers = ""
        if compute.kind == "c":
            self.helpers = _complex_helpers(dt.compute_ctype(compute))
        elif spec.helper:
            self.helpers = _helpers_for(dt.compute_ctype(compute),
                                        "fmod" if compute.kind == "f" else "int")
        self.computes = [compute] * len(operands)
        self.fp64 = dt.float64 in (compute, out_dtype) or dt.complex128 in (compute, out_dtype)
        sig = tuple((True, o.dtype, compute) if type(o) is ndarray else (False, None, compute)
                    for o in operands)
        self.ew = launch.ew_plan(spec.name, self.expr, out_dtype, sig, self.helpers)
        # whether a scalar operand needs converting to the compute type's Python type (a float
        # operand of a float op goes to the kernel as it is); the signature fixes their types
        py = _PY_TYPE_OF_KIND.get(compute.kind, int) if compute != dt.bool_ else bool
        self.convert = any(type(o) is not ndarray and type(o) is not py for o in operands)
        self.is_complex = compute.kind == "c"
        self.checked = set()    # devices known to support the dtypes (float64)


_PY_TYPE_OF_KIND = {"f": float, "c": complex}


_PY_SCALARS = launch.PY_SCALARS


def _dispatch(spec, args, out=None):
    """The ``Call`` of ``spec(*args)``: one pass over the operands (``launch.operands``: device,
    shape, the flat decision, dtype signature), the op's plan for that signature and, when
    recording, each operand's place in the graph. Operands that are not clgrad arrays or Python
    scalars (NumPy arrays, lists) are uploaded first; arrays on different devices raise."""
    dev, shape, flat, sig = launch.operands(args)
    if dev is None:
        if not any(type(a) is ndarray for a in args) and \
                all(type(a) in _PY_SCALARS for a in args):
            # scalars only: the first becomes an array on the default device
            from ..runtime import default_device
            args = list(args)
            args[0] = array(args[0], device=default_device(),
                            dtype=dt.result_type(*args) if spec.nin > 1 else None)
        else:
            args = _prepare(args, spec.name)        # uploads; raises for mixed devices
        return _dispatch(spec, args, out)
    plan = spec.plans.get(sig)
    if plan is None:
        plan = spec.plans[sig] = _Plan(spec, args)
    if plan.fp64 and dev not in plan.checked:
        dt.check_device(dt.float64, dev)
        plan.checked.add(dev)
    if shape is None:
        shape = broadcast_shapes(*[a.shape for a in args if type(a) is ndarray])
    if out is not None:
        same_device(list(args) + [out], spec.name)
        flat = flat and out.shape == shape and out._is_c_contiguous()
    return Call(spec.op, args, dev, _parents_of(args) if _flags.recording else _UNRECORDED,
                shape, flat, sig, plan)


_UNRECORDED = (None, None)


def _run(spec, operands, out=None, call=None):
    """Forward of an elementwise op (not recorded): promote, allocate, launch. ``call``: the
    op call's record when the caller made one (``_dispatch``)."""
    if call is None:
        call = _dispatch(spec, operands, out)
    plan = call.plan
    operands = call.inputs
    if plan.convert:
        operands = _converted(operands, plan.compute)
    if out is None:
        out, n = ndarray._empty_n(call.shape, plan.out_dtype, call.device)
        if call.flat:
            return plan.ew.run_flat(out, operands, n) if n else out
        return plan.ew.run(out, operands, False)
    if out.shape != call.shape:
        raise ShapeError(f"{spec.name}: output shape {out.shape} does not match the "
                         f"broadcast shape {call.shape} of the operands")
    _check_cast(spec.name, plan.out_dtype, out.dtype)
    ew = plan.ew
    if out.dtype != plan.out_dtype:     # out= of another dtype: stored in its type
        ew = launch.ew_plan(spec.name, plan.expr, out.dtype, ew.sig, plan.helpers)
    return ew.run(out, operands, call.flat)


def _check_cast(name, result, target):
    """NumPy's 'same_kind' rule for writing a result into an existing array (out=, x op= y)."""
    if not _np.can_cast(result, target, "same_kind"):
        raise DTypeError(f"{name}: cannot cast the result from {result} to the output's dtype "
                         f"{target} (casting rule 'same_kind')")


def _converted(operands, compute):
    """``operands`` with the scalars converted to the compute type's Python type."""
    return [o if type(o) is ndarray else _scalar_in(o, compute) for o in operands]


def _scalar_in(v, compute):
    if compute.kind == "c":
        return complex(v)       # pyopencl passes it as a float2/double2 argument
    if compute.kind == "f":
        return float(v)
    if compute == dt.bool_:
        return bool(v)
    return int(v)


def _make(spec, vjp):
    def forward(ctx, *operands, out=None):
        if ctx.needs is not None:   # recording: keep what the vjp reads
            _no_complex_grad(spec.name, operands)
            _save_operands(ctx, operands, vjp)
        return _run(spec, operands, out)

    spec.op = register(spec.name, forward, vjp)
    nin = spec.nin

    def fn(*args, out=None, **kw):
        if len(args) != nin:
            raise TypeError(f"{spec.name}() takes {nin} positional argument(s) "
                            f"but {len(args)} were given")
        call = _dispatch(spec, args, out)
        if call.parents is None or vjp is None:
            res = _run(spec, call.inputs, out, call)
            if out is not None:
                out._storage.version += 1
            return res
        if out is not None:
            raise MXNetError(f"{spec.name}: out= is not supported while recording gradients")
        if call.plan.is_complex:        # (a complex operand makes the compute type complex)
            _no_complex_grad(spec.name, call.inputs)
        ctx = OpContext()
        ctx.needs = call.needs
        _save_operands(ctx, call.inputs, vjp)
        res = _run(spec, call.inputs, None, call)
        _record_node(spec.name, vjp, ctx, call.inputs, (res,), call.parents)
        return res

    fn.__name__ = spec.name
    fn.__qualname__ = spec.name
    fn.__doc__ = f"Elementwise ``{spec.name}`` with NumPy broadcasting and promotion."
    return fn


def _no_complex_grad(name, operands):
    """Gradients are defined for real arrays only: refuse to record complex ones."""
    for o in operands:
        if type(o) is complex or (type(o) is ndarray and o.dtype.kind == "c"):
            raise DTypeError(f"{name}: autograd does not support complex arrays or scalars")


# --- vjp helpers -----------------------------------------------------------------------------
def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the reverse of broadcasting), as a recorded op."""
    if g.shape == tuple(shape):
        return g
    from .reduce import sum as _sum
    from .shape import reshape
    nd = g.ndim
    pad = nd - len(shape)
    if pad < 0:
        # an assigned value may carry leading size-1 dimensions that assignment dropped
        shape = tuple(shape)
        return reshape(unbroadcast(g, shape[-pad:]), shape)
    axes = tuple(range(pad)) + tuple(i + pad for i, n in enumerate(shape)
                                     if n == 1 and g.shape[i + pad] != 1)
    r = _sum(g, axis=axes, keepdims=True) if axes else g
    return reshape(r, shape)


def _save_operands(ctx, operands, vjp):
    """Save only the operands the vjp reads for the inputs that need a gradient.

    Saving less keeps less memory alive and spares false in-place errors (``y += 1`` after
    ``z = y + x`` is fine: add's vjp never reads y). ``vjp.uses[i]``: operands read for input i.
    """
    needs = ctx.needs
    keep = _KEEP.get((vjp, needs))
    if keep is None:
        keep = _keep(vjp, needs, len(operands))
    if len(operands) == 2:      # binary ops, the common case, without the loop
        a, b = operands
        ka, kb = keep
        ta, tb = type(a) is ndarray, type(b) is ndarray
        sa = a if ka and ta else None
        sb = b if kb and tb else None
        ctx.saved = (sa, sb)
        ctx.versions = (None if sa is None else sa._storage.version,
                         None if sb is None else sb._storage.version)
        ctx.scalars = (None if ta else a, None if tb else b)
        ctx.shapes = (a.shape if ta else None, b.shape if tb else None)
        return
    saved = []
    versions = []
    scalars = []
    shapes = []
    for o, k in zip(operands, keep):
        if type(o) is ndarray:
            if k:
                saved.append(o)
                versions.append(o._storage.version)
            else:
                saved.append(None)
                versions.append(None)
            scalars.append(None)
            shapes.append(o.shape)
        else:
            saved.append(None)
            versions.append(None)
            scalars.append(o)
            shapes.append(None)
    ctx.saved = tuple(saved)
    ctx.versions = tuple(versions)
    ctx.scalars = tuple(scalars)
    ctx.shapes = tuple(shapes)


def _keep(vjp, needs, n):
    """Per operand: does the vjp read it, given which inputs need a gradient (cached)."""
    kept = ()
    for i, need in enumerate(needs):
        if need:
            kept += vjp.uses[i]
    keep = _KEEP[(vjp, needs)] = tuple(k in kept for k in range(n))
    return keep


_KEEP = {}      # (vjp, needs) -> per operand: does the vjp read it


def _unary_vjp(deriv, uses_x=True):
    """vjp g * deriv(x) for unary ops (``uses_x``: whether deriv reads x)."""
    def vjp(ctx, g):
        (x,) = ctx.saved
        return (multiply(g, deriv(x)),)
    vjp.uses = ((0,),) if uses_x else ((),)
    if not uses_x:      # a constant derivative: backward may defer the product (tape._Scaled)
        c = float(deriv(None))
        vjp.scale_of = lambda args: c
    return vjp


def _scalar_factor(args):
    """The Python number one array is multiplied by (``multiply``'s vjp is then ``g * s``), or
    None when both operands are arrays."""
    a, b = args
    s = b if type(a) is ndarray else a
    t = type(s)
    if t is float or (t is int and -(1 << 53) <= s <= 1 << 53):
        return float(s)
    return None


def _zero_vjp(ctx, *gs):
    # piecewise-constant ops: no gradient flows (the tape treats None as zero)
    return (None,) * len(ctx.needs)


_zero_vjp.uses = ((), (), ())


def _binary_vjp(da, db, uses=((0, 1), (0, 1))):
    """vjp for binary ops; ``da(g, a, b)``/``db(g, a, b)`` give the unbroadcast-free grads.

    ``uses``: which operands (0: a, 1: b) ``da`` and ``db`` read; only those are saved.
    """
    def vjp(ctx, g):
        a, b = ctx.saved
        if a is None:
            a = ctx.scalars[0]
        if b is None:
            b = ctx.scalars[1]
        na, nb = ctx.needs
        ga = gb = None
        if na and da:
            ga = da(g, a, b)
            sa = ctx.shapes[0]
            if ga.shape != sa:
                ga = unbroadcast(ga, sa)
        if nb and db:
            gb = db(g, a, b)
            sb = ctx.shapes[1]
            if gb.shape != sb:
                gb = unbroadcast(gb, sb)
        return ga, gb
    vjp.uses = uses
    return vjp


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)

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

# complex64/complex128 (float2/double2 in kernels): the ops defined for complex operands; every
# other op refuses them. ``T`` is the vector type.
_COMPLEX = {
    "add": "v0 + v1", "subtract": "v0 - v1", "multiply": "cmul_T(v0, v1)",
    "true_divide": "cdiv_T(v0, v1)", "negative": "-v0", "positive": "v0",
    "conjugate": "conj_T(v0)", "absolute": "cabs_T(v0)",
    "equal": "ceq_T(v0, v1)", "not_equal": "(!ceq_T(v0, v1))",
    "isnan": "(isnan(v0.x) || isnan(v0.y))", "isinf": "(isinf(v0.x) || isinf(v0.y))",
    "isfinite": "(isfinite(v0.x) && isfinite(v0.y))",
}

_g = globals()
_CONST_DERIV = ("degrees", "radians", "negative", "positive")   # their vjps never read x


def _define_all():
    for name, (expr, deriv) in _FLOAT_UNARY.items():
        spec = EwSpec(name, {"f": expr}, "float", 1)
        _g[name] = _make(spec, _unary_vjp(deriv, name not in _CONST_DERIV))
    for name, (exprs, rule, deriv) in _SAME_UNARY.items():
        spec = EwSpec(name, exprs, rule, 1)
        _g[name] = _make(spec, _unary_vjp(deriv, name not in _CONST_DERIV) if deriv
                         else _zero_vjp)
    for name, exprs in _PREDICATES.items():
        _g[name] = _make(EwSpec(name, exprs, "bool", 1), None)
    for name, sym in _COMPARE.items():
        _g[name] = _make(EwSpec(name, f"(v0 {sym} v1)", "bool", 2), None)
    for name, expr in _LOGICAL.items():
        _g[name] = _make(EwSpec(name, expr, "bool", 2), None)
    for name, exprs in _BITWISE.items():
        _g[name] = _make(EwSpec(name, exprs, "shift" if "shift" in name else "int", 2), None)


_define_all()
# Expressions valid on OpenCL vector types (for float operands): the flat path may run them on
# vloadn/vstoren vectors, which is what lets CPU runtimes vectorise exp, log, tanh, ...
launch.VECTOR_SAFE.update(list(_FLOAT_UNARY) + [
    "negative", "positive", "absolute", "square", "reciprocal", "floor", "ceil", "trunc", "rint",
    "fix", "add", "subtract", "multiply", "true_divide", "maximum", "minimum", "fmax", "fmin",
    "power", "arctan2", "hypot", "copysign", "fmod", "clip"])
invert = _make(EwSpec("invert", {"i": "~v0", "b": "!v0"}, "int", 1), None)
bitwise_not = bitwise_invert = invert
abs = absolute  # noqa: A001  (NumPy's name)

add = _make(EwSpec("add", "v0 + v1", "same", 2),
            _binary_vjp(lambda g, a, b: g, lambda g, a, b: g, ((), ())))


subtract = _make(EwSpec("subtract", "v0 - v1", "nobool", 2),
                 _binary_vjp(lambda g, a, b: g, lambda g, a, b: negative(g), ((), ())))
_multiply_vjp = _binary_vjp(lambda g, a, b: multiply(g, b), lambda g, a, b: multiply(g, a),
                            ((1,), (0,)))
_multiply_vjp.scale_of = _scalar_factor
multiply = _make(EwSpec("multiply", {"f": "v0 * v1", "i": "v0 * v1", "b": "v0 && v1"}, "same", 2),
                 _multiply_vjp)
true_divide = _make(
    EwSpec("true_divide", "v0 / v1", "float", 2),
    _binary_vjp(lambda g, a, b: true_divide(g, b),
                lambda g, a, b: negative(true_divide(multiply(g, a), multiply(b, b))),
                ((1,), (0, 1))))
divide = true_divide
floor_divide = _make(EwSpec("floor_divide", {"f": "pyfloordiv_T(v0, v1)",
                                             "i": "floordiv_T(v0, v1)"}, "bool_int8", 2, "int"),
                     _zero_vjp)
mod = _make(EwSpec("mod", {"f": "pymod_T(v0, v1)", "i": "mod_T(v0, v1)"}, "bool_int8", 2,
                   "int"),
            _binary_vjp(lambda g, a, b: g,
                        lambda g, a, b: negative(multiply(g, floor_divide(a, b))), ((), (0, 1))))
remainder = mod
fmod = _make(EwSpec("fmod", {"f": "fmod(v0, v1)", "i": "(v1 == 0 ? (T)0 : v0 % v1)"},
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


power = _make(EwSpec("power", {"f": "pow(v0, v1)", "i": "ipow_T(v0, v1)"}, "bool_int8", 2,
                     "int"),
              _binary_vjp(_pow_da, _pow_db))
maximum = _make(EwSpec("maximum", {"f": "((v0 >= v1 || isnan(v0)) ? v0 : v1)",
                                   "i": "((v0 >= v1) ? v0 : v1)"}, "same", 2),
                _binary_vjp(lambda g, a, b: multiply(g, greater_equal(a, b)),
                            lambda g, a, b: multiply(g, less(a, b))))
minimum = _make(EwSpec("minimum", {"f": "((v0 <= v1 || isnan(v0)) ? v0 : v1)",
                                   "i": "((v0 <= v1) ? v0 : v1)"}, "same", 2),
                _binary_vjp(lambda g, a, b: multiply(g, less_equal(a, b)),
                            lambda g, a, b: multiply(g, greater(a, b))))
fmax = _make(EwSpec("fmax", {"f": "fmax(v0, v1)", "i": "((v0 >= v1) ? v0 : v1)"}, "same", 2),
             _binary_vjp(lambda g, a, b: multiply(g, logical_or(greater_equal(a, b), isnan(b))),
                         lambda g, a, b: multiply(g, logical_not(
                             logical_or(greater_equal(a, b), isnan(b))))))
fmin = _make(EwSpec("fmin", {"f": "fmin(v0, v1)", "i": "((v0 <= v1) ? v0 : v1)"}, "same", 2),
             _binary_vjp(lambda g, a, b: multiply(g, logical_or(less_equal(a, b), isnan(b))),
                         lambda g, a, b: multiply(g, logical_not(
                             logical_or(less_equal(a, b), isnan(b))))))


def _sign_bit(b):
    """+1 or -1 from b's sign bit (what copysign transfers), for arrays and Python numbers."""
    return sign(copysign(1.0, b)) if isinstance(b, ndarray) else math.copysign(1.0, b)


def _den(a, b):
    return add(multiply(a, a), multiply(b, b))


arctan2 = _make(EwSpec("arctan2", {"f": "atan2(v0, v1)"}, "float", 2),
                _binary_vjp(lambda g, a, b: true_divide(multiply(g, b), _den(a, b)),
                            lambda g, a, b: negative(true_divide(multiply(g, a), _den(a, b)))))
hypot = _make(EwSpec("hypot", {"f": "hypot(v0, v1)"}, "float", 2),
              _binary_vjp(lambda g, a, b: multiply(g, true_divide(a, hypot(a, b))),
                          lambda g, a, b: multiply(g, true_divide(b, hypot(a, b)))))
copysign = _make(EwSpec("copysign", {"f": "copysign(v0, v1)"}, "float", 2),
                 _binary_vjp(lambda g, a, b: multiply(g, multiply(sign(a), _sign_bit(b))), None))


conjugate = _make(EwSpec("conjugate", {"f": "v0", "i": "v0"}, "same", 1),
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
    ops_ = [c if isinstance(c, ndarray) else bool(c)] + \
        [o if isinstance(o, ndarray) else _scalar_in(o, compute) for o in (a, b)]
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
        from .indexing import nonzero
        return nonzero(condition)
    if x is None or y is None:
        raise MXNetError("where: either both or neither of x and y should be given")
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
    ga = (multiply(g, mask) if mask is not None else g) if na else None
    glo = unbroadcast(multiply(g, less(a, lo)), lo.shape) if nlo else None
    ghi = unbroadcast(multiply(g, greater(a, hi)), hi.shape) if nhi else None
    return ga, glo, ghi


_clip_op = register("clip", _clip_fwd, _clip_bwd)


def clip(a, a_min=None, a_max=None, out=None):
    """Limit the values of ``a`` to [a_min, a_max]; the gradient passes where a is inside."""
    if a_min is None and a_max is None:
        raise MXNetError("clip: one of a_min and a_max must be given")
    # None means "no bound": only the given bounds are operands
    given = iter(_prepare([a] + [b for b in (a_min, a_max) if b is not None], "clip"))
    a = next(given)
    lo = next(given) if a_min is not None else None
    hi = next(given) if a_max is not None else None
    if not isinstance(a, ndarray):
        a = array(a)
    if out is not None:
        from .core import check_out
        ops_ = [x for x in (a, lo, hi) if x is not None]
        check_out("clip", out, broadcast_shapes(*[x.shape for x in ops_ if
                                                  isinstance(x, ndarray)]),
                  dt.result_type(*[_dtype_of(x) for x in ops_]), a.device)
    res = invoke(_clip_op, [a, lo, hi])
    if out is not None:
        from .core import assign
        return assign(out, res)
    return res


def round(a, decimals=0, out=None):  # noqa: A001  (NumPy's name)
    """Round half to even, as NumPy does, to ``decimals`` places."""
    if decimals == 0:
        return rint(a, out=out)
    scale = 10.0 ** decimals
    return true_divide(rint(multiply(a, scale)), scale, out=out)


around = round_ = round


# --- in place --------------------------------------------------------------------------------
def inplace(fn, x, other):
    """``x op= other``: writes into ``x`` and, when recording, rebinds ``x`` to the new node."""
    from ..autograd.graph import LeafNode, requires_grad
    from .core import assign
    recording = _state.is_recording() and (requires_grad(x) or requires_grad(other))
    if recording:
        if type(x._ag_node) is LeafNode:
            raise MXNetError("an array with attach_grad() is being modified in place inside "
                             "autograd.record(); use an out-of-place op (x = x + y) instead")
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


def _overlaps(x, other):
    return isinstance(other, ndarray) and other._storage is x._storage


__all__ = sorted(n for n, v in list(globals().items())
                 if callable(v) and getattr(v, "__module__", None) == __name__
                 and not n.startswith("_") and n not in ("EwSpec", "inplace", "unbroadcast"))
