"""The Array API namespace: its defaults, signatures and names, checked against NumPy."""
import math

import numpy as onp
import pytest

import clgrad
from clgrad import array_api as xp
from clgrad import autograd, np

FP64 = np.zeros(1).device.caps.fp64
DEFAULT_FLOAT = onp.float64 if FP64 else onp.float32


def _h(x):
    return x.asnumpy()


# --- the namespace and its defaults ---------------------------------------------------------------
def test_array_namespace_returns_this_module():
    x = xp.asarray([1.0, 2.0])
    assert x.__array_namespace__() is xp
    assert np.zeros(2).__array_namespace__(api_version="2024.12") is xp
    assert xp.__array_api_version__ == "2024.12"
    with pytest.raises(ValueError, match="2024.12"):
        x.__array_namespace__(api_version="2019.01")
    assert isinstance(x, clgrad.ndarray)      # the very same arrays as clgrad.np


def test_standard_defaults_differ_from_mxnet():
    assert xp.asarray(3).dtype == onp.int64 and np.array(3).dtype == onp.float32
    assert xp.asarray(3.0).dtype == DEFAULT_FLOAT
    assert xp.asarray(True).dtype == onp.bool_
    assert xp.asarray([1, 2]).dtype == onp.int64
    assert xp.asarray([1, 2.5]).dtype == DEFAULT_FLOAT
    assert xp.asarray(onp.arange(3, dtype=onp.int16)).dtype == onp.int16
    assert xp.zeros((2,)).dtype == DEFAULT_FLOAT and xp.ones(2).dtype == DEFAULT_FLOAT
    assert xp.empty((1, 2)).dtype == DEFAULT_FLOAT
    assert xp.eye(3, k=1).dtype == DEFAULT_FLOAT
    assert xp.linspace(0, 1, 5).dtype == DEFAULT_FLOAT
    assert xp.arange(4).dtype == onp.int64 and xp.arange(0, 1, 0.25).dtype == DEFAULT_FLOAT
    assert xp.full((2,), 7).dtype == onp.int64 and xp.full((2,), 7.0).dtype == DEFAULT_FLOAT
    assert xp.full((2,), False).dtype == onp.bool_
    assert xp.zeros_like(xp.asarray([1, 2])).dtype == onp.int64
    assert xp.full_like(xp.asarray([1, 2]), 5, dtype=xp.int8).tolist() == [5, 5]
    onp.testing.assert_array_equal(_h(xp.eye(3, 4, k=-1)), onp.eye(3, 4, k=-1))
    onp.testing.assert_allclose(_h(xp.linspace(0, 1, 4, endpoint=False)),
                                onp.linspace(0, 1, 4, endpoint=False))
    with pytest.raises(OverflowError):
        xp.asarray(2 ** 64)


def test_asarray_copy_semantics():
    x = xp.asarray([1.0, 2.0, 3.0], dtype=xp.float32)
    assert xp.asarray(x) is x and xp.asarray(x, copy=False) is x
    c = xp.asarray(x, copy=True)
    assert c is not x
    x[0] = 10.0
    assert c.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(xp.CopyError) as e:
        xp.asarray(x, dtype=xp.int32, copy=False)
    assert isinstance(e.value, ValueError) and isinstance(e.value, clgrad.MXNetError)
    with pytest.raises(ValueError, match="copy=False"):
        xp.asarray([1, 2], copy=False)
    assert xp.asarray(x, dtype=xp.int32).dtype == onp.int32
    # astype copies by default and only when needed with copy=False
    assert xp.astype(x, xp.float32, copy=False) is x
    y = xp.astype(x, xp.float32)
    assert y is not x and y.tolist() == x.tolist()
    assert xp.astype(x, xp.int64).dtype == onp.int64
    assert xp.asarray(x, device=x.device) is x


def test_reshape_copy_keyword():
    x = xp.reshape(xp.arange(6), (2, 3))
    assert xp.reshape(x, (3, 2), copy=False).shape == (3, 2)
    t = xp.permute_dims(x, (1, 0))
    with pytest.raises(xp.CopyError, match="without a copy"):
        xp.reshape(t, (6,), copy=False)
    assert xp.reshape(t, (6,)).tolist() == [0, 3, 1, 4, 2, 5]
    c = xp.reshape(x, (6,), copy=True)
    x[0, 0] = 100
    assert c.tolist()[0] == 0


