"""Every differentiable op's gradient against central finite differences, in float64.

Inputs are drawn inside each op's domain and away from its kinks (ties, integers for the
rounding ops, bounds for clip). Each case also checks that the op it names is really in the
recorded graph, and ``test_every_differentiable_op_has_a_case`` makes sure no registered op
with a vjp is left without one.
"""
import numpy as onp
import pytest

from _graph import recorded_ops
from gradcheck import check_grad
from test_higher_order import SECOND_ORDER_OPS

from clgrad import autograd, np, npx
from clgrad.runtime import default_device

pytestmark = pytest.mark.skipif(not default_device().caps.fp64,
                                reason="finite differences need float64 (cl_khr_fp64)")
from clgrad.ops.registry import REGISTRY

_rng = onp.random.default_rng(1234)


def u(lo, hi, shape=(2, 3)):
    """Uniform values in [lo, hi)."""
    return _rng.uniform(lo, hi, size=shape)


def away(lo, hi, shape=(2, 3), step=1.0, margin=0.15):
    """Uniform values in [lo, hi) at least ``margin`` from every multiple of ``step``."""
    x = u(lo, hi, shape)
    frac = onp.mod(x, step) / step
    frac = onp.clip(frac, margin, 1 - margin)
    return onp.floor(x / step) * step + frac * step


def signed(lo, hi, shape=(2, 3)):
    """Magnitudes in [lo, hi) with alternating signs."""
    x = u(lo, hi, shape)
    s = onp.where(onp.arange(x.size).reshape(shape) % 2 == 0, 1.0, -1.0)
    return x * s


def distinct(shape=(2, 3), lo=-2.0, hi=2.0):
    """Values with no ties (max/min, maximum/minimum, sort need unique winners)."""
    n = int(onp.prod(shape))
    return (onp.linspace(lo, hi, n) + _rng.uniform(-0.05, 0.05, n))[_rng.permutation(n)] \
        .reshape(shape)


CASES = []


def case(op, fn, *inputs, **tol):
    CASES.append(pytest.param(op, fn, inputs, tol, id=f"{op}-{len(CASES)}"))


# --- unary float functions --------------------------------------------------------------------
for name, dom in [
        ("exp", u(-1, 1)), ("expm1", u(-1, 1)), ("log", u(0.5, 2)), ("log1p", u(-0.5, 2)),
        ("log2", u(0.5, 2)), ("log10", u(0.5, 2)), ("sqrt", u(0.5, 2)), ("cbrt", signed(0.5, 2)),
        ("sin", u(-3, 3)), ("cos", u(-3, 3)), ("tan", u(-1, 1)), ("arcsin", u(-0.9, 0.9)),
        ("arccos", u(-0.9, 0.9)), ("arctan", u(-2, 2)), ("sinh", u(-2, 2)), ("cosh", u(-2, 2)),
        ("tanh", u(-2, 2)), ("arcsinh", u(-2, 2)), ("arccosh", u(1.2, 3)),
        ("arctanh", u(-0.9, 0.9)), ("degrees", u(-2, 2)), ("radians", u(-2, 2)),
        ("negative", u(-2, 2)), ("positive", u(-2, 2)), ("absolute", signed(0.2, 2)),
        ("conjugate", u(-2, 2)),
        ("square", u(-2, 2)), ("reciprocal", signed(0.5, 2)),
        # piecewise constant: the gradient is zero everywhere it exists
        ("sign", signed(0.2, 2)), ("floor", away(-3, 3)), ("ceil", away(-3, 3)),
        ("trunc", away(-3, 3)), ("rint", away(-3, 3, step=0.5)), ("fix", away(-3, 3))]:
    case(name, getattr(np, name), dom)

case("absolute", lambda a: abs(a), signed(0.2, 2))                 # the operator spelling
case("negative", lambda a: -a.T, u(-1, 1))                          # on a transposed view
case("exp", lambda a: np.exp(a[::-1, ::2]), u(-1, 1, (3, 4)))       # on a negative-step view
case("rint", lambda a: np.round(a, 1), away(-3, 3, step=0.05, margin=0.2))

