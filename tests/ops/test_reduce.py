"""Reductions and scans against NumPy: every kind, dtype, axis form, layout and gradient."""
import numpy as onp
import pytest

from clgrad import MXNetError, autograd, np
from clgrad.ops import reduce as R
from clgrad.ops.reduce import kernels as RK
from gradcheck import check_grad

ALL = [onp.dtype(n) for n in ("float32", "float64", "float16", "int32", "int64", "uint8",
                               "bool")]
FLOATY = [onp.dtype(n) for n in ("float32", "float64", "float16", "int32")]
AXES = [None, 0, 1, -1, (0, 2), ()]
SHAPE = (2, 3, 4)


def _fp64():
    return np.zeros(1).device.caps.fp64


def _skip_fp64(dtype):
    if onp.dtype(dtype) == onp.float64 and not _fp64():
        pytest.skip("the device has no cl_khr_fp64")


def _data(dtype, shape, seed=0, kind=None):
    rng = onp.random.default_rng(seed)
    dtype = onp.dtype(dtype)
    if dtype == onp.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 10, size=shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-5, 6, size=shape).astype(dtype)
    if kind == "prod":     # near 1 in magnitude: no overflow in float16
        return (rng.uniform(0.6, 1.4, size=shape) * rng.choice([-1, 1], size=shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _expected_dtype(kind, d):
    d = onp.dtype(d)
    if kind in ("all", "any"):
        return onp.dtype(bool)
    if kind in ("argmax", "argmin"):
        return onp.dtype(onp.int64)
    if kind in ("sum", "prod", "cumsum", "cumprod"):
        # MXNet keeps an integer type (NumPy widens to the platform integer); bool counts in int64
        return onp.dtype(onp.int64) if d.kind == "b" else d
    if kind in ("mean", "var", "std", "logsumexp"):
        return d if d.kind == "f" else onp.dtype(onp.float32)     # MXNet's float32 for ints
    return d


def _ref(kind, x, axis, keepdims=False, ddof=0):
    """NumPy's answer, computed in float64 (float16 in float32) for accuracy."""
    wide = x.astype(onp.float64) if x.dtype.kind == "f" else x
    if kind == "logsumexp":
        w = x.astype(onp.float64)
        m = onp.max(w, axis=axis, keepdims=True) if w.size else onp.float64(-onp.inf)
        m = onp.where(onp.isfinite(m), m, 0)
        r = onp.log(onp.sum(onp.exp(w - m), axis=axis, keepdims=True)) + m
        return r if keepdims else onp.squeeze(r, axis=axis) if axis != () else r
    if kind in ("var", "std"):
        return getattr(onp, kind)(x.astype(onp.float64), axis=axis, keepdims=keepdims, ddof=ddof)
    if kind in ("argmax", "argmin"):
        return getattr(onp, kind)(x, axis=axis, keepdims=keepdims)
    if kind == "mean":
        return onp.mean(x.astype(onp.float64), axis=axis, keepdims=keepdims)
    return getattr(onp, kind)(wide, axis=axis, keepdims=keepdims)


def _tol(dtype, kind):
    dtype = onp.dtype(dtype)
    if dtype == onp.float16 or (kind in ("var", "std", "mean", "logsumexp") and
                                dtype.kind != "f"):
        return dict(rtol=2e-3 if dtype != onp.float16 else 1e-2, atol=1e-3)
    if dtype == onp.float32:
        return dict(rtol=1e-5, atol=1e-5)
    return dict(rtol=1e-12, atol=1e-12)


def _check(kind, x, axis, keepdims=False, got=None, **kw):
    if got is None:
        got = getattr(np, kind)(np.array(x), axis=axis, keepdims=keepdims, **kw)
    exp = _ref(kind, x, axis, keepdims, **kw)
    assert got.dtype == _expected_dtype(kind, x.dtype), (kind, x.dtype, got.dtype)
    assert got.shape == onp.shape(exp), (kind, axis, got.shape, onp.shape(exp))
    g = got.asnumpy()
    if g.dtype.kind in "biu":
        # an integer result keeps its type (MXNet): the exact value wraps into it once
        onp.testing.assert_array_equal(g, onp.asarray(exp).astype(g.dtype))
    else:
        onp.testing.assert_allclose(g.astype(onp.float64), exp, equal_nan=True,
                                    **_tol(x.dtype, kind), err_msg=f"{kind} axis={axis}")


# --- forward against NumPy ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("kind", ["sum", "prod", "max", "min", "mean", "all", "any"])
def test_reductions_match_numpy(kind, dtype):
    _skip_fp64(dtype)
    x = _data(dtype, SHAPE, kind=kind)
    for axis in AXES:
        _check(kind, x, axis)
    _check(kind, x, (0, 2), keepdims=True)
    _check(kind, x, None, keepdims=True)


@pytest.mark.parametrize("dtype", FLOATY, ids=str)
@pytest.mark.parametrize("kind", ["var", "std", "logsumexp"])
def test_statistics_match_numpy(kind, dtype):
    _skip_fp64(dtype)
    x = _data(dtype, SHAPE, seed=1)
    for axis in AXES:
        _check(kind, x, axis)
    _check(kind, x, (0, 2), keepdims=True)


@pytest.mark.parametrize("ddof", [0, 1, 2.5])
def test_var_std_ddof(ddof):
    x = _data(onp.float32, (3, 5), seed=2)
    for kind in ("var", "std"):
        _check(kind, x, 1, ddof=ddof)
    # N - ddof <= 0 divides by zero, as NumPy: inf (NaN for a constant row)
    x[0] = 1.0
    r = np.var(np.array(x), axis=1, ddof=5).asnumpy()
    assert onp.isnan(r[0]) and onp.isinf(r[1:]).all()


@pytest.mark.parametrize("kind", ["var", "std"])
@pytest.mark.parametrize("n", [1, 3, 4000])      # one element; a short row; several stages
def test_var_std_propagate_nan_and_inf(kind, n):
    x = onp.ones((3, n), onp.float32)
    x[0, -1] = onp.nan
    x[1, 0] = onp.inf
    got = getattr(np, kind)(np.array(x), axis=1).asnumpy()
    assert onp.isnan(got[:2]).all() and got[2] == 0          # NumPy: NaN for NaN and for inf


@pytest.mark.parametrize("dtype", ALL, ids=str)
@pytest.mark.parametrize("kind", ["argmax", "argmin"])
def test_arg_reductions_match_numpy(kind, dtype):
    _skip_fp64(dtype)
    x = _data(dtype, SHAPE, seed=3)
    for axis in (None, 0, 1, -1):
        _check(kind, x, axis)
    _check(kind, x, 1, keepdims=True)


def test_argmax_first_occurrence_and_nan():
    x = onp.array([[1, 3, 3, 0], [2, 2, 2, 2], [0, onp.nan, 5, onp.nan]], onp.float32)
    a = np.array(x)
    assert np.argmax(a, axis=1).tolist() == [1, 0, 1]
    assert np.argmin(a, axis=1).tolist() == [3, 0, 1]
    assert int(np.argmax(a)) == 9 and int(np.argmin(a)) == 9
    assert onp.isnan(np.max(a, axis=1).asnumpy()[2]) and onp.isnan(np.min(a).item())


def test_reductions_of_transposed_and_reversed_views():
    x = _data(onp.float32, (5, 6, 4), seed=4)
    a = np.array(x)
    views = [(a.transpose(2, 0, 1), x.transpose(2, 0, 1)),
             (a[::-1, ::2, ::-1], x[::-1, ::2, ::-1]),
             (a[1:4, :, 2], x[1:4, :, 2])]
    for v, h in views:
        for axis in (None, 0, 1, -1, (0, 1)):
            for kind in ("sum", "max", "var"):
                _check(kind, h, axis, got=getattr(np, kind)(v, axis=axis))
        for axis in (None, 0, -1):
            _check("argmax", h, axis, got=np.argmax(v, axis=axis))


def test_zero_dim_inputs():
    x = onp.array(2.5, onp.float32)
    a = np.array(x)
    for kind in ("sum", "prod", "max", "min", "mean", "all", "any", "var", "logsumexp"):
        for axis in (None, 0, -1, ()) if kind not in ("mean", "var", "logsumexp") else (None, ()):
            _check(kind, x, axis)
    with pytest.raises(R.AxisError, match="axis 0 is out of bounds for array of dimension 0"):
        np.sum(a, axis=(0,))
    assert np.argmax(a).shape == () and int(np.argmax(a)) == 0
    c = np.cumsum(a)
    assert c.shape == (1,) and c.tolist() == [2.5]


def test_empty_reductions():
    x = onp.zeros((0, 3), onp.float32)
    a = np.array(x)
    assert float(np.sum(a)) == 0.0 and float(np.prod(a)) == 1.0
    assert np.sum(a, axis=0).tolist() == [0.0, 0.0, 0.0]
    assert np.prod(a, axis=0).tolist() == [1.0, 1.0, 1.0]
    assert np.sum(a, axis=1).shape == (0,) and np.max(a, axis=1).shape == (0,)
    assert onp.isnan(float(np.mean(a))) and onp.isnan(float(np.var(a)))
    assert bool(np.all(a)) is True and bool(np.any(a)) is False
    assert float(np.logsumexp(a)) == -onp.inf
    assert int(np.sum(np.array(onp.zeros(0, onp.int32)))) == 0
    for fn in (np.max, np.min, np.argmax, np.argmin):
        with pytest.raises(ValueError, match="empty|zero-size") as e:
            fn(a, axis=0)
        assert isinstance(e.value, MXNetError)
    assert float(np.max(a, initial=-2.0)) == -2.0
    # with elements: the initial value takes part, as in NumPy
    h = onp.array([1.0, 5.0, 3.0], onp.float32)
    for initial in (7.0, 2.0):
        assert float(np.max(np.array(h), initial=initial)) == onp.max(h, initial=initial)
        assert float(np.min(np.array(h), initial=initial - 6)) == onp.min(h, initial=initial - 6)


def test_bad_axis_raises_axis_error():
    a = np.array(_data(onp.float32, (2, 3)))
    for fn in (np.sum, np.mean, np.max, np.argmax, np.var, np.cumsum, np.logsumexp):
        with pytest.raises(R.AxisError, match="axis 2 is out of bounds for array of "
                                              "dimension 2") as e:
            fn(a, axis=2)
        assert isinstance(e.value, IndexError) and isinstance(e.value, ValueError)
    with pytest.raises(R.AxisError, match="axis -3 .* dimension 2"):
        np.sum(a, axis=(0, -3))
    with pytest.raises(R.AxisError, match="duplicate"):
        np.sum(a, axis=(1, -1))
    with pytest.raises(TypeError):
        np.argmax(a, axis=(0, 1))
    with pytest.raises(TypeError):
        np.sum(a, axis=1.5)


def test_dtype_and_out_arguments():
    x = _data(onp.int32, (4, 5), seed=5)
    a = np.array(x)
    r = np.sum(a, axis=1, dtype="float32")
    assert r.dtype == onp.float32 and onp.allclose(r.asnumpy(), x.sum(axis=1))
    if _fp64():
        f = _data(onp.float32, (4, 5), seed=5)
        m = np.mean(np.array(f), dtype="float64")
        assert m.dtype == onp.float64
        assert abs(float(m) - f.astype(onp.float64).mean()) < 1e-12
    out = np.zeros((4,), dtype="int64")
    res = np.sum(a, axis=1, out=out)
    assert res is out and out.tolist() == x.sum(axis=1).tolist()
    assert bool(np.sum(np.array(onp.ones(300, bool)), dtype=bool)) is True
    with pytest.raises(ValueError):
        np.sum(a, axis=1, out=np.zeros((5,), dtype="int64"))


def test_wide_accumulators():
    # float16 accumulates in float32 (a float16 running sum sticks at 2048)
    h = np.ones((5000,), dtype="float16")
    assert float(np.sum(h)) == 5000.0 and float(np.mean(h)) == 1.0
    # integers keep their type, as in MXNet, but accumulate exactly in int64: an int32 sum
    # that overflows wraps once, at the end, as int32 arithmetic would
    big = onp.full(8, 2 ** 30, onp.int32)
    s = np.sum(np.array(big))
    assert s.dtype == onp.int32 and int(s) == onp.sum(big, dtype=onp.int64).astype(onp.int32)
    assert int(np.sum(np.array(big), dtype="int64")) == 8 * 2 ** 30
    assert int(np.sum(np.array(onp.full(300, 200, onp.uint8)))) == 60000 % 256
    m = np.mean(np.array(onp.full(300, 200, onp.uint8)))
    assert m.dtype == onp.float32 and float(m) == 200.0      # the mean accumulates wide


@pytest.mark.parametrize("fn", ["sum", "prod", "cumsum", "cumprod", "mean", "max"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int32", "int64", "float16",
                                   "float32"])
def test_reduction_dtypes_follow_mxnet(fn, dtype):
    """The table MXNet 1.9.1 gives (np.sum(np.ones(3, dtype)).dtype and the like)."""
    want = {"sum": {"bool": "int64"}, "prod": {"bool": "int64"}, "cumsum": {"bool": "int64"},
            "cumprod": {"bool": "int64"}, "mean": {"bool": "float32", "int8": "float32",
                                                    "uint8": "float32", "int32": "float32",
                                                    "int64": "float32"}}
    got = getattr(np, fn)(np.ones(3, dtype=dtype)).dtype
    assert got == onp.dtype(want.get(fn, {}).get(dtype, dtype))


# --- both layouts and the two-stage path ------------------------------------------------------
def _force(monkeypatch, **kw):
    p = dict(RK._DEFAULTS)
    p.update(kw)
    monkeypatch.setattr(RK, "_params", lambda family, dev, dtype, K: dict(p))


@pytest.mark.parametrize("kind", ["sum", "mean", "prod", "max", "min", "all", "any", "argmax",
                                  "argmin", "var", "std", "logsumexp", "sumsq", "sumabs",
                                  "maxabs", "minabs"])
def test_group_and_two_stage_paths(kind, monkeypatch):
    # a tiny work-group makes small arrays take the group layout and split into parts
    _force(monkeypatch, wg=4, min_group_k=8, waves=64)
    dtype = onp.float64 if _fp64() else onp.float32
    x = _data(dtype, (3, 301), seed=6, kind=kind)
    x[1, 17] = x[1, 250] = onp.abs(x).max() + 1        # tie for the arg kinds, across parts
    x[2, 5] = x[2, 200] = -onp.abs(x).max() - 1
    if kind in ("all", "any"):
        x = x > -1.5
    a = np.array(x)
    mode, wg, parts = RK._plan(a.device, a.dtype, 3, 301, True, 16)
    assert (mode, wg) == ("group", 4) and parts > 1
    for axis in (1, None, (0, 1)):
        axes = R.normalize_axes(axis, 2)
        got = R.reduce_raw(kind, a, axes)
        if kind in ("sumsq", "sumabs", "maxabs", "minabs"):
            f = {"sumsq": lambda v: (v * v).sum(axis=axis), "sumabs":
                 lambda v: onp.abs(v).sum(axis=axis), "maxabs":
                 lambda v: onp.abs(v).max(axis=axis), "minabs":
                 lambda v: onp.abs(v).min(axis=axis)}[kind]
            exp = f(x)
        else:
            exp = _ref(kind, x, axis if kind not in ("argmax", "argmin") or axis != (0, 1)
                       else None)
        onp.testing.assert_allclose(got.asnumpy().astype(onp.float64), exp, rtol=1e-6,
                                    atol=1e-9, err_msg=f"{kind} axis={axis}")
    # strided reduced axis (axis 0 of a C array) in both layouts
    got = R.reduce_raw(kind, a.T, (1,))
    if kind in ("sum", "max", "argmax", "var", "logsumexp"):
        # float32 (devices without fp64) sums in another order than the float64 reference
        onp.testing.assert_allclose(got.asnumpy().astype(onp.float64), _ref(kind, x.T, 1),
                                    rtol=1e-6, atol=1e-9 if dtype == onp.float64 else 1e-6)


def test_work_group_size_comes_from_the_tuning_database():
    from clgrad.tune import db
    x = _data(onp.float32, (2, 3000), seed=17)
    a = np.array(x)
    with db.override("reduce", {"wg": 8, "min_group_k": 16, "waves": 64}) as o:
        mode, wg, parts = RK._plan(a.device, a.dtype, 2, 3000, True, 4)
        assert (mode, wg) == ("group", 8) and parts > 1
        _check("sum", x, 1)
    assert o.consulted
    # parameters a device cannot take are clamped to what fits, never used as given
    with db.override("reduce", {"wg": 1 << 20, "min_group_k": 16}):
        mode, wg, _ = RK._plan(a.device, a.dtype, 2, 3000, True, 4)
        assert mode == "group" and wg <= a.device.caps.max_wg and wg & (wg - 1) == 0


def test_big_arrays_take_the_two_stage_path(monkeypatch):
    _force(monkeypatch)
    x = _data(onp.float32, (1 << 20,), seed=7)
    x[123457] = 50.0
    x[900001] = 50.0
    a = np.array(x)
    assert RK._plan(a.device, a.dtype, 1, x.size, True, 4)[2] > 1
    _check("sum", x, None)
    _check("max", x, None)
    _check("var", x, None)
    _check("logsumexp", x, None)
    assert int(np.argmax(a)) == 123457
    # deterministic: the same bits every time (no atomics)
    s1, s2 = np.sum(a).asnumpy(), np.sum(a).asnumpy()
    assert s1.tobytes() == s2.tobytes()
    xi = _data(onp.int32, (4, 1 << 18), seed=8)
    _check("sum", xi, 1)
    _check("argmin", xi, 1)
    c = np.cumsum(a).asnumpy()
    onp.testing.assert_allclose(c, onp.cumsum(x.astype(onp.float64)), rtol=1e-4, atol=2e-3)
    ci = np.cumsum(np.array(xi), axis=1).asnumpy()
    onp.testing.assert_array_equal(ci, onp.cumsum(xi, axis=1))


# --- scans ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_cumsum_matches_numpy(dtype):
    _skip_fp64(dtype)
    x = _data(dtype, SHAPE, seed=9)
    a = np.array(x)
    for axis in (None, 0, 1, -1):
        got = np.cumsum(a, axis=axis)
        exp = onp.cumsum(x.astype(onp.float32) if dtype == onp.float16 else x, axis=axis)
        assert got.dtype == _expected_dtype("cumsum", dtype)
        onp.testing.assert_allclose(got.asnumpy().astype(onp.float64), exp,
                                    **_tol(dtype, "cumsum"))
    r = np.cumsum(a[:, ::-1].transpose(2, 0, 1), axis=2)
    onp.testing.assert_allclose(r.asnumpy().astype(onp.float64),
                                onp.cumsum(x[:, ::-1].transpose(2, 0, 1).astype(onp.float64),
                                           axis=2), **_tol(dtype, "cumsum"))


@pytest.mark.parametrize("dtype", [onp.float32, onp.int32], ids=str)
def test_cumprod_matches_numpy(dtype):
    x = _data(dtype, SHAPE, seed=10, kind="prod")
    for axis in (None, 0, -1):
        got = np.cumprod(np.array(x), axis=axis)
        assert got.dtype == _expected_dtype("cumprod", dtype)
        onp.testing.assert_allclose(got.asnumpy().astype(onp.float64),
                                    onp.cumprod(x.astype(onp.float64), axis=axis), rtol=1e-5)


def test_scan_group_and_three_phase_paths(monkeypatch):
    _force(monkeypatch, wg=4, min_group_k=8, waves=64)
    x = _data(onp.float32, (3, 301), seed=11)
    a = np.array(x)
    assert RK._plan(a.device, a.dtype, 3, 301, True, 4, "scan")[2] > 1
    for got, exp in [(np.cumsum(a, axis=1), onp.cumsum(x, axis=1)),
                     (np.cumsum(a.T, axis=0), onp.cumsum(x.T, axis=0)),
                     (np.cumsum(a), onp.cumsum(x)),
                     (np.cumprod(np.array(x[:, :40] * 0.2 + 1), axis=1),
                      onp.cumprod(x[:, :40] * 0.2 + 1, axis=1))]:
        onp.testing.assert_allclose(got.asnumpy(), exp, rtol=1e-5, atol=1e-4)
    xi = _data(onp.int64, (2, 100), seed=12)
    onp.testing.assert_array_equal(np.cumsum(np.array(xi), axis=1).asnumpy(),
                                   onp.cumsum(xi, axis=1))


def test_scan_of_empty_and_bad_axis():
    assert np.cumsum(np.zeros((0, 3)), axis=0).shape == (0, 3)
    assert np.cumsum(np.zeros((2, 0)), axis=1).shape == (2, 0)
    with pytest.raises(R.AxisError, match="axis 0 .* dimension 0"):
        np.cumsum(np.array(1.0), axis=0)


# --- gradients -------------------------------------------------------------------------------
needs_fp64 = pytest.mark.skipif("not _fp64()", reason="the device has no cl_khr_fp64")


def _g(seed, shape=(3, 4)):
    return onp.random.default_rng(seed).standard_normal(shape)


@needs_fp64
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), ((0, 1), True),
                                           (-2, True)])
