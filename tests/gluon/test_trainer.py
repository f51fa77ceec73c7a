"""gluon.Trainer on a tiny model built from Parameters: training, batch-size rescaling, packed
parameters that keep their values, stale gradients, grad_req 'null' and 'add', learning-rate
setters, and states files."""
import os

import numpy as onp
import pytest

import clgrad
from clgrad import autograd, gluon, np
from clgrad import lr_scheduler as lrs
from clgrad import optimizer as opt
from clgrad.base import MXNetError
from clgrad.gluon import Block, Parameter
from clgrad.gluon.trainer import StatesFileError, Trainer
from clgrad.runtime import default_device


class Affine(Block):
    def __init__(self, n_in=4, n_out=2, dtype="float32", deferred=False):
        super().__init__()
        self.weight = Parameter("weight", shape=(0 if deferred else n_in, n_out), dtype=dtype,
                                allow_deferred_init=deferred)
        self.bias = Parameter("bias", shape=(n_out,), dtype=dtype)

    def infer_shape(self, x):
        self.weight.shape = (x.shape[1], self.weight.shape[1])

    def forward(self, x):
        return np.dot(x, self.weight.data()) + self.bias.data()


class UsesOne(Block):
    """Two parameters; the forward reads only ``a`` (``b`` goes stale)."""

    def __init__(self):
        super().__init__()
        self.a = Parameter("weight", shape=(3,))
        self.b = Parameter("bias", shape=(3,))

    def forward(self, x):
        return (x * self.a.data()).sum()


def _data(dtype="float32", n=16, seed=0):
    rng = onp.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(dtype)
    y = (x @ rng.standard_normal((4, 2)) + 0.5).astype(dtype)
    return np.array(x), np.array(y)


def _net(dtype="float32", seed=1, **kw):
    net = Affine(dtype=dtype, **kw)
    net.initialize()
    rng = onp.random.default_rng(seed)
    if not kw.get("deferred"):
        net.weight.set_data(np.array(rng.standard_normal((4, 2)).astype(dtype)))
    net.bias.set_data(np.zeros((2,), dtype=dtype))
    return net


def _loss_step(net, trainer, x, y, batch_size=1):
    with autograd.record():
        loss = ((net(x) - y) ** 2).mean()
    loss.backward()
    trainer.step(batch_size)
    return float(loss.item())


@pytest.mark.parametrize("name,params", [("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
                                         ("adam", {"learning_rate": 0.1}),
                                         ("lamb", {"learning_rate": 0.1}),
                                         ("rmsprop", {"learning_rate": 0.05})])
def test_training_reduces_the_loss(name, params):
    net, (x, y) = _net(), _data()
    trainer = Trainer(net.collect_params(), name, params)
    losses = [_loss_step(net, trainer, x, y) for _ in range(25)]
    assert losses[-1] < 0.3 * losses[0], losses


def test_step_rescales_by_batch_size():
    net, (x, y) = _net(), _data()
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    w0 = net.weight.data().asnumpy()
    with autograd.record():
        loss = ((net(x) - y) ** 2).sum()
    loss.backward()
    g = net.weight.grad().asnumpy()
    trainer.step(4)
    onp.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.1 * g / 4, rtol=1e-6)
    assert trainer.optimizer.rescale_grad == 0.25


def test_packed_parameters_keep_their_values_and_write_through():
    net, (x, y) = _net(), _data()
    before = {k: p.data().asnumpy() for k, p in net.collect_params().items()}
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    for k, p in net.collect_params().items():
        onp.testing.assert_array_equal(p.data().asnumpy(), before[k])
    net.weight.data()[...] = 2.0                    # a write through the packed array
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    g = net.weight.grad().asnumpy()
    onp.testing.assert_allclose(g, onp.broadcast_to(x.asnumpy().sum(0)[:, None], (4, 2)),
                                rtol=1e-5)
    trainer.step(1)
    onp.testing.assert_allclose(net.weight.data().asnumpy(), 2.0 - 0.5 * g, rtol=1e-6)
    net.weight.set_data(np.ones((4, 2)))
    onp.testing.assert_array_equal(net.weight.data().asnumpy(), onp.ones((4, 2)))


