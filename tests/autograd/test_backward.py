"""attach_grad / grad_req, backward and its heads, retain_graph, freed graphs, detaching."""
import numpy as onp
import pytest

from clgrad import AutogradError, MXNetError, ShapeError, autograd, np, npx


def _x(vals=(1.0, 2.0, 3.0), **kw):
    x = np.array(list(vals), **kw)
    x.attach_grad()
    return x


# --- attach_grad ------------------------------------------------------------------------------
def test_attach_grad_gives_zeros_of_the_arrays_shape_and_dtype():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert x.grad is None
    x.attach_grad()
    assert x.grad.shape == (2, 2) and x.grad.dtype == x.dtype
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert x.grad_req == "write"


def test_attach_grad_again_resets_the_gradient():
    x = _x()
    with autograd.record():
        y = x * 3
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    x.attach_grad()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_unknown_grad_req_is_an_error_and_changes_nothing():
    x = _x()
    old = x.grad
    with pytest.raises(MXNetError, match="grad_req"):
        x.attach_grad("sometimes")
    assert x.grad is old and x.grad_req == "write"


def test_grad_req_write_overwrites():
    x = _x()
    for k in (2.0, 5.0):
        with autograd.record():
            y = x * k
        y.backward()
        assert x.grad.tolist() == [k, k, k]


def test_grad_req_add_accumulates_over_backward_calls():
    x = _x()
    x.attach_grad(grad_req="add")
    assert x.grad_req == "add"
    for _ in range(3):
        with autograd.record():
            y = x * x
        y.backward()
    onp.testing.assert_allclose(x.grad.asnumpy(), 3 * 2 * onp.array([1.0, 2.0, 3.0]))


def test_grad_req_null_skips_the_variable():
    x = _x()
    w = np.array([1.0, 1.0, 1.0])
    w.attach_grad(grad_req="null")
    assert w.grad_req == "null"
    with autograd.record():
        y = x * w
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    assert w.grad.tolist() == [0.0, 0.0, 0.0]     # MXNet keeps a zero buffer that is never written
    with autograd.record():
        z = w * 2
    with pytest.raises(AutogradError, match="not in a computational graph"):
        z.backward()


def test_attach_grad_detaches_the_array_from_the_graph_that_produced_it():
    x = _x()
    with autograd.record():
        y = 3 * x
        y.attach_grad()
        z = 4 * y + 2 * x
    z.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert y.grad.tolist() == [4.0, 4.0, 4.0]
    with autograd.record():
        y = 3 * x
        z = 4 * y + 2 * x
    z.backward()
    assert x.grad.tolist() == [14.0, 14.0, 14.0]
    assert y.grad is None       # a non-leaf has no .grad


def test_mark_variables_uses_the_given_buffers_and_reqs():
    x = np.array([1.0, 2.0])
    gx = np.array([10.0, 10.0])
    z = np.array([3.0, 4.0])
    gz = np.zeros((2,))
    autograd.mark_variables([x, z], [gx, gz], ["add", "write"])
    with autograd.record():
        y = x * z
    y.backward()
    assert gx.tolist() == [13.0, 14.0]
    assert gz.tolist() == [1.0, 2.0]
    assert x.grad is gx
    with pytest.raises(MXNetError, match="grad_req"):
        autograd.mark_variables([x], [gx], "bogus")
    with pytest.raises(MXNetError, match="shape"):
        autograd.mark_variables([x], [np.zeros((3,))])
    with pytest.raises(MXNetError, match="length"):
        autograd.mark_variables([x, z], [gx])


# --- backward ---------------------------------------------------------------------------------
def test_non_scalar_head_backward_equals_sum_backward():
    x = _x()
    with autograd.record():
        y = 2 * x * x
    y.backward()
    g1 = x.grad.asnumpy().copy()
    with autograd.record():
        y = (2 * x * x).sum()
    y.backward()
    assert g1.tolist() == x.grad.tolist() == [4.0, 8.0, 12.0]


def test_out_grad_weights_the_head():
    x = _x()
    with autograd.record():
        y = x * x
    y.backward(np.array([1.0, 0.5, -1.0]))
    assert x.grad.tolist() == [2.0, 2.0, -6.0]
    with autograd.record():
        y = x * x
    y.backward(out_grad=[0.0, 1.0, 0.0])      # anything array-like is accepted
    assert x.grad.tolist() == [0.0, 4.0, 0.0]


