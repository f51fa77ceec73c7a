"""hybridize: capture per signature, fusion, replay, autograd through captured graphs, the
fallbacks, and the Gluon layers and losses hybridized against their eager selves."""
import sys
import warnings

import numpy as onp
import pytest

from clgrad import autograd, gluon, np, npx
from clgrad.hybrid import HybridizeWarning
from clgrad.ops.launch import launch_count
from clgrad.runtime import default_device

FP64 = default_device().caps.fp64


def _grads(fn, *vals, head=None):
    xs = [np.array(v) for v in vals]
    for x in xs:
        x.attach_grad()
    with autograd.record():
        y = fn(*xs)
    y.backward(head)
    return y.asnumpy(), [x.grad.asnumpy() for x in xs]


def _same(a, b, rtol=1e-6, atol=1e-7):
    onp.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def chain(x, n):
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 == 0 else y - 0.0001
    return y


# --- capture and replay --------------------------------------------------------------------
def test_replay_matches_eager_and_fuses_a_chain_into_one_kernel():
    x = np.array(onp.linspace(-1, 1, 1000).astype(onp.float32))
    h = npx.hybridize(lambda a: chain(a, 50))
    want = chain(x, 50).asnumpy()
    _same(h(x).asnumpy(), want)             # the capture's own (eager) result
    before = launch_count()
    got = h(x)
    assert launch_count() - before == 1     # 50 elementwise ops, one fused kernel
    _same(got.asnumpy(), want)
    assert "computing 50 elementwise ops" in h.describe()
    assert "u48" in h.describe()            # the fused kernel's source is shown


def test_a_value_read_broadcast_is_fused_and_computed_where_it_is_read():
    rng = onp.random.default_rng(5)
    A, C = rng.standard_normal((6, 1)), rng.standard_normal((3, 6, 4))
    a, c = np.array(A.astype("float32")), np.array(C.astype("float32"))

    def f(a, c):        # (6, 1) read through a broadcast view, as (3, 6, 4)
        return np.exp(np.broadcast_to(a * 0.5 - 1, (3, 6, 4))) * c
    h = npx.hybridize(f)
    want = f(a, c).asnumpy()
    h(a, c)
    before = launch_count()
    got = h(a, c)
    assert launch_count() - before == 1, h.describe()
    _same(got.asnumpy(), want)
    _same(got.asnumpy(), onp.exp(A * 0.5 - 1) * C, rtol=1e-5)
    # a value read twice, once broadcast, stays in memory
    def g(a, c):
        b = a * 2
        return np.broadcast_to(b, c.shape) * c + b
    h2 = npx.hybridize(g)
    want = g(a, c).asnumpy()
    h2(a, c)
    _same(h2(a, c).asnumpy(), want)


def test_a_thousand_op_chain_with_backward_replays_in_few_launches():
    x = np.ones(16)
    x.attach_grad()
    h = npx.hybridize(lambda a: chain(a, 1000))
    for _ in range(2):
        with autograd.record():
            y = h(x)
        y.backward()
    before = launch_count()
    with autograd.record():
        y = h(x)
    y.backward()
    assert launch_count() - before <= 10
    _same(x.grad.asnumpy(), onp.full(16, 1.0001 ** 500, onp.float32), rtol=1e-4)


def test_a_new_shape_dtype_or_mode_captures_again_and_the_cache_is_bounded():
    h = npx.hybridize(lambda a: npx.dropout(a * 2, p=0.5) + 1)
    x = np.ones((4, 4))
    h(x)
    h(x)
    assert len(h.graphs) == 1
    h(np.ones((2, 8)))
    h(np.ones((4, 4), dtype="int32") if False else np.ones((4, 4), dtype="float16"))
    with autograd.train_mode():
        h(x)
    assert len(h.graphs) == 4 and h.captures == 4
    h.max_graphs = 2
    h(np.ones((3, 3)))
    assert len(h.graphs) == 2


