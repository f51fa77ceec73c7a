"""Elementwise epilogues after matrix products: a captured graph folds the elementwise op that
alone reads a product's result into the product's kernel (``folds.fuse_epilogues``)."""
import re

import numpy as onp
import pytest

from clgrad import autograd, gluon, np, npx
from clgrad.runtime import default_device

from _capture import replay

FP64 = default_device().caps.fp64
rng = onp.random.default_rng(11)


def _arr(shape, dtype="float32"):
    return np.array(rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("M,K,N", [(128, 96, 80), (37, 130, 53), (200, 64, 17)])
def test_bias_relu_and_more_fold_into_the_product(M, K, N):
    a, b = _arr((M, K)), _arr((K, N))
    bias, col, s = _arr((N,)), _arr((M, 1)), _arr((M, N))

    def f(a, b, bias, col, s):
        return npx.relu(a @ b + bias) * 0.5 - col + s
    want, got, n, text = replay(f, a, b, bias, col, s)
    onp.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert n == 1, text                     # one launch: the product with its epilogue
    assert ("1 with an elementwise epilogue, 0 with an elementwise prologue, 0 writing a row "
            "sum beside), computing 5 elementwise ops") in text, text


def test_a_transposed_product_folds_in_the_right_orientation():
    # A along M and B along K: the plan computes C.T = B.T @ A.T; the epilogue must follow
    X, Y = _arr((96, 120)), _arr((70, 96))     # a = X.T (120, 96), b = Y.T (96, 70)
    bias, col = _arr((70,)), _arr((120, 1))

    def f(X, Y, bias, col):
        return (X.T @ Y.T + bias) * col
    want, got, n, text = replay(f, X, Y, bias, col)
    onp.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert "_epi ---" in text, text


@pytest.mark.skipif(not FP64, reason="the device has no float64")
def test_float64_and_a_change_of_dtype_in_the_epilogue():
    a, b = _arr((64, 72), "float64"), _arr((72, 40), "float64")
    want, got, n, text = replay(lambda a, b: npx.sigmoid(a @ b) + 1, a, b)
    onp.testing.assert_allclose(got, want, rtol=1e-12)
    assert "_epi ---" in text
    a, b = _arr((64, 72)), _arr((72, 40))
    want, got, n, text = replay(lambda a, b: (a @ b) > 0.25, a, b)
    assert got.dtype == onp.bool_ and (got == want).all()
    assert "_epi ---" in text


def test_a_product_read_twice_or_kept_for_backward_is_not_folded():
    a, b = _arr((64, 72)), _arr((72, 40))
    want, got, n, text = replay(lambda a, b: (a @ b) * (a @ b).sum(), a, b)
    onp.testing.assert_allclose(got, want, rtol=1e-5)
    x, w = _arr((64, 72)), _arr((72, 40))
    x.attach_grad()
    w.attach_grad()

    def f(x, w):
        y = x @ w
        return y * y                        # the backward reads y: it must exist
    h = npx.hybridize(f)
    for _ in range(2):
        with autograd.record():
            z = h(x, w)
        z.backward()
    gx, gw = x.grad.asnumpy().copy(), w.grad.asnumpy().copy()
    with autograd.record():
        z2 = f(x, w)
    z2.backward()
    onp.testing.assert_allclose(gx, x.grad.asnumpy(), rtol=1e-5)
    onp.testing.assert_allclose(gw, w.grad.asnumpy(), rtol=1e-5)


def test_the_mlp_folds_every_bias_relu_and_relu_gradient():
    """The forward folds each bias and relu into its product; the backward folds each relu's
    gradient into the product that computes the gradient reaching it (the weight gradient's
    product beside it reads the relu's output but writes elsewhere: ``Kernel.outputs``)."""
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(256, activation="relu", in_units=784),
            gluon.nn.Dense(256, activation="relu", in_units=256), gluon.nn.Dense(10, in_units=256))
    net.initialize()
    x = _arr((128, 784))
    with autograd.record():
        want = net(x)
    want.backward()
    gw = [p.grad().asnumpy().copy() for p in net.collect_params().values()]
    net.hybridize()
    for _ in range(2):
        with autograd.record():
            y = net(x)
        y.backward()
    onp.testing.assert_allclose(y.asnumpy(), want.asnumpy(), rtol=1e-6, atol=1e-6)
    for p, g in zip(net.collect_params().values(), gw):
        onp.testing.assert_allclose(p.grad().asnumpy(), g, rtol=1e-5, atol=1e-6)
    text = net.describe_captured()
    backward = [line for line in text.splitlines() if line.strip().startswith("backward:")]
    assert len(backward) == 1 and "(2 with an elementwise epilogue," in backward[0], text
    # and each bias gradient (the batch sum of the gradient reaching the layer) is written by
    # the product of its weight gradient, which reads that gradient as its A
    assert "3 writing a row sum beside" in backward[0], text
    assert len(re.findall(r"matmul_[nk]vec_epi(?:_c2)? ---", text)) == 5, text
    # the first activation is read as it is by the backward and transposed by the next
    # product: its product stores both (the copy's launch is gone)
    assert "matmul_nvec_epi_c2 ---" in text, text


