"""gluon.Parameter and gluon.Block: registration, structural names, select, deferred shapes,
initialization, gradients, hooks, grad_req, parameter files and their errors."""
import numpy as onp
import pytest

from clgrad import autograd, gluon, init, np
from clgrad.gluon import Block, Constant, Parameter


class Affine(Block):
    """y = x @ w.T + b with the input width inferred at the first call."""

    def __init__(self, units, in_units=0):
        super().__init__()
        self.weight = Parameter("weight", shape=(units, in_units), allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(units,), init="zeros")

    def infer_shape(self, x):
        self.weight.shape = (self.weight.shape[0], x.shape[-1])

    def forward(self, x):
        return np.dot(x, self.weight.data().T) + self.bias.data()


class Net(Block):
    def __init__(self):
        super().__init__()
        self.features = Outer()
        self.head = Affine(2, in_units=3)

    def forward(self, x):
        return self.head(self.features(x))


class Outer(Block):
    def __init__(self):
        super().__init__()
        self.a = Affine(4)
        self.b = Affine(3)

    def forward(self, x):
        return self.b(np.tanh(self.a(x)))


def test_structural_names_and_select():
    net = Net()
    names = list(net.collect_params())
    assert names == ["features.a.weight", "features.a.bias", "features.b.weight",
                     "features.b.bias", "head.weight", "head.bias"]
    assert list(net.collect_params(".*bias")) == ["features.a.bias", "features.b.bias",
                                                  "head.bias"]
    assert list(net.collect_params("head")) == ["head.weight", "head.bias"]
    assert list(net.params) == []                 # own parameters only
    assert list(net.head.params) == ["weight", "bias"]


def test_deferred_initialization_and_forward():
    np.random.seed(0)
    net = Net()
    net.initialize(init.Uniform(0.5))
    w = net.features.a.weight
    assert w.shape == (4, -1)
    with pytest.raises(gluon.DeferredInitializationError):
        w.data()
    x = np.array(onp.random.default_rng(0).standard_normal((5, 7)).astype(onp.float32))
    y = net(x)
    assert y.shape == (5, 2)
    assert w.shape == (4, 7) and w.data().shape == (4, 7)
    assert abs(w.data().asnumpy()).max() <= 0.5
    assert (net.features.a.bias.data().asnumpy() == 0).all()      # its own init wins
    # the forward is the composition of the affine maps, checked on the host
    p = {k: v.data().asnumpy() for k, v in net.collect_params().items()}
    h = onp.tanh(x.asnumpy() @ p["features.a.weight"].T + p["features.a.bias"])
    h = h @ p["features.b.weight"].T + p["features.b.bias"]
    onp.testing.assert_allclose(y.asnumpy(), h @ p["head.weight"].T + p["head.bias"],
                                rtol=1e-5, atol=1e-5)


def test_gradients_flow_to_every_parameter():
    net = Net()
    net.initialize()
    x = np.ones((2, 3))
    with autograd.record():
        loss = (net(x) ** 2).sum()
    loss.backward()
    for name, p in net.collect_params().items():
        assert p.grad().shape == p.shape, name
        assert abs(p.grad().asnumpy()).sum() > 0, name
    net.zero_grad()
    assert all((p.grad().asnumpy() == 0).all() for p in net.collect_params().values())


def test_grad_req_add_null_and_bad():
    p = Parameter("weight", shape=(2,), grad_req="add")
    p.initialize(init.One())
    for _ in range(2):
        with autograd.record():
            y = (p.data() * 3).sum()
        y.backward()
    assert p.grad().asnumpy().tolist() == [6.0, 6.0]
    p.grad_req = "null"
    with pytest.raises(gluon.ParameterError, match="grad_req='null'"):
        p.grad()
    with pytest.raises(gluon.ParameterError, match="grad_req"):
        p.grad_req = "sometimes"
    with pytest.raises(ValueError):          # MXNet's category
        Parameter("w", grad_req="never")


def test_uninitialized_and_bad_shapes_raise_naming_the_parameter():
    p = Parameter("weight", shape=(2, 3))
    with pytest.raises(gluon.ParameterError, match="'weight' has not been initialized"):
        p.data()
    q = Parameter("kernel", shape=(2, 0))
    with pytest.raises(AssertionError, match="'kernel'.*invalid shape"):
        q.initialize()
    p.initialize()
    with pytest.raises(gluon.ParameterError, match="incompatible"):
        p.shape = (3, 3)
    net = Affine(2, in_units=3)
    net.initialize()
    net(np.ones((1, 3)))
    with pytest.raises(Exception, match="input units|3"):
        net(np.ones((1, 4)))                   # the weight is fixed now: a clear shape error


