"""The device array itself: views and new arrays that copy nothing (MXNet's rule), host conversions, printing as MXNet prints,
operators (plain, reflected, in place), item assignment, and the simple properties."""
import operator

import numpy as onp
import pytest

import clgrad
from clgrad import np
from ops._rules import assert_matches


def host(shape=(2, 3, 4), dtype=onp.float32):
    return onp.arange(int(onp.prod(shape)), dtype=dtype).reshape(shape)


def dev(h):
    return np.array(h)


def in_use():
    return clgrad.runtime.default_device().memory_stats()["in_use_bytes"]


# --- views ---------------------------------------------------------------------------------------
VIEWS = {
    # name: function applied alike to a NumPy array and a clgrad array of shape (2, 3, 4)
    "reshape": lambda a: a.reshape(4, 6),
    "reshape -1": lambda a: a.reshape((-1, 4)),
    "reshape to 0-d-free 1-d": lambda a: a.reshape(24),
    "ravel": lambda a: a.ravel(),
    "transpose": lambda a: a.transpose(),
    "transpose axes": lambda a: a.transpose(1, 2, 0),
    "transpose tuple": lambda a: a.transpose((2, 0, 1)),
    ".T": lambda a: a.T,
    "swapaxes": lambda a: a.swapaxes(0, 2),
    "expand_dims": lambda a: a.expand_dims(1) if hasattr(a, "expand_dims") else
    onp.expand_dims(a, 1),
    "squeeze": lambda a: a[:1].squeeze(),
    "squeeze axis": lambda a: a[:, :1].squeeze(1),
    "broadcast_to": lambda a: a[:, :1].broadcast_to((5, 2, 3, 4)) if hasattr(a, "asnumpy")
    else onp.broadcast_to(a[:, :1], (5, 2, 3, 4)),
    "int": lambda a: a[1],
    "ints": lambda a: a[1, 2],
    "negative int": lambda a: a[-1, -3],
    "slice": lambda a: a[:, 1:3],
    "step": lambda a: a[:, ::2, 1::2],
    "negative step": lambda a: a[::-1, ::-2],
    "negative step with bounds": lambda a: a[:, 2:0:-1, -1:-4:-2],
    "None": lambda a: a[None, :, None],
    "Ellipsis": lambda a: a[..., 1],
    "Ellipsis None": lambda a: a[1, ..., None],
    "empty slice": lambda a: a[:, 2:1],
    "out-of-range slice": lambda a: a[:, 5:9],
    "mixed": lambda a: a[-1, ::-1, None, 1:],
    "chained": lambda a: a[::-1][1:, ::2][0, ::-1],
}


# MXNet's rule for which results share memory with their source: basic indexing whose result
# is contiguous (a[1], a[None], a[2:4]) is a view; reshape, ravel, transposes, expand_dims,
# squeeze and strided or column slices give new arrays. clgrad gives those new arrays over the
# same buffer, copied only when either side is written first (copy on write). (broadcast_to
# of a view stays a view of it: its repeated elements are not written one by one.)
INDEXING = {"int", "ints", "negative int", "slice", "step", "negative step",
            "negative step with bounds", "None", "Ellipsis", "Ellipsis None", "empty slice",
            "out-of-range slice", "mixed", "chained"}


def _mxnet_view(name, want):
    return name in INDEXING and want.flags.c_contiguous and want.size > 0


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_copy_nothing_and_match_numpy(name):
    h = host()
    a = dev(h)
    used = in_use()
    v = VIEWS[name](a)
    want = VIEWS[name](h)
    assert v._storage.buffer is a._storage.buffer, f"{name} copied the data"
    assert in_use() == used, f"{name} allocated device memory"
    assert v.shape == want.shape
    assert v.strides == want.strides, f"{name}: strides {v.strides} vs NumPy {want.strides}"
    assert v.dtype == a.dtype
    assert_matches(v, want, None, name)
    # a view sees writes to the base; a new array (MXNet's copy semantics) does not
    a[...] = -h
    shared = _mxnet_view(name, want)
    assert (v._storage is a._storage) == shared, name
    assert_matches(v, -want if shared else want, None, f"{name} after writing the base")