def test_dropout_draws_anew_at_every_replay():
    h = npx.hybridize(lambda a: npx.dropout(a, p=0.5))
    x = np.ones((64, 64))
    with autograd.train_mode():
        masks = [h(x).asnumpy() for _ in range(3)]
    assert not onp.array_equal(masks[1], masks[2])
    assert set(onp.unique(masks[2])) <= {0.0, 2.0}
    np.random.seed(5)
    with autograd.train_mode():
        a = h(x).asnumpy()
    np.random.seed(5)
    with autograd.train_mode():
        b = npx.dropout(x, p=0.5).asnumpy()
    onp.testing.assert_array_equal(a, b)    # the replay draws the eager stream's numbers


def test_broadcasting_scalars_casts_strided_and_zero_d_inputs():
    def f(a, b, c):
        t = (a.T * b + 3) > 2.5
        return np.where(t, a.T.astype("float32") - c, c * 2) + (b - 1) ** 2

    a = np.array(onp.arange(12).reshape(3, 4).astype(onp.int32))
    b = np.array(onp.linspace(0, 1, 3).astype(onp.float32))
    c = np.array(onp.float32(0.25))
    h = npx.hybridize(f)
    want = f(a, b, c).asnumpy()
    for _ in range(3):
        _same(h(a, b, c).asnumpy(), want)


def test_outputs_are_fresh_arrays_each_call():
    h = npx.hybridize(lambda a: (a + 1, a * 2))
    x = np.ones(5)
    p, q = h(x)
    r, s = h(x + 1)
    _same(p.asnumpy(), onp.full(5, 2.0))
    _same(r.asnumpy(), onp.full(5, 3.0))
    assert r._storage is not p._storage


def test_memory_stays_flat_over_ten_thousand_steps():
    dev = default_device()
    h = npx.hybridize(lambda a: np.tanh(a @ a.T) * 2 - a.sum())
    x = np.ones((8, 8)) * 0.01
    x.attach_grad()

    def step():
        with autograd.record():
            y = h(x)
        y.backward()
    for _ in range(10):
        step()
    npx.waitall()
    used = dev.memory_stats()["in_use_bytes"]
    for _ in range(10000):
        step()
    npx.waitall()
    assert dev.memory_stats()["in_use_bytes"] <= used


# --- autograd ------------------------------------------------------------------------------
def test_gradients_match_eager_with_head_gradients_and_grad_req_add():
    def f(a, b):
        return np.exp(a * b) - np.sin(a) * b

    va = onp.linspace(-1, 1, 6).reshape(2, 3).astype(onp.float32)
    vb = onp.linspace(0.5, 1.5, 3).astype(onp.float32)
    head = np.array(onp.arange(6).reshape(2, 3).astype(onp.float32))
    want = _grads(f, va, vb, head=head)
    h = npx.hybridize(f)
    for _ in range(3):
        got = _grads(h, va, vb, head=head)
        _same(got[0], want[0])
        for g, w in zip(got[1], want[1]):
            _same(g, w)
    a, b = np.array(va), np.array(vb)
    a.attach_grad(grad_req="add")
    b.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = h(a, b)
        y.backward(head)
    _same(a.grad.asnumpy(), 2 * want[1][0])


def test_two_recorded_calls_before_one_backward_keep_their_own_saved_values():
    h = npx.hybridize(lambda a: np.exp(a) * a)
    x = np.array([0.5, 1.0])
    y = np.array([-1.0, 2.0])
    x.attach_grad()
    y.attach_grad()
    h(x)  # not recorded: a different signature
    with autograd.record():
        h(x)
        p = h(x)
        q = h(y)
        z = (p + q).sum()
    z.backward()
    e = onp.exp
    _same(x.grad.asnumpy(), e([0.5, 1.0]) * (1 + onp.array([0.5, 1.0])))
    _same(y.grad.asnumpy(), e([-1.0, 2.0]) * (1 + onp.array([-1.0, 2.0])), rtol=1e-5)