def test_attribute_type_change_refused():
    net = Net()
    with pytest.raises(TypeError, match="Changing attribute type"):
        net.head = Parameter("head")
    net.head = Affine(5, in_units=3)           # same type: replaces the child
    assert net.collect_params()["head.weight"].shape == (5, 3)


def test_block_without_super_init_is_a_clear_error():
    class Bad(Block):
        def __init__(self):
            self.w = Parameter("w", shape=(1,))
    with pytest.raises(TypeError, match="super"):
        Bad()


def test_hooks_apply_and_summary(capsys):
    net = Net()
    net.initialize()
    seen = []
    h1 = net.head.register_forward_pre_hook(lambda b, inp: seen.append(("pre", inp[0].shape)))
    h2 = net.head.register_forward_hook(lambda b, inp, out: seen.append(("post", out.shape)))
    net(np.ones((4, 6)))
    assert seen == [("pre", (4, 3)), ("post", (4, 2))]
    h1.detach()
    h2.detach()
    net(np.ones((4, 6)))
    assert len(seen) == 2
    kinds = []
    net.apply(lambda b: kinds.append(type(b).__name__))
    assert kinds == ["Affine", "Affine", "Outer", "Affine", "Net"]
    net.summary(np.ones((4, 6)))
    out = capsys.readouterr().out
    assert "Total params: 51" in out and "Affine" in out    # (24 + 4) + (12 + 3) + (6 + 2)
    assert sum(int(onp.prod(p.shape)) for p in net.collect_params().values()) == 51


def test_constant_and_set_data_and_cast():
    c = Constant(np.array([[1.0, 2.0]]))
    c.initialize()
    assert c.grad_req == "null" and c.data().asnumpy().tolist() == [[1.0, 2.0]]
    p = Parameter("w", shape=(2,))
    p.initialize(init.Zero())
    p.set_data(np.array([3.0, 4.0]))
    assert p.data().asnumpy().tolist() == [3.0, 4.0]
    p.cast("float64")
    assert p.data().dtype == onp.float64 and p.grad().dtype == onp.float64


def test_parameter_dict_setattr_as_d2l_uses_it():
    net = Net()
    net.collect_params(".*bias").setattr("wd_mult", 0)
    assert [p.wd_mult for p in net.collect_params().values()] == [1, 0, 1, 0, 1, 0]


def test_save_and_load_parameters(tmp_path):
    np.random.seed(1)
    net = Net()
    net.initialize()
    x = np.ones((2, 5))
    y = net(x).asnumpy()
    f = str(tmp_path / "net.params")
    net.save_parameters(f)
    other = Net()
    other.load_parameters(f)
    onp.testing.assert_array_equal(other(x).asnumpy(), y)
    for (n1, p1), (n2, p2) in zip(net.collect_params().items(), other.collect_params().items()):
        assert n1 == n2 and p1.shape == p2.shape


def test_load_errors_leave_the_network_unchanged(tmp_path):
    net = Net()
    net.initialize()
    net(np.ones((1, 5)))
    f = str(tmp_path / "net.params")
    net.save_parameters(f)
    small = Affine(2, in_units=3)
    small.initialize()
    before = small.weight.data().asnumpy().copy()
    with pytest.raises(AssertionError, match="missing"):
        small.load_parameters(f)
    with pytest.raises(ValueError, match="not present"):
        small.load_parameters(f, allow_missing=True)
    wrong = Net()
    wrong.initialize()
    wrong.head = Affine(2, in_units=4)          # head.weight (2, 4) vs the file's (2, 3)
    wrong.head.initialize()
    keep = wrong.features.a.bias.data().asnumpy().copy()
    with pytest.raises(AssertionError, match="head.weight.*shape incompatible"):
        wrong.load_parameters(f)
    onp.testing.assert_array_equal(wrong.features.a.bias.data().asnumpy(), keep)
    onp.testing.assert_array_equal(small.weight.data().asnumpy(), before)
    small.load_parameters(f, allow_missing=True, ignore_extra=True)      # nothing matches
    onp.testing.assert_array_equal(small.weight.data().asnumpy(), before)


