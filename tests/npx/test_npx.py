"""``clgrad.npx``: MXNet's numpy-extension namespace itself (modes, devices, synchronisation,
memory, ``stop_gradient``, and which ops it takes from where); the NN ops are tested with their
ops (tests/ops/test_nn.py)."""
import numpy as onp
import pytest

from clgrad import MXNetError, autograd, np, npx
from clgrad.ops import nn
from clgrad.runtime import all_devices


def test_np_modes_are_kept_for_mxnet_code():
    npx.set_np()
    assert npx.is_np_array() and npx.is_np_shape()
    npx.reset_np()
    assert not npx.is_np_array() and not npx.is_np_shape()
    npx.set_np(shape=False)
    assert npx.is_np_array() and not npx.is_np_shape()
    npx.set_np()


def test_devices():
    cpus = [d for d in all_devices() if d.device_type == "cpu"]
    gpus = [d for d in all_devices() if d.device_type == "gpu"]
    assert npx.num_gpus() == len(gpus)
    if cpus:
        assert npx.cpu() is cpus[0] and npx.cpu(0) is cpus[0]
    with pytest.raises(MXNetError, match="does not exist"):
        npx.gpu(len(gpus))
    dev = npx.current_device()
    assert npx.current_context() is dev
    with dev:
        assert np.ones(2).device is dev


def test_waitall_and_memory():
    x = np.ones(1000)
    y = x * 2
    npx.waitall()
    stats = npx.memory_stats()
    assert {"in_use_bytes", "reserved_bytes", "peak_bytes"} <= set(stats)
    assert stats["in_use_bytes"] >= 2 * 4000
    npx.empty_cache()
    assert float(y.sum()) == 2000.0


def test_stop_gradient_cuts_the_graph():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * npx.stop_gradient(x * 3)
    y.backward()
    onp.testing.assert_array_equal(x.grad.asnumpy(), [3.0, 6.0])     # d/dx of x * c


def test_the_namespace_takes_the_nn_ops_and_bernoulli():
    for name in nn.__all__:
        assert getattr(npx, name) is getattr(nn, name), name
    assert npx.random.bernoulli is nn.bernoulli
    draws = npx.random.bernoulli(prob=0.5, size=(1000,))
    assert set(onp.unique(draws.asnumpy())) <= {0.0, 1.0}


def test_batch_dot_matches_numpy_and_differentiates():
    from clgrad import autograd
    rng = onp.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4)).astype(onp.float32)
    b = rng.standard_normal((2, 5, 4)).astype(onp.float32)
    got = npx.batch_dot(np.array(a), np.array(b), transpose_b=True)
    onp.testing.assert_allclose(got.asnumpy(), a @ b.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    got = npx.batch_dot(np.array(a.transpose(0, 2, 1)), np.array(b.transpose(0, 2, 1)),
                        transpose_a=True)
    onp.testing.assert_allclose(got.asnumpy(), a @ b.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    x = np.array(a)
    x.attach_grad()
    with autograd.record():
        y = npx.batch_dot(x, np.array(b), transpose_b=True).sum()
    y.backward()
    onp.testing.assert_allclose(x.grad.asnumpy(), onp.broadcast_to(b.sum(axis=1)[:, None, :],
                                                                   a.shape), rtol=1e-5)
    with pytest.raises(ValueError, match="batch dimensions differ"):
        npx.batch_dot(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="same rank"):
        npx.batch_dot(np.ones((3, 4)), np.ones((4, 5)))


def test_sequence_mask_both_layouts_and_gradient():
    from clgrad import autograd
    d = onp.arange(12, dtype=onp.float32).reshape(3, 2, 2)        # (T, B, C)
    got = npx.sequence_mask(np.array(d), np.array([1.0, 3.0]), use_sequence_length=True,
                            value=-1)
    want = d.copy()
    want[1:, 0] = -1
    onp.testing.assert_array_equal(got.asnumpy(), want)
    db = d.transpose(1, 0, 2).copy()                                # (B, T, C)
    got = npx.sequence_mask(np.array(db), np.array([2, 1]), use_sequence_length=True, axis=1)
    want = db.copy()
    want[0, 2:] = 0
    want[1, 1:] = 0
    onp.testing.assert_array_equal(got.asnumpy(), want)
    onp.testing.assert_array_equal(npx.sequence_mask(np.array(d)).asnumpy(), d)
    x = np.array(d)
    x.attach_grad()
    with autograd.record():
        y = npx.sequence_mask(x, np.array([1.0, 3.0]), use_sequence_length=True).sum()
    y.backward()
    g = onp.ones_like(d)
    g[1:, 0] = 0
    onp.testing.assert_array_equal(x.grad.asnumpy(), g)
    with pytest.raises(ValueError, match="one length per batch entry"):
        npx.sequence_mask(np.array(d), np.array([1.0]), use_sequence_length=True)


@pytest.mark.parametrize("codes, want", [
    ((-2, -1), (2, 12)), ((-4,), (2, 1, 3, 4)), ((2, -4), (2, 1, 3, 4)),
    ((-5, -2, -2), (2, 3, 4)), ((-2, -3, -6, 1, -1, 4), (2, 1, 3, 4)),
    ((-2, -2, -1), (2, 1, 12)), ((-2, -3, -5), (2, 12)), ((-1,), (24,)),
    ((-6, 1, 2, -4), (1, 2, 1, 3, 4))])
def test_npx_reshape_special_codes(codes, want):
    """MXNet's npx.reshape codes (the shapes MXNet 1.9.1 gives for an array of (2, 1, 3, 4))."""
    x = onp.arange(24, dtype=onp.float32).reshape(2, 1, 3, 4)
    got = npx.reshape(np.array(x), codes)
    assert got.shape == want
    onp.testing.assert_array_equal(got.asnumpy(), x.reshape(want))


def test_npx_reshape_reverse_and_errors():
    x = np.ones((10, 5, 4))
    assert npx.reshape(x, (-1, 0 + 20), reverse=True).shape == (10, 20)
    assert npx.reshape(x, (-6, 2, -1, -4), reverse=False).shape == (2, 5, 5, 4)
    with pytest.raises(ValueError, match="-3 drops a dimension of size 1"):
        npx.reshape(x, (-3, -1))
    with pytest.raises(ValueError, match="size 0"):
        npx.reshape(x, (0, -1))
    with pytest.raises(ValueError, match="more than one -1"):
        npx.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="cannot split"):
        npx.reshape(x, (-6, 3, 3, -4))