def test_sum_mean_gradients(axis, keepdims):
    check_grad(lambda x: np.sum(x, axis=axis, keepdims=keepdims), _g(0))
    check_grad(lambda x: np.mean(x, axis=axis, keepdims=keepdims), _g(1))


@needs_fp64
def test_prod_gradient_with_zeros():
    x = _g(2, (4, 3))
    x[1, 1] = 0.0              # one zero in a row
    x[2, 0] = x[2, 2] = 0.0    # two zeros in a row
    for axis in (1, None, 0):
        check_grad(lambda v: np.prod(v, axis=axis), x)


@needs_fp64
def test_max_min_gradients_and_ties():
    check_grad(lambda x: np.max(x, axis=1), _g(3))
    check_grad(lambda x: np.min(x, axis=0, keepdims=True), _g(4))
    # MXNet's rule: every tied extreme receives the full gradient
    x = np.array(onp.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]]))
    x.attach_grad()
    with autograd.record():
        y = np.max(x, axis=1)
    y.backward(np.array(onp.array([10.0, 20.0])))
    assert x.grad.tolist() == [[0, 10, 10], [20, 20, 0]]
    with autograd.record():
        y = np.min(x)
    y.backward()
    assert x.grad.tolist() == [[0, 0, 0], [0, 0, 1]]