def test_namespace_info():
    info = xp.__array_namespace_info__()
    caps = info.capabilities()
    assert set(caps) == {"boolean indexing", "data-dependent shapes", "max dimensions"}
    assert all(isinstance(caps[k], bool) for k in ("boolean indexing", "data-dependent shapes"))
    dev = info.default_device()
    assert dev is np.zeros(1).device and dev in info.devices()
    d = info.default_dtypes(device=dev)
    assert d["real floating"] == DEFAULT_FLOAT and d["integral"] == onp.int64
    assert d["indexing"] == onp.int64
    assert set(info.dtypes(kind="signed integer")) == {"int8", "int16", "int32", "int64"}
    assert set(info.dtypes(kind=("bool", "unsigned integer"))) == {"bool", "uint8"}
    assert ("float64" in info.dtypes()) == FP64
    with pytest.raises(ValueError):
        info.dtypes(kind="complex")


def test_dtype_functions():
    assert xp.isdtype(xp.int32, "signed integer") and xp.isdtype(xp.int32, "integral")
    assert not xp.isdtype(xp.uint8, "signed integer") and xp.isdtype(xp.uint8, "numeric")
    assert xp.isdtype(xp.float32, ("bool", "real floating"))
    assert xp.isdtype(xp.bool, xp.bool) and not xp.isdtype(xp.bool, "numeric")
    with pytest.raises(ValueError):
        xp.isdtype(xp.int8, "whole numbers")
    f = xp.finfo(xp.float32)
    assert f.bits == 32 and f.eps == float(onp.finfo(onp.float32).eps)
    assert f.dtype == xp.float32 and isinstance(f.max, float)
    assert xp.finfo(xp.asarray([1.0], dtype=xp.float32)).bits == 32
    i = xp.iinfo(xp.int8)
    assert (i.bits, i.min, i.max, i.dtype) == (8, -128, 127, xp.int8)
    with pytest.raises(TypeError):
        xp.iinfo(xp.float32)
    assert xp.can_cast(xp.int8, xp.int32) and not xp.can_cast(xp.int32, xp.int8)
    assert xp.can_cast(xp.uint8, xp.int16) and not xp.can_cast(xp.int8, xp.uint8)
    # up the ladder bool -> integer -> floating -> complex, never down it
    assert xp.can_cast(xp.int64, xp.float64) and xp.can_cast(xp.bool, xp.int8)
    assert xp.can_cast(xp.bool, xp.float64) and xp.can_cast(xp.int32, xp.complex128)
    assert not xp.can_cast(xp.float32, xp.int64) and not xp.can_cast(xp.int8, xp.bool)
    assert not xp.can_cast(xp.complex64, xp.float64)
    assert xp.can_cast(xp.float32, xp.float64)
    assert xp.result_type(xp.int8, xp.uint8) == onp.int16
    assert xp.result_type(xp.asarray([1], dtype=xp.int16), xp.int32) == onp.int32
    assert xp.result_type(xp.float32, 1.0) == onp.float32
    assert xp.result_type(xp.int8, 1) == onp.int8
    with pytest.raises(TypeError):
        xp.result_type(1, 2.0)


# --- element-wise functions against NumPy ---------------------------------------------------------
_UNARY = ["abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "exp",
          "expm1", "floor", "isfinite", "isinf", "isnan", "log", "log1p", "log2", "log10",
          "negative", "positive", "round", "sign", "signbit", "sin", "sinh", "sqrt", "square",
          "tan", "tanh", "trunc", "reciprocal", "logical_not"]
_NP_NAME = {"acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh",
            "atan": "arctan", "atanh": "arctanh", "atan2": "arctan2", "pow": "power",
            "bitwise_invert": "invert", "bitwise_left_shift": "left_shift",
            "bitwise_right_shift": "right_shift", "round": "rint"}
# IEEE special values, signed zeros and halfway cases
_SPECIAL = onp.array([onp.nan, onp.inf, -onp.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5,
                      1e-30, 3.0])


def _same(got, exp, name):
    got = onp.asarray(got)
    assert got.dtype == exp.dtype, (name, got.dtype, exp.dtype)
    if exp.dtype.kind == "f":
        onp.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-300, equal_nan=True,
                                    err_msg=name)
        # the standard leaves the order of signed zeros in maximum/minimum to implementations
        zero = (exp == 0) & (name not in ("maximum", "minimum"))
        assert (onp.signbit(got[zero]) == onp.signbit(exp[zero])).all(), f"{name}: signed zero"
    else:
        onp.testing.assert_array_equal(got, exp, err_msg=name)


