"""Shape manipulation (copying ops and the view ops of shape.py) against NumPy, with gradients."""
import numpy as onp
import pytest

from clgrad import MXNetError, autograd, np
from gradcheck import check_grad

from _data import DTYPES, host, same


# --- joining -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concatenate(dtype, axis):
    x, y = host((2, 3), dtype), host((2, 3), dtype, seed=1)
    z = host((2, 3), dtype, seed=2)
    same(np.concatenate([np.array(x), np.array(y).T.T, np.array(z)], axis=axis),
         onp.concatenate([x, y, z], axis=axis))


def test_concatenate_mixed_layouts_dtypes_and_empty():
    x = host((3, 2))
    y = host((2, 3), "float64")
    same(np.concatenate([np.array(x), np.array(y).T], axis=1),
         onp.concatenate([x, y.T], axis=1))
    same(np.concatenate([np.array(x)[::-1], np.zeros((0, 2))]),
         onp.concatenate([x[::-1], onp.zeros((0, 2), onp.float32)]))
    i = host((3, 2), "int32")
    # MXNet's rule: integers joined with floats take the float type (NumPy: float64)
    same(np.concatenate([np.array(i), np.array(x)]), onp.concatenate([i.astype(x.dtype), x]))
    out = np.zeros((6, 2))
    np.concatenate([np.array(x), np.array(x)], out=out)
    same(out, onp.concatenate([x, x]))


def test_concatenate_errors():
    a = np.zeros((2, 3))
    with pytest.raises(ValueError):
        np.concatenate([a, np.zeros((2, 4))], axis=0)
    with pytest.raises(ValueError):
        np.concatenate([a, np.zeros(3)])
    with pytest.raises(ValueError):
        np.concatenate([np.array(1.0), np.array(2.0)])
    with pytest.raises(IndexError):
        np.concatenate([a, a], axis=2)
    with pytest.raises(ValueError):
        np.concatenate([])
    with pytest.raises(MXNetError):      # every error here is also an MXNetError
        np.pad(a, -1)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(axis):
    xs = [host((2, 3), seed=s) for s in range(3)]
    same(np.stack([np.array(x) for x in xs], axis=axis), onp.stack(xs, axis=axis))


def test_stack_family():
    a1, b1 = host((3,)), host((3,), seed=1)
    a2, b2 = host((2, 3)), host((2, 3), seed=1)
    a0 = onp.array(1.5, onp.float32)
    for f, g in ((np.vstack, onp.vstack), (np.hstack, onp.hstack), (np.dstack, onp.dstack),
                 (np.column_stack, onp.column_stack)):
        same(f([np.array(a1), np.array(b1)]), g([a1, b1]))
        same(f([np.array(a2), np.array(b2)]), g([a2, b2]))
    same(np.hstack([np.array(a0), np.array(a1)]), onp.hstack([a0, a1]))
    same(np.stack([np.array(a0), np.array(a0)]), onp.stack([a0, a0]))
    same(np.append(np.array(a2), np.array(b1)), onp.append(a2, b1))
    same(np.append(np.array(a2), np.array(b2), axis=1), onp.append(a2, b2, axis=1))
    for f, g in ((np.atleast_1d, onp.atleast_1d), (np.atleast_2d, onp.atleast_2d),
                 (np.atleast_3d, onp.atleast_3d)):
        for x in (a0, a1, a2):
            same(f(np.array(x)), g(x))
    with pytest.raises(ValueError):
        np.stack([np.zeros(2), np.zeros(3)])
    with pytest.raises(IndexError):
        np.stack([np.zeros(2)], axis=2)


# --- splitting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_split(dtype):
    x = host((4, 6), dtype)
    a = np.array(x)
    same(np.split(a, 2), onp.split(x, 2))
    same(np.split(a, 3, axis=1), onp.split(x, 3, axis=1))
    same(np.split(a, [1, 4, 9], axis=-1), onp.split(x, [1, 4, 9], axis=-1))
    same(np.split(a.T, [2]), onp.split(x.T, [2]))


