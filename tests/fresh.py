"""Run code in a fresh interpreter: the default device, its limits and its pools are chosen
once per process."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code, **env):
    """Run ``code`` with ``env`` added to this environment, minus the device selection and
    limits this process runs under (CompletedProcess, text output)."""
    e = dict(os.environ)
    for k in ("CLGRAD_DEVICE", "PYOPENCL_CTX", "CLGRAD_DEVICE_LIMITS"):
        e.pop(k, None)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=300)