# --- binary arithmetic, with broadcasting and Python scalars ---------------------------------
A, B, ROW, COL = u(-2, 2), u(-2, 2), u(-2, 2, (3,)), u(-2, 2, (2, 1))
POS, POS_ROW = u(0.5, 2), u(0.5, 2, (3,))
case("add", np.add, A, B)
case("add", np.add, A, ROW)
case("add", lambda a: a + 1.5, A)
case("add", np.add, COL, ROW)                       # both sides broadcast
case("subtract", np.subtract, A, ROW)
case("subtract", lambda a: 1.5 - a, A)
case("multiply", np.multiply, A, COL)
case("multiply", lambda a: a * -2.5, A)
case("multiply", lambda a: a * a, A)                # both operands the same array
case("true_divide", np.true_divide, A, signed(0.5, 2))
case("true_divide", np.divide, COL, signed(0.5, 2, (3,)))
case("true_divide", lambda b: 2.0 / b, signed(0.5, 2))
case("true_divide", lambda a: a / 4.0, A)
case("power", np.power, POS, u(-1.5, 2.5))
case("power", np.power, POS, u(-1.5, 2.5, (3,)))
case("power", lambda a: a ** 3, A)
case("power", lambda a: a ** 2.5, POS)
case("power", lambda b: 1.7 ** b, u(-2, 2))
case("mod", np.mod, away(-5, 5, margin=0.2) * 1.0, onp.full((2, 3), 1.0))
case("mod", np.mod, onp.array([[2.3, -1.7, 5.2], [4.1, 0.7, -3.3]]),
     onp.array([[1.5, 1.1, 2.0], [1.8, -0.4, 1.4]]))
case("mod", lambda b: np.mod(5.3, b), onp.array([1.5, 1.1, 2.0, -1.4]))
case("fmod", np.fmod, onp.array([[2.3, -1.7, 5.2], [4.1, 0.7, -3.3]]),
     onp.array([[1.5, 1.1, 2.0], [1.8, -0.4, 1.4]]))
case("floor_divide", np.floor_divide, onp.array([[2.3, -1.7, 5.2], [4.1, 0.7, -3.3]]),
     onp.array([[1.5, 1.1, 2.0], [1.8, -0.4, 1.4]]))
case("maximum", np.maximum, distinct(), distinct())
case("maximum", lambda a: np.maximum(a, 0.0), signed(0.2, 2))      # relu
case("minimum", np.minimum, distinct(), distinct((3,)))
case("fmax", np.fmax, distinct(), distinct())
case("fmin", np.fmin, distinct(), distinct((3,)))
case("arctan2", np.arctan2, signed(0.5, 2), signed(0.5, 2, (3,))[::-1].copy())
case("hypot", np.hypot, signed(0.5, 2), u(0.5, 2))
case("copysign", np.copysign, signed(0.5, 2), signed(0.5, 2))
case("copysign", lambda a: np.copysign(a, -1.0), signed(0.5, 2))

# --- where, clip -------------------------------------------------------------------------------
COND = onp.array([[True, False, True], [False, False, True]])
case("where", lambda a, b: np.where(np.array(COND), a, b), A, B)
case("where", lambda a, b: np.where(np.array(COND[0]), a, b), A, ROW)
case("where", lambda a: np.where(a > 0, a * a, 0.5), signed(0.2, 2))
case("clip", lambda a: np.clip(a, -1.0, 1.0), away(-2, 2, step=1.0, margin=0.2))
case("clip", lambda a: np.clip(a, None, 0.5), signed(0.6, 1.5))
case("clip", lambda a, lo: np.clip(a, lo, 1.0), onp.array([[-1.5, 0.2, 0.9], [0.4, -0.3, 1.4]]),
     onp.array([-0.5, 0.0, 0.5]))

# --- reductions --------------------------------------------------------------------------------
T3 = u(-2, 2, (2, 3, 2))
case("sum", np.sum, T3)
case("sum", lambda a: np.sum(a, axis=1), T3)
case("sum", lambda a: a.sum(axis=(0, 2), keepdims=True), T3)
case("mean", np.mean, T3)
case("mean", lambda a: a.mean(axis=(0, 2)), T3)
case("mean", lambda a: a.mean(axis=-1, keepdims=True), T3)
case("prod", lambda a: a.prod(axis=1), signed(0.5, 1.5, (2, 3, 2)))
case("prod", np.prod, signed(0.5, 1.5))
case("prod", lambda a: a.prod(axis=0), onp.array([[0.0, 2.0, 0.0], [3.0, 0.0, 0.0],
                                                   [1.5, -1.0, 0.5]]))   # one and two zeros