@pytest.mark.parametrize("name", sorted(n for n in VIEWS if n != "broadcast_to"))
def test_writes_reach_the_base_exactly_through_mxnet_views(name):
    h = host()
    a = dev(h)
    v = VIEWS[name](a)
    want = VIEWS[name](h.copy())
    v[...] = 100
    expect = h.copy()
    if _mxnet_view(name, want):
        VIEWS[name](expect)[...] = 100
    assert_matches(a, expect, None, name)
    assert_matches(v, onp.full(want.shape, 100, h.dtype), None, name)


def test_copy_on_write_copies_only_while_shared():
    a = dev(host())
    r = a.reshape(4, 6)
    r[0, 0] = 7.0                       # a still holds the buffer: r takes its own copy
    assert r._storage.buffer is not a._storage.buffer and a[0, 0, 0].item() == 0.0
    t = a.T
    del t
    before = id(a._storage.buffer)
    a[0, 0, 0] = 5.0                    # the transpose is gone: nothing to copy
    assert id(a._storage.buffer) == before and a[0, 0, 0].item() == 5.0
    s = a.reshape(24)
    a += 1                              # in-place ops on the source copy first too
    assert s[0].item() == 5.0 and a[0, 0, 0].item() == 6.0
    rows = a[1]                         # a view (contiguous): shares the storage itself
    u = rows.reshape(12)
    rows[0, 0] = -1.0
    assert a[1, 0, 0].item() == -1.0 and u[0].item() != -1.0


def test_reshape_of_non_contiguous_data_copies():
    h = host()
    a = dev(h)
    r = a.T.reshape(4, 6)
    assert r._storage.buffer is not a._storage.buffer
    assert_matches(r, h.T.reshape(4, 6))
    # ... unless the strides allow a view (NumPy's rule): merging the leading dimensions
    s = a[:, :, ::2].reshape(6, 2)
    assert s._storage.buffer is a._storage.buffer
    assert_matches(s, h[:, :, ::2].reshape(6, 2))


def test_view_errors():
    a = dev(host())
    for bad in ((5, 5), (-1, -1), (7, -1), (-2, 12)):
        with pytest.raises(ValueError):
            a.reshape(bad)
    with pytest.raises(clgrad.MXNetError):
        a.reshape(4, 6, order="F")
    with pytest.raises(ValueError, match="squeeze"):
        a.squeeze(0)
    with pytest.raises(IndexError):
        a.transpose(0, 1, 5)
    with pytest.raises(clgrad.MXNetError):
        a.transpose(0, 0, 1)
    with pytest.raises(ValueError):
        a.broadcast_to((3, 3, 4))
    with pytest.raises(ValueError):
        a.broadcast_to((3, 4))
    with pytest.raises(IndexError):
        a.swapaxes(0, 3)


def test_out_of_range_indices_raise_index_error():
    a = dev(host())
    for key in (2, -3, (0, 3), (0, 0, 4), (0, 0, -5), (0, 0, 0, 0), (..., 7)):
        with pytest.raises(IndexError, match="out of bounds|too many"):
            a[key]
    with pytest.raises(clgrad.MXNetError):
        a[..., ...]
    with pytest.raises(IndexError):
        dev(onp.float32(1.0))[0]


# --- host conversions ----------------------------------------------------------------------------
def test_asnumpy_item_tolist_array():
    h = host((3, 4))
    a = dev(h)
    n = a.asnumpy()
    assert type(n) is onp.ndarray and n.dtype == onp.float32
    onp.testing.assert_array_equal(n, h)
    n[0, 0] = 99                    # a copy: the device array is untouched
    assert a[0, 0].item() == 0
    onp.testing.assert_array_equal(a[:, ::-2].asnumpy(), h[:, ::-2])
    assert a[1, 2].item() == 6.0 and type(a[1, 2].item()) is float
    assert a.item(5) == 5.0 and a.item(2, 3) == 11.0
    assert dev(onp.array([7], onp.int32)).item() == 7
    assert type(dev(onp.array(7, onp.int32)).item()) is int
    assert type(dev(onp.array(True)).item()) is bool
    assert a.tolist() == h.tolist()
    assert dev(onp.array(2.5)).tolist() == 2.5
    onp.testing.assert_array_equal(onp.asarray(a), h)
    assert onp.asarray(a, dtype=onp.int64).dtype == onp.int64
    onp.testing.assert_array_equal(onp.array(a.T), h.T)
    with pytest.raises(ValueError, match="size 1"):
        a.item()


