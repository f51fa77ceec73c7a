"""How an elementwise op is defined and called: ``EwSpec`` (expression per dtype kind, dtype
rule, vjp), the per-signature plan, the record of a call (``_dispatch``), the launch (``_run``)
and the recording of its node, and the helpers vjps share. The kernels are the elementwise
family of ``ops.launch``.
"""
import math
import numbers

import numpy as _np

from ... import dtypes as dt
from ...autograd.graph import OpContext
from ...autograd.graph import flags as _flags
from ...autograd.graph import mark_scaled as _mark_scaled
from ...autograd.graph import parents_of as _parents_of
from ...autograd.graph import record_node as _record_node
from ...base import ArgumentTypeError, AutogradError, DTypeError, ShapeError
from ...codegen.render import cl_source, typed
from ...ndarray import ndarray
from ...runtime import default_device
from .. import late, launch
from ..core import array, broadcast_shapes, copy_into, same_device
from ..registry import Call, register


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
    """The complex helpers for float2 (complex64) or double2 (complex128): arithmetic
    (complex.cl) and the elementary functions (complex_math.cl, instantiated by naming its
    vector and part types). Its functions are ``static``: the unused ones cost no code."""
    key = (ctype, "complex")
    h = _INT_HELPERS.get(key)
    if h is None:
        part = ctype[:-1]
        h = _INT_HELPERS[key] = cl_source("complex.cl") + \
            f"\nCLGRAD_DEFINE_COMPLEX({ctype}, {part})\n" + \
            f"#define CM_C {ctype}\n#define CM_R {part}\n" + cl_source("complex_math.cl")
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
        try:
            return _np.asarray(x, dtype=dt.default_float)
        except (TypeError, ValueError) as e:    # ragged, or holding what is not a number
            from ...base import ArrayConversionError
            raise ArrayConversionError(f"an operand of type {type(x).__name__} cannot be "
                                       f"converted to an array: {e}") from None
    raise DTypeError(f"unsupported operand type {type(x).__name__}")


def _prepare(args, name):
    args = [_operand(a) for a in args]
    dev = same_device(args, name)
    if any(isinstance(a, _np.ndarray) for a in args):
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
        # 'same', 'float', 'activation', 'bool', 'int', 'shift', 'nobool', 'bool_int8'
        self.rule = rule
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
        if rule == "activation":      # floats keep their type, integers give float32
            if common == dt.bool_:
                raise DTypeError(f"{self.name} is not defined for boolean arrays")
            if common.kind != "f":
                common = dt.default_float
            return common, common
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
                 "is_complex", "checked")

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
        # (a scalar's Python type is part of the op's signature: the launch need not check it)
        sig = tuple((True, o.dtype, compute) if type(o) is ndarray else
                    (False, type(o), compute) for o in operands)
        self.ew = launch.ew_plan(spec.name, self.expr, out_dtype, sig, self.helpers)
        self.is_complex = compute.kind == "c"
        self.checked = set()    # devices known to support the dtypes (float64)


_PY_SCALARS = launch.PY_SCALARS


def _dispatch(spec, args, out=None):
    """The ``Call`` of ``spec(*args)``: one pass over the operands (``launch.operands``: device,
    shape, the flat decision, dtype signature), the op's plan for that signature and, when
    recording, each operand's place in the graph. Operands that are not clgrad arrays or Python
    scalars (NumPy arrays, lists) are uploaded first; arrays on different devices raise."""
    if out is not None and type(out) is not ndarray:   # (NumPy checks out before operands)
        raise ArgumentTypeError(f"{spec.name}: out must be a clgrad array, not "
                                f"{type(out).__name__}")
    dev, shape, flat, sig = launch.operands(args)
    if dev is None:
        if not any(type(a) is ndarray for a in args) and \
                all(type(a) in _PY_SCALARS for a in args):
            # scalars only: the first becomes an array on the default device
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
    # (the record is filled in directly: a call of Call's __init__ would cost more than the rest
    # of this function's bookkeeping)
    call = _new_call(Call)
    call.op = spec.op
    call.inputs = args
    call.device = dev
    call.parents, call.needs = _parents_of(args) if _flags.recording else _UNRECORDED
    call.shape = shape
    call.flat = flat
    call.sig = sig
    call.plan = plan
    return call


