"""Custom autograd.Function: one recorded node whose vjp is the user's backward."""
import numpy as onp
import pytest

from clgrad import MXNetError, autograd, np


class Sigmoid(autograd.Function):
    """MXNet's documented example: save the output, use it in backward."""

    def forward(self, x):
        y = 1 / (1 + np.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        (y,) = self.saved_tensors
        return dy * y * (1 - y)


class Multi(autograd.Function):
    """Several inputs and outputs; a custom (not the true) gradient."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, y):
        return 2 * x, 2 * x * y, 2 * y

    def backward(self, dx, dxy, dy):
        self.calls += 1
        self.seen = (dx.asnumpy(), dxy.asnumpy(), dy.asnumpy())
        return dx + dxy * 10, dy * 100 + dxy


def _x(vals):
    x = np.array(vals)
    x.attach_grad()
    return x


def test_sigmoid_matches_its_derivative():
    x = _x([-1.0, 0.0, 2.0])
    with autograd.record():
        y = Sigmoid()(x)
    y.backward()
    s = 1 / (1 + onp.exp(-onp.array([-1.0, 0.0, 2.0])))
    onp.testing.assert_allclose(y.asnumpy(), s, rtol=1e-6)
    onp.testing.assert_allclose(x.grad.asnumpy(), s * (1 - s), rtol=1e-6)


def test_forward_runs_unrecorded_and_the_call_records_one_node():
    seen = {}

    class Probe(autograd.Function):
        def forward(self, x):
            seen["rec"] = autograd.is_recording()
            seen["train"] = autograd.is_training()
            t = x * 3
            seen["inner"] = t._ag_node
            return t * 2

        def backward(self, dy):
            return dy * 6

    x = _x([1.0, 2.0])
    with autograd.record():
        y = Probe()(x)
    assert seen == {"rec": False, "train": True, "inner": None}
    node = y._ag_node
    assert node.name == "Probe" and node.parents[0][0] is x._ag_node
    y.backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_several_inputs_and_outputs_use_the_custom_gradient():
    x = _x([1.0, 2.0])
    y = _x([3.0, 4.0])
    f = Multi()
    with autograd.record():
        a, b, c = f(x, y)
        out = a + b * 2 + c * 3
    out.backward()
    assert f.calls == 1
    assert [s.tolist() for s in f.seen] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    assert x.grad.tolist() == [21.0, 21.0]
    assert y.grad.tolist() == [302.0, 302.0]


def test_outputs_that_get_no_gradient_receive_zeros():
    x = _x([1.0, 2.0])
    y = _x([3.0, 4.0])
    f = Multi()
    with autograd.record():
        a, b, c = f(x, y)
    a.backward()
    assert [s.tolist() for s in f.seen] == [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    assert x.grad.tolist() == [1.0, 1.0]
    assert y.grad.tolist() == [0.0, 0.0]


def test_grad_req_add_accumulates_through_a_function():
    # MXNet documents that a Function's gradient respects the variable's grad_req: with 'add'
    # every backward adds the custom gradient to what .grad holds.
    x = _x([-1.0, 0.0, 2.0])
    x.attach_grad("add")
    for _ in range(2):
        with autograd.record():
            y = Sigmoid()(x)
        y.backward()
    s = 1 / (1 + onp.exp(-onp.array([-1.0, 0.0, 2.0])))
    onp.testing.assert_allclose(x.grad.asnumpy(), 2 * s * (1 - s), rtol=1e-6)


def test_function_inside_a_larger_graph():
    x = _x([0.5, -0.5])
    with autograd.record():
        y = Sigmoid()(x * 2) * x
    y.backward()
    xv = onp.array([0.5, -0.5])
    s = 1 / (1 + onp.exp(-2 * xv))
    onp.testing.assert_allclose(x.grad.asnumpy(), 2 * s * (1 - s) * xv + s, rtol=1e-5)


def test_each_instance_is_callable_once():
    f = Sigmoid()
    x = _x([1.0])
    f(x)
    with pytest.raises(MXNetError, match="only be called once"):
        f(x)


def test_wrong_number_of_gradients_names_the_function():
    class Bad(autograd.Function):
        def forward(self, x, y):
            return x * y

        def backward(self, dz):
            return dz

    x, y = _x([1.0]), _x([2.0])
    with autograd.record():
        z = Bad()(x, y)
    with pytest.raises(MXNetError, match=r"Bad\.backward .*number of gradients.*expected 2"):
        z.backward()
    assert x.grad.tolist() == [0.0] and y.grad.tolist() == [0.0]


def test_wrong_gradient_shape_names_the_function_and_the_shapes():
    class BadShape(autograd.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, dz):
            return dz       # should be broadcast to x's shape

    x = _x([1.0, 2.0])
    with autograd.record():
        z = BadShape()(x)
    with pytest.raises(MXNetError, match=r"BadShape\.backward.*shape \(\).*\(2,\)"):
        z.backward()


def test_non_array_gradient_is_an_error():
    class BadType(autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dz):
            return 1.0

    x = _x([1.0])
    with autograd.record():
        z = BadType()(x)
    with pytest.raises(MXNetError, match="BadType.backward must return arrays"):
        z.backward()


def test_forward_must_return_arrays():
    class BadOut(autograd.Function):
        def forward(self, x):
            return 3.0

    with pytest.raises(MXNetError, match="BadOut.forward must return arrays"):
        BadOut()(_x([1.0]))


def test_missing_super_init_is_reported():
    class NoInit(autograd.Function):
        def __init__(self):
            pass

        def forward(self, x):
            return x * 1

    with pytest.raises(MXNetError, match=r"__init__ must call super\(\).__init__\(\)"):
        NoInit()(_x([1.0]))


def test_non_array_inputs_get_no_gradient():
    class Scale(autograd.Function):
        def forward(self, x, k):
            self.k = k
            return x * k

        def backward(self, dy):
            return dy * self.k, None

    x = _x([1.0, 2.0])
    with autograd.record():
        y = Scale()(x, 5.0)
    y.backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_returning_an_input_unchanged_keeps_the_inputs_graph():
    class Ident(autograd.Function):
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy * 7

    x = _x([1.0])
    with autograd.record():
        h = x * 2
        y = Ident()(h)
    assert y is not h and h._ag_node.name == "multiply"
    y.backward()
    assert x.grad.tolist() == [14.0]


def test_not_recorded_when_not_recording():
    x = _x([1.0])
    y = Sigmoid()(x)
    assert y._ag_node is None


def test_modifying_a_saved_tensor_is_detected():
    x = _x([0.0, 1.0])
    with autograd.record():
        y = Sigmoid()(x)
    (s,) = y._ag_node.ctx.saved_tensors
    s[0] = 5.0
    with pytest.raises(MXNetError, match="modified in place"):
        y.backward()


def test_backward_runs_unrecorded_so_a_function_is_differentiable_once():
    x = _x([0.5])
    with autograd.record():
        y = Sigmoid()(x)
        (g,) = autograd.grad(y, [x], create_graph=True)
    assert g._ag_node is None


def test_the_same_array_returned_twice_gives_two_output_slots():
    class Twice(autograd.Function):
        def forward(self, x):
            y = x * 2
            return y, y

        def backward(self, d1, d2):
            self.seen = (d1.tolist(), d2.tolist())
            return d1 + d2 * 10

    x = _x([1.0])
    f = Twice()
    with autograd.record():
        a, b = f(x)
        out = a * 3 + b
    assert a is not b
    out.backward()
    assert f.seen == ([3.0], [1.0])
    assert x.grad.tolist() == [13.0]


def test_misdefined_functions_raise_mxnet_and_builtin_categories():
    """MXNet asserts the gradients' count and type (AssertionError), fails with a TypeError on
    a forward returning a number and with an AttributeError without super().__init__()."""
    class TooFew(autograd.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, dy):
            return dy

    class BadShape(autograd.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, dz):
            return dz

    class BadType(autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dz):
            return 1.0

    class BadOut(autograd.Function):
        def forward(self, x):
            return 3.0

    class NoInit(autograd.Function):
        def __init__(self):
            pass

        def forward(self, x):
            return x * 1

    def backward_of(fn, *inputs):
        with autograd.record():
            out = fn(*inputs)
        return out.backward

    cases = [
        (backward_of(TooFew(), _x([1.0]), _x([2.0])), (AssertionError, ValueError),
         r"TooFew\.backward returned an incorrect number of gradients \(expected 2"),
        (backward_of(BadShape(), _x([1.0, 2.0])), (AssertionError, ValueError), "shape"),
        (backward_of(BadType(), _x([1.0])), (AssertionError, TypeError), "must return arrays"),
        (lambda: BadOut()(_x([1.0])), (TypeError,), "forward must return arrays"),
        (lambda: NoInit()(_x([1.0])), (AttributeError,), "super"),
    ]
    for call, builtins, match in cases:
        with pytest.raises(MXNetError, match=match) as e:
            call()
        for b in builtins:
            assert isinstance(e.value, b), (match, type(e.value).__mro__, b)
    assert issubclass(autograd.FunctionGradientError, AssertionError)