def test_unknown_dimensions_read_minus_one_as_in_numpy_mode():
    # MXNet (NumPy mode) shows a dimension to be inferred as -1, however it was given
    assert Parameter("w", shape=(3, 0), allow_deferred_init=True).shape == (3, -1)
    assert Parameter("w", shape=(-1, 4), allow_deferred_init=True).shape == (-1, 4)
    net = Affine(2)
    assert net.weight.shape == (2, -1)
    net.initialize()
    net(np.ones((1, 5)))
    assert net.weight.shape == (2, 5)


def test_params_get_creates_and_registers_as_mxnet_1x():
    # d2l's BERT encoder: self.pos_embedding = self.params.get('pos_embedding', shape=...)
    class Encoder(Block):
        def __init__(self):
            super().__init__()
            self.pos_embedding = self.params.get("pos_embedding", shape=(1, 4, 3))

        def forward(self, x):
            return x + self.pos_embedding.data()[:, :x.shape[1], :]

    enc = Encoder()
    assert list(enc.collect_params()) == ["pos_embedding"]
    assert enc.params.get("pos_embedding") is enc.pos_embedding       # dict.get without kwargs
    assert enc.params.get("missing") is None
    assert enc.params.get("pos_embedding", shape=(1, 0, 3)) is enc.pos_embedding
    with pytest.raises(gluon.ParameterError, match="incompatible"):
        enc.params.get("pos_embedding", shape=(1, 5, 3))
    with pytest.raises(gluon.ParameterError, match="grad_req"):
        enc.params.get("pos_embedding", grad_req="null")
    enc.initialize()
    assert enc(np.zeros((2, 2, 3))).shape == (2, 2, 3)


def test_the_initializer_fills_a_parameter_of_any_name():
    # as MXNet: the chosen initializer's _init_weight, whatever the name (no name patterns)
    odd = Parameter("pos_embedding", shape=(2, 3))
    odd.initialize(init.Constant(0.5))
    assert odd.data().asnumpy().tolist() == [[0.5] * 3] * 2
    bias_like = Parameter("my_bias", shape=(3,))
    bias_like.initialize(default_init=init.One())        # not zeros: the pattern is not used
    assert bias_like.data().asnumpy().tolist() == [1.0, 1.0, 1.0]
    # an initializer given to Parameter.initialize overrides the parameter's own
    own = Parameter("w", shape=(2,), init=init.One())
    own.initialize(init.Zero())
    assert own.data().asnumpy().tolist() == [0.0, 0.0]
    block = Block()
    block.table = Parameter("table", shape=(2,))
    block.initialize(init.Constant(2.0))
    assert block.table.data().asnumpy().tolist() == [2.0, 2.0]


def test_initializing_twice_warns_and_keeps_the_data():
    p = Parameter("w", shape=(2,))
    p.initialize(init.One())
    with pytest.warns(UserWarning, match="'w' is already initialized, ignoring"):
        p.initialize(init.Zero())
    assert p.data().asnumpy().tolist() == [1.0, 1.0]
    p.initialize(init.Zero(), force_reinit=True)
    assert p.data().asnumpy().tolist() == [0.0, 0.0]


def test_nn_names_the_block_classes():
    # MXNet's gluon.nn re-exports them: d2l subclasses nn.Block
    assert gluon.nn.Block is Block and gluon.nn.HybridBlock is gluon.HybridBlock


def test_load_names_mxnet_1x_prefixed_files_for_what_they_are(tmp_path):
    # ParameterDict.save in MXNet 1.x writes 'dense0_weight' names, not save_parameters' '0.weight'
    from clgrad import npx
    net = gluon.nn.Sequential()
    net.add(gluon.nn.Dense(2, in_units=3))
    f = str(tmp_path / "legacy.params")
    npx.save(f, {"dense0_weight": np.ones((2, 3)), "dense0_bias": np.zeros(2)})
    with pytest.raises(gluon.ParameterError, match="MXNet 1.x's prefixed names"):
        net.load_parameters(f)
    npx.save(f, {"0.weight": np.ones((2, 3))})
    with pytest.raises(gluon.ParameterError) as e:
        net.load_parameters(f)
    assert "prefixed" not in str(e.value)