_new_call = object.__new__
_UNRECORDED = (None, None)
_empty_n = ndarray._empty_n     # (bound once: every elementwise call allocates through it)


def _run(spec, operands, out=None, call=None):
    """Forward of an elementwise op (not recorded): promote, allocate, launch. ``call``: the
    op call's record when the caller made one (``_dispatch``)."""
    if call is None:
        call = _dispatch(spec, operands, out)
    plan = call.plan
    operands = call.inputs
    if out is None:
        out, n = _empty_n(call.shape, plan.out_dtype, call.device)
        if call.flat:
            return plan.ew.run_flat(out, operands, n) if n else out
        return plan.ew.run(out, operands, False)
    if out.shape != call.shape:
        raise ShapeError(f"{spec.name}: output shape {out.shape} does not match the "
                         f"broadcast shape {call.shape} of the operands")
    _check_cast(spec.name, plan.out_dtype, out.dtype)
    out._storage.prepare_write()
    if out.dtype != plan.out_dtype:
        # out= of another dtype: NumPy's order, the result in its own dtype first (an int8
        # product wraps in int8, a float16 one rounds to float16), then cast into out's
        res, n = _empty_n(call.shape, plan.out_dtype, call.device)
        if n:
            plan.ew.run(res, operands, call.flat)
            copy_into(out, res)
        return out
    return plan.ew.run(out, operands, call.flat)


def _check_cast(name, result, target):
    """NumPy's 'same_kind' rule for writing a result into an existing array (out=, x op= y)."""
    if not _np.can_cast(result, target, "same_kind"):
        raise DTypeError(f"{name}: cannot cast the result from {result} to the output's dtype "
                         f"{target} (casting rule 'same_kind')")


def define(spec, vjp):
    """The op function of ``spec`` with ``vjp`` (None: no gradient). A vjp that reads the
    result (``vjp.saves_output``) finds it last in ``ctx.saved``, version-checked like the
    operands."""
    saves_output = getattr(vjp, "saves_output", False)

    def forward(ctx, *operands, out=None):
        if ctx.needs is not None:   # recording: keep what the vjp reads
            _no_complex_grad(spec.name, operands)
            _save_operands(ctx, operands, vjp)
            res = _run(spec, operands, out)
            if saves_output:
                _save_output(ctx, res)
            return res
        return _run(spec, operands, out)

    spec.op = register(spec.name, forward, vjp)
    nin = spec.nin

    def fn(*args, out=None, **kw):
        if len(args) != nin:
            raise ArgumentTypeError(f"{spec.name}() takes {nin} positional argument(s) "
                                    f"but {len(args)} were given")
        if kw:
            _check_ufunc_keywords(spec.name, kw)
        call = _dispatch(spec, args, out)
        recorded = call.parents is not None and vjp is not None
        if recorded:
            if out is not None:
                raise AutogradError(f"{spec.name}: out= is not supported while recording "
                                    "gradients")
            if call.plan.is_complex:    # (a complex operand makes the compute type complex)
                _no_complex_grad(spec.name, call.inputs)
            ctx = OpContext()
            ctx.needs = call.needs
            _save_operands(ctx, call.inputs, vjp)
        if out is None and call.flat:
            # _run's common case, written out here: one Python call less on every op
            plan = call.plan
            res, n = _empty_n(call.shape, plan.out_dtype, call.device)
            if n:
                # (scalar operands reach the kernel in the compute type: launch's
                # _fit_scalars converts them, for every elementwise kernel alike)
                plan.ew.run_flat(res, call.inputs, n)
        else:
            res = _run(spec, call.inputs, out, call)
            if out is not None:
                out._storage.version += 1
        if recorded:
            if saves_output:
                _save_output(ctx, res)
            _record_node(spec.name, vjp, ctx, call.inputs, (res,), call.parents)
        return res

    fn.__name__ = spec.name
    fn.__qualname__ = spec.name
    fn.__module__ = __package__      # the package the namespaces take the op from
    fn.__doc__ = f"Elementwise ``{spec.name}`` with NumPy broadcasting and promotion."
    return fn