def test_array_split_and_friends():
    x = host((5, 4, 3))
    a = np.array(x)
    same(np.array_split(a, 3), onp.array_split(x, 3))
    same(np.array_split(a, 7, axis=2), onp.array_split(x, 7, axis=2))
    same(np.array_split(a, [-2, 1]), onp.array_split(x, [-2, 1]))
    same(np.hsplit(a, 2), onp.hsplit(x, 2))
    same(np.vsplit(a, [2]), onp.vsplit(x, [2]))
    same(np.dsplit(a, 3), onp.dsplit(x, 3))
    same(np.hsplit(np.array(x[0, 0]), 3), onp.hsplit(x[0, 0], 3))


def test_split_errors():
    a = np.zeros((4, 6))
    with pytest.raises(ValueError, match="equal division"):
        np.split(a, 4, axis=1)
    with pytest.raises(ValueError):
        np.split(a, 0)
    with pytest.raises(ValueError):
        np.array_split(a, 0)
    with pytest.raises(IndexError):
        np.split(a, 2, axis=2)
    with pytest.raises(ValueError):
        np.vsplit(np.zeros(4), 2)
    with pytest.raises(ValueError):
        np.dsplit(a, 2)


# --- tile / repeat -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3), (2, 1, 2), (0, 2), (1, 1)])
def test_tile(dtype, reps):
    x = host((2, 3), dtype)
    same(np.tile(np.array(x), reps), onp.tile(x, reps))


def test_tile_zero_d_and_views():
    same(np.tile(np.array(onp.array(2.0, onp.float32)), 3), onp.tile(onp.float32(2.0), 3))
    x = host((3, 2))
    same(np.tile(np.array(x).T, (2, 2)), onp.tile(x.T, (2, 2)))
    with pytest.raises(ValueError):
        np.tile(np.zeros(2), -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat(dtype):
    x = host((2, 3), dtype)
    a = np.array(x)
    same(np.repeat(a, 2), onp.repeat(x, 2))
    same(np.repeat(a, 3, axis=0), onp.repeat(x, 3, axis=0))
    same(np.repeat(a, [1, 0, 2], axis=-1), onp.repeat(x, [1, 0, 2], axis=-1))
    same(np.repeat(a.T, [2], axis=1), onp.repeat(x.T, [2], axis=1))
    same(np.repeat(a, 0, axis=1), onp.repeat(x, 0, axis=1))


def test_repeat_errors():
    a = np.zeros((2, 3))
    with pytest.raises(ValueError):
        np.repeat(a, -1)
    with pytest.raises(ValueError):
        np.repeat(a, [1, 2], axis=1)
    with pytest.raises(IndexError):
        np.repeat(a, 2, axis=2)


# --- flip / roll / rot90 -----------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
def test_flip(axis):
    x = host((2, 3, 4))
    same(np.flip(np.array(x), axis), onp.flip(x, axis))


def test_flip_family_and_errors():
    x = host((3, 4), "int64")
    a = np.array(x)
    same(np.fliplr(a), onp.fliplr(x))
    same(np.flipud(a), onp.flipud(x))
    same(np.flip(np.array(onp.array(3.0, onp.float32))), onp.flip(onp.float32(3.0)))
    with pytest.raises(ValueError):
        np.fliplr(np.zeros(3))
    with pytest.raises(IndexError):
        np.flip(a, 2)


ROLLS = [(1, None), (-7, None), (2, 0), (-1, 1), ((1, -2), (0, 1)), ((1, 1), (1, 1)), (5, -1),
         (0, 0)]


@pytest.mark.parametrize("shift,axis", ROLLS)
def test_roll(shift, axis):
    x = host((3, 4), "int32")
    same(np.roll(np.array(x), shift, axis), onp.roll(x, shift, axis))
    same(np.roll(np.array(x).T, shift, axis), onp.roll(x.T, shift, axis))


def test_roll_and_rot90_edges():
    same(np.roll(np.zeros((0, 3)), 2, 0), onp.zeros((0, 3), onp.float32))
    with pytest.raises(IndexError):
        np.roll(np.zeros(3), 1, axis=1)
    x = host((2, 3, 4))
    for k in range(-1, 5):
        same(np.rot90(np.array(x), k), onp.rot90(x, k))
    same(np.rot90(np.array(x), 1, axes=(2, 0)), onp.rot90(x, 1, axes=(2, 0)))
    with pytest.raises(ValueError):
        np.rot90(np.array(x), axes=(1, 1))


# --- pad ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_pad_constant(dtype):
    x = host((2, 3), dtype)
    a = np.array(x)
    same(np.pad(a, 1), onp.pad(x, 1))
    same(np.pad(a, ((1, 0), (2, 3)), constant_values=((1, 0), (0, 1))),
         onp.pad(x, ((1, 0), (2, 3)), constant_values=((1, 0), (0, 1))))
    same(np.pad(a, (0, 2), constant_values=1), onp.pad(x, (0, 2), constant_values=1))


def test_pad_corners_follow_numpy_order():
    x = host((2, 2, 2))
    cv = ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0))
    same(np.pad(np.array(x), 1, constant_values=cv), onp.pad(x, 1, constant_values=cv))
    same(np.pad(np.array(x).transpose(2, 0, 1), ((0, 1), (1, 0), (2, 2)), constant_values=7.5),
         onp.pad(x.transpose(2, 0, 1), ((0, 1), (1, 0), (2, 2)), constant_values=7.5))
    same(np.pad(np.zeros((0, 2)), 1), onp.pad(onp.zeros((0, 2), onp.float32), 1))


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_pad_modes(mode):
    x = host((3, 4), "int64")
    same(np.pad(np.array(x), ((2, 1), (5, 0)), mode=mode),
         onp.pad(x, ((2, 1), (5, 0)), mode=mode))
    same(np.pad(np.array(x), 1, mode=mode), onp.pad(x, 1, mode=mode))


