"""Array creation, casts and copies against NumPy, with MXNet's dtype defaults."""
import numpy as onp
import pytest

import clgrad
from clgrad import np, npx
from ops._rules import DTYPES, assert_matches, ids

F32 = onp.dtype("float32")


# --- array / asarray -----------------------------------------------------------------------------
def test_array_from_python_objects_is_float32():
    """MXNet: Python lists and scalars become float32, whatever their element type."""
    for obj in ([1, 2, 3], [[1, 2], [3, 4]], [True, False], [1.5, 2], 7, 2.5, True, ((1, 2),)):
        a = np.array(obj)
        want = onp.array(obj, dtype=onp.float32)
        assert_matches(a, want, F32, repr(obj))
    assert np.array([]).shape == (0,) and np.array([]).dtype == F32


@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
def test_array_from_numpy_keeps_dtype(dtype):
    h = (onp.arange(12) % 5 - 2).reshape(3, 4).astype(dtype)
    assert_matches(np.array(h), h, dtype)
    assert_matches(np.array(h.T), h.T, dtype)              # non-contiguous input
    assert_matches(np.array(h[::-1, ::2]), h[::-1, ::2], dtype)
    assert_matches(np.array(h[0, 0]), h[0, 0], dtype)       # NumPy scalar: 0-d, its dtype
    assert_matches(np.array(h.reshape(-1)[:0]), h.reshape(-1)[:0], dtype)


def test_array_dtype_ndmin_copy_and_device():
    assert_matches(np.array([1.7, -2.2], dtype="int32"), onp.array([1, -2], onp.int32))
    assert_matches(np.array(onp.arange(3), dtype=onp.float16), onp.arange(3, dtype=onp.float16))
    assert_matches(np.array(5, ndmin=2), onp.array(5, onp.float32, ndmin=2))
    x = np.array([1.0, 2.0])
    y = np.array(x)
    assert y._storage is not x._storage                    # copies by default
    assert_matches(y, x.asnumpy())
    z = np.array(x, dtype="int64")
    assert_matches(z, onp.array([1, 2]))
    assert np.array(x.T[::-1]).tolist() == [2.0, 1.0]
    dev = clgrad.runtime.default_device()
    assert np.array([1], device=dev).device is dev and np.array([1], ctx=dev).device is dev
    assert np.array([1], device=npx.cpu()).device is npx.cpu()
    assert np.array([1], device="cpu(0)").device is npx.cpu(0)
    with dev:
        assert np.array([1]).device is dev


def test_asarray():
    x = np.array([1.0, 2.0])
    assert np.asarray(x) is x
    assert np.asarray(x, dtype="float32") is x
    y = np.asarray(x, dtype="int8")
    assert y is not x and y.dtype == onp.int8
    assert_matches(np.asarray([1, 2]), onp.array([1, 2], onp.float32))
    h = onp.array([3, 4], onp.uint8)
    assert_matches(np.asarray(h), h)
    assert_matches(np.ascontiguousarray(x[::-1]), onp.array([2.0, 1.0], onp.float32))


def test_array_bad_input():
    with pytest.raises(clgrad.DTypeError, match="uint16"):
        np.array(onp.array([1], onp.uint16))
    with pytest.raises(clgrad.DTypeError, match="not supported"):
        np.array([1, 2], dtype="uint32")
    with pytest.raises(clgrad.DTypeError, match="unknown dtype|not understood|foo"):
        np.array([1, 2], dtype="foo")
    with pytest.raises(clgrad.MXNetError, match="convert"):
        np.array([[1, 2], [3]])
    with pytest.raises(clgrad.MXNetError):
        np.array(["a", "b"])
    with pytest.raises(clgrad.MXNetError, match="tpu"):
        np.array([1], device="tpu(0)")
    with pytest.raises(clgrad.MXNetError, match="gpu\\(5\\)"):
        np.array([1], device="gpu(5)")


# --- filled creation -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
def test_zeros_ones_full_empty(dtype):
    for shape in ((2, 3), 4, (), (0, 3)):
        hs = (shape,) if isinstance(shape, int) else shape
        assert_matches(np.zeros(shape, dtype=dtype), onp.zeros(hs, dtype), dtype)
        assert_matches(np.ones(shape, dtype=dtype), onp.ones(hs, dtype), dtype)
        fill = 3 if dtype.kind in "iu" else (True if dtype.kind == "b" else 2.5)
        assert_matches(np.full(shape, fill, dtype=dtype), onp.full(hs, fill, dtype), dtype)
        e = np.empty(shape, dtype=dtype)
        assert e.shape == hs and e.dtype == dtype


