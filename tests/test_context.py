"""``clgrad.context`` and the top-level ``cpu``/``gpu``/``Context``: MXNet 1.x's device names."""
import pytest

import clgrad
from clgrad import MXNetError, np, npx


def test_context_names_are_devices():
    dev = npx.current_device()
    ctx = clgrad.Context(dev.device_type, dev.device_id)
    assert ctx is dev and isinstance(ctx, clgrad.Context) and isinstance(dev, clgrad.Device)
    assert clgrad.Context(dev) is dev
    assert clgrad.context.current_context() is dev and clgrad.current_context() is dev
    assert clgrad.context.num_gpus() == npx.num_gpus() == clgrad.num_gpus()
    assert not isinstance("cpu", clgrad.Context)
    getter = clgrad.cpu if dev.device_type == "cpu" else clgrad.gpu
    assert getter(dev.device_id) is dev
    with getter(dev.device_id) as c:       # MXNet's `with mx.cpu():` scopes the default device
        assert np.ones(2).device is c


def test_unknown_context_raises():
    with pytest.raises(MXNetError):
        clgrad.Context("tpu", 0)


def test_array_type_prints_as_mxnet_prints_it():
    x = np.arange(3)
    assert str(type(x)) == "<class 'clgrad.numpy.ndarray'>"
    assert type(x) is np.ndarray and isinstance(x, np.ndarray)