@needs_fp64
@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std_gradients(ddof):
    for axis in (None, 1, (0,)):
        check_grad(lambda x: np.var(x, axis=axis, ddof=ddof), _g(5))
        check_grad(lambda x: np.std(x, axis=axis, ddof=ddof, keepdims=True), _g(6))


@needs_fp64
def test_cumsum_cumprod_gradients():
    for axis in (None, 0, 1, -1):
        check_grad(lambda x: np.cumsum(x, axis=axis), _g(7))
    check_grad(lambda x: np.cumsum(x.T, axis=0), _g(8))
    x = _g(9, (3, 5))
    for axis in (1, 0):
        check_grad(lambda v: np.cumprod(v, axis=axis), x)
    x[0, 2] = 0.0
    x[1, 1] = x[1, 3] = 0.0
    x[2, 0] = 0.0
    check_grad(lambda v: np.cumprod(v, axis=1), x)


@needs_fp64
def test_logsumexp_gradient_and_stability():
    for axis in (None, 1, (0, 1)):
        check_grad(lambda x: np.logsumexp(x, axis=axis), _g(10))
    check_grad(lambda x: np.logsumexp(x, axis=0, keepdims=True), _g(11))
    big = np.array(onp.array([1000.0, 1000.0, -1000.0]))
    assert abs(float(np.logsumexp(big)) - (1000.0 + onp.log(2.0))) < 1e-9
    inf = np.array(onp.array([[-onp.inf, -onp.inf], [onp.inf, 1.0]]))
    assert np.logsumexp(inf, axis=1).tolist() == [-onp.inf, onp.inf]


