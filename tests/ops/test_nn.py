"""npx neural-network ops: forwards against NumPy references, gradients against central finite
differences in float64, second derivatives through create_graph, and bad inputs."""
import inspect
import math

import numpy as onp
import pytest

import clgrad
from clgrad import MXNetError, autograd, np, npx
from clgrad.autograd.tape import requires_grad
from clgrad.ops import launch
from clgrad.ops import nn as nnops
from clgrad.ops.nn import conv as nnconv
from clgrad.ops.nn import rows as nnsoftmax
from clgrad.runtime import default_device
from gradcheck import check_grad

RNG = onp.random.default_rng(1234)


def _erf(x):
    return onp.vectorize(math.erf)(x)


def _softplus(x):
    return onp.maximum(x, 0) + onp.log1p(onp.exp(-onp.abs(x)))


SELU_A, SELU_L = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> (clgrad function, NumPy reference)
ACTS = {
    "relu": (npx.relu, lambda x: onp.maximum(x, 0)),
    "sigmoid": (npx.sigmoid, lambda x: 1 / (1 + onp.exp(-x))),
    "tanh": (npx.tanh, onp.tanh),
    "softrelu": (lambda x: npx.activation(x, act_type="softrelu"), _softplus),
    "softsign": (lambda x: npx.activation(x, act_type="softsign"), lambda x: x / (1 + abs(x))),
    "log_sigmoid": (lambda x: npx.activation(x, act_type="log_sigmoid"),
                    lambda x: -_softplus(-x)),
    "mish": (lambda x: npx.activation(x, act_type="mish"),
             lambda x: x * onp.tanh(_softplus(x))),
    "gelu": (npx.gelu, lambda x: 0.5 * x * (1 + _erf(x / onp.sqrt(2)))),
    "leaky": (lambda x: npx.leaky_relu(x, act_type="leaky", slope=0.1),
              lambda x: onp.where(x > 0, x, 0.1 * x)),
    "elu": (lambda x: npx.leaky_relu(x, act_type="elu", slope=0.7),
            lambda x: onp.where(x > 0, x, 0.7 * onp.expm1(x))),
    "selu": (lambda x: npx.leaky_relu(x, act_type="selu"),
             lambda x: SELU_L * onp.where(x > 0, x, SELU_A * onp.expm1(x))),
    "leaky_gelu": (lambda x: npx.leaky_relu(x, act_type="gelu"),
                   lambda x: 0.5 * x * (1 + _erf(x / onp.sqrt(2)))),
}

TOL = {onp.float16: dict(rtol=5e-3, atol=5e-3), onp.float32: dict(rtol=1e-5, atol=1e-6),
       onp.float64: dict(rtol=1e-12, atol=1e-12)}


def _away_from_kinks(shape, dtype=onp.float64):
    """Values in [-3, 3] at least 0.05 away from 0 (where relu-like ops have a kink)."""
    x = RNG.uniform(0.05, 3, size=shape) * RNG.choice([-1, 1], size=shape)
    return x.astype(dtype)


# --- activations --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("dtype", [onp.float32, onp.float64, onp.float16])
def test_activation_forward(name, dtype):
    fn, ref = ACTS[name]
    xh = _away_from_kinks((3, 5), dtype)
    y = fn(np.array(xh))
    assert y.dtype == dtype and y.shape == xh.shape
    onp.testing.assert_allclose(y.asnumpy().astype(onp.float64),
                                ref(xh.astype(onp.float64)), **TOL[dtype])


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_views_0d_empty(name):
    fn, ref = ACTS[name]
    xh = _away_from_kinks((4, 6), onp.float32)
    x = np.array(xh)
    for view, host in ((x.T, xh.T), (x[::-1, ::2], xh[::-1, ::2])):
        onp.testing.assert_allclose(fn(view).asnumpy(), ref(host.astype(onp.float64)),
                                    rtol=1e-5, atol=1e-6)
    y0 = fn(np.array(onp.float32(-1.5)))
    assert y0.shape == ()
    onp.testing.assert_allclose(y0.asnumpy(), ref(onp.float64(-1.5)), rtol=1e-5)
    assert fn(np.zeros((0, 3))).shape == (0, 3)


def test_relu_integer_and_nan():
    xi = onp.array([-3, 0, 2, 7], dtype=onp.int32)
    y = npx.relu(np.array(xi))
    assert y.dtype == onp.int32
    onp.testing.assert_array_equal(y.asnumpy(), onp.maximum(xi, 0))
    # integer input to a float activation gives float32, as NumPy's float functions do
    s = npx.sigmoid(np.array(xi))
    assert s.dtype == onp.float32
    onp.testing.assert_allclose(s.asnumpy(), 1 / (1 + onp.exp(-xi)), rtol=1e-6)
    r = npx.relu(np.array([onp.nan, -1.0, 1.0])).asnumpy()
    assert onp.isnan(r[0]) and r[1] == 0 and r[2] == 1


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_gradient(name):
    fn, _ = ACTS[name]
    check_grad(fn, _away_from_kinks((3, 4)))


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_second_derivative(name):
    fn, _ = ACTS[name]
    check_second(fn, _away_from_kinks((2, 3)))


def _first_grad(fn, head_seed=7):
    """x -> d/dx sum(fn(x) * w), built with create_graph so it can be differentiated again."""
    def f(x):
        if not requires_grad(x):
            x.attach_grad()
        with autograd.record():
            y = fn(x)
        w = np.array(onp.random.default_rng(head_seed).uniform(0.5, 1.5, size=y.shape))
        (gx,) = autograd.grad(y, [x], head_grads=w, create_graph=True)
        return gx
    return f


def check_second(fn, xh, rtol=1e-5, atol=1e-6):
    """The recorded (create_graph) gradient equals the plain one, and its own gradient matches
    finite differences."""
    f = _first_grad(fn)
    recorded = f(np.array(xh)).asnumpy()
    x = np.array(xh)
    x.attach_grad()
    with autograd.record():
        y = fn(x)
    y.backward(np.array(onp.random.default_rng(7).uniform(0.5, 1.5, size=y.shape)))
    onp.testing.assert_allclose(recorded, x.grad.asnumpy(), rtol=1e-10, atol=1e-12)
    check_grad(f, xh, rtol=rtol, atol=atol)


