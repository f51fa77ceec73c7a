"""gluon.nn basic layers and activations: forward against NumPy, gradients against central
differences (float64), deferred shapes, training vs predict behaviour, containers, errors.

``check_block_grads`` is shared with test_nn_conv.py."""
import math

import numpy as onp
import pytest
from gradcheck import numeric_grad

from clgrad import autograd, init, np
from clgrad.base import MXNetError
from clgrad.gluon import nn

F64 = onp.float64


def rand(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    return onp.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def set_params(block, seed=0, low=-1.0, high=1.0):
    """Random values for every parameter, in its own dtype."""
    for i, p in enumerate(block.collect_params().values()):
        p.set_data(np.array(rand(p.shape, seed + i, low, high, p.dtype)))


def check_block_grads(block, x, train=False, input_grad=True, rtol=1e-5, atol=1e-7):
    """The gradients of sum(block(x) * w) with respect to ``x`` and to every learned
    parameter, against central differences; the block's parameters must be float64."""
    params = [p for p in block.collect_params().values() if p.grad_req != "null"]
    mode = autograd.train_mode if train else autograd.predict_mode
    with mode():
        out_shape = block(np.array(x)).shape
    w = onp.random.default_rng(1).uniform(0.5, 1.5, out_shape)

    def scalar(hx, *hp):
        for p, v in zip(params, hp):
            p.set_data(np.array(v))
        with mode():
            return float((block(np.array(hx)).asnumpy() * w).sum())

    host = [onp.array(x, F64) if input_grad else x] + \
        [p.data().asnumpy().astype(F64) for p in params]
    xd = np.array(host[0])
    if input_grad:
        xd.attach_grad()
    with autograd.record(train_mode=train):
        out = block(xd)
    out.backward(np.array(w))
    analytic = [p.grad().asnumpy() for p in params]
    names = [p.name for p in params]
    if input_grad:
        analytic, names = [xd.grad.asnumpy()] + analytic, ["input"] + names
    first = 0 if input_grad else 1
    for i, (g, name) in enumerate(zip(analytic, names)):
        num = numeric_grad(scalar, host, first + i)
        onp.testing.assert_allclose(g, num, rtol=rtol, atol=atol,
                                    err_msg=f"{block!r}: gradient of {name}")


# --- Dense ---------------------------------------------------------------------------------
def test_dense_forward_flatten_and_not():
    x = rand((2, 3, 4))
    net = nn.Dense(5, activation="relu", in_units=12)
    net.initialize()
    set_params(net)
    W, b = net.weight.data().asnumpy(), net.bias.data().asnumpy()
    onp.testing.assert_allclose(net(np.array(x)).asnumpy(),
                                onp.maximum(x.reshape(2, 12) @ W.T + b, 0), rtol=1e-5, atol=1e-6)
    flat = nn.Dense(5, flatten=False, use_bias=False)
    flat.initialize()
    assert flat.bias is None and list(flat.collect_params()) == ["weight"]
    out = flat(np.array(x)).asnumpy()
    W = flat.weight.data().asnumpy()
    assert W.shape == (5, 4) and out.shape == (2, 3, 5)
    onp.testing.assert_allclose(out, x @ W.T, rtol=1e-5, atol=1e-6)


def test_dense_gradients_float64():
    net = nn.Dense(3, activation="tanh", dtype="float64", in_units=4)
    net.initialize()
    assert net.weight.data().dtype == onp.float64
    check_block_grads(net, rand((2, 4), 3, dtype="float64"))


def test_dense_deferred_shape_and_mismatch_names_block_and_parameter():
    net = nn.Dense(3)
    # an unknown dimension reads -1, as in MXNet's NumPy mode; the repr keeps None
    assert net.weight.shape == (3, -1) and repr(net) == "Dense(None -> 3, linear)"
    net.initialize(init.Xavier())
    out = net(np.array(rand((2, 5))))
    assert out.shape == (2, 3) and net.weight.shape == (3, 5) and net.bias.shape == (3,)
    assert repr(net) == "Dense(5 -> 3, linear)"
    with pytest.raises(MXNetError) as e:
        net(np.array(rand((2, 7))))
    assert isinstance(e.value, ValueError)
    assert "Dense(5 -> 3" in str(e.value) and "'weight'" in str(e.value)
    given = nn.Dense(3, in_units=4)
    given.initialize()
    with pytest.raises(MXNetError, match=r"Dense\(4 -> 3.*'weight'"):
        given(np.array(rand((2, 5))))


def test_dense_repr_with_activation():
    assert repr(nn.Dense(10, activation="relu", in_units=20)) == \
        "Dense(20 -> 10, Activation(relu))"


# --- Dropout -------------------------------------------------------------------------------
def test_dropout_training_vs_predict():
    x = onp.ones((40, 50), "float32")
    net = nn.Dropout(0.5)
    assert repr(net) == "Dropout(p = 0.5, axes=())"
    with autograd.predict_mode():
        onp.testing.assert_array_equal(net(np.array(x)).asnumpy(), x)
    onp.testing.assert_array_equal(net(np.array(x)).asnumpy(), x)   # outside record: predict
    with autograd.record():
        y = net(np.array(x)).asnumpy()
    assert set(onp.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    with autograd.train_mode():
        y = nn.Dropout(0.5, axes=(1,))(np.array(x)).asnumpy()
    assert (y == y[:, :1]).all()                  # one mask value shared along axis 1
    with autograd.record():
        onp.testing.assert_array_equal(nn.Dropout(0)(np.array(x)).asnumpy(), x)


# --- BatchNorm -----------------------------------------------------------------------------
def _bn_reference(x, gamma, beta, mean, var, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / onp.sqrt(var.reshape(shape) + eps) * \
        gamma.reshape(shape) + beta.reshape(shape)


def test_batchnorm_training_updates_running_stats_with_momentum():
    x = rand((4, 3, 2, 2), 5) * 3 + 1
    net = nn.BatchNorm(momentum=0.8, in_channels=3)
    net.initialize()
    set_params(net, 2, 0.5, 1.5)
    gamma, beta = net.gamma.data().asnumpy(), net.beta.data().asnumpy()
    rm, rv = net.running_mean.data().asnumpy(), net.running_var.data().asnumpy()
    bm, bv = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    with autograd.record():
        y = net(np.array(x))
    onp.testing.assert_allclose(y.asnumpy(), _bn_reference(x, gamma, beta, bm, bv), rtol=1e-4,
                                atol=1e-5)
    new_rm, new_rv = 0.8 * rm + 0.2 * bm, 0.8 * rv + 0.2 * bv
    onp.testing.assert_allclose(net.running_mean.data().asnumpy(), new_rm, rtol=1e-5)
    onp.testing.assert_allclose(net.running_var.data().asnumpy(), new_rv, rtol=1e-5)
    # predicting normalizes with the running statistics and leaves them alone
    with autograd.predict_mode():
        y = net(np.array(x))
    onp.testing.assert_allclose(y.asnumpy(), _bn_reference(x, gamma, beta, new_rm, new_rv),
                                rtol=1e-4, atol=1e-5)
    onp.testing.assert_allclose(net.running_mean.data().asnumpy(), new_rm, rtol=1e-6)
    assert net.running_mean.grad_req == "null" and net.running_var.grad_req == "null"


def test_batchnorm_global_stats_axis_and_repr():
    net = nn.BatchNorm(axis=-1, use_global_stats=True)
    assert repr(net) == ("BatchNorm(axis=-1, eps=1e-05, momentum=0.9, fix_gamma=False, "
                         "use_global_stats=True, in_channels=None)")
    net.initialize()
    x = rand((5, 4), 1)
    with autograd.record():
        y = net(np.array(x))
    assert net.gamma.shape == (4,) and "in_channels=4" in repr(net)
    onp.testing.assert_allclose(y.asnumpy(), x / onp.sqrt(1 + 1e-5), rtol=1e-5)
    onp.testing.assert_array_equal(net.running_mean.data().asnumpy(), onp.zeros(4))


def test_batchnorm_gradients_in_training():
    net = nn.BatchNorm(in_channels=2)
    net.cast("float64")
    net.initialize()
    set_params(net, 4, 0.5, 1.5)
    check_block_grads(net, rand((3, 2, 2, 2), 6, dtype="float64"), train=True, rtol=1e-4,
                      atol=1e-6)


def test_batchnorm_channel_mismatch_after_inference():
    net = nn.BatchNorm()
    net.initialize()
    net(np.array(rand((2, 3, 4))))
    with pytest.raises(MXNetError, match=r"BatchNorm\(.*'gamma'"):
        net(np.array(rand((2, 5, 4))))


# --- LayerNorm, GroupNorm, InstanceNorm ------------------------------------------------------
def _normalize(x, axes, eps=1e-5):
    m = x.mean(axis=axes, keepdims=True)
    return (x - m) / onp.sqrt(x.var(axis=axes, keepdims=True) + eps)


def test_layernorm_forward_and_gradients():
    x = rand((2, 3, 4), 1) * 2
    net = nn.LayerNorm(in_channels=4)
    net.initialize()
    set_params(net, 3, 0.5, 1.5)
    g, b = net.gamma.data().asnumpy(), net.beta.data().asnumpy()
    assert g.shape == (4,)
    onp.testing.assert_allclose(net(np.array(x)).asnumpy(), _normalize(x, -1) * g + b,
                                rtol=1e-4, atol=1e-5)
    mid = nn.LayerNorm(axis=1, in_channels=3)
    mid.cast("float64")
    mid.initialize()
    set_params(mid, 5, 0.5, 1.5)
    check_block_grads(mid, rand((2, 3, 2), 7, dtype="float64"), rtol=1e-4, atol=1e-6)


def test_groupnorm_forward_and_gradients():
    x = rand((2, 6, 3, 2), 8) * 2
    net = nn.GroupNorm(num_groups=3)
    net.initialize()
    assert net.gamma.shape == (-1,) and net(np.array(x)).shape == x.shape
    set_params(net, 9, 0.5, 1.5)
    g = net.gamma.data().asnumpy().reshape(1, 6, 1, 1)
    b = net.beta.data().asnumpy().reshape(1, 6, 1, 1)
    ref = _normalize(x.reshape(2, 3, -1), 2).reshape(x.shape) * g + b
    onp.testing.assert_allclose(net(np.array(x)).asnumpy(), ref, rtol=1e-4, atol=1e-5)
    assert repr(net) == ("GroupNorm(eps=1e-05, num_groups=3, center=True, scale=True, "
                         "in_channels=6)")
    g64 = nn.GroupNorm(num_groups=2, in_channels=4)
    g64.cast("float64")
    g64.initialize()
    set_params(g64, 10, 0.5, 1.5)
    check_block_grads(g64, rand((2, 4, 3), 11, dtype="float64"), rtol=1e-4, atol=1e-6)
    with pytest.raises(MXNetError, match="GroupNorm.*5 channels.*3 groups"):
        nn.GroupNorm(3)(np.array(rand((2, 5, 2))))


def test_instancenorm_forward_and_gradients():
    x = rand((2, 3, 4, 2), 12) * 2
    net = nn.InstanceNorm(scale=True, in_channels=3)
    net.initialize()
    set_params(net, 13, 0.5, 1.5)
    g = net.gamma.data().asnumpy().reshape(1, 3, 1, 1)
    b = net.beta.data().asnumpy().reshape(1, 3, 1, 1)
    onp.testing.assert_allclose(net(np.array(x)).asnumpy(), _normalize(x, (2, 3)) * g + b,
                                rtol=1e-4, atol=1e-5)
    # MXNet's default scale=False: gamma stays 1 and takes no gradient
    fixed = nn.InstanceNorm(axis=2)
    fixed.initialize()
    assert fixed.gamma.grad_req == "null" and fixed.beta.grad_req == "write"
    ref = onp.swapaxes(_normalize(onp.swapaxes(x, 1, 2), (2, 3)), 1, 2)
    onp.testing.assert_allclose(fixed(np.array(x)).asnumpy(), ref, rtol=1e-4, atol=1e-5)
    assert fixed.gamma.shape == (4,)
    i64 = nn.InstanceNorm(scale=True, in_channels=2)
    i64.cast("float64")
    i64.initialize()
    set_params(i64, 14, 0.5, 1.5)
    check_block_grads(i64, rand((2, 2, 4), 15, dtype="float64"), rtol=1e-4, atol=1e-6)


# --- Embedding, Flatten ----------------------------------------------------------------------
def test_embedding_forward_and_weight_gradient():
    net = nn.Embedding(6, 3)
    assert repr(net) == "Embedding(6 -> 3, float32)" and net.weight.shape == (6, 3)
    net.initialize()
    idx = onp.array([[0, 2, 2], [5, 1, 0]])
    onp.testing.assert_array_equal(net(np.array(idx)).asnumpy(),
                                   net.weight.data().asnumpy()[idx])
    e64 = nn.Embedding(5, 2, dtype="float64")
    e64.initialize()
    check_block_grads(e64, onp.array([[1, 3, 1], [4, 0, 1]]), input_grad=False)
    with pytest.raises(MXNetError, match="sparse_grad"):
        nn.Embedding(5, 2, sparse_grad=True)


def test_flatten_and_identity():
    x = rand((2, 3, 4))
    assert repr(nn.Flatten()) == "Flatten"
    onp.testing.assert_array_equal(nn.Flatten()(np.array(x)).asnumpy(), x.reshape(2, 12))
    onp.testing.assert_array_equal(nn.Identity()(np.array(x)).asnumpy(), x)


# --- activations -----------------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + onp.exp(-x))


_erf = onp.vectorize(math.erf)

ACTIVATIONS = {
    "relu": (lambda: nn.Activation("relu"), lambda x: onp.maximum(x, 0)),
    "sigmoid": (lambda: nn.Activation("sigmoid"), _sigmoid),
    "tanh": (lambda: nn.Activation("tanh"), onp.tanh),
    "softrelu": (lambda: nn.Activation("softrelu"), lambda x: onp.log1p(onp.exp(x))),
    "softsign": (lambda: nn.Activation("softsign"), lambda x: x / (1 + onp.abs(x))),
    "leaky": (lambda: nn.LeakyReLU(0.1), lambda x: onp.where(x >= 0, x, 0.1 * x)),
    "elu": (lambda: nn.ELU(0.7), lambda x: onp.where(x > 0, x, 0.7 * (onp.exp(x) - 1))),
    "selu": (lambda: nn.SELU(), lambda x: 1.0507009873554805 * onp.where(
        x > 0, x, 1.6732632423543772 * (onp.exp(x) - 1))),
    "gelu_erf": (lambda: nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda: nn.GELU(approximation="tanh"), lambda x: 0.5 * x * (1 + onp.tanh(
        math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (lambda: nn.SiLU(), lambda x: x * _sigmoid(x)),
    "swish": (lambda: nn.Swish(1.5), lambda x: x * _sigmoid(1.5 * x)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_forward(name):
    make, ref = ACTIVATIONS[name]
    x = rand((3, 5), 21, -3, 3)
    onp.testing.assert_allclose(make()(np.array(x)).asnumpy(), ref(x.astype(F64)), rtol=1e-5,
                                atol=1e-6)


def test_activation_reprs_and_errors():
    assert repr(nn.Activation("relu")) == "Activation(relu)"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(0.1)"
    with pytest.raises(MXNetError, match="Activation.*'swishy'"):
        nn.Activation("swishy")
    with pytest.raises(MXNetError, match="Dense|Activation"):
        nn.Dense(3, activation="nope")
    with pytest.raises(ValueError, match="GELU.*approximation"):
        nn.GELU(approximation="sigmoid")
    with pytest.raises(AssertionError, match="LeakyReLU"):
        nn.LeakyReLU(-0.1)


def test_prelu_forward_and_gradients():
    x = rand((2, 3, 4), 22)
    shared = nn.PReLU()
    shared.initialize()
    assert shared.alpha.shape == (1,)
    onp.testing.assert_allclose(shared(np.array(x)).asnumpy(), onp.where(x > 0, x, 0.25 * x),
                                rtol=1e-6)
    per_channel = nn.PReLU(alpha_initializer=init.Uniform(0.5), in_channels=3)
    per_channel.cast("float64")
    per_channel.initialize()
    a = per_channel.alpha.data().asnumpy().reshape(1, 3, 1)
    x64 = rand((2, 3, 4), 23, dtype="float64")
    onp.testing.assert_allclose(per_channel(np.array(x64)).asnumpy(),
                                onp.where(x64 > 0, x64, a * x64), rtol=1e-12)
    check_block_grads(per_channel, x64)
    with pytest.raises(MXNetError, match="PReLU.*'alpha'"):
        per_channel(np.array(rand((2, 4, 4))))


# --- containers ------------------------------------------------------------------------------
def test_sequential_indexing_slicing_len_iteration_repr():
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dropout(0.5))
    net.add(nn.Dense(2))
    assert len(net) == 3 and list(net._children) == ["0", "1", "2"]
    assert isinstance(net[0], nn.Dense) and net[-1] is net[2]
    part = net[1:]
    assert type(part) is nn.Sequential and len(part) == 2 and part[0] is net[1]
    assert [type(b).__name__ for b in net] == ["Dense", "Dropout", "Dense"]
    assert repr(net) == ("Sequential(\n"
                         "  (0): Dense(None -> 4, Activation(relu))\n"
                         "  (1): Dropout(p = 0.5, axes=())\n"
                         "  (2): Dense(None -> 2, linear)\n)")
    hybrid = nn.HybridSequential()
    hybrid.add(nn.Dense(3), nn.Dense(1))
    assert type(hybrid[:1]) is nn.HybridSequential
    net.initialize()
    x = rand((5, 3))
    out = net(np.array(x))
    W0, b0 = net[0].weight.data().asnumpy(), net[0].bias.data().asnumpy()
    W2, b2 = net[2].weight.data().asnumpy(), net[2].bias.data().asnumpy()
    ref = onp.maximum(x @ W0.T + b0, 0) @ W2.T + b2
    onp.testing.assert_allclose(out.asnumpy(), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(MXNetError, match="expected a Block"):
        net.add(lambda x: x)


def test_nested_structural_names():
    net = nn.HybridSequential()
    inner = nn.HybridSequential()
    inner.add(nn.Dense(3), nn.BatchNorm())
    net.add(nn.Dense(4), inner)
    assert list(net.collect_params()) == [
        "0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.gamma", "1.1.beta",
        "1.1.running_mean", "1.1.running_var"]
    net.initialize()
    assert net(np.array(rand((2, 5)))).shape == (2, 3)
    assert net.collect_params()["1.0.weight"].shape == (3, 4)


def test_lambda_and_concatenate():
    x = rand((2, 3), 30, -2, 2)
    onp.testing.assert_allclose(nn.HybridLambda("tanh")(np.array(x)).asnumpy(), onp.tanh(x),
                                rtol=1e-6)
    onp.testing.assert_array_equal(nn.Lambda("relu")(np.array(x)).asnumpy(),
                                   onp.maximum(x, 0))
    twice = nn.HybridLambda(lambda v: v * 2)
    onp.testing.assert_array_equal(twice(np.array(x)).asnumpy(), x * 2)
    assert repr(nn.Lambda("relu")) == "Lambda(relu)"
    with pytest.raises(MXNetError, match="Lambda.*'no_such_fn'"):
        nn.Lambda("no_such_fn")
    with pytest.raises(ValueError, match="HybridLambda"):
        nn.HybridLambda(3)
    cat = nn.HybridConcatenate(axis=1)
    cat.add(nn.Identity(), nn.HybridLambda(lambda v: v * 2))
    onp.testing.assert_array_equal(cat(np.array(x)).asnumpy(), onp.concatenate([x, 2 * x], 1))
    assert cat[:1].axis == 1
    seq_cat = nn.Concatenate()
    seq_cat.add(nn.Identity(), nn.Identity())
    assert seq_cat(np.array(x)).shape == (2, 6)
