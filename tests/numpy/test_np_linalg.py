"""``clgrad.np.linalg``: the namespace module (the Array API's vector_norm, matrix_norm, vecdot,
matrix_transpose; the factorisations clgrad does not provide refuse with a clear error). The norms
and products themselves are tested with their ops (tests/ops/test_linalg.py)."""
import numpy as onp
import pytest

from clgrad import MXNetError, np


def _data(shape, seed=0):
    return onp.random.default_rng(seed).standard_normal(shape).astype(onp.float32)


def _check(res, ref):
    host = res.asnumpy()
    assert host.shape == onp.shape(ref)
    onp.testing.assert_allclose(host.astype(onp.float64), ref, rtol=1e-4, atol=1e-4)


def _ref_matmul(a, b):
    return onp.matmul(a.astype(onp.float64), b.astype(onp.float64))


def test_linalg_namespace():
    X = _data((3, 4), seed=8)
    Y = _data((2, 3, 4), seed=9)
    _check(np.linalg.vector_norm(np.array(X), ord=1), onp.abs(X.astype(onp.float64)).sum())
    _check(np.linalg.vector_norm(np.array(X), axis=1), onp.linalg.norm(X.astype(onp.float64),
                                                                       axis=1))
    _check(np.linalg.matrix_norm(np.array(Y)), onp.linalg.norm(Y.astype(onp.float64),
                                                               axis=(1, 2)))
    _check(np.linalg.vecdot(np.array(Y), np.array(X)), (Y.astype(onp.float64) * X).sum(-1))
    _check(np.linalg.matrix_transpose(np.array(Y)), onp.swapaxes(Y, -1, -2))
    _check(np.linalg.matmul(np.array(X), np.array(X.T)), _ref_matmul(X, X.T))
    with pytest.raises(MXNetError, match="svd"):
        np.linalg.svd(np.ones((2, 2)))
    with pytest.raises(AttributeError):
        np.linalg.no_such_function


@pytest.mark.parametrize("name", ["svd", "qr", "cholesky", "inv", "solve", "det", "eigh"])
def test_factorisations_say_they_are_not_provided(name):
    with pytest.raises(MXNetError, match=name):
        getattr(np.linalg, name)(np.ones((2, 2)))


def test_a_missing_factorisation_is_not_implemented_and_not_an_attribute():
    with pytest.raises(NotImplementedError, match="inv"):
        np.linalg.inv
    assert not hasattr(np.linalg, "inv")            # an AttributeError to hasattr / getattr
    assert getattr(np.linalg, "det", None) is None
