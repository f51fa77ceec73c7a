"""In-place writes and autograd: the version counter turns silent wrong gradients into errors."""
import numpy as onp
import pytest

from clgrad import AutogradError, MXNetError, autograd, np


def _x(vals=(1.0, 2.0, 3.0)):
    x = np.array(list(vals))
    x.attach_grad()
    return x


def _assert_modified_error(fn):
    with pytest.raises(AutogradError, match="modified in place") as e:
        fn()
    assert isinstance(e.value, MXNetError)


def test_setitem_after_recording_is_detected_at_backward():
    x = _x()
    with autograd.record():
        y = x * 2
        z = y * y           # saves y
    y[0] = 100.0
    _assert_modified_error(z.backward)
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_augmented_assignment_after_recording_is_detected():
    x = _x()
    with autograd.record():
        y = x * 2
        z = np.sin(y)       # saves y
    y += 1
    _assert_modified_error(z.backward)


def test_write_to_an_output_its_vjp_reads_is_detected():
    # sigmoid's vjp reads its result (y * (1 - y)), saved with the operands
    from clgrad import npx
    x = _x()
    with autograd.record():
        y = npx.sigmoid(x)
    y += 1
    _assert_modified_error(y.backward)
    with autograd.record():
        y = npx.sigmoid(x)
    y.backward()
    s = 1 / (1 + onp.exp(-onp.array([1.0, 2.0, 3.0])))
    onp.testing.assert_allclose(x.grad.asnumpy(), s * (1 - s), rtol=1e-6)


def test_write_through_another_view_is_detected():
    x = _x()
    with autograd.record():
        y = x * 2
        z = np.exp(y[1:])   # saves the view y[1:]
    y[0] = 5.0              # a different view of the same buffer
    _assert_modified_error(z.backward)


def _assert_in_graph_error(fn):
    with pytest.raises(AutogradError, match="already in the recorded graph") as e:
        fn()
    assert isinstance(e.value, MXNetError)


def test_in_place_inside_record_on_a_recorded_result_raises_at_once():
    """MXNet's rule: inside record(), an array in the graph is not written in place. The
    write raises before anything changes, and recording goes on."""
    x = _x()
    with autograd.record():
        y = x * 2
        z = y * y

        def setitem():
            y[1] = 0.0

        def iadd():
            y[:] += 1

        _assert_in_graph_error(setitem)
        _assert_in_graph_error(iadd)
        with pytest.raises(AutogradError, match=r"x \*= y"):
            y *= 3
        _assert_in_graph_error(lambda: y.__setitem__(np.array([0, 2]), 5.0))    # advanced key
        assert autograd.is_recording()
        s = z + (y + 1)         # the graph is intact: recording goes on
    assert y.tolist() == [2.0, 4.0, 6.0]
    s.backward()
    assert x.grad.tolist() == [10.0, 18.0, 26.0]        # d/dx (4x^2 + 2x + 1)


def test_in_place_after_backward_on_a_freed_result_is_allowed():
    x = _x()
    with autograd.record():
        y = x * 2
    y.backward()
    with autograd.record():
        y[0] = 7.0              # the graph through y was freed: y is a constant now
        z = y * x
    z.backward()
    assert x.grad.tolist() == [7.0, 4.0, 6.0]


def test_recorded_setitem_of_a_plain_array_gives_the_right_gradients():
    """Assigning a recorded value into an array outside the graph records the assignment."""
    x = _x()
    v = np.array(10.0)
    v.attach_grad()
    y = np.zeros((3,))
    with autograd.record():
        y[1] = v * 2
        y2 = np.zeros((3,))
        y2[np.array([0, 2])] = x[np.array([0, 2])] * 3       # advanced key
        z = (y * np.array([1.0, 2.0, 3.0])).sum() + (y2 * y2).sum()
    z.backward()
    assert v.grad.tolist() == 4.0
    assert x.grad.tolist() == [18.0, 0.0, 54.0]


def test_in_place_on_an_attached_leaf_inside_record_raises():
    x = _x()
    with autograd.record():
        with pytest.raises(MXNetError, match="attach_grad"):
            x += 1
        with pytest.raises(MXNetError, match="attach_grad"):
            x[0] = 5.0
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_in_place_on_a_leaf_outside_record_is_an_update():
    x = _x()
    with autograd.record():
        y = (x * x).sum()
    y.backward()
    x -= 0.25 * x.grad      # the usual SGD step
    x[0] = 0.0
    assert x.tolist() == [0.0, 1.0, 1.5]
    with autograd.record():
        y = (x * x).sum()
    y.backward()
    assert x.grad.tolist() == [0.0, 2.0, 3.0]


def test_out_argument_while_recording_is_refused():
    x = _x()
    buf = np.zeros((3,))
    with autograd.record():
        with pytest.raises(MXNetError, match="out="):
            np.add(x, 1.0, out=buf)
    np.add(x, 1.0, out=buf)
    assert buf.tolist() == [2.0, 3.0, 4.0]


def test_max_result_modified_after_recording_is_detected():
    x = _x((1.0, 5.0, 3.0))
    with autograd.record():
        m = x.max()
        z = m * 2
    m += 10                 # max's vjp compares x with its (saved) result
    _assert_modified_error(z.backward)


def test_where_and_add_do_not_keep_their_branches():
    x = _x()
    with autograd.record():
        y = x * 2
        z = np.where(x > 1.5, y, 0.0) + y
    y[0] = 7.0              # neither where nor add saved y
    z.backward()
    assert x.grad.tolist() == [2.0, 4.0, 4.0]