def test_prelu_and_rrelu():
    xh = _away_from_kinks((2, 3, 4))
    gh = onp.array([0.1, 0.2, 0.3])
    ref = onp.where(xh > 0, xh, gh[None, :, None] * xh)
    y = npx.leaky_relu(np.array(xh), gamma=np.array(gh), act_type="prelu")
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-12)
    check_grad(lambda x, g: npx.leaky_relu(x, gamma=g, act_type="prelu"), xh, gh)
    # rrelu: a slope in [lower, upper] per element in training, their mean in prediction
    yp = npx.leaky_relu(np.array(xh), act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    onp.testing.assert_allclose(yp.asnumpy(), onp.where(xh > 0, xh, 0.2 * xh), rtol=1e-12)
    with autograd.train_mode():
        yt = npx.leaky_relu(np.array(xh), act_type="rrelu", lower_bound=0.1,
                            upper_bound=0.3).asnumpy()
    neg = xh < 0
    ratio = yt[neg] / xh[neg]
    assert onp.all((ratio >= 0.1 - 1e-6) & (ratio <= 0.3 + 1e-6))
    onp.testing.assert_array_equal(yt[~neg], xh[~neg])


def test_activation_bad_inputs():
    x = np.array([1.0, -1.0])
    with pytest.raises(nnops.ParameterError, match="unknown act_type"):
        npx.activation(x, act_type="swish")
    with pytest.raises(TypeError, match="must be an array"):
        npx.relu("1.0")
    with pytest.raises(ValueError, match="unknown act_type"):
        npx.leaky_relu(x, act_type="nope")
    with pytest.raises(MXNetError, match="prelu' needs gamma"):
        npx.leaky_relu(x, act_type="prelu")
    with pytest.raises(TypeError, match="boolean"):
        npx.sigmoid(np.array(onp.array([True, False])))
    with pytest.raises(ValueError, match="gamma"):
        npx.leaky_relu(np.ones((2, 3)), gamma=np.ones(4), act_type="prelu")


# --- softmax family -----------------------------------------------------------------------------
@onp.errstate(invalid="ignore")
def _np_softmax(x, axis=-1, t=1.0, length=None):
    z = x / t
    if length is not None:
        k = onp.arange(x.shape[axis]).reshape([-1 if d == axis % x.ndim else 1
                                               for d in range(x.ndim)])
        mask = k < onp.expand_dims(length, axis)
        z = onp.where(mask, z, -onp.inf)
    m = onp.max(z, axis=axis, keepdims=True)
    e = onp.exp(z - m)
    y = e / e.sum(axis=axis, keepdims=True)
    if length is not None:
        y = onp.where(mask, y, 0)
    return y


@onp.errstate(invalid="ignore")
def _np_log_softmax(x, axis=-1, t=1.0, length=None):
    z = x / t
    if length is not None:
        k = onp.arange(x.shape[axis]).reshape([-1 if d == axis % x.ndim else 1
                                               for d in range(x.ndim)])
        mask = k < onp.expand_dims(length, axis)
        zm = onp.where(mask, z, -onp.inf)
    else:
        zm = z
    m = onp.max(zm, axis=axis, keepdims=True)
    y = z - m - onp.log(onp.exp(zm - m).sum(axis=axis, keepdims=True))
    if length is not None:
        y = onp.where(mask, y, 0)
    return y


SOFT = {"softmax": (npx.softmax, _np_softmax), "log_softmax": (npx.log_softmax, _np_log_softmax)}


@pytest.mark.parametrize("kind", sorted(SOFT))
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_forward_axes(kind, axis):
    fn, ref = SOFT[kind]
    xh = RNG.standard_normal((3, 4, 5)).astype(onp.float32) * 5
    y = fn(np.array(xh), axis=axis)
    onp.testing.assert_allclose(y.asnumpy(), ref(xh.astype(onp.float64), axis), rtol=1e-5,
                                atol=1e-6)


@pytest.mark.parametrize("kind", sorted(SOFT))
@pytest.mark.parametrize("dtype", [onp.float16, onp.float64])
def test_softmax_dtypes(kind, dtype):
    fn, ref = SOFT[kind]
    xh = RNG.standard_normal((4, 6)).astype(dtype)
    y = fn(np.array(xh))
    assert y.dtype == dtype
    onp.testing.assert_allclose(y.asnumpy().astype(onp.float64), ref(xh.astype(onp.float64)),
                                **TOL[dtype])
    # output dtype override: float16 in, float32 out
    y32 = fn(np.array(xh), dtype="float32")
    assert y32.dtype == onp.float32


# (rows, row length, along a strided axis): the row lengths that select each softmax row
# layout of rows.py. On a CPU: a row per work-item on scalars for short rows, on vectors for
# unit-stride rows of at least 2 * _ROW_UNROLL, with _ROW_UNROLL scalar accumulators for
# strided ones, and a work-group per row for rows of GROUP_ROW_MIN or more when there are too
# few rows to share out (a GPU takes a work-group for every long row).
_UNROLLED = 2 * nnsoftmax._ROW_UNROLL + 3
SOFTMAX_ROWS = [(3, 3, False), (3, _UNROLLED, False), (3, _UNROLLED, True),
                (3, nnsoftmax.GROUP_ROW_MIN + 77, False), (3, nnsoftmax.GROUP_ROW_MIN + 77, True),
                (64, nnsoftmax.GROUP_ROW_MIN + 77, False)]


@pytest.mark.parametrize("kind", sorted(SOFT))
def test_softmax_is_stable_for_huge_values_in_every_row_layout(kind, tuning_db, monkeypatch):
    """Values near +-1000 (the naive exp overflows, or underflows every term of a row to 0)
    at each row length that selects another kernel layout."""
    fn, ref = SOFT[kind]
    layouts = set()
    make = nnsoftmax._row_kernel

    def spy(*args, **kwargs):
        call = inspect.signature(make).bind(*args, **kwargs)
        call.apply_defaults()
        a = call.arguments
        layouts.add((a["mode"], a["unroll"] > 1, a["vw"] > 0))
        return make(*args, **kwargs)
    monkeypatch.setattr(nnsoftmax, "_row_kernel", spy)
    for rows, k, strided in SOFTMAX_ROWS:
        sign = onp.where(onp.arange(rows) % 3 == 1, -1.0, 1.0)[:, None]
        xh = (1000.0 * sign + RNG.uniform(-3, 3, (rows, k))).astype(onp.float32)
        xh[2::3] = 0.0
        xh[2::3, k // 2] = 1000.0       # one huge element among zeros: a near one-hot row
        if strided:
            got = fn(np.array(onp.ascontiguousarray(xh.T)), axis=0).asnumpy().T
        else:
            got = fn(np.array(xh)).asnumpy()
        assert onp.isfinite(got).all(), (rows, k, strided)
        onp.testing.assert_allclose(got, ref(xh.astype(onp.float64)), rtol=1e-5, atol=1e-6,
                                    err_msg=f"{rows} rows of {k}, strided={strided}")
    dev = default_device()
    if launch.launch_profile(dev) == "cpu":
        # scalar, unrolled, group, and vector rows where the device verified a vector width
        vectors = clgrad.runtime.vector_width(dev, onp.float32, ("math",), want=16) > 1
        assert len(layouts) == 3 + vectors, layouts
    else:
        assert len(layouts) >= 2, layouts


@pytest.mark.parametrize("kind", sorted(SOFT))
def test_softmax_stable_views_temperature_long_rows(kind):
    fn, ref = SOFT[kind]
    xh = RNG.standard_normal((5, 6)).astype(onp.float32)
    x = np.array(xh)
    for view, host in ((x.T, xh.T), (x[::-1, ::-2], xh[::-1, ::-2])):
        onp.testing.assert_allclose(fn(view).asnumpy(), ref(host.astype(onp.float64)),
                                    rtol=1e-5, atol=1e-6)
    onp.testing.assert_allclose(fn(x, temperature=2.5).asnumpy(),
                                ref(xh.astype(onp.float64), t=2.5), rtol=1e-5, atol=1e-6)
    # rows long enough for the one-work-group-per-row kernel, along a strided axis too
    lh = RNG.standard_normal((3, nnsoftmax.GROUP_ROW_MIN + 77)).astype(onp.float32)
    lx = np.array(lh)
    onp.testing.assert_allclose(fn(lx).asnumpy(), ref(lh.astype(onp.float64)), rtol=1e-5,
                                atol=1e-6)
    onp.testing.assert_allclose(fn(lx.T, axis=0).asnumpy(), ref(lh.T.astype(onp.float64), 0),
                                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(SOFT))
def test_softmax_length(kind):
    fn, ref = SOFT[kind]
    xh = RNG.standard_normal((3, 5)).astype(onp.float32)
    ln = onp.array([5, 2, 0], dtype=onp.int64)
    y = fn(np.array(xh), length=np.array(ln), use_length=True)
    onp.testing.assert_allclose(y.asnumpy(), onp.nan_to_num(ref(xh.astype(onp.float64),
                                                                length=ln)), rtol=1e-5,
                                atol=1e-6)
    # length along axis 0, int32 lengths, long rows
    lh = RNG.standard_normal((nnsoftmax.GROUP_ROW_MIN + 3, 2)).astype(onp.float32)
    l2 = onp.array([nnsoftmax.GROUP_ROW_MIN + 1, 7], dtype=onp.int32)
    y2 = fn(np.array(lh), axis=0, length=np.array(l2), use_length=True)
    onp.testing.assert_allclose(y2.asnumpy(), ref(lh.astype(onp.float64), 0, length=l2),
                                rtol=1e-5, atol=1e-6)


def test_softmax_empty_and_bad_inputs():
    assert npx.softmax(np.zeros((0, 3))).shape == (0, 3)
    assert npx.log_softmax(np.zeros((3, 0))).shape == (3, 0)
    with pytest.raises(IndexError):
        npx.softmax(np.array(1.0))
    with pytest.raises(IndexError):
        npx.softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="temperature"):
        npx.softmax(np.ones((2, 3)), temperature=0)
    with pytest.raises(ValueError, match="length"):
        npx.softmax(np.ones((2, 3)), use_length=True)
    with pytest.raises(ValueError, match="length has shape"):
        npx.softmax(np.ones((2, 3)), length=np.array([1, 2, 3], dtype="int32"),
                    use_length=True)
    with pytest.raises(TypeError, match="integer"):
        npx.softmax(np.ones((2, 3)), length=np.array([1.0, 2.0]), use_length=True)
    with pytest.raises(TypeError, match="float"):
        npx.softmax(np.ones((2, 3)), dtype="int32")


@pytest.mark.parametrize("kind", sorted(SOFT))
def test_softmax_gradient(kind):
    fn, _ = SOFT[kind]
    xh = RNG.standard_normal((3, 4))
    check_grad(lambda x: fn(x), xh)
    check_grad(lambda x: fn(x, axis=0, temperature=0.7), xh)
    ln = np.array([4, 1, 2], dtype="int64")
    check_grad(lambda x: fn(x, length=ln, use_length=True), xh)


@pytest.mark.parametrize("kind", sorted(SOFT))
def test_softmax_second_derivative(kind):
    fn, _ = SOFT[kind]
    xh = RNG.standard_normal((2, 4))
    check_second(lambda x: fn(x), xh)
    check_second(lambda x: fn(x, axis=0, temperature=1.7), xh)
    ln = np.array([3, 1], dtype="int64")
    check_second(lambda x: fn(x, length=ln, use_length=True), xh)


def test_masked_softmax():
    xh = RNG.standard_normal((3, 4))
    mh = onp.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    z = onp.where(mh, xh, -onp.inf)
    with onp.errstate(invalid="ignore"):
        e = onp.exp(z - z.max(axis=-1, keepdims=True))
        ref = onp.nan_to_num(e / e.sum(axis=-1, keepdims=True))
    y = npx.masked_softmax(np.array(xh), np.array(mh))
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-12, atol=1e-12)
    ly = npx.masked_log_softmax(np.array(xh), np.array(mh)).asnumpy()
    onp.testing.assert_allclose(ly[mh], onp.log(ref[mh]), rtol=1e-12)
    assert onp.all(onp.isneginf(ly[~mh]))
    m = np.array(mh)
    check_grad(lambda x: npx.masked_softmax(x, m), xh)
    with pytest.raises(ValueError, match="mask"):
        npx.masked_softmax(np.array(xh), np.ones((2, 4)))