def test_retain_graph_and_freed_graph_errors_as_eager():
    h = npx.hybridize(lambda a: a * a)
    x = np.array([1.0, 2.0])
    x.attach_grad()
    h(x)
    for _ in range(2):
        with autograd.record():
            y = h(x)
    y.backward(retain_graph=True)
    y.backward()
    _same(x.grad.asnumpy(), [2.0, 4.0])
    with pytest.raises(Exception, match="second time"):
        y.backward()


@pytest.mark.skipif(not FP64, reason="float64")
def test_create_graph_through_a_hybridized_call_recomputes_eagerly():
    h = npx.hybridize(lambda a: a ** 3)
    x = np.array([1.0, 2.0], dtype="float64")
    x.attach_grad()
    for _ in range(3):
        with autograd.record():
            y = h(x)
            g = autograd.grad(y, x, create_graph=True)[0]
            z = g.sum()
        z.backward()
        _same(g.asnumpy(), [3.0, 12.0])
        _same(x.grad.asnumpy(), [6.0, 12.0])


def test_a_host_read_falls_back_to_eager_with_one_warning_naming_the_op():
    def f(a):
        return a * 2 if float(a.sum()) > 0 else a

    h = npx.hybridize(f)
    x = np.ones(3)
    with pytest.warns(HybridizeWarning, match="op 'sum'|'__float__'|reads array values"):
        _same(h(x).asnumpy(), [2, 2, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", HybridizeWarning)
        _same(h(-x).asnumpy(), [-1, -1, -1])
    assert h.eager is not None and not h.graphs


def test_a_failed_capture_inside_record_still_differentiates_the_real_inputs():
    h = npx.hybridize(lambda a: a * a if float(a.sum()) else a)
    x = np.array([3.0])
    x.attach_grad()
    with pytest.warns(HybridizeWarning):
        with autograd.record():
            y = h(x)
    y.backward()
    _same(x.grad.asnumpy(), [6.0])


def test_hybridize_off_by_environment(monkeypatch):
    monkeypatch.setenv("CLGRAD_HYBRIDIZE", "0")
    h = npx.hybridize(lambda a: a + 1)
    h(np.ones(2))
    h(np.ones(2))
    assert not h.graphs


def test_fusion_off_by_environment_keeps_one_launch_per_op(monkeypatch):
    monkeypatch.setenv("CLGRAD_HYBRIDIZE_FUSE", "0")
    x = np.array(onp.linspace(-1, 1, 100).astype(onp.float32))
    h = npx.hybridize(lambda a: chain(a, 20))
    h(x)
    before = launch_count()
    got = h(x)
    assert launch_count() - before == 20    # captured and replayed, one kernel per op
    _same(got.asnumpy(), chain(x, 20).asnumpy())
    assert "ew_fused" not in h.describe()


def test_dense_bias_add_fuses_into_relu_in_training():
    """relu's backward reads its output, so the bias add's result is not saved and fuses."""
    net = gluon.nn.Dense(8, activation="relu", in_units=4)
    net.initialize()
    net.hybridize()
    x = np.array(onp.random.default_rng(0).standard_normal((3, 4)).astype(onp.float32))
    for _ in range(2):
        with autograd.record():
            y = net(x)
        y.backward()
    before = launch_count()
    with autograd.record():
        y = net(x)
    forward = launch_count() - before
    y.backward()
    text = net.describe_captured()
    assert forward == 2, text                         # the product, then add and relu in one
    assert "computing 2 elementwise ops" in text and "isnan(u0)" in text, text
    eager = gluon.nn.Dense(8, activation="relu", in_units=4)
    eager.initialize()
    eager.weight.set_data(net.weight.data())
    eager.bias.set_data(net.bias.data())
    with autograd.record():
        ye = eager(x)
    ye.backward()
    _same(y.asnumpy(), ye.asnumpy())
    _same(net.weight.grad().asnumpy(), eager.weight.grad().asnumpy())


def test_decorator_form():
    @npx.hybridize
    def f(a):
        return a * 3

    f(np.ones(2))
    _same(f(np.ones(2)).asnumpy(), [3, 3])
    assert len(f.graphs) == 1


# --- Gluon ---------------------------------------------------------------------------------
def _net_grads(net, loss_fn, x, y):
    with autograd.record():
        out = net(x)
        loss = loss_fn(out, y)
    loss.backward()
    return out.asnumpy(), loss.asnumpy(), {k: p.grad().asnumpy()
                                           for k, p in net.collect_params().items()
                                           if p.grad_req != "null"}


LAYERS = [
    ("dense", lambda: gluon.nn.Dense(3, activation="tanh"), (4, 7)),
    ("mlp", lambda: _seq(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(3)), (4, 6)),
    ("conv", lambda: _seq(gluon.nn.Conv2D(4, 3, padding=1, activation="relu"),
                          gluon.nn.MaxPool2D(2), gluon.nn.Flatten(), gluon.nn.Dense(3)),
     (2, 1, 8, 8)),
    ("batchnorm", lambda: _seq(gluon.nn.Dense(6), gluon.nn.BatchNorm(), gluon.nn.Dense(3)),
     (5, 4)),
    ("layernorm", lambda: _seq(gluon.nn.Dense(6), gluon.nn.LayerNorm(), gluon.nn.Dense(3)),
     (5, 4)),
    ("embedding", lambda: _seq(gluon.nn.Embedding(10, 4), gluon.nn.Flatten(),
                               gluon.nn.Dense(3)), None),
    ("activations", lambda: _seq(gluon.nn.Dense(6), gluon.nn.LeakyReLU(0.1),
                                 gluon.nn.Dense(6, activation="sigmoid"), gluon.nn.GELU(),
                                 gluon.nn.Dense(6), gluon.nn.ELU(), gluon.nn.Dense(3)), (3, 4)),
]


def _seq(*layers):
    s = gluon.nn.HybridSequential()
    s.add(*layers)
    return s


LOSSES = [gluon.loss.SoftmaxCrossEntropyLoss(), gluon.loss.L2Loss(), gluon.loss.L1Loss(),
          gluon.loss.SigmoidBinaryCrossEntropyLoss(), gluon.loss.HuberLoss()]


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[c[0] for c in LAYERS])
@pytest.mark.parametrize("loss_fn", LOSSES, ids=lambda l: type(l).__name__)
def test_gluon_layers_and_losses_hybridized_match_eager(name, make, shape, loss_fn):
    rng = onp.random.default_rng(0)
    if shape is None:
        x = np.array(rng.integers(0, 10, (4, 2)).astype(onp.float32))
    else:
        x = np.array(rng.standard_normal(shape).astype(onp.float32))
    n = x.shape[0]
    if isinstance(loss_fn, gluon.loss.SoftmaxCrossEntropyLoss):
        y = np.array(rng.integers(0, 3, n).astype(onp.float32))
    else:
        y = np.array(rng.uniform(0, 1, (n, 3)).astype(onp.float32))
    net = make()
    net.initialize()
    with autograd.train_mode():
        net(x)          # deferred shapes
    want = _net_grads(net, loss_fn, x, y)
    net.hybridize()
    loss_fn.hybridize()
    with warnings.catch_warnings():
        warnings.simplefilter("error", HybridizeWarning)
        for _ in range(3):
            got = _net_grads(net, loss_fn, x, y)
    if name == "batchnorm":     # running statistics move on each training call
        return
    _same(got[0], want[0], rtol=1e-5, atol=1e-6)
    _same(got[1], want[1], rtol=1e-5, atol=1e-6)
    for k in want[2]:
        _same(got[2][k], want[2][k], rtol=1e-4, atol=1e-6)
    assert net._hybrid.graphs


def test_batchnorm_running_statistics_update_in_replays_as_eagerly():
    def run(hybrid):
        np.random.seed(0)
        net = _seq(gluon.nn.Dense(4, in_units=3), gluon.nn.BatchNorm(in_channels=4))
        net.initialize(gluon.init.Constant(0.5) if hasattr(gluon, "init") else None)
        if hybrid:
            net.hybridize()
        x = np.array(onp.arange(15).reshape(5, 3).astype(onp.float32) / 10)
        for _ in range(4):
            with autograd.record():
                out = net(x)
            out.backward()
        bn = net[1]
        return bn.running_mean.data().asnumpy(), bn.running_var.data().asnumpy(), \
            net(x).asnumpy()
    for a, b in zip(run(False), run(True)):
        _same(a, b, rtol=1e-5)


def test_training_with_trainer_hybridized_follows_the_eager_losses():
    def run(hybrid):
        np.random.seed(1)
        net = _seq(gluon.nn.Dense(8, activation="relu", in_units=4), gluon.nn.Dense(2))
        net.initialize()
        if hybrid:
            net.hybridize()
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        tr = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.05})
        x = np.array(onp.random.default_rng(0).standard_normal((16, 4)).astype(onp.float32))
        y = np.array((onp.arange(16) % 2).astype(onp.float32))
        losses = []
        for _ in range(5):
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            tr.step(16)
            losses.append(float(loss.mean()))
        return losses
    _same(run(True), run(False), rtol=1e-5)