def test_python_scalar_protocols():
    assert float(dev(onp.array([2.5]))) == 2.5
    assert int(dev(onp.array(3.7))) == 3
    assert int(dev(onp.array(-3.7))) == -3
    assert bool(dev(onp.array(0.5))) is True
    assert bool(dev(onp.array([0]))) is False
    assert complex(dev(onp.array(1.5))) == 1.5
    i = dev(onp.array(2, onp.int64))
    assert operator.index(i) == 2
    assert [10, 20, 30][i] == 30
    assert [10, 20, 30][dev(onp.array(1, onp.uint8))] == 20
    assert f"{dev(onp.array(3.14159)):.2f}" == "3.14"
    for bad in (dev(onp.array(2.0)), dev(onp.array(True))):
        with pytest.raises(TypeError, match="index"):
            operator.index(bad)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(dev(host((2,))))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(dev(onp.zeros(0)))
    with pytest.raises(TypeError, match="length-1|size 1"):
        float(dev(host((2,))))
    with pytest.raises(TypeError, match="length-1|size 1"):
        int(dev(host((2,))))


def test_len_and_iter():
    h = host((3, 2))
    a = dev(h)
    assert len(a) == 3
    rows = list(a)
    assert len(rows) == 3 and all(isinstance(r, clgrad.ndarray) for r in rows)
    for r, hr in zip(rows, h):
        assert r._storage is a._storage
        assert_matches(r, hr)
    assert [x.item() for x in a[0]] == [0.0, 1.0]
    assert list(dev(onp.zeros((0, 2)))) == []
    z = dev(onp.array(1.0))
    with pytest.raises(TypeError, match="unsized|0-d"):
        len(z)
    with pytest.raises(TypeError, match="0-d"):
        iter(z)


# --- printing -------------------------------------------------------------------------------------
REPRS = [
    (onp.array([[1, 2], [3, 4]], onp.float32), "array([[1., 2.],\n       [3., 4.]])"),
    (onp.array([1.5, -2.25], onp.float32), "array([ 1.5 , -2.25])"),
    (onp.array(3.5, onp.float32), "array(3.5)"),
    (onp.zeros((0, 3), onp.float32), "array([], shape=(0, 3))"),
    (onp.zeros(0, onp.float32), "array([])"),
    (onp.array([True, False]), "array([ True, False])"),
    (onp.array(True), "array(True)"),
    (onp.array([1, 2, 3], onp.int32), "array([1, 2, 3], dtype=int32)"),
    (onp.array([1, 2, 3], onp.int64), "array([1, 2, 3], dtype=int64)"),
    (onp.array(2, onp.int64), "array(2, dtype=int64)"),
    (onp.array([1, 2], onp.int8), "array([1, 2], dtype=int8)"),
    (onp.array([1, 2], onp.uint8), "array([1, 2], dtype=uint8)"),
    (onp.array([1, 2], onp.int16), "array([1, 2], dtype=int16)"),
    (onp.array([0.5, 1.0], onp.float16), "array([0.5, 1. ], dtype=float16)"),
    (onp.array([0.5, 1.0], onp.float64), "array([0.5, 1. ], dtype=float64)"),
    (onp.zeros(0, onp.int64), "array([], dtype=int64)"),
    (onp.array([onp.nan, onp.inf], onp.float32), "array([nan, inf])"),
]


@pytest.mark.parametrize("h,text", REPRS, ids=[t for _, t in REPRS])
def test_repr_as_mxnet(h, text):
    assert repr(dev(h)) == text


def test_repr_of_views_and_long_arrays():
    a = dev(host((3, 4)))
    assert repr(a[::-1, ::2]) == "array([[ 8., 10.],\n       [ 4.,  6.],\n       [ 0.,  2.]])"
    hbig = onp.arange(2000, dtype=onp.float32)
    text = repr(dev(hbig))
    assert "..." in text and text == repr(hbig).replace(", dtype=float32", "")
    assert "dtype" not in repr(dev(onp.arange(2000, dtype=onp.float32).reshape(2, 1000)))
    assert repr(dev(onp.arange(2000, dtype=onp.int32))).endswith(", dtype=int32)")


def test_str():
    assert str(dev(onp.array([[1, 2], [3, 4]], onp.float32))) == "[[1. 2.]\n [3. 4.]]"
    assert str(dev(onp.array(2.5, onp.float32))) == "2.5"
    assert str(dev(onp.array([1, 2], onp.int64))) == "[1 2]"


