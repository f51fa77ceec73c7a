"""complex64 / complex128 arrays: creation, arithmetic, parts, casts, special values, errors."""
import numpy as onp
import pytest

import clgrad
from clgrad import autograd
from clgrad import np
from clgrad.base import DTypeError, MXNetError
from clgrad.runtime import default_device

_FP64 = default_device().caps.fp64
DTYPES = [onp.complex64,
          pytest.param(onp.complex128, marks=pytest.mark.skipif(
              not _FP64, reason="the device lacks cl_khr_fp64"))]
TOL = {onp.dtype(onp.complex64): 2e-6, onp.dtype(onp.complex128): 1e-13}


def _data(dtype, shape=(3, 4), seed=0):
    r = onp.random.default_rng(seed)
    return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(dtype)


def _close(got, want):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    tol = TOL.get(want.dtype, 2e-6 if want.dtype == onp.float32 else 1e-13)
    onp.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# --- arithmetic against NumPy ------------------------------------------------------------------
BINARY = ["add", "subtract", "multiply", "true_divide", "equal", "not_equal"]
UNARY = ["negative", "positive", "absolute", "conjugate", "isnan", "isinf", "isfinite"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_numpy(dtype, name):
    a, b = _data(dtype, seed=1), _data(dtype, seed=2)
    b[0, 0] = a[0, 0]       # one equal pair, so equal/not_equal see both answers
    got = getattr(np, name)(np.array(a), np.array(b)).asnumpy()
    want = getattr(onp, name)(a, b)
    if want.dtype == bool:
        onp.testing.assert_array_equal(got, want)
    else:
        _close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_matches_numpy(dtype, name):
    a = _data(dtype)
    got = getattr(np, name)(np.array(a)).asnumpy()
    want = getattr(onp, name)(a)
    if want.dtype == bool:
        onp.testing.assert_array_equal(got, want)
    else:
        _close(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_operators_and_methods(dtype):
    a, b = _data(dtype, seed=3), _data(dtype, seed=4)
    x, y = np.array(a), np.array(b)
    _close((x + y).asnumpy(), a + b)
    _close((x - y).asnumpy(), a - b)
    _close((x * y).asnumpy(), a * b)
    _close((x / y).asnumpy(), a / b)
    _close((-x).asnumpy(), -a)
    _close(abs(x).asnumpy(), onp.abs(a))
    _close(x.conj().asnumpy(), a.conj())
    _close(x.real.asnumpy(), a.real)
    _close(x.imag.asnumpy(), a.imag)
    _close(np.real(x).asnumpy(), onp.real(a))
    _close(np.imag(x).asnumpy(), onp.imag(a))
    _close(np.conj(x).asnumpy(), onp.conj(a))
    onp.testing.assert_array_equal((x == x).asnumpy(), onp.ones(a.shape, bool))


# --- views, broadcasting, 0-d, empty ------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_views_and_broadcasting(dtype):
    a, b = _data(dtype, (4, 3), 5), _data(dtype, (3,), 6)
    x, y = np.array(a), np.array(b)
    _close((x.T * x.T).asnumpy(), a.T * a.T)
    _close((x[::-1, ::2] / y[::2]).asnumpy(), a[::-1, ::2] / b[::2])
    _close((x * y).asnumpy(), a * b)
    _close(np.absolute(x.T).asnumpy(), onp.abs(a.T))
    _close(x.T.real.asnumpy(), a.T.real)
    _close(x[::-1].imag.asnumpy(), a[::-1].imag)
    _close(x[1:, 1].conj().asnumpy(), a[1:, 1].conj())
    _close(x.T.astype(onp.float32 if dtype == onp.complex64 else onp.float64).asnumpy(),
           a.T.real)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_dim_and_empty(dtype):
    a = onp.array(1.5 - 2j, dtype)
    x = np.array(a)
    assert x.shape == () and x.dtype == dtype
    _close((x * x).asnumpy(), a * a)
    assert complex(x) == complex(a)
    assert x.item() == complex(a)
    e = np.zeros((0, 3), dtype=dtype)
    assert (e + e).shape == (0, 3) and (e + e).dtype == dtype
    assert np.absolute(e).dtype == onp.dtype(dtype).type(0).real.dtype


def test_real_imag_are_writable_views():
    a = _data(onp.complex64, (2, 3), 7)
    x = np.array(a)
    x.real[0] = 5
    x.imag[:, 1] = -1
    a.real[0] = 5
    a.imag[:, 1] = -1
    _close(x.asnumpy(), a)


def test_parts_of_real_arrays():
    a = onp.array([1.5, -2.0], onp.float32)
    x = np.array(a)
    _close(np.real(x).asnumpy(), a)
    _close(np.imag(x).asnumpy(), onp.zeros(2, onp.float32))
    _close(np.conj(x).asnumpy(), a)
    _close(x.real.asnumpy(), a)


# --- promotion and Python scalars --------------------------------------------------------------
def test_promotion_with_real_arrays():
    c = _data(onp.complex64, (3,), 8)
    f32 = onp.array([1.5, -2.0, 0.25], onp.float32)
    i32 = onp.array([1, -2, 3], onp.int32)
    x, f = np.array(c), np.array(f32)
    _close((x + f).asnumpy(), c + f32)
    _close((f * x).asnumpy(), f32 * c)
    _close((f / x).asnumpy(), f32 / c)
    # the real operand gets imaginary part 0, not its value twice
    _close((np.array(f32[::-1]) - x).asnumpy(), f32[::-1] - c)
    if _FP64:
        # MXNet's rule: an integer array takes the inexact operand's type (NumPy: complex128)
        _close((np.array(i32) - x).asnumpy(), (i32 - c).astype(onp.complex64))
        f64 = f32.astype(onp.float64)
        got = (x * np.array(f64)).asnumpy()
        _close(got, c * f64)
        assert got.dtype == onp.complex128


def test_python_complex_scalars_are_weak():
    c = _data(onp.complex64, (3,), 9)
    x = np.array(c)
    _close((x * (2 - 1j)).asnumpy(), c * onp.complex64(2 - 1j))
    _close(((1 + 1j) - x).asnumpy(), onp.complex64(1 + 1j) - c)
    _close((x / 2.0).asnumpy(), c / onp.float32(2))
    _close((x + 3).asnumpy(), c + onp.complex64(3))
    f = np.array(onp.array([1.0, -2.0], onp.float32))
    got = (f + 2j).asnumpy()
    _close(got, onp.array([1 + 2j, -2 + 2j], onp.complex64))
    # integers take MXNet's single-precision default, as with Python floats
    assert (np.array(onp.array([1, 2], onp.int32)) * 1j).dtype == onp.complex64
    if _FP64:
        d = np.array(onp.array([1.0, -2.0]))
        assert (d + 2j).dtype == onp.complex128
        _close((d * 1j).asnumpy(), onp.array([1j, -2j]))


# --- special values ---------------------------------------------------------------------------
_inf, _nan = onp.inf, onp.nan


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype):
    a = onp.array([complex(_inf, 0), complex(0, -_inf), complex(_nan, 1), complex(1, _nan),
                   complex(_inf, _nan), complex(0.0, 0.0), complex(-0.0, 0.0),
                   complex(3e38, 3e38)], dtype)
    x = np.array(a)
    with onp.errstate(all="ignore"):
        for name in ("isnan", "isinf", "isfinite"):
            onp.testing.assert_array_equal(getattr(np, name)(x).asnumpy(),
                                           getattr(onp, name)(a))
        # |inf + NaN j| is inf; hypot does not overflow for large finite parts
        onp.testing.assert_array_equal(np.absolute(x).asnumpy(), onp.abs(a))
        one = onp.array(1 + 0j, dtype)
        onp.testing.assert_array_equal((x * one).asnumpy(), a * one)
        onp.testing.assert_array_equal((x / np.array(onp.zeros(8, dtype))).asnumpy(),
                                       a / onp.zeros(8, dtype))
    for name in ("negative", "conjugate"):
        got = getattr(np, name)(x).asnumpy()
        want = getattr(onp, name)(a)
        onp.testing.assert_array_equal(got, want)
        # signed zeros: -(0+0j) is -0-0j, conj(0+0j) is 0-0j
        onp.testing.assert_array_equal(onp.signbit(got.real), onp.signbit(want.real))
        onp.testing.assert_array_equal(onp.signbit(got.imag), onp.signbit(want.imag))


@pytest.mark.parametrize("dtype", DTYPES)
def test_division_without_overflow(dtype):
    # Smith's algorithm: |b|^2 would overflow, the quotient does not
    big = 1e30 if dtype == onp.complex64 else 1e300
    a = onp.array([complex(big, big), complex(1, 2)], dtype)
    b = onp.array([complex(big, -big), complex(big, big / 2)], dtype)
    got = (np.array(a) / np.array(b)).asnumpy()
    _close(got, a / b)
    assert onp.isfinite(got).all()


# --- creation and casts ------------------------------------------------------------------------
def test_creation():
    x = np.array([1 + 2j, 3.0])
    assert x.dtype == onp.complex64
    _close(x.asnumpy(), onp.array([1 + 2j, 3], onp.complex64))
    assert np.array(2j).dtype == onp.complex64
    for dtype in (onp.complex64,) + ((onp.complex128,) if _FP64 else ()):
        _close(np.zeros((2, 2), dtype=dtype).asnumpy(), onp.zeros((2, 2), dtype))
        _close(np.ones((3,), dtype=dtype).asnumpy(), onp.ones(3, dtype))
        _close(np.full((2,), 1 - 3j, dtype=dtype).asnumpy(), onp.full(2, 1 - 3j, dtype))
        assert np.empty((2,), dtype=dtype).dtype == dtype
        a = _data(dtype, (2,), 10)
        assert np.array(a).dtype == dtype
        _close(np.array(a).asnumpy(), a)
        _close(np.zeros_like(np.array(a)).asnumpy(), onp.zeros(2, dtype))
    assert np.full((2,), 1 + 1j).dtype == onp.complex64
    x = np.zeros((2,), dtype="complex64")
    x[1] = 2 - 1j
    _close(x.asnumpy(), onp.array([0, 2 - 1j], onp.complex64))
    assert repr(np.array(onp.array([1j], onp.complex64))) == \
        "array([0.+1.j], dtype=complex64)"


def test_casts():
    c = onp.array([1.5 - 2j, 0j, -0.5 + 0j, 3j], onp.complex64)
    x = np.array(c)
    _close(x.astype("float32").asnumpy(), c.real)
    onp.testing.assert_array_equal(x.astype("int32").asnumpy(), c.real.astype(onp.int32))
    onp.testing.assert_array_equal(x.astype(bool).asnumpy(), c.astype(bool))
    f = onp.array([1.5, -2.0], onp.float32)
    _close(np.array(f).astype("complex64").asnumpy(), f.astype(onp.complex64))
    i = onp.array([3, -4], onp.int64)
    _close(np.array(i).astype("complex64").asnumpy(), i.astype(onp.complex64))
    if _FP64:
        _close(x.astype("complex128").asnumpy(), c.astype(onp.complex128))
        _close(x.astype("complex128").astype("complex64").asnumpy(), c)
        _close(np.array(f.astype(onp.float64)).astype("complex128").asnumpy(),
               f.astype(onp.complex128))


def test_where():
    a = _data(onp.complex64, (4,), 11)
    cond = onp.array([True, False, True, False])
    got = np.where(np.array(cond), np.array(a), 5j).asnumpy()
    _close(got, onp.where(cond, a, onp.complex64(5j)))


# --- reductions and creation ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "any", "all"])
@pytest.mark.parametrize("shape, axis", [((7,), None), ((300, 7), 0), ((7, 300), 1),
                                         ((4, 5, 6), (0, 2)), ((0, 3), 0), ((3000,), None)])
def test_reductions_match_numpy(dtype, name, shape, axis):
    a = _data(dtype, shape, 14) * 0.9       # |z| < 1 keeps long products finite
    a.reshape(-1)[::3] = 0
    a.reshape(-1)[1::5] = 2j                # an imaginary part alone is true for any/all
    got = getattr(np, name)(np.array(a), axis=axis).asnumpy()
    want = getattr(onp, name)(a, axis=axis)
    if want.dtype == bool:
        onp.testing.assert_array_equal(got, want)
    else:
        assert got.dtype == want.dtype
        tol = 1e-4 if dtype == onp.complex64 else 1e-11       # long sums round differently
        onp.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.skipif(not _FP64, reason="the device lacks cl_khr_fp64")
@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
def test_reductions_with_a_dtype(name):
    # a complex64 array accumulated in complex128, and a real one accumulated as complex
    a = _data(onp.complex64, (40, 3), 23) * 0.9
    r = onp.random.default_rng(24).standard_normal((40, 3)).astype(onp.float32)
    for x, d in ((a, onp.complex128), (a, onp.complex64), (r, onp.complex64),
                 (r, onp.complex128)):
        got = getattr(np, name)(np.array(x), axis=0, dtype=d).asnumpy()
        _close(got, getattr(onp, name)(x, axis=0, dtype=d))
        if name != "mean":              # and the running versions (a real one is re + 0i)
            scan = "cumsum" if name == "sum" else "cumprod"
            got = getattr(np, scan)(np.array(x), axis=0, dtype=d).asnumpy()
            _close(got, getattr(onp, scan)(x, axis=0, dtype=d))


def test_round_rounds_each_part_half_to_even():
    from clgrad import array_api as xp
    a = onp.array([1.5 + 2.5j, -0.5 - 1.7j, 2.4999 + 0j], onp.complex64)
    _close(xp.round(xp.asarray(a)).asnumpy(), onp.round(a))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape, axis", [((7,), None), ((300, 7), 0), ((7, 3000), 1)])
def test_scans_match_numpy(dtype, name, shape, axis):
    a = _data(dtype, shape, 15)
    a /= onp.abs(a)                         # unit modulus: long running products stay finite
    got = getattr(np, name)(np.array(a), axis=axis).asnumpy()
    want = getattr(onp, name)(a, axis=axis)
    tol = 1e-3 if dtype == onp.complex64 else 1e-10
    assert got.dtype == want.dtype
    onp.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_eye(dtype):
    for n, m, k in [(3, 4, 1), (4, 3, -1), (0, 0, 0)]:
        _close(np.eye(n, m, k=k, dtype=dtype).asnumpy(), onp.eye(n, m, k=k, dtype=dtype))


# --- products ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_products_match_numpy(dtype):
    a, b = _data(dtype, (2, 3, 40), 16), _data(dtype, (40, 5), 17)
    v, w = _data(dtype, (40,), 18), _data(dtype, (40,), 19)
    real = onp.random.default_rng(20).standard_normal((40, 5)).astype(onp.float32)
    A, B, V, W = (np.array(t) for t in (a, b, v, w))
    _close(np.matmul(A, B).asnumpy(), a @ b)
    _close(np.matmul(A, np.array(real)).asnumpy(), a @ real)      # real operand promoted
    _close(np.tensordot(A, B, 1).asnumpy(), onp.tensordot(a, b, 1))
    _close(np.dot(V, W).asnumpy(), onp.dot(v, w))
    _close(np.vdot(V, W).asnumpy(), onp.vdot(v, w))                # conjugates its first operand
    from clgrad import array_api as xp
    _close(xp.vecdot(V, W).asnumpy(), onp.vecdot(v, w))            # so does vecdot


# --- sorting -----------------------------------------------------------------------------------
def _with_nans(dtype):
    nan = float("nan")
    return onp.array([3 + 1j, complex(1, nan), complex(nan, 2), 1 + 2j, 1 + 1j, complex(nan, nan),
                      3 + 1j, complex(nan, 1), complex(1, nan), -2 + 0j, complex(0, nan)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sort_orders_as_numpy(dtype):
    # NumPy's order: [R + Rj, R + nanj, nan + Rj, nan + nanj], each by real then imaginary part
    a = _with_nans(dtype)
    onp.testing.assert_array_equal(np.sort(np.array(a)).asnumpy(), onp.sort(a))
    onp.testing.assert_array_equal(np.argsort(np.array(a)).asnumpy(),
                                   onp.argsort(a, kind="stable"))
    r = onp.random.default_rng(21)
    b = (r.integers(0, 3, (4, 50)) + 1j * r.integers(0, 3, (4, 50))).astype(dtype)   # ties
    for axis in (0, 1):
        onp.testing.assert_array_equal(np.sort(np.array(b), axis=axis).asnumpy(),
                                       onp.sort(b, axis=axis))
        onp.testing.assert_array_equal(np.argsort(np.array(b), axis=axis).asnumpy(),
                                       onp.argsort(b, axis=axis, kind="stable"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unique(dtype):
    r = onp.random.default_rng(22)
    b = (r.integers(0, 3, (4, 50)) + 1j * r.integers(0, 3, (4, 50))).astype(dtype)
    got = np.unique(np.array(b), return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, onp.unique(b, return_index=True, return_inverse=True,
                                    return_counts=True)):
        onp.testing.assert_array_equal(g.asnumpy(), w)
    a = _with_nans(dtype)
    u = np.unique(np.array(a)).asnumpy()
    finite = a[~onp.isnan(a)]
    onp.testing.assert_array_equal(u[:-1], onp.unique(finite))
    assert onp.isnan(u[-1])          # equal_nan: every value with a NaN counts as one (NumPy)
    from clgrad import array_api as xp
    # the standard's unique_values: each NaN is distinct
    assert xp.unique_values(xp.asarray(a)).shape == (len(onp.unique(finite)) + len(a) -
                                                     len(finite),)


# --- errors -----------------------------------------------------------------------------------
def test_unsupported_ops_raise():
    a = _data(onp.complex64, (2, 2), 12)
    x = np.array(a)
    for fn in (np.floor, np.ceil, np.isposinf, np.logical_not, np.cbrt):
        with pytest.raises(DTypeError, match="complex"):
            fn(x)
    for fn in (np.maximum, np.mod, np.floor_divide, np.less, np.arctan2,
               np.logical_and):
        with pytest.raises(DTypeError, match="complex"):
            fn(x, x)
    with pytest.raises(DTypeError, match="complex"):
        np.bitwise_and(x, x)
    with pytest.raises(DTypeError, match="complex"):
        x < 1j
    for reduction in (np.max, np.min, np.argmax, np.std, np.var):
        with pytest.raises(DTypeError, match="complex"):
            reduction(x)
    with pytest.raises(ValueError, match="complex"):
        np.sort(x, descending=True)
    with pytest.raises(DTypeError, match="complex"):
        np.clip(x, 0, 1)
    _close(x.asnumpy(), a)


def test_inplace_real_target_refuses_complex():
    f = onp.array([1.0, 2.0], onp.float32)
    x = np.array(f)
    with pytest.raises(DTypeError):
        x += 1j
    with pytest.raises(DTypeError):
        x *= np.array(onp.array([1j, 2], onp.complex64))
    _close(x.asnumpy(), f)
    c = np.array(onp.array([1 + 1j, 2], onp.complex64))
    c *= 1j
    _close(c.asnumpy(), onp.array([-1 + 1j, 2j], onp.complex64))


def test_autograd_refuses_complex():
    x = np.array(_data(onp.complex64, (2,), 13))
    with pytest.raises(DTypeError, match="autograd"):
        x.attach_grad()
    r = np.array(onp.array([1.0, 2.0], onp.float32))
    r.attach_grad()
    with autograd.record():
        with pytest.raises(DTypeError, match="autograd"):
            r * 1j
        with pytest.raises(DTypeError, match="autograd"):
            r.astype("complex64")
    assert issubclass(DTypeError, MXNetError)


def test_complex128_needs_fp64():
    dev = default_device()
    if dev.caps.fp64:
        pytest.skip("the device has cl_khr_fp64")
    with pytest.raises(clgrad.base.DeviceCapabilityError):
        np.zeros((2,), dtype="complex128")


# --- the Array API namespace -------------------------------------------------------------------
def test_array_api_namespace():
    from clgrad import array_api as xp
    dc = onp.complex128 if _FP64 else onp.complex64
    info = xp.__array_namespace_info__()
    assert info.default_dtypes()["complex floating"] == dc
    assert set(info.dtypes(kind="complex floating")) == {"complex64"} | (
        {"complex128"} if _FP64 else set())
    assert xp.isdtype(xp.complex64, "complex floating") and xp.isdtype(xp.complex64, "numeric")
    assert xp.can_cast(xp.float32, xp.complex64) and not xp.can_cast(xp.complex64, xp.float32)
    assert xp.finfo(xp.complex64).bits == 32 and xp.finfo(xp.complex64).dtype == onp.float32
    assert xp.result_type(xp.float32, 1j) == onp.complex64
    x = xp.asarray([1 + 2j, -3j])
    assert x.dtype == dc
    want = onp.array([1 + 2j, -3j], dc)
    _close(xp.conj(x).asnumpy(), want.conj())
    _close(xp.real(x).asnumpy(), want.real)
    _close(xp.imag(x).asnumpy(), want.imag)
    _close(xp.abs(x).asnumpy(), onp.abs(want))
    _close(xp.divide(x, 2).asnumpy(), want / 2)
    _close(xp.full((2,), 1j).asnumpy(), onp.full(2, 1j, dc))
    c = xp.asarray(onp.array([1 + 1j], onp.complex64))
    _close(xp.astype(c, xp.float32).asnumpy(), onp.array([1.0], onp.float32))


def test_real_valued_creation_refuses_complex():
    for fn in (lambda: np.arange(3, dtype="complex64"),
               lambda: np.linspace(0, 1, 3, dtype="complex64")):
        with pytest.raises(DTypeError, match="complex"):
            fn()
