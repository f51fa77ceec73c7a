"""The reductions clgrad knows (``_KINDS``: one entry per kind, its accumulator and its
init/map/combine/final in OpenCL C), the axis rules, and the accumulator and result dtypes.
Adding a reduction is one entry in the table.
"""
import builtins as _b


from ... import dtypes as dt
from ...base import MXNetError
from ..axes import AxisError, normalize_axes, normalize_axis  # noqa: F401  (re-exported)


class EmptyReductionError(MXNetError, ValueError):
    """A reduction without identity (max, argmax, ...) over an empty axis."""




# --- the kinds ---------------------------------------------------------------------------------
class _Kind:
    """One reduction kind: its accumulator and the four OpenCL C functions over it.

    ``decl`` declares ACC (a scalar T or a struct); ``fields`` lists the struct's C types (to
    size the partial buffer); the bodies see T (accumulator scalar), S (loaded element), OUT
    (output compute type), LO/HI (the type's extremes), ISNAN(x), ACC_FLOAT and DDOF.
    """

    __slots__ = ("name", "decl", "fields", "init", "map", "combine", "final", "identity")

    def __init__(self, name, init, map_, combine, final="return (OUT)a;", decl=None,
                 fields=None, identity=True):
        self.name = name
        self.decl = decl or "typedef T ACC;"
        self.fields = fields or ("T",)
        self.init = init
        self.map = map_
        self.combine = combine
        self.final = final
        self.identity = identity


def _scalar(name, init, map_, combine, final="return (OUT)a;", identity=True):
    return _Kind(name, f"return (ACC)({init});", f"return (ACC)({map_});",
                 f"return {combine};", final, identity=identity)


_MAXC = "(a >= b || ISNAN(a)) ? a : b"     # the first NaN propagates, as NumPy's max
_MINC = "(a <= b || ISNAN(a)) ? a : b"
_ABS = "((T)v < 0 ? -(T)v : (T)v)"


def _arg_kind(name, init, better):
    # (value, index): the first NaN wins (NumPy), then the better value, then the lower index,
    # so the result is the first occurrence whatever order the lanes combine in.
    return _Kind(
        name,
        f"ACC r; r.v = {init}; r.i = LONG_MAX; return r;",
        "ACC r; r.v = (T)v; r.i = k; return r;",
        "#if ACC_FLOAT\n"
        "    const int an = isnan(a.v), bn = isnan(b.v);\n"
        "    if (an || bn) return (an && (!bn || a.i < b.i)) ? a : b;\n"
        "#endif\n"
        f"    return ((a.v {better} b.v) || (a.v == b.v && a.i < b.i)) ? a : b;",
        "return (OUT)a.i;",
        decl="typedef struct { T v; long i; } ACC;", fields=("T", "long"), identity=False)


_KINDS = {k.name: k for k in [
    _scalar("sum", "0", "(T)v", "a + b"),
    _scalar("mean", "0", "(T)v", "a + b", "return (OUT)a / (OUT)K;"),
    _scalar("prod", "1", "(T)v", "a * b"),
    _scalar("max", "LO", "(T)v", _MAXC, identity=False),
    _scalar("min", "HI", "(T)v", _MINC, identity=False),
    _scalar("all", "1", "(v != 0)", "a && b"),
    _scalar("any", "0", "(v != 0)", "a || b"),
    _scalar("sumsq", "0", "(T)v * (T)v", "a + b"),
    _scalar("sumabs", "0", _ABS, "a + b"),
    _scalar("maxabs", "0", _ABS, _MAXC),
    _scalar("minabs", "HI", _ABS, _MINC, identity=False),
    _arg_kind("argmax", "LO", ">"),
    _arg_kind("argmin", "HI", "<"),
    # (running max, sum of exp(x - max)): one stable pass; equal maxima (also +-inf) just add
    _Kind("logsumexp",
          "ACC r; r.m = -INFINITY; r.s = 0; return r;",
          "ACC r; r.m = (T)v; r.s = 1; return r;",
          # one exp and no divergent branches (CPU runtimes vectorise across work-items)
          "const int a_hi = a.m >= b.m;\n"
          "    const T hi = a_hi ? a.m : b.m, lo = a_hi ? b.m : a.m;\n"
          "    const T e = exp(a.m == b.m ? (T)0 : lo - hi);\n"
          "    ACC r;\n"
          "    r.m = (ISNAN(a.m) || ISNAN(b.m)) ? a.m + b.m : hi;\n"
          "    r.s = a_hi ? a.s + b.s * e : b.s + a.s * e;\n"
          "    return r;",
          "return (OUT)(a.m + log(a.s));",
          decl="typedef struct { T m; T s; } ACC;", fields=("T", "T")),
]}