def test_creation_defaults_are_mxnets():
    assert np.zeros(3).dtype == F32 and np.ones((2, 2)).dtype == F32
    assert np.empty(2).dtype == F32
    assert np.full(2, 1.5).dtype == F32              # Python float: float32
    assert np.full(2, 7).dtype == F32                # Python int: float32 too (MXNet)
    assert np.full(2, True).dtype == onp.bool_
    assert np.arange(3).dtype == F32                  # NumPy: int64
    assert np.linspace(0, 1, 3).dtype == F32          # NumPy: float64
    assert np.eye(2).dtype == F32 and np.identity(2).dtype == F32
    assert np.zeros_like(np.array(onp.arange(3))).dtype == onp.int64
    assert_matches(np.full(3, -1.25, dtype="int16"), onp.full(3, -1, onp.int16))


def test_full_with_array_fill_value():
    v = np.array(onp.array([1, 2, 3], onp.int32))
    r = np.full((2, 3), v)
    assert_matches(r, onp.full((2, 3), [1, 2, 3], onp.int32))
    assert_matches(np.full((2, 3), v, dtype="float32"),
                   onp.full((2, 3), [1, 2, 3], onp.float32))
    with pytest.raises(ValueError):
        np.full((2, 4), v)


def test_shape_errors():
    with pytest.raises(ValueError, match="negative"):
        np.zeros((2, -1))
    with pytest.raises(ValueError, match="negative"):
        np.ones(-3)
    with pytest.raises(ValueError, match="shape"):
        np.zeros("abc")
    with pytest.raises(clgrad.DTypeError):
        np.zeros(3, dtype="uint64")
    with pytest.raises(clgrad.DTypeError):
        np.ones(3, dtype=object)


def test_like_functions():
    h = (onp.arange(6) - 2).reshape(2, 3).astype(onp.int16)
    x = np.array(h)
    for fn, ref in ((np.zeros_like, onp.zeros_like), (np.ones_like, onp.ones_like)):
        assert_matches(fn(x), ref(h), onp.int16)
        assert_matches(fn(x.T), ref(h.T), onp.int16)
        assert_matches(fn(x, dtype="float64"), ref(h, dtype=onp.float64), onp.float64)
        assert_matches(fn(x, shape=(4,)), ref(h, shape=(4,)), onp.int16)
        assert_matches(fn(h), ref(h), onp.int16)           # NumPy input keeps its dtype
    assert_matches(np.full_like(x, 7), onp.full_like(h, 7), onp.int16)
    assert_matches(np.full_like(x, 2.7), onp.full_like(h, 2), onp.int16)   # truncated
    assert_matches(np.full_like(x, 2.5, dtype="float32"), onp.full((2, 3), 2.5, onp.float32))
    e = np.empty_like(x[:, ::2])
    assert e.shape == (2, 2) and e.dtype == onp.int16 and e._is_c_contiguous()
    assert np.zeros_like([1, 2]).dtype == F32


# --- ranges --------------------------------------------------------------------------------------
ARANGES = [
    ((5,), {}), ((1, 7, 2), {}), ((7, 1, -2), {}), ((0, 1, 0.1), {}), ((2.5, -1.0, -0.5), {}),
    ((3, 1), {}), ((5,), {"dtype": "int32"}), ((-3, 9, 4), {"dtype": "int64"}),
    ((0, 1, 0.25), {"dtype": "float64"}), ((10,), {"dtype": "uint8"}),
    ((4,), {"dtype": "float16"}), ((0,), {}),
]


@pytest.mark.parametrize("args,kw", ARANGES, ids=[repr(a) + repr(k) for a, k in ARANGES])
def test_arange(args, kw):
    want = onp.arange(*args, dtype=kw.get("dtype", onp.float32))
    assert_matches(np.arange(*args, **kw), want, want.dtype, repr(args))


def test_arange_exact_for_large_integers():
    """Integer ranges are exact beyond float32's 24-bit mantissa."""
    for dt, start in (("int32", 2 ** 24 + 1), ("int64", 2 ** 40 + 1), ("int64", -(2 ** 53) - 7)):
        want = onp.arange(start, start + 9, 2, dtype=dt)
        assert_matches(np.arange(start, start + 9, 2, dtype=dt), want, dt)


