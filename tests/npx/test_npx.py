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
