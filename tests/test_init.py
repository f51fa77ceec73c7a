"""clgrad.init: MXNet's initializers. Values and statistics (bounds six standard errors wide),
Xavier/MSRA scales against their formulas (exactly: the same seed repeats the same draw),
name and '__init__' dispatch, the registry, JSON, seeding, filling in place, and errors."""
import json
import logging
import math

import numpy as onp
import pytest

from clgrad import MXNetError, init, np, npx

N = 200_000


def bounded(value, expect, stderr, k=6.0):
    assert abs(value - expect) <= k * stderr, (value, expect, stderr)


def check_moments(x, var, var_of_square):
    """Mean 0 and E[x^2] = var, within six standard errors of their estimates."""
    x = x.astype(onp.float64).ravel()
    bounded(x.mean(), 0.0, math.sqrt(var / x.size))
    bounded((x * x).mean(), var, math.sqrt(var_of_square / x.size))


def filled(initializer, name, shape, dtype="float32"):
    arr = np.zeros(shape, dtype=dtype)
    initializer(init.InitDesc(name), arr)
    return arr


def xavier_scale(shape, factor_type, magnitude):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    factor = {"avg": (fan_in + fan_out) / 2, "in": fan_in, "out": fan_out}[factor_type]
    return math.sqrt(magnitude / factor)


# --- values and statistics --------------------------------------------------------------------
def test_zero_one_constant():
    assert (filled(init.Zero(), "w_weight", (3, 4)).asnumpy() == 0).all()
    assert (filled(init.One(), "w_weight", (3, 4)).asnumpy() == 1).all()
    assert (filled(init.Constant(2.5), "w_weight", (3, 4)).asnumpy() == 2.5).all()
    row = [1.0, 2.0, 3.0, 4.0]
    for value in (row, onp.array(row), np.array(row), onp.identity(4)[:1]):
        onp.testing.assert_array_equal(filled(init.Constant(value), "w_weight", (3, 4)).asnumpy(),
                                       onp.broadcast_to(onp.asarray(value), (3, 4)))
    eye = filled(init.Constant(onp.identity(3)), "w_weight", (3, 3), dtype="float16")
    assert eye.dtype == onp.float16
    onp.testing.assert_array_equal(eye.asnumpy(), onp.identity(3))


def test_uniform_bounds_and_moments():
    np.random.seed(0)
    for scale in (0.07, 2.0):
        x = filled(init.Uniform(scale), "w_weight", (N // 100, 100)).asnumpy()
        assert x.dtype == onp.float32
        assert -scale <= x.min() and x.max() <= scale and x.max() > 0.99 * scale
        check_moments(x, scale ** 2 / 3, 4 * scale ** 4 / 45)
    assert init.Uniform().scale == 0.07


def test_normal_moments():
    np.random.seed(1)
    for sigma in (0.01, 3.0):
        x = filled(init.Normal(sigma), "w_weight", (N,)).asnumpy()
        check_moments(x, sigma ** 2, 2 * sigma ** 4)
    assert init.Normal().sigma == 0.01


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
@pytest.mark.parametrize("rnd_type", ["uniform", "gaussian"])
def test_xavier_scale_matches_formula(shape, factor_type, rnd_type):
    magnitude = 2.34
    scale = xavier_scale(shape, factor_type, magnitude)
    np.random.seed(7)
    x = filled(init.Xavier(rnd_type, factor_type, magnitude), "conv_weight", shape).asnumpy()
    np.random.seed(7)
    if rnd_type == "uniform":
        expect = np.random.uniform(-scale, scale, size=shape).asnumpy()
        assert onp.abs(x).max() <= scale
    else:
        expect = np.random.normal(0.0, scale, size=shape).asnumpy()
    onp.testing.assert_array_equal(x, expect)


def test_xavier_default_statistics():
    shape = (400, 100, 2, 2)            # fan_in 400, fan_out 1600: scale sqrt(3 / 1000)
    scale = math.sqrt(3 / 1000)
    np.random.seed(2)
    x = filled(init.Xavier(), "w_weight", shape).asnumpy()
    assert onp.abs(x).max() <= scale
    check_moments(x, scale ** 2 / 3, 4 * scale ** 4 / 45)


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
def test_msra_prelu_is_gaussian_xavier(shape, factor_type):
    slope = 0.1
    scale = xavier_scale(shape, factor_type, 2 / (1 + slope ** 2))
    np.random.seed(8)
    x = filled(init.MSRAPrelu(factor_type, slope), "w_weight", shape).asnumpy()
    np.random.seed(8)
    onp.testing.assert_array_equal(x, np.random.normal(0.0, scale, size=shape).asnumpy())


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (4, 2, 3)])
@pytest.mark.parametrize("rand_type", ["uniform", "normal"])
def test_orthogonal(shape, rand_type):
    scale = 1.5
    w = filled(init.Orthogonal(scale, rand_type), "w_weight", shape).asnumpy().astype(onp.float64)
    w = w.reshape(shape[0], -1)
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    onp.testing.assert_allclose(small, scale ** 2 * onp.identity(min(w.shape)), atol=1e-5)