def test_out_grad_of_the_wrong_shape_is_an_error_and_grads_stay():
    x = _x()
    with autograd.record():
        y = x * x
    with pytest.raises(ShapeError, match="head gradient shape"):
        y.backward(np.ones((2,)))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y.backward()                      # the failed call freed nothing
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_autograd_backward_with_several_heads_sums_their_gradients():
    x = _x()
    with autograd.record():
        a = x * x
        b = 3 * x
    autograd.backward([a, b], [np.ones((3,)), np.full((3,), 2.0)])
    assert x.grad.tolist() == [8.0, 10.0, 12.0]
    with autograd.record():
        a = x * x
        b = (3 * x).sum()
    autograd.backward([a, b])
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    with pytest.raises(MXNetError, match="head gradients"):
        autograd.backward([a], [None, None])


def test_head_that_is_an_attached_leaf_gets_ones():
    x = _x()
    x.backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
    autograd.backward([x], [np.array([2.0, 3.0, 4.0])])
    assert x.grad.tolist() == [2.0, 3.0, 4.0]


def test_head_used_twice_accumulates():
    x = _x()
    with autograd.record():
        y = x * 2
    autograd.backward([y, y])
    assert x.grad.tolist() == [4.0, 4.0, 4.0]


def test_backward_on_an_unrecorded_array_says_so():
    x = _x()
    y = x * 2
    with pytest.raises(AutogradError, match="not in a computational graph") as e:
        y.backward()
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(AutogradError, match="not in a computational graph"):
        np.array([1.0]).backward()
    with autograd.record():
        c = np.array([1.0]) * 2           # no input needs a gradient: nothing recorded
    with pytest.raises(AutogradError, match="not in a computational graph"):
        c.backward()


def test_second_backward_without_retain_graph_raises_and_names_the_remedy():
    x = _x()
    with autograd.record():
        y = (2 * x * x).sum()
    y.backward()
    with pytest.raises(AutogradError, match="retain_graph=True") as e:
        y.backward()
    assert isinstance(e.value, RuntimeError) and "freed" in str(e.value)
    assert x.grad.tolist() == [4.0, 8.0, 12.0]    # the failed call wrote nothing


def test_retain_graph_allows_another_backward():
    x = _x()
    with autograd.record():
        y = (2 * x * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]
    with pytest.raises(AutogradError, match="freed"):
        y.backward()


def test_backward_frees_what_the_graph_saved():
    x = _x()
    with autograd.record():
        y = x * x
        z = y.sum()
    node = y._ag_node
    assert node.ctx.saved and node.ctx.saved[0] is x
    z.backward()
    assert node.freed and node.ctx is None and node.parents == ()


def test_a_freed_subgraph_shared_by_another_head_raises():
    x = _x()
    with autograd.record():
        y = x * x
        a = y + 1
        b = y * 3
    a.backward()
    with pytest.raises(AutogradError, match="freed"):
        b.backward()


def test_leaf_reached_only_by_zero_gradients_is_written_with_zeros():
    x = _x((1.5, 2.5, -0.5))
    with autograd.record():
        y = x * 3
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    with autograd.record():
        y = np.floor(x)
    y.backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_add_leaf_reached_only_by_zero_gradients_keeps_its_sum():
    x = _x((1.5, 2.5, -0.5))
    x.attach_grad("add")
    with autograd.record():
        y = x * 3
    y.backward()
    with autograd.record():
        y = np.floor(x)
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_variables_outside_the_heads_graph_are_not_written():
    x = _x()
    w = _x((5.0, 5.0, 5.0))
    with autograd.record():
        y = w * 2
    y.backward()
    with autograd.record():
        y = x * 2
        unused = w * 7   # noqa: F841  (recorded, but not part of y's graph)
    y.backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]


def test_detach_and_stop_gradient_cut_the_graph():
    x = _x()
    with autograd.record():
        y = x * x
        z = y.detach() * x + npx.stop_gradient(y) * 2
    z.backward()
    # only the explicit x factor flows: d/dx (c * x) = c = x*x
    assert x.grad.tolist() == [1.0, 4.0, 9.0]
    assert y.detach()._ag_node is None