# --- one_hot ------------------------------------------------------------------------------------
def test_one_hot():
    idx = onp.array([[0, 2], [5, -1]])
    ref = onp.zeros((2, 2, 4), dtype=onp.float32)
    for i in range(2):
        for j in range(2):
            if 0 <= idx[i, j] < 4:
                ref[i, j, idx[i, j]] = 1
    y = npx.one_hot(np.array(idx, dtype="int64"), 4)
    assert y.dtype == onp.float32
    onp.testing.assert_array_equal(y.asnumpy(), ref)
    # float indices, on/off values, other dtypes, non-contiguous indices
    y2 = npx.one_hot(np.array(idx.astype(onp.float32)).T, 4, on_value=3, off_value=-1,
                     dtype="int32")
    assert y2.dtype == onp.int32
    onp.testing.assert_array_equal(y2.asnumpy(), onp.where(ref.transpose(1, 0, 2) == 1, 3, -1))
    y3 = npx.one_hot(np.array(idx, dtype="int64"), 4, dtype="float64")
    onp.testing.assert_array_equal(y3.asnumpy(), ref)
    assert npx.one_hot(np.array(2, dtype="int64"), 3).asnumpy().tolist() == [0, 0, 1]
    assert npx.one_hot(np.zeros((0,), dtype="int64"), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="depth"):
        npx.one_hot(np.array([1], dtype="int64"), -2)
    with pytest.raises(TypeError, match="bool"):
        npx.one_hot(np.array(onp.array([True])), 2)


