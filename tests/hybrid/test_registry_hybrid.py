"""Every differentiable op of the registry gives the same values and gradients hybridized as
eagerly: the finite-difference cases of tests/autograd/test_op_grads.py (broadcasting, strided
views, scalars, 0-d arrays among them), each captured, then replayed, against its eager run."""
import sys
import warnings
from pathlib import Path

import numpy as onp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "autograd"))

from test_op_grads import CASES  # noqa: E402

from clgrad import autograd, np, npx  # noqa: E402
from clgrad.hybrid import HybridizeWarning  # noqa: E402
from clgrad.runtime import default_device  # noqa: E402

pytestmark = pytest.mark.skipif(not default_device().caps.fp64,
                                reason="the cases are float64 (cl_khr_fp64)")

# ops some of whose cases cannot be captured, and why (they run eagerly, with one warning)
EAGER = {
    "to_device": "moves data between devices",
    # integer indices are checked on the host (IndexError, as NumPy) before the gather
    "take": "reads its indices", "take_along_axis": "reads its indices",
    "advanced_setitem": "reads its indices",
}


def _run(fn, vals, seed):
    np.random.seed(3)       # random ops draw the same numbers in every run
    xs = [np.array(v) for v in vals]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = fn(*xs)
    g = onp.random.default_rng(seed).uniform(0.5, 1.5, size=y.shape)
    y.backward(np.array(g, dtype=y.dtype))
    return y.asnumpy(), [x.grad.asnumpy() for x in xs]


@pytest.mark.parametrize("op, fn, inputs, tol", CASES)
def test_hybridized_matches_eager(op, fn, inputs, tol):
    want, want_g = _run(fn, inputs, 0)
    h = npx.hybridize(fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HybridizeWarning)
        for call in ("capture", "replay", "replay again"):
            got, got_g = _run(h, inputs, 0)
            onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14,
                                        err_msg=f"{op} forward, {call}")
            for a, b in zip(got_g, want_g):
                onp.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14,
                                            err_msg=f"{op} gradient, {call}")
    fell_back = [w for w in caught if issubclass(w.category, HybridizeWarning)]
    if fell_back:
        assert op in EAGER, f"{op} was not captured: {fell_back[0].message}"
        assert h.eager is not None and not h.graphs
    else:
        assert len(h.graphs) == 1
