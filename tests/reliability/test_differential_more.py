"""Differential testing of op chains through matmul, softmax / log_softmax, take and advanced
indexing, concatenate and stack: random chains on random shapes against NumPy, and their
gradients (float64) against central finite differences."""
import numpy as onp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clgrad import np, npx
from gradcheck import check_grad


def _softmax(a, axis):
    e = onp.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(a, axis):
    s = a - a.max(axis=axis, keepdims=True)
    return s - onp.log(onp.exp(s).sum(axis=axis, keepdims=True))


def _dev(v):
    """A host extra (weights, indices) as a device array of its own dtype."""
    return np.array(v) if isinstance(v, onp.ndarray) else v


# Each step: (applies(shape, dtype), extras(shape, dtype, rng) -> dict, host fn, device fn).
# Extras are host values (weights, indices, axes); the device fn gets them uploaded.
def _weights(shape, d, rng):
    return (rng.uniform(-1, 1, shape) if d.kind == "f" else rng.integers(-2, 3, shape)).astype(d)


def _w_right(s, d, rng):
    return {"w": _weights((s[-1], int(rng.integers(1, 5))), d, rng)}


def _w_left(s, d, rng):
    return {"w": _weights((int(rng.integers(1, 5)), s[-2]), d, rng)}


def _take(s, d, rng):
    ax = int(rng.integers(0, len(s)))
    n = s[ax]
    idx = rng.integers(-n, n, int(rng.integers(1, 6)))
    idx[0] = idx[-1]                                   # a repeated index, always
    return {"axis": ax, "idx": idx.astype(onp.int64)}


def _rows(s, d, rng):
    return {"idx": rng.integers(0, s[0], int(rng.integers(1, 5))).astype(onp.int64)}


def _pair(s, d, rng):
    k = int(rng.integers(1, 5))
    return {"i": rng.integers(-s[0], s[0], k).astype(onp.int64),
            "j": rng.integers(0, s[1], (1, k)).astype(onp.int64)}


def _mask(s, d, rng):
    m = rng.uniform(size=s) > 0.4
    m.reshape(-1)[int(rng.integers(0, m.size))] = True  # never empty
    return {"m": m}


def _axis(s, d, rng):
    return {"axis": int(rng.integers(0, len(s)))}


def _axis_new(s, d, rng):
    return {"axis": int(rng.integers(0, len(s) + 1))}


def _none(s, d, rng):
    return {}


def _floats(s, d):
    return d.kind == "f"


STEPS = {
    "matmul_w": (lambda s, d: len(s) >= 1, _w_right,
                 lambda x, e: x @ e["w"], lambda x, e: x @ _dev(e["w"])),
    "w_matmul": (lambda s, d: len(s) >= 2, _w_left,
                 lambda x, e: e["w"] @ x, lambda x, e: np.matmul(_dev(e["w"]), x)),
    "gram": (lambda s, d: len(s) == 2, _none,
             lambda x, e: x @ x.T, lambda x, e: x @ x.T),
    "softmax": (lambda s, d: len(s) >= 1 and _floats(s, d), _axis,
                lambda x, e: _softmax(x, e["axis"]), lambda x, e: npx.softmax(x, axis=e["axis"])),
    "log_softmax": (lambda s, d: len(s) >= 1 and _floats(s, d), _axis,
                    lambda x, e: _log_softmax(x, e["axis"]),
                    lambda x, e: npx.log_softmax(x, axis=e["axis"])),
    "take": (lambda s, d: len(s) >= 1 and min(s) > 0, _take,
             lambda x, e: onp.take(x, e["idx"], axis=e["axis"]),
             lambda x, e: np.take(x, _dev(e["idx"]), axis=e["axis"])),
    "rows": (lambda s, d: len(s) >= 1 and s[0] > 0, _rows,
             lambda x, e: x[e["idx"]], lambda x, e: x[_dev(e["idx"])]),
    "pair": (lambda s, d: len(s) >= 2 and min(s[:2]) > 0, _pair,
             lambda x, e: x[e["i"], e["j"]], lambda x, e: x[_dev(e["i"]), _dev(e["j"])]),
    "mask": (lambda s, d: len(s) >= 1 and min(s) > 0, _mask,
             lambda x, e: x[e["m"]], lambda x, e: x[_dev(e["m"])]),
    "concat": (lambda s, d: len(s) >= 1, _axis,
               lambda x, e: onp.concatenate([x, x[::-1] * 2], axis=e["axis"]),
               lambda x, e: np.concatenate([x, x[::-1] * 2], axis=e["axis"])),
    "stack": (lambda s, d: len(s) <= 2, _axis_new,
              lambda x, e: onp.stack([x, x * 2 - 1], axis=e["axis"]),
              lambda x, e: np.stack([x, x * 2 - 1], axis=e["axis"])),
    "transpose": (lambda s, d: len(s) >= 2, _none, lambda x, e: x.T, lambda x, e: x.T),
    "tanh": (lambda s, d: _floats(s, d), _none, lambda x, e: onp.tanh(x),
             lambda x, e: np.tanh(x)),
    "sum0": (lambda s, d: len(s) >= 2, _none,
             lambda x, e: x.sum(axis=0), lambda x, e: x.sum(axis=0)),
}