def test_arange_errors():
    with pytest.raises(clgrad.MXNetError, match="step"):
        np.arange(0, 5, 0)
    with pytest.raises(clgrad.DTypeError):
        np.arange(5, dtype="complex64")


LINSPACES = [
    ((0, 1), {"num": 5}), ((2, -3), {"num": 6}), ((0, 1), {"num": 4, "endpoint": False}),
    ((1, 1), {"num": 3}), ((0, 10), {"num": 1}), ((0, 10), {"num": 0}),
    ((-1, 1), {"num": 7, "dtype": "float64"}), ((0, 100), {"num": 11, "dtype": "int32"}),
    ((0, 1), {}),
]


@pytest.mark.parametrize("args,kw", LINSPACES, ids=[repr(a) + repr(k) for a, k in LINSPACES])
def test_linspace(args, kw):
    want = onp.linspace(*args, **{"dtype": onp.float32, **kw})
    got = np.linspace(*args, **kw)
    assert_matches(got, want, want.dtype, repr((args, kw)))
    if want.size > 1 and kw.get("endpoint", True):
        assert got[-1].item() == want[-1]       # the end point is exact


def test_linspace_retstep_and_errors():
    got, step = np.linspace(0, 1, 5, retstep=True)
    want, wstep = onp.linspace(0, 1, 5, retstep=True)
    assert step == pytest.approx(wstep)
    assert_matches(got, want.astype(onp.float32))
    with pytest.raises(clgrad.MXNetError, match="non-negative"):
        np.linspace(0, 1, -1)


@pytest.mark.parametrize("args,kw", [((3,), {}), ((3, 4), {}), ((4, 3), {"k": 1}),
                                     ((3, 5), {"k": -2}), ((3,), {"k": 5}), ((0,), {}),
                                     ((3,), {"dtype": "int32"}), ((2, 3), {"dtype": "bool"}),
                                     ((3,), {"k": -1, "dtype": "float16"}),
                                     ((1,), {"k": 2 ** 63}), ((2, 3), {"k": -2 ** 70})])
def test_eye(args, kw):
    want = onp.eye(*args, **{"dtype": onp.float32, **kw})
    assert_matches(np.eye(*args, **kw), want, want.dtype)


def test_identity():
    assert_matches(np.identity(3), onp.identity(3, onp.float32))
    assert_matches(np.identity(2, dtype="int64"), onp.identity(2, onp.int64))


# --- casts and copies ----------------------------------------------------------------------------
_CAST_VALUES = onp.array([-3.75, -1.0, -0.0, 0.0, 0.5, 1.0, 2.5, 7.25, 100.0])


def _cast_source(src, dst):
    """Values of ``src`` that NumPy converts to ``dst`` without undefined behaviour."""
    v = _CAST_VALUES
    if dst.kind == "u" or src.kind == "u":
        v = onp.abs(v)
    if src.kind in "iub" or dst.kind in "iub":
        v = v if src.kind == "f" else onp.trunc(v)
    return v.astype(src)


@pytest.mark.parametrize("src", DTYPES, ids=ids(DTYPES))
def test_astype_every_pair(src):
    for dst in DTYPES:
        h = _cast_source(src, dst)
        x = np.array(h)
        y = x.astype(dst)
        assert_matches(y, h.astype(dst), dst, f"{src} -> {dst}")
        # a non-contiguous source, through the strided kernel
        hv = h.reshape(3, 3).T[::-1]
        assert_matches(np.array(h.reshape(3, 3)).T[::-1].astype(dst), hv.astype(dst), dst,
                       f"{src} -> {dst} strided")


def test_astype_copy_flag_and_names():
    x = np.array([1.0, 2.0])
    assert x.astype("float32", copy=False) is x
    y = x.astype("float32")
    assert y is not x and y._storage is not x._storage
    for name, want in (("int32", onp.int32), (onp.int8, onp.int8), (float, onp.float64),
                       (int, onp.int64), (bool, onp.bool_), ("f2", onp.float16)):
        assert x.astype(name).dtype == want
    assert_matches(np.astype(x, "int64"), onp.array([1, 2]))
    with pytest.raises(clgrad.DTypeError, match="not supported"):
        x.astype("uint32")
    with pytest.raises(clgrad.DTypeError):
        x.astype("notatype")
    assert_matches(x, onp.array([1.0, 2.0], onp.float32))


