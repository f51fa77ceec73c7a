"""clgrad on a small device: no float64, 16 KiB of local memory, work-groups of at most 64.

``CLGRAD_DEVICE_LIMITS`` makes the runtime see such a device on any machine. The capabilities are
read once per process, so every check runs in a child process with the variable set. The children
also get a tuning database whose entries for this very device ask for more than the small device
has (256-item groups, 32 KiB of local memory, 1024-item reductions): tuned kernels must fall back
to parameters that fit rather than fail.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clgrad import npx
from clgrad.tune import db

ROOT = Path(__file__).resolve().parents[2]
LIMITS = "fp64=0,local_mem=16384,max_wg=64"
MAX_WG, LOCAL_MEM = 64, 16384

SUBSET = ["tests/ops/test_linalg.py", "tests/ops/test_nn.py", "tests/ops/test_reduce.py",
          "tests/ops/test_sort.py", "tests/autograd/test_backward.py"]

#: Entries that fit a big GPU but not the small device (stored for this device itself, which
#: the database trusts without a fit check).
UNFIT = {
    "matmul": {"MWG": 64, "NWG": 64, "KWG": 64, "MDIMC": 16, "NDIMC": 16, "VW": 4, "SA": 1,
               "SB": 1, "KC": 0},
    "matmul_nt": {"MWG": 64, "NWG": 64, "KWG": 64, "MDIMC": 16, "NDIMC": 16, "VW": 4, "SA": 1,
                  "SB": 1, "KC": 0},
    "reduce": {"wg": 1024, "waves": 8},
    "scan": {"wg": 1024, "waves": 8},
    "elementwise": {"LS": 1024, "EPT": 4, "VW": 4, "LAYOUT": "interleaved"},
}


@pytest.fixture(scope="module")
def small_env(tmp_path_factory):
    dbfile = tmp_path_factory.mktemp("tuning") / "tuning_db.json"
    dev = npx.current_device()
    for kernel, params in UNFIT.items():
        db.store(dev, kernel, "*", "default", params, path=dbfile)
    db.reload()     # this process keeps reading its own database
    env = dict(os.environ, CLGRAD_DEVICE_LIMITS=LIMITS, CLGRAD_TUNING_DB=str(dbfile),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def _python(code, env, timeout=600):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    return proc.stdout


def test_float64_requests_raise_the_documented_error(small_env):
    out = _python("""
        import numpy as onp
        import clgrad
        from clgrad import np, npx
        from clgrad.base import DeviceCapabilityError
        dev = npx.current_device()
        caps = dev.caps
        assert not caps.fp64 and caps.local_mem <= 16384 and caps.max_wg <= 64, caps
        x = np.ones(3)
        attempts = {
            "zeros": lambda: np.zeros(3, dtype="float64"),
            "from host float64": lambda: np.array(onp.ones(3)),
            "astype": lambda: x.astype("float64"),
            "arange": lambda: np.arange(4, dtype="float64"),
            "uniform": lambda: np.random.uniform(size=3, dtype="float64"),
            "sum dtype": lambda: x.sum(dtype="float64"),
            "softmax dtype": lambda: npx.softmax(x, dtype="float64"),
        }
        for what, call in attempts.items():
            try:
                call()
            except DeviceCapabilityError as e:
                msg = str(e)
                assert isinstance(e, clgrad.MXNetError) and isinstance(e, TypeError), what
                assert "float64" in msg and dev.name in msg and str(dev) in msg, (what, msg)
                assert "cl_khr_fp64" in msg, (what, msg)
            else:
                raise AssertionError(f"{what}: float64 accepted on a device without it")
        # the process stays usable, and float32 work is unaffected
        onp.testing.assert_allclose((x * 2).asnumpy(), [2, 2, 2])
        print("ok")
    """, small_env)
    assert out.strip().endswith("ok")


WORKLOAD = """
import json
import numpy as onp
import pyopencl as cl
from clgrad import np, npx, autograd
from clgrad.ops import launch, linalg as L

dev = npx.current_device()
LMEM = cl.kernel_work_group_info.LOCAL_MEM_SIZE
seen = {}

def check(kernel, items):
    lm = kernel.kernel.get_work_group_info(LMEM, dev.cl_device)
    assert items <= dev.caps.max_wg, (kernel.name, items)
    assert lm <= dev.caps.local_mem, (kernel.name, lm)
    seen[kernel.name] = (max(items, seen.get(kernel.name, (0, 0))[0]), lm)

orig_launch, orig_call = launch.Kernel.launch, launch.Kernel.__call__
def rec_launch(self, device, global_size, local_size, *args):
    n = 1
    for s in local_size:
        n *= s
    check(self, n)
    return orig_launch(self, device, global_size, local_size, *args)