case("max", np.max, distinct())
case("max", lambda a: a.max(axis=1, keepdims=True), distinct((2, 3, 2)))
case("min", lambda a: np.min(a, axis=0), distinct())
case("min", lambda a: np.amin(a, axis=(0, 1)), distinct((2, 3, 2)))

# --- views and shape ops ---------------------------------------------------------------------
case("reshape", lambda a: a.reshape(3, 2) * np.array([1.0, 2.0]), A)
case("reshape", lambda a: a.T.reshape(-1), A)                       # a copying reshape
case("reshape", lambda a: np.expand_dims(a, (0, 2)), A)
case("reshape", lambda a: np.squeeze(a, 1), u(-1, 1, (2, 1, 3)))
case("reshape", lambda a: a.ravel(), u(-1, 1, (2, 3))[:, ::-1].copy())
case("transpose", np.transpose, T3)
case("transpose", lambda a: a.transpose(1, 2, 0), T3)
case("transpose", lambda a: np.swapaxes(a, 0, 2), T3)
case("transpose", lambda a: np.moveaxis(a, 0, -1), T3)
case("broadcast_to", lambda a: np.broadcast_to(a, (2, 2, 3)), ROW)
case("broadcast_to", lambda a, b: sum(np.broadcast_arrays(a, b)), COL, ROW)
case("getitem", lambda a: a[1], A)
case("getitem", lambda a: a[:, ::-1], A)
case("getitem", lambda a: a[None, ..., 1:], T3)
case("getitem", lambda a: a[::-2, 1, ::-1], u(-1, 1, (3, 3, 2)))


# MXNet's rule: inside record() only an array outside the graph can be assigned into; the
# assignment is then recorded (its value's gradient flows), and the array joins the graph
def _setitem(a, v):
    b = np.zeros_like(a)
    b[0, 1:] = v
    return b * a


def _setitem_scalar(a):
    b = np.ones_like(a)
    b[:, 1] = a[:, 0] * 0.5
    return b * a


case("setitem", _setitem, A, u(-1, 1, (2,)))
case("setitem", _setitem, A, u(-1, 1, (1,)))                  # the value is broadcast
case("setitem", _setitem, A, u(-1, 1, (1, 2)))                # a leading size-1 axis dropped
case("setitem", _setitem_scalar, A)
case("copy", lambda a: np.copy(a) * a, A)
case("astype", lambda a: a.astype("float64") * 2.0, A)
case("astype", lambda a: a.astype("float32").astype("float64") * 3.0, A,
     eps=1e-2, rtol=1e-3, atol=1e-4)    # float32 in the middle: a coarser step


def _to_other_device(a):
    other = npx.cpu(1)
    return (a.to_device(other) * 3.0).to_device(a.device)


_TWO_CPUS = len([d for d in npx.all_devices() if d.device_type == "cpu"]) > 1
if _TWO_CPUS:
    case("to_device", _to_other_device, A)


# --- linear algebra ------------------------------------------------------------------------------
case("matmul", np.matmul, u(-1, 1, (2, 3)), u(-1, 1, (3, 2)))
case("matmul", np.matmul, u(-1, 1, (2, 2, 3)), u(-1, 1, (3,)))     # batched, 1-d right side
case("matmul", np.dot, u(-1, 1, (3,)), u(-1, 1, (3,)))
case("matmul", lambda x, w: npx.fully_connected(x, w, no_bias=True, num_hidden=2), A,
     u(-1, 1, (2, 3)))
case("einsum_diagonal", lambda a: np.einsum("ii->i", a), u(-1, 1, (3, 3)))
case("einsum_diagonal", lambda a: np.einsum("ii", a), u(-1, 1, (3, 3)))
case("norm", np.linalg.norm, signed(0.5, 2))
case("norm", lambda a: np.linalg.norm(a, ord=1, axis=1), signed(0.5, 2))
case("norm", lambda a: np.linalg.norm(a, ord=onp.inf, axis=0), distinct())

