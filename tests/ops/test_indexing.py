"""Advanced indexing, take, take_along_axis, pick and nonzero against NumPy, with gradients."""
import numpy as onp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clgrad import MXNetError, autograd, np
from clgrad.ops.indexing import pick
from gradcheck import check_grad

from _data import DTYPES, host, same


# --- advanced getitem --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_int_array_dtypes(dtype):
    x = host((5, 4), dtype)
    a = np.array(x)
    idx = [3, -1, 0, 3]
    same(a[idx], x[idx])
    same(a[onp.array(idx)], x[onp.array(idx)])
    same(a[np.array(onp.array(idx))], x[idx])
    same(a[:, [1, 1]], x[:, [1, 1]])


KEYS = [
    (slice(None), [0, 2]),
    (Ellipsis, [-1, 0]),
    ([[0, 1], [2, 1]], slice(1, 3)),
    ([0, 2], [1, 3]),                               # several arrays broadcast together
    ([[0], [2]], [1, 3, 0]),                        # (2, 1) with (3,) -> (2, 3)
    (1, slice(None), [0, 2, 1]),                    # int and array not adjacent: B first
    (slice(None), 1, [0, 2]),                       # adjacent int and array: stays in place
    ([0, 1], slice(None), [2, 3]),                  # separated arrays: B goes first
    (None, [1, 0], slice(None, None, -1)),
    ([2, 0], None, 3),
    (slice(1, None), [[1, 0]], slice(None, None, 2)),
    (onp.array(1), [0, 1]),
    ([],),
]


@pytest.mark.parametrize("key", KEYS, ids=[str(k) for k in KEYS])
def test_getitem_mixed_keys(key):
    x = host((3, 4, 5))
    a = np.array(x)
    hk = tuple(onp.array(k, dtype=onp.int64) if isinstance(k, list) else k for k in key)
    same(a[key], x[hk])


def test_getitem_non_contiguous_source():
    x = host((4, 6))
    a = np.array(x)
    same(a.T[[5, 0, 2]], x.T[[5, 0, 2]])
    same(a[::-1, ::2][[0, 3], [2, 1]], x[::-1, ::2][[0, 3], [2, 1]])
    same(np.broadcast_to(np.array(x[0]), (3, 6))[[2, 0], 1:],
         onp.broadcast_to(x[0], (3, 6))[[2, 0], 1:])