# --- dropout ------------------------------------------------------------------------------------
def test_dropout_statistics_and_scaling():
    n, p = 40000, 0.3
    xh = RNG.uniform(1, 2, size=n).astype(onp.float32)
    with autograd.train_mode():
        y = npx.dropout(np.array(xh), p=p).asnumpy()
    zero = y == 0
    # the zero fraction is binomial: 5 standard deviations is about 0.012 here
    assert abs(zero.mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    onp.testing.assert_allclose(y[~zero], xh[~zero] / (1 - p), rtol=1e-6)
    # two draws differ
    with autograd.train_mode():
        y2 = npx.dropout(np.array(xh), p=p).asnumpy()
    assert (y2 != y).any()


def test_dropout_identity_in_predict_mode_and_edges():
    x = np.array(RNG.standard_normal((4, 5)).astype(onp.float32))
    assert npx.dropout(x, p=0.5) is x
    with autograd.predict_mode():
        onp.testing.assert_array_equal(npx.dropout(x, p=0.9).asnumpy(), x.asnumpy())
    with autograd.record(train_mode=False):
        onp.testing.assert_array_equal(npx.dropout(x).asnumpy(), x.asnumpy())
    # mode='always' drops even in prediction
    assert (npx.dropout(np.ones((1000,)), p=0.5, mode="always").asnumpy() == 0).any()
    with autograd.train_mode():
        onp.testing.assert_array_equal(npx.dropout(x, p=0.0).asnumpy(), x.asnumpy())
        assert not npx.dropout(x, p=1.0).asnumpy().any()
    with pytest.raises(ValueError, match="p must be"):
        npx.dropout(x, p=1.5)
    with pytest.raises(ValueError, match="mode"):
        npx.dropout(x, mode="sometimes")
    with pytest.raises(TypeError, match="float"):
        npx.dropout(np.array(onp.array([1, 2])), p=0.5)


def test_dropout_backward_reuses_mask_and_axes():
    xh = RNG.uniform(1, 2, size=(6, 50)).astype(onp.float32)
    x = np.array(xh)
    x.attach_grad()
    with autograd.record():
        y = npx.dropout(x, p=0.4)
    y.backward()
    yh = y.asnumpy()
    onp.testing.assert_allclose(x.grad.asnumpy(), (yh != 0) / 0.6, rtol=1e-6)
    # axes=(0,): one mask value per column, shared by every row
    with autograd.train_mode():
        ya = npx.dropout(np.array(xh), p=0.5, axes=(0,)).asnumpy()
    col_zero = ya == 0
    assert (col_zero == col_zero[:1]).all()
    assert col_zero[0].any() and not col_zero[0].all()


def test_dropout_second_order():
    # the gradient of the gradient: dropout is linear, its vjp applies the same mask
    x = np.array(RNG.uniform(1, 2, size=(20,)))
    x.attach_grad()
    g = np.array(RNG.uniform(1, 2, size=(20,)))
    g.attach_grad()
    with autograd.record():
        y = npx.dropout(x, p=0.5)
        (gx,) = autograd.grad(y, [x], head_grads=g, create_graph=True)
        z = (gx * gx).sum()
    z.backward()
    mask = (y.asnumpy() != 0) * 2.0
    onp.testing.assert_allclose(g.grad.asnumpy(), 2 * g.asnumpy() * mask * mask, rtol=1e-12)


def test_npx_random_bernoulli():
    s = npx.random.bernoulli(0.25, size=(20000,))
    assert s.dtype == onp.float32 and s.shape == (20000,)
    v = s.asnumpy()
    assert set(onp.unique(v)) <= {0.0, 1.0}
    assert abs(v.mean() - 0.25) < 0.02
    p = np.array([0.0, 1.0, 0.0, 1.0])
    onp.testing.assert_array_equal(npx.random.bernoulli(p).asnumpy(), [0, 1, 0, 1])
    with pytest.raises(ValueError):
        npx.random.bernoulli(1.5)


# --- layer_norm ---------------------------------------------------------------------------------
def _np_layer_norm(x, g, b, axis=-1, eps=1e-5):
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axis, keepdims=True)
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - mu) / onp.sqrt(var + eps) * g.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64, onp.float16])
def test_layer_norm_forward(dtype):
    xh = RNG.standard_normal((3, 4, 5)).astype(dtype)
    for axis in (-1, 1):
        n = xh.shape[axis]
        gh = RNG.uniform(0.5, 1.5, n).astype(dtype)
        bh = RNG.standard_normal(n).astype(dtype)
        y = npx.layer_norm(np.array(xh), np.array(gh), np.array(bh), axis=axis)
        assert y.dtype == dtype
        ref = _np_layer_norm(*(a.astype(onp.float64) for a in (xh, gh, bh)), axis=axis)
        onp.testing.assert_allclose(y.asnumpy().astype(onp.float64), ref,
                                    **(TOL[dtype] if dtype != onp.float64 else
                                       dict(rtol=1e-10, atol=1e-10)))


