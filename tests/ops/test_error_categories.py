"""Each error of a bad argument is an ``MXNetError`` and also the builtin that NumPy (and MXNet,
where it differs) raises for the same call, so ``except ValueError`` and ``except MXNetError``
both catch it. The expected builtins were measured with NumPy 2.x and MXNet 1.9.1."""
import numpy as onp
import pytest

import clgrad
from clgrad import MXNetError, np


def _raises(call, *builtins, match=None):
    """``call()`` raises an MXNetError that is also each of ``builtins``; returns it."""
    with pytest.raises(MXNetError, match=match) as e:
        call()
    for b in builtins:
        assert isinstance(e.value, b), f"{type(e.value).__mro__} is not a {b.__name__}"
    return e.value


# --- array creation ------------------------------------------------------------------------------
@pytest.mark.parametrize("obj", [[[1, 2], [3]], "abc", ["a", "b"], {"a": 1}, object()],
                         ids=["ragged", "str", "str-list", "dict", "object"])
def test_array_of_an_unconvertible_object(obj):
    # MXNet: TypeError for all; NumPy: ValueError (ragged, strings) or TypeError
    err = _raises(lambda: np.array(obj), TypeError, ValueError, match="array: object of type")
    assert isinstance(err, clgrad.ArrayConversionError)
    _raises(lambda: np.asarray(obj), TypeError, ValueError)


@pytest.mark.parametrize("obj", [[[1, 2], [3]], {"a": 1}], ids=["ragged", "dict"])
def test_array_api_asarray_of_an_unconvertible_object(obj):
    from clgrad import array_api as xp
    _raises(lambda: xp.asarray(obj), TypeError, ValueError, match="asarray: obj of type")


@pytest.mark.parametrize("args", [(0, 5, 0), (0.0, 5.0, 0.0), (5, 0, 0)])
def test_arange_with_step_zero_is_a_zero_division(args):
    err = _raises(lambda: np.arange(*args), ZeroDivisionError, ValueError, match="step")
    assert isinstance(err, clgrad.ZeroStepError)
    with pytest.raises(ZeroDivisionError):
        onp.arange(*args)       # the category NumPy (and MXNet) use


def test_linspace_with_a_negative_count():
    _raises(lambda: np.linspace(0, 1, -3), ValueError, match="num")
    with pytest.raises(ValueError):
        onp.linspace(0, 1, -3)


# --- devices -------------------------------------------------------------------------------------
def test_a_device_argument_that_is_not_a_device():
    _raises(lambda: np.zeros(2, device=5), ValueError, match="device=5")
    _raises(lambda: np.zeros(2, device="cpu(x)"), ValueError, match="cpu")


# --- linalg.norm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, ord", [((2,), "bogus"), ((2, 2), "bogus"), ((2, 2), 3)])
def test_norm_with_an_invalid_order(shape, ord):
    x = np.ones(shape)
    _raises(lambda: np.linalg.norm(x, ord=ord), ValueError, match="ord=")
    with pytest.raises(ValueError):
        onp.linalg.norm(onp.ones(shape), ord=ord)


def test_norm_with_duplicate_axes_and_an_unsupported_order():
    m = np.ones((2, 2))
    _raises(lambda: np.linalg.norm(m, axis=(0, 0)), ValueError, match="duplicate axes")
    _raises(lambda: np.linalg.norm(m, ord="nuc"), NotImplementedError, match="ord='nuc'")


# --- shapes, selection, indexing -----------------------------------------------------------------
def test_shape_arguments():
    m = np.ones((2, 3))
    _raises(lambda: np.reshape(m, (6,), order="X"), ValueError, match="order")
    _raises(lambda: np.reshape(m, (6,), order="F"), NotImplementedError, match="order='F'")
    _raises(lambda: np.moveaxis(m, [0, 1], [0]), ValueError, match="source and destination")
    _raises(lambda: np.meshgrid(m, m, indexing="bad"), ValueError, match="indexing")


def test_where_and_clip_arguments():
    x = np.array([1.0, 2.0])
    _raises(lambda: np.where(x > 1, x), ValueError, match="where")
    _raises(lambda: np.clip(x, None, None), ValueError, match="a_min")


def test_two_ellipses_in_an_index():
    m = np.ones((2, 2))
    _raises(lambda: m[..., ...], IndexError, match="ellipsis")
    with pytest.raises(IndexError):
        onp.ones((2, 2))[..., ...]


def test_to_device_with_a_stream():
    x = np.ones(2)
    _raises(lambda: x.to_device(x.device, stream=1), ValueError, match="stream")


def test_out_while_recording_is_an_autograd_error():
    from clgrad import autograd
    x = np.ones(2)
    x.attach_grad()
    out = np.zeros(2)
    with autograd.record():
        err = _raises(lambda: np.add(x, 1, out=out), RuntimeError, match="out=")
    assert isinstance(err, clgrad.AutogradError)


def test_an_unknown_keyword_of_an_elementwise_op_is_a_type_error_before_anything_else():
    # NumPy's order: the call's keywords are checked before its operands (even mismatched ones)
    a = np.ones(2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        np.less(a, a, bogus=1)
    with pytest.raises(TypeError, match="'bogus'"):
        np.add(a, [[1, 2], [3]], bogus=1)
    assert np.add(a, a, casting="same_kind", where=True).asnumpy().tolist() == [2.0, 2.0]


def test_an_out_that_is_not_an_array_is_a_type_error_before_anything_else():
    a = np.ones(2)
    for bad in (True, 3, [0.0, 0.0]):
        with pytest.raises(TypeError, match="out must be a clgrad array"):
            np.less(a, a, out=bad)
