"""The autograd errors MXNet raises, raised here with the same category (so a user's
``except`` clause catches them) and a message that says what to do; and MXNet's treatment of
results whose graph a backward freed."""
import numpy as onp
import pytest

from clgrad import AutogradError, MXNetError, autograd, np
from clgrad.base import GradReqError


class _Double(autograd.Function):
    def forward(self, x):
        return x * 2

    def backward(self, dy):
        return dy * 2


def test_a_function_instance_called_twice_is_an_assertion_error():
    f = _Double()
    x = np.ones(3)
    x.attach_grad()
    with autograd.record():
        f(x)
        with pytest.raises(AssertionError, match="can only be called once"):
            f(x)
        with pytest.raises(MXNetError, match="create another instance"):
            f(x)


def test_unknown_grad_req_is_a_key_error_and_a_value_error():
    x = np.ones(2)
    with pytest.raises(KeyError, match="sometimes"):
        x.attach_grad(grad_req="sometimes")
    with pytest.raises(ValueError, match="expected one of"):
        x.attach_grad(grad_req="sometimes")
    with pytest.raises(GradReqError):
        autograd.mark_variables([x], [np.zeros(2)], grad_reqs="never")
    assert x.grad is None                   # nothing was attached


def test_grad_of_an_unreachable_variable_names_it():
    v, w = np.ones(2), np.ones(2)
    v.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = v * 2
    with pytest.raises(AutogradError, match="2-th variable because it is unreachable"):
        autograd.grad(y, [v, w], retain_graph=True)
    (gv,) = autograd.grad(y, [v])           # the graph survived the refusal
    assert gv.tolist() == [2.0, 2.0]
    with autograd.record():
        y = v * 2
    y.backward()                            # plain backward: w's gradient stays zero
    assert w.grad.tolist() == [0.0, 0.0] and v.grad.tolist() == [2.0, 2.0]


def test_a_result_whose_graph_was_freed_is_a_constant():
    a = np.array([1.0, 2.0])
    a.attach_grad()
    with autograd.record():
        y = a * a
    y.backward()
    b = np.array([3.0, 4.0])
    b.attach_grad()
    with autograd.record():
        z = y * b                           # y's history is gone: dz/db = y, nothing to a
    z.backward()
    assert b.grad.tolist() == [1.0, 4.0] and a.grad.tolist() == [2.0, 4.0]
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        y.backward()                        # y itself cannot be differentiated again


def test_a_result_used_before_its_graph_was_freed_still_says_so():
    a = np.array([1.0, 2.0])
    a.attach_grad()
    with autograd.record():
        y = a * a
        z = y * 3
    y.backward()
    with pytest.raises(AutogradError, match="second time"):
        z.backward()
    onp.testing.assert_array_equal(a.grad.asnumpy(), [2.0, 4.0])