# NumPy's ufunc keywords: accepted (MXNet code passes them) and left at their defaults' meaning
_UFUNC_KEYWORDS = frozenset(("dtype", "casting", "order", "where", "subok", "signature"))


def _check_ufunc_keywords(name, kw):
    for k in kw:
        if k not in _UFUNC_KEYWORDS:
            raise ArgumentTypeError(f"{name}() got an unexpected keyword argument '{k}'")


def _save_output(ctx, res):
    # detached: the node must not own its own output (a cycle); it shares res's storage, so
    # an in-place write to res after the call is caught like one to a saved operand
    # (versions are () when no operand was saved: one None per saved slot then)
    ctx.versions = (ctx.versions or (None,) * len(ctx.saved)) + (res._storage.version,)
    ctx.saved = ctx.saved + (res.detach(),)


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
    reshape = late.reshape
    nd = g.ndim
    pad = nd - len(shape)
    if pad < 0:
        # an assigned value may carry leading size-1 dimensions that assignment dropped
        shape = tuple(shape)
        return reshape(unbroadcast(g, shape[-pad:]), shape)
    axes = tuple(range(pad)) + tuple(i + pad for i, n in enumerate(shape)
                                     if n == 1 and g.shape[i + pad] != 1)
    r = late.sum(g, axis=axes, keepdims=True) if axes else g
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
        if sa is not None or sb is not None:    # (nothing saved: no versions to check)
            ctx.versions = (None if sa is None else sa._storage.version,
                             None if sb is None else sb._storage.version)
        ctx.scalars = (None if ta else a, None if tb else b)
        ctx.shapes = (a.shape if ta else None, b.shape if tb else None)
        return
    saved = []
    versions = []
    scalars = []
    shapes = []
    kept = False
    for o, k in zip(operands, keep):
        if type(o) is ndarray:
            if k:
                saved.append(o)
                versions.append(o._storage.version)
                kept = True
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
    if kept:
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
        return (late.multiply(g, deriv(x)),)
    vjp.uses = ((0,),) if uses_x else ((),)
    if not uses_x:      # a constant derivative: backward may defer the product (tape._Scaled)
        c = float(deriv(None))
        _mark_scaled(vjp, lambda args: c)
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


# complex64/complex128 (float2/double2 in kernels): the ops defined for complex operands; every
# other op refuses them. ``T`` is the vector type.
_COMPLEX = {
    "add": "v0 + v1", "subtract": "v0 - v1", "multiply": "cmul_T(v0, v1)",
    "true_divide": "cdiv_T(v0, v1)", "negative": "-v0", "positive": "v0",
    "conjugate": "conj_T(v0)", "absolute": "cabs_T(v0)",
    "equal": "ceq_T(v0, v1)", "not_equal": "(!ceq_T(v0, v1))",
    "isnan": "(isnan(v0.x) || isnan(v0.y))", "isinf": "(isinf(v0.x) || isinf(v0.y))",
    "isfinite": "(isfinite(v0.x) && isfinite(v0.y))",
    # elementary functions (complex_math.cl): C99 Annex G and the Array API's special values
    "exp": "cexp_T(v0)", "expm1": "cexpm1_T(v0)", "log": "clog_T(v0)",
    "log1p": "clog1p_T(v0)", "log2": "clog2_T(v0)", "log10": "clog10_T(v0)",
    "sqrt": "csqrt_T(v0)", "reciprocal": "crecip_T(v0)", "square": "csquare_T(v0)",
    "sin": "csin_T(v0)", "cos": "ccos_T(v0)", "tan": "ctan_T(v0)",
    "sinh": "csinh_T(v0)", "cosh": "ccosh_T(v0)", "tanh": "ctanh_T(v0)",
    "arcsin": "casin_T(v0)", "arccos": "cacos_T(v0)", "arctan": "catan_T(v0)",
    "arcsinh": "casinh_T(v0)", "arccosh": "cacosh_T(v0)", "arctanh": "catanh_T(v0)",
    "power": "cpow_T(v0, v1)", "sign": "csign_T(v0)",
    "rint": "(T)(rint(v0.x), rint(v0.y))",      # the standard's round: each part, half to even
}
