"""The device self-check's probes: one kernel per storage type and vector width with one
expression per class of operation (each on its own line, into its own slice of the output), the
work-group and local-memory probes, their host references, and the program they form.
"""
from dataclasses import dataclass

import numpy as np

WIDTHS = (1, 2, 4, 8, 16)

#: What kernels do to vectors, by how compilers treat it: ``arith`` plain operators (+ - * / % << &,
#: comparisons, ``?:``, element reads and writes composed from scalars), ``math`` calls of math
#: builtins (exp, fabs, acosh, pow, ...; also any call clgrad cannot classify), ``minmax`` (min,
#: max, fmin, fmax, clamp), ``relational`` (isnan, signbit, select, ...), ``convert``
#: (convert_T, as_T), ``loadstore`` (vload_halfN / vstore_halfN).
CLASSES = ("arith", "math", "minmax", "relational", "convert", "loadstore")

_FLOAT_CLASSES = ("arith", "math", "minmax", "relational", "convert")
_INT_CLASSES = ("arith", "minmax", "convert")
#: storage kind -> (storage C type, compute C type, NumPy dtype, probed classes)
KINDS = {
    "float": ("float", "float", "float32", _FLOAT_CLASSES),
    "double": ("double", "double", "float64", _FLOAT_CLASSES),
    "int": ("int", "int", "int32", _INT_CLASSES),
    "half": ("half", "float", "float16", ("loadstore",)),
}
_COMPUTE_KIND = {"half": "float"}      # classes a kind does not probe are its compute kind's
_N = 256                                # elements per probe


def storage_kind(dtype):
    """The self-check's name for how ``dtype`` is stored: float, double, half, int or long."""
    d = np.dtype(dtype)
    if d.kind == "f":
        return {2: "half", 4: "float", 8: "double"}[d.itemsize]
    if d.kind == "c":
        return "double" if d.itemsize == 16 else "float"
    return "long" if d.itemsize == 8 else "int"


# --- the probes --------------------------------------------------------------------------------
@dataclass
class Probe:
    """One probe kernel. A vector probe computes one expression per operation class, each on its
    own source line and into its own slice of the output, so a build warning or a wrong value
    names the class; anything else that fails splits it into one probe per class."""

    name: str           # "float16", "float16 math", "work-group 4096", "local memory 65536 B"
    kernel: str
    source: str
    input: np.ndarray
    out_dtype: str
    global_size: int
    local: int          # 0: the driver chooses
    expected: np.ndarray
    tol: float
    kind: str = ""
    width: int = 0
    classes: tuple = ()     # the classes it checks (vector probes)
    lines: tuple = ()       # source line of each class, relative to the kernel's first line

    def labels(self):
        """What each result is called: "float16 math", ..., or the probe's own name."""
        return [f"{self.kind}{self.width} {c}" for c in self.classes] or [self.name]


def _vec(t, w):
    return t if w == 1 else f"{t}{w}"


_EXPR = {   # over x (the vector) with T its element type and V its vector type
    ("f", "arith"): "x * x - (x + (T)3) / (T)2 + ((x > (V)(0.25)) ? x : -x)",
    ("f", "math"): ("exp(x) + log(x + (T)2) + sqrt(x + (T)2) + fabs(x) + acosh(x + (T)2) + "
                    "tanh(x) + sin(x) + pow(x + (T)2, (V)(1.5))"),
    ("f", "minmax"): ("fmax(x, (V)(0.25)) + fmin(x, (V)(-0.25)) + max(x, (V)(0.1)) + "
                      "min(x, (V)(-0.1)) + clamp(x, (V)(-0.5), (V)(0.5))"),
    ("f", "relational"): ("select(-x, x, SEL(isgreater(x, (V)(0)))) + "
                          "(isnan(x) ? (V)(1) : (V)(0)) + (signbit(x) ? (V)(2) : (V)(0))"),
    ("f", "convert"): ("convert_V(convert_I(x * (T)100)) / (T)100 + "
                       "convert_V(convert_I_rte(x * (T)10))"),
    ("i", "arith"): "x * (T)3 + (x >> 1) - (x & (T)7) + ((x > (V)(5)) ? x : -x)",
    ("i", "minmax"): "max(x, (V)(3)) + min(x, (V)(-3)) + clamp(x, (V)(-4), (V)(4))",
    ("i", "convert"): "convert_V(convert_F(x) * 0.5f) + convert_V(convert_S(x))",
    ("h", "loadstore"): "x * 2.0f + 1.0f",
}


