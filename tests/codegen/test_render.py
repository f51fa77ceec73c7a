"""Kernel sources: every instantiation of the elementwise, reduce and random families renders
for every dtype and compiles on the device; a missing template parameter is caught at render
time; the wide (64-bit index) elementwise variant computes what the 32-bit one does."""
import numpy as onp
import pytest
from mako.exceptions import TopLevelLookupException

import clgrad
from clgrad import dtypes as dt
from clgrad import np
from clgrad.codegen import render as R
from clgrad.ops.elementwise import spec as ew
from clgrad.ops import launch
from clgrad.ops import random as rnd
from clgrad.ops.reduce import kernels as red
from clgrad.runtime import default_device
from ops._rules import DTYPES, assert_matches, ids


def device_dtypes(dev):
    return [d for d in DTYPES if d != onp.float64 or dev.caps.fp64]


def _helper_expr(d):
    """An expression using the per-type helpers of intmath.cl (none for bool)."""
    c = dt.compute_ctype(d)
    if d.kind == "f":
        return f"pymod_{c}(v0, v1) + pyfloordiv_{c}(v0, v1)", ew._helpers_for(c, "fmod")
    if d.kind in "iu":
        return f"mod_{c}(v0, v1) + floordiv_{c}(v0, v1) + ipow_{c}(v0, v1)", \
            ew._helpers_for(c, "int")
    return "v0 || v1", ""


# --- elementwise ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
def test_elementwise_instantiations_compile(dtype):
    dev = default_device()
    if dtype not in device_dtypes(dev):
        pytest.skip(f"{dev.name} has no float64")
    expr, helpers = _helper_expr(dtype)
    # contiguous path (ndim 0), 32-bit index, array and scalar operands, the type's helpers
    k = launch._make_elementwise(dev, "render_flat", dtype, ((True, dtype, dtype),
                                                             (False, None, dtype)),
                                 expr, 0, helpers, "int", "")
    assert k.local >= 1
    # strided path over 3 dimensions, 64-bit index, every inner-stride class (broadcast, unit,
    # any) and a scalar; mixed storage: a float16 and a bool operand next to ``dtype``
    sig = ((True, dtype, dtype), (True, dt.float16, dtype), (True, dt.bool_, dtype),
           (False, None, dtype))
    k = launch._make_elementwise(dev, "render_strided", dtype, sig, "v0 + v1 * v2 + v3", 3, "",
                                 "long", "10s1")
    assert k.local >= 1
    # one dimension, 32-bit index: the loop over outer dimensions is empty
    launch._make_elementwise(dev, "render_1d", dtype, ((True, dtype, dtype),), "v0", 1, "",
                             "int", "1s")


@pytest.fixture
def wide_indices(monkeypatch):
    """Make every elementwise launch pick the 64-bit index variant."""
    monkeypatch.setattr(launch, "_INT_LIMIT", 0)


def test_wide_index_variant_computes_the_same(wide_indices):
    h = onp.arange(24, dtype=onp.float32).reshape(4, 6) - 7
    x = np.array(h)
    i = np.array(onp.arange(6, dtype=onp.int32))
    assert_matches(x * 2 + 1, h * 2 + 1)                              # contiguous
    assert_matches(x.T[::-1] - i[:4], h.T[::-1] - onp.arange(4, dtype=onp.float32))   # strided
    assert_matches(np.maximum(x[::2, ::-3], 0.5), onp.maximum(h[::2, ::-3], 0.5))
    y = np.zeros((4, 6))
    y[1:, ::2] = x[:-1, 1::2]
    want = onp.zeros((4, 6), onp.float32)
    want[1:, ::2] = h[:-1, 1::2]
    assert_matches(y, want)
    keys = [k for k in default_device().kernels if k and k[0] == "ew" and "long" in k]
    assert keys, "the 64-bit index variant was not used"


# --- reduce --------------------------------------------------------------------------------------
REDUCE_KINDS = sorted(red._KINDS)


@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
def test_reduce_instantiations_compile(dtype):
    dev = default_device()
    if dtype not in device_dtypes(dev):
        pytest.skip(f"{dev.name} has no float64")
    for kind in REDUCE_KINDS:
        acc = red.acc_dtype(kind, dtype)
        out = red.default_out_dtype(kind, dtype)
        if dt.float64 in (acc, out) and not dev.caps.fp64:
            continue
        # one work-item per output, over 1 kept and 2 reduced dimensions
        red._kernel(dev, kind, dtype, acc, out, "serial", 1, 1, 2, True, False)
        # a work-group per output (a tree in local memory)
        red._kernel(dev, kind, dtype, acc, out, "group", 64, 2, 1, True, False)
        if dtype == dt.float32:
            # the two-stage form: partial accumulators, then their combination
            red._kernel(dev, kind, dtype, acc, None, "group", 64, 1, 1, False, False)
            red._kernel(dev, kind, acc, acc, out, "group", 64, 1, 1, True, True)


# --- random --------------------------------------------------------------------------------------
RANDOM = {
    "uniform": [d for d in DTYPES if d.kind == "f"],
    "normal": [d for d in DTYPES if d.kind == "f"],
    "randint": [d for d in DTYPES if d.kind in "iu"],
    "bernoulli": DTYPES,
}


@pytest.mark.parametrize("dist", sorted(RANDOM))
def test_random_instantiations_compile_and_draw(dist):
    dev = default_device()
    for dtype in RANDOM[dist]:
        if dtype not in device_dtypes(dev):
            continue
        p0, p1 = {"uniform": (2.0, 3.0), "normal": (0.0, 1.0), "randint": (1, 5),
                  "bernoulli": (0.5, 0.0)}[dist]
        a = rnd.draw(dist, (3, 5), dtype, p0, p1, dev)
        h = a.asnumpy()
        assert a.dtype == dtype and h.shape == (3, 5)
        if dist == "uniform":
            assert ((h >= 2) & (h <= 3)).all()
        elif dist == "randint":
            assert ((h >= 1) & (h < 6)).all()
        elif dist == "bernoulli":
            assert set(onp.unique(h.astype(onp.float64))) <= {0.0, 1.0}
        else:
            assert onp.isfinite(h.astype(onp.float64)).all()