def test_layer_norm_views_outputs_and_errors():
    xh = RNG.standard_normal((4, 6))
    x = np.array(xh)
    g, b = np.ones(4, dtype="float64"), np.zeros(4, dtype="float64")
    onp.testing.assert_allclose(npx.layer_norm(x.T, g, b).asnumpy(),
                                _np_layer_norm(xh.T, onp.ones(4), onp.zeros(4)), rtol=1e-10)
    g6, b6 = np.ones(6, dtype="float64"), np.zeros(6, dtype="float64")
    out, mean, std = npx.layer_norm(x, g6, b6, output_mean_var=True)
    onp.testing.assert_allclose(mean.asnumpy(), xh.mean(-1, keepdims=True), rtol=1e-12)
    onp.testing.assert_allclose(std.asnumpy(), onp.sqrt(xh.var(-1, keepdims=True) + 1e-5),
                                rtol=1e-12)
    assert npx.layer_norm(np.zeros((0, 6), dtype="float64"), g6, b6).shape == (0, 6)
    with pytest.raises(ValueError, match="gamma has shape"):
        npx.layer_norm(x, g, b6)
    with pytest.raises(TypeError, match="float"):
        npx.layer_norm(np.ones((2, 2), dtype="int32"), np.ones(2), np.ones(2))
    with pytest.raises(IndexError):
        npx.layer_norm(x, g6, b6, axis=2)


def test_layer_norm_gradients():
    xh = RNG.standard_normal((3, 4))
    gh, bh = RNG.uniform(0.5, 1.5, 4), RNG.standard_normal(4)
    check_grad(lambda x, g, b: npx.layer_norm(x, g, b), xh, gh, bh, rtol=1e-5, atol=1e-6)
    gh3, bh3 = RNG.uniform(0.5, 1.5, 3), RNG.standard_normal(3)
    check_grad(lambda x, g, b: npx.layer_norm(x, g, b, axis=0, eps=1e-3), xh, gh3, bh3)
    check_second(lambda x: npx.layer_norm(x, np.array(gh), np.array(bh)), xh, rtol=1e-4,
                 atol=1e-6)


# --- batch_norm ---------------------------------------------------------------------------------
def _bn_args(c, dtype=onp.float64):
    gh = RNG.uniform(0.5, 1.5, c).astype(dtype)
    bh = RNG.standard_normal(c).astype(dtype)
    rm = RNG.standard_normal(c).astype(dtype)
    rv = RNG.uniform(0.5, 2, c).astype(dtype)
    return gh, bh, rm, rv


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_batch_norm_training_updates_running_stats(dtype):
    xh = RNG.standard_normal((4, 3, 2, 5)).astype(dtype)
    gh, bh, rmh, rvh = _bn_args(3, dtype)
    rm, rv = np.array(rmh), np.array(rvh)
    with autograd.train_mode():
        y = npx.batch_norm(np.array(xh), np.array(gh), np.array(bh), rm, rv, eps=1e-3,
                           momentum=0.8, fix_gamma=False)
    x64 = xh.astype(onp.float64)
    mu = x64.mean(axis=(0, 2, 3))
    var = x64.var(axis=(0, 2, 3))
    ref = (x64 - mu[:, None, None]) / onp.sqrt(var[:, None, None] + 1e-3) * \
        gh[:, None, None] + bh[:, None, None]
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == onp.float32 else dict(rtol=1e-10)
    onp.testing.assert_allclose(y.asnumpy(), ref, **tol)
    onp.testing.assert_allclose(rm.asnumpy(), 0.8 * rmh + 0.2 * mu, **tol)
    onp.testing.assert_allclose(rv.asnumpy(), 0.8 * rvh + 0.2 * var, **tol)


def test_batch_norm_predict_and_options():
    xh = RNG.standard_normal((5, 3))
    gh, bh, rmh, rvh = _bn_args(3)
    rm, rv = np.array(rmh), np.array(rvh)
    y = npx.batch_norm(np.array(xh), np.array(gh), np.array(bh), rm, rv, fix_gamma=False)
    onp.testing.assert_allclose(y.asnumpy(), (xh - rmh) / onp.sqrt(rvh + 1e-3) * gh + bh,
                                rtol=1e-12)
    onp.testing.assert_array_equal(rm.asnumpy(), rmh)     # untouched in prediction
    # fix_gamma (the default) ignores gamma; use_global_stats keeps the running ones in training
    with autograd.train_mode():
        y2 = npx.batch_norm(np.array(xh), np.array(gh), np.array(bh), rm, rv,
                            use_global_stats=True)
    onp.testing.assert_allclose(y2.asnumpy(), (xh - rmh) / onp.sqrt(rvh + 1e-3) + bh,
                                rtol=1e-12)
    onp.testing.assert_array_equal(rv.asnumpy(), rvh)
    # channels on the last axis, output_mean_var
    with autograd.train_mode():
        out, mean, var = npx.batch_norm(np.array(xh).T, np.array(gh[:1].repeat(5)),
                                        np.zeros(5, dtype="float64"), np.zeros(5, dtype="float64"),
                                        np.ones(5, dtype="float64"), axis=-1,
                                        output_mean_var=True)
    onp.testing.assert_allclose(mean.asnumpy(), xh.T.mean(0), rtol=1e-12)
    onp.testing.assert_allclose(var.asnumpy(), xh.T.var(0), rtol=1e-12)
    onp.testing.assert_allclose(out.asnumpy(), (xh.T - xh.T.mean(0)) / onp.sqrt(
        xh.T.var(0) + 1e-3), rtol=1e-10)