def _reference(kind, cls, x):
    f64 = x.astype(np.float64)
    if kind in ("float", "double"):
        t = x.dtype.type
        if cls == "arith":
            return f64 * f64 - (f64 + 3) / 2 + np.where(f64 > 0.25, f64, -f64)
        if cls == "math":
            return (np.exp(f64) + np.log(f64 + 2) + np.sqrt(f64 + 2) + np.abs(f64) +
                    np.arccosh(f64 + 2) + np.tanh(f64) + np.sin(f64) + (f64 + 2) ** 1.5)
        if cls == "minmax":
            return (np.fmax(f64, .25) + np.fmin(f64, -.25) + np.maximum(f64, .1) +
                    np.minimum(f64, -.1) + np.clip(f64, -.5, .5))
        if cls == "relational":
            return np.where(f64 > 0, f64, -f64) + 2 * np.signbit(f64)
        if cls == "convert":   # in the element type, as the kernel rounds
            return (np.trunc(x * t(100)) / t(100)).astype(np.float64) + np.rint(x * t(10))
    if kind in ("int", "long"):
        i = x.astype(np.int64)
        if cls == "arith":
            return i * 3 + (i >> 1) - (i & 7) + np.where(i > 5, i, -i)
        if cls == "minmax":
            return np.maximum(i, 3) + np.minimum(i, -3) + np.clip(i, -4, 4)
        if cls == "convert":
            return np.trunc(x.astype(np.float32) * np.float32(0.5)).astype(np.int64) + i
    if kind == "half":
        return (x.astype(np.float32) * 2 + 1).astype(np.float16).astype(np.float64)
    raise KeyError((kind, cls))


def _expr(kind, cls, w):
    comp = KINDS[kind][1]
    family = "h" if kind == "half" else "f" if kind in ("float", "double") else "i"
    V = _vec(comp, w)
    return (_EXPR[(family, cls)].replace("convert_V", f"convert_{V}")
            .replace("convert_I", f"convert_{_vec('int', w)}")
            .replace("convert_F", f"convert_{_vec('float', w)}")
            .replace("convert_S", f"convert_{_vec('short', w)}")
            # a scalar comparison gives int; select on doubles wants long (vectors match already)
            .replace("SEL", "(long)" if w == 1 and kind == "double" else "")
            .replace("(V)", f"({V})").replace("(T)", f"({comp})"))