FAMILIES = {"matmul_w", "w_matmul", "gram", "softmax", "log_softmax", "take", "rows", "pair",
            "mask", "concat", "stack"}


@st.composite
def chains(draw, float64=False):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    dtype = onp.dtype("float64") if float64 else draw(
        st.sampled_from([onp.dtype("float32"), onp.dtype("float64"), onp.dtype("int32")]))
    seed = draw(st.integers(0, 2 ** 16))
    steps, s = [], shape
    for k in range(draw(st.integers(2, 5))):
        # the first step is always one of the families under test
        options = sorted(n for n, (ok, _, _, _) in STEPS.items() if ok(s, dtype) and
                         (k > 0 or n in FAMILIES))
        if not options or len(s) > 3:
            break
        name = draw(st.sampled_from(options))
        steps.append(name)
        s = _apply(name, onp.zeros(s, dtype), k, seed, 0).shape
        if 0 in s or s == ():
            break
    return shape, dtype, steps, seed


def _extras(name, shape, dtype, k, seed):
    # the same extras for the host, the device and every finite-difference evaluation
    return STEPS[name][1](shape, dtype, onp.random.default_rng((seed, k, len(shape)) + shape))


def _apply(name, x, k, seed, which):
    e = _extras(name, tuple(x.shape), onp.dtype(x.dtype), k, seed)
    return STEPS[name][2 + which](x, e)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_chain_matches_numpy(chain):
    shape, dtype, steps, seed = chain
    rng = onp.random.default_rng(seed)
    host = rng.uniform(-1, 1, shape).astype(dtype) if dtype.kind == "f" else \
        rng.integers(-3, 4, shape).astype(dtype)
    x, ref = np.array(host), host
    for k, name in enumerate(steps):
        ref = _apply(name, ref, k, seed, 0)
        x = _apply(name, x, k, seed, 1)
        assert x.shape == ref.shape, (steps, name, x.shape, ref.shape)
    got = x.asnumpy()
    if dtype.kind == "f":
        tol = 1e-4 if dtype == onp.float32 else 1e-10
        scale = max(1.0, float(onp.abs(ref).max(initial=0)))
        onp.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale, err_msg=str(steps))
        assert got.dtype == ref.dtype, (steps, got.dtype, ref.dtype)
    else:
        onp.testing.assert_array_equal(got, ref, err_msg=str(steps))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains(float64=True))
def test_chain_gradient_matches_finite_differences(chain):
    shape, dtype, steps, seed = chain
    host = onp.random.default_rng(seed).uniform(-1, 1, shape)

    def fn(x):
        for k, name in enumerate(steps):
            x = _apply(name, x, k, seed, 1)
        return x
    check_grad(fn, host, rtol=1e-5, atol=1e-6)
