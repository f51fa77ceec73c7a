"""Linear algebra against NumPy: matmul (both kernel paths, every layout), dot, vdot, inner,
outer, tensordot, einsum, linalg.norm; gradients by finite differences; tuner hooks.

Kernel instantiations are shared between tests (float32, a handful of layouts and parameter
sets) to keep PoCL compile time down.
"""
import gc

import numpy as onp
import pytest

from clgrad import MXNetError, ShapeError, autograd, np
from clgrad.ops import launch
from clgrad.ops import linalg as L
from clgrad.ops.linalg import plans as LP
from clgrad.tune import db
from gradcheck import check_grad

F32 = onp.dtype("float32")
F64 = onp.dtype("float64")


def _dev():
    return np.zeros(1).device


def _skip_fp64(dtype):
    if onp.dtype(dtype) == F64 and not _dev().caps.fp64:
        pytest.skip("the device has no cl_khr_fp64")


def _data(shape, dtype=F32, seed=0):
    rng = onp.random.default_rng(seed)
    dtype = onp.dtype(dtype)
    if dtype == onp.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "u":
        return rng.integers(0, 20, size=shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-20, 21, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _ref_matmul(a, b):
    """NumPy's answer computed in float64 (the result dtype is checked separately)."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return onp.matmul(a.astype(onp.float64), b.astype(onp.float64))
    return onp.matmul(a, b)


def _tol(dtype, k=64):
    dtype = onp.dtype(dtype)
    if dtype == onp.float16:
        return 2e-2 * max(1.0, k ** 0.5)
    if dtype == onp.float32:
        return 2e-5 * max(1.0, k ** 0.5)
    return 1e-12 * max(1.0, k)


def _check(res, ref, dtype=None, k=64):
    host = res.asnumpy()
    assert host.shape == onp.shape(ref)
    if dtype is not None:
        assert res.dtype == onp.dtype(dtype)
    if host.dtype.kind in "biu":
        onp.testing.assert_array_equal(host, ref)
    else:
        tol = _tol(host.dtype, k)
        onp.testing.assert_allclose(host.astype(onp.float64), ref, rtol=tol, atol=tol)


@pytest.fixture
def count_copies(monkeypatch):
    """Counts elementwise launches (copies, casts, fills) made while a test runs."""
    calls = []
    real = launch.elementwise

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(launch, "elementwise", counting)
    return calls


# --- matmul forward ----------------------------------------------------------------------------
SIZES = [(1, 17, 33), (3, 3, 3), (17, 33, 65), (65, 17, 33), (33, 65, 1), (65, 65, 65),
         (3, 1, 17), (33, 1, 65)]


@pytest.mark.parametrize("M,N,K", SIZES)
def test_matmul_2d_odd_sizes(M, N, K):
    A, B = _data((M, K), seed=1), _data((K, N), seed=2)
    _check(np.array(A) @ np.array(B), _ref_matmul(A, B), F32, K)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_matmul_other_float_dtypes(dtype):
    _skip_fp64(dtype)
    A, B = _data((33, 65), dtype, 1), _data((65, 17), dtype, 2)
    _check(np.matmul(np.array(A), np.array(B)), _ref_matmul(A, B), dtype, 65)
    assert L.LAST_PLAN["path"] == "tiled"
    a, b = np.array(A[:3, :5]), np.array(B[:5, :4])
    _check(np.matmul(a, b), _ref_matmul(A[:3, :5], B[:5, :4]), dtype, 5)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool"])
def test_matmul_integer_and_bool(dtype):
    A, B = _data((5, 7), dtype, 1), _data((7, 3), dtype, 2)
    res = np.array(A) @ np.array(B)
    assert L.LAST_PLAN["path"] == "simple"
    _check(res, A @ B, (A @ B).dtype)


def test_matmul_integer_wraps_like_numpy():
    A = onp.full((2, 300), 100, onp.int8)
    B = onp.full((300, 2), 3, onp.int8)
    _check(np.array(A) @ np.array(B), A @ B, onp.int8)


@pytest.mark.parametrize("da,db", [("int32", "float32"), ("float16", "float32"),
                                   ("int8", "int16"), ("bool", "int32"), ("uint8", "int8"),
                                   ("float32", "float64")])
def test_matmul_dtype_promotion(da, db):
    _skip_fp64(onp.result_type(da, db))
    A, B = _data((4, 5), da, 1), _data((5, 3), db, 2)
    res = np.matmul(np.array(A), np.array(B))
    mixed = (A.dtype.kind == "f") != (B.dtype.kind == "f")
    # MXNet's rule: an integer operand takes the float operand's type (NumPy: float64)
    assert res.dtype == ((A.dtype if A.dtype.kind == "f" else B.dtype) if mixed else
                         onp.result_type(A.dtype, B.dtype))
    _check(res, _ref_matmul(A, B).astype(res.dtype) if res.dtype.kind != "f" else
           _ref_matmul(A, B), k=5)


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
                                   ((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((1,), (1,)),
                                   ((65,), (65, 33)), ((33, 65), (65,))])
def test_matmul_one_dimensional(sa, sb):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    res = np.matmul(np.array(A), np.array(B))
    _check(res, _ref_matmul(A, B), F32, sa[-1])


def test_matmul_long_dot_product_uses_group_path():
    A, B = _data((1000,), seed=1), _data((1000,), seed=2)
    res = np.matmul(np.array(A), np.array(B))
    assert L.LAST_PLAN == {"path": "simple", "form": "group"}
    _check(res, _ref_matmul(A, B), F32, 1000)


@pytest.mark.parametrize("sa,sb", [((4, 17, 20), (20, 33)), ((2, 1, 17, 20), (3, 20, 33)),
                                   ((17, 20), (2, 3, 20, 33)), ((1, 3, 4), (5, 4, 2)),
                                   ((2, 1, 3, 4), (1, 6, 4, 2)), ((3, 0, 4), (4, 2))])
def test_matmul_batch_broadcasting(sa, sb):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    _check(np.array(A) @ np.array(B), _ref_matmul(A, B), F32, sa[-1])


def test_matmul_empty_dimensions():
    dev_a, dev_b = np.array(_data((33, 0))), np.array(_data((0, 65)))
    res = dev_a @ dev_b
    _check(res, onp.zeros((33, 65)), F32)
    assert (np.zeros((0, 3)) @ np.zeros((3, 4))).shape == (0, 4)
    assert (np.zeros((2, 0, 3)) @ np.zeros((3, 4))).shape == (2, 0, 4)
    _check(np.zeros(0) @ np.zeros(0), onp.float64(0.0), F32)


def _layouts(A, B):
    """(name, device a, device b, host a, host b): transposes and negative-step views."""
    a, b = np.array(A), np.array(B)
    at, bt = np.array(onp.ascontiguousarray(A.T)), np.array(onp.ascontiguousarray(B.T))
    return [
        ("a.T @ b", at.T, b, A, B),
        ("a @ b.T", a, bt.T, A, B),
        ("a.T @ b.T", at.T, bt.T, A, B),
        ("reversed", a[::-1, ::-1], b[::-1], A[::-1, ::-1], B[::-1]),
        ("strided", np.array(onp.repeat(A, 2, axis=1))[:, ::2],
         np.array(onp.repeat(B, 2, axis=0))[::2], A, B),
        ("swapaxes", np.swapaxes(at, 0, 1), b, A, B),
    ]


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
@pytest.mark.parametrize("M,N,K", [(33, 65, 17), (3, 5, 4)])
def test_matmul_strided_operands_are_read_in_place(M, N, K, profile, count_copies,
                                                   monkeypatch):
    monkeypatch.setattr(_dev(), "_launch_profile", profile, raising=False)
    A, B = _data((M, K), seed=1), _data((K, N), seed=2)
    for name, a, b, ha, hb in _layouts(A, B):
        del count_copies[:]
        res = a @ b
        # the one exception: on CPUs the tiled kernel packs B of A @ B.T into rows along N
        packed = ["copy"] if (profile, name, M) == ("cpu", "a @ b.T", 33) else []
        assert count_copies == packed, f"{name}: operands were copied ({count_copies})"
        _check(res, _ref_matmul(ha, hb), F32, K)


@pytest.mark.parametrize("N", [3, 10, 16, 17, 40])
def test_a_few_columns_of_a_times_b_transposed_are_read_in_place_on_cpus(N, count_copies,
                                                                         monkeypatch):
    # on CPUs A @ B.T copies B.T into rows along N first, except for at most 16 columns, which
    # the kvec form reads as they are; values and gradients the same either way
    monkeypatch.setattr(_dev(), "_launch_profile", "cpu", raising=False)
    A, W = _data((70, 90), seed=3), _data((N, 90), seed=4)
    a, w = np.array(A), np.array(W)
    a.attach_grad()
    w.attach_grad()
    del count_copies[:]
    with autograd.record():
        y = a @ w.T
    assert count_copies == ([] if N <= LP._KVEC_MAX_N else ["copy"]), count_copies
    _check(y, _ref_matmul(A, W.T), F32, 90)
    G = _data((70, N), seed=5)
    y.backward(np.array(G))
    _check(a.grad, _ref_matmul(G, W), F32, N)
    _check(w.grad, _ref_matmul(G.T, A), F32, 70)


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_matmul_layout_plans(profile, monkeypatch):
    monkeypatch.setattr(_dev(), "_launch_profile", profile, raising=False)
    A, B = _data((33, 17), seed=1), _data((17, 65), seed=2)
    a, b = np.array(A), np.array(B)
    at, bt = np.array(onp.ascontiguousarray(A.T)).T, np.array(onp.ascontiguousarray(B.T)).T
    _check(a @ b, _ref_matmul(A, B), F32, 17)
    assert (L.LAST_PLAN["form"], L.LAST_PLAN["a_layout"], L.LAST_PLAN["b_layout"]) == \
        ("nvec", "k", "n")
    _check(at @ b, _ref_matmul(A, B), F32, 17)
    assert (L.LAST_PLAN["form"], L.LAST_PLAN["a_layout"]) == ("nvec", "m")
    _check(a @ bt, _ref_matmul(A, B), F32, 17)
    if profile == "gpu":
        assert (L.LAST_PLAN["form"], L.LAST_PLAN["a_layout"], L.LAST_PLAN["b_layout"]) == \
            ("kvec", "k", "k")
    else:   # CPUs copy B.T into rows along N and take the nvec form
        assert (L.LAST_PLAN["form"], L.LAST_PLAN["a_layout"], L.LAST_PLAN["b_layout"]) == \
            ("nvec", "k", "n")
    _check(at @ bt, _ref_matmul(A, B), F32, 17)
    assert L.LAST_PLAN["swapped"] and L.LAST_PLAN["b_layout"] == "n"


def test_matmul_plans_reused_with_other_offsets_and_buffers():
    # A plan is cached by shapes and strides only: every call must fill in its own operands'
    # buffers and offsets, also when the plan swaps the operands or splits K into chunks.
    A, B = _data((40, 300), seed=3), _data((300, 70), seed=4)
    base_a, base_b = np.array(A), np.array(B)
    big_a = np.array(onp.concatenate([A, A[::-1]], axis=0))
    for lo in (0, 1, 5):
        cases = [
            ("plain", base_a[lo:lo + 30], base_b[:, lo:lo + 50],
             A[lo:lo + 30], B[:, lo:lo + 50]),
            ("other buffer", big_a[40 + lo:70 + lo], base_b[:, lo:lo + 50],
             A[::-1][lo:lo + 30], B[:, lo:lo + 50]),
            ("swapped", np.array(onp.ascontiguousarray(A.T)).T[lo:lo + 30],
             np.array(onp.ascontiguousarray(B.T)).T[:, lo:lo + 50],
             A[lo:lo + 30], B[:, lo:lo + 50]),
            ("simple", base_a[lo:lo + 1], base_b[:, lo:lo + 3], A[lo:lo + 1], B[:, lo:lo + 3]),
        ]
        for name, a, b, ha, hb in cases:
            res = a @ b
            _check(res, _ref_matmul(ha, hb), F32, 300)
            if name == "swapped":
                assert L.LAST_PLAN["swapped"]
            if name == "plain":
                # and with K in chunks (each chunk's offset moves along K)
                p = dict(L.FALLBACK_PARAMS[0], KC=64)
                with db.override("matmul", p):
                    res = a @ b
                assert L.LAST_PLAN["chunks"] == 5
                _check(res, _ref_matmul(ha, hb), F32, 300)
    n = L.plan_count()
    base_a[2:32] @ base_b[:, 3:53]
    assert L.plan_count() == n, "a repeated layout built a new plan"


def test_matmul_plans_keep_no_memory_alive():
    dev = _dev()
    gc.collect()            # what earlier tests left to the collector
    before = dev.memory_stats()["in_use_bytes"]
    a, b = np.ones((300, 301)), np.ones((301, 302))
    c = a @ b
    c.wait_to_read()
    del a, b, c
    gc.collect()
    assert dev.memory_stats()["in_use_bytes"] == before


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_large_products_pack_b_in_panels_on_cpus(profile, monkeypatch):
    # the large size bucket, forced for small problems: on CPUs B is copied into zero-padded
    # panels (any layout, ragged N, offsets), on GPUs it is read in place
    monkeypatch.setattr(_dev(), "_launch_profile", profile, raising=False)
    monkeypatch.setattr(LP, "size_key", lambda M, N, K: "large")
    launch.clear_caches()
    for (M, N, K) in ((33, 65, 17), (9, 20, 40), (40, 32, 5)):
        A, B = _data((M + 2, K + 1), seed=M), _data((K + 1, N + 3), seed=N)
        for name, a, b, ha, hb in _layouts(A, B):
            res = a[1:M + 1, :K] @ b[:K, 2:N + 2]
            _check(res, _ref_matmul(ha[1:M + 1, :K], hb[:K, 2:N + 2]), F32, K)
            assert L.LAST_PLAN["path"] == "tiled"
            assert (L.LAST_PLAN["bmode"] == "panel") == (profile == "cpu"), (name, L.LAST_PLAN)
    launch.clear_caches()


def test_matmul_bad_shapes():
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(4, 5\)"):
        np.ones((2, 3)) @ np.ones((4, 5))
    with pytest.raises(ValueError, match=r"\(2, 2, 3\) and \(3, 3, 4\)"):
        np.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4)))
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\)"):
        np.matmul(np.ones(3), np.ones(4))
    with pytest.raises(ShapeError, match="enough dimensions"):
        np.matmul(np.ones(3), 2.0)
    with pytest.raises(ShapeError, match="enough dimensions"):
        np.matmul(np.array(2.0), np.ones(3))
    with pytest.raises(MXNetError):
        np.dot(np.ones((2, 3)), np.ones((2, 3)))


def test_matmul_inputs_unchanged_on_error():
    a = np.array(_data((2, 3)))
    before = a.asnumpy().copy()
    with pytest.raises(ShapeError):
        a @ np.ones((4, 2))
    onp.testing.assert_array_equal(a.asnumpy(), before)


def test_matmul_lists_out_and_operator():
    res = np.matmul([[1.0, 2.0]], [[3.0], [4.0]])
    assert res.dtype == F32
    _check(res, onp.array([[11.0]]))
    a = np.array(_data((3, 4)))
    out = np.zeros((3, 2))
    r = np.matmul(a, _data((4, 2), seed=3), out=out)
    assert r is out
    _check(out, _ref_matmul(_data((3, 4)), _data((4, 2), seed=3)))
    _check(_data((2, 3), seed=4) @ a, _ref_matmul(_data((2, 3), seed=4), _data((3, 4))))


def test_matmul_is_deterministic():
    A, B = _data((65, 65), seed=1), _data((65, 65), seed=2)
    a, b = np.array(A), np.array(B)
    first = (a @ b).asnumpy()
    for _ in range(3):
        onp.testing.assert_array_equal((a @ b).asnumpy(), first)


# --- explicit parameter sets (what the tuner runs) ------------------------------------------------
PARAM_SETS = [
    # local-memory staging of A and B, 4 x 4 work-items, scalar lanes
    {"MWG": 16, "NWG": 16, "KWG": 8, "MDIMC": 4, "NDIMC": 4, "VW": 1, "SA": 1, "SB": 1, "KC": 0,
     "MC": 0},
    # B staged, A direct, 2-wide vectors, K in chunks of 8 (several launches, beta = 1), rows
    # in blocks of 16
    {"MWG": 8, "NWG": 16, "KWG": 4, "MDIMC": 2, "NDIMC": 2, "VW": 2, "SA": 0, "SB": 1, "KC": 8,
     "MC": 16},
    # direct, 4-wide vectors, chunks of 16, rows in blocks of 8
    {"MWG": 4, "NWG": 8, "KWG": 8, "MDIMC": 1, "NDIMC": 2, "VW": 4, "SA": 0, "SB": 0, "KC": 16,
     "MC": 8},
]


@pytest.mark.parametrize("params", PARAM_SETS, ids=["local", "chunked-sb", "direct"])
def test_matmul_with_params(params):
    if params["VW"] > L.vector_width(_dev(), F32, 16):
        # vectors this wide did not pass the device self-check (or CLGRAD_DEVICE_LIMITS caps
        # them): the set is refused with the reason, before anything is built
        assert "device self-check" in L.param_problem(params, _dev(), F32)
        with pytest.raises(MXNetError, match="device self-check"):
            L.matmul_with_params(np.ones((4, 4)), np.ones((4, 4)), params)
        return
    assert L.param_problem(params, _dev(), F32) is None
    A, B = _data((33, 17), seed=1), _data((17, 65), seed=2)
    for name, a, b, ha, hb in _layouts(A, B)[:3]:
        res = L.matmul_with_params(a, b, params)
        assert L.LAST_PLAN["path"] == "tiled"
        _check(res, _ref_matmul(ha, hb), F32, 17)
        rows = 65 if L.LAST_PLAN["swapped"] else 33
        assert L.LAST_PLAN["row_blocks"] == (-(-rows // params["MC"]) if params["MC"] else 1)
    # batched with broadcasting, and M, N smaller than the tile / the vector width
    A3, B3 = _data((2, 1, 3, 17), seed=3), _data((3, 17, 3), seed=4)
    _check(L.matmul_with_params(np.array(A3), np.array(B3), params), _ref_matmul(A3, B3), F32,
           17)
    assert L.LAST_PLAN["chunks"] == (-(-17 // params["KC"]) if params["KC"] else 1)


def test_gpu_default_params_run_here():
    """The GPU baseline (local-memory tiles, 16 x 16 work-items) is checked on whatever device
    runs the tests, with edges in every direction."""
    params = L.DEFAULT_PARAMS["gpu"]
    if L.param_problem(params, _dev(), F32):
        pytest.skip(L.param_problem(params, _dev(), F32))
    A, B = _data((70, 65), seed=1), _data((130, 65), seed=2)
    a, b = np.array(onp.ascontiguousarray(A.T)).T, np.array(B).T
    _check(L.matmul_with_params(a, b, params), _ref_matmul(A, B.T), F32, 65)
    assert L.LAST_PLAN["grid"] == (2, 3, 1) and L.LAST_PLAN["bmode"] == "local"


def test_matmul_with_params_rejects_bad_params():
    good = PARAM_SETS[0]
    a, b = np.ones((4, 4)), np.ones((4, 4))
    with pytest.raises(MXNetError, match="NWG % \\(NDIMC \\* VW\\)"):
        L.matmul_with_params(a, b, dict(good, VW=4, NWG=8))
    with pytest.raises(MXNetError, match="missing"):
        L.matmul_with_params(a, b, {"MWG": 4})
    with pytest.raises(MXNetError, match="work-group"):
        L.matmul_with_params(a, b, dict(good, MDIMC=128, NDIMC=64, MWG=128, NWG=64))
    with pytest.raises(MXNetError):
        L.matmul_with_params(a, np.ones((4, 4), dtype="int32"), good)


def test_tunable_declaration():
    dev = _dev()
    space = L.TUNABLE
    assert set(space["params"]) == set(L.PARAM_NAMES)
    for nt in (False, True):
        p = L.default_params(dev, F32, nt)
        assert L.param_problem(p, dev, F32) is None
        for c in space["constraints"]:
            assert eval(c, {}, dict(p))
    for p in L.FALLBACK_PARAMS:       # each fits, unless its vectors are wider than verified
        assert L.param_problem(p, dev, F32) is None or p["VW"] > L.vector_width(dev, F32, 16)
    assert L.param_problem(L.FALLBACK_PARAMS[-1], dev, F32) is None
    assert L.local_mem_bytes(PARAM_SETS[0], 4) == 4 * 8 * (16 + 16)
    assert L.size_key(8, 8, 8) == "small" and L.size_key(2048, 2048, 2048) == "large"
    a, b = L.TUNABLES["matmul_nt"]["make_operands"](5, 6, 7, "float32", dev)
    assert a.shape == (5, 7) and b.shape == (7, 6) and b._strides == (1, 7)


def test_tuned_parameters_are_used(monkeypatch):
    from clgrad.runtime import tuning
    # the widest set this device's verified vectors allow
    chosen = dict(next(p for p in reversed(PARAM_SETS)
                       if p["VW"] <= L.vector_width(_dev(), F32, 16)))
    seen = []

    def params_for(device, kernel, dtype, size_key, default):
        seen.append((kernel, onp.dtype(dtype), size_key))
        return dict(chosen)

    monkeypatch.setattr(tuning, "params_for", params_for)
    A, B = _data((33, 17), seed=1), _data((17, 65), seed=2)
    _check(np.array(A) @ np.array(B), _ref_matmul(A, B), F32, 17)
    assert seen == [("matmul", F32, "small")]
    assert L.LAST_PLAN["params"] == chosen


def test_unfit_parameters_fall_back(monkeypatch):
    from clgrad.runtime import tuning
    too_big = dict(PARAM_SETS[0], MDIMC=128, NDIMC=64, MWG=128, NWG=64)
    monkeypatch.setattr(tuning, "params_for", lambda *a: dict(too_big))
    A, B = _data((33, 17), seed=1), _data((17, 65), seed=2)
    _check(np.array(A) @ np.array(B), _ref_matmul(A, B), F32, 17)
    assert L.LAST_PLAN["params"] == L.full_params(L.FALLBACK_PARAMS[0])


# --- dot, vdot, inner, outer, tensordot -----------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((), (3,)), ((4,), ()), ((5,), (5,)), ((3, 4), (4, 5)),
                                   ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4,)),
                                   ((2, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 3))])
def test_dot(sa, sb):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    _check(np.dot(np.array(A), np.array(B)), onp.dot(A.astype(onp.float64), B), F32)


def test_dot_scalars_and_mismatch():
    _check(np.dot(2, np.array([1.0, 2.0])), onp.array([2.0, 4.0]))
    with pytest.raises(ShapeError, match=r"\(2, 3, 4\) and \(5, 3, 2\)"):
        np.dot(np.ones((2, 3, 4)), np.ones((5, 3, 2)))
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\)"):
        np.dot(np.ones(3), np.ones(4))


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3, 4), (5, 4)), ((2, 3, 4), (4,)),
                                   ((), (3, 2))])
def test_inner(sa, sb):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    _check(np.inner(np.array(A), np.array(B)), onp.inner(A.astype(onp.float64), B), F32)


def test_inner_outer_vdot_errors():
    with pytest.raises(ShapeError, match="inner"):
        np.inner(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ShapeError, match="vdot"):
        np.vdot(np.ones((2, 3)), np.ones(5))


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 3), (4,)), ((), (2,)), ((0,), (3,))])
def test_outer(sa, sb):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    _check(np.outer(np.array(A), np.array(B)), onp.outer(A, B), F32)


def test_vdot():
    A, B = _data((2, 3), seed=1), _data((3, 2), seed=2)
    _check(np.vdot(np.array(A), np.array(B)), onp.vdot(A.astype(onp.float64), B), F32)
    t = np.array(_data((3, 4))).T
    _check(np.vdot(t, t), onp.vdot(_data((3, 4)).T, _data((3, 4)).T))


@pytest.mark.parametrize("sa,sb,axes", [
    ((4, 3), (2, 5), 0),
    ((4, 3), (3, 2), 1),
    ((4, 3, 4), (3, 4, 2), 2),
    ((4, 3, 4), (4, 3, 2), ([1, 0], [1, 0])),
    ((4, 3, 4), (4, 5), ([2], [0])),
    ((4, 3, 4), (4, 5), (2, 0)),
    ((4, 3, 4), (4, 4, 2), ([0, 2], [1, 0])),
    ((3, 4), (4, 3), ([-1, 0], [0, -1])),
])
def test_tensordot(sa, sb, axes):
    A, B = _data(sa, seed=1), _data(sb, seed=2)
    _check(np.tensordot(np.array(A), np.array(B), axes),
           onp.tensordot(A.astype(onp.float64), B, axes), F32)


def test_tensordot_errors():
    with pytest.raises(ShapeError, match="shape-mismatch"):
        np.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=([1], [0]))
    with pytest.raises(ShapeError):
        np.tensordot(np.ones((2, 3)), np.ones((3,)), axes=([0, 1], [0]))
    with pytest.raises(MXNetError):
        np.tensordot(np.ones((2, 3)), np.ones((3,)), axes=([5], [0]))


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_products_in_other_dtypes(dtype):
    _skip_fp64(dtype)
    A, B, V = _data((3, 4), dtype, 1), _data((4, 5), dtype, 2), _data((4,), dtype, 3)
    a, b, v = np.array(A), np.array(B), np.array(V)
    wide = (lambda x: x.astype(onp.float64)) if dtype == "float64" else (lambda x: x)
    _check(np.dot(a, b), onp.dot(wide(A), B), dtype)
    _check(np.dot(v, v), onp.dot(wide(V), V), dtype)
    _check(np.inner(a, v), onp.inner(wide(A), V), dtype)
    _check(np.outer(v, v), onp.outer(V, V), dtype)
    _check(np.vdot(a, a), onp.vdot(wide(A), A), dtype)
    _check(np.tensordot(a, b, 1), onp.tensordot(wide(A), B, 1), dtype)
    _check(np.einsum("ij,jk->ki", a, b), onp.einsum("ij,jk->ki", wide(A), B), dtype)
    _check(np.einsum("ij->j", a), onp.einsum("ij->j", wide(A)), dtype)
    _check(np.einsum("ij,ij->", a, a), onp.einsum("ij,ij->", wide(A), A), dtype)
    _check(np.matmul(b.T, a.T), onp.matmul(wide(B).T, A.T), dtype)


# --- einsum --------------------------------------------------------------------------------------
EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("ji,jk->ik", [(4, 3), (4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ba,bc", [(4, 3), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (3, 4, 5)]),
    ("bij,jk->bk", [(2, 3, 4), (4, 5)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum(spec, shapes):
    ops = [_data(s, seed=i) for i, s in enumerate(shapes)]
    _check(np.einsum(spec, *[np.array(o) for o in ops]),
           onp.einsum(spec, *[o.astype(onp.float64) for o in ops]), F32)


def test_einsum_identity_is_a_new_view():
    a = np.array(_data((2, 3)))
    r = np.einsum("ij->ij", a)
    # a new array over the same buffer (MXNet: einsum's result is never a view of its input)
    assert r is not a and r._storage.buffer is a._storage.buffer
    r[0, 0] = 99.0
    assert a[0, 0].item() != 99.0


@pytest.mark.parametrize("spec,shapes,match", [
    ("ij,jk->iz", [(2, 3), (3, 4)], "'z'"),
    ("ij,jk->ik", [(2, 3), (4, 4)], "'j'"),
    ("ij,jk->ii", [(2, 3), (3, 4)], "more than once"),
    ("ij,jk", [(2, 3)], "operands"),
    ("ijk,jk", [(2, 3), (3, 4)], "dimensions"),
    ("i#,j", [(2, 3), (3,)], "invalid character"),
    ("ij", [(2, 3, 4)], "dimensions"),
])
def test_einsum_errors(spec, shapes, match):
    with pytest.raises(ShapeError, match=match):
        np.einsum(spec, *[np.ones(s) for s in shapes])


# --- norms ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ord", [None, 1, 2, onp.inf, -onp.inf, 0, 3, 0.5])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False)])
def test_vector_norms(ord, axis, keepdims):
    X = _data((3, 4), seed=5)
    if axis is None:
        X = X.reshape(-1)
    res = np.linalg.norm(np.array(X), ord=ord, axis=axis, keepdims=keepdims)
    ref = onp.linalg.norm(X.astype(onp.float64), ord=ord, axis=axis, keepdims=keepdims)
    _check(res, ref, F32)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, onp.inf, -onp.inf])
@pytest.mark.parametrize("axis", [None, (0, 1), (1, 0), (2, 0)])
def test_matrix_norms(ord, axis):
    X = _data((3, 4) if axis in (None, (0, 1), (1, 0)) else (3, 2, 4), seed=6)
    for keepdims in (False, True):
        res = np.linalg.norm(np.array(X), ord=ord, axis=axis, keepdims=keepdims)
        ref = onp.linalg.norm(X.astype(onp.float64), ord=ord, axis=axis, keepdims=keepdims)
        _check(res, ref, F32)


def test_norm_dtypes_and_views():
    _skip_fp64("float64")
    X = _data((4, 5), seed=7)
    for dtype in ("float64", "float16"):
        res = np.linalg.norm(np.array(X.astype(dtype)))
        assert res.dtype == onp.dtype(dtype)
        _check(res, onp.linalg.norm(X.astype(dtype).astype(onp.float64)))
    ints = np.linalg.norm(np.array(onp.array([3, 4], dtype=onp.int32)))
    assert ints.dtype == F32 and float(ints) == 5.0
    _check(np.linalg.norm(np.array(X)[::-1, ::2], axis=0),
           onp.linalg.norm(X[::-1, ::2].astype(onp.float64), axis=0))
    _check(np.linalg.norm(np.zeros((0, 3)), axis=0), onp.zeros(3))
    _check(np.linalg.norm(np.array(2.5)), onp.float64(2.5))


def test_norm_errors():
    x = np.ones((2, 2))
    for ord in (2, -2, "nuc"):
        with pytest.raises(MXNetError, match="singular value"):
            np.linalg.norm(x, ord=ord)
    with pytest.raises(MXNetError, match="improper number of dimensions"):
        np.linalg.norm(np.ones((2, 2, 2)), ord=1)
    with pytest.raises(MXNetError, match="invalid norm order"):
        np.linalg.norm(np.ones(3), ord="fro")
    with pytest.raises(MXNetError, match="duplicate"):
        np.linalg.norm(x, axis=(1, 1))
    with pytest.raises(IndexError):
        np.linalg.norm(x, axis=2)


# --- gradients (float64, central differences) ----------------------------------------------------
def _g(*shape, seed=0):
    return _data(shape, F64, seed)


GRADS = {
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 5)]),
    "matmul-batched-broadcast": (lambda a, b: np.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul-1d-left": (lambda a, b: a @ b, [(4,), (2, 4, 3)]),
    "matmul-1d-right": (lambda a, b: a @ b, [(3, 4), (4,)]),
    "matmul-1d-both": (lambda a, b: a @ b, [(4,), (4,)]),
    "matmul-transposed": (lambda a, b: a.T @ b.T, [(4, 3), (5, 4)]),
    "dot-nd": (lambda a, b: np.dot(a, b), [(2, 3, 4), (2, 4, 3)]),
    "tensordot": (lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])), [(2, 3, 4),
                                                                            (4, 2, 3)]),
    "einsum-nt": (lambda a, b: np.einsum("ij,kj->ik", a, b), [(3, 4), (5, 4)]),
    "einsum-diag": (lambda a: np.einsum("ii->i", a), [(3, 3)]),
    "einsum-chain": (lambda a, b, c: np.einsum("ij,jk,k->i", a, b, c), [(2, 3), (3, 4), (4,)]),
    "einsum-batch": (lambda a, b: np.einsum("bij,jk->bik", a, b), [(2, 3, 4), (4, 2)]),
    "outer": (lambda a, b: np.outer(a, b), [(3,), (2, 2)]),
    "inner": (lambda a, b: np.inner(a, b), [(2, 4), (3, 4)]),
    "vdot": (lambda a, b: np.vdot(a, b), [(2, 3), (6,)]),
    "norm-2": (lambda a: np.linalg.norm(a), [(3, 4)]),
    "norm-2-axis": (lambda a: np.linalg.norm(a, axis=1, keepdims=True), [(3, 4)]),
    "norm-1": (lambda a: np.linalg.norm(a, ord=1, axis=0), [(3, 4)]),
    "norm-inf": (lambda a: np.linalg.norm(a, ord=np.inf, axis=1), [(3, 4)]),
    "norm-p": (lambda a: np.linalg.norm(a, ord=3, axis=1), [(3, 4)]),
    "norm-matrix-1": (lambda a: np.linalg.norm(a, ord=1), [(3, 4)]),
    "norm-matrix-inf": (lambda a: np.linalg.norm(a, ord=np.inf), [(3, 4)]),
    "norm-fro": (lambda a: np.linalg.norm(a, "fro", axis=(0, 2)), [(3, 2, 4)]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients(name):
    _skip_fp64("float64")
    fn, shapes = GRADS[name]
    check_grad(fn, *[_g(*s, seed=i + 1) for i, s in enumerate(shapes)])


def test_norm_gradient_at_zero_is_zero():
    _skip_fp64("float64")
    x = np.zeros((2, 3), dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = np.linalg.norm(x, axis=1)
    y.backward()
    onp.testing.assert_array_equal(x.grad.asnumpy(), onp.zeros((2, 3)))


def test_gradient_of_tiled_path_with_strided_operands():
    _skip_fp64("float64")
    # large enough for the tiled kernel: the vjps read the transposed operands in place
    A, B = _g(33, 17, seed=1), _g(17, 20, seed=2)
    a, b = np.array(A), np.array(B)
    a.attach_grad()
    b.attach_grad()
    W = _g(33, 20, seed=3)
    with autograd.record():
        y = a @ b
    y.backward(np.array(W))
    onp.testing.assert_allclose(a.grad.asnumpy(), W @ B.T, rtol=1e-12, atol=1e-12)
    onp.testing.assert_allclose(b.grad.asnumpy(), A.T @ W, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("left", [False, True])
def test_gradient_of_a_column_major_operand_is_column_major(left):
    """A transposed operand (a Dense weight's W.T) gets its gradient in its own layout, so that
    the gradient reaching W is row-major: W.grad is then written by a plain copy."""
    _skip_fp64("float64")
    if left:    # y = W.T @ B
        W, X, G = _g(5, 4, seed=1), _g(5, 6, seed=2), _g(4, 6, seed=3)
        want_wt, want_w = G @ X.T, X @ G.T
    else:       # y = X @ W.T
        W, X, G = _g(4, 5, seed=1), _g(6, 5, seed=2), _g(6, 4, seed=3)
        want_wt, want_w = X.T @ G, G.T @ X
    w, x = np.array(W), np.array(X)
    w.attach_grad()
    with autograd.record():
        wt = w.T
        y = wt @ x if left else x @ wt
    gwt, = autograd.grad(y, [wt], head_grads=np.array(G), retain_graph=True)
    assert gwt.strides == wt.strides                # column-major, as W.T is
    onp.testing.assert_allclose(gwt.asnumpy(), want_wt, rtol=1e-12, atol=1e-12)
    y.backward(np.array(G))
    onp.testing.assert_allclose(w.grad.asnumpy(), want_w, rtol=1e-12, atol=1e-12)


def test_second_derivative_of_matmul():
    _skip_fp64("float64")
    X, W = _g(3, 4, seed=1), _g(4, 2, seed=2)
    x, w = np.array(X), np.array(W)
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = (x @ w) ** 2
        gx = autograd.grad(y.sum(), [x], create_graph=True)[0]
        z = (gx * gx).sum()
    z.backward()
    GX = 2 * (X @ W) @ W.T
    onp.testing.assert_allclose(gx.asnumpy(), GX, rtol=1e-12)
    # z = sum(gx^2), gx = 2 X W W^T: dz/dX = 4 gx W W^T
    onp.testing.assert_allclose(x.grad.asnumpy(), 4 * GX @ W @ W.T, rtol=1e-10)
    # dz/dW by finite differences
    def z_of(Wh):
        return float(((2 * (X @ Wh) @ Wh.T) ** 2).sum())
    num = onp.zeros_like(W)
    eps = 1e-6
    for idx in onp.ndindex(*W.shape):
        hi, lo = W.copy(), W.copy()
        hi[idx] += eps
        lo[idx] -= eps
        num[idx] = (z_of(hi) - z_of(lo)) / (2 * eps)
    onp.testing.assert_allclose(w.grad.asnumpy(), num, rtol=1e-5, atol=1e-6)


def test_second_derivative_of_norm():
    _skip_fp64("float64")
    X = _g(4, seed=3)
    x = np.array(X)
    x.attach_grad()
    with autograd.record():
        n = np.linalg.norm(x)
        g = autograd.grad(n, [x], create_graph=True)[0]
        s = (g * np.array(onp.arange(4.0))).sum()
    s.backward()
    # g = x / |x|; d(g . v)/dx = v / |x| - x (x . v) / |x|^3
    v = onp.arange(4.0)
    nx = onp.linalg.norm(X)
    onp.testing.assert_allclose(x.grad.asnumpy(), v / nx - X * (X @ v) / nx ** 3, rtol=1e-10)