def _moments_kind(name, final):
    # (count, mean, M2) combined with Chan et al.'s pairwise update: one stable pass
    return _Kind(
        name,
        "ACC r; r.n = 0; r.mu = 0; r.m2 = 0; return r;",
        # m2 = 0 * v: zero, but NaN for a NaN or infinite element, so it propagates (NumPy)
        "ACC r; r.n = 1; r.mu = (T)v; r.m2 = (T)0 * (T)v; return r;",
        "if (a.n == 0) return b;\n"
        "    if (b.n == 0) return a;\n"
        "    ACC r; r.n = a.n + b.n;\n"
        "    const T d = b.mu - a.mu;\n"
        "    const T fb = (T)b.n / (T)r.n;\n"
        "    r.mu = a.mu + d * fb;\n"
        "    r.m2 = a.m2 + b.m2 + d * d * ((T)a.n * fb);\n"
        "    return r;",
        "const T dof = (T)a.n - (T)(DDOF);\n"
        f"    const T v = a.m2 / (dof > 0 ? dof : (T)0);\n    return (OUT)({final});",
        decl="typedef struct { long n; T mu; T m2; } ACC;", fields=("long", "T", "T"))


_KINDS["var"] = _moments_kind("var", "v")
_KINDS["std"] = _moments_kind("std", "sqrt(v)")

# complex accumulators are float2/double2 (re, im): sums add lanewise, a mean divides both lanes
# by K, a product multiplies as complex numbers; the other kinds are not defined for them. An
# element converts part by part (OpenCL has no cast between vector types; a real one is re + 0i).
_TO_COMPLEX = {True: "ACC r; r.x = v.x; r.y = v.y; return r;",
               False: "ACC r; r.x = v; r.y = 0; return r;"}


def _complex_kinds(src_complex):
    to_acc = _TO_COMPLEX[src_complex]
    return {
        "sum": _Kind("sum", "return (ACC)(0);", to_acc, "return a + b;"),
        "mean": _Kind("mean", "return (ACC)(0);", to_acc, "return a + b;",
                      "return (OUT)a / (OUT)K;"),
        "prod": _Kind("prod", "return (ACC)(1, 0);", to_acc,
                      "return (ACC)(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);"),
    }


_COMPLEX_KINDS = {True: _complex_kinds(True), False: _complex_kinds(False)}


def kind_spec(kind, acc, src=None):
    """The ``_Kind`` of ``kind`` for an accumulator of dtype ``acc`` over elements of ``src``."""
    if acc.kind == "c":
        spec = _COMPLEX_KINDS[src is None or src.kind == "c"].get(kind)
        if spec is None:
            raise dt.DTypeError(f"{kind} is not supported for complex arrays ({acc})")
        return spec
    return _KINDS[kind]

_LIMITS = {
    dt.float16: ("INFINITY", "-INFINITY"), dt.float32: ("INFINITY", "-INFINITY"),
    dt.float64: ("INFINITY", "-INFINITY"), dt.int8: ("127", "-128"), dt.int16: ("32767", "-32768"),
    dt.int32: ("2147483647", "(-2147483647 - 1)"),
    dt.int64: ("9223372036854775807L", "(-9223372036854775807L - 1)"),
    dt.uint8: ("255", "0"), dt.bool_: ("1", "0"),
}

_CSIZE = {"uchar": 1, "char": 1, "short": 2, "int": 4, "long": 8, "float": 4, "double": 8,
          "float2": 8, "double2": 16}


def _acc_size(kind, t):
    """sizeof(ACC) on the device (C layout: each field aligned to its size)."""
    size = align = 0
    for f in _KINDS[kind].fields:
        n = _CSIZE[t if f == "T" else f]
        size = (size + n - 1) // n * n + n
        align = _b.max(align, n)
    return (size + align - 1) // align * align


def _wide(d):
    """The accumulator for a value dtype: float16 computes in float32."""
    return dt.float32 if d == dt.float16 else d


def acc_dtype(kind, src, out_dtype=None):
    """The accumulator dtype of ``kind`` over ``src`` (with an explicit output ``out_dtype``)."""
    if kind in ("all", "any"):
        return dt.bool_
    if kind in ("max", "min", "maxabs", "minabs", "argmax", "argmin"):
        return _wide(src)
    if kind in ("var", "std", "logsumexp"):
        d = out_dtype if out_dtype is not None else src
        return _wide(d) if d.kind == "f" else dt.default_float
    # sum-like: exact integer sums in int64, float16 in float32, or the requested dtype
    d = out_dtype if out_dtype is not None else src
    if d.kind in "biu":
        return dt.int64
    return _wide(d)


def default_out_dtype(kind, src):
    """The output dtype of ``kind`` over ``src`` when none is given (NumPy's, MXNet's mean)."""
    if kind in ("all", "any"):
        return dt.bool_
    if kind in ("argmax", "argmin"):
        return dt.int64
    if kind in ("max", "min"):
        return src
    if kind in ("mean", "var", "std", "logsumexp"):
        return src if src.kind in "fc" else dt.default_float
    if kind in ("sum", "prod"):
        # MXNet's: integers keep their type (accumulated exactly in int64, then cast), booleans
        # count in int64
        return dt.int64 if src == dt.bool_ else src
    return acc_dtype(kind, src)        # sumsq/sumabs/maxabs/minabs: the accumulator
