"""Property tests against NumPy: broadcasting (shapes, strided views, mismatches) and dtype
promotion between arrays and with Python scalars, under MXNet's rules.

The drawn dtypes, ranks and layouts are kept to small sets so the number of distinct kernels
(hence compilations) stays bounded however many runs accumulate.
"""
import numpy as onp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import clgrad
from clgrad import np
from ops._rules import DTYPES, assert_matches, expected_dtype, sample

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2 ** 16)


def _reference(name, ah, bh, want_dtype):
    with onp.errstate(all="ignore"):
        return getattr(onp, name)(ah.astype(want_dtype), bh.astype(want_dtype)) \
            if name != "equal" else onp.equal(ah, bh)


# --- broadcasting --------------------------------------------------------------------------------
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=seeds)
def test_broadcasting_matches_numpy(shapes, seed):
    (sa, sb), result = shapes
    ah = sample("float32", sa, seed)
    bh = sample("float32", sb, seed + 1)
    got = np.add(np.array(ah), np.array(bh))
    assert got.shape == result == onp.broadcast_shapes(sa, sb)
    assert_matches(got, ah + bh)


def _view(h, dev, how):
    """The same view of host ``h`` and device ``dev``: as is, reversed, or transposed."""
    if how == "reversed" and h.ndim:
        return h[::-1], dev[::-1]
    if how == "transposed":
        return h.T, dev.T
    return h, dev


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       how=st.tuples(st.sampled_from(["plain", "reversed", "transposed"]),
                     st.sampled_from(["plain", "reversed", "transposed"])),
       seed=seeds)
def test_broadcasting_strided_views(shapes, how, seed):
    (sa, sb), _ = shapes
    # build the bases so that the chosen view has the drawn shape
    sa_base = sa[::-1] if how[0] == "transposed" else sa
    sb_base = sb[::-1] if how[1] == "transposed" else sb
    ah0, bh0 = sample("float32", sa_base, seed), sample("float32", sb_base, seed + 1)
    ah, ad = _view(ah0, np.array(ah0), how[0])
    bh, bd = _view(bh0, np.array(bh0), how[1])
    assert_matches(np.subtract(ad, bd), ah - bh)
    assert_matches(np.maximum(bd, ad), onp.maximum(bh, ah))


@SETTINGS
@given(sa=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
       sb=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
def test_broadcast_errors_exactly_when_numpy_raises(sa, sb):
    try:
        want = onp.broadcast_shapes(sa, sb)
    except ValueError:
        want = None
    a = np.zeros(sa)
    b = np.ones(sb)
    if want is None:
        with pytest.raises(clgrad.ShapeError, match="broadcast"):
            np.add(a, b)
        with pytest.raises(ValueError):
            np.broadcast_shapes(sa, sb)
        assert a.asnumpy().sum() == 0 and b.asnumpy().size == onp.prod(sb)
    else:
        got = np.add(a, b)
        assert got.shape == want
        assert (got.asnumpy() == 1).all()


# --- dtype promotion -----------------------------------------------------------------------------
@SETTINGS
@given(da=dtypes, db=dtypes, op=st.sampled_from(["add", "multiply", "maximum", "equal"]),
       seed=seeds)
def test_array_array_promotion(da, db, op, seed):
    ah, bh = sample(da, (2, 3), seed), sample(db, (2, 3), seed + 1)
    got = getattr(np, op)(np.array(ah), np.array(bh))
    want_dtype = onp.dtype(bool) if op == "equal" else expected_dtype(da, db)
    if op != "equal":
        mixed = (da.kind == "f") != (db.kind == "f")
        # MXNet's one departure from NumPy here: a float array fixes the type of a mixed pair
        assert want_dtype == ((da if da.kind == "f" else db) if mixed else onp.result_type(da, db))
    assert_matches(got, _reference(op, ah, bh, want_dtype), want_dtype, f"{op}({da}, {db})")


@SETTINGS
@given(da=dtypes, db=dtypes, seed=seeds)
def test_true_divide_gives_float32_for_integers(da, db, seed):
    ah, bh = sample(da, (3,), seed), sample(db, (3,), seed + 1, nonzero=True)
    got = np.true_divide(np.array(ah), np.array(bh))
    want_dtype = expected_dtype(da, db, float_result=True)
    if da.kind == "f" and db.kind == "f":
        assert want_dtype == onp.result_type(da, db)      # as NumPy
    elif da.kind == "f" or db.kind == "f":
        assert want_dtype == (da if da.kind == "f" else db)     # MXNet: the float's type
    else:
        assert want_dtype == onp.float32                  # NumPy: float64 (float16 for int8)
    assert_matches(got, _reference("true_divide", ah, bh, want_dtype), want_dtype)


scalars = st.one_of(st.booleans(), st.integers(-3, 3), st.sampled_from([-1.5, 0.25, 2.0]))


@SETTINGS
@given(d=dtypes, s=scalars, left=st.booleans(), seed=seeds)
def test_python_scalars_are_weak(d, s, left, seed):
    """A Python scalar never widens an array's dtype within its kind; a float with an integer
    or bool array gives float32 (NumPy: float64)."""
    if d.kind == "u" and isinstance(s, int) and not isinstance(s, bool) and s < 0:
        s = -s                      # NumPy refuses negative Python ints for unsigned arrays
    h = sample(d, (4,), seed)
    x = np.array(h)
    got = np.add(s, x) if left else np.add(x, s)
    want_dtype = expected_dtype(d, s)
    if isinstance(s, bool) or (isinstance(s, int) and d.kind != "b"):
        assert want_dtype == d
    elif isinstance(s, float):
        assert want_dtype == (d if d.kind == "f" else onp.float32)
    with onp.errstate(all="ignore"):
        want = (s + h.astype(want_dtype)) if left else (h.astype(want_dtype) + s)
    assert_matches(got, want, want_dtype, f"{d} + {s!r}")


@SETTINGS
@given(d=dtypes, s=scalars)
def test_scalar_comparisons_keep_bool(d, s):
    if d.kind == "u" and not isinstance(s, bool) and s < 0:
        s = abs(s)
    h = sample(d, (4,), 3)
    got = np.array(h) < s
    assert_matches(got, h < s, onp.bool_)