# --- joining, padding, triangles, diagonals -------------------------------------------------------
case("concatenate", lambda a, b: np.concatenate([a, b], axis=1), A, u(-1, 1, (2, 2)))
case("concatenate", lambda a, b: np.stack([a, b], axis=1), A, B)
case("pad", lambda a: np.pad(a, ((1, 0), (0, 2))), A)
case("diagonal", lambda a: np.diagonal(a, 1), u(-1, 1, (3, 4)))
case("tri", np.tril, u(-1, 1, (3, 3)))
case("tri", lambda a: np.triu(a, 1), u(-1, 1, (3, 4)))

# --- integer-array indexing ---------------------------------------------------------------------
IDX = onp.array([2, 0, 2])           # repeated: gradients of repeats add up
case("take", lambda a: np.take(a, np.array(IDX), axis=1), A)
case("take", lambda a: a[np.array([1, 0, 1], dtype="int64")], A)
case("take", lambda a: np.pad(a, 1, mode="reflect"), A)
case("take_along_axis",
     lambda a: np.take_along_axis(a, np.array([[0, 2], [1, 1]], dtype="int64"), axis=1), A)
case("take_along_axis", lambda a: npx.pick(a, np.array([2, 0], dtype="int64"), axis=1), A)


def _advanced_setitem(a, v):
    b = np.zeros_like(a)
    b[:, np.array([2, 0], dtype="int64")] = v
    return b * a


case("advanced_setitem", _advanced_setitem, A, u(-1, 1, (2, 2)))
case("sort", lambda a: np.sort(a, axis=1), distinct())
case("sort", lambda a: np.sort(a, axis=None), distinct())

# --- scans and statistics -------------------------------------------------------------------------
case("cumsum", lambda a: np.cumsum(a, axis=1), A)
case("cumsum", np.cumsum, T3)
case("cumprod", lambda a: np.cumprod(a, axis=1), signed(0.5, 1.5))
case("cumprod", lambda a: np.cumprod(a, axis=0), onp.array([[1.5, 0.0], [0.0, -2.0], [0.5, 2.0]]))
case("var", lambda a: np.var(a, axis=1), A)
case("var", lambda a: np.var(a, ddof=1), A)
case("std", lambda a: np.std(a, axis=0, keepdims=True), A)
case("logsumexp", lambda a: np.logsumexp(a, axis=1), A)
case("logsumexp", np.logsumexp, T3)

# --- neural-network ops ---------------------------------------------------------------------------
case("relu", npx.relu, signed(0.2, 2))
case("sigmoid", npx.sigmoid, u(-3, 3))
case("softrelu", npx.softplus, u(-3, 3))
case("softsign", npx.softsign, signed(0.2, 2))
case("gelu", npx.gelu, u(-3, 3))
case("leaky", lambda a: npx.leaky_relu(a, slope=0.1), signed(0.2, 2))
case("elu", lambda a: npx.leaky_relu(a, act_type="elu", slope=0.7), signed(0.2, 2))
case("selu", lambda a: npx.leaky_relu(a, act_type="selu"), signed(0.2, 2))
case("log_sigmoid", lambda a: npx.activation(a, act_type="log_sigmoid"), u(-3, 3))
case("softmax", lambda a: npx.softmax(a, axis=0), A)
case("softmax", lambda a: npx.softmax(a, temperature=2.0), T3)
case("log_softmax", npx.log_softmax, A)
case("dropout", lambda a: (np.random.seed(3), npx.dropout(a, p=0.5, mode="always"))[1], A)
case("layer_norm", npx.layer_norm, A, u(0.5, 1.5, (3,)), u(-1, 1, (3,)))


def _batch_norm_training(x, gamma, beta):
    with autograd.train_mode():     # batch statistics, as while training
        return npx.batch_norm(x, gamma, beta, np.zeros((3,), dtype=x.dtype),
                              np.ones((3,), dtype=x.dtype), fix_gamma=False, axis=1)


case("batch_norm", _batch_norm_training, u(-1, 1, (4, 3)), u(0.5, 1.5, (3,)), u(-1, 1, (3,)))
case("pooling", lambda x: npx.pooling(x, kernel=(2, 2), pool_type="max"), distinct((1, 1, 4, 4)))
case("pooling", lambda x: npx.pooling(x, kernel=(2, 2), stride=(1, 1), pad=(1, 1),
                                      pool_type="avg"), u(-1, 1, (1, 2, 3, 3)))
case("pooling", lambda x: npx.pooling(x, kernel=(3,), pool_type="sum", stride=(2,)),
     u(-1, 1, (1, 1, 5)))