def rec_call(self, device, n, *args):
    check(self, self.local)
    return orig_call(self, device, n, *args)
launch.Kernel.launch, launch.Kernel.__call__ = rec_launch, rec_call

rng = onp.random.default_rng(0)
def close(a, b, tol=1e-4):
    onp.testing.assert_allclose(a.asnumpy(), b, rtol=tol, atol=tol)

# matmul: the tuned entry cannot run here; a fallback that fits must
A = rng.standard_normal((70, 33)).astype("float32")
B = rng.standard_normal((33, 65)).astype("float32")
a, b = np.array(A), np.array(B)
for x, y, X, Y in ((a, b, A, B), (a, np.array(B.T.copy()).T, A, B), (a.T.T, b, A, B)):
    close(x @ y, X @ Y)
    assert L.LAST_PLAN["path"] == "tiled"
    assert L.param_problem(L.LAST_PLAN["params"], dev) is None, L.LAST_PLAN
    assert L.LAST_PLAN["params"]["MDIMC"] * L.LAST_PLAN["params"]["NDIMC"] <= 64
# reductions and scans: long rows and few outputs (group and two-stage layouts)
v = rng.standard_normal((2, 5000)).astype("float32"); xv = np.array(v)
close(xv.sum(axis=1), v.sum(1), 1e-2); close(xv.max(axis=1), v.max(1))
assert (xv.argmax(axis=1).asnumpy() == v.argmax(1)).all()
close(np.cumsum(xv, axis=1), v.cumsum(1), 1e-2)
# softmax rows long enough for a group per row; sort rows longer than one group
w = rng.standard_normal((3, 700)).astype("float32"); xw = np.array(w)
e = onp.exp(w - w.max(1, keepdims=True)); close(npx.softmax(xw), e / e.sum(1, keepdims=True), 1e-5)
assert (np.sort(xw, axis=1).asnumpy() == onp.sort(w, axis=1)).all()
# the stored stream entry (LS=1024) does not fit: the flat path keeps its built-in layout, in
# groups that fit
f32, arith = onp.dtype("float32"), ("arith",)
assert launch.stream_params(dev, f32, 5000, arith) == launch.builtin_stream(dev, f32, arith)
s = 2.0 * np.array(v[0]) + np.array(v[1]); close(s, 2 * v[0] + v[1], 1e-5)
# a gradient through all of it
p = np.array(A); p.attach_grad()
with autograd.record():
    out = (npx.log_softmax(p @ b) * 0.5).sum() + p.max(axis=1).sum()
out.backward()
assert onp.isfinite(p.grad.asnumpy()).all()
# every kernel object built in this process fits, launched or not
def kernels(v):
    if isinstance(v, launch.Kernel):
        yield v
    elif isinstance(v, (tuple, list)):
        for e in v:
            yield from kernels(e)
    elif hasattr(type(v), "__slots__") and not isinstance(v, BaseException):
        for n in type(v).__slots__:
            yield from kernels(getattr(v, n, None))
built = {id(k): k for v in dev.kernels.values() for k in kernels(v)}.values()
for k in built:
    assert k.local <= 64, (k.name, k.local)
    assert k.kernel.get_work_group_info(LMEM, dev.cl_device) <= dev.caps.local_mem, k.name
print(json.dumps(seen))
"""


def test_kernels_fit_the_small_device(small_env):
    seen = json.loads(_python(WORKLOAD, small_env).strip().splitlines()[-1])
    # the limits bound something: kernels that take 256 work-items elsewhere ran with 64 here
    for name in ("rows_softmax_group", "sort_local", "matmul_nvec", "ew_add"):
        assert name in seen, sorted(seen)
    assert seen["rows_softmax_group"][0] == MAX_WG and seen["sort_local"][0] == MAX_WG
    assert seen["ew_add"][0] == MAX_WG      # the flat path's groups of 256, capped
    assert max(items for items, _ in seen.values()) <= MAX_WG
    assert max(lm for _, lm in seen.values()) <= LOCAL_MEM


@pytest.mark.slow
def test_suite_subset_passes_on_the_small_device(small_env):
    """The op and autograd suites pass; only the float64 tests skip (conftest turns their
    DeviceCapabilityError into a skip), and tests that need no float64 all run."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", *SUBSET],
        env=small_env, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    lines = proc.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    tail = "\n".join(failed[:60]) + "\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    summary = lines[-1]
    assert " passed" in summary, tail
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 300, f"too few tests ran on the small device: {summary}"
    skips = [ln for ln in lines if ln.startswith("SKIPPED")]
    for ln in skips:
        # float64 needs; or a GPU-sized configuration that the test itself reports as unfit
        assert "float64" in ln or "fp64" in ln or "work-group" in ln or "local memory" in ln, ln