@pytest.mark.parametrize("name", _UNARY)
def test_unary_functions_match_numpy_with_ieee_special_cases(name):
    dtype = onp.float64 if FP64 else onp.float32
    h = _SPECIAL.astype(dtype)
    with onp.errstate(all="ignore"):
        exp = getattr(onp, _NP_NAME.get(name, name))(h)
    _same(_h(getattr(xp, name)(xp.asarray(h))), exp, name)


_BINARY = ["add", "atan2", "copysign", "divide", "equal", "floor_divide", "greater",
           "greater_equal", "hypot", "less", "less_equal", "logaddexp", "logical_and",
           "logical_or", "logical_xor", "maximum", "minimum", "multiply", "nextafter",
           "not_equal", "pow", "remainder", "subtract"]


@pytest.mark.parametrize("name", _BINARY)
def test_binary_functions_match_numpy_with_ieee_special_cases(name):
    dtype = onp.float64 if FP64 else onp.float32
    a = onp.repeat(_SPECIAL, _SPECIAL.size).astype(dtype)
    b = onp.tile(_SPECIAL, _SPECIAL.size).astype(dtype)
    with onp.errstate(all="ignore"):
        exp = getattr(onp, _NP_NAME.get(name, name))(a, b)
    _same(_h(getattr(xp, name)(xp.asarray(a), xp.asarray(b))), exp, name)


def test_integer_and_bitwise_functions():
    a = onp.array([-7, -1, 0, 3, 12], onp.int32)
    b = onp.array([2, 3, 1, 5, 2], onp.int32)
    xa, xb = xp.asarray(a), xp.asarray(b)
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                 "bitwise_right_shift", "floor_divide", "remainder", "pow"):
        _same(_h(getattr(xp, name)(xa, xb)), getattr(onp, _NP_NAME.get(name, name))(a, b), name)
    _same(_h(xp.bitwise_invert(xa)), onp.invert(a), "bitwise_invert")
    # integer division is true division in the default floating dtype
    q = xp.divide(xa, xb)
    assert q.dtype == DEFAULT_FLOAT
    onp.testing.assert_allclose(_h(q), a / b)
    assert xp.abs(xa).dtype == onp.int32 and xp.round(xa).tolist() == a.tolist()


def test_clip_conj_real_imag_and_scalars():
    x = xp.asarray([-2.0, 0.5, 3.0])
    assert xp.clip(x, min=-1.0, max=1.0).tolist() == [-1.0, 0.5, 1.0]
    assert xp.clip(x, max=0.0).tolist() == [-2.0, 0.0, 0.0]
    c = xp.clip(x)
    assert c is not x and c.tolist() == x.tolist()
    assert xp.clip(xp.asarray([1, 5, 9]), min=2, max=6).tolist() == [2, 5, 6]
    assert xp.conj(x).tolist() == x.tolist() and xp.real(x).tolist() == x.tolist()
    assert xp.imag(x).tolist() == [0.0, 0.0, 0.0]
    assert xp.add(x, 1).tolist() == [-1.0, 1.5, 4.0]     # Python scalars are weak
    assert xp.multiply(2, x).dtype == x.dtype
    assert xp.where(x > 0, x, 0.0).tolist() == [0.0, 0.5, 3.0]