def test_pad_errors():
    a = np.zeros((2, 2))
    with pytest.raises(ValueError):
        np.pad(a, -1)
    with pytest.raises(ValueError):
        np.pad(a, ((1, 2, 3),))
    with pytest.raises(ValueError):
        np.pad(a, 1, mode="median")
    with pytest.raises(ValueError):
        np.pad(np.zeros((0, 2)), 1, mode="edge")


# --- diagonals and triangles -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, -2, 5])
def test_diag(dtype, k):
    x = host((3, 4), dtype)
    v = host((3,), dtype)
    same(np.diag(np.array(x), k), onp.diag(x, k))
    same(np.diag(np.array(x).T, k), onp.diag(x.T, k))
    same(np.diag(np.array(v), k), onp.diag(v, k))


def test_diagonal_and_diagflat():
    x = host((2, 3, 4))
    a = np.array(x)
    same(np.diagonal(a), onp.diagonal(x))
    same(np.diagonal(a, 1, 2, 0), onp.diagonal(x, 1, 2, 0))
    same(np.diagonal(a, -1, -1, -2), onp.diagonal(x, -1, -1, -2))
    same(np.diagflat(np.array(x[0, :2]), -1), onp.diagflat(x[0, :2], -1))
    with pytest.raises(ValueError):
        np.diag(a)
    with pytest.raises(ValueError):
        np.diagonal(a, 0, 1, 1)
    with pytest.raises(ValueError):
        np.diagonal(np.zeros(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, -1, 4])
