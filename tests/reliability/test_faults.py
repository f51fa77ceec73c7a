"""Faults clgrad must survive: kernels that do not build, damaged tuning databases, interrupts
inside recording and backward, and threads sharing one device."""
import json
import signal
import threading
from pathlib import Path

import numpy as onp
import pytest

import clgrad
from clgrad import AutogradError, autograd, np, npx
from clgrad.base import KernelBuildError
from clgrad.ops import launch
from clgrad.ops import linalg as L
from clgrad.ops.reduce import kernels as RK
from clgrad.tune import db


def _dev():
    return npx.current_device()


def _check_usable():
    """Later work on the device is still correct (several kernel families)."""
    rng = onp.random.default_rng(5)
    A, B = rng.standard_normal((20, 30)).astype(onp.float32), \
        rng.standard_normal((30, 25)).astype(onp.float32)
    a, b = np.array(A), np.array(B)
    onp.testing.assert_allclose((a @ b).asnumpy(), A @ B, rtol=1e-4, atol=1e-4)
    onp.testing.assert_allclose((a.sum(axis=0) + 1).asnumpy(), A.sum(0) + 1, rtol=1e-5,
                                atol=1e-5)
    onp.testing.assert_array_equal(np.sort(a[0]).asnumpy(), onp.sort(A[0]))


# --- kernels that fail to build ----------------------------------------------------------------
def test_build_failure_raises_with_log_and_saved_source(tmp_path, monkeypatch):
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path))
    dev = _dev()
    src = ('#error "clgrad fault-injection kernel"\n'
           "__kernel void broken(__global float *p) { p[get_global_id(0)] = 1.0f; }\n")
    for _ in range(2):      # a failed build is not cached as a success
        with pytest.raises(KernelBuildError) as info:
            launch.Kernel(dev, src, "broken", [None])
        e = info.value
        assert isinstance(e, clgrad.MXNetError)
        assert "fault-injection" in e.build_log, e.build_log
        assert e.device_name == dev.name and str(dev) in str(e) and e.source_path in str(e)
        saved = Path(e.source_path)
        assert saved.is_relative_to(tmp_path) and saved.read_text() == src
    assert not list(tmp_path.glob("kernels/*.bin")), "a failed build left a cached binary"
    _check_usable()


def test_a_template_rendering_an_error_raises_kernel_build_error():
    """A rendered template whose source has an ``#error`` (here in an elementwise kernel's
    helpers): the build reports the reason, and the process stays usable."""
    f32 = onp.dtype(onp.float32)
    plan = launch.ew_plan("fault_probe", "v0 + 1", f32, ((True, f32, f32),),
                          helpers='#error "clgrad fault-injection: VW=3"')
    with pytest.raises(KernelBuildError) as info:
        plan.kernel(_dev(), 0, "int", "")
    assert "VW=3" in info.value.build_log
    assert "ew_fault_probe" in Path(info.value.source_path).read_text()
    _check_usable()


def test_syntax_error_in_a_rendered_template_keeps_the_process_usable():
    dev = _dev()
    src = "__kernel void typo(__global float *p) { p[0] = undefined_name; }\n"
    with pytest.raises(KernelBuildError) as info:
        launch.Kernel(dev, src, "typo", [None])
    assert "undefined_name" in info.value.build_log
    _check_usable()


# --- damaged tuning databases ------------------------------------------------------------------
#: Valid parameters unlike every default: if they are used, the database was trusted.
MARKED = {"MWG": 4, "NWG": 8, "KWG": 8, "MDIMC": 1, "NDIMC": 2, "VW": 4, "SA": 0, "SB": 0,
          "KC": 16, "MC": 0}


def _tiled_params():
    rng = onp.random.default_rng(2)
    A, B = rng.standard_normal((33, 17)).astype(onp.float32), \
        rng.standard_normal((17, 65)).astype(onp.float32)
    res = np.array(A) @ np.array(B)
    onp.testing.assert_allclose(res.asnumpy(), A @ B, rtol=1e-4, atol=1e-4)
    assert L.LAST_PLAN["path"] == "tiled"
    return L.LAST_PLAN["params"]


