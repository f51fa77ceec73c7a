"""Launch geometry and per-device layouts: every layout of the elementwise, reduce and softmax
families computes what NumPy computes, whichever launch profile (CPU or GPU) runs it.

The profile is forced per test (``Device._launch_profile``), and size thresholds are lowered, so
small arrays take the layouts that big ones take on the real devices. The kernels that ran are
recorded, so each test also proves that it exercised the layout it names.
"""
import numpy as onp
import pytest

from clgrad import autograd, np, npx
from clgrad.codegen.render import vector_classes
from clgrad.ops import launch
from clgrad.ops.reduce import kernels as RK
from clgrad.runtime import vector_width
from clgrad.tune import db


def _clear_plans():
    launch.clear_caches()


@pytest.fixture(params=["cpu", "gpu"])
def profile(request, monkeypatch):
    dev = npx.current_device()
    dev.caps        # noqa: B018  (read before the profile is forced)
    old = dev.__dict__.get("_launch_profile")
    dev._launch_profile = request.param
    _clear_plans()
    yield request.param
    if old is None:
        del dev._launch_profile
    else:
        dev._launch_profile = old
    _clear_plans()


@pytest.fixture
def launches(monkeypatch):
    """Names of the kernels launched while the test runs."""
    names = []
    real_call, real_launch = launch.Kernel.__call__, launch.Kernel.launch

    def call(self, device, n, *args):
        names.append(self.name)
        return real_call(self, device, n, *args)

    def launch_(self, device, g, loc, *args):
        names.append(self.name)
        return real_launch(self, device, g, loc, *args)

    monkeypatch.setattr(launch.Kernel, "__call__", call)
    monkeypatch.setattr(launch.Kernel, "launch", launch_)
    return names


@pytest.fixture
def small_thresholds(monkeypatch):
    monkeypatch.setattr(RK, "_CPU_MIN_CHUNK", 16)
    monkeypatch.setattr(RK, "_CPU_COLS_MIN", 16)
    monkeypatch.setattr(RK, "_CPU_COLS_WIDTH", 8)


def _fp64():
    return npx.current_device().caps.fp64


def _close(got, exp, tol=1e-5):
    got = got.asnumpy()
    assert got.shape == onp.shape(exp), (got.shape, onp.shape(exp))
    onp.testing.assert_allclose(got.astype(onp.float64), onp.asarray(exp, onp.float64),
                                rtol=tol, atol=tol, equal_nan=True)


# --- reductions --------------------------------------------------------------------------------
KINDS = ["sum", "mean", "prod", "max", "min", "argmax", "argmin", "var", "std", "all", "any"]


def _ref(kind, x, axis):
    if kind in ("all", "any"):
        return getattr(x, kind)(axis=axis)
    return getattr(onp, kind)(x, axis=axis)


@pytest.mark.parametrize("kind", KINDS)
def test_reduction_layouts_match_numpy(kind, profile, small_thresholds, launches):
    dtype = onp.float64 if _fp64() else onp.float32
    rng = onp.random.default_rng(1)
    x = rng.standard_normal((6, 70)).astype(dtype)
    x[2, 7] = x[2, 40] = 9.0                  # ties: the first index wins
    x[4, 3] = x[4, 66] = -9.0
    if kind == "prod":
        x = 1 + x / 50
    if kind in ("all", "any"):
        x = x > -1.0
    a = np.array(x)
    tol = 1e-9 if dtype == onp.float64 else 1e-4
    for axis in (None, 0, 1):
        _close(getattr(a, kind)(axis=axis), _ref(kind, x, axis), tol)
    _close(getattr(a.T, kind)(axis=1), _ref(kind, x.T, 1), tol)          # strided inner axis
    _close(getattr(a[::-1, ::-2], kind)(axis=0), _ref(kind, x[::-1, ::-2], 0), tol)
    t = x[:6, :60].reshape(3, 4, 5, 6)
    _close(getattr(np.array(t), kind)(axis=(0, 2)) if kind not in ("argmax", "argmin") else
           getattr(np.array(t), kind)(axis=2), _ref(kind, t, (0, 2)) if kind not in (
               "argmax", "argmin") else _ref(kind, t, 2), tol)
    if profile == "cpu":
        ran = set(launches)
        assert f"reduce_{kind}_serial" in ran and f"reduce_{kind}_serial_s2" in ran, ran
        if kind not in ("all", "any"):     # bool leading-axis sums are in the row layout too
            assert f"reduce_{kind}_cols" in ran, ran