def test_tril_triu(dtype, k):
    x = host((2, 3, 4), dtype)
    a = np.array(x)
    same(np.tril(a, k), onp.tril(x, k))
    same(np.triu(a, k), onp.triu(x, k))
    same(np.tril(a.transpose(0, 2, 1), k), onp.tril(x.transpose(0, 2, 1), k))
    same(np.triu(np.array(x[0, 0]), k), onp.triu(x[0, 0], k))


def test_tri_edges():
    same(np.tril(np.zeros((0, 3))), onp.zeros((0, 3), onp.float32))
    with pytest.raises(ValueError):
        np.tril(np.array(1.0))


# --- the view ops of shape.py ------------------------------------------------------------------
def test_reshape_ravel_flatten():
    x = host((2, 3, 4))
    a = np.array(x)
    same(np.reshape(a, (-1, 4)), x.reshape(-1, 4))
    same(a.reshape(4, -1), x.reshape(4, -1))
    same(np.reshape(a.transpose(2, 0, 1), (-1,)), x.transpose(2, 0, 1).reshape(-1))
    same(np.ravel(a[:, ::-1]), onp.ravel(x[:, ::-1]))
    same(a.T.flatten(), x.T.flatten())
    same(np.reshape(np.zeros((0, 3)), (3, -1)), onp.zeros((3, 0), onp.float32))
    with pytest.raises(ValueError):
        np.reshape(a, (5, -1))
    with pytest.raises(ValueError):
        np.reshape(a, (-1, -1))


def test_axis_moves():
    x = host((2, 3, 4))
    a = np.array(x)
    same(np.moveaxis(a, 0, -1), onp.moveaxis(x, 0, -1))
    same(np.moveaxis(a, [0, 1], [-1, -2]), onp.moveaxis(x, [0, 1], [-1, -2]))
    same(np.swapaxes(a, 0, 2), onp.swapaxes(x, 0, 2))
    same(np.transpose(a, (1, 2, 0)), onp.transpose(x, (1, 2, 0)))
    same(np.expand_dims(a, -1), onp.expand_dims(x, -1))
    same(np.expand_dims(a, (0, 2)), onp.expand_dims(x, (0, 2)))
    y = host((1, 3, 1))
    same(np.squeeze(np.array(y)), onp.squeeze(y))
    same(np.squeeze(np.array(y), axis=-1), onp.squeeze(y, axis=-1))
    with pytest.raises(IndexError):
        np.moveaxis(a, 3, 0)
    with pytest.raises(IndexError):
        np.swapaxes(a, 0, -4)
    with pytest.raises(IndexError):
        np.expand_dims(a, 4)
    with pytest.raises(ValueError):
        np.squeeze(np.array(y), axis=1)


def test_broadcasting_views():
    x = host((3, 1))
    a = np.array(x)
    same(np.broadcast_to(a, (2, 3, 4)), onp.broadcast_to(x, (2, 3, 4)))
    same(np.broadcast_to(np.array(onp.float32(2.0)), (2,)), onp.broadcast_to(onp.float32(2), (2,)))
    y = host((4,), "int32")
    got = np.broadcast_arrays(a, np.array(y))
    want = onp.broadcast_arrays(x, y)
    same(list(got), list(want))
    with pytest.raises(ValueError):
        np.broadcast_to(a, (3, 2, 2))
    with pytest.raises(ValueError):
        np.broadcast_to(a, (4,))
    with pytest.raises(ValueError):
        np.broadcast_arrays(a, np.zeros((2, 2)))


# --- gradients ---------------------------------------------------------------------------------
X = host((3, 4), "float64", seed=11)