case("im2col", lambda x, w, b: npx.convolution(x, w, b, kernel=(2, 2), num_filter=2),
     u(-1, 1, (1, 1, 3, 3)), u(-1, 1, (2, 1, 2, 2)), u(-1, 1, (2,)))
case("im2col", lambda x, w: npx.convolution(x, w, None, kernel=(3,), stride=(2,), pad=(1,),
                                            num_filter=2, no_bias=True),
     u(-1, 1, (2, 2, 5)), u(-1, 1, (2, 2, 3)))
case("take", lambda w: npx.embedding(np.array([0, 2, 2], dtype="int64"), w, input_dim=3,
                                     output_dim=2),
     u(-1, 1, (3, 2)))


# ops that are themselves vjps: checked by differentiating their op twice (test_higher_order.py)
COVERED_ELSEWHERE = set(SECOND_ORDER_OPS)


@pytest.mark.parametrize("op, fn, inputs, tol", CASES)
def test_gradient_matches_finite_differences(op, fn, inputs, tol):
    assert op in recorded_ops(fn, *inputs), f"the case does not go through {op}"
    check_grad(fn, *inputs, **tol)


def test_every_differentiable_op_has_a_case():
    covered = {p.values[0] for p in CASES} | set(COVERED_ELSEWHERE)
    if not _TWO_CPUS:
        covered.add("to_device")        # moving between devices needs a second one
    missing = sorted(n for n, op in REGISTRY.items() if op.backward is not None
                     and n not in covered)
    assert not missing, f"ops with a vjp but no finite-difference case here: {missing}"


def test_a_wrong_vjp_is_caught():
    """The checker itself can fail: a deliberately wrong gradient is reported."""
    class Wrong(autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, dy):
            return dy * 3

    with pytest.raises(AssertionError, match="finite differences"):
        check_grad(lambda a: Wrong()(a), u(0.5, 1.0))


# --- conventions at kinks and ties (where finite differences cannot decide) ---------------------
def _grads(fn, *vals):
    xs = [np.array(v) for v in vals]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = fn(*xs)
    y.backward()
    return [x.grad.tolist() for x in xs]


def test_abs_and_sign_have_zero_gradient_at_zero():
    assert _grads(np.abs, [-2.0, 0.0, 3.0]) == [[-1.0, 0.0, 1.0]]
    assert _grads(np.sign, [-2.0, 0.0, 3.0]) == [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("fn", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_ties_send_the_whole_gradient_to_the_first_operand(fn):
    assert _grads(fn, [1.0, 2.0], [1.0, 2.0]) == [[1.0, 1.0], [0.0, 0.0]]


def test_maximum_and_minimum_route_the_gradient_to_the_winner():
    assert _grads(np.maximum, [1.0, 5.0], [3.0, 2.0]) == [[0.0, 1.0], [1.0, 0.0]]
    assert _grads(np.minimum, [1.0, 5.0], [3.0, 2.0]) == [[1.0, 0.0], [0.0, 1.0]]


def test_clip_passes_the_gradient_at_its_bounds():
    assert _grads(lambda a: np.clip(a, 0.0, 1.0), [-0.5, 0.0, 0.5, 1.0, 1.5]) == \
        [[0.0, 1.0, 1.0, 1.0, 0.0]]


def test_reduction_max_gives_every_tied_element_the_gradient():
    assert _grads(lambda a: a.max(), [1.0, 3.0, 3.0]) == [[0.0, 1.0, 1.0]]
    assert _grads(lambda a: a.min(axis=1), [[2.0, 2.0], [1.0, 4.0]]) == [[[1.0, 1.0],
                                                                          [1.0, 0.0]]]


def test_where_gradient_follows_the_condition():
    assert _grads(lambda a, b: np.where(np.array([True, False]), a, b), [1.0, 2.0],
                  [3.0, 4.0]) == [[1.0, 0.0], [0.0, 1.0]]


def test_rounding_and_comparisons_carry_no_gradient():
    assert _grads(lambda a: np.floor(a) + np.ceil(a) + np.rint(a) + np.trunc(a) + a * 0,
                  [0.5, 1.5]) == [[0.0, 0.0]]
    assert _grads(lambda a: (a > 0) * a, [-1.0, 2.0]) == [[0.0, 1.0]]