@pytest.mark.parametrize("vw", [1, 4, 16])
def test_the_epilogue_runs_at_any_vector_width_of_the_product(vw):
    """A product with a vector width at which the device verified arithmetic but not the
    epilogue's builtins (PoCL on Zen 4: float16 arithmetic, no float16 fmax) applies the epilogue
    lane by lane instead of losing it."""
    from clgrad.runtime import tuning, vector_width
    dev = default_device()
    if vector_width(dev, "float32", want=vw) < vw:
        pytest.skip(f"the device did not verify float{vw} arithmetic")
    params = {"MWG": 4, "NWG": 2 * vw, "KWG": vw, "MDIMC": 1, "NDIMC": 1, "VW": vw, "SA": 0,
              "SB": 0, "KC": 0, "MC": 0}
    a, b, bias = _arr((64, 48)), _arr((48, 40)), _arr((40,))
    with tuning.override("matmul", params):
        want, got, n, text = replay(lambda a, b, bias: npx.relu(a @ b + bias) * 2, a, b, bias)
    onp.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert n == 1 and "_epi ---" in text, text


# --- row sums: a sum of A over K written by the product that reads A -----------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("B,U,N", [(128, 256, 96), (37, 13, 50), (64, 10, 256)])
def test_a_bias_gradient_is_written_by_its_weight_gradients_product(dtype, B, U, N):
    if dtype == "float64" and not FP64:
        pytest.skip("the device has no float64")
    dy, x = _arr((B, U), dtype), _arr((B, N), dtype)

    def after(dy, x):
        return dy.T @ x, dy.sum(axis=0)

    def before(dy, x):      # the sum first: the product then writes it, before its readers
        s = dy.sum(axis=0)
        p = dy.T @ x
        return s * 2, p
    for fn in (after, before):
        want = [o.asnumpy() for o in fn(dy, x)]
        h = npx.hybridize(fn)
        h(dy, x)
        got = [o.asnumpy() for o in h(dy, x)]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            onp.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
        assert "1 writing a row sum beside" in h.describe(), h.describe()
        assert "_rows ---" in h.describe()


def test_sums_the_product_cannot_write_stay_reductions():
    dy, x = _arr((64, 32)), _arr((64, 48))
    for fn in (lambda dy, x: (dy.T @ x, dy.sum(axis=1)),               # over the other axis
               lambda dy, x: (dy.T @ x, dy.sum(axis=0, dtype="float64") if FP64 else
                              dy.max(axis=0)),                          # another dtype or kind
               lambda dy, x: (dy.T @ x, dy[1:].sum(axis=0))):           # part of A
        want = [o.asnumpy() for o in fn(dy, x)]
        h = npx.hybridize(fn)
        h(dy, x)
        got = [o.asnumpy() for o in h(dy, x)]
        for g, w in zip(got, want):
            onp.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
        assert "0 writing a row sum beside" in h.describe(), h.describe()


# --- a second output: a copy of the product's result stored by the product ----------------------
@pytest.mark.parametrize("M,K,N", [(128, 96, 80), (37, 130, 53)])
def test_a_transposed_copy_of_a_product_is_stored_by_the_product(M, K, N):
    a, b, bias = _arr((M, K)), _arr((K, N)), _arr((N,))

    def f(a, b, bias):
        h = npx.relu(a @ b + bias)
        ht = h.T.copy()         # another layout of the same values, beside h itself
        return h * 2, ht

    def plain(a, b):
        h = a @ b
        return h + 1, h.T.copy()
    for fn, args in ((f, (a, b, bias)), (plain, (a, b))):
        want = [o.asnumpy() for o in fn(*args)]
        h = npx.hybridize(fn)
        h(*args)
        got = [o.asnumpy() for o in h(*args)]
        for g, w in zip(got, want):
            onp.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
        assert "_c2 ---" in h.describe(), h.describe()