def test_astype_special_floats():
    h = onp.array([onp.nan, onp.inf, -onp.inf, 65504.0, 1e-8, -0.0], onp.float32)
    assert_matches(np.array(h).astype("float16"), h.astype(onp.float16))
    assert_matches(np.array(h).astype("float64"), h.astype(onp.float64))
    assert_matches(np.array(h).astype("bool"), h.astype(bool))
    # float16 rounds to nearest even, as NumPy does
    r = onp.array([1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11, 2049.0, 2051.0], onp.float32)
    assert_matches(np.array(r).astype("float16"), r.astype(onp.float16))


def test_copy():
    h = onp.arange(12, dtype=onp.float32).reshape(3, 4)
    x = np.array(h)
    for v, hv in ((x, h), (x.T, h.T), (x[::-1, 1::2], h[::-1, 1::2]), (x[1, 2], h[1, 2])):
        c = np.copy(v)
        assert c._storage is not x._storage and c._is_c_contiguous()
        assert_matches(c, hv)
    c = x.copy()
    c[0, 0] = 100
    assert x[0, 0].item() == 0


def test_creation_on_a_scoped_device():
    dev = clgrad.runtime.default_device()
    with dev as d:
        assert d is dev and npx.current_device() is dev
        for a in (np.zeros(2), np.ones(2), np.full(2, 1), np.arange(2), np.linspace(0, 1, 2),
                  np.eye(2), np.array([1]), np.empty(1)):
            assert a.device is dev


# --- assign_many ----------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["cpu", "gpu"])   # runs of elements, or interleaved
def test_assign_many_batches_plain_copies_into_one_launch(profile, monkeypatch):
    from clgrad.ops.core import assign_many
    from clgrad.ops.launch import launch_count
    monkeypatch.setattr(npx.current_device(), "_launch_profile", profile, raising=False)
    rng = onp.random.default_rng(1)
    shapes = [(3, 4), (1000,), (5,), (2, 2, 2), (1,), (70,), (9, 3), (64,), (300,), (6,)]
    for dtype in ("float32", "float64", "float16", "int8", "int64", "bool", "complex128"):
        hs = [rng.standard_normal(s).astype(dtype) for s in shapes]
        srcs = [np.array(h) for h in hs]
        # destinations as offset views of one buffer, like a Trainer's gradient arena
        flat = np.zeros((sum(h.size for h in hs) + 13,), dtype=dtype)
        dsts, off = [], 5
        for h in hs:
            dsts.append(flat[off:off + h.size].reshape(h.shape))
            off += h.size
        before = launch_count()
        assign_many(list(zip(dsts, srcs)))
        assert launch_count() - before == 2        # ten copies: a launch per eight
        for d, h in zip(dsts, hs):
            assert_matches(d, h)
        assert not flat[:5].asnumpy().any() and not flat[off:].asnumpy().any()


def test_assign_many_other_pairs_and_order():
    from clgrad.ops.core import assign_many
    a, b = np.zeros((2, 3)), np.zeros(3)
    src = np.array(onp.arange(6.0).reshape(3, 2))
    # a transposed source, a broadcast one and a scalar go through assign
    assign_many([(a, src.T), (b, np.array([7.0])), (np.zeros(2), 4)])
    assert_matches(a, onp.arange(6.0, dtype=onp.float32).reshape(3, 2).T)
    assert_matches(b, onp.full(3, 7.0, onp.float32))
    # one pair reads what another writes: done in order, as separate assigns would
    x, y, z = np.array([1.0, 2]), np.array([3.0, 4]), np.array([5.0, 6])
    assign_many([(x, y), (y, z)])
    assert_matches(x, onp.array([3.0, 4], onp.float32))
    assert_matches(y, onp.array([5.0, 6], onp.float32))
    v = x._storage.version
    assign_many([(x, z), (y, np.array([0.0, 0]))])
    assert x._storage.version == v + 1      # every destination's version moves
    with pytest.raises(clgrad.base.ShapeError):
        assign_many([(x, np.zeros(3))])
    # a destination that is not an array is refused before anything is written
    x[...] = 0
    with pytest.raises(clgrad.base.ArgumentTypeError, match="dst must be a clgrad array"):
        assign_many([(x, np.ones(2)), ([1, 2], np.ones(2))])
    assert not x.asnumpy().any()
