"""Gradients of gradients: grad(create_graph=True) then backward, against closed forms and
against finite differences of the first gradient."""
import numpy as onp
import pytest

from _graph import ops_in_graph

from clgrad import autograd, np, npx
from clgrad.runtime import default_device

pytestmark = pytest.mark.skipif(not default_device().caps.fp64,
                                reason="finite differences need float64 (cl_khr_fp64)")


def _x(vals, dtype="float64"):
    x = np.array(vals, dtype=dtype)
    x.attach_grad()
    return x


def _second(f, xv):
    """d/dx sum(f'(x)) elementwise, via grad(create_graph=True) then backward."""
    x = _x(xv)
    with autograd.record():
        y = f(x)
        (g,) = autograd.grad(y, [x], create_graph=True)
    g.backward()
    return g.asnumpy(), x.grad.asnumpy()


XV = [-1.3, -0.4, 0.7, 1.6]


@pytest.mark.parametrize("f, d1, d2", [
    (lambda x: x * x * x, lambda v: 3 * v ** 2, lambda v: 6 * v),
    (lambda x: x ** 3, lambda v: 3 * v ** 2, lambda v: 6 * v),
    (np.sin, onp.cos, lambda v: -onp.sin(v)),
    (np.exp, onp.exp, onp.exp),
    (np.tanh, lambda v: 1 - onp.tanh(v) ** 2,
     lambda v: -2 * onp.tanh(v) * (1 - onp.tanh(v) ** 2)),
    (lambda x: np.log(x * x + 1), lambda v: 2 * v / (v * v + 1),
     lambda v: (2 - 2 * v * v) / (v * v + 1) ** 2),
    (lambda x: 1 / (1 + np.exp(-x)), lambda v: onp.exp(-v) / (1 + onp.exp(-v)) ** 2,
     lambda v: (lambda s: s * (1 - s) * (1 - 2 * s))(1 / (1 + onp.exp(-v)))),
], ids=["x*x*x", "x**3", "sin", "exp", "tanh", "log(x^2+1)", "sigmoid"])
def test_second_derivative_of_unary_functions(f, d1, d2):
    g, gg = _second(f, XV)
    v = onp.array(XV)
    onp.testing.assert_allclose(g, d1(v), rtol=1e-10, atol=1e-12)
    onp.testing.assert_allclose(gg, d2(v), rtol=1e-10, atol=1e-12)


def test_third_derivative_by_chaining_grad():
    x = _x(XV)
    with autograd.record():
        y = x ** 4
        (g1,) = autograd.grad(y, [x], create_graph=True)
        (g2,) = autograd.grad(g1, [x], create_graph=True)
    g2.backward()
    v = onp.array(XV)
    onp.testing.assert_allclose(g1.asnumpy(), 4 * v ** 3)
    onp.testing.assert_allclose(g2.asnumpy(), 12 * v ** 2)
    onp.testing.assert_allclose(x.grad.asnumpy(), 24 * v)


def test_mixed_partials_of_a_product():
    """f = sum(x * y * y): d/dx f = y^2, then d/dy of sum(y^2) = 2y, d/dx of it = 0."""
    x = _x([1.0, 2.0, 3.0])
    y = _x([4.0, 5.0, 6.0])
    with autograd.record():
        f = (x * y * y).sum()
        gx, gy = autograd.grad(f, [x, y], create_graph=True)
    assert gx.tolist() == [16.0, 25.0, 36.0]
    assert gy.tolist() == [8.0, 20.0, 36.0]
    autograd.backward([gx])
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert y.grad.tolist() == [8.0, 10.0, 12.0]
    with autograd.record():
        f = (x * y).sum()
        gx, gy = autograd.grad(f, [x, y], create_graph=True)
        s = (gx * gy).sum()             # d/dx sum(x*y) = y, d/dy = x: s = sum(x*y) again
    s.backward()
    assert x.grad.tolist() == [4.0, 5.0, 6.0]
    assert y.grad.tolist() == [1.0, 2.0, 3.0]


def test_second_order_through_broadcasting_and_sums():
    """f = sum((x[:, None] + w[None, :])^2 * x[:, None]); the sum over the broadcast axis
    appears in the first gradient and must be differentiated again."""
    xv = onp.array([0.5, -1.0])
    wv = onp.array([1.5, 2.0, -0.5])
    x = _x(xv)
    w = _x(wv)
    with autograd.record():
        xb = x.reshape(2, 1)
        f = (((xb + w) ** 2) * xb).sum()
        gx, gw = autograd.grad(f, [x, w], create_graph=True)
        s = (gx * gx).sum() + gw.sum()
    s.backward()
    X, W = onp.meshgrid(xv, wv, indexing="ij")
    gx_ref = (3 * X ** 2 + 4 * X * W + W ** 2).sum(1)
    gw_ref = (2 * (X + W) * X).sum(0)
    onp.testing.assert_allclose(gx.asnumpy(), gx_ref)
    onp.testing.assert_allclose(gw.asnumpy(), gw_ref)
    # s = sum_i gx_i^2 + sum_j gw_j
    dgx_dx = (6 * X + 4 * W).sum(1)                 # d gx_i / d x_i
    dgx_dw = 4 * X + 2 * W                          # d gx_i / d w_j
    dgw_dx = (4 * X + 2 * W).sum(1)                 # d sum_j gw_j / d x_i
    dgw_dw = (2 * X).sum(0)                         # d sum_j gw_j / d w_j
    onp.testing.assert_allclose(x.grad.asnumpy(), 2 * gx_ref * dgx_dx + dgw_dx)
    onp.testing.assert_allclose(w.grad.asnumpy(), (2 * gx_ref[:, None] * dgx_dw).sum(0) + dgw_dw)