def test_describe_captured_and_not_hybridized_blocks():
    net = _seq(gluon.nn.Dense(3, in_units=2))
    net.initialize()
    assert "not hybridized" in net.describe_captured()
    net.hybridize()
    net(np.ones((1, 2)))
    net(np.ones((1, 2)))
    text = net.describe_captured()
    assert "1 captured signature" in text and "launches per call" in text
    net.hybridize(active=False)
    assert "not hybridized" in net.describe_captured()


def test_constants_made_inside_are_folded_and_kept():
    def f(x):
        c = np.array([1.0, 2.0, 3.0]) * 2 + 1       # uploaded, then two ops on constants only
        return x * c

    h = npx.hybridize(f)
    x = np.ones(3)
    h(x)
    before = launch_count()
    _same(h(x).asnumpy(), [3, 5, 7])
    _same(h(x * 2).asnumpy(), [6, 10, 14])
    assert launch_count() - before == 3     # x * 2 eagerly, then one launch per replay
    assert "3 elementwise ops" in h.describe() and "computing 1 elementwise ops" in h.describe()


def test_an_array_from_the_closure_is_read_where_it_is_at_each_call():
    w = np.array([1.0, 2.0])
    h = npx.hybridize(lambda x: x * w)
    x = np.ones(2)
    h(x)
    w[:] = np.array([5.0, 7.0])           # written in place: the same buffer
    _same(h(x).asnumpy(), [5, 7])