def test_batch_norm_errors_leave_running_stats():
    rm, rv = np.zeros(3), np.ones(3)
    with autograd.train_mode():
        with pytest.raises(ValueError, match="beta has shape"):
            npx.batch_norm(np.ones((2, 3)), np.ones(3), np.ones(4), rm, rv)
        with pytest.raises(ValueError, match="momentum"):
            npx.batch_norm(np.ones((2, 3)), np.ones(3), np.ones(3), rm, rv, momentum=2)
        with pytest.raises(TypeError, match="float"):
            npx.batch_norm(np.ones((2, 3), dtype="int32"), np.ones(3), np.ones(3), rm, rv)
    onp.testing.assert_array_equal(rm.asnumpy(), 0)
    onp.testing.assert_array_equal(rv.asnumpy(), 1)


def _bn_train(fix_gamma, use_global_stats=False):
    rmh, rvh = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)

    def f(x, g, b):
        with autograd.train_mode():
            return npx.batch_norm(x, g, b, np.array(rmh), np.array(rvh), fix_gamma=fix_gamma,
                                  use_global_stats=use_global_stats)
    return f


@pytest.mark.parametrize("fix_gamma,use_global_stats", [(False, False), (True, False),
                                                        (False, True)])
def test_batch_norm_gradients(fix_gamma, use_global_stats):
    xh = RNG.standard_normal((4, 3, 2))
    gh, bh, _, _ = _bn_args(3)
    grads = check_grad(_bn_train(fix_gamma, use_global_stats), xh, gh, bh, rtol=1e-5,
                       atol=1e-6)
    if fix_gamma:
        assert not grads[1].any()


def test_batch_norm_second_derivative():
    xh = RNG.standard_normal((4, 3))
    gh, bh, _, _ = _bn_args(3)
    f = _bn_train(False)
    check_second(lambda x: f(x, np.array(gh), np.array(bh)), xh, rtol=1e-4, atol=1e-6)