def _damage(path, how):
    text = path.read_text()
    if how == "truncated":
        path.write_text(text[: len(text) * 2 // 3])
    elif how == "edited":          # still JSON, but the checksum no longer matches
        doc = json.loads(text)
        for dev in doc["devices"].values():
            dev["kernels"]["matmul"]["float32"]["small"]["params"]["MWG"] = 8
        path.write_text(json.dumps(doc))
    elif how == "garbage":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00 not a database")
    elif how == "empty":
        path.write_text("")


@pytest.mark.parametrize("how", ["truncated", "edited", "garbage", "empty"])
def test_damaged_tuning_database_is_ignored(tuning_db, how):
    dev = _dev()
    default = L.full_params(L.default_params(dev, onp.dtype(onp.float32), size="small"))
    db.store(dev, "matmul", "float32", "small", MARKED, path=tuning_db)
    db.store(dev, "reduce", "float32", "default", {"wg": 2, "waves": 1}, path=tuning_db)
    db.reload()
    assert _tiled_params() == MARKED                       # intact: trusted
    assert RK._params("reduce", dev, onp.dtype(onp.float32), 10)["wg"] == 2
    _damage(tuning_db, how)
    db.reload()
    with pytest.warns(db.TuningDatabaseWarning, match="ignoring it"):
        got = _tiled_params()
    assert got == default, "a damaged database was trusted"
    assert RK._params("reduce", dev, onp.dtype(onp.float32), 10)["wg"] != 2
    _check_usable()


def test_nonsense_parameters_in_a_valid_database_fall_back(tuning_db):
    dev = _dev()
    bad = dict(MARKED, VW=3, MDIMC=0)                      # well-formed JSON, impossible values
    db.store(dev, "matmul", "float32", "small", bad, path=tuning_db)
    db.store(dev, "reduce", "float32", "default", {"wg": -4, "waves": "many"}, path=tuning_db)
    db.reload()
    assert _tiled_params() == L.full_params(L.FALLBACK_PARAMS[0])
    p = RK._params("reduce", dev, onp.dtype(onp.float32), 10)
    assert p["wg"] > 0 and isinstance(p["waves"], int)
    _check_usable()


# --- KeyboardInterrupt inside record() and backward() ------------------------------------------
def _flags():
    return autograd.is_recording(), autograd.is_training()


class _Boom(autograd.Function):
    """Raises KeyboardInterrupt from forward or from backward (once), as a Ctrl-C would."""

    def __init__(self, where):
        super().__init__()
        self.where = where

    def forward(self, x):
        if self.where == "forward":
            raise KeyboardInterrupt
        return x * 2

    def backward(self, g):
        if self.where == "backward":
            self.where = None
            raise KeyboardInterrupt
        return g * 2


def test_interrupt_in_a_functions_forward_restores_flags():
    x = np.array([1.0, 2.0, 3.0])
    x.attach_grad()
    for outer in ("none", "train", "predict"):
        scope = {"none": None, "train": autograd.train_mode, "predict": autograd.predict_mode}
        ctx = scope[outer]() if scope[outer] else None
        if ctx is not None:
            ctx.__enter__()
        try:
            before = _flags()
            with pytest.raises(KeyboardInterrupt):
                with autograd.record():
                    y = x * 3
                    _Boom("forward")(y)
            assert _flags() == before, outer
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
    assert _flags() == (False, False)
    onp.testing.assert_array_equal(x.grad.asnumpy(), [0, 0, 0])   # never written
    with autograd.record():
        assert _flags() == (True, True)
        y = (_Boom(None)(x * 3)).sum()
    y.backward()
    onp.testing.assert_array_equal(x.grad.asnumpy(), [6, 6, 6])


def test_interrupt_in_backward_leaves_grads_intact_and_next_step_working():
    x = np.array([1.0, -2.0, 3.0])
    w = np.array([0.5, 0.5, 0.5])
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = (_Boom("backward")(x * w) * x).sum()
    before_x, before_w = x.grad.asnumpy().copy(), w.grad.asnumpy().copy()
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert _flags() == (False, False)
    onp.testing.assert_array_equal(x.grad.asnumpy(), before_x)
    onp.testing.assert_array_equal(w.grad.asnumpy(), before_w)
    with pytest.raises(AutogradError, match="freed"):
        y.backward()        # the nodes it passed freed what they saved, as they went
    onp.testing.assert_array_equal(x.grad.asnumpy(), before_x)
    with autograd.record():
        y = (x * w * x).sum() * 2
    y.backward()            # the next step is not disturbed
    xh, wh = onp.array([1.0, -2.0, 3.0]), onp.full(3, 0.5)
    onp.testing.assert_allclose(x.grad.asnumpy(), 4 * xh * wh)    # d/dx of 2 w x^2
    onp.testing.assert_allclose(w.grad.asnumpy(), 2 * xh * xh)


@pytest.fixture
def sigint_raises():
    """Ctrl-C's default behaviour (KeyboardInterrupt), whatever the test runner installed."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _training_step(x, w, c):
    with autograd.record():
        h = np.tanh(np.matmul(x, w))
        y = (npx.softmax(h) * c).sum() + (h * h).mean()
    y.backward()


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_sigint_at_every_launch_of_a_step(sigint_raises, monkeypatch, phase):
    """A SIGINT delivered while a kernel launch is being enqueued -- at each launch of a recorded
    forward or of its backward in turn -- leaves the flags at their defaults, every ``.grad``
    either untouched or completely written, and the next step correct."""
    rng = onp.random.default_rng(3)
    X, W, C = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    x, w, c = np.array(X, dtype="float32"), np.array(W, dtype="float32"), \
        np.array(C, dtype="float32")
    w.attach_grad()
    x.attach_grad()
    _training_step(x, w, c)
    good_w, good_x = w.grad.asnumpy().copy(), x.grad.asnumpy().copy()

    state = {"count": 0, "at": None, "armed": False}
    orig_launch, orig_call = launch.Kernel.launch, launch.Kernel.__call__

    def tick():
        if state["armed"]:
            state["count"] += 1
            if state["count"] == state["at"]:
                signal.raise_signal(signal.SIGINT)

    def rec_launch(self, *args):
        tick()
        return orig_launch(self, *args)

    def rec_call(self, *args):
        tick()
        return orig_call(self, *args)

    monkeypatch.setattr(launch.Kernel, "launch", rec_launch)
    monkeypatch.setattr(launch.Kernel, "__call__", rec_call)

    def run_phase(at):
        state.update(count=0, at=at)
        if phase == "forward":
            state["armed"] = True
            try:
                with autograd.record():
                    h = np.tanh(np.matmul(x, w))
                    y = (npx.softmax(h) * c).sum() + (h * h).mean()
            finally:
                state["armed"] = False
            y.backward()
        else:
            with autograd.record():
                h = np.tanh(np.matmul(x, w))
                y = (npx.softmax(h) * c).sum() + (h * h).mean()
            state["armed"] = True
            try:
                y.backward()
            finally:
                state["armed"] = False
        return state["count"]

    total = run_phase(None)         # how many launches the phase makes
    assert total >= 3
    for at in range(1, total + 1):
        # poison the gradients so that "untouched" and "written" are told apart
        w.grad[:] = 7.0
        x.grad[:] = 7.0
        with pytest.raises(KeyboardInterrupt):
            run_phase(at)
        assert _flags() == (False, False), (phase, at)
        for g, good in ((w.grad.asnumpy(), good_w), (x.grad.asnumpy(), good_x)):
            assert (g == 7.0).all() or onp.allclose(g, good, rtol=1e-5, atol=1e-6), (phase, at)
        _training_step(x, w, c)
        onp.testing.assert_allclose(w.grad.asnumpy(), good_w, rtol=1e-5, atol=1e-6)
        onp.testing.assert_allclose(x.grad.asnumpy(), good_x, rtol=1e-5, atol=1e-6)


# --- threads sharing one device ----------------------------------------------------------------
def test_two_threads_on_one_device():
    rng = onp.random.default_rng(4)
    A = rng.standard_normal((6, 5)).astype(onp.float32)
    B = rng.standard_normal((5, 7)).astype(onp.float32)
    iters = 150
    errors = []
    start = threading.Barrier(2)

    def trainer():
        i = -1
        try:
            a = np.array(A)
            a.attach_grad()
            b = np.array(B)
            start.wait()
            for i in range(iters):
                scale = float(i % 7 + 1)
                with autograd.record():
                    assert _flags() == (True, True)
                    y = (np.matmul(a, b) * scale).sum()
                y.backward()
                assert _flags() == (False, False)
                onp.testing.assert_allclose(a.grad.asnumpy(), scale * onp.tile(B.sum(1), (6, 1)),
                                            rtol=1e-5, atol=1e-5)
        except BaseException as e:      # noqa: BLE001  (reported by the main thread)
            errors.append(("trainer", i, e))

    def predictor():
        i = -1
        try:
            a, b = np.array(A), np.array(B)
            start.wait()
            for i in range(iters):
                assert _flags() == (False, False)
                with autograd.predict_mode():
                    s = float(i % 5)
                    r = (np.matmul(a + s, b)).sum(axis=0)
                    assert _flags() == (False, False)
                onp.testing.assert_allclose(r.asnumpy(), ((A + s) @ B).sum(0), rtol=1e-4,
                                            atol=1e-4)
                assert a._ag_node is None and r._ag_node is None   # nothing recorded here
        except BaseException as e:      # noqa: BLE001
            errors.append(("predictor", i, e))

    threads = [threading.Thread(target=trainer), threading.Thread(target=predictor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    assert _flags() == (False, False)
