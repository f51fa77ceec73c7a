"""The fused update path: launches per update (counted by ``launch.launch_count``), when
arrays count as packed, arenas, and the errors of ``update``."""
import numpy as onp
import pytest

from clgrad import autograd, np
from clgrad import optimizer as opt
from clgrad.base import MXNetError
from clgrad.gluon import Block, Parameter
from clgrad.gluon.trainer import Trainer
from clgrad.ops.launch import launch_count
from clgrad.optimizer import Arena, fused


def _launches(fn):
    before = launch_count()
    fn()
    return launch_count() - before


def test_launch_count_counts_kernel_launches():
    a = np.ones((16,))
    a + a                                   # compile (and launch) once outside the count
    assert _launches(lambda: a + a) == 1
    assert _launches(lambda: (a + a) * a) == 2
    assert _launches(lambda: a.asnumpy()) == 0     # a transfer is not a launch


def _packed(n, dtype="float32", seed=0):
    rng = onp.random.default_rng(seed)
    shapes = [(int(rng.integers(1, 40)), int(rng.integers(1, 9))) for _ in range(n)]
    wa = Arena.pack([np.array(rng.standard_normal(s).astype(dtype)) for s in shapes])
    ga = Arena.pack([np.array(rng.standard_normal(s).astype(dtype)) for s in shapes])
    return wa, ga


@pytest.mark.parametrize("name,launches", [("sgd", 1), ("adam", 1), ("lamb", 3)])
def test_100_packed_parameters_update_in_few_launches(name, launches):
    wa, ga = _packed(100)
    o = opt.create(name, learning_rate=0.01, momentum=0.9) if name == "sgd" else \
        opt.create(name, learning_rate=0.01)
    idx = list(range(100))
    states = fused.create_states(o, idx, wa)
    o.update(idx, wa.views, ga.views, states)       # build the kernels
    assert _launches(lambda: o.update(idx, wa.views, ga.views, states)) == launches
    # a subset, in another order, is still one group
    sub = idx[::-3]
    assert _launches(lambda: o.update(sub, [wa.views[k] for k in sub],
                                      [ga.views[k] for k in sub],
                                      [states[k] for k in sub])) == launches


def test_unpacked_arrays_take_a_launch_each():
    wa, ga = _packed(5)
    ws = [v.copy() for v in wa.views]
    o = opt.Adam(learning_rate=0.01)
    states = [o.create_state(i, w) for i, w in enumerate(ws)]
    assert _launches(lambda: o.update(list(range(5)), ws, ga.views, states)) == 5


class _Many(Block):
    def __init__(self, n):
        super().__init__()
        for k in range(n):
            setattr(self, f"p{k}", Parameter("weight", shape=(3, 2)))
        self.n = n

    def forward(self, x):
        out = 0
        for k in range(self.n):
            out = out + (x * getattr(self, f"p{k}").data()).sum()
        return out


def test_trainer_step_of_100_parameter_model_takes_at_most_5_launches():
    net = _Many(100)
    net.initialize()
    trainer = Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    x = np.ones((3, 2))
    for _ in range(2):
        with autograd.record():
            loss = net(x)
        loss.backward()
        launches = _launches(lambda: trainer.step(1))
    assert launches <= 5


def test_strided_arrays_update_like_packed_ones():
    rng = onp.random.default_rng(1)
    w0 = rng.standard_normal((6, 10)).astype("float32")
    g0 = rng.standard_normal((6, 10)).astype("float32")
    o1, o2 = opt.RMSProp(learning_rate=0.1, centered=True), \
        opt.RMSProp(learning_rate=0.1, centered=True)
    wa = Arena.pack([np.array(w0[:, ::2])])
    ga = Arena.pack([np.array(g0[:, ::2])])
    s1 = fused.create_states(o1, [0], wa)
    big_w, big_g = np.array(w0), np.array(g0)
    w, g = big_w[:, ::2], big_g[:, ::2]            # strided arrays
    assert w.strides == (40, 8)
    s2 = [o2.create_state(0, w)]
    for _ in range(3):
        o1.update([0], wa.views, ga.views, s1)
        o2.update([0], [w], [g], s2)
    onp.testing.assert_array_equal(w.asnumpy(), wa.views[0].asnumpy())
    for a, b in zip(s1[0], s2[0]):
        onp.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_arena_views_hold_the_values_and_write_through():
    a, b = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0, 7.0])
    arena = Arena.pack([a, b])
    onp.testing.assert_array_equal(arena.views[0].asnumpy(), a.asnumpy())
    onp.testing.assert_array_equal(arena.views[1].asnumpy(), b.asnumpy())
    assert arena.offsets[1] % 64 == 0
    arena.views[1][...] = 9.0
    flat = arena.flat.asnumpy()
    onp.testing.assert_array_equal(flat[arena.offsets[1]:arena.offsets[1] + 3], [9.0] * 3)
    onp.testing.assert_array_equal(arena.views[0].asnumpy(), a.asnumpy())
    like = arena.like("float64")
    assert like.offsets == arena.offsets and like.views[1].dtype == onp.float64


