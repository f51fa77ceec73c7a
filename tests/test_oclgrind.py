"""Every kernel family under the Oclgrind simulator, with its race and uninitialised-read checks.

Each scenario runs in a child process on the Oclgrind device (selected through OCL_ICD_VENDORS and
CLGRAD_DEVICE), checks its own results against NumPy, and must leave Oclgrind's log empty: Oclgrind
exits 0 even when it reports an invalid access, so the log is what fails the test. Shapes are tiny
because Oclgrind interprets kernels about a thousand times slower than a CPU runs them.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OCLGRIND_ICD = Path("/usr/lib/oclgrind/liboclgrind-rt-icd.so")

pytestmark = [
    pytest.mark.oclgrind,
    pytest.mark.skipif(not OCLGRIND_ICD.exists(),
                       reason="Oclgrind is not installed (Debian package 'oclgrind')"),
]

PRELUDE = """
import numpy as onp
from clgrad import np, npx, autograd
def close(a, b, tol=1e-5):
    a = a.asnumpy() if hasattr(a, 'asnumpy') else onp.asarray(a)
    assert a.shape == onp.shape(b), (a.shape, onp.shape(b))
    assert onp.allclose(a, b, rtol=tol, atol=tol, equal_nan=True), (a, b)
rng = onp.random.default_rng(0)
"""

SCENARIOS = {
    "elementwise": """
        a = rng.standard_normal((3, 5)).astype('float32'); b = rng.standard_normal(5).astype('float32')
        x, y = np.array(a), np.array(b)
        close(x + y, a + b); close(x.T * 2, a.T * 2); close(x[:, ::-2] - 1, a[:, ::-2] - 1)
        close(np.exp(x[1:, 1:4]), onp.exp(a[1:, 1:4])); close(np.where(x > 0, x, y), onp.where(a > 0, a, b))
        close(np.maximum(x, 0.5), onp.maximum(a, 0.5)); close(np.clip(x, -0.5, 0.5), onp.clip(a, -0.5, 0.5))
        s = np.array(3.0); close(s * x, 3 * a); close(np.zeros((0, 3)) + 1, onp.ones((0, 3)))
        i = onp.arange(-6, 6, dtype='int32').reshape(3, 4)
        xi = np.array(i); close(xi // 4, i // 4); close(xi % 5, i % 5); close(xi ** 2, i ** 2)
        close(np.array(i.astype('uint8')) + 3, i.astype('uint8') + 3)
        bo = np.array(i > 0); close(bo & np.array(i < 3), (i > 0) & (i < 3))
        h = np.array(a.astype('float16')); close(h * 2, (a.astype('float16') * 2), 1e-2)
        d = np.array(a.astype('float64')); close(np.sqrt(np.abs(d)), onp.sqrt(onp.abs(a.astype('float64'))))
        close(x.astype('int32'), a.astype('int32'))
    """,
    "creation_and_copy": """
        close(np.arange(7), onp.arange(7, dtype='float32')); close(np.linspace(0, 1, 5), onp.linspace(0, 1, 5))
        close(np.eye(3, 4, k=1), onp.eye(3, 4, k=1)); close(np.full((2, 2), 7, dtype='int64'), onp.full((2, 2), 7))
        z = np.zeros((4, 5)); z[1:3, ::2] = np.array([1., 2, 3]); e = onp.zeros((4, 5)); e[1:3, ::2] = [1, 2, 3]
        close(z, e); close(z.T.copy(), e.T)
        u = np.random.uniform(size=(3, 3)); assert ((u.asnumpy() >= 0) & (u.asnumpy() < 1)).all()
        n = np.random.normal(size=7); assert onp.isfinite(n.asnumpy()).all()
    """,
    "reduce": """
        a = rng.standard_normal((6, 7)).astype('float32'); x = np.array(a)
        close(x.sum(), a.sum(), 1e-4); close(x.sum(axis=0), a.sum(0), 1e-4); close(x.T.max(axis=1), a.max(0))
        close(x[::-1].mean(axis=1, keepdims=True), a[::-1].mean(1, keepdims=True), 1e-4)
        close(x.prod(axis=0), a.prod(0), 1e-4); close(np.array(a > 0).all(axis=1), (a > 0).all(1))
        long = rng.standard_normal(3000).astype('float32'); close(np.array(long).sum(), long.sum(), 1e-3)
        close(np.array(onp.arange(12, dtype='int32')).sum(), 66)
    """,
    "autograd": """
        a = rng.standard_normal((3, 4)); x = np.array(a, dtype='float64'); x.attach_grad()
        with autograd.record():
            y = (np.sin(x) * x.T.T)[:, 1:].sum(axis=0).mean() + (x * x).max()
        y.backward()
        g = onp.zeros_like(a); g[:, 1:] = (onp.cos(a) * a + onp.sin(a))[:, 1:] / 3
        m = onp.unravel_index(onp.argmax(a * a), a.shape); g[m] += 2 * a[m]
        close(x.grad, g)
    """,
}


@pytest.fixture(scope="module")
def oclgrind_env(tmp_path_factory):
    icd = tmp_path_factory.mktemp("icd")
    (icd / "oclgrind.icd").write_text(str(OCLGRIND_ICD) + "\n")
    env = dict(os.environ)
    env.update(OCL_ICD_VENDORS=str(icd), CLGRAD_DEVICE="Oclgrind", OCLGRIND_DATA_RACES="1",
               OCLGRIND_UNINITIALIZED="1", CLGRAD_CACHE_DIR=str(tmp_path_factory.mktemp("cache")),
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.pop("CLGRAD_DEVICE_LIMITS", None)
    return env


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_family_is_clean_under_oclgrind(name, oclgrind_env, tmp_path):
    log = tmp_path / "oclgrind.log"
    env = dict(oclgrind_env, OCLGRIND_LOG=str(log))
    code = PRELUDE + textwrap.dedent(SCENARIOS[name]) + "\nprint(npx.current_device().name)\n"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Oclgrind" in proc.stdout, "the scenario did not run on the Oclgrind device"
    report = log.read_text() if log.exists() else ""
    assert report.strip() == "", f"Oclgrind reported problems in '{name}':\n{report[:4000]}"


def test_the_check_catches_an_invalid_access(oclgrind_env, tmp_path):
    """The harness can fail: a kernel writing past its buffer leaves a report in the log."""
    log = tmp_path / "oclgrind.log"
    env = dict(oclgrind_env, OCLGRIND_LOG=str(log))
    code = textwrap.dedent("""
        import numpy as onp
        from clgrad import np
        from clgrad.ops.launch import Kernel
        x = np.zeros(4)
        src = "__kernel void bad(__global float *p) { p[get_global_id(0) + 4] = 1.0f; }"
        k = Kernel(x.device, src, "bad", [None])
        k.launch(x.device, (4,), (4,), x._storage.buffer)
        x.device.synchronize()
    """)
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                   timeout=600)
    assert "Invalid write" in log.read_text()