def test_deferred_parameters_are_packed_at_the_first_step():
    net, (x, y) = _net(deferred=True), _data()
    trainer = Trainer(net.collect_params(), "adam", {"learning_rate": 0.1})
    losses = [_loss_step(net, trainer, x, y) for _ in range(10)]
    assert net.weight.shape == (4, 2)
    assert losses[-1] < losses[0]


def test_grad_req_null_is_skipped():
    net, (x, y) = _net(), _data()
    net.bias.set_data(np.array([1.0, -1.0]))
    net.bias.grad_req = "null"
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    w0 = net.weight.data().asnumpy()
    for _ in range(2):
        _loss_step(net, trainer, x, y)
    onp.testing.assert_array_equal(net.bias.data().asnumpy(), [1.0, -1.0])
    assert not onp.allclose(net.weight.data().asnumpy(), w0)


def test_grad_req_add_steps_with_the_accumulated_gradient():
    net, (x, y) = _net(), _data()
    for p in net.collect_params().values():
        p.grad_req = "add"
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    w0 = net.weight.data().asnumpy()
    net.collect_params().zero_grad()
    for _ in range(2):
        with autograd.record():
            loss = net(x).sum()
        loss.backward()
    g = net.weight.grad().asnumpy()
    onp.testing.assert_allclose(g, 2 * onp.broadcast_to(x.asnumpy().sum(0)[:, None], (4, 2)),
                                rtol=1e-5)
    trainer.step(1)
    onp.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.1 * g, rtol=1e-5)


def test_grad_req_changes_repack_and_keep_the_states():
    """A parameter that leaves the update (grad_req 'null') and comes back keeps its momentum:
    the same steps as without the detour."""
    (x, y) = _data()
    nets = [_net(), _net()]
    trainers = [Trainer(n.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9})
                for n in nets]
    for t in range(4):
        if t == 2:
            nets[0].bias.grad_req = "null"
            nets[0].bias.grad_req = "write"
        for net, trainer in zip(nets, trainers):
            _loss_step(net, trainer, x, y)
    for a, b in zip(nets[0].collect_params().values(), nets[1].collect_params().values()):
        onp.testing.assert_allclose(a.data().asnumpy(), b.data().asnumpy(), rtol=1e-6)


def test_stale_gradient_raises_naming_the_parameter():
    net = UsesOne()
    net.initialize()
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    b0 = net.b.data().asnumpy()
    with autograd.record():
        loss = net(np.ones((3,)))
    loss.backward()
    with pytest.raises(UserWarning, match="Parameter `bias` on device .* has not been updated"):
        trainer.step(1)
    a0 = net.a.data().asnumpy()
    trainer.step(1, ignore_stale_grad=True)          # updates a, skips b
    onp.testing.assert_allclose(net.a.data().asnumpy(), a0 - 0.1, rtol=1e-6)
    onp.testing.assert_array_equal(net.b.data().asnumpy(), b0)
    with pytest.raises(MXNetError, match="`weight`"):   # a's gradient is stale now too
        trainer.step(1)


def test_learning_rate_setters():
    net = _net()
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    assert trainer.learning_rate == 0.1
    trainer.set_learning_rate(0.02)
    assert trainer.learning_rate == trainer.optimizer.learning_rate == 0.02
    sched = lrs.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
    net2, (x, y) = _net(), _data()
    t2 = Trainer(net2.collect_params(), opt.SGD(learning_rate=None, lr_scheduler=sched))
    assert t2.learning_rate == 1.0
    for _ in range(3):
        _loss_step(net2, t2, x, y)
    assert t2.optimizer.num_update == 3 and t2.learning_rate == 0.25
    with pytest.raises(UserWarning, match="LRScheduler"):
        t2.set_learning_rate(0.1)


def test_trainer_checks_its_arguments():
    net = _net()
    with pytest.raises(TypeError, match="list of int"):
        Trainer([net.weight, 3], "sgd")
    with pytest.raises(ValueError, match="list or dict of Parameters"):
        Trainer(net.weight, "sgd")
    with pytest.raises(AssertionError, match="optimizer_params must be None"):
        Trainer(net.collect_params(), opt.SGD(), {"learning_rate": 0.1})
    with pytest.raises(ValueError, match="Cannot find optimizer 'sgdd'"):
        Trainer(net.collect_params(), "sgdd")