def test_cpu_layout_choices(small_thresholds):
    dev = npx.current_device()
    M, K = 1, 100000
    assert RK._cpu_plan(dev, M, K, None)[0] == "serial" and RK._cpu_plan(dev, M, K, None)[2] > 1
    # a leading-axis reduction of unit-stride outputs takes the row layout
    assert RK._cpu_plan(dev, 70, 6, ([70], [1], [6], [70]))[0] == "cols"
    # a unit-stride reduced axis never does
    assert RK._cpu_plan(dev, 6, 70, ([6], [70], [70], [1]))[0] == "serial"


def test_reduction_special_values(profile, small_thresholds):
    x = onp.array([[1.0, onp.nan, 3.0] * 11, [onp.inf, -onp.inf, 2.0] * 11], onp.float32)
    a = np.array(x)
    _close(a.max(axis=1), x.max(axis=1)); _close(a.sum(axis=1), x.sum(axis=1))
    _close(a.max(axis=0), x.max(axis=0)); _close(a.sum(), x.sum())
    assert int(np.argmax(np.array(x[0]))) == 1                     # a NaN is the maximum
    h = onp.linspace(-3, 3, 330).astype(onp.float16).reshape(10, 33)
    _close(np.array(h).sum(axis=1), h.astype(onp.float32).sum(axis=1), 1e-2)
    _close(np.array(h).sum(axis=0), h.astype(onp.float32).sum(axis=0), 1e-2)
    i = onp.arange(-200, 200, dtype=onp.int32).reshape(20, 20)
    assert (np.array(i).sum(axis=0).asnumpy() == i.sum(axis=0)).all()
    assert int(np.array(i).sum()) == int(i.sum())
    _close(np.zeros((0, 5)).sum(axis=0), onp.zeros(5)); _close(np.array(2.5).sum(), 2.5)


def test_reductions_are_deterministic(profile, small_thresholds):
    x = onp.random.default_rng(2).standard_normal((40, 300)).astype(onp.float32)
    a = np.array(x)
    for axis in (None, 0, 1):
        first = a.sum(axis=axis).asnumpy()
        assert (a.sum(axis=axis).asnumpy() == first).all()


def test_reduction_plans_follow_the_tuning_database(launches):
    dev = npx.current_device()
    if launch.launch_profile(dev) != "cpu":
        pytest.skip("the CPU layouts are the default only on CPU devices")
    x = onp.random.default_rng(3).standard_normal((2, 3000)).astype(onp.float32)
    a = np.array(x)
    _close(a.sum(axis=1), x.sum(axis=1), 1e-4)
    assert "reduce_sum_serial" in launches
    del launches[:]
    # tuned parameters are for the group layout: the same reduction then takes it, at once
    with db.override("reduce", {"wg": 8, "min_group_k": 16, "waves": 64}):
        _close(a.sum(axis=1), x.sum(axis=1), 1e-4)
    assert "reduce_sum_group" in launches, launches
    del launches[:]
    _close(a.sum(axis=1), x.sum(axis=1), 1e-4)
    assert "reduce_sum_group" not in launches
    # a tuned entry may also choose the CPU layout (what the tuner measures first on CPUs)
    with db.override("reduce", {"layout": "cpu", "wg": 16, "waves": 4}):
        del launches[:]
        _close(a.sum(axis=1), x.sum(axis=1), 1e-4)
    assert launches == ["reduce_sum_serial"], launches
    with db.override("reduce", {"layout": "group", "wg": 16, "waves": 4}):
        del launches[:]
        _close(a.sum(axis=1), x.sum(axis=1), 1e-4)
    assert "reduce_sum_group" in launches, launches


def test_reduction_gradients_on_both_layouts(profile, small_thresholds):
    if not _fp64():
        pytest.skip("needs float64")
    d = onp.random.default_rng(4).standard_normal((5, 40))
    x = np.array(d)
    x.attach_grad()
    with autograd.record():
        y = (x.sum(axis=0) * np.array(onp.arange(40.0))).sum() + (x.max(axis=1) * 2).sum()
    y.backward()
    g = onp.tile(onp.arange(40.0), (5, 1))
    g[onp.arange(5), d.argmax(axis=1)] += 2
    _close(x.grad, g, 1e-12)


