"""Two processes sharing one kernel cache folder neither corrupt it nor trust a broken file."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import numpy as onp
from clgrad import np, npx
x = np.array(onp.arange(64, dtype='float32').reshape(8, 8))
y = (np.sin(x) * 3 + x.T)[::2].sum(axis=1)
ref = (onp.sin(onp.arange(64, dtype='float32').reshape(8, 8)) * 3 +
       onp.arange(64, dtype='float32').reshape(8, 8).T)[::2].sum(axis=1)
assert onp.allclose(y.asnumpy(), ref, rtol=1e-5), (y, ref)
print(npx.current_device().stats["compiles"])
"""


def _spawn(cache):
    env = dict(os.environ, CLGRAD_CACHE_DIR=str(cache),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CLGRAD_NO_CACHE", None)    # the kernel cache is what these processes share
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_processes_then_a_clean_reuse(tmp_path):
    procs = [_spawn(tmp_path) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    files = list((tmp_path / "kernels").glob("*.bin"))
    assert files and not list((tmp_path / "kernels").glob(".tmp-*"))
    third = _spawn(tmp_path)
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    assert out.strip() == "0", "a third process recompiled kernels the first two cached"


def test_truncated_cache_files_are_rebuilt(tmp_path):
    p = _spawn(tmp_path)
    p.communicate(timeout=300)
    for f in (tmp_path / "kernels").glob("*.bin"):
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    p = _spawn(tmp_path)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert int(out.strip()) > 0, "broken cache files were trusted instead of rebuilt"
