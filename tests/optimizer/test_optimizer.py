"""Each optimizer against its published update rule (MXNet 2.x), written step by step in NumPy
below in float64: several steps with weight decay, gradient clipping, rescale_grad and per
parameter lr_mult / wd_mult, a subset of the parameters in one step (so the update counts that
drive bias correction differ between parameters of one launch), on packed arrays (one launch
per group) and on separate arrays (one launch per parameter), which must agree exactly."""
import math

import numpy as onp
import pytest

from clgrad import np
from clgrad import optimizer as opt
from clgrad.optimizer import Arena, fused

SHAPES = [(3, 4), (7,), (5000,)]            # the last spans two chunks of the kernels
SUBSETS = [[0, 1, 2], [0, 2], [0, 1, 2]]    # parameter 1 sits out the second step
COMMON = {"learning_rate": 0.05, "wd": 0.01, "clip_gradient": 0.5, "rescale_grad": 0.5}
LR_MULT = [1.0, 0.5, 2.0]                   # 1: set_lr_mult, 2: param_dict
WD_MULT = [1.0, 3.0, 0.0]
DEFAULTS = {
    "sgd": {"momentum": 0.0},
    "nag": {"momentum": 0.9},
    "adam": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6, "correct_bias": True},
    "rmsprop": {"rho": 0.9, "momentum": 0.9, "epsilon": 1e-8, "centered": False,
                "clip_weights": None},
    "adagrad": {"epsilon": 1e-6},
    "lamb": {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6, "lower_bound": None,
             "upper_bound": None, "bias_correction": True},
}
CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("nag", {}),
    ("nag", {"momentum": 0.0}),
    ("adam", {}),
    ("adamw", {}),
    ("adamw", {"correct_bias": False}),
    ("rmsprop", {"clip_weights": 0.8}),
    ("rmsprop", {"centered": True, "clip_weights": 0.8}),
    ("adagrad", {}),
    ("lamb", {}),
    ("lamb", {"bias_correction": False, "upper_bound": 5.0}),
    ("lamb", {"lower_bound": 60.0}),
]
TOL = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


# --- the rules, from MXNet 2.x's documentation and kernels ------------------------------------
def _clip(x, bound):
    return onp.clip(x, -bound, bound) if bound is not None and bound > 0 else x


def reference_step(name, c, w, g, state, lr, wd, t):
    """One update of weight ``w`` (float64) by optimizer ``name`` with settings ``c``: the new
    weight and state."""
    g = _clip(g * c["rescale_grad"], c["clip_gradient"])
    if name in ("sgd", "nag"):
        g = g + wd * w
        if c["momentum"] == 0:
            return w - lr * g, state
        mom = c["momentum"] * state[0] - lr * g
        if name == "sgd":
            return w + mom, [mom]
        return w + c["momentum"] * mom - lr * g, [mom]
    if name == "adam":
        g = g + wd * w
        m = c["beta1"] * state[0] + (1 - c["beta1"]) * g
        v = c["beta2"] * state[1] + (1 - c["beta2"]) * g * g
        lr_t = lr * math.sqrt(1 - c["beta2"] ** t) / (1 - c["beta1"] ** t)
        return w - lr_t * m / (onp.sqrt(v) + c["epsilon"]), [m, v]
    if name == "adamw":
        m = c["beta1"] * state[0] + (1 - c["beta1"]) * g
        v = c["beta2"] * state[1] + (1 - c["beta2"]) * g * g
        lr_t = lr * math.sqrt(1 - c["beta2"] ** t) / (1 - c["beta1"] ** t) \
            if c["correct_bias"] else lr
        return w - lr_t * (m / (onp.sqrt(v) + c["epsilon"]) + wd * w), [m, v]
    if name == "rmsprop":
        g = g + wd * w
        n = (1 - c["rho"]) * g * g + c["rho"] * state[0]
        if not c["centered"]:
            new, state = w - lr * g / (onp.sqrt(n) + c["epsilon"]), [n]
        else:
            mean = (1 - c["rho"]) * g + c["rho"] * state[1]
            delta = c["momentum"] * state[2] - lr * g / onp.sqrt(n - mean * mean + c["epsilon"])
            new, state = w + delta, [n, mean, delta]
        return _clip(new, c["clip_weights"]), state
    if name == "adagrad":
        g = g + wd * w
        history = state[0] + g * g
        return w - lr * g / (onp.sqrt(history) + c["epsilon"]), [history]
    if name == "lamb":
        m = c["beta1"] * state[0] + (1 - c["beta1"]) * g
        v = c["beta2"] * state[1] + (1 - c["beta2"]) * g * g
        if c["bias_correction"]:
            u = (m / (1 - c["beta1"] ** t)) / (onp.sqrt(v / (1 - c["beta2"] ** t)) + c["epsilon"])
        else:
            u = m / (onp.sqrt(v) + c["epsilon"])
        u = u + wd * w
        r1 = onp.linalg.norm(w)
        if c["lower_bound"] is not None and c["lower_bound"] > 0:
            r1 = max(r1, c["lower_bound"])
        if c["upper_bound"] is not None and c["upper_bound"] > 0:
            r1 = min(r1, c["upper_bound"])
        r2 = onp.linalg.norm(u)
        ratio = 1.0 if r1 == 0 or r2 == 0 else r1 / r2
        return w - lr * ratio * u, [m, v]
    raise AssertionError(name)


def reference(name, kw, weights, grad_steps):
    c = {**COMMON, **DEFAULTS[name], **kw}
    ws = [w.astype(onp.float64) for w in weights]
    states = [[onp.zeros_like(w) for _ in range(3)] for w in ws]
    counts = [0] * len(ws)
    for grads, subset in zip(grad_steps, SUBSETS):
        for k in subset:
            counts[k] += 1
            ws[k], states[k] = reference_step(
                name, c, ws[k], grads[k].astype(onp.float64), states[k],
                c["learning_rate"] * LR_MULT[k], c["wd"] * WD_MULT[k], counts[k])
    return ws


