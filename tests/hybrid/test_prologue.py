"""Elementwise prologues of reductions: a captured graph folds the elementwise op whose output
only a reduction reads into the reduction's first stage (``folds.fuse_prologues``), in every
layout of the reduction family."""
import contextlib

import numpy as onp
import pytest

from clgrad import autograd, gluon, np, npx
from clgrad.runtime import default_device
from clgrad.tune import db

from _capture import replay

FP64 = default_device().caps.fp64
rng = onp.random.default_rng(23)


def _arr(shape, dtype="float32"):
    return np.array(rng.standard_normal(shape).astype(dtype))


def _layout(name):
    """The device's own layouts, or the work-group layout (a local-memory tree) forced through
    the tuning database, with a small group and parts so small arrays take two stages."""
    if name == "default":
        return contextlib.nullcontext()
    return db.override("reduce", {"wg": 8, "min_group_k": 16, "waves": 64})


def _var(x):
    m = x.mean(axis=-1, keepdims=True)
    return ((x - m) ** 2).mean(axis=-1)


CASES = {
    # a user's variance: (x - m) ** 2 with m broadcast along the reduced axis
    "variance": (_var, [(64, 100)], 1e-6),
    "negated mean": (lambda x: (-x).mean(), [(300, 50)], 1e-6),
    # a leading axis (CPUs: the row layout), an operand broadcast along each axis
    "leading axis": (lambda x, w, c: (x * w + c).sum(axis=0), [(3000, 40), (40,), (3000, 1)], 1e-6),
    # one run for the reduction, two for a broadcast row: the dimension is split again
    # (both summed in another order: the split walk has no unrolled accumulators)
    "whole array": (lambda x, w: ((x - w) ** 2).mean(), [(300, 50), (50,)], 1e-4),
    "whole array, long": (lambda x, w: (x * w).sum(), [(1000, 70), (1000, 1)], 1e-2),
    # two reduced axes that do not merge: the inner index walks two dimensions
    "two axes": (lambda x, y: (x * y).sum(axis=(0, 2)), [(40, 5, 7), (40, 5, 7)], 1e-6),
    # a long reduction split in parts (a second stage combines them)
    "two stages": (lambda x: (x - 1.0).sum(), [(50000,)], 1e-6),
    "argmax": (lambda x, y: (x - y).argmax(axis=1), [(30, 90), (30, 90)], 1e-6),
    "max of abs": (lambda x: np.abs(x * 3.0).max(axis=0), [(64, 33)], 1e-6),
}


@pytest.mark.parametrize("layout", ["default", "group"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_reduction_computes_the_elementwise_op_it_reads(case, layout):
    fn, shapes, atol = CASES[case]
    args = [_arr(s) for s in shapes]
    with _layout(layout):
        want, got, n, text = replay(fn, *args)
    onp.testing.assert_allclose(got, want, rtol=1e-6, atol=atol, err_msg=text)
    assert "1 with an elementwise prologue" in text, text
    assert "0 elementwise kernels" in text, text        # nothing left to launch on its own
    assert "_pro ---" in text, text                      # the kernel's source is shown


def test_a_transposed_operand_is_walked_along_its_own_strides():
    x, y = _arr((48, 70)), _arr((70, 48))
    terms = onp.abs(x.asnumpy() * y.asnumpy().T)
    for axis in (0, 1, None):
        want, got, n, text = replay(lambda x, y, axis=axis: (x * y.T).sum(axis=axis), x, y)
        # float32 sums in another order (a split walk has no unrolled accumulators): within
        # a few ulp of the sum of the terms' magnitudes
        bound = 4 * onp.finfo(onp.float32).eps * terms.sum(axis=axis)
        assert (onp.abs(got - want) <= bound).all(), (got, want, bound)
        # (axis None: the whole array is one run of memory for the reduction, not for y.T, so
        # the fused reduction walks two dimensions)
        assert "1 with an elementwise prologue" in text, text


@pytest.mark.parametrize("dtype", ["int32", "uint8", "float64"])
def test_dtype_changes_between_the_op_and_the_reduction(dtype):
    if dtype == "float64" and not FP64:
        pytest.skip("the device has no float64")
    x = np.array((rng.standard_normal((20, 30)) * 50).astype(dtype))
    cases = [lambda x: (x * 3).mean(axis=1),          # integers averaged as float32
             lambda x: (x > 1).sum(axis=0),            # booleans counted in int64
             lambda x: (x > 1).any(axis=1),
             lambda x: (x.astype("float32") / 7).sum()]
    for fn in cases:
        want, got, n, text = replay(fn, x)
        assert got.dtype == want.dtype
        onp.testing.assert_allclose(got, want, rtol=1e-6)
        assert "1 with an elementwise prologue" in text, text


def test_a_0d_reduction_takes_a_prologue():
    x = np.array(2.5, dtype="float32")
    want, got, n, text = replay(lambda x: (x * 2 + 1).sum(), x)
    assert got == want == 6.0 and n == 1, text


def test_a_value_read_twice_or_returned_is_not_folded():
    x = _arr((32, 40))
    # read by two reductions: it must exist
    want, got, n, text = replay(lambda x: (x * 2).sum(axis=0) + (x * 2).max(axis=0)[0], x)
    onp.testing.assert_allclose(got, want, rtol=1e-6)

    def twice(x):
        y = x * 2
        return y.sum(axis=1) + y.max(axis=1)
    want, got, n, text = replay(twice, x)
    onp.testing.assert_allclose(got, want, rtol=1e-6)
    assert "0 with an elementwise prologue" in text, text

    def returned(x):
        y = x - 1
        return y, y.sum()
    h = npx.hybridize(returned)
    h(x)
    y, s = h(x)
    onp.testing.assert_allclose(y.asnumpy(), x.asnumpy() - 1, rtol=1e-6)
    onp.testing.assert_allclose(s.asnumpy(), (x.asnumpy() - 1).sum(), rtol=1e-5)
    assert "0 with an elementwise prologue" in h.describe(), h.describe()


def test_gradients_through_a_folded_reduction_match_eager():
    x = _arr((16, 50))
    x.attach_grad()

    def f(x):
        return _var(x * 1.5).sum()
    with autograd.record():
        want = f(x)
    want.backward()
    g = x.grad.asnumpy().copy()
    h = npx.hybridize(f)
    for _ in range(2):
        with autograd.record():
            y = h(x)
        y.backward()
    onp.testing.assert_allclose(y.asnumpy(), want.asnumpy(), rtol=1e-6)
    onp.testing.assert_allclose(x.grad.asnumpy(), g, rtol=1e-5, atol=1e-6)
    assert "with an elementwise prologue" in h.describe()


def test_a_gluon_loss_folds_its_elementwise_tail_into_its_mean():
    loss = gluon.loss.L2Loss()
    loss.hybridize()
    p, t = _arr((64, 10)), _arr((64, 10))
    want = gluon.loss.L2Loss()(p, t).asnumpy()
    loss(p, t)
    got = loss(p, t).asnumpy()
    onp.testing.assert_allclose(got, want, rtol=1e-6)
    text = loss.describe_captured()
    assert "1 with an elementwise prologue" in text, text