# --- statistics, searching, manipulation ----------------------------------------------------------
def test_statistical_functions():
    h = onp.arange(12, dtype=onp.int32).reshape(3, 4) - 5
    x = xp.asarray(h)
    s = xp.sum(x, axis=1)
    assert s.dtype == onp.int64 and s.tolist() == h.sum(axis=1).tolist()
    assert xp.prod(xp.asarray([True, True])).dtype == onp.int64
    assert xp.sum(x, dtype=xp.int32).dtype == onp.int32
    f = xp.astype(x, DEFAULT_FLOAT)
    onp.testing.assert_allclose(_h(xp.var(f, axis=0, correction=1)), h.var(axis=0, ddof=1))
    onp.testing.assert_allclose(_h(xp.std(f, keepdims=True)), h.std(keepdims=True))
    onp.testing.assert_allclose(_h(xp.mean(f, axis=(0, 1))), h.mean())
    assert xp.max(x, axis=0).tolist() == h.max(axis=0).tolist()
    assert xp.min(x, keepdims=True).shape == (1, 1)
    assert xp.argmax(x, axis=1).tolist() == h.argmax(axis=1).tolist()
    assert xp.argmin(x, axis=0, keepdims=True).shape == (1, 4)
    assert xp.count_nonzero(x, axis=1).tolist() == onp.count_nonzero(h, axis=1).tolist()
    assert bool(xp.all(xp.asarray([True, True]))) and not bool(xp.any(xp.zeros(3)))
    cs = xp.cumulative_sum(x, axis=1, include_initial=True)
    assert cs.shape == (3, 5) and cs.tolist() == onp.concatenate(
        [onp.zeros((3, 1), onp.int64), onp.cumsum(h, axis=1)], axis=1).tolist()
    assert xp.cumulative_sum(xp.asarray([1, 2, 3])).tolist() == [1, 3, 6]
    assert xp.cumulative_prod(xp.asarray([1, 2, 3]), include_initial=True).tolist() == \
        [1, 1, 2, 6]
    with pytest.raises(ValueError):
        xp.cumulative_sum(x)          # axis is required for 2-D input
    assert xp.diff(x, axis=1).tolist() == onp.diff(h, axis=1).tolist()
    assert xp.diff(x, axis=0, n=2).tolist() == onp.diff(h, axis=0, n=2).tolist()
    assert xp.diff(xp.asarray([1, 4, 9]), prepend=0, append=xp.asarray([20])).tolist() == \
        onp.diff([1, 4, 9], prepend=0, append=[20]).tolist()


def test_manipulation_functions():
    h = onp.arange(24).reshape(2, 3, 4)
    x = xp.asarray(h)
    assert xp.permute_dims(x, (2, 0, 1)).tolist() == h.transpose(2, 0, 1).tolist()
    assert xp.matrix_transpose(x).tolist() == onp.swapaxes(h, -1, -2).tolist()
    assert x.mT.shape == (2, 4, 3)
    assert xp.concat([x, x], axis=1).shape == (2, 6, 4)
    assert xp.concat([x, xp.asarray([1, 2])], axis=None).shape == (26,)
    assert xp.stack([x, x], axis=-1).shape == (2, 3, 4, 2)
    u = xp.unstack(x, axis=1)
    assert len(u) == 3 and u[1].tolist() == h[:, 1].tolist()
    assert xp.expand_dims(x, axis=-1).shape == (2, 3, 4, 1)
    assert xp.expand_dims(x, 1).shape == (2, 1, 3, 4)      # 2024.12: axis is positional too
    e = xp.asarray([], dtype=xp.complex64)                 # no elements, no counts: fine
    assert xp.repeat(e, xp.asarray([], dtype=xp.int32)).shape == (0,)
    c = xp.asarray([1 + 2j, 3j], dtype=xp.complex128)      # 16-byte elements
    assert xp.repeat(c, xp.asarray([2, 1])).tolist() == [1 + 2j, 1 + 2j, 3j]
    assert xp.squeeze(xp.asarray(h[:, :1]), axis=1).shape == (2, 4)
    assert xp.flip(x, axis=(0, 2)).tolist() == onp.flip(h, axis=(0, 2)).tolist()
    assert xp.roll(x, 1, axis=2).tolist() == onp.roll(h, 1, axis=2).tolist()
    assert xp.tile(xp.asarray([1, 2]), (2, 2)).tolist() == onp.tile([1, 2], (2, 2)).tolist()
    assert xp.repeat(xp.asarray([1, 2]), 2).tolist() == [1, 1, 2, 2]
    assert xp.moveaxis(x, 0, -1).shape == (3, 4, 2)
    assert [a.shape for a in xp.broadcast_arrays(xp.asarray([1]), x)] == [(2, 3, 4)] * 2
    assert xp.broadcast_to(xp.asarray([1, 2, 3, 4]), (2, 4)).shape == (2, 4)
    gx, gy = xp.meshgrid(xp.asarray([1, 2, 3]), xp.asarray([4, 5]))
    ex, ey = onp.meshgrid([1, 2, 3], [4, 5])
    assert gx.tolist() == ex.tolist() and gy.tolist() == ey.tolist()
    gi = xp.meshgrid(xp.asarray([1, 2, 3]), xp.asarray([4, 5]), indexing="ij")
    assert [g.tolist() for g in gi] == [g.tolist() for g in onp.meshgrid([1, 2, 3], [4, 5],
                                                                          indexing="ij")]
    assert xp.tril(xp.ones((3, 3)), k=-1).tolist() == onp.tril(onp.ones((3, 3)), k=-1).tolist()
    assert xp.triu(xp.ones((3, 3))).tolist() == onp.triu(onp.ones((3, 3))).tolist()