def test_bilinear_kernel():
    w = filled(init.Bilinear(), "up_weight", (2, 1, 4, 4)).asnumpy()
    f, c = 2.0, 3 / 4
    k = onp.array([[(1 - abs(x / f - c)) * (1 - abs(y / f - c)) for x in range(4)]
                   for y in range(4)])
    onp.testing.assert_allclose(w, onp.broadcast_to(k, w.shape), rtol=1e-6)


def test_lstm_bias():
    b = filled(init.LSTMBias(2.0), "lstm_i2h_weight", (12,)).asnumpy()
    onp.testing.assert_array_equal(b, [0] * 3 + [2] * 3 + [0] * 6)


def test_float16_draws_float32_and_casts():
    np.random.seed(3)
    x = filled(init.Uniform(1.0), "w_weight", (50, 40), dtype="float16")
    assert x.dtype == onp.float16
    np.random.seed(3)
    expect = np.random.uniform(-1.0, 1.0, size=(50, 40)).asnumpy().astype(onp.float16)
    onp.testing.assert_array_equal(x.asnumpy(), expect)


def test_float64_draws_float64():
    np.random.seed(4)
    x = filled(init.Normal(2.0), "w_weight", (30,), dtype="float64")
    assert x.dtype == onp.float64
    np.random.seed(4)
    onp.testing.assert_array_equal(
        x.asnumpy(), np.random.normal(0.0, 2.0, size=30, dtype="float64").asnumpy())


# --- dispatch ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [
    ("dense0_weight", 7.0), ("dense0_bias", 0.0), ("bn_gamma", 1.0), ("bn_beta", 0.0),
    ("bn_running_mean", 0.0), ("bn_running_var", 1.0), ("bn_moving_mean", 0.0),
    ("bn_moving_var", 1.0), ("q_min", 0.0), ("q_max", 1.0)])
def test_name_suffix_dispatch(name, value):
    arr = np.full((2, 3), -5.0)
    init.Constant(7.0)(init.InitDesc(name), arr)
    assert (arr.asnumpy() == value).all()
    plain = np.full((2, 3), -5.0)
    init.Constant(7.0)(name, plain)          # a plain str works as a descriptor too
    assert (plain.asnumpy() == value).all()


def test_unknown_pattern_names_the_parameter():
    with pytest.raises(ValueError, match="Unknown initialization pattern for net_scale") as err:
        init.Uniform()(init.InitDesc("net_scale"), np.zeros(3))
    assert isinstance(err.value, MXNetError)


@pytest.mark.parametrize("chosen", ["ones", "One", init.One(), init.One().dumps(),
                                    init.Constant(1).dumps()])
def test_init_attribute_overrides_the_name(chosen):
    for name in ("fc_bias", "fc_weight", "odd_name"):
        desc = init.InitDesc(name, {"__init__": chosen})
        arr = np.zeros((2, 2))
        init.Zero()(desc, arr)
        assert (arr.asnumpy() == 1).all()


def test_init_attribute_reaches_weight_schemes_and_sets_global_init():
    desc = init.InitDesc("l0_i2h_bias", {"__init__": init.LSTMBias(1.0)})
    outer = init.Uniform()
    arr = np.full((8,), 3.0)
    outer(desc, arr)
    onp.testing.assert_array_equal(arr.asnumpy(), [0, 0, 1, 1, 0, 0, 0, 0])
    assert desc.global_init is outer
    empty = init.InitDesc("fc_bias", {"__init__": ""})      # an empty entry: by name
    arr = np.ones(2)
    init.One()(empty, arr)
    assert (arr.asnumpy() == 0).all()