def _vector_probe(kind, w, classes):
    """One kernel over ``w``-wide vectors of ``kind`` with one output slice per class."""
    store, comp, npd, _ = KINDS[kind]
    V = _vec(comp, w)
    tag = "_".join(classes) if len(classes) == 1 else "all"
    kname = f"probe_{kind}{w}_{tag}"
    if kind == "half":
        sfx = "" if w == 1 else str(w)
        load = f"vload_half{sfx}(0, a + b)"

        def put(c):
            return f"vstore_half{sfx}_rte(y{c}, 0, o + {c * _N} + b);"
    elif w == 1:
        load = "a[b]"

        def put(c):
            return f"o[{c * _N} + b] = y{c};"
    else:
        load = f"({V})(" + ", ".join(f"a[b + {lane}]" for lane in range(w)) + ")"

        def put(c):
            return " ".join(f"o[{c * _N} + b + {lane}] = y{c}.s{lane:x};" for lane in range(w))
    body = [f"__kernel void {kname}(__global const {store} *a, __global {store} *o) {{",
            f"    const size_t b = get_global_id(0) * {w};",
            f"    const {V} x = {load};"]
    lines = []
    for c, cls in enumerate(classes):
        lines.append(len(body))
        body.append(f"    const {V} y{c} = {_expr(kind, cls, w)};")
    body += ["    " + put(c) for c in range(len(classes))] + ["}"]
    if kind in ("int", "long"):
        x = np.arange(-_N // 2, _N // 2).astype(npd)
    else:
        x = np.linspace(-0.95, 0.95, _N).astype(npd)
    tol = {"float": 1e-4, "double": 1e-9, "half": 1e-3}.get(kind, 0.0)
    expected = np.concatenate([_reference(kind, cls, x) for cls in classes])
    name = f"{kind}{w}" + (f" {classes[0]}" if len(classes) == 1 else "")
    return Probe(name, kname, "\n".join(body), x, npd, _N // w, 0, expected, tol, kind, w,
                 tuple(classes), tuple(lines))


def _group_probe(wg, local_bytes, what):
    nl = max(1, local_bytes // 4)
    kname = f"probe_group_{wg}_{nl}"
    src = "\n".join([
        f"__kernel void {kname}(__global const int *a, __global int *o) {{",
        f"    __local int buf[{nl}];",
        "    const int l = get_local_id(0), g = get_group_id(0);",
        f"    for (int j = l; j < {nl}; j += {wg}) buf[j] = a[j & 255] + g;",
        "    barrier(CLK_LOCAL_MEM_FENCE);",
        "    int s = 0;",
        f"    for (int j = l; j < {nl}; j += {wg}) s += buf[(j + 1) % {nl}];",
        f"    o[g * {wg} + l] = s;",
        "}"])
    a = (np.arange(256, dtype=np.int64) * 7 % 1000).astype(np.int32)
    j = np.arange(nl)
    exp = []
    for g in range(2):
        vals = a[((j + 1) % nl) & 255].astype(np.int64) + g
        exp.append(np.bincount(j % wg, weights=vals, minlength=wg)[:wg])
    return Probe(what, kname, src, a, "int32", 2 * wg, wg, np.concatenate(exp).astype(np.int64),
                 0.0, "group", wg)


def _pow2_floor(n):
    p = 1
    while p * 2 <= n:
        p *= 2
    return p


def plan(claims):
    """The probes for a device with these (unlimited) claims: every vector kind and width, the
    largest work-group and all the local memory claimed (smaller ones only if those fail:
    ``smaller``), and float64 through the double probes."""
    probes = []
    for kind, (_, _, _, classes) in KINDS.items():
        if kind == "double" and not claims.fp64:
            continue
        for w in WIDTHS:
            probes.append(_vector_probe(kind, w, classes))
    top, lm = _group_claims(claims)
    probes.append(_group_probe(top, 16 * top, f"work-group {top}"))
    if lm >= 16 * min(64, top):
        probes.append(_group_probe(min(64, top), lm, f"local memory {lm} B"))
    return probes


def _group_claims(claims):
    top = _pow2_floor(min([claims.max_wg] + list(claims.max_work_item_sizes[:1])))
    return top, claims.local_mem // 4 * 4


def smaller(claims, outcomes):
    """The next work-group sizes and local memory amounts to try after the claimed ones failed."""
    top, lm = _group_claims(claims)
    more = []
    if outcomes.get(f"work-group {top}") is not None:
        more += [_group_probe(w, 16 * w, f"work-group {w}") for w in (1024, 256, 64, 16)
                 if w < top]
    small = min(64, top)
    if outcomes.get(f"local memory {lm} B") is not None:
        more += [_group_probe(small, b, f"local memory {b} B") for b in (65536, 16384, 4096)
                 if 16 * small <= b < lm]
    return more


def render(probes, nonce=""):
    """(source of one program with every probe, {probe name: (first line, last line, {label:
    (line, first output byte, end output byte)})}). A ``nonce`` comment makes the source new to
    the driver's own cache: PoCL returns a cached build without its log, and a cached program
    with a mismatched kernel loses all its kernels."""
    lines = [f"// clgrad device self-check {nonce}"] if nonce else []
    if any(p.kind == "double" for p in probes):
        lines.append("#pragma OPENCL EXTENSION cl_khr_fp64 : enable")
    where = {}
    for p in probes:
        first = len(lines) + 1
        lines.extend(p.source.split("\n"))
        size = np.dtype(p.out_dtype).itemsize * _N
        labels = {label: (first + (p.lines[i] if p.lines else 0), i * size, (i + 1) * size)
                  for i, label in enumerate(p.labels())}
        where[p.name] = (first, len(lines), labels)
        lines.append("")
    return "\n".join(lines) + "\n", where