def test_repr_names_a_gpu_device():
    """MXNet names the device of arrays that are not on the CPU."""
    base = clgrad.runtime.default_device()
    gpu = clgrad.Device(base.cl_device, base.platform_index, base.device_index, "gpu", 3)
    a = np.array(onp.array([1.0, 2.0], onp.float32), device=gpu)
    assert repr(a) == "array([1., 2.], device=gpu(3))"
    assert repr(a.astype("int32")) == "array([1, 2], dtype=int32, device=gpu(3))"
    assert str(a) == "[1. 2.] @gpu(3)"
    assert str(a[0]) == "1.0"


# --- operators ------------------------------------------------------------------------------------
BINARY_DUNDERS = [
    ("__add__", operator.add), ("__sub__", operator.sub), ("__mul__", operator.mul),
    ("__truediv__", operator.truediv), ("__floordiv__", operator.floordiv),
    ("__mod__", operator.mod), ("__pow__", operator.pow), ("__and__", operator.and_),
    ("__or__", operator.or_), ("__xor__", operator.xor), ("__lshift__", operator.lshift),
    ("__rshift__", operator.rshift), ("__eq__", operator.eq), ("__ne__", operator.ne),
    ("__lt__", operator.lt), ("__le__", operator.le), ("__gt__", operator.gt),
    ("__ge__", operator.ge),
]
_INT_ONLY = {"__and__", "__or__", "__xor__", "__lshift__", "__rshift__"}


@pytest.mark.parametrize("dunder,op", BINARY_DUNDERS, ids=[d for d, _ in BINARY_DUNDERS])
def test_binary_operator(dunder, op):
    dt = onp.int32 if dunder in _INT_ONLY else onp.float32
    a = onp.array([[1, 2, 3], [4, 5, 6]], dt)
    b = onp.array([3, 1, 2], dt)
    with onp.errstate(all="ignore"):
        want = op(a, b)
        want_s = op(a, dt(2))
        want_r = op(dt(2), a) if dunder not in ("__eq__", "__ne__", "__lt__", "__le__",
                                                "__gt__", "__ge__") else op(a, dt(2))
    assert_matches(op(dev(a), dev(b)), want, None, dunder)
    assert_matches(op(dev(a), b), want, None, f"{dunder} NumPy rhs")
    assert_matches(op(a, dev(b)), want, None, f"{dunder} NumPy lhs")
    s = 2 if dt is onp.int32 else 2.0
    assert_matches(op(dev(a), s), want_s, None, f"{dunder} scalar")
    # reflected (scalar on the left); comparisons reflect to their mirror
    if dunder in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"):
        mirror = {"__eq__": operator.eq, "__ne__": operator.ne, "__lt__": operator.gt,
                  "__le__": operator.ge, "__gt__": operator.lt, "__ge__": operator.le}[dunder]
        assert_matches(mirror(s, dev(a)), want_r, None, f"{dunder} reflected")
    else:
        assert_matches(op(s, dev(a)), want_r, None, f"{dunder} reflected")


INPLACE_DUNDERS = [
    ("__iadd__", operator.iadd), ("__isub__", operator.isub), ("__imul__", operator.imul),
    ("__itruediv__", operator.itruediv), ("__ifloordiv__", operator.ifloordiv),
    ("__imod__", operator.imod), ("__ipow__", operator.ipow), ("__iand__", operator.iand),
    ("__ior__", operator.ior), ("__ixor__", operator.ixor), ("__ilshift__", operator.ilshift),
    ("__irshift__", operator.irshift),
]


@pytest.mark.parametrize("dunder,op", INPLACE_DUNDERS, ids=[d for d, _ in INPLACE_DUNDERS])
def test_inplace_operator(dunder, op):
    dt = onp.int32 if dunder[2:-2] in ("iand", "ior", "ixor", "ilshift", "irshift") \
        else onp.float32
    a = onp.array([[1, 2, 3], [4, 5, 6]], dt)
    b = onp.array([3, 1, 2], dt)
    for rhs_h, rhs in ((b, dev(b)), (b, b), (dt(2), 2 if dt is onp.int32 else 2.0)):
        x = dev(a)
        storage = x._storage
        version = storage.version
        x2 = op(x, rhs)
        assert x2 is x and x._storage is storage
        assert storage.version > version          # autograd sees the write
        assert_matches(x, op(a.copy(), rhs_h), None, dunder)