def test_a_shared_parameter_is_updated_once():
    net, (x, y) = _net(), _data()
    params = {"weight": net.weight, "also_weight": net.weight, "bias": net.bias}
    trainer = Trainer(params, "sgd", {"learning_rate": 0.1})
    w0 = net.weight.data().asnumpy()
    with autograd.record():
        loss = net(x).sum()
    loss.backward()
    g = net.weight.grad().asnumpy()
    trainer.step(1)
    onp.testing.assert_allclose(net.weight.data().asnumpy(), w0 - 0.1 * g, rtol=1e-6)


def test_multi_precision_float16_training():
    net, (x, y) = _net("float16"), _data("float16")
    trainer = Trainer(net.collect_params(), "sgd",
                      {"learning_rate": 0.05, "momentum": 0.9, "multi_precision": True})
    losses = [_loss_step(net, trainer, x, y) for _ in range(15)]
    assert net.weight.data().dtype == onp.float16
    assert losses[-1] < 0.5 * losses[0]


def test_two_devices_sum_their_gradients():
    """Each device's copy takes the update of the summed gradient (MXNet's 'device' kvstore)."""
    d0 = default_device()
    d1 = clgrad.Device(d0.cl_device, d0.platform_index, d0.device_index, d0.device_type, 1)
    net = UsesOne()
    net.initialize(device=[d0, d1])
    a0 = net.a.data(d0).asnumpy()
    trainer = Trainer([net.a], "sgd", {"learning_rate": 0.1, "momentum": 0.5})
    xs = [np.array([1.0, 2.0, 3.0], device=d0), np.array([10.0, 20.0, 30.0], device=d1)]
    for _ in range(2):
        with autograd.record():
            losses = [(x * net.a.data(x.device)).sum() for x in xs]
        for loss in losses:
            loss.backward()
        trainer.step(1)
    g = onp.array([11.0, 22.0, 33.0])
    want = a0 - 0.1 * g + (0.5 * -0.1 * g - 0.1 * g)     # two momentum steps
    for dev in (d0, d1):
        onp.testing.assert_allclose(net.a.data(dev).asnumpy(), want, rtol=1e-6)
        onp.testing.assert_allclose(net.a.grad(dev).asnumpy(), g)
    with pytest.raises(UserWarning, match="has not been updated"):
        trainer.step(1)


# --- states files ----------------------------------------------------------------------------
def _trained(tmp_path, name="adam"):
    net, (x, y) = _net(), _data()
    trainer = Trainer(net.collect_params(), name, {"learning_rate": 0.05})
    for _ in range(2):
        _loss_step(net, trainer, x, y)
    return net, trainer, x, y


def _weights(net):
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def test_save_and_load_states_round_trip(tmp_path):
    net, trainer, x, y = _trained(tmp_path)
    path = str(tmp_path / "trainer.states")
    trainer.save_states(path)
    saved = _weights(net)
    _loss_step(net, trainer, x, y)
    after_three = _weights(net)
    # a fresh net and Trainer at the saved point continue exactly alike
    net2 = _net()
    for p, w in zip(net2.collect_params().values(), saved):
        p.set_data(np.array(w))
    trainer2 = Trainer(net2.collect_params(), "adam", {"learning_rate": 0.5})
    trainer2.load_states(path)
    assert trainer2.optimizer.num_update == 2 and trainer2.learning_rate == 0.05
    _loss_step(net2, trainer2, x, y)
    for a, b in zip(_weights(net2), after_three):
        onp.testing.assert_array_equal(a, b)
    assert sorted(os.listdir(tmp_path)) == ["trainer.states"]    # no temporary file left


def test_load_states_before_the_parameters_have_data(tmp_path):
    net, trainer, x, y = _trained(tmp_path)
    path = str(tmp_path / "s.npz")
    trainer.save_states(path)
    net2 = _net(deferred=True)
    trainer2 = Trainer(net2.collect_params(), "adam", {"learning_rate": 0.05})
    trainer2.load_states(path)                       # applied once the shapes are known
    for p, w in zip(net2.collect_params().values(), _weights(net)):
        with autograd.pause():
            if p.shape[0] == 0:
                net2(x)
            p.set_data(np.array(w))
    _loss_step(net2, trainer2, x, y)
    _loss_step(net, trainer, x, y)
    for a, b in zip(_weights(net2), _weights(net)):
        onp.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other optimizer", "other shapes"])