def test_init_desc_is_a_str():
    d = init.InitDesc("fc_weight", {"lr_mult": "1"}, global_init=init.Zero())
    assert isinstance(d, str) and d == "fc_weight" and d.endswith("weight")
    assert d.attrs == {"lr_mult": "1"} and isinstance(d.global_init, init.Zero)
    assert init.InitDesc("x").attrs == {} and init.InitDesc("x").global_init is None


def test_mixed():
    mixed = init.Mixed([".*bias", ".*"], [init.Zero(), "ones"])
    bias, weight = np.full(3, 5.0), np.full(3, 5.0)
    mixed(init.InitDesc("fc_bias"), bias)
    mixed("fc_weight", weight)
    assert (bias.asnumpy() == 0).all() and (weight.asnumpy() == 1).all()
    with pytest.raises(ValueError, match="fc_weight"):
        init.Mixed(["bias"], [init.Zero()])("fc_weight", np.zeros(2))
    with pytest.raises(ValueError, match="2 patterns but 1"):
        init.Mixed(["a", "b"], [init.Zero()])
    again = init.create(mixed.dumps())
    assert isinstance(again, init.Mixed) and again.dumps() == mixed.dumps()
    arr = np.zeros(2)
    init.Normal()(init.InitDesc("fc_gamma_weight", {"__init__": mixed}), arr)
    assert (arr.asnumpy() == 1).all()


# --- registry, create, dumps --------------------------------------------------------------------
def test_create_by_name_instance_and_json():
    assert type(init.create("xavier")) is init.Xavier
    assert type(init.create("XAVIER", magnitude=2)) is init.Xavier
    assert init.create("Xavier", magnitude=2).magnitude == 2.0
    assert type(init.create("zeros")) is init.Zero and type(init.create("Zero")) is init.Zero
    assert type(init.create("ones")) is init.One and type(init.create("one")) is init.One
    known = str(pytest.raises(ValueError, init.create, "nope").value)
    for name in ("zero", "zeros", "one", "ones", "constant", "uniform", "normal", "xavier",
                 "msraprelu", "orthogonal", "bilinear", "lstmbias", "mixed"):
        assert name in known
    u = init.Uniform(0.3)
    assert init.create(u) is u
    made = init.create('["uniform", {"scale": 0.5}]')
    assert type(made) is init.Uniform and made.scale == 0.5
    for original in (init.Normal(0.5), init.Xavier("gaussian", "in", 2.34),
                     init.MSRAPrelu("out", 0.1), init.Orthogonal(1.0, "normal"),
                     init.Constant(3), init.LSTMBias(0.5)):
        again = init.create(original.dumps())
        assert type(again) is type(original) and again.dumps() == original.dumps()


def test_dumps_and_repr():
    assert init.Normal(0.5).dumps() == '["normal", {"sigma": 0.5}]'
    assert json.loads(init.Xavier(factor_type="in", magnitude=2.34).dumps()) == \
        ["xavier", {"rnd_type": "uniform", "factor_type": "in", "magnitude": 2.34}]
    assert json.loads(init.MSRAPrelu().dumps()) == \
        ["msraprelu", {"factor_type": "avg", "slope": 0.25}]
    assert init.Zero().dumps() == '["zero", {}]'
    assert json.loads(init.Constant(onp.identity(2)).dumps()) == \
        ["constant", {"value": [[1, 0], [0, 1]]}]
    assert json.loads(init.Constant(np.array([1.0, 2.0])).dumps()) == \
        ["constant", {"value": [1, 2]}]
    assert repr(init.Xavier()) == "Xavier(rnd_type='uniform', factor_type='avg', magnitude=3)"
    assert repr(init.Zero()) == "Zero()"


def test_register_and_alias():
    @init.register
    @init.alias("my_tenths")
    class TenthsInit(init.Initializer):
        def __init__(self):
            super().__init__()

        def _init_weight(self, _, arr):
            arr[...] = 0.1

    for name in ("tenthsinit", "My_Tenths"):
        arr = np.zeros(2)
        init.create(name)(init.InitDesc("a_weight"), arr)
        onp.testing.assert_allclose(arr.asnumpy(), 0.1, rtol=1e-6)
    with pytest.raises(TypeError, match="not a subclass of Initializer"):
        init.register(dict)