@needs_fp64
def test_second_derivatives_of_sum_and_mean():
    h = _g(12)
    w = _g(13)
    for red, scale in ((np.sum, 1.0), (np.mean, 1.0 / h.shape[1])):
        x = np.array(h)
        x.attach_grad()
        with autograd.record():
            s = red(x, axis=1)
            f = np.sum(s * s)
            (gx,) = autograd.grad(f, [x], create_graph=True)
            z = np.sum(gx * np.array(w))
        # gx_ij = 2 s_i * scale, so dz/dx_kl = 2 scale^2 sum_j w_kj
        onp.testing.assert_allclose(gx.asnumpy(), 2 * scale * (h.sum(1) * scale)[:, None]
                                    * onp.ones_like(h), rtol=1e-12)
        z.backward()
        exp = 2 * scale * scale * w.sum(1)[:, None] * onp.ones_like(h)
        onp.testing.assert_allclose(x.grad.asnumpy(), exp, rtol=1e-12)


@needs_fp64
def test_second_derivatives_of_std_and_logsumexp():
    # d/dx of (the gradient contracted with w), by finite differences of the first gradient
    h = _g(14)
    w = _g(15)

    def first_grad(host, fn):
        x = np.array(host)
        x.attach_grad()
        with autograd.record():
            (gx,) = autograd.grad(fn(x), [x], create_graph=True)
            z = np.sum(gx * np.array(w))
        z.backward()
        return float(z.item()), x.grad.asnumpy()

    for fn in (lambda x: np.logsumexp(x, axis=1), lambda x: np.std(x, axis=1),
               lambda x: np.var(x), lambda x: np.cumsum(x * x, axis=0)):
        _, analytic = first_grad(h, fn)
        eps = 1e-6
        num = onp.zeros_like(h)
        for i in range(h.size):
            hp, hm = h.copy(), h.copy()
            hp.flat[i] += eps
            hm.flat[i] -= eps
            num.flat[i] = (first_grad(hp, fn)[0] - first_grad(hm, fn)[0]) / (2 * eps)
        onp.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-6)