def test_threads_capture_and_replay_one_function_concurrently():
    import threading
    h = npx.hybridize(lambda a, b: np.tanh(a * b) + a)
    errors = []

    def work(k):
        try:
            for i in range(30):
                va = onp.full((4 + k % 2, 3), 0.1 * (k + 1), onp.float32)
                vb = onp.full(3, 0.01 * i, onp.float32)
                got = h(np.array(va), np.array(vb)).asnumpy()
                onp.testing.assert_allclose(got, onp.tanh(va * vb) + va, rtol=1e-5)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(h.graphs) == 2


def test_export_says_what_it_cannot_write():
    from clgrad.base import UnsupportedError
    net = _seq(gluon.nn.Dense(2, in_units=2))
    with pytest.raises(UnsupportedError, match="symbol JSON"):
        net.export("x")


def test_an_input_returned_as_it_is_keeps_copy_semantics():
    h = npx.hybridize(lambda a: (a.reshape(-1), a * 1))
    x = np.ones((2, 2))
    for _ in range(2):
        flat, _ = h(x)
    flat[0] = 5.0
    _same(x.asnumpy(), onp.ones((2, 2)))
    _same(flat.asnumpy(), [5, 1, 1, 1])


def test_keyword_arguments_run_eagerly():
    h = npx.hybridize(lambda a, scale=2.0: a * scale)
    x = np.ones(2)
    _same(h(x, scale=3.0).asnumpy(), [3, 3])
    _same(h(x).asnumpy(), [2, 2])
    _same(h(x, scale=5.0).asnumpy(), [5, 5])
    assert len(h.graphs) == 1


