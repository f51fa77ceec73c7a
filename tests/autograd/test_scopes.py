"""Recording and training flags: defaults, setters, scopes, nesting and restoring on errors."""
import pytest

from clgrad import MXNetError, autograd, np


@pytest.fixture(autouse=True)
def _clean_flags():
    autograd.set_recording(False)
    autograd.set_training(False)
    yield
    autograd.set_recording(False)
    autograd.set_training(False)


def test_defaults_are_not_recording_and_predict_mode():
    assert autograd.is_recording() is False
    assert autograd.is_training() is False


def test_setters_return_the_previous_value():
    assert autograd.set_recording(True) is False
    assert autograd.is_recording() is True
    assert autograd.set_recording(True) is True
    assert autograd.set_recording(False) is True
    assert autograd.is_recording() is False
    assert autograd.set_training(1) is False
    assert autograd.is_training() is True
    assert autograd.set_training(0) is True
    assert autograd.is_training() is False


@pytest.mark.parametrize("scope, rec, train", [
    (lambda: autograd.record(), True, True),
    (lambda: autograd.record(train_mode=False), True, False),
    (lambda: autograd.pause(), False, False),
    (lambda: autograd.pause(train_mode=True), False, True),
])
def test_record_and_pause_set_both_flags(scope, rec, train):
    with scope():
        assert autograd.is_recording() is rec
        assert autograd.is_training() is train
    assert autograd.is_recording() is False
    assert autograd.is_training() is False


def test_train_and_predict_mode_leave_recording_alone():
    with autograd.record():
        with autograd.predict_mode():
            assert autograd.is_recording() and not autograd.is_training()
        assert autograd.is_training()
        with autograd.pause():
            with autograd.train_mode():
                assert not autograd.is_recording() and autograd.is_training()
            assert not autograd.is_training()
        assert autograd.is_recording() and autograd.is_training()
    with autograd.train_mode():
        assert not autograd.is_recording() and autograd.is_training()
    assert not autograd.is_training()


def test_nested_scopes_restore_the_enclosing_state():
    with autograd.record(train_mode=False):
        with autograd.record():
            with autograd.pause():
                assert (autograd.is_recording(), autograd.is_training()) == (False, False)
            assert (autograd.is_recording(), autograd.is_training()) == (True, True)
        assert (autograd.is_recording(), autograd.is_training()) == (True, False)
    assert (autograd.is_recording(), autograd.is_training()) == (False, False)


def test_scope_restores_what_was_set_before_it_not_the_defaults():
    autograd.set_recording(True)
    autograd.set_training(True)
    with autograd.pause():
        pass
    assert autograd.is_recording() and autograd.is_training()


def test_scope_restores_after_setters_called_inside_it():
    with autograd.record():
        autograd.set_recording(False)
        autograd.set_training(False)
    assert not autograd.is_recording() and not autograd.is_training()
    with autograd.pause():
        autograd.set_recording(True)
    assert not autograd.is_recording()


@pytest.mark.parametrize("exc", [ValueError, KeyboardInterrupt])
def test_scopes_restore_flags_when_the_body_raises(exc):
    with pytest.raises(exc):
        with autograd.record():
            with autograd.pause(train_mode=True):
                raise exc()
    assert not autograd.is_recording() and not autograd.is_training()
    with pytest.raises(exc):
        with autograd.train_mode():
            with autograd.record(train_mode=False):
                raise exc()
    assert not autograd.is_recording() and not autograd.is_training()


def test_keyboard_interrupt_inside_record_leaves_the_graph_usable():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    with pytest.raises(KeyboardInterrupt):
        with autograd.record():
            y = x * x
            raise KeyboardInterrupt
    assert not autograd.is_recording()
    y.backward()            # what was recorded before the interrupt is a valid graph
    assert x.grad.tolist() == [2.0, 4.0]
    z = x * 3               # and nothing records after it
    with pytest.raises(MXNetError, match="not in a computational graph"):
        z.backward()


def test_record_inside_a_function_that_returns_from_it():
    x = np.array([1.0, 2.0, 3.0])
    x.attach_grad()

    def twice(v):
        with autograd.record():
            return 2 * v

    y = twice(x)
    assert not autograd.is_recording()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_recording_spans_scopes():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * x
    u = y + 100            # not recorded: does not take part
    with autograd.record():
        z = y * 3
    z.backward()
    assert x.grad.tolist() == [6.0, 12.0]
    assert u._ag_node is None


def test_ops_outside_record_are_not_recorded():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    y = x * 2
    with autograd.record():
        with autograd.pause():
            z = x * 2
    assert y._ag_node is None and z._ag_node is None
    assert y.grad is None


def test_training_flag_inside_record_controls_user_code():
    x = np.array([1.0, -1.0])
    x.attach_grad()

    def layer(v):
        return v * 4 if autograd.is_training() else v

    with autograd.record(train_mode=False):
        y = layer(x)
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with autograd.record():
        y = layer(x)
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_backward_train_mode_sets_the_flag_during_the_pass():
    seen = []

    class Spy(autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, dy):
            seen.append(autograd.is_training())
            return dy

    for mode in (True, False):
        x = np.array([1.0])
        x.attach_grad()
        with autograd.record(train_mode=not mode):
            y = Spy()(x)
        y.backward(train_mode=mode)
        assert seen[-1] is mode
        assert autograd.is_training() is False
