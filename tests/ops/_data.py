"""Test data and exact comparisons shared by the copying-op tests (manip, indexing, sort)."""
import numpy as onp

DTYPES = ["float32", "float64", "int32", "int64", "bool", "float16"]


def host(shape, dtype="float32", seed=0, lo=-50, hi=50):
    """Deterministic host data of ``dtype``: integers in [lo, hi), normals for floats."""
    rng = onp.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if onp.dtype(dtype).kind in "iu":
        return rng.integers(lo, hi, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def same(got, want):
    """``got`` (a clgrad array, or a sequence of them) equals ``want`` in shape, dtype and values."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w)
        return
    got = got.asnumpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    onp.testing.assert_array_equal(got, want)