# --- softmax rows -------------------------------------------------------------------------------
@pytest.mark.parametrize("log", [False, True])
def test_softmax_row_layouts(log, profile, launches):
    rng = onp.random.default_rng(5)
    fn = npx.log_softmax if log else npx.softmax
    for shape in ((40, 37), (3, 300)):
        x = rng.standard_normal(shape).astype(onp.float32)
        x[0, 3] = onp.nan           # a NaN, an infinity, a row of -inf: all rows of NaN
        x[1, 5] = onp.inf
        x[2, :] = -onp.inf
        x[0, 0] = 1e3               # the row maximum is far from the NaN
        s = x.astype(onp.float64)
        with onp.errstate(invalid="ignore", divide="ignore"):
            e = onp.exp(s - s.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
            ref = onp.log(p) if log else p
        assert onp.isnan(ref[:3]).all() and not onp.isnan(ref[3:]).any()
        a = np.array(x)
        _close(fn(a), ref)
        _close(fn(a[:, ::-1]), ref[:, ::-1])                    # strided rows
        _close(fn(np.array(x.T.copy()), axis=0), ref.T)
        h = x.astype(onp.float16)
        hs = h.astype(onp.float64)
        with onp.errstate(invalid="ignore", divide="ignore"):
            eh = onp.exp(hs - hs.max(1, keepdims=True))
            ph = eh / eh.sum(1, keepdims=True)
            _close(fn(np.array(h)), onp.log(ph) if log else ph, 2e-2)
    if profile == "cpu":
        assert any(n.endswith("_serial") for n in launches if n.startswith("rows_")), launches


def test_softmax_gradients_on_both_layouts(profile):
    if not _fp64():
        pytest.skip("needs float64")
    rng = onp.random.default_rng(6)
    for shape in ((20, 33), (2, 200)):
        d, w = rng.standard_normal(shape), rng.standard_normal(shape)
        for log in (False, True):
            fn = npx.log_softmax if log else npx.softmax
            x = np.array(d)
            x.attach_grad()
            with autograd.record():
                y = (fn(x) * np.array(w)).sum()
            y.backward()
            e = onp.exp(d - d.max(1, keepdims=True))
            s = e / e.sum(1, keepdims=True)
            g = w - s * w.sum(-1, keepdims=True) if log else \
                s * (w - (w * s).sum(-1, keepdims=True))
            _close(x.grad, g, 1e-10)


def test_softmax_with_lengths(profile):
    rng = onp.random.default_rng(7)
    x = rng.standard_normal((6, 29)).astype(onp.float32)
    ln = onp.array([29, 0, 1, 8, 9, 40], onp.int32)
    y = npx.softmax(np.array(x), length=np.array(ln), use_length=True).asnumpy()
    for r in range(6):
        k = min(ln[r], 29)
        if k:
            e = onp.exp(x[r, :k] - x[r, :k].max())
            onp.testing.assert_allclose(y[r, :k], e / e.sum(), rtol=1e-5, atol=1e-6)
        assert (y[r, k:] == 0).all()


def test_softmax_rows_use_a_stored_winner(tuning_db, launches):
    from clgrad.ops.nn import rows as nn
    dev = npx.current_device()
    rng = onp.random.default_rng(8)
    x = rng.standard_normal((8, 200)).astype(onp.float32)
    s = x.astype(onp.float64)
    e = onp.exp(s - s.max(1, keepdims=True))
    ref = e / e.sum(1, keepdims=True)
    size = nn._rows_size_key(200)
    for winner, mode in (({"wg": 16, "vw": 0}, "group"), ({"wg": 1, "vw": 4}, "serial")):
        db.store(dev, "softmax", "float32", size, winner)
        launches.clear()
        _close(npx.softmax(np.array(x)), ref)
        _close(npx.log_softmax(np.array(x)), onp.log(ref))
        assert launches == [f"rows_softmax_{mode}", f"rows_log_softmax_{mode}"], launches
        # the kernels were rendered for the winner: its lanes per row and vector width (a
        # width the device self-check did not verify for exp is not taken)
        vw = winner["vw"]
        if vw > vector_width(dev, onp.dtype(onp.float32), ("math",), want=16):
            vw = nn._heuristic_rows(dev, 8, 200, onp.dtype(onp.float32), True)[1]
        used = [k for k in dev.kernels if k[0] == "rows" and k[1] == "softmax" and k[2] == mode]
        assert any(k[3] == winner["wg"] and k[-1] == vw for k in used), used
    # a damaged entry is ignored: the layout falls back to the built-in choice
    db.store(dev, "softmax", "float32", size, {"wg": "many"})
    _close(npx.softmax(np.array(x)), ref)


# --- elementwise --------------------------------------------------------------------------------
STREAMS = [{"LS": 4, "EPT": 4, "VW": 2, "LAYOUT": "interleaved"},
           {"LS": 8, "EPT": 16, "VW": 4, "LAYOUT": "blocked"},
           {"LS": 16, "EPT": 3, "VW": 1, "LAYOUT": "blocked"},
           {"LS": 2, "EPT": 8, "VW": 8, "LAYOUT": "interleaved"}]


@pytest.mark.parametrize("params", STREAMS, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_flat_path_with_tuned_stream_parameters(params, launches):
    rng = onp.random.default_rng(8)
    with db.override("elementwise", params) as o:
        _clear_plans()
        for n in (1, 7, 33, 1000):
            x = rng.standard_normal(n + 1).astype(onp.float32)
            y = rng.standard_normal(n + 1).astype(onp.float32)
            a, b = np.array(x), np.array(y)
            _close(a * b, x * y)
            _close(a[1:] + 2.5, x[1:] + 2.5)                    # an offset and a scalar
            _close(np.exp(a[:n]), onp.exp(x[:n]))
            _close(np.sign(a), onp.sign(x))                     # not vector-safe: scalars
            _close(npx.relu(a), onp.maximum(x, 0))
            i = (x * 10).astype(onp.int32)
            assert (np.array(i) // 3).asnumpy().tolist() == (i // 3).tolist()
            if _fp64():
                d = x.astype(onp.float64)
                _close(np.sqrt(np.abs(np.array(d))), onp.sqrt(onp.abs(d)), 1e-12)
    _clear_plans()
    assert o.consulted


def test_stored_stream_entries_are_taken_as_the_tuner_stores_them():
    """An entry the tuner may store reaches every expression, its vector width narrowed to what
    the self-check verified for the expression (1 for one not valid on vectors); what the
    tuner may not store is not taken."""
    dev = npx.current_device()
    f32, i32 = onp.dtype(onp.float32), onp.dtype(onp.int32)
    w = launch.stream_width(dev.caps, f32)
    p = {"LS": 16, "EPT": 4 * w, "VW": w, "LAYOUT": "blocked"}
    with db.override("elementwise", p):
        assert launch.stream_params(dev, f32, 100, ("arith",)) == (4 * w, w, "blocked", 16)
        vw_math = vector_width(dev, f32, ("math",), want=w)
        assert launch.stream_params(dev, f32, 100, ("arith", "math")) == \
            (4 * w, vw_math, "blocked", 16)
        assert launch.stream_params(dev, f32, 100) == (4 * w, 1, "blocked", 16)
        # no vectors for int32: a wider entry is not taken, a scalar one is
        if w > 1:
            assert launch.stream_params(dev, i32, 100) == launch.builtin_stream(dev, i32)
        with db.override("elementwise", dict(p, VW=1)):
            assert launch.stream_params(dev, i32, 100) == (4 * w, 1, "blocked", 16)
    for bad in (dict(p, VW=3, EPT=3), dict(p, EPT=128), dict(p, LS=dev.caps.max_wg * 2),
                dict(p, LAYOUT="diagonal"), {"LS": "many"}):
        assert launch.stream_problem(bad, dev.caps, f32), bad
        with db.override("elementwise", bad):
            assert launch.stream_params(dev, f32, 100, ("arith",)) == \
                launch.builtin_stream(dev, f32, ("arith",)), bad


def test_vector_safe_expressions_run_on_vectors_on_cpus(profile):
    dev = npx.current_device()
    _clear_plans()
    x = onp.random.default_rng(9).standard_normal(77).astype(onp.float32)
    _close(np.exp(np.array(x)), onp.exp(x))
    _close(np.tanh(np.array(x)), onp.tanh(x))
    _close(np.array(x) * 2, x * 2)
    i = onp.arange(77, dtype=onp.int32)
    onp.testing.assert_array_equal((np.array(i) + np.array(i)).asnumpy(), i + i)
    f32, i32 = onp.dtype(onp.float32), onp.dtype(onp.int32)

    def used(name, dtype):
        (got,) = [v for k, p in launch._PLANS.items() if k[0] == name and k[2] == dtype
                  for v in p.flat.values()]
        return got[1]
    ept, mul_ept, int_ept = used("exp", f32), used("multiply", f32), used("add", i32)
    untuned = db.own_entry(dev, "elementwise", f32, launch.stream_size_key(77)) is None
    if profile == "cpu" and untuned:
        # float expressions on four vectors of the widest width the device self-check verified
        # for what they call (exp: math builtins; a multiplication: operators only), within the
        # preferred width; integers one per item
        vw_math = vector_width(dev, f32, ("math",))
        vw_arith = vector_width(dev, f32)
        assert vw_math <= vw_arith <= dev.caps.pref_vec_float
        assert launch.cpu_vectors(dev, f32, ("math",)) == (4 * vw_math, vw_math)
        assert ept == 4 * vw_math and mul_ept == 4 * vw_arith and int_ept == 1
    elif untuned:
        assert ept == mul_ept == int_ept == 1


def test_heavy_flat_vectors_every_element(profile):
    """The flat path's vector layout (four interleaved vectors per work-item on CPUs): sizes
    around whole vectors, work-items and groups, with offsets, match NumPy element by element."""
    rng = onp.random.default_rng(14)
    dev = npx.current_device()
    ept = launch.cpu_vectors(dev, onp.dtype(onp.float32))[0]
    for n in (1, 15, 17, ept - 1, ept + 1, 3 * ept + 5, 256 * ept + 17):
        x = rng.standard_normal(n + 3).astype(onp.float32)
        a = np.array(x)
        _close(np.exp(a[:n]), onp.exp(x[:n]))
        _close(np.tanh(a[3:]), onp.tanh(x[3:]))                        # an offset
        _close(np.maximum(a[1:n + 1], a[2:n + 2]), onp.maximum(x[1:n + 1], x[2:n + 2]))


def test_strided_geometry():
    for profile in ("cpu", "gpu"):
        for inner in (1, 3, 5, 64, 1000, 5000):
            for rows in (1, 2, 3, 17, 1000):
                (lx, ly), (gx, gy) = launch.strided_geometry(profile, inner, rows, 256, 4096,
                                                             1024, 2)
                assert lx & (lx - 1) == 0 and ly & (ly - 1) == 0
                assert gx % lx == 0 and gy % ly == 0 and gx >= inner and gy >= rows
                assert lx * ly <= (4096 if profile == "cpu" else 256)
                if profile == "gpu":
                    assert lx * ly == 256 or gy == ly or lx >= inner   # groups stay full
                assert gy - rows < ly


def test_strided_paths_match_numpy(profile):
    rng = onp.random.default_rng(10)
    for shape in ((9, 3), (3, 9), (40, 1), (5, 4, 3), (1000, 3)):
        x = rng.standard_normal(shape).astype(onp.float32)
        a = np.array(x)
        row = np.array(x[0])
        _close(a + row, x + x[0])
        _close(a.T * 2, x.T * 2)
        _close(np.exp(a[::-1]), onp.exp(x[::-1]))
        z = np.zeros(shape)
        z[...] = a.T.T[::-1]
        _close(z, x[::-1])


def _row_vector_widths():
    """The vector widths of the strided layouts worked out so far that run rows on vectors,
    by expression."""
    return {p.expr: lay.vw for p in launch._PLANS.values() for lay in p.layouts.values()
            if lay.ndim and lay.vw > 1}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_strided_row_vectors_match_numpy(profile, dtype):
    """Rows run on vectors on CPUs (broadcast operands splat, ragged row ends element by
    element); every element is checked, including those next to a row's end and offsets."""
    if dtype == "float64" and not _fp64():
        pytest.skip("no float64 on this device")
    rng = onp.random.default_rng(12)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for shape in ((3, 64), (5, 65), (2, 127), (4, 1000), (3, 2, 200), (1, 129), (7, 3, 64)):
        x = rng.standard_normal(shape).astype(dtype)
        r = rng.standard_normal(shape[-1]).astype(dtype)
        a, b = np.array(x), np.array(r)
        _close(a + b, x + r, tol)
        _close(b - a, r - x, tol)                                  # broadcast operand first
        _close(np.maximum(a, b) * 2.5, onp.maximum(x, r) * 2.5, tol)
        _close(np.exp(a[..., 1:] - b[1:]), onp.exp(x[..., 1:] - r[1:]), tol)   # offsets
        _close(a * np.array(x[..., :1]), x * x[..., :1], tol)     # a broadcast column
        _close(np.array(r) + a[::-1], r + x[::-1], tol)             # rows in reverse order
        z = np.zeros(shape, dtype=dtype)
        z[..., 1:] = a[..., :-1] + b[1:]                           # a strided output view
        ref = onp.zeros(shape, dtype); ref[..., 1:] = x[..., :-1] + r[1:]
        _close(z, ref, tol)
        _close(a.T + 1, x.T + 1, tol)                              # strided inner: scalars
    built = _row_vector_widths()
    if profile == "cpu" and launch.cpu_vectors(npx.current_device(), onp.dtype(dtype),
                                               ("arith",))[1] > 1:
        assert {"v0 + v1", "v0 - v1"} <= set(built), built
        # as wide as the device self-check verified for what each expression calls
        dev = npx.current_device()
        for expr, vw in built.items():
            assert vw == launch.cpu_vectors(dev, onp.dtype(dtype), vector_classes(expr))[1], \
                expr
    else:
        assert not built


def test_strided_row_vectors_with_wide_indices(monkeypatch):
    """The 64-bit index variant of the row layout computes the same elements."""
    dev = npx.current_device()
    monkeypatch.setattr(dev, "_launch_profile", "cpu", raising=False)
    monkeypatch.setattr(launch, "_INT_LIMIT", 300)
    _clear_plans()
    rng = onp.random.default_rng(13)
    x = rng.standard_normal((5, 99)).astype(onp.float32)
    r = rng.standard_normal(99).astype(onp.float32)
    _close(np.array(x) + np.array(r), x + r)
    _close(np.exp(np.array(x)[:, 2:] * np.array(r)[2:]), onp.exp(x[:, 2:] * r[2:]))
    vectors = launch.cpu_vectors(dev, onp.dtype(onp.float32), ("arith",))[1] > 1
    assert any(k[0] == "ew" and k[6] == "long" and k[5] and (k[8][1] > 1) == vectors
               for k in dev.kernels)
    _clear_plans()


def test_items_local_takes_few_sizes():
    dev = npx.current_device()

    class K:
        local = 256
    sizes = {launch.items_local(dev, K, n) for n in range(1, 20000, 37)}
    if launch.launch_profile(dev) == "cpu":
        assert sizes <= {1, 16, 256}
    else:
        assert sizes == {256}


# --- memory ------------------------------------------------------------------------------------
def test_pool_rounding_waste_is_under_a_sixteenth():
    pool = npx.current_device().pool
    rng = onp.random.default_rng(11)
    for size in list(range(64, 5000)) + [int(s) for s in rng.integers(64, 1 << 31, 20000)]:
        got = pool.alloc_size(pool.bin_number(size))
        assert size <= got < size * (1 + 1 / 16), (size, got)


def test_backward_leaves_no_device_memory_behind():
    dev = npx.current_device()
    w = np.array(onp.ones((64, 64), onp.float32))
    w.attach_grad()
    x = np.array(onp.ones((32, 64), onp.float32))

    def step():
        with autograd.record():
            y = npx.relu(x @ w + 1.0)
            loss = npx.log_softmax(y).mean()
        loss.backward()
    step()
    npx.waitall()
    before = dev.memory_stats()["in_use_bytes"]
    for _ in range(3):
        step()
    npx.waitall()
    assert dev.memory_stats()["in_use_bytes"] == before