def test_unary_operators():
    a = onp.array([[1.5, -2.0], [0.0, 3.0]], onp.float32)
    assert_matches(-dev(a), -a)
    assert_matches(+dev(a), +a)
    assert_matches(abs(dev(a)), abs(a))
    i = onp.array([1, -2, 0], onp.int8)
    assert_matches(~dev(i), ~i)
    assert_matches(~dev(onp.array([True, False])), onp.array([False, True]))


def test_unhashable():
    a = dev(host((2,)))
    with pytest.raises(TypeError):
        hash(a)


# --- item assignment ------------------------------------------------------------------------------
SETS = [
    (1, 7.0),
    ((0, 1), -1.0),
    ((slice(None), 1), 5.0),
    (Ellipsis, 2.0),
    ((slice(None, None, -1), slice(None, None, 2)), onp.array([[1, 2], [3, 4], [5, 6]])),
    ((slice(None), slice(None, None, -1)), onp.arange(4.0)),           # broadcast a row
    ((slice(0, 2), slice(1, 3)), onp.array([[8.0], [9.0]])),          # broadcast a column
    ((None, 0), onp.arange(4.0)),
    ((0,), onp.ones((1, 4))),                                         # leading 1 dims drop
    ((-1, slice(None, None, -3)), [10, 20]),                           # a list value
    ((slice(3, 3),), 1.0),                                            # empty target
    ((), onp.float32(4.0)),
]


@pytest.mark.parametrize("key,value", SETS, ids=[repr(k) for k, _ in SETS])
def test_setitem_matches_numpy(key, value):
    h = host((3, 4))
    a = dev(h)
    storage = a._storage
    version = storage.version
    want = h.copy()
    want[key] = value
    a[key] = value
    assert a._storage is storage                  # written in place
    assert storage.version > version
    assert_matches(a, want, None, repr(key))


def test_setitem_with_device_arrays_and_dtypes():
    h = host((3, 4))
    a = dev(h)
    a[1] = dev(onp.array([1, 2, 3, 4], onp.int32))       # cast to the target's dtype
    want = h.copy()
    want[1] = [1, 2, 3, 4]
    assert_matches(a, want)
    a[:, 0] = dev(onp.array([5.5, 6.5, 7.5], onp.float64))
    want[:, 0] = [5.5, 6.5, 7.5]
    assert_matches(a, want)
    i = dev(onp.zeros(3, onp.int32))
    i[0] = 2.9                  # NumPy truncates
    i[1] = True
    assert_matches(i, onp.array([2, 1, 0], onp.int32))
    b = dev(onp.zeros(3, bool))
    b[1] = 5
    assert_matches(b, onp.array([False, True, False]))
    # self-overlapping assignment reads everything before writing
    c = dev(onp.arange(6, dtype=onp.float32))
    c[1:] = c[:-1]
    assert_matches(c, onp.array([0, 0, 1, 2, 3, 4], onp.float32))
    c = dev(onp.arange(6, dtype=onp.float32))
    c[::-1] = c
    assert_matches(c, onp.arange(6, dtype=onp.float32)[::-1])


def test_setitem_errors_leave_the_array_unchanged():
    h = host((3, 4))
    a = dev(h)
    with pytest.raises(ValueError, match=r"could not broadcast.*\(3,\).*\(4,\)"):
        a[0] = onp.ones(3)
    with pytest.raises(ValueError, match="broadcast"):
        a[:, 1] = dev(onp.ones((3, 2), onp.float32))
    with pytest.raises(IndexError, match="out of bounds"):
        a[3] = 1.0
    with pytest.raises(IndexError, match="out of bounds"):
        a[0, -5] = 1.0
    with pytest.raises(IndexError, match="too many"):
        a[0, 0, 0] = 1.0
    with pytest.raises(TypeError):
        a[0] = "text"
    assert_matches(a, h)


# --- properties and copies ------------------------------------------------------------------------
def test_properties():
    for dt in (onp.bool_, onp.int8, onp.int16, onp.int32, onp.int64, onp.uint8, onp.float16,
               onp.float32, onp.float64):
        h = onp.zeros((2, 3, 5), dt)
        a = dev(h)
        assert (a.size, a.ndim, a.nbytes, a.itemsize, a.shape, a.dtype) == \
            (h.size, h.ndim, h.nbytes, h.itemsize, h.shape, h.dtype)
        assert a.strides == h.strides
        v = a[:, ::2, None]
        hv = h[:, ::2, None]
        assert (v.size, v.ndim, v.nbytes, v.strides) == (hv.size, hv.ndim, hv.nbytes, hv.strides)
    z = dev(onp.array(1.0, onp.float32))
    assert (z.size, z.ndim, z.nbytes, z.shape) == (1, 0, 4, ())
    dev_ = clgrad.runtime.default_device()
    assert z.device is dev_ and z.ctx is dev_ and z.context is dev_
    with pytest.raises(TypeError):
        clgrad.ndarray((2,))