def test_arena_views_keep_their_own_versions():
    """A write into one packed array moves its version only (fresh gradients, autograd)."""
    arena = Arena.pack([np.zeros((3,)), np.zeros((3,))])
    v0, v1 = (v._storage.version for v in arena.views)
    arena.views[0][...] = 1.0
    assert arena.views[0]._storage.version == v0 + 1
    assert arena.views[1]._storage.version == v1


def test_packed_views_follow_the_arena_on_copy_on_write():
    """A reshaped view shares the buffer until a write; the packed arrays and the update
    then still see one buffer."""
    wa, ga = _packed(3)
    o = opt.SGD(learning_rate=1.0)
    keep = wa.views[0].reshape(-1)                 # shares the arena's buffer
    before = keep.asnumpy().copy()
    o.update([0, 1, 2], wa.views, ga.views, [None] * 3)
    onp.testing.assert_array_equal(keep.asnumpy(), before)     # MXNet's copy semantics
    want = before - ga.views[0].asnumpy().reshape(-1)
    onp.testing.assert_allclose(wa.views[0].asnumpy().reshape(-1), want, rtol=1e-6)
    assert wa.views[0]._storage.buffer is wa.flat._storage.buffer


def test_update_errors_name_the_problem():
    o = opt.Adam()
    w = np.ones((3,))
    state = o.create_state(0, w)
    with pytest.raises(opt.OptimizerError, match="does not match its weight"):
        o.update([0], [w], [np.ones((4,))], [state])
    with pytest.raises(opt.OptimizerError, match="does not fit Adam"):
        o.update([0], [w], [np.ones((3,))], [state[0]])
    with pytest.raises(TypeError, match="clgrad arrays"):
        o.update([0], [onp.ones(3)], [np.ones((3,))], [state])
    with pytest.raises(opt.OptimizerError, match="share memory"):
        o.update([0], [w], [w], [state])
    with pytest.raises(ValueError, match="differ in number"):
        fused.update(o, [0, 1], [w], [w], [state])
    mp = opt.SGD(multi_precision=True, momentum=0.9)
    w16 = np.ones((3,), dtype="float16")
    with pytest.raises(MXNetError, match="master copy"):
        mp.update([0], [w16], [w16], [mp.create_state(0, w16)])


def test_registry_and_create():
    assert isinstance(opt.create("AdamW", learning_rate=0.1), opt.AdamW)
    with pytest.raises(ValueError, match="Cannot find optimizer 'nosuch'.*adam, adamw"):
        opt.create("nosuch")
    with pytest.raises(TypeError, match="momentun"):
        opt.create("sgd", momentun=0.9)


def test_user_optimizer_with_its_own_step():
    @opt.register
    class HalfStep(opt.Optimizer):
        def create_state(self, index, weight):
            return None

        def step(self, indices, weights, grads, states):
            for index, weight, grad in zip(indices, weights, grads):
                self._update_count(index)
                weight[...] = weight - 0.5 * self._get_lr(index) * grad

    o = opt.create("halfstep", learning_rate=1.0)
    w = np.ones((2,))
    o.update([0], [w], [np.ones((2,))], [None])
    onp.testing.assert_array_equal(w.asnumpy(), [0.5, 0.5])
    with pytest.raises(NotImplementedError):
        opt.Optimizer().step([0], [w], [w], [None])