# --- strict rendering ----------------------------------------------------------------------------
@pytest.fixture
def captured(monkeypatch):
    """The parameters of every render call, made on a fresh device (empty kernel tables)."""
    calls = []
    real = R.render

    def spy(template, **params):
        calls.append((template, dict(params)))
        return real(template, **params)
    monkeypatch.setattr(R, "render", spy)
    base = default_device()
    dev = clgrad.Device(base.cl_device, base.platform_index, base.device_index,
                        base.device_type, 60)
    x = np.array(onp.arange(40, dtype=onp.float32).reshape(2, 20), device=dev)
    (x.T + 1).asnumpy()
    red.reduce_raw("sum", x, (1,))
    rnd.draw("normal", (4,), dt.float32, 0.0, 1.0, dev)
    return calls


def test_a_missing_parameter_is_caught_at_render_time(captured):
    templates = {t for t, _ in captured}
    assert {"elementwise.cl.mako", "reduce.cl.mako", "random.cl.mako"} <= templates
    seen = set()
    for template, params in captured:
        if template in seen:
            continue
        seen.add(template)
        R.render(template, **params)          # complete: renders
        for name in params:
            if name in ("load", "store"):
                continue                      # render() supplies these itself
            partial = {k: v for k, v in params.items() if k != name}
            with pytest.raises(NameError, match=name):
                R.render(template, **partial)


def test_rendered_source_is_self_contained():
    src = R.render("elementwise.cl.mako", prelude=R.prelude(True),
                   helpers=R.cl_source("intmath.cl"), name="k",
                   operands=[R.Operand(True, dt.float64), R.Operand(True, dt.float16),
                             R.Operand(False, dt.int32, dt.float64)],
                   ndim=0, expr="v0 + v1", out=R.Operand(True, dt.float64), idx="int",
                   inner_cls=["", "", ""], ept=1, vw=1, layout="interleaved", lets=())
    assert "#include" not in src                      # helpers are inlined: the cache key is whole
    assert "cl_khr_fp64" in src and "CLGRAD_DEFINE_INTMATH" in src
    assert "vload_half" in src and "__kernel void k(" in src
    # double is enabled only when asked for (devices without cl_khr_fp64 reject the pragma)
    assert "#define CLGRAD_FP64" in R.prelude(True)
    assert "#define CLGRAD_FP64" not in R.prelude(False)
    with pytest.raises(TopLevelLookupException):
        R.render("no_such_template.cl.mako")


def test_load_and_store_helpers():
    h = R.Operand(True, dt.float16)
    assert R.load(h, "p", "i") == "(float)vload_half(i, p)"
    assert "vstore_half_rte" in R.store(h, "p", "i", "r")
    b = R.Operand(True, dt.bool_)
    assert R.store(b, "p", "i", "r") == "p[i] = (uchar)((r) != 0)"
    f = R.Operand(True, dt.int8, dt.float32)
    assert (f.ctype, f.compute) == ("char", "float")
    assert R.load(f, "p", "i") == "(float)p[i]"


# --- inline vector reads and writes -------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
def test_inline_vector_read_write(n):
    # vload/vstore helpers read and write n lanes at any (unaligned) element offset, in lane
    # order, without calling the runtime's vloadN/vstoreN; a value named like the helper's own
    # temporaries must not be shadowed
    dev = default_device()
    t = "float" if n == 1 else f"float{n}"
    assert "vload" not in R.vload("float", n, "p") and "vstore" not in R.vstore("float", n, "v", "p")
    src = R.prelude(False) + f"""
__kernel void k(__global const float *x, __global float *y, const int off) {{
    const int i = (int)get_global_id(0) * {n};
    const {t} sv_ = {R.vload("float", n, "x + off + i")} * 2.0f;
    {R.vstore("float", n, "sv_ + 1.0f", "y + off + i")}
}}"""
    k = launch.Kernel(dev, src, "k", [None, None, onp.int32])
    host = onp.arange(3 + 4 * n + 5, dtype=onp.float32)
    x, y = np.array(host), np.zeros(host.shape)
    k.launch(dev, (4,), (1,), x._storage.buffer, y._storage.buffer, 3)
    want = onp.zeros_like(host)
    want[3:3 + 4 * n] = host[3:3 + 4 * n] * 2 + 1
    onp.testing.assert_array_equal(y.asnumpy(), want)


def test_typed_writes_the_type_placeholder_only():
    from clgrad.codegen.render import typed
    got = typed("(T)1 + cmul_T(v0, v1) * sizeof(T) + INFINITY + MAXFLOAT + T1 + vT", "double")
    assert got == ("(double)1 + cmul_double(v0, v1) * sizeof(double) + INFINITY + MAXFLOAT + "
                   "T1 + vT")


def test_vector_classes_of_expressions():
    from clgrad.codegen.render import vector_classes
    assert vector_classes("v0 * v1 + (v0 > v1 ? v0 : v1)") == ("arith",)
    assert vector_classes("exp(v0) + fmax(v0, v1)") == ("arith", "math", "minmax")
    assert vector_classes("isnan(v0) ? convert_float(v1) : v0") == \
        ("arith", "convert", "relational")
    assert vector_classes("sizeof(v0) + helper_T(v0)") == ("arith", "math")    # unknown: math