def test_integer_arrays_get_gradients_of_their_own_dtype():
    x = np.array([1, 2, 3], dtype="int32")
    x.attach_grad()
    assert x.grad.dtype == onp.int32
    with autograd.record():
        y = x * x * 2
    y.backward()
    assert x.grad.dtype == onp.int32 and x.grad.tolist() == [4, 8, 12]
    with autograd.record():
        y = x * 2.5             # promotes to float32; the gradient is cast back, as MXNet does
    y.backward()
    assert x.grad.dtype == onp.int32 and x.grad.tolist() == [2, 2, 2]
    with autograd.record():
        y = (x.astype("float32") * 3.0).sum()
    (g,) = autograd.grad(y, [x])
    assert g.dtype == onp.int32 and g.tolist() == [3, 3, 3]


def test_float16_and_float64_leaves():
    from clgrad.runtime import default_device
    for dt in ("float16", "float64") if default_device().caps.fp64 else ("float16",):
        x = np.array([1.0, 2.0], dtype=dt)
        x.attach_grad()
        with autograd.record():
            y = x * x
        y.backward()
        assert x.grad.dtype == onp.dtype(dt) and x.grad.tolist() == [2.0, 4.0]


def test_control_flow_records_only_the_path_taken():
    def f(a):
        b = a * 2
        while np.abs(b).sum() < 1000:
            b = b * 2
        if b.sum() >= 0:
            c = b[0]
        else:
            c = b[1]
        return c

    for vals in ([0.3, 0.7], [-0.3, -0.7]):
        a = np.array(vals)
        a.attach_grad()
        with autograd.record():
            c = f(a)
        c.backward()
        got = a.grad.asnumpy()
        k = 0 if vals[0] > 0 else 1
        expect = onp.zeros(2, dtype=onp.float32)
        expect[k] = c.item() / vals[k]
        onp.testing.assert_allclose(got, expect, rtol=1e-6)


def test_grad_of_a_view_flows_to_the_base():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x.attach_grad()
    with autograd.record():
        y = (x.T[::-1, 1:] * np.array([[1.0], [2.0], [3.0]])).reshape(-1)
    y.backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [3.0, 2.0, 1.0]]