def test_set_verbosity_logs(caplog):
    xavier = init.Xavier()
    assert xavier.set_verbosity(True, print_func=lambda a: "STAT") is xavier
    with caplog.at_level(logging.INFO):
        xavier(init.InitDesc("fc_weight"), np.zeros((3, 3)))
        init.Zero().set_verbosity(True)(init.InitDesc("fc_bias"), np.ones(4))
    assert "fc_weight" in caplog.text and "STAT" in caplog.text
    assert "fc_bias" in caplog.text and "0.0" in caplog.text


# --- seeding, devices, in place ---------------------------------------------------------------
@pytest.mark.parametrize("make", [init.Uniform, init.Normal, init.Xavier, init.MSRAPrelu,
                                  init.Orthogonal])
def test_seeding_reproduces(make):
    def draw(seed):
        np.random.seed(seed)
        return filled(make(), "w_weight", (8, 5)).asnumpy()
    a, b, c = draw(11), draw(11), draw(12)
    onp.testing.assert_array_equal(a, b)
    assert not onp.array_equal(a, c)
    np.random.seed(11)
    first = filled(make(), "w_weight", (8, 5)).asnumpy()
    second = filled(make(), "w_weight", (8, 5)).asnumpy()
    assert not onp.array_equal(first, second)      # each draw advances the stream


def test_same_seed_same_values_on_every_device():
    results = []
    for dev in npx.all_devices():
        np.random.seed(5)
        arr = np.zeros((6, 7), device=dev)
        init.Xavier()(init.InitDesc("w_weight"), arr)
        assert arr.device is dev
        results.append(arr.asnumpy())
    for r in results[1:]:
        onp.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("initializer", [init.Zero(), init.Constant(4.0), init.Uniform(),
                                         init.Normal(), init.Xavier(), init.Orthogonal()])
def test_fills_in_place(initializer):
    arr = np.full((4, 5), 9.0)
    # views that share the buffer (basic slicing of whole rows)
    row, rows = arr[2], arr[1:3]
    before = arr.asnumpy()
    initializer(init.InitDesc("w_weight"), arr)
    after = arr.asnumpy()
    assert not onp.array_equal(after, before)
    onp.testing.assert_array_equal(row.asnumpy(), after[2])
    onp.testing.assert_array_equal(rows.asnumpy(), after[1:3])


def test_scalar_and_empty_arrays():
    s = np.zeros(())
    init.One()(init.InitDesc("g_gamma"), s)
    assert s.item() == 1.0
    init.Uniform()(init.InitDesc("w_weight"), s)
    assert abs(s.item()) <= 0.07
    for make in (init.Xavier, init.Orthogonal, init.Uniform):
        e = np.zeros((0, 3))
        make()(init.InitDesc("w_weight"), e)
        assert e.shape == (0, 3)


# --- errors -------------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ValueError, match="unknown initializer 'nope'.*xavier") as err:
        init.create("nope")
    assert isinstance(err.value, MXNetError)
    with pytest.raises(ValueError, match="fc_weight.*2 dimensions"):
        init.Xavier()(init.InitDesc("fc_weight"), np.zeros(5))
    with pytest.raises(ValueError, match="fc_weight.*2 dimensions"):
        init.MSRAPrelu()(init.InitDesc("fc_weight"), np.zeros(5))
    with pytest.raises(ValueError, match="factor_type"):
        init.Xavier(factor_type="sum")
    with pytest.raises(ValueError, match="rnd_type"):
        init.Xavier(rnd_type="normal")
    with pytest.raises(ValueError, match="rand_type"):
        init.Orthogonal(rand_type="gaussian")
    with pytest.raises(ValueError, match="not an initializer's JSON"):
        init.create("[not json")
    with pytest.raises(TypeError, match="already an initializer"):
        init.create(init.Zero(), value=1)
    with pytest.raises(TypeError):
        init.create(3)
    with pytest.raises(TypeError):
        init.create("zeros", value=1)
    with pytest.raises(TypeError, match="clgrad array"):
        init.Zero()(init.InitDesc("w_weight"), onp.zeros(3))
    with pytest.raises(ValueError, match="w_weight"):
        init.Constant([1.0, 2.0])(init.InitDesc("w_weight"), np.zeros((3, 4)))
    with pytest.raises(NotImplementedError):
        init.Initializer()(init.InitDesc("w_weight"), np.zeros(2))
