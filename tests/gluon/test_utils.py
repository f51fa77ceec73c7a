"""gluon.utils: split_data, split_and_load and clip_global_norm (MXNet 2.x semantics)."""
import math

import numpy as onp
import pytest

import clgrad
from clgrad import np
from clgrad.base import MXNetError
from clgrad.gluon import utils
from clgrad.runtime import default_device


def _second_device():
    """Another clgrad device on the same OpenCL device (its own context and queue)."""
    d = default_device()
    return clgrad.Device(d.cl_device, d.platform_index, d.device_index, d.device_type, 1)


def test_split_data_even_and_uneven():
    x = np.array(onp.arange(24.0).reshape(6, 4))
    parts = utils.split_data(x, 3)
    assert [p.shape for p in parts] == [(2, 4)] * 3
    onp.testing.assert_array_equal(onp.concatenate([p.asnumpy() for p in parts]), x.asnumpy())
    parts = utils.split_data(x, 4, even_split=False)    # MXNet: the first ones get the extra
    assert [p.shape[0] for p in parts] == [2, 2, 1, 1]
    cols = utils.split_data(x, 2, batch_axis=1)
    onp.testing.assert_array_equal(cols[1].asnumpy(), x.asnumpy()[:, 2:])
    assert len(utils.split_data(x, 1)) == 1


def test_split_data_errors():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"cannot be evenly split into 2 slices.*even_split"):
        utils.split_data(x, 2)
    with pytest.raises(MXNetError, match="num_slice"):
        utils.split_data(x, 0)
    with pytest.raises(ValueError, match="batch_axis 2"):
        utils.split_data(x, 1, batch_axis=2)


def test_split_and_load_one_device_and_host_data():
    dev = default_device()
    out = utils.split_and_load(onp.ones((4, 3), dtype="float32"), [dev])
    assert len(out) == 1 and out[0].device is dev and out[0].shape == (4, 3)
    with pytest.raises(ValueError, match="empty"):
        utils.split_and_load(np.ones((2,)), [])


def test_split_and_load_two_devices():
    devs = [default_device(), _second_device()]
    x = np.array(onp.arange(12.0).reshape(6, 2))
    a, b = utils.split_and_load(x, devs)
    assert a.device is devs[0] and b.device is devs[1]
    onp.testing.assert_array_equal(b.asnumpy(), x.asnumpy()[3:])
    with pytest.raises(ValueError, match="evenly"):
        utils.split_and_load(np.zeros((5, 2)), devs)


def test_clip_global_norm_scales_in_place_and_returns_the_norm():
    a, b = np.array([3.0, 0.0]), np.array([[0.0, 4.0]])
    norm = utils.clip_global_norm([a, b], 1.0)
    assert isinstance(norm, float) and norm == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-8)
    onp.testing.assert_allclose(a.asnumpy(), [3 * scale, 0], rtol=1e-6)
    onp.testing.assert_allclose(b.asnumpy(), [[0, 4 * scale]], rtol=1e-6)


def test_clip_global_norm_below_max_leaves_values():
    a = np.array([0.3, 0.4], dtype="float64")
    h = np.array([1.0, 2.0], dtype="float16")
    norm = utils.clip_global_norm([a, h], 10.0)
    assert norm == pytest.approx(math.sqrt(0.25 + 5.0), rel=1e-6)
    onp.testing.assert_array_equal(a.asnumpy(), [0.3, 0.4])
    onp.testing.assert_array_equal(h.asnumpy(), [1.0, 2.0])


def test_clip_global_norm_without_check_returns_an_array():
    a = np.array([6.0, 8.0])
    norm = utils.clip_global_norm([a], 5.0, check_isfinite=False)
    assert norm.shape == (1,)
    assert norm.item() == pytest.approx(10.0)
    onp.testing.assert_allclose(a.asnumpy(), [3.0, 4.0], rtol=1e-6)


def test_clip_global_norm_warns_on_nan():
    a = np.array([float("nan"), 1.0])
    with pytest.warns(UserWarning, match="nan or inf"):
        norm = utils.clip_global_norm([a], 1.0)
    assert math.isnan(norm)