def test_each_recorded_op_builds_one_node_and_saves_only_what_its_vjp_reads():
    x = _x()
    c = np.array([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * c
        z = np.clip(y, 0.0, 5.0)
        s = z + c
        k = c * 2                    # no input needs a gradient: nothing recorded
    ny = y._ag_node
    assert ny.name == "multiply" and ny.parents == ((x._ag_node, 0), None)
    assert ny.ctx.saved[0] is None and ny.ctx.saved[1] is c    # d/dx (x*c) reads only c
    assert z._ag_node.name == "clip" and z._ag_node.parents == ((ny, 0), None, None)
    assert all(a is None for a in s._ag_node.ctx.saved)          # add reads nothing
    assert k._ag_node is None
    assert x.grad is not None and y.grad is None                 # .grad only for leaves


def test_backward_runs_consumers_before_producers_in_reverse_recording_order():
    """A node used by several later nodes, on paths of different lengths, gets all of its
    cotangents before its own vjp runs: the order is topological, newest node first."""
    from clgrad.autograd.tape import _topo_order
    x = _x([1.0, 2.0, 3.0])
    with autograd.record():
        a = x * 2
        b = a * 3
        c = a + 1
        d = b * c
        e = d + a                   # e = 12 x^2 + 8 x
    order = _topo_order([e._ag_node])
    assert len(order) == 5
    position = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for p in n.parents:
            if p is not None and id(p[0]) in position:
                assert position[id(n)] < position[id(p[0])]
    assert [n.seq for n in order] == sorted((n.seq for n in order), reverse=True)
    e.backward()
    assert x.grad.tolist() == [32.0, 56.0, 80.0]


def test_graph_extended_after_other_recording_keeps_its_order():
    """Nodes recorded in between (another graph, another thread) do not disturb the order of
    a graph that is extended later."""
    import threading
    x = _x([1.0, 2.0])
    with autograd.record():
        a = x * x
    other = []

    def record_elsewhere():
        y = _x([5.0])
        with autograd.record():
            other.append(y * y)
    t = threading.Thread(target=record_elsewhere)
    t.start()
    t.join()
    with autograd.record():
        b = a * x + a
    b.backward()
    assert x.grad.tolist() == [5.0, 16.0]      # d/dx (x^3 + x^2) = 3x^2 + 2x
    assert other[0]._ag_node is not None


# --- deferred scalings: a chain of x * c costs one launch in backward --------------------------
@pytest.fixture
def launches(monkeypatch):
    """Names of the kernels launched while a test runs."""
    from clgrad.ops import launch
    names = []
    call, run = launch.Kernel.__call__, launch.Kernel.launch

    def counted_call(self, *a):
        names.append(self.name)
        return call(self, *a)

    def counted_launch(self, *a):
        names.append(self.name)
        return run(self, *a)
    monkeypatch.setattr(launch.Kernel, "__call__", counted_call)
    monkeypatch.setattr(launch.Kernel, "launch", counted_launch)
    return names


def _chain(x, factors):
    y = x
    for f in factors:
        y = -y if f is None else y * f
    return y


FACTORS = [1.5, None, 0.25, 3, None, -2.0, 1.0001]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_scalar_chain_gradient_and_launches(dtype, launches):
    if dtype == "float64" and not np.zeros(1).device.caps.fp64:
        pytest.skip("the device has no cl_khr_fp64")
    hx = onp.linspace(-2, 2, 12).astype(dtype)
    x = np.array(hx, dtype=dtype)
    x.attach_grad()
    with autograd.record():
        y = _chain(x, FACTORS * 5)
    del launches[:]
    y.backward()
    want = onp.prod([-1.0 if f is None else f for f in FACTORS * 5])
    tol = 1e-2 if dtype == "float16" else 1e-6
    onp.testing.assert_allclose(x.grad.asnumpy(), onp.full(12, want), rtol=tol)
    assert x.grad.dtype == onp.dtype(dtype)
    # the head's ones and one scaling that writes x.grad: not one launch per op
    assert len(launches) <= 2, launches


def test_deferred_scalings_meet_other_ops():
    hx = onp.array([0.5, -1.0, 2.0], dtype=onp.float32)
    x = np.array(hx)
    x.attach_grad()
    with autograd.record():
        a = x * 2.0                 # two scaled paths that meet in an add
        b = -(x * 3)
        c = np.exp(a * 0.5) * 4.0   # a scaled cotangent reaching a vjp that reads its input
        y = (a + b) * 1.5 + c
    y.backward()
    want = (2.0 - 3.0) * 1.5 + 4.0 * onp.exp(hx)
    onp.testing.assert_allclose(x.grad.asnumpy(), want, rtol=1e-5)


def test_deferred_scalings_with_grad_add_and_variables():
    hx = onp.array([1.0, 2.0], dtype=onp.float32)
    x = np.array(hx)
    x.attach_grad(grad_req="add")
    for _ in range(2):
        with autograd.record():
            y = (x * 3.0) * -2.0
        y.backward()
    onp.testing.assert_allclose(x.grad.asnumpy(), [-12.0, -12.0])
    z = np.array(hx)
    z.attach_grad()
    with autograd.record():
        m = z * 5.0
        y = -(m * 0.5)
    gz, gm = autograd.grad(y, [z, m], retain_graph=True)
    onp.testing.assert_allclose(gz.asnumpy(), [-2.5, -2.5])
    onp.testing.assert_allclose(gm.asnumpy(), [-0.5, -0.5])


def test_deferred_scalings_not_used_with_create_graph():
    x = np.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = (x * x) * 3.0
        (dx,) = autograd.grad(y, [x], create_graph=True)    # 6x, recorded
        z = (dx * 0.5).sum()
    z.backward()
    onp.testing.assert_allclose(dx.asnumpy(), [6.0, 12.0, 18.0])
    onp.testing.assert_allclose(x.grad.asnumpy(), [3.0, 3.0, 3.0])


def test_backward_releases_saved_arrays_as_it_goes():
    # each exp saves its input; by the time backward reaches the first op of the chain, the
    # nodes it has passed have released theirs (back to the pool), not only at the end
    import gc
    dev = np.zeros(1).device
    x = np.ones(1 << 16)
    x.attach_grad()
    seen = []

    class Probe(autograd.Function):
        def forward(self, v):
            return v * 1

        def backward(self, dy):
            gc.collect()
            seen.append(dev.memory_stats()["in_use_bytes"])
            return dy * 1

    with autograd.record():
        h = Probe()(x)
        for _ in range(8):
            h = np.exp(h * 0.01)
        y = h.sum()
    del h
    gc.collect()
    held = dev.memory_stats()["in_use_bytes"]
    y.backward()
    # the 8 saved intermediates (exp's inputs), of x's size: at most two still alive
    assert seen and seen[0] <= held - 6 * x.nbytes, (held, seen)
    h, want = 1.0, 1.0
    for _ in range(8):
        h = onp.exp(0.01 * h)
        want *= 0.01 * h
    onp.testing.assert_allclose(x.grad.asnumpy(), want, rtol=1e-5)


class _StopsOnce(autograd.Function):
    """Its backward raises ``error`` the first time."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def forward(self, x):
        return x * 2

    def backward(self, dy):
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return dy * 2


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
def test_backward_after_an_interrupted_backward_says_it_was_interrupted(error):
    x = _x()
    with autograd.record():
        z = (_StopsOnce(error)(x) + x * x).sum()
    with pytest.raises(error):
        z.backward()
    # the nodes the interrupted pass went through were freed: the retry blames that pass
    with pytest.raises(AutogradError, match="freed") as e:
        z.backward()
    msg = str(e.value)
    assert f"interrupted ({error.__name__})" in msg and "before it finished" in msg
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_an_interrupted_backward_with_retain_graph_can_be_run_again():
    x = _x()
    with autograd.record():
        z = (_StopsOnce(KeyboardInterrupt)(x) + x * x).sum()
    with pytest.raises(KeyboardInterrupt):
        z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [4.0, 6.0, 8.0]


def test_a_graph_freed_by_a_finished_backward_is_not_called_interrupted():
    x = _x()
    with autograd.record():
        y = x * x
        a = y + 1
        b = y * 3
    a.backward()
    for _ in range(2):      # the failing retries do not relabel what the first pass freed
        with pytest.raises(AutogradError, match="freed by an earlier backward\\(\\)\\. ") as e:
            b.backward()
        assert "interrupted" not in str(e.value)


def test_backward_and_mark_variables_arguments_have_builtin_categories():
    x = _x()
    with autograd.record():
        y = x * 2
    with pytest.raises(MXNetError, match="head gradients") as e:
        autograd.backward([y], [None, None])
    assert isinstance(e.value, ValueError) and isinstance(e.value, AssertionError)  # MXNet asserts
    with pytest.raises(MXNetError, match="heads must be arrays") as e:
        autograd.backward([5])
    assert isinstance(e.value, TypeError)
    with pytest.raises(MXNetError, match="differ in length") as e:
        autograd.mark_variables([x, x], [np.zeros(3)])
    assert isinstance(e.value, ValueError)
    with pytest.raises(MXNetError, match="gradient buffer shape") as e:
        autograd.mark_variables([x], [np.zeros(4)])
    assert isinstance(e.value, ValueError)
    with pytest.raises(MXNetError, match="variable 0 is a list") as e:
        autograd.grad([y], [[1.0]])
    assert isinstance(e.value, TypeError)
    with pytest.raises(AutogradError, match="does not require gradient"):
        autograd.grad([y], [np.ones(3)])
    with pytest.raises(NotImplementedError, match="get_symbol"):
        autograd.get_symbol(y)


# --- the default head gradient ----------------------------------------------------------------
def test_a_vector_head_gets_ones_without_a_fill_each_backward():
    from clgrad.ops.launch import clear_caches, launch_count
    clear_caches()      # (the ones an earlier test kept for this shape go)
    x = _x()
    counts = []
    for _ in range(3):
        with autograd.record():
            y = x * x
        before = launch_count()
        y.backward()
        counts.append(launch_count() - before)
        assert x.grad.tolist() == [2.0, 4.0, 6.0]
    assert counts[1] == counts[2] == counts[0] - 1, counts     # the ones are kept after the first


class _WritesItsCotangent(autograd.Function):
    """Identity whose backward scales the incoming gradient in place and returns it."""

    def forward(self, x):
        return x * 1

    def backward(self, dy):
        dy *= 5
        return dy


@pytest.mark.parametrize("shape", [(3,), (2, 2), ()])
def test_writing_the_default_head_gradient_in_place_does_not_change_the_next(shape):
    x = np.array(onp.arange(1.0, 1.0 + onp.prod(shape, dtype=int)).reshape(shape))
    x.attach_grad()
    for _ in range(3):
        with autograd.record():
            y = _WritesItsCotangent()(x)
        y.backward()
        assert (x.grad.asnumpy() == 5).all(), x.grad
    # ones made for another shape or dtype are their own
    with autograd.record():
        z = (x.astype("float64") * 2).reshape(-1)
    z.backward()
    assert (x.grad.asnumpy() == 2).all()