def test_methods_and_namespace_names():
    x = _data(onp.float32, (3, 4), seed=16)
    a = np.array(x)
    assert int(a.argmax()) == x.argmax() and a.argmin(axis=1).tolist() == \
        x.argmin(axis=1).tolist()
    onp.testing.assert_allclose(a.std(axis=0).asnumpy(), x.std(axis=0), rtol=1e-5)
    onp.testing.assert_allclose(a.var(ddof=1).asnumpy(), x.var(ddof=1), rtol=1e-5)
    onp.testing.assert_allclose(a.cumsum(axis=1).asnumpy(), x.cumsum(axis=1), rtol=1e-5)
    assert np.amax is np.max and np.amin is np.min


# --- local-memory races and out-of-bounds reads, under the Oclgrind simulator --------------------
_OCLGRIND_ICD = "/usr/lib/oclgrind/liboclgrind-rt-icd.so"
_OCLGRIND_SCENARIO = """
import numpy as onp
from clgrad import np, npx
from clgrad.ops import reduce as R
from clgrad.ops.reduce import kernels as RK
p = dict(RK._DEFAULTS, wg=4, min_group_k=8, waves=64)
RK._params = lambda fam, dev, dt, K: dict(p)
rng = onp.random.default_rng(0)
def close(a, b, tol=1e-4):
    a = a.asnumpy(); assert a.shape == onp.shape(b), (a.shape, onp.shape(b))
    assert onp.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), (a, b)
a = rng.standard_normal((3, 41)).astype('float32'); x = np.array(a)
assert RK._plan(x.device, x.dtype, 3, 41, True, 16)[2] > 1
close(x.sum(axis=1), a.sum(1)); close(x.max(axis=1), a.max(1))
close(np.argmax(x, axis=1), a.argmax(1)); close(np.var(x, axis=1), a.var(1))
close(np.logsumexp(x, axis=1), onp.log(onp.exp(a.astype('float64')).sum(1)))
close(x.T.sum(axis=0), a.sum(1)); close(np.all(x > -5, axis=1), (a > -5).all(1))
close(np.cumsum(x, axis=1), onp.cumsum(a, axis=1))
close(np.cumsum(x.T, axis=0), onp.cumsum(a.T, axis=0))
h = np.array(a.astype('float16'))
close(h.sum(axis=1), a.astype('float16').astype('float32').sum(1), 2e-2)
p.update(min_group_k=100000)
close(np.cumsum(x, axis=1), onp.cumsum(a, axis=1)); close(x.sum(axis=0), a.sum(0))
close(np.argmin(x, axis=0), a.argmin(0))
print(npx.current_device().name)
"""


@pytest.mark.oclgrind
def test_kernels_are_clean_under_oclgrind(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    if not Path(_OCLGRIND_ICD).exists():
        pytest.skip("Oclgrind is not installed (Debian package 'oclgrind')")
    (tmp_path / "icd").mkdir()
    (tmp_path / "icd" / "oclgrind.icd").write_text(_OCLGRIND_ICD + "\n")
    log = tmp_path / "oclgrind.log"
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OCL_ICD_VENDORS=str(tmp_path / "icd"), CLGRAD_DEVICE="Oclgrind",
               OCLGRIND_DATA_RACES="1", OCLGRIND_UNINITIALIZED="1", OCLGRIND_LOG=str(log),
               CLGRAD_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CLGRAD_DEVICE_LIMITS", None)
    proc = subprocess.run([sys.executable, "-c", _OCLGRIND_SCENARIO], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Oclgrind" in proc.stdout, "the scenario did not run on the Oclgrind device"
    report = log.read_text() if log.exists() else ""
    assert report.strip() == "", f"Oclgrind reported problems:\n{report[:4000]}"
