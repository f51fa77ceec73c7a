"""Render kernel families from Mako templates, inlining the plain OpenCL C helpers.

Templates render with ``strict_undefined=True`` so a missing parameter is an error at render time,
not a silently empty string in the kernel. Helpers from ``cl_kernels/`` are inlined verbatim (not
``#include``d) so the source that keys the caches covers all the code.
"""
import functools
import re
import zlib
from pathlib import Path

from mako.lookup import TemplateLookup

from .. import dtypes as dt


def _find(name):
    here = Path(__file__).resolve().parent.parent
    for cand in (here / name, here.parent / name):   # installed wheel, then source checkout
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"clgrad cannot find its {name}/ folder next to {here}")


TEMPLATES = _find("templates")
CL_KERNELS = _find("cl_kernels")

_lookup = TemplateLookup(directories=[str(TEMPLATES)], strict_undefined=True,
                         input_encoding="utf-8")


@functools.lru_cache(maxsize=None)
def cl_source(name):
    """The text of a plain OpenCL C helper from ``cl_kernels/``."""
    return (CL_KERNELS / name).read_text()


class Operand:
    """How a kernel sees one operand: array or scalar, its storage and compute C types."""

    __slots__ = ("is_array", "dtype", "ctype", "compute")

    def __init__(self, is_array, dtype, compute_dtype=None):
        self.is_array = is_array
        self.dtype = dtype
        self.ctype = dt.ctype(dtype)
        self.compute = dt.compute_ctype(compute_dtype if compute_dtype is not None else dtype)


def load(op, ptr, idx):
    """An expression reading element ``idx`` of ``ptr`` converted to the operand's compute type."""
    if op.dtype.kind == "c" or op.compute in _COMPLEX_CTYPES:
        return _load_complex(op, ptr, idx)
    if op.dtype == dt.float16:
        return f"({op.compute})vload_half({idx}, {ptr})"
    return f"({op.compute}){ptr}[{idx}]"


_COMPLEX_CTYPES = {"float2": "float", "double2": "double"}


def _load_complex(op, ptr, idx):
    """Loads where the storage or the compute type is complex (float2/double2)."""
    part = _COMPLEX_CTYPES.get(op.compute)
    if op.dtype.kind == "c":
        if part is not None:
            # vector casts between float2 and double2 are not allowed: convert_ them
            return (f"{ptr}[{idx}]" if op.ctype == op.compute else
                    f"convert_{op.compute}({ptr}[{idx}])")
        # complex to real takes the real part, as NumPy's casts do
        return f"({op.compute})({ptr}[{idx}].x)"
    # real to complex: imaginary part 0 (a plain vector cast would fill both lanes)
    v = f"vload_half({idx}, {ptr})" if op.dtype == dt.float16 else f"{ptr}[{idx}]"
    return f"(({op.compute})(({part})({v}), ({part})0))"


def store(op, ptr, idx, value):
    """A statement writing ``value`` (compute type) to element ``idx`` in the storage type."""
    if op.dtype == dt.float16:
        return f"vstore_half_rte((float)({value}), {idx}, {ptr})"
    if op.dtype == dt.bool_:
        return f"{ptr}[{idx}] = (uchar)(({value}) != 0)"
    return f"{ptr}[{idx}] = ({op.ctype})({value})"


def vload(ctype, n, ptr):
    """An expression reading ``n`` consecutive ``ctype`` elements from ``ptr`` as a vector.

    Built from scalar reads, not ``vloadN``: some CPU runtimes (PyPI's PoCL) call their
    ``vloadN`` out of line, which spills every live register around each call (a matmul inner
    loop ran 2-4x slower); the compiler merges the scalar reads into one unaligned vector load.
    """
    if n == 1:
        return f"({ptr})[0]"
    return f"(({ctype}{n})(" + ", ".join(f"({ptr})[{l}]" for l in range(n)) + "))"


def vstore(ctype, n, value, ptr):
    """A statement writing the ``n``-vector ``value`` to ``ptr`` (a ``__global`` pointer) lane
    by lane (see ``vload``).

    Its temporaries are named after a checksum of the call's text, so they never shadow a
    variable that ``value`` reads, and the same call renders the same source (the source keys the
    kernel caches).
    """
    if n == 1:
        return f"({ptr})[0] = {value};"
    tag = "%08x" % zlib.crc32(f"{ctype}{n}|{value}|{ptr}".encode())
    v, p = f"vs{tag}_", f"vp{tag}_"
    lanes = " ".join(f"{p}[{l}] = {v}.s{l:x};" for l in range(n))
    return f"{{ const {ctype}{n} {v} = {value}; __global {ctype} *{p} = {ptr}; {lanes} }}"


_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_MINMAX = frozenset(("min", "max", "fmin", "fmax", "clamp"))
_RELATIONAL = frozenset((
    "isnan", "isinf", "isfinite", "isnormal", "signbit", "select", "bitselect", "isequal",
    "isnotequal", "isgreater", "isgreaterequal", "isless", "islessequal", "islessgreater",
    "isordered", "isunordered", "any", "all"))
_KEYWORDS = frozenset(("if", "for", "while", "switch", "return", "sizeof"))


@functools.lru_cache(maxsize=4096)
def vector_classes(expr):
    """The classes of operations (``runtime.selfcheck.CLASSES``) that ``expr`` applies to its
    operands when they are vectors: "arith" always, plus one per kind of function it calls;
    a call clgrad does not know (a helper function, say) counts as "math"."""
    found = {"arith"}
    for name in _CALL.findall(expr):
        if name in _KEYWORDS:
            continue
        if name in _MINMAX:
            found.add("minmax")
        elif name in _RELATIONAL:
            found.add("relational")
        elif name.startswith(("convert_", "as_")):
            found.add("convert")
        elif name.startswith(("vload_half", "vstore_half", "vloada_half", "vstorea_half")):
            found.add("loadstore")
        else:
            found.add("math")
    return tuple(sorted(found))


_T = re.compile(r"(?<![A-Za-z0-9])T(?![A-Za-z0-9])")


@functools.lru_cache(maxsize=4096)
def typed(expr, ctype):
    """``expr`` with its type placeholder ``T`` written as ``ctype``: ``(T)1``, ``sizeof(T)`` and
    helper names such as ``cmul_T`` or ``floordiv_T``; never inside another identifier
    (``INFINITY``, ``MAXFLOAT`` and ``T1`` stay as they are)."""
    return _T.sub(ctype, expr)


def prelude(uses_fp64):
    return ("#define CLGRAD_FP64\n" if uses_fp64 else "") + cl_source("prelude.cl")


def render(template, **params):
    """Render ``templates/<template>`` with the shared helpers available to it."""
    params.setdefault("load", load)
    params.setdefault("store", store)
    params.setdefault("vload", vload)
    params.setdefault("vstore", vstore)
    return _lookup.get_template(template).render(**params)