def test_a_bad_states_file_raises_and_changes_nothing(tmp_path, damage):
    net, trainer, x, y = _trained(tmp_path)
    good = str(tmp_path / "good")
    trainer.save_states(good)
    bad = str(tmp_path / "bad")
    if damage == "garbage":
        open(bad, "wb").write(b"not a states file at all")
    elif damage == "truncated":
        open(bad, "wb").write(open(good, "rb").read()[:200])
    elif damage == "other optimizer":
        other = Trainer(_net().collect_params(), "sgd", {"momentum": 0.9})
        other.save_states(bad)
    else:
        wide = Affine(n_in=5)
        wide.initialize()
        Trainer(wide.collect_params(), "adam").save_states(bad)
    with pytest.raises(StatesFileError) as e:
        trainer.load_states(bad)
    assert isinstance(e.value, ValueError) and isinstance(e.value, MXNetError)
    again = str(tmp_path / "again")
    trainer.save_states(again)
    with onp.load(good) as a, onp.load(again) as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            onp.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(FileNotFoundError):
        trainer.load_states(str(tmp_path / "missing"))


def test_states_file_carries_the_schedule(tmp_path):
    net, (x, y) = _net(), _data()
    sched = lrs.FactorScheduler(step=1, factor=0.5, base_lr=0.1)
    trainer = Trainer(net.collect_params(),
                      opt.SGD(learning_rate=None, lr_scheduler=sched, momentum=0.9))
    for _ in range(3):
        _loss_step(net, trainer, x, y)
    path = str(tmp_path / "sched.states")
    trainer.save_states(path)
    other = Trainer(_net().collect_params(), "sgd", {"momentum": 0.9})
    other.load_states(path)
    restored = other.optimizer.lr_scheduler
    assert type(restored) is lrs.FactorScheduler and restored is not sched
    assert (restored.count, restored.base_lr) == (sched.count, sched.base_lr)
    assert other.learning_rate == trainer.learning_rate == pytest.approx(0.025)
    assert other.optimizer._index_update_count == {0: 3, 1: 3}


def test_asynchronous_kvstores_are_refused_by_name():
    from clgrad.gluon.trainer import TrainerError
    net = gluon.nn.Dense(2, in_units=2)
    net.initialize()
    with pytest.raises(TrainerError, match="dist_async.*dist_sync"):
        gluon.Trainer(net.collect_params(), "sgd", kvstore="dist_async")


def _two_devices():
    """Two devices: the first two OpenCL devices that are not simulators when there are two
    (PyPI's and Debian's PoCL in CI's second pass), else the default device twice, each with
    its own context and queue."""
    from clgrad.runtime import all_devices
    devs = [d for d in all_devices() if "oclgrind" not in d.cl_device.platform.name.lower()]
    if len(devs) >= 2:
        return devs[:2]
    d = default_device()
    return [d, clgrad.Device(d.cl_device, d.platform_index, d.device_index, d.device_type, 1)]


def test_two_device_training_equals_one_device_on_the_whole_batch():
    """split_and_load + kvstore='device': each device's copy ends where one device ends."""
    rng = onp.random.default_rng(4)
    X = rng.standard_normal((8, 5)).astype("float32")
    Y = rng.integers(0, 3, 8).astype("float32")

    def train(devices):
        clgrad.np.random.seed(0)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(6, activation="relu", in_units=5), gluon.nn.Dense(3, in_units=6))
        net.initialize(device=devices)
        trainer = Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        for _ in range(4):
            xs = gluon.utils.split_and_load(X, devices)
            ys = gluon.utils.split_and_load(Y, devices)
            with autograd.record():
                losses = [loss_fn(net(x), y) for x, y in zip(xs, ys)]
            for loss in losses:
                loss.backward()
            trainer.step(8)
        return net, devices

    one, _ = train([default_device()])
    two, devs = train(_two_devices())
    for name, p in one.collect_params().items():
        want = p.data().asnumpy()
        q = two.collect_params()[name]
        for d in devs:
            onp.testing.assert_allclose(q.data(d).asnumpy(), want, rtol=1e-5, atol=1e-6,
                                        err_msg=f"{name} on {d}")