# --- pooling ------------------------------------------------------------------------------------
def _np_pool(x, k, s, p, kind, ceil=False, include_pad=True):
    N, C, H, W = x.shape
    oh = ((H + 2 * p[0] - k[0] + (s[0] - 1 if ceil else 0)) // s[0]) + 1
    ow = ((W + 2 * p[1] - k[1] + (s[1] - 1 if ceil else 0)) // s[1]) + 1
    out = onp.zeros((N, C, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            he, we = min(hs + k[0], H + p[0]), min(ws + k[1], W + p[1])
            size = (he - hs) * (we - ws)
            h0, w0, h1, w1 = max(hs, 0), max(ws, 0), min(he, H), min(we, W)
            win = x[:, :, h0:h1, w0:w1]
            if kind == "max":
                out[:, :, i, j] = win.max(axis=(2, 3))
            elif kind == "sum":
                out[:, :, i, j] = win.sum(axis=(2, 3))
            else:
                out[:, :, i, j] = win.sum(axis=(2, 3)) / (size if include_pad else win[0, 0].size)
    return out


POOL_CASES = [
    dict(kernel=(2, 2), stride=(2, 2)),
    dict(kernel=(3, 2), stride=(1, 2), pad=(1, 1)),
    dict(kernel=(3, 3), stride=(2, 2), pad=(1, 0), pooling_convention="full"),
]


@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_pooling_forward(kind, case):
    args = POOL_CASES[case]
    xh = RNG.standard_normal((2, 3, 5, 6)).astype(onp.float32)
    y = npx.pooling(np.array(xh), pool_type=kind, **args)
    ref = _np_pool(xh.astype(onp.float64), args["kernel"], args["stride"],
                   args.get("pad", (0, 0)), kind, args.get("pooling_convention") == "full")
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-5, atol=1e-6)


def test_pooling_variants():
    xh = RNG.standard_normal((2, 3, 5, 6))
    x = np.array(xh)
    ref = _np_pool(xh, (3, 3), (2, 2), (1, 1), "avg", include_pad=False)
    y = npx.pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                    count_include_pad=False)
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-12)
    g = npx.pooling(x, pool_type="avg", global_pool=True)
    onp.testing.assert_allclose(g.asnumpy(), xh.mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    # non-contiguous input, float16, 1-D
    xt = x.transpose(0, 1, 3, 2)
    onp.testing.assert_allclose(npx.pooling(xt, kernel=(2, 2), stride=(2, 2)).asnumpy(),
                                _np_pool(xh.transpose(0, 1, 3, 2), (2, 2), (2, 2), (0, 0), "max"),
                                rtol=1e-12)
    x16 = xh.astype(onp.float16)
    y16 = npx.pooling(np.array(x16), kernel=(2, 2), stride=(1, 1), pool_type="avg")
    assert y16.dtype == onp.float16
    onp.testing.assert_allclose(y16.asnumpy(), _np_pool(x16.astype(onp.float64), (2, 2), (1, 1),
                                                        (0, 0), "avg"), rtol=5e-3, atol=5e-3)
    x1 = xh[:, :, 0, :]
    y1 = npx.pooling(np.array(x1), kernel=2, stride=2, pool_type="max")
    onp.testing.assert_allclose(y1.asnumpy(), x1.reshape(2, 3, 3, 2).max(-1), rtol=1e-12)
    assert npx.pooling(np.zeros((0, 3, 4, 4)), kernel=(2, 2)).shape == (0, 3, 3, 3)


def test_pooling_bad_inputs():
    x = np.ones((1, 1, 4, 4))
    with pytest.raises(ValueError, match="pool_type"):
        npx.pooling(x, kernel=(2, 2), pool_type="lp")
    with pytest.raises(ValueError, match="kernel is required"):
        npx.pooling(x)
    with pytest.raises(ValueError, match="larger than the padded"):
        npx.pooling(x, kernel=(5, 5))
    with pytest.raises(ValueError, match="strides must be positive"):
        npx.pooling(x, kernel=(2, 2), stride=(0, 1))
    with pytest.raises(ValueError, match="3-D .* or 4-D"):
        npx.pooling(np.ones((4, 4)), kernel=(2, 2))
    with pytest.raises(ValueError, match="2 values"):
        npx.pooling(x, kernel=(2, 2, 2))
    with pytest.raises(TypeError, match="float"):
        npx.pooling(np.ones((1, 1, 4, 4), dtype="int32"), kernel=(2, 2))


@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
def test_pooling_gradients(kind):
    # distinct values, so the max is unique and finite differences see no ties
    xh = RNG.permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 7.0
    for args in (dict(kernel=(2, 2), stride=(2, 2)),
                 dict(kernel=(3, 3), stride=(2, 1), pad=(1, 1), pooling_convention="full")):
        check_grad(lambda x: npx.pooling(x, pool_type=kind, **args), xh)
    check_grad(lambda x: npx.pooling(x, pool_type=kind, kernel=(3, 3), pad=(1, 1),
                                     count_include_pad=False), xh)
    check_second(lambda x: npx.pooling(x, pool_type=kind, kernel=(2, 2)) ** 2, xh)


# --- im2col / convolution -----------------------------------------------------------------------
def _np_conv(x, w, b, stride, pad, dilate, groups):
    N, C, H, W = x.shape
    F, Cg, KH, KW = w.shape
    xp = onp.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (H + 2 * pad[0] - dilate[0] * (KH - 1) - 1) // stride[0] + 1
    ow = (W + 2 * pad[1] - dilate[1] * (KW - 1) - 1) // stride[1] + 1
    out = onp.zeros((N, F, oh, ow))
    fg = F // groups
    for f in range(F):
        grp = f // fg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, grp * Cg:(grp + 1) * Cg,
                           i * stride[0]:i * stride[0] + dilate[0] * (KH - 1) + 1:dilate[0],
                           j * stride[1]:j * stride[1] + dilate[1] * (KW - 1) + 1:dilate[1]]
                out[:, f, i, j] = (patch * w[f]).sum(axis=(1, 2, 3))
    if b is not None:
        out += b[None, :, None, None]
    return out


def test_im2col_and_col2im_are_adjoint():
    xh = RNG.standard_normal((2, 3, 5, 4))
    geo = (3, 5, 4, 3, 2, 2, 3, 2, 1, 1, 0, 1, 1)     # C H W OH OW KH KW SH SW PH PW DH DW
    cols = nnconv.invoke(nnconv._im2col_op, [np.array(xh)], geo=geo)
    ch = cols.asnumpy()
    assert ch.shape == (2, 3 * 2 * 3, 3 * 2)
    xp = onp.pad(xh, ((0, 0), (0, 0), (1, 1), (0, 0)))
    for c in range(3):
        for ki in range(2):
            for kj in range(3):
                row = (c * 2 + ki) * 3 + kj
                patch = xp[:, c, ki:ki + 5:2, kj:kj + 2]
                onp.testing.assert_array_equal(ch[:, row, :], patch.reshape(2, -1))
    r = RNG.standard_normal(ch.shape)
    # the columns as a transposed (non-contiguous) view
    r_view = np.array(onp.ascontiguousarray(r.transpose(0, 2, 1))).transpose(0, 2, 1)
    back = nnconv.invoke(nnconv._col2im_op, [r_view], geo=geo, xshape=xh.shape).asnumpy()
    onp.testing.assert_allclose((ch * r).sum(), (xh * back).sum(), rtol=1e-12)
    check_grad(lambda x: nnconv.invoke(nnconv._im2col_op, [x], geo=geo), xh)


def _has_matmul():
    try:
        np.matmul(np.ones((2, 2)), np.ones((2, 2)))
        return True
    except MXNetError:
        return False


needs_matmul = pytest.mark.skipif(not _has_matmul(), reason="matmul is not available yet")

CONV_CASES = [
    dict(stride=(1, 1), pad=(0, 0), dilate=(1, 1), groups=1),
    dict(stride=(2, 1), pad=(1, 2), dilate=(1, 1), groups=1),
    dict(stride=(1, 2), pad=(1, 1), dilate=(2, 1), groups=2),
]


@needs_matmul
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_convolution_forward(case):
    a = CONV_CASES[case]
    xh = RNG.standard_normal((2, 4, 6, 5)).astype(onp.float32)
    wh = RNG.standard_normal((6, 4 // a["groups"], 3, 2)).astype(onp.float32)
    bh = RNG.standard_normal(6).astype(onp.float32)
    y = npx.convolution(np.array(xh), np.array(wh), np.array(bh), kernel=(3, 2),
                        stride=a["stride"], pad=a["pad"], dilate=a["dilate"], num_filter=6,
                        num_group=a["groups"])
    ref = _np_conv(xh.astype(onp.float64), wh.astype(onp.float64), bh.astype(onp.float64),
                   a["stride"], a["pad"], a["dilate"], a["groups"])
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-4, atol=1e-4)


@needs_matmul
def test_convolution_1d_views_and_errors():
    xh = RNG.standard_normal((2, 3, 7))
    wh = RNG.standard_normal((4, 3, 3))
    y = npx.convolution(np.array(xh), np.array(wh), no_bias=True, kernel=(3,), num_filter=4,
                        stride=(2,), pad=(1,))
    ref = _np_conv(xh[:, :, None], wh[:, :, None], None, (1, 2), (0, 1), (1, 1), 1)[:, :, 0]
    onp.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-10, atol=1e-10)
    x4 = RNG.standard_normal((2, 5, 3, 3))
    y4 = npx.convolution(np.array(x4).transpose(0, 3, 2, 1), np.array(RNG.standard_normal(
        (2, 3, 2, 2))), kernel=(2, 2), num_filter=2, no_bias=True)
    assert y4.shape == (2, 2, 2, 4)
    with pytest.raises(ValueError, match="input channels"):
        npx.convolution(np.ones((1, 3, 4, 4)), np.ones((2, 2, 2, 2)), kernel=(2, 2),
                        num_filter=2)
    with pytest.raises(ValueError, match="num_filter"):
        npx.convolution(np.ones((1, 3, 4, 4)), np.ones((2, 3, 2, 2)), kernel=(2, 2),
                        num_filter=5)
    with pytest.raises(ValueError, match="num_group"):
        npx.convolution(np.ones((1, 3, 4, 4)), np.ones((2, 3, 2, 2)), kernel=(2, 2),
                        num_group=2)
    with pytest.raises(ValueError, match="bias has shape"):
        npx.convolution(np.ones((1, 3, 4, 4)), np.ones((2, 3, 2, 2)), np.ones(3),
                        kernel=(2, 2))
    with pytest.raises(ValueError, match="layout"):
        npx.convolution(np.ones((1, 3, 4, 4)), np.ones((2, 3, 2, 2)), kernel=(2, 2),
                        layout="NHWC")


@needs_matmul
def test_convolution_gradients():
    xh = RNG.standard_normal((2, 2, 4, 4))
    wh = RNG.standard_normal((4, 1, 2, 2))
    bh = RNG.standard_normal(4)
    check_grad(lambda x, w, b: npx.convolution(x, w, b, kernel=(2, 2), stride=(2, 1),
                                               pad=(1, 0), num_filter=4, num_group=2),
               xh, wh, bh)
    w = np.array(wh)
    check_second(lambda x: npx.convolution(x, w, kernel=(2, 2), num_filter=4, num_group=2,
                                           no_bias=True) ** 2, xh)


# --- fully connected and embedding --------------------------------------------------------------
@needs_matmul
def test_fully_connected():
    xh = RNG.standard_normal((3, 2, 2)).astype(onp.float32)
    wh = RNG.standard_normal((5, 4)).astype(onp.float32)
    bh = RNG.standard_normal(5).astype(onp.float32)
    y = npx.fully_connected(np.array(xh), np.array(wh), np.array(bh), num_hidden=5)
    onp.testing.assert_allclose(y.asnumpy(), xh.reshape(3, 4) @ wh.T + bh, rtol=1e-5,
                                atol=1e-5)
    w2 = RNG.standard_normal((5, 2)).astype(onp.float32)
    y2 = npx.fully_connected(np.array(xh), np.array(w2), num_hidden=5, no_bias=True,
                             flatten=False)
    onp.testing.assert_allclose(y2.asnumpy(), xh @ w2.T, rtol=1e-5, atol=1e-5)
    check_grad(lambda x, w, b: npx.fully_connected(x, w, b, num_hidden=5),
               xh.astype(onp.float64), wh.astype(onp.float64), bh.astype(onp.float64))
    with pytest.raises(ValueError, match="input units"):
        npx.fully_connected(np.array(xh), np.array(w2), num_hidden=5)
    with pytest.raises(ValueError, match="num_hidden"):
        npx.fully_connected(np.array(xh), np.array(wh), num_hidden=3)
    with pytest.raises(ValueError, match="bias has shape"):
        npx.fully_connected(np.array(xh), np.array(wh), np.ones(4), num_hidden=5)


def test_embedding():
    wh = RNG.standard_normal((5, 3))
    idx = onp.array([[0, 4, 4], [2, 7, -1]])
    y = npx.embedding(np.array(idx, dtype="int64"), np.array(wh), input_dim=5, output_dim=3)
    onp.testing.assert_array_equal(y.asnumpy(), wh[onp.clip(idx, 0, 4)])
    # float indices (MXNet's usual), non-contiguous indices and weight, float16 weight
    yf = npx.embedding(np.array(idx.astype(onp.float32)).T, np.array(wh).T.T)
    onp.testing.assert_array_equal(yf.asnumpy(), wh[onp.clip(idx.T, 0, 4)])
    y16 = npx.embedding(np.array(idx, dtype="int32"), np.array(wh.astype(onp.float16)))
    assert y16.dtype == onp.float16
    onp.testing.assert_array_equal(y16.asnumpy(), wh.astype(onp.float16)[onp.clip(idx, 0, 4)])
    assert npx.embedding(np.array(3, dtype="int64"), np.array(wh)).shape == (3,)
    assert npx.embedding(np.zeros((0, 2), dtype="int64"), np.array(wh)).shape == (0, 2, 3)
    # the weight gradient sums repeated indices
    ih = np.array(idx, dtype="int64")
    grads = check_grad(lambda w: npx.embedding(ih, w), wh)
    assert grads[0].shape == wh.shape
    check_second(lambda w: npx.embedding(ih, w) ** 2, wh)
    with pytest.raises(ValueError, match="input_dim"):
        npx.embedding(ih, np.array(wh), input_dim=4)
    with pytest.raises(ValueError, match="2-D"):
        npx.embedding(ih, np.ones(3))
    with pytest.raises(TypeError, match="bool"):
        npx.embedding(np.array(onp.array([True])), np.array(wh))
    with pytest.raises(ValueError, match="sparse_grad"):
        npx.embedding(ih, np.array(wh), sparse_grad=True)


def test_scatter_gradients_are_deterministic():
    # many repeated indices / overlapping windows: the summation order must not vary by run
    wh = RNG.standard_normal((7, 5)).astype(onp.float32)
    ih = np.array(RNG.integers(0, 7, size=(400,)), dtype="int64")
    xh = RNG.standard_normal((1, 2, 9, 9)).astype(onp.float32)
    gh = np.array(RNG.standard_normal((400, 5)).astype(onp.float32))

    def grads():
        w, x = np.array(wh), np.array(xh)
        w.attach_grad()
        x.attach_grad()
        with autograd.record():
            e = npx.embedding(ih, w)
            p = npx.pooling(x, kernel=(3, 3), stride=(1, 1), pool_type="avg")
        autograd.backward([e, p], [gh, np.ones(p.shape)])
        return w.grad.asnumpy(), x.grad.asnumpy()

    (w1, x1), (w2, x2) = grads(), grads()
    assert w1.tobytes() == w2.tobytes() and x1.tobytes() == x2.tobytes()
    ref = onp.zeros_like(wh, dtype=onp.float64)
    onp.add.at(ref, ih.asnumpy(), gh.asnumpy().astype(onp.float64))
    onp.testing.assert_allclose(w1, ref, rtol=1e-5, atol=1e-5)
