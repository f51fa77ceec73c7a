"""Differential testing: random chains of ops on random shapes, dtypes, strides and broadcasts,
compared with NumPy, and their gradients with finite differences."""
import numpy as onp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clgrad import np
from gradcheck import check_grad

# (name, applies(shape, dtype), numpy fn, clgrad fn); every fn takes (x, rng-drawn extra)
def _unary(nf, cf, floats_only=False):
    return (lambda shape, dt: (not floats_only) or dt.kind == "f", nf, cf)


STEPS = {
    "tanh": _unary(onp.tanh, np.tanh, True),
    "sin": _unary(onp.sin, np.sin, True),
    "abs": _unary(onp.abs, np.abs),
    "neg": _unary(onp.negative, np.negative),
    "square": _unary(lambda x: x * x, lambda x: x * x),
    "add_row": (lambda s, d: len(s) >= 1, lambda x, e: x + e["row"], lambda x, e: x + e["row_c"]),
    "mul_col": (lambda s, d: len(s) >= 2, lambda x, e: x * e["col"], lambda x, e: x * e["col_c"]),
    "scale": _unary(lambda x: x * 3 - 1, lambda x: x * 3 - 1),
    "transpose": (lambda s, d: len(s) >= 2, lambda x, e: x.T, lambda x, e: x.T),
    "reverse": (lambda s, d: len(s) >= 1, lambda x, e: x[::-1], lambda x, e: x[::-1]),
    "stride": (lambda s, d: len(s) >= 1 and s[-1] >= 2, lambda x, e: x[..., ::2],
               lambda x, e: x[..., ::2]),
    "flatten": (lambda s, d: len(s) >= 2, lambda x, e: x.reshape(-1), lambda x, e: x.reshape(-1)),
    "sum0": (lambda s, d: len(s) >= 2, lambda x, e: x.sum(axis=0), lambda x, e: x.sum(axis=0)),
    "max_last": (lambda s, d: len(s) >= 2, lambda x, e: x.max(axis=-1, keepdims=True),
                 lambda x, e: x.max(axis=-1, keepdims=True)),
}
UNARY = {"tanh", "sin", "abs", "neg", "square", "scale"}


def _apply(name, x, extra, which):
    fn = STEPS[name][1 + which]
    return fn(x) if name in UNARY else fn(x, extra)


def _extras(shape, dtype, rng, device_side):
    last = shape[-1] if shape else 1
    first = shape[-2] if len(shape) >= 2 else 1
    row = rng.uniform(-1, 1, last).astype(dtype)
    col = rng.uniform(0.5, 1.5, (first, 1)).astype(dtype)
    e = {"row": row, "col": col}
    if device_side:
        e["row_c"], e["col_c"] = np.array(row), np.array(col)
    return e


@st.composite
def chains(draw, float64=False):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    dtype = onp.dtype("float64") if float64 else draw(
        st.sampled_from([onp.dtype("float32"), onp.dtype("int32"), onp.dtype("float64")]))
    steps, s = [], shape
    for _ in range(draw(st.integers(1, 4))):
        options = [n for n, (ok, _, _) in STEPS.items() if ok(s, dtype)]
        if float64:     # keep the function smooth for finite differences
            options = [o for o in options if o not in ("abs", "max_last")]
        name = draw(st.sampled_from(sorted(options)))
        steps.append(name)
        probe = _apply(name, onp.zeros(s, dtype), _extras(s, dtype, onp.random.default_rng(0),
                                                          False), 0)
        s = probe.shape
        if s == ():
            break
    return shape, dtype, steps, draw(st.integers(0, 2 ** 16))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_chain_matches_numpy(chain):
    shape, dtype, steps, seed = chain
    rng = onp.random.default_rng(seed)
    if dtype.kind == "f":
        host = rng.uniform(-2, 2, shape).astype(dtype)
    else:
        host = rng.integers(-5, 6, shape).astype(dtype)
    x, ref = np.array(host), host
    for name in steps:
        ex = _extras(ref.shape, dtype, onp.random.default_rng(seed + 1), True)
        ref = _apply(name, ref, ex, 0)
        x = _apply(name, x, ex, 1)
        assert x.shape == ref.shape, (steps, x.shape, ref.shape)
    tol = 1e-4 if dtype == onp.float32 else 1e-9
    onp.testing.assert_allclose(x.asnumpy(), ref, rtol=tol, atol=tol, err_msg=str(steps))
    assert x.asnumpy().dtype == ref.dtype or dtype.kind != "f"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(float64=True))
def test_chain_gradient_matches_finite_differences(chain):
    shape, dtype, steps, seed = chain
    rng = onp.random.default_rng(seed)
    host = rng.uniform(-1, 1, shape)
    extras = {}

    def fn(x):
        for name in steps:
            key = (name, x.shape)
            if key not in extras:
                extras[key] = _extras(x.shape, "float64", onp.random.default_rng(seed + 1), True)
            x = _apply(name, x, extras[key], 1)
        return x
    check_grad(fn, host, rtol=1e-5, atol=1e-6)