def test_copy_and_copyto():
    h = host((3, 4))
    a = dev(h)
    c = a.copy()
    assert c._storage is not a._storage
    assert_matches(c, h)
    t = a.T.copy()
    assert t._is_c_contiguous()
    assert_matches(t, h.T)
    # copyto an array: same shape, cast to its dtype, written in place
    dst = dev(onp.zeros((3, 4), onp.int32))
    storage = dst._storage
    r = a.copyto(dst)
    assert r is dst and dst._storage is storage
    assert_matches(dst, h.astype(onp.int32))
    view = dev(onp.zeros((4, 3), onp.float32)).T
    a.copyto(view)
    assert_matches(view, h)
    with pytest.raises(ValueError, match="shape"):
        a.copyto(dev(onp.zeros((4, 3), onp.float32)))
    # copyto a device: a new array there
    other = clgrad.runtime.default_device()
    m = a.copyto(other)
    assert m.device is other
    assert_matches(m, h)
    with pytest.raises(clgrad.MXNetError):
        a.copyto("tpu(0)")


# --- MXNet's fluent methods -----------------------------------------------------------------------
def test_fluent_methods_that_mxnet_implements():
    # d2l calls valid_lens.repeat(n), scores.argsort()[::-1], ... as methods of the array
    h = onp.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], onp.float32)
    a = dev(h)
    assert_matches(a.repeat(2), h.repeat(2))
    assert_matches(a.repeat(2, axis=0), h.repeat(2, axis=0))
    assert_matches(a.argsort(), h.argsort())
    assert_matches(a.argsort(axis=0), h.argsort(axis=0))
    assert_matches(a.take(dev(onp.array([2, 0]))), h.take([2, 0]))
    assert_matches(a.take(dev(onp.array([1])), axis=1), h.take([1], axis=1))
    for got, want in zip(a.nonzero(), h.nonzero()):
        assert_matches(got, want)
    assert_matches(a.dot(dev(h.T)), h.dot(h.T))


def test_clip_method_takes_numpys_keywords():
    # ndarray.clip(min=None, max=None, out=None) in NumPy and MXNet (d2l: `.clip(min=0)`)
    h = onp.array([-2.0, 0.5, 3.0], onp.float32)
    a = dev(h)
    assert_matches(a.clip(min=0), h.clip(min=0))
    assert_matches(a.clip(max=1.0), h.clip(max=1.0))
    assert_matches(a.clip(-1, 1), h.clip(-1, 1))
    out = dev(onp.zeros(3, onp.float32))
    assert a.clip(0, 1, out=out) is out
    assert_matches(out, h.clip(0, 1))


def test_read_into_copies_into_a_host_array_now_or_later():
    import numpy as onp
    from clgrad import np as cnp
    from clgrad.base import ShapeError
    a = cnp.array(onp.arange(12, dtype="float32").reshape(3, 4))
    h = onp.empty(12, "float32")
    a.read_into(h)
    assert (h == onp.arange(12)).all()
    t = a.T                                             # not contiguous: copied first
    h2 = onp.empty((4, 3), "float32")
    e = t.read_into(h2, wait=False)
    e.wait()
    assert (h2 == onp.arange(12).reshape(3, 4).T).all()
    for bad in (onp.empty(11, "float32"), onp.empty(12, "float64"),
                onp.empty((4, 6), "float32")[:, ::2], [0.0] * 12):
        with pytest.raises(ShapeError, match="read_into"):
            a.read_into(bad)


def test_mapped_storage_reads_and_writes_the_buffer():
    import numpy as onp
    from clgrad import np as cnp
    a = cnp.array(onp.arange(6, dtype="float32"))
    st = a._storage
    v = st.version
    with st.mapped(8, 3, onp.float32) as h:
        assert (h == [2, 3, 4]).all()
        h *= 10
    assert st.version == v + 1
    assert (a.asnumpy() == [0, 1, 20, 30, 40, 5]).all()
    with st.mapped(0, 6, onp.float32, write=False) as h:
        assert (h == [0, 1, 20, 30, 40, 5]).all()
    assert st.version == v + 1
