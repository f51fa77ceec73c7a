"""Gradients through broadcasting, against central finite differences (float64).

Every op that broadcasts its operands sums the gradient of an operand back over the axes that
broadcasting added or stretched (``unbroadcast``). The shapes here are drawn broadcast-
compatible with size-1 axes and unequal ranks, for each binary elementwise op of the op
registry, ``where``, ``clip``, ``broadcast_to`` and the batch dimensions of ``matmul``; a sum
over the wrong axis (say, one not shifted by the ranks' difference) shows as a gradient that
differs from finite differences, e.g. for ``x`` of shape (1, 3, 4) times ``w`` of shape (1, 4).
"""
import numpy as onp
import pytest
from gradcheck import check_grad
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from clgrad import np
from clgrad.ops.registry import REGISTRY
from clgrad.runtime import default_device

pytestmark = pytest.mark.skipif(not default_device().caps.fp64,
                                reason="finite differences need float64 (cl_khr_fp64)")

FD_SETTINGS = settings(max_examples=6, derandomize=True, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))


def _is_binary_elementwise(name):
    """A registered op whose np function is elementwise and takes two operands."""
    fn = getattr(np, name, None)
    if fn is None or not (fn.__doc__ or "").startswith("Elementwise"):
        return False
    half = np.array(0.5, dtype="float64")
    try:
        fn(half, half)
    except TypeError:       # a unary op refuses a second operand
        return False
    return True


BINARY = sorted(n for n, op in REGISTRY.items()
                if op.backward is not None and _is_binary_elementwise(n))

# Operand values inside each op's domain and away from its kinks: (a's range, b's range),
# signed ranges being magnitudes with random signs. Ops not listed take [-1, 1] for both.
DOMAINS = {
    "true_divide": ((-1, 1), ("signed", 0.5, 1.5)),
    "power": ((0.5, 1.5), (-1, 1)),
    "arctan2": ((-1, 1), (0.5, 1.5)),
    "hypot": ((0.5, 1.5), (0.5, 1.5)),
    "copysign": (("signed", 0.2, 1), ("signed", 0.2, 1)),
    # a / b in (0.08, 0.54): away from the jumps of mod / fmod / floor_divide
    "mod": ((0.2, 0.8), (1.5, 2.5)), "fmod": ((0.2, 0.8), (1.5, 2.5)),
    "floor_divide": ((0.2, 0.8), (1.5, 2.5)),
}
TIES_MATTER = {"maximum", "minimum", "fmax", "fmin"}


def _values(rng, shape, spec):
    if spec[0] == "signed":
        _, lo, hi = spec
        return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.uniform(spec[0], spec[1], shape)


@st.composite
def broadcast_shapes(draw, operands=2, max_rank=3):
    """Shapes of ``operands`` arrays that broadcast together: each takes a suffix of one
    result shape (so the ranks differ) with some axes set to 1 (to be stretched)."""
    rank = draw(st.integers(1, max_rank))
    result = tuple(draw(st.lists(st.integers(2, 3), min_size=rank, max_size=rank)))
    shapes = []
    for _ in range(operands):
        r = draw(st.integers(0, rank))
        ones = draw(st.lists(st.booleans(), min_size=r, max_size=r))
        shapes.append(tuple(1 if one else n for one, n in zip(ones, result[rank - r:])))
    return shapes


@pytest.mark.parametrize("name", BINARY)
@FD_SETTINGS
@given(shapes=broadcast_shapes(), seed=st.integers(0, 2 ** 16))
@example(shapes=[(1, 3, 4), (1, 4)], seed=0)        # the shapes a misplaced axis breaks
@example(shapes=[(4,), (2, 3, 1)], seed=1)
def test_binary_op_gradient_through_broadcasting(name, shapes, seed):
    rng = onp.random.default_rng(seed)
    da, db = DOMAINS.get(name, ((-1, 1), (-1, 1)))
    a, b = _values(rng, shapes[0], da), _values(rng, shapes[1], db)
    if name in TIES_MATTER:
        assume(onp.min(onp.abs(a - b), initial=1.0) > 1e-3)
    check_grad(getattr(np, name), a, b)


def test_every_binary_elementwise_op_is_covered():
    """The list comes from the registry; it must hold the ops everyone knows are binary."""
    assert {"add", "subtract", "multiply", "true_divide", "power", "maximum"} <= set(BINARY)


@FD_SETTINGS
@given(shapes=broadcast_shapes(operands=3), seed=st.integers(0, 2 ** 16))
@example(shapes=[(1, 3, 4), (1, 4), (3, 1)], seed=0)
def test_where_gradient_through_broadcasting(shapes, seed):
    rng = onp.random.default_rng(seed)
    cond = np.array(rng.uniform(size=shapes[0]) > 0.5)
    x, y = rng.uniform(-1, 1, shapes[1]), rng.uniform(-1, 1, shapes[2])
    check_grad(lambda x, y: np.where(cond, x, y), x, y)


@FD_SETTINGS
@given(shapes=broadcast_shapes(operands=3), seed=st.integers(0, 2 ** 16))
@example(shapes=[(1, 3, 4), (1, 4), (3, 1)], seed=0)
@example(shapes=[(), (), (2,)], seed=0)             # bounds that make the result larger than a
def test_clip_gradient_through_broadcasting(shapes, seed):
    rng = onp.random.default_rng(seed)
    a = rng.uniform(-1, 1, shapes[0])
    lo, hi = rng.uniform(-0.6, -0.4, shapes[1]), rng.uniform(0.4, 0.6, shapes[2])
    assume(onp.min(onp.abs(a - lo), initial=1.0) > 1e-3)     # away from the bounds' kinks
    assume(onp.min(onp.abs(a - hi), initial=1.0) > 1e-3)
    check_grad(np.clip, a, lo, hi)


@FD_SETTINGS
@given(shapes=broadcast_shapes(), seed=st.integers(0, 2 ** 16))
@example(shapes=[(1, 3, 4), (1, 4)], seed=0)
def test_broadcast_to_gradient(shapes, seed):
    target = np.broadcast_shapes(*shapes)
    x = onp.random.default_rng(seed).uniform(-1, 1, shapes[1])
    check_grad(lambda x: np.broadcast_to(x, target), x)


@FD_SETTINGS
@given(batch=broadcast_shapes(max_rank=2), dims=st.tuples(*[st.integers(1, 3)] * 3),
       seed=st.integers(0, 2 ** 16))
@example(batch=[(2, 1), (3,)], dims=(2, 3, 2), seed=0)
@example(batch=[(1,), (2, 3)], dims=(1, 2, 3), seed=1)
def test_matmul_gradient_through_batch_broadcasting(batch, dims, seed):
    n, k, m = dims
    rng = onp.random.default_rng(seed)
    a = rng.uniform(-1, 1, batch[0] + (n, k))
    b = rng.uniform(-1, 1, batch[1] + (k, m))
    check_grad(np.matmul, a, b)
