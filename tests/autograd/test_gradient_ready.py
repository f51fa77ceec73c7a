"""``autograd.graph.on_gradient_ready``: the value a variable's gradient takes, handed over as
soon as it is final during backward (what data-parallel training overlaps communication with)."""
import numpy as onp
import pytest

from clgrad import autograd, np
from clgrad.autograd import Function, graph
from clgrad.base import AutogradError


def _watch(*variables):
    seen = []
    for name, v in variables:
        graph.on_gradient_ready(v, lambda value, name=name, v=v: seen.append(
            (name, value.asnumpy().copy(), v.grad.asnumpy().copy())))
    return seen


def test_each_final_gradient_once_before_any_write():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([1.0, 2.0])
    z = np.array([5.0])
    x.attach_grad()
    w.attach_grad(grad_req="add")
    z.attach_grad()
    w.grad[:] = 10
    seen = _watch(("x", x), ("w", w), ("z", z))
    with autograd.record():
        y = (x * w).sum() + (x * x).sum()           # x reached twice, z not at all
    y.backward()
    got = {name: (value, before) for name, value, before in seen}
    assert sorted(got) == ["w", "x"]
    hx, hw = x.asnumpy(), w.asnumpy()
    onp.testing.assert_allclose(got["x"][0], hw + 2 * hx)
    onp.testing.assert_allclose(got["w"][0], 10 + hx.sum(axis=0))    # 'add': with the old
    assert (got["x"][1] == 0).all() and (got["w"][1] == 10).all()   # .grad not written yet
    onp.testing.assert_allclose(x.grad.asnumpy(), got["x"][0])
    onp.testing.assert_allclose(w.grad.asnumpy(), got["w"][0])
    assert (z.grad.asnumpy() == 0).all()


def test_a_variable_reached_with_no_gradient_gets_zeros():
    x = np.array([1.0, -2.0])
    x.attach_grad()
    x.grad[:] = 7
    seen = _watch(("x", x))
    with autograd.record():
        y = (x > 0).astype("float32").sum() + 0 * x.sum()
    y.backward()
    assert len(seen) == 1 and (seen[0][1] == 0).all() and (x.grad.asnumpy() == 0).all()


def test_grad_calls_nothing_and_a_failed_backward_writes_nothing():
    x = np.array([1.0, 2.0])
    w = np.array([3.0, 4.0])
    x.attach_grad()
    w.attach_grad()
    seen = _watch(("x", x), ("w", w))
    with autograd.record():
        y = (x * w).sum()
    autograd.grad(y, [x], retain_graph=True)
    assert seen == []

    class Fails(Function):
        def forward(self, a):
            return a * 1

        def backward(self, dy):
            raise RuntimeError("vjp failed")
    with autograd.record():
        y = (Fails()(x) * w).sum()
    with pytest.raises(RuntimeError, match="vjp failed"):
        y.backward()
    assert [name for name, _, _ in seen] == ["w"]       # final before the failure
    assert (w.grad.asnumpy() == 0).all() and (x.grad.asnumpy() == 0).all()


def test_only_variables_take_a_callback_and_attaching_again_drops_it():
    a = np.ones(2)
    with pytest.raises(AutogradError, match="not a variable"):
        graph.on_gradient_ready(a, print)
    a.attach_grad()
    seen = _watch(("a", a))
    assert graph.gradient_callbacks()
    a.attach_grad()
    with autograd.record():
        y = (a * 2).sum()
    y.backward()
    assert seen == [] and (a.grad.asnumpy() == 2).all()
