"""Flags are thread-local; KeyboardInterrupt during backward leaves flags and gradients intact."""
import threading

import numpy as onp
import pytest

from clgrad import AutogradError, autograd, np


def test_threads_do_not_see_each_others_flags():
    """One thread records and trains while the other does plain computation; they interleave
    step by step (a barrier between steps), and each sees only its own flags and results."""
    steps = 6
    barrier = threading.Barrier(2, timeout=60)
    errors = []
    results = {}

    def recorder():
        try:
            x = np.array([1.0, 2.0, 3.0])
            x.attach_grad()
            seen = []
            with autograd.record():
                for _ in range(steps):
                    barrier.wait()
                    seen.append((autograd.is_recording(), autograd.is_training()))
                    y = x * x * 3
                    barrier.wait()
            y.backward()
            results["recorder"] = (seen, x.grad.asnumpy(), y._ag_node is not None)
        except BaseException as e:  # noqa: BLE001  (reported by the main thread)
            errors.append(e)
            barrier.abort()

    def plain():
        try:
            x = np.array([1.0, 2.0, 3.0])
            x.attach_grad()
            seen = []
            for _ in range(steps):
                barrier.wait()
                seen.append((autograd.is_recording(), autograd.is_training()))
                y = x * x * 3
                barrier.wait()
            results["plain"] = (seen, y.asnumpy(), y._ag_node is None)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            barrier.abort()

    ts = [threading.Thread(target=recorder), threading.Thread(target=plain)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    seen, grad, recorded = results["recorder"]
    assert seen == [(True, True)] * steps and recorded
    onp.testing.assert_allclose(grad, [6.0, 12.0, 18.0])
    seen, value, unrecorded = results["plain"]
    assert seen == [(False, False)] * steps and unrecorded
    onp.testing.assert_allclose(value, [3.0, 12.0, 27.0])
    # and the main thread's own flags were never touched
    assert not autograd.is_recording() and not autograd.is_training()


def test_a_new_thread_starts_with_the_defaults():
    got = []
    with autograd.record():
        t = threading.Thread(target=lambda: got.append((autograd.is_recording(),
                                                       autograd.is_training())))
        t.start()
        t.join()
    assert got == [(False, False)]


class _Interrupting(autograd.Function):
    """Its backward raises KeyboardInterrupt while ``armed``."""

    armed = True

    def forward(self, x):
        return x * 2

    def backward(self, dy):
        if _Interrupting.armed:
            raise KeyboardInterrupt
        return dy * 2


def test_keyboard_interrupt_during_backward_leaves_flags_and_grads_consistent():
    x = np.array([1.0, 2.0])
    x.attach_grad()
    w = np.array([3.0, 4.0])
    w.attach_grad()
    with autograd.record():
        y = (x * 5).sum()
    y.backward()
    assert x.grad.tolist() == [5.0, 5.0]
    with autograd.record(train_mode=False):
        z = (_Interrupting()(x) + w * w).sum()
    _Interrupting.armed = True
    try:
        with pytest.raises(KeyboardInterrupt):
            z.backward(retain_graph=False)
        # flags as before the call; no gradient written (what was computed is dropped)
        assert not autograd.is_recording() and not autograd.is_training()
        assert x.grad.tolist() == [5.0, 5.0]
        assert w.grad.tolist() == [0.0, 0.0]
        # the nodes it passed freed what they saved: the same backward says so, clearly
        _Interrupting.armed = False
        with pytest.raises(AutogradError, match="freed"):
            z.backward()
        assert x.grad.tolist() == [5.0, 5.0] and w.grad.tolist() == [0.0, 0.0]
        # and the next step works
        with autograd.record(train_mode=False):
            z = (_Interrupting()(x) + w * w).sum()
        z.backward()
    finally:
        _Interrupting.armed = False
    assert x.grad.tolist() == [2.0, 2.0]
    assert w.grad.tolist() == [6.0, 8.0]


def test_keyboard_interrupt_during_grad_with_create_graph_restores_recording():
    x = np.array([1.0])
    x.attach_grad()
    with autograd.record(train_mode=False):
        z = _Interrupting()(x)
        _Interrupting.armed = True
        try:
            with pytest.raises(KeyboardInterrupt):
                autograd.grad(z, [x], create_graph=True, train_mode=True)
        finally:
            _Interrupting.armed = False
        assert autograd.is_recording() and not autograd.is_training()