def test_getitem_zero_d_and_empty():
    x = host((4,))
    a = np.array(x)
    same(a[onp.array(2)], x[onp.array(2)])
    same(a[onp.array([], dtype=onp.int64)], x[onp.array([], dtype=onp.int64)])
    e = np.zeros((0, 3))
    same(e[[]], onp.zeros((0, 3), onp.float32)[onp.array([], onp.int64)])
    same(e[:, [2, 0]], onp.zeros((0, 2), onp.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_bool_mask(dtype):
    x = host((4, 5), dtype, seed=1)
    m = host((4, 5), "bool", seed=2)
    a = np.array(x)
    same(a[np.array(m)], x[m])
    same(a[m], x[m])
    same(a[m[:, 0]], x[m[:, 0]])
    same(a[:, m[0]], x[:, m[0]])
    same(a[m[:, 0], 1:3], x[m[:, 0], 1:3])
    same(a[list(m[:, 0])], x[list(m[:, 0])])


def test_getitem_mask_and_array_and_scalar_bools():
    x = host((3, 4, 2))
    a = np.array(x)
    m = onp.array([True, False, True])
    same(a[m, [1, 3]], x[m, [1, 3]])
    same(a[a > 0.5], x[x > 0.5])
    same(a[True], x[True])
    same(a[False], x[False])
    same(a[np.array(onp.array(True)), 1], x[onp.array(True), 1])
    same(a[np.array(onp.zeros((3, 4), bool))], x[onp.zeros((3, 4), bool)])


def test_empty_mask_axis_stands_for_any_axis_as_numpy():
    for xs, ks in [((0, 1), (0, 0)), ((1, 2), (1, 0)), ((2, 3, 4), (2, 0)), ((3,), (0,))]:
        x = onp.zeros(xs, onp.float32)
        k = onp.zeros(ks, bool)
        same(np.array(x)[np.array(k)], x[k])
    for xs, ks in [((0, 2), (0, 3)), ((0,), (1,))]:       # a non-empty axis must match
        with pytest.raises(IndexError, match="did not match"):
            np.zeros(xs)[np.array(onp.zeros(ks, bool))]


def test_getitem_errors():
    x = host((3, 4))
    a = np.array(x)
    with pytest.raises(IndexError):
        a[[0, 3]]
    with pytest.raises(IndexError):
        a[:, [-5]]
    with pytest.raises(IndexError):
        a[np.array(onp.array([0, 7]))]      # checked on the device
    with pytest.raises(MXNetError):
        a[np.array(onp.array([0, 7]))]
    with pytest.raises(IndexError):
        a[onp.ones(4, bool)]                # mask of the wrong length
    with pytest.raises(IndexError):
        a[onp.ones((3, 3), bool)]
    with pytest.raises(IndexError):
        a[[0, 1], [0, 1, 2]]                # index arrays that do not broadcast
    # float index arrays are MXNet's (truncated toward zero), not errors
    same(a[[0.5]], x[[0]])
    same(a[np.array([1.0])], x[[1]])
    with pytest.raises(IndexError):
        a[np.array([1.0 + 2.0j])]
    with pytest.raises(IndexError):
        a[[0], [0], [0]]
    with pytest.raises(IndexError):
        a["x", [0]]


# --- advanced setitem --------------------------------------------------------------------------
SET_CASES = [
    ([0, 2], 7.0),
    ([2, 0, 2], onp.arange(3 * 5, dtype=onp.float32).reshape(3, 5)),   # repeated: last wins
    ((slice(None), [4, 0, 4]), onp.array([1.0, 2.0, 3.0], onp.float32)),
    (([0, 1, 0], [1, 2, 1]), onp.array([5.0, 6.0, 7.0], onp.float32)),
    (([[0], [2]], [1, 3]), -1.0),
    ((1, slice(None), ), onp.array(9.0, onp.float32)),
    ((slice(None), [True, False, True, False, True]), onp.array([[1.0], [2.0], [3.0], [4.0]],
                                                                onp.float32)),
    (([0, 3], slice(1, 3)), onp.array([1.0, 2.0], onp.float32)[:, None]),
]


@pytest.mark.parametrize("key,value", SET_CASES, ids=[str(k) for k, _ in SET_CASES])
def test_setitem_matches_numpy(key, value):
    x = host((4, 5))
    a = np.array(x)
    hk = key if isinstance(key, tuple) else (key,)
    hk = tuple(onp.array(k) if isinstance(k, list) else k for k in hk)
    a[key] = np.array(value) if isinstance(value, onp.ndarray) else value
    x[hk] = value
    same(a, x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_setitem_mask_dtypes(dtype):
    x = host((3, 4), dtype, seed=3)
    m = host((3, 4), "bool", seed=4)
    a = np.array(x)
    v = host((int(m.sum()),), dtype, seed=5)
    a[np.array(m)] = np.array(v)
    x[m] = v
    same(a, x)
    a[m] = 1
    x[m] = 1
    same(a, x)


def test_setitem_through_a_view_writes_the_base_and_through_a_new_array_does_not():
    x = host((4, 6))
    a = np.array(x)
    v = a.T                       # MXNet: a new array (shared until written)
    v[[5, 0]] = 0.0
    vt = x.T.copy()
    vt[[5, 0]] = 0.0
    same(v, vt)
    same(a, x)                    # the source is untouched
    r = a[1:3]                    # contiguous: a view
    r[[1, 0, 1]] = np.array(onp.array([[1.0] * 6, [2.0] * 6, [3.0] * 6], onp.float32))
    x[1:3][[1, 0, 1]] = onp.array([[1.0] * 6, [2.0] * 6, [3.0] * 6], onp.float32)
    same(a, x)
    w = a[1:3].T                  # a new array of a view
    w[[0]] = -5.0
    same(a, x)


def test_setitem_value_aliasing_target_and_casts():
    x = host((5,))
    a = np.array(x)
    a[[1, 2, 3]] = a[0:3]         # the value reads the array being written
    x[[1, 2, 3]] = x[0:3].copy()
    same(a, x)
    i = np.array(onp.arange(5, dtype=onp.int32))
    i[[0, 1]] = np.array([2.7, -3.2])
    want = onp.arange(5, dtype=onp.int32)
    want[[0, 1]] = [2, -3]
    same(i, want)


def test_setitem_bad_input_changes_nothing():
    x = host((3, 4))
    a = np.array(x)
    with pytest.raises(IndexError):
        a[[0, 3]] = 1.0
    with pytest.raises(IndexError):
        a[np.array(onp.array([1, -4]))] = 1.0
    with pytest.raises(IndexError):
        a[onp.ones(2, bool)] = 1.0
    with pytest.raises(ValueError):
        a[[0, 1]] = np.array(onp.ones((3, 4), onp.float32))
    same(a, x)


# --- take / take_along_axis / pick -------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take(dtype, axis):
    x = host((3, 4), dtype)
    a = np.array(x)
    idx = onp.array([[1, -1], [0, 2]])
    same(np.take(a, idx, axis=axis), onp.take(x, idx, axis=axis))
    same(np.take(a, np.array(idx), axis=axis), onp.take(x, idx, axis=axis))
    same(np.take(a, 2, axis=axis), onp.take(x, 2, axis=axis))
    same(np.take(a, onp.zeros((0, 2), onp.int64), axis=axis),
         onp.take(x, onp.zeros((0, 2), onp.int64), axis=axis))


def test_take_zero_d():
    x = onp.array(3.5, onp.float32)
    same(np.take(np.array(x), 0), onp.take(x, 0))
    same(np.take(np.array(x), [0, 0, -1]), onp.take(x, [0, 0, -1]))


@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_take_modes(mode):
    x = host((3, 4))
    a = np.array(x)
    idx = onp.array([-7, -1, 0, 3, 4, 11])
    same(np.take(a, idx, axis=1, mode=mode), onp.take(x, idx, axis=1, mode=mode))
    same(np.take(a, np.array(idx), axis=1, mode=mode), onp.take(x, idx, axis=1, mode=mode))
    out = np.zeros((3, 6))
    np.take(a, idx, axis=1, mode=mode, out=out)
    same(out, onp.take(x, idx, axis=1, mode=mode))


def test_take_errors():
    a = np.array(host((3, 4)))
    with pytest.raises(IndexError):
        np.take(a, [4], axis=1)
    with pytest.raises(IndexError):
        np.take(a, np.array(onp.array([0, 12])))
    with pytest.raises(IndexError):
        np.take(a, [0], axis=2)
    with pytest.raises(IndexError):
        np.take(np.zeros((0,)), [0])
    with pytest.raises(MXNetError):
        np.take(a, [0], mode="bad")


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_take_along_axis(axis):
    x = host((3, 4))
    a = np.array(x)
    if axis is None:
        idx = onp.array([11, 0, -1, 5])
    else:
        idx = onp.argsort(x, axis=axis)[:2] if axis == 0 else onp.argsort(x, axis=axis)
    same(np.take_along_axis(a, idx, axis), onp.take_along_axis(x, idx, axis))
    same(np.take_along_axis(a, np.array(idx), axis), onp.take_along_axis(x, idx, axis))


def test_take_along_axis_broadcasts_and_errors():
    x = host((3, 1, 5))
    idx = onp.array([[[0, 4]], [[1, 1]]]).reshape(1, 2, 2)
    idx = onp.broadcast_to(idx, (1, 2, 2))
    same(np.take_along_axis(np.array(x), idx, 2), onp.take_along_axis(x, idx, 2))
    with pytest.raises(ValueError):
        np.take_along_axis(np.array(x), onp.zeros((2, 2), onp.int64), 2)
    with pytest.raises(IndexError):
        np.take_along_axis(np.array(x), onp.full((3, 1, 1), 5), 2)


def np_pick(x, idx, axis, keepdims, mode):
    n = x.shape[axis]
    idx = idx.astype(onp.int64)
    idx = onp.clip(idx, 0, n - 1) if mode == "clip" else onp.mod(idx, n)
    res = onp.take_along_axis(x, onp.expand_dims(idx, axis), axis)
    return res if keepdims else res.squeeze(axis)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_pick(axis, keepdims, mode):
    x = host((3, 4, 5))
    shape = tuple(n for d, n in enumerate(x.shape) if d != axis % 3)
    idx = onp.random.default_rng(7).integers(-6, 9, size=shape).astype(onp.float32)
    got = pick(np.array(x), np.array(idx), axis=axis, keepdims=keepdims, mode=mode)
    same(got, np_pick(x, idx, axis, keepdims, mode))


def test_pick_index_with_kept_axis_and_errors():
    x = host((2, 3))
    got = pick(np.array(x), np.array([[2.0], [0.0]]), axis=1)
    same(got, x[[0, 1], [2, 0]])
    with pytest.raises(ValueError):
        pick(np.array(x), np.array([0.0, 1.0, 2.0]), axis=1)
    with pytest.raises(IndexError):
        pick(np.array(x), np.array([0.0, 1.0]), axis=2)


# --- nonzero and friends -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_nonzero_dtypes(dtype):
    x = host((4, 5), dtype, seed=9)
    x.reshape(-1)[::3] = 0
    a = np.array(x)
    for got, want in zip(np.nonzero(a), onp.nonzero(x)):
        same(got, want)
    for got, want in zip(np.where(a), onp.where(x)):
        same(got, want)
    same(np.flatnonzero(a), onp.flatnonzero(x))
    same(np.argwhere(a), onp.argwhere(x))


def test_nonzero_shapes_and_layouts():
    x = onp.zeros(3000, onp.float32)
    x[[0, 5, 256, 257, 1023, 2999]] = [1, onp.nan, -1, 2, 3, 4]
    same(np.nonzero(np.array(x))[0], onp.nonzero(x)[0])          # several compaction blocks
    y = host((3, 4, 2))
    same(np.nonzero(np.array(y).transpose(2, 0, 1) > 0)[2],
         onp.nonzero(y.transpose(2, 0, 1) > 0)[2])
    same(np.nonzero(np.zeros((0, 3)))[1], onp.nonzero(onp.zeros((0, 3)))[1])
    same(np.nonzero(np.zeros(4))[0], onp.nonzero(onp.zeros(4))[0])
    same(np.argwhere(np.array(3.0)), onp.argwhere(onp.array(3.0)))
    with pytest.raises(ValueError):
        np.nonzero(np.array(1.0))


# --- gradients -------------------------------------------------------------------------------
def test_grad_getitem_repeated_indices():
    x = host((4, 3), "float64")
    check_grad(lambda a: a[[0, 2, 0, 0, 3]], x)
    check_grad(lambda a: a[[[1, 1], [3, 1]], 1:], x)
    check_grad(lambda a: a[:, [2, 2, 0]], x)
    check_grad(lambda a: a.T[[2, 2, 0]], x)


def test_grad_getitem_several_arrays_and_masks():
    x = host((3, 4, 2), "float64")
    m = host((3, 4), "bool", seed=3)
    check_grad(lambda a: a[[0, 2, 0], [1, 3, 1]], x)
    check_grad(lambda a: a[[0, 2], :, [1, 1]], x)
    check_grad(lambda a: a[m], x)
    check_grad(lambda a: a[:, [True, False, True, True]], x)
    check_grad(lambda a: a[a > 0.1], x)


@pytest.mark.parametrize("mode", ["raise", "clip", "wrap"])
def test_grad_take(mode):
    x = host((3, 4), "float64")
    idx = [0, 3, 3, 1] if mode == "raise" else [-5, 3, 7, 1, 3]
    check_grad(lambda a: np.take(a, idx, axis=1, mode=mode), x)
    check_grad(lambda a: np.take(a, [[1, 1], [0, 2]], axis=0, mode=mode), x)
    check_grad(lambda a: np.take(a, [5, 5, 0], mode=mode), x)


def test_grad_take_along_axis_and_pick():
    x = host((3, 4), "float64")
    idx = onp.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])
    check_grad(lambda a: np.take_along_axis(a, idx, 1), x)
    check_grad(lambda a: np.take_along_axis(a, onp.array([[2, 0, 2, 2]]), 0), x)
    check_grad(lambda a: pick(a, np.array([0.0, 3.0, 1.0]), axis=1), x)
    check_grad(lambda a: pick(a, np.array([[0.0, 2.0, 1.0, 9.0]]), axis=0, keepdims=True), x)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_pick_gradient_is_one_launch(dtype):
    """pick's gradient (one place per fibre) is one elementwise launch: the index compared
    with the position along the axis, no fill and scatter."""
    from clgrad.ops.launch import launch_count
    from clgrad.runtime import default_device
    if dtype == "float64" and not default_device().caps.fp64:
        pytest.skip("the device has no cl_khr_fp64")
    h = host((5, 3, 4), "float64").astype(dtype)
    idx = onp.array([[2, 0, 1, 2], [1, 1, 0, 2], [0, 2, 2, 1], [2, 2, 2, 0], [0, 1, 0, 1]])
    G = host((5, 4), "float64", seed=2).astype(dtype)
    x = np.array(h)
    x.attach_grad()
    with autograd.record():
        y = pick(x, np.array(idx), axis=1)
    before = launch_count()
    y.backward(np.array(G))
    assert launch_count() - before == 2         # the gradient, and its copy into x.grad
    want = onp.zeros(h.shape, dtype)
    for i in range(5):
        for k in range(4):
            want[i, idx[i, k], k] = G[i, k]
    onp.testing.assert_array_equal(x.grad.asnumpy(), want)


def test_grad_setitem():
    x = host((4, 3), "float64")
    v = host((3, 3), "float64", seed=1)

    # (MXNet's rule: inside record() the array assigned into is outside the graph)
    def f(a, b):
        c = np.ones(a.shape, dtype=a.dtype)
        c[[2, 0, 2]] = b                   # repeated: only the last write reaches the output
        return c * c * a
    check_grad(f, x, v)

    def g(a, b):
        c = np.zeros(a.shape, dtype=a.dtype)
        c[a.detach() > 0] = b[0, 0]
        return c + a
    check_grad(g, x, v)


def test_scatter_add_is_deterministic_and_exact():
    rng = onp.random.default_rng(0)
    x = rng.standard_normal((50, 8)).astype(onp.float32)
    idx = rng.integers(0, 50, size=2000)
    w = rng.standard_normal((2000, 8)).astype(onp.float32)
    grads = []
    for _ in range(2):
        a = np.array(x)
        a.attach_grad()
        with autograd.record():
            y = a[idx]
        y.backward(np.array(w))
        grads.append(a.grad.asnumpy())
    onp.testing.assert_array_equal(grads[0], grads[1])
    want = onp.zeros_like(x, dtype=onp.float64)
    onp.add.at(want, idx, w.astype(onp.float64))
    onp.testing.assert_allclose(grads[0], want, rtol=1e-5, atol=1e-5)


def test_second_order_through_gathers():
    x = host((4,), "float64")
    idx = [0, 2, 2, 3, 0]
    a = np.array(x)
    a.attach_grad()
    with autograd.record():
        y = (np.take(a, idx) ** 3).sum()
        (g,) = autograd.grad([y], [a], create_graph=True)
        z = (g * g).sum()
    z.backward()
    counts = onp.bincount(idx, minlength=4)
    g_host = 3 * counts * x ** 2
    onp.testing.assert_allclose(g.asnumpy(), g_host, rtol=1e-10)
    onp.testing.assert_allclose(a.grad.asnumpy(), 2 * g_host * 6 * counts * x, rtol=1e-10)


# --- property test: random mixed keys against NumPy ----------------------------------------------
@st.composite
def _array_and_key(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "mask", "full"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            items.append(slice(draw(st.integers(-n, n)), draw(st.integers(-n, n)),
                               draw(st.sampled_from([1, 2, -1, -2]))))
        elif kind == "array":
            items.append(draw(st.lists(st.integers(-n, n - 1), min_size=0, max_size=4)))
        elif kind == "mask":
            items.append(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        else:
            items.append(slice(None))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


def _host_key(key):
    return tuple(onp.array(k, dtype=bool if k and isinstance(k[0], bool) else onp.int64)
                 if isinstance(k, list) else k for k in key)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_array_and_key())
def test_random_keys_match_numpy(case):
    shape, key = case
    x = onp.arange(int(onp.prod(shape)), dtype=onp.float32).reshape(shape)
    hk = _host_key(key)
    try:
        want = x[hk]
    except IndexError:
        with pytest.raises(IndexError):
            np.array(x)[key]
        return
    a = np.array(x)
    same(a[key], want)
    x2 = x.copy()
    x2[hk] = -1.0
    a[key] = -1.0
    same(a, x2)


def test_float_index_arrays_truncate_as_mxnet():
    """MXNet takes float index arrays (np.arange gives float32 there): values are truncated
    toward zero, then negative ones count from the end (MXNet 1.9.1: x[[1.0, 2.7, -1.2]] of
    arange(5) is [1, 2, 4])."""
    x = onp.arange(5, dtype=onp.float32)
    a = np.array(x)
    idx = onp.array([1.0, 2.7, -1.2, -4.9], onp.float32)
    same(a[np.array(idx)], x[[1, 2, -1, -4]])
    same(a[idx], x[[1, 2, -1, -4]])                         # a host float array too
    same(a[np.arange(3)], x[:3])
    same(a[np.array([-5.5])], x[[0]])                     # -5.5 truncates to -5: valid
    m = onp.arange(12, dtype=onp.float32).reshape(3, 4)
    same(np.array(m)[np.array([0.5, 2.0])], m[[0, 2]])
    same(np.array(m)[:, np.array([3.9, -0.5])], m[:, [3, 0]])
    b = np.array(x)
    b[np.array([0.9, 3.2])] = 7.0
    assert b.tolist() == [7.0, 1.0, 2.0, 7.0, 4.0]
    with pytest.raises(IndexError, match="out of bounds"):
        a[np.array([5.5])]
    with pytest.raises(IndexError, match="out of bounds"):
        a[np.array([-6.5, 0.0])]
    with pytest.raises(IndexError, match="NaN or infinity"):
        a[np.array([onp.nan])]
    with pytest.raises(IndexError, match="NaN or infinity"):
        a[onp.array([onp.inf])]