# --- static_alloc: each graph's own arena, or one arena shared by a device's graphs ---------------
def _two_layer(x, w):
    h = np.tanh(x @ w) * 2 - 1
    return (h * h + 1).sum(axis=1)


def _two_layer_ref(x, w):
    h = onp.tanh(x @ w) * 2 - 1
    return (h * h + 1).sum(axis=1)


def test_graphs_share_the_devices_arena_unless_static_alloc():
    from clgrad.hybrid.program import Arena
    rng = onp.random.default_rng(3)
    shared = npx.hybridize(_two_layer)
    own = npx.hybridize(_two_layer, static_alloc=True)
    cases = [(rng.standard_normal(s).astype("float32"), rng.standard_normal(t).astype("float32"))
             for s, t in (((8, 5), (5, 7)), ((64, 30), (30, 50)), ((3, 4), (4, 2)))]
    for _ in range(3):      # alternating signatures: a larger one grows the shared arena
        for x, w in cases:
            for h in (shared, own):
                _same(h(np.array(x), np.array(w)).asnumpy(), _two_layer_ref(x, w), rtol=1e-5,
                      atol=1e-5)
    sizes = [g.arena_size for g in shared.graphs.values()]
    assert len(sizes) == 3 and max(sizes) > 0
    assert Arena.shared(default_device()).size >= max(sizes)
    assert "shared with its other graphs" in shared.describe()
    assert "shared" not in own.describe() and "in its own" in own.describe()


def test_the_shared_arena_through_recorded_calls_and_backward():
    rng = onp.random.default_rng(4)
    x0, w0 = rng.standard_normal((16, 9)), rng.standard_normal((9, 12))
    want = _grads(_two_layer, x0, w0)
    h = npx.hybridize(_two_layer)
    other = npx.hybridize(lambda a: (np.exp(a) * 3 - a).sum(axis=0))
    big = np.array(rng.standard_normal((400, 300)))
    for _ in range(3):
        got = _grads(h, x0, w0)
        other(big)          # another graph runs in the same arena between calls
        _same(got[0], want[0], rtol=1e-5)
        for g, e in zip(got[1], want[1]):
            _same(g, e, rtol=1e-5, atol=1e-6)


def test_threads_replaying_graphs_that_share_the_arena():
    import threading
    rng = onp.random.default_rng(5)
    fns = [npx.hybridize(_two_layer), npx.hybridize(_two_layer)]
    data = [(rng.standard_normal((32, 20)).astype("float32"),
             rng.standard_normal((20, 24)).astype("float32")),
            (rng.standard_normal((48, 10)).astype("float32"),
             rng.standard_normal((10, 40)).astype("float32"))]
    errors = []

    def work(k):
        try:
            x, w = np.array(data[k][0]), np.array(data[k][1])
            ref = _two_layer_ref(*data[k])
            for _ in range(40):
                _same(fns[k](x, w).asnumpy(), ref, rtol=1e-5, atol=1e-5)
        except Exception as e:      # (reported below)
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)     # threads switch inside a replay's enqueues
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