def _matmul_available():
    try:
        a = np.ones((1, 1))
        np.matmul(a, a)
        return True
    except Exception:   # noqa: BLE001  (matmul not there yet)
        return False


@pytest.mark.skipif(not _matmul_available(), reason="matmul is not available")
def test_second_order_through_matmul():
    """f = sum((A @ x)^3): grad = 3 A^T (A x)^2; the Hessian-vector product with v is
    6 A^T ((A x) * (A v))."""
    rng = onp.random.default_rng(0)
    Av, xv, vv = rng.normal(size=(3, 2)), rng.normal(size=(2, 1)), rng.normal(size=(2, 1))
    A = np.array(Av)
    x = _x(xv)
    v = np.array(vv)
    with autograd.record():
        f = (np.matmul(A, x) ** 3).sum()
        (g,) = autograd.grad(f, [x], create_graph=True)
        hv = (g * v).sum()
    hv.backward()
    ax = Av @ xv
    onp.testing.assert_allclose(g.asnumpy(), 3 * Av.T @ ax ** 2, rtol=1e-10)
    onp.testing.assert_allclose(x.grad.asnumpy(), 6 * Av.T @ (ax * (Av @ vv)), rtol=1e-10)


# --- second derivatives against finite differences of the first gradient ------------------------
def _first_grad(f, host_inputs, i):
    xs = [np.array(h) for h in host_inputs]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = f(*xs)
    (g,) = autograd.grad(y, [xs[i]])
    return g.asnumpy()


def check_second_order(f, *host_inputs, v_seed=0, eps=1e-5, rtol=1e-5, atol=1e-7):
    """Compare d/dx_j sum(grad_{x_i} f * v) from create_graph with central differences.

    Returns the names of the ops recorded in the first gradients' graphs (what the second
    backward differentiated)."""
    host = [onp.array(h, dtype=onp.float64) for h in host_inputs]
    rng = onp.random.default_rng(v_seed)
    names = set()
    for i in range(len(host)):
        v = rng.uniform(0.5, 1.5, size=host[i].shape)
        xs = [np.array(h) for h in host]
        for x in xs:
            x.attach_grad()
        with autograd.record():
            y = f(*xs)
            (g,) = autograd.grad(y, [xs[i]], create_graph=True)
            s = (g * np.array(v)).sum()
        names |= ops_in_graph(s)
        s.backward()
        for j in range(len(host)):
            num = onp.zeros_like(host[j])
            flat = host[j].reshape(-1)
            for k in range(flat.size):
                old = flat[k]
                flat[k] = old + eps
                hi = (_first_grad(f, host, i) * v).sum()
                flat[k] = old - eps
                lo = (_first_grad(f, host, i) * v).sum()
                flat[k] = old
                num.reshape(-1)[k] = (hi - lo) / (2 * eps)
            onp.testing.assert_allclose(xs[j].grad.asnumpy(), num, rtol=rtol, atol=atol,
                                        err_msg=f"d2/dx{j}dx{i} differs from finite differences")
    return names


_r = onp.random.default_rng(7)
P = _r.uniform(0.5, 1.5, (2, 3))
Q = _r.uniform(-1.5, 1.5, (2, 3))
R = _r.uniform(-1.5, 1.5, (3,))


@pytest.mark.parametrize("f, inputs", [
    (lambda a, b: (a * b * b).sum(), (P, Q)),
    (lambda a, b: a / b, (Q, P)),
    (lambda a, b: a ** b, (P, Q)),
    (lambda a: np.sqrt(a) * np.log(a), (P,)),
    (lambda a: np.arctan(a) + np.cos(a) * np.sinh(a), (Q,)),
    (lambda a, b: np.hypot(a, b) + np.arctan2(a, b), (P, Q)),
    (lambda a, r: (a - r) ** 2, (Q, R)),
    (lambda a, r: np.maximum(a, r) * a, (Q, R)),
    (lambda a: a.prod(axis=1), (Q,)),
    (lambda a: a.mean(axis=0) ** 2, (Q,)),
    (lambda a: np.where(a > 0, a ** 3, -a), (Q,)),
    (lambda a: np.clip(a, -1.0, 1.0) ** 3, (Q,)),
    (lambda a: a.max(axis=1) ** 2, (Q,)),
    (lambda a: a.astype("float64") ** 3, (Q,)),
], ids=["a*b*b", "a/b", "a**b", "sqrt*log", "arctan+cos*sinh", "hypot+arctan2",
        "broadcast-sub-square", "maximum*a", "prod", "mean^2", "where", "clip^3", "max^2",
        "astype"])