GRAD_CASES = {
    "concatenate": lambda a: np.concatenate([a, a[:, ::-1] * 2.0, a[:1]], axis=0),
    "concatenate1": lambda a: np.concatenate([a.T, a[:2].T], axis=1),
    "stack": lambda a: np.stack([a, a * a], axis=1),
    "vstack": lambda a: np.vstack([a, a[0]]),
    "hstack": lambda a: np.hstack([a, a]),
    "split": lambda a: np.split(a, 2, axis=1)[1] * np.split(a, [1], axis=0)[0][:, :2].sum(),
    "array_split": lambda a: np.array_split(a, 3, axis=1)[0],
    "tile": lambda a: np.tile(a, (2, 1, 3)),
    "repeat": lambda a: np.repeat(a, 3, axis=1),
    "repeat_counts": lambda a: np.repeat(a, [2, 0, 3], axis=0),
    "flip": lambda a: np.flip(a, 1) * a,
    "roll": lambda a: np.roll(a, (1, -3), (0, 1)),
    "roll_flat": lambda a: np.roll(a, 5),
    "pad": lambda a: np.pad(a, ((1, 2), (0, 3)), constant_values=5.0),
    "pad_reflect": lambda a: np.pad(a, 2, mode="reflect"),
    "pad_edge": lambda a: np.pad(a, ((3, 0), (1, 1)), mode="edge"),
    "diag": lambda a: np.diag(a, 1),
    "diag_build": lambda a: np.diag(a[1], -1),
    "diagonal": lambda a: np.diagonal(a.reshape(2, 2, 3), 1, 2, 0),
    "tril": lambda a: np.tril(a, 1),
    "triu": lambda a: np.triu(a, -1),
    "rot90": lambda a: np.rot90(a),
    "reshape": lambda a: np.reshape(a.T, (-1, 2)),
    "moveaxis": lambda a: np.moveaxis(a.reshape(3, 2, 2), 0, -1),
    "expand_squeeze": lambda a: np.squeeze(np.expand_dims(a, 1), 1),
    "broadcast_to": lambda a: np.broadcast_to(a[:, :1], (2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients(name):
    check_grad(GRAD_CASES[name], X)


def test_concatenate_gradient_keeps_each_input_dtype():
    a = np.array(onp.array([1.0, 2.0], onp.float32))
    b = np.array(onp.array([3.0], onp.float64))
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        y = np.concatenate([a, b])
    assert y.dtype == onp.float64
    y.backward(np.array(onp.array([0.5, 1.5, 2.5])))
    same(a.grad, onp.array([0.5, 1.5], onp.float32))
    same(b.grad, onp.array([2.5]))


def test_second_order_through_copies():
    x = onp.array([0.5, -1.0, 2.0])
    a = np.array(x)
    a.attach_grad()
    with autograd.record():
        b = np.concatenate([np.tile(a, 2), np.pad(a, 1)])
        y = (b ** 3).sum()
        (g,) = autograd.grad([y], [a], create_graph=True)
        z = g.sum()
    z.backward()
    onp.testing.assert_allclose(g.asnumpy(), 3 * 3 * x ** 2, rtol=1e-12)
    onp.testing.assert_allclose(a.grad.asnumpy(), 3 * 6 * x, rtol=1e-12)


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid_matches_numpy(indexing, sparse):
    xs = [onp.arange(3, dtype=onp.float32), onp.arange(2, dtype=onp.float32) + 5,
          onp.array([7.0, 8.0, 9.0, 10.0], onp.float32)]
    for k in (1, 2, 3):
        got = np.meshgrid(*[np.array(x) for x in xs[:k]], indexing=indexing, sparse=sparse)
        want = onp.meshgrid(*xs[:k], indexing=indexing, sparse=sparse)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            onp.testing.assert_array_equal(g.asnumpy(), w)


def test_meshgrid_copies_differentiates_and_checks():
    from clgrad import autograd
    x = np.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        gx, gy = np.meshgrid(x, np.array([0.0, 1.0]))
        s = (gx * gy).sum()
    s.backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    gx, _ = np.meshgrid(np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    gx[0, 0] = 9.0                   # a copy: one element changes
    assert gx.tolist() == [[9.0, 2.0], [1.0, 2.0]]
    with pytest.raises(MXNetError, match="indexing must be"):
        np.meshgrid(x, indexing="yx")
