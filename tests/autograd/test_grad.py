"""autograd.grad: gradients returned without touching .grad; create_graph; non-leaf variables."""
import numpy as onp
import pytest

from clgrad import AutogradError, MXNetError, autograd, np


def _x(vals=(1.0, 2.0, 3.0)):
    x = np.array(list(vals))
    x.attach_grad()
    return x


def test_grad_returns_gradients_and_leaves_dot_grad_alone():
    x = _x()
    w = _x((4.0, 5.0, 6.0))
    with autograd.record():
        y = (x * w).sum()
    gx, gw = autograd.grad(y, [x, w])
    assert gx.tolist() == [4.0, 5.0, 6.0]
    assert gw.tolist() == [1.0, 2.0, 3.0]
    assert x.grad.tolist() == [0.0, 0.0, 0.0] and w.grad.tolist() == [0.0, 0.0, 0.0]


def test_grad_single_variable_and_head_grads():
    x = _x()
    with autograd.record():
        y = x * x
    (g,) = autograd.grad(y, x, head_grads=np.array([1.0, 0.0, 2.0]))
    assert g.tolist() == [2.0, 0.0, 12.0]


def test_grad_frees_the_graph_unless_retained():
    x = _x()
    with autograd.record():
        y = x * x
    autograd.grad(y, [x], retain_graph=True)
    autograd.grad(y, [x])
    with pytest.raises(AutogradError, match="retain_graph"):
        autograd.grad(y, [x])


def test_grad_with_respect_to_an_intermediate_array():
    x = _x()
    with autograd.record():
        y = x * x
        z = (y * 3 + y).sum()
    gy, gx = autograd.grad(z, [y, x])
    assert gy.tolist() == [4.0, 4.0, 4.0]
    assert gx.tolist() == [8.0, 16.0, 24.0]


def test_grad_of_a_variable_the_head_does_not_depend_on_is_an_error_as_in_mxnet():
    x = _x()
    w = _x((7.0, 7.0))
    with autograd.record():
        y = (x * 2).sum()
    with pytest.raises(AutogradError, match="2-th variable because it is unreachable"):
        autograd.grad(y, [x, w])
    (gx,) = autograd.grad(y, [x])
    assert gx.tolist() == [2.0, 2.0, 2.0]


def test_grad_rejects_variables_that_need_no_gradient():
    x = _x()
    c = np.array([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * c
    with pytest.raises(MXNetError, match="1-th variable"):
        autograd.grad(y, [x, c])


def test_grad_on_an_unrecorded_head():
    x = _x()
    with pytest.raises(AutogradError, match="not in a computational graph"):
        autograd.grad(x * 2, [x])


def test_create_graph_records_the_backward_pass():
    x = _x()
    with autograd.record():
        y = x * x * x
        (g,) = autograd.grad(y, [x], create_graph=True)
    assert g._ag_node is not None            # the gradient is itself recorded
    assert g.tolist() == [3.0, 12.0, 27.0]
    g.backward()
    assert x.grad.tolist() == [6.0, 12.0, 18.0]


def test_create_graph_outside_record_still_records_the_gradient():
    x = _x()
    with autograd.record():
        y = (x * x).sum()
    (g,) = autograd.grad(y, [x], create_graph=True)
    assert not autograd.is_recording()
    g.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_without_create_graph_the_gradient_is_a_plain_value():
    x = _x()
    with autograd.record():
        y = x * x
        (g,) = autograd.grad(y, [x])
    assert g._ag_node is None


def test_create_graph_keeps_the_first_graph_by_default():
    x = _x()
    with autograd.record():
        y = (x * x).sum()
    autograd.grad(y, [x], create_graph=True)
    (g,) = autograd.grad(y, [x])              # retain_graph defaulted to True above
    assert g.tolist() == [2.0, 4.0, 6.0]


def test_gradient_penalty_style_use():
    """Differentiate a function of the gradient (|df/dx|^2) with respect to the input."""
    x = _x((0.5, -1.0))
    with autograd.record():
        y = (np.sin(x) * x).sum()
        (g,) = autograd.grad(y, [x], create_graph=True)
        pen = (g * g).sum()
    pen.backward()
    xv = onp.array([0.5, -1.0])
    d1 = onp.cos(xv) * xv + onp.sin(xv)
    d2 = -onp.sin(xv) * xv + 2 * onp.cos(xv)
    onp.testing.assert_allclose(x.grad.asnumpy(), 2 * d1 * d2, rtol=1e-5)


def test_grad_of_grad_with_respect_to_head_grads():
    x = _x((1.0, 2.0))
    v = np.array([3.0, 4.0])
    v.attach_grad()
    with autograd.record():
        y = x * x
        (g,) = autograd.grad(y, [x], head_grads=v, create_graph=True)   # g = 2 x v
        s = g.sum()
    gv, gx = autograd.grad(s, [v, x])
    assert gv.tolist() == [2.0, 4.0]
    assert gx.tolist() == [6.0, 8.0]


def test_grad_dtype_follows_the_variable():
    x = np.array([1.0, 2.0], dtype="float16")
    x.attach_grad()
    with autograd.record():
        y = (x.astype("float32") * 3.0).sum()
    (g,) = autograd.grad(y, [x])
    assert g.dtype == onp.float16 and g.tolist() == [3.0, 3.0]