def test_second_order_matches_finite_differences(f, inputs):
    check_second_order(f, *inputs)


def test_second_order_through_views():
    """Views and basic indexing (whose vjp scatters into zeros) differentiated twice."""
    check_second_order(lambda a: (a.T[::-1, 1:] ** 3).reshape(-1)[1:] * 2.0, Q)
    check_second_order(lambda a: np.broadcast_to(a, (2, 3)) ** 3 + np.expand_dims(a, 0), R)

    def set_then_cube(a):
        b = np.zeros_like(a)    # not in the graph: assigning a recorded value into it records
        b[0, ::2] = a[1, ::2] * a[0, ::2]
        return (b + a) ** 3
    check_second_order(set_then_cube, Q)


# --- ops that are vjps of other ops (the *_backward family), differentiated in turn ---------------
_S = onp.where(onp.arange(6).reshape(2, 3) % 2 == 0, 1.0, -1.0) * _r.uniform(0.2, 1.5, (2, 3))
_I3 = onp.array([2, 0, 2])


def _max_pool(x):
    return npx.pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max")


def _max_pool_input_grad(x):
    """The first gradient of a max pool times x: differentiating it records the gather (the
    scatter's vjp) on a cotangent that depends on x, and the check then runs the gather's vjp."""
    (g,) = autograd.grad(_max_pool(x) ** 3 * np.array(_W2), [x], create_graph=True)
    return g * x


_r2 = onp.random.default_rng(11)
_W2 = _r2.uniform(0.5, 1.5, (1, 1, 2, 2))
_X4 = (onp.linspace(-2, 2, 16) + _r2.uniform(-0.05, 0.05, 16))[_r2.permutation(16)] \
    .reshape(1, 1, 4, 4)

SECOND_ORDER_CASES = [
    ("relu_backward", lambda a: npx.relu(a) * a, (_S,)),
    ("sigmoid_backward", npx.sigmoid, (Q,)),
    ("softrelu_backward", npx.softplus, (Q,)),
    ("log_sigmoid_backward", lambda a: npx.activation(a, act_type="log_sigmoid"), (Q,)),
    ("softsign_backward", npx.softsign, (_S,)),
    ("gelu_backward", npx.gelu, (Q,)),
    ("leaky_backward", lambda a: npx.leaky_relu(a, slope=0.1) * a, (_S,)),
    ("elu_backward", lambda a: npx.leaky_relu(a, act_type="elu", slope=0.7), (_S,)),
    ("selu_backward", lambda a: npx.leaky_relu(a, act_type="selu"), (_S,)),
    ("take_backward", lambda a: np.take(a, np.array(_I3), axis=1) ** 3, (Q,)),
    ("take_backward",
     lambda w: npx.embedding(np.array(_I3), w, input_dim=3, output_dim=2) ** 3,
     (_r.uniform(-1, 1, (3, 2)),)),
    ("take_along_axis_backward",
     lambda a: np.take_along_axis(a, np.array([[0, 2], [1, 1]], dtype="int64"), axis=1) ** 3,
     (Q,)),
    ("diagonal_backward", lambda a: np.diagonal(a, 1) ** 3, (_r.uniform(-1, 1, (3, 4)),)),
    ("getitem_backward", lambda a: a[1:, ::-1] ** 3, (Q,)),
    ("pooling_max_backward", lambda x: _max_pool(x) ** 3, (_X4,)),
    ("pooling_gather", _max_pool_input_grad, (_X4,)),
    ("pooling_backward",
     lambda x: npx.pooling(x, kernel=(2, 2), stride=(1, 1), pool_type="avg") ** 3,
     (_r.uniform(-1, 1, (1, 1, 3, 3)),)),
    ("col2im",
     lambda x, w: npx.convolution(x, w, None, kernel=(2, 2), num_filter=2, no_bias=True) ** 2,
     (_r.uniform(-1, 1, (1, 1, 3, 3)), _r.uniform(-1, 1, (2, 1, 2, 2)))),
]
SECOND_ORDER_OPS = {c[0] for c in SECOND_ORDER_CASES}


@pytest.mark.parametrize("op, f, inputs", SECOND_ORDER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SECOND_ORDER_CASES)])
def test_second_order_of_ops_that_are_vjps(op, f, inputs):
    names = check_second_order(f, *inputs)
    assert op in names, f"{op} is not in the differentiated gradient graph ({sorted(names)})"