def test_linear_algebra_functions():
    rng = onp.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4)).astype(onp.float32)
    b = rng.standard_normal((4, 5)).astype(onp.float32)
    onp.testing.assert_allclose(_h(xp.matmul(xp.asarray(a), xp.asarray(b))), a @ b, rtol=1e-5,
                                atol=1e-5)
    onp.testing.assert_allclose(_h(xp.tensordot(xp.asarray(a), xp.asarray(b), axes=1)),
                                onp.tensordot(a, b, axes=1), rtol=1e-5, atol=1e-5)
    c = rng.standard_normal((3, 4)).astype(onp.float32)
    onp.testing.assert_allclose(_h(xp.vecdot(xp.asarray(a), xp.asarray(c))),
                                (a * c).sum(-1), rtol=1e-5, atol=1e-5)
    onp.testing.assert_allclose(_h(xp.vecdot(xp.asarray(a), xp.asarray(a), axis=0)),
                                (a * a).sum(0), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        xp.vecdot(xp.asarray(a), xp.asarray(c), axis=0)


def test_searching_sorting_and_sets():
    h = onp.array([3.0, 1.0, 2.0, 1.0, onp.nan, onp.nan])
    x = xp.asarray(h)
    assert xp.sort(xp.asarray([3, 1, 2]), descending=True).tolist() == [3, 2, 1]
    assert xp.argsort(xp.asarray([2, 1, 2, 1])).tolist() == [1, 3, 0, 2]      # stable
    assert xp.unique_values(xp.asarray([3, 1, 3, 2])).tolist() == [1, 2, 3]
    v, c = xp.unique_counts(xp.asarray([3, 1, 3, 2]))
    assert v.tolist() == [1, 2, 3] and c.tolist() == [1, 1, 2]
    m = xp.asarray(onp.array([[2, 1], [1, 3]]))
    vals, inv = xp.unique_inverse(m)
    assert inv.shape == (2, 2) and xp.take(vals, xp.reshape(inv, (-1,))).tolist() == [2, 1, 1, 3]
    r = xp.unique_all(xp.asarray([5, 4, 5]))
    assert r.values.tolist() == [4, 5] and r.counts.tolist() == [1, 2]
    assert r.indices.tolist() == [1, 0] and r.inverse_indices.tolist() == [1, 0, 1]
    # each NaN is its own unique value (the standard's rule)
    assert xp.unique_values(x).shape == (5,)
    nz = xp.nonzero(xp.asarray([[0, 1], [2, 0]]))
    assert [a.tolist() for a in nz] == [[0, 1], [1, 0]]
    with pytest.raises(ValueError):
        xp.nonzero(xp.asarray(1))
    assert xp.searchsorted(xp.asarray([1, 2, 4]), xp.asarray([0, 2, 5]), side="right").tolist()\
        == [0, 2, 3]
    assert xp.take_along_axis(m, xp.asarray([[1], [0]]), axis=1).tolist() == [[1], [1]]
    assert xp.take(m, xp.asarray([1]), axis=0).tolist() == [[1, 3]]


# --- DLPack ---------------------------------------------------------------------------------------
def test_dlpack_reports_opencl_memory_and_refuses_zero_copy():
    x = xp.asarray([1.0, 2.0], dtype=xp.float32)
    kind, idx = x.__dlpack_device__()
    assert kind == 4 and clgrad.runtime.all_devices()[idx] is x.device    # kDLOpenCL
    with pytest.raises(BufferError, match="without a copy"):
        x.__dlpack__(copy=False)
    with pytest.raises(BufferError, match="OpenCL"):
        x.__dlpack__(dl_device=(2, 0))         # CUDA memory: no
    with pytest.raises(BufferError):
        onp.from_dlpack(x, copy=False)
    # a host copy wherever a copy is allowed
    for h in (onp.from_dlpack(x), onp.from_dlpack(x, device="cpu", copy=True)):
        assert h.tolist() == [1.0, 2.0] and h.dtype == onp.float32
    h = onp.from_dlpack(x)
    h[0] = 5.0                                 # a copy: the array is unchanged
    assert x.asnumpy().tolist() == [1.0, 2.0]
    assert x.__dlpack__(max_version=(1, 0), dl_device=(1, 0)) is not None


def test_from_dlpack_of_host_producers():
    h = onp.arange(6, dtype=onp.int32).reshape(2, 3)[:, ::-1]
    x = xp.from_dlpack(h)
    assert x.dtype == onp.int32 and x.tolist() == h.tolist()
    h[0, 0] = 99                   # a copy, not shared memory
    assert x.tolist()[0][0] == 2
    assert xp.asarray(memoryview(onp.arange(3.0))).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(BufferError, match="copied"):
        xp.from_dlpack(h, copy=False)
    with pytest.raises(BufferError):
        xp.from_dlpack(object())
    y = xp.from_dlpack(x)
    assert y is x


# --- a consumer that writes only against the standard ---------------------------------------------
def _standardize_softmax(x):
    """Library code that knows nothing about clgrad: it asks the array for its namespace."""
    try:
        import array_api_compat
        ns = array_api_compat.array_namespace(x)
    except ImportError:
        ns = x.__array_namespace__()
    z = (x - ns.mean(x, axis=-1, keepdims=True)) / ns.std(x, axis=-1, keepdims=True)
    e = ns.exp(z - ns.max(z, axis=-1, keepdims=True))
    p = e / ns.sum(e, axis=-1, keepdims=True)
    return (ns.argmax(p, axis=-1), ns.cumulative_sum(p, axis=-1),
            ns.matmul(p, ns.matrix_transpose(p)))


def test_consumer_code_runs_on_clgrad_and_numpy_alike():
    h = onp.random.default_rng(1).standard_normal((4, 6))
    got = _standardize_softmax(xp.asarray(h))
    exp = _standardize_softmax(h)
    for g, e in zip(got, exp):
        onp.testing.assert_allclose(_h(g), e, rtol=1e-5, atol=1e-6)


def test_array_api_compat_recognises_clgrad_arrays():
    compat = pytest.importorskip("array_api_compat")
    x = xp.asarray([1.0, 2.0])
    assert compat.array_namespace(x) is xp
    assert compat.array_namespace(x, api_version="2024.12") is xp
    assert compat.is_array_api_obj(x)
    assert compat.device(x) is x.device
    assert compat.to_device(x, x.device) is x
    assert compat.size(x) == 2


def test_gradients_flow_through_the_namespace():
    if not FP64:
        pytest.skip("the device has no cl_khr_fp64")
    x = xp.asarray([[0.5, -1.0], [2.0, 0.25]])
    x.attach_grad()
    with autograd.record():
        y = xp.sum(xp.exp(xp.pow(x, 2)) * xp.atan(x))
    y.backward()
    h = _h(x)
    exp = 2 * h * onp.exp(h * h) * onp.arctan(h) + onp.exp(h * h) / (1 + h * h)
    onp.testing.assert_allclose(_h(x.grad), exp, rtol=1e-12)
    # logaddexp composed from recorded ops is differentiable too
    a = xp.asarray([0.3, -2.0])
    a.attach_grad()
    with autograd.record():
        z = xp.sum(xp.logaddexp(a, 1.0))
    z.backward()
    onp.testing.assert_allclose(_h(a.grad), 1 / (1 + onp.exp(1.0 - _h(a))), rtol=1e-12)


def test_every_name_in_all_exists():
    for n in xp.__all__:
        assert hasattr(xp, n), n
    for name in ("acos", "asin", "atan", "atan2", "pow", "bitwise_invert", "bitwise_left_shift",
                 "concat", "permute_dims", "matrix_transpose", "vecdot", "matmul",
                 "unique_values", "astype", "can_cast", "result_type", "isdtype", "finfo",
                 "iinfo", "from_dlpack", "nextafter", "reciprocal", "count_nonzero", "diff",
                 "cumulative_prod", "take_along_axis", "unstack", "e", "inf", "nan", "pi",
                 "newaxis"):
        assert name in xp.__all__, name
    assert math.isnan(xp.nan) and xp.newaxis is None


def test_defaults_on_a_device_without_fp64():
    import os
    import subprocess
    import sys
    from pathlib import Path
    code = (
        "from clgrad import array_api as xp\n"
        "info = xp.__array_namespace_info__()\n"
        "assert info.default_dtypes()['real floating'] == xp.float32\n"
        "assert 'float64' not in info.dtypes()\n"
        "assert xp.asarray(1.5).dtype == xp.float32 and xp.zeros(2).dtype == xp.float32\n"
        "assert xp.asarray([1, 2]).dtype == xp.int64\n"
        "assert xp.divide(xp.asarray([1]), xp.asarray([2])).dtype == xp.float32\n"
        "print('ok')\n")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, CLGRAD_DEVICE_LIMITS="fp64=0",
               PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout + proc.stderr