# --- clgrad ----------------------------------------------------------------------------------
class _Mults:
    """What the optimizer reads from a Gluon Parameter in param_dict."""

    def __init__(self, lr_mult, wd_mult):
        self.lr_mult, self.wd_mult = lr_mult, wd_mult


def make_optimizer(name, kw, packed, **extra):
    o = opt.create(name, use_fused_step=packed, **COMMON, **kw, **extra)
    o.set_lr_mult({1: LR_MULT[1]})
    o.set_wd_mult({1: WD_MULT[1]})
    o.param_dict = {2: _Mults(LR_MULT[2], WD_MULT[2])}
    return o


def run(name, kw, dtype, packed, weights, grad_steps, **extra):
    """The weights (NumPy) after the steps, on packed arenas or on separate arrays."""
    o = make_optimizer(name, kw, packed, **extra)
    indices = list(range(len(weights)))
    if packed:
        wa = Arena.pack([np.array(w, dtype=dtype) for w in weights])
        ga = wa.like()
        ws, gs, states = wa.views, ga.views, fused.create_states(o, indices, wa)
    else:
        ws = [np.array(w, dtype=dtype) for w in weights]
        gs = [np.zeros(w.shape, dtype=dtype) for w in weights]
        states = [o.create_state_multi_precision(i, w) for i, w in zip(indices, ws)]
    for grads, subset in zip(grad_steps, SUBSETS):
        for k in subset:
            gs[k][...] = np.array(grads[k], dtype=dtype)
        o.update(subset, [ws[k] for k in subset], [gs[k] for k in subset],
                 [states[k] for k in subset])
    return [w.asnumpy() for w in ws], states


def data(dtype, seed=0):
    rng = onp.random.default_rng(seed)
    weights = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grad_steps = [[(2 * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
                  for _ in SUBSETS]
    return weights, grad_steps


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{'-'.join(k) or 'default'}"
                                                for n, k in CASES])
def test_rule_matches_reference(name, kw, dtype):
    weights, grad_steps = data(dtype)
    packed, _ = run(name, kw, dtype, True, weights, grad_steps)
    alone, _ = run(name, kw, dtype, False, weights, grad_steps)
    want = reference(name, kw, weights, grad_steps)
    for k, (p, a, r) in enumerate(zip(packed, alone, want)):
        onp.testing.assert_array_equal(p, a, err_msg=f"parameter {k}: packed != one by one")
        onp.testing.assert_allclose(p, r, err_msg=f"parameter {k}", **TOL[dtype])
        assert not onp.allclose(p, weights[k]), "the update changed nothing"


@pytest.mark.parametrize("name,kw", [("sgd", {"momentum": 0.9}), ("adam", {}), ("lamb", {})])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "one-by-one"])
def test_multi_precision_float16(name, kw, packed):
    """float16 weights with multi_precision: the rule runs on a float32 master copy, and the
    float16 weight is the master rounded to nearest."""
    weights, grad_steps = data("float16")
    got, states = run(name, kw, "float16", packed, weights, grad_steps, multi_precision=True)
    want = reference(name, kw, weights, grad_steps)
    for k, (w16, state, r) in enumerate(zip(got, states, want)):
        master = state[0].asnumpy()
        assert state[0].dtype == onp.float32
        onp.testing.assert_allclose(master, r, rtol=1e-4, atol=1e-5, err_msg=f"parameter {k}")
        onp.testing.assert_array_equal(w16, master.astype(onp.float16))


def test_float16_without_multi_precision_warns_and_updates():
    weights, grad_steps = data("float16")
    with pytest.warns(UserWarning, match="multi_precision"):
        got, _ = run("sgd", {"momentum": 0.9}, "float16", False, weights, grad_steps)
    want = reference("sgd", {"momentum": 0.9}, weights, grad_steps)
    for g, r in zip(got, want):
        assert g.dtype == onp.float16
        onp.testing.assert_allclose(g.astype(onp.float64), r, rtol=1e-2, atol=1e-2)


def test_lamb_states_are_float32_for_float16_weights():
    o = opt.LAMB()
    mean, var = o.create_state(0, np.zeros((3,), dtype="float16"))
    assert mean.dtype == var.dtype == onp.float32


def test_update_counts_and_num_update():
    o = opt.SGD(learning_rate=0.1, begin_num_update=5)
    w, g = np.ones((3,)), np.ones((3,))
    o.update([0], [w], [g], [None])
    o.update([0, 1], [w, np.ones((2,))], [g, np.ones((2,))], [None, None])
    assert o._index_update_count == {0: 7, 1: 6}
    assert o.num_update == 7


def test_adamw_skips_update_on_non_finite_rescale():
    o = opt.AdamW(learning_rate=0.1, rescale_grad=float("nan"))
    w = np.ones((4,))
    state = o.create_state(0, w)
    o.update([0], [w], [np.ones((4,))], [state])
    onp.testing.assert_array_equal(w.asnumpy(), onp.ones(4))
    assert o.num_update == 1


def test_clip_weights_and_clip_gradient_off_when_not_positive():
    """MXNet applies clip_gradient / clip_weights only when they are truthy and >= 0."""
    o = opt.SGD(learning_rate=1.0, clip_gradient=0)
    w = np.zeros((2,))
    o.update([0], [w], [np.array([3.0, -4.0])], [None])
    onp.testing.assert_array_equal(w.asnumpy(), [-3.0, 4.0])
