"""Running a snippet of clgrad in a fresh process: the runtime state that the tests here look at
(the device self-check, the sandbox, capabilities) is read once per process."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Variables a parent test run may carry that would change what the child checks.
_DROPPED = ("CLGRAD_DEVICE_LIMITS", "CLGRAD_SELFCHECK_INJECT", "CLGRAD_VET_INJECT",
            "CLGRAD_NO_CACHE", "CLGRAD_SELFCHECK", "CLGRAD_ISOLATE_BUILDS",
            "CLGRAD_BUILD_TIMEOUT", "CLGRAD_LAUNCH_PROFILE")


def run(code, cache, timeout=600, check=True, args=None, **env):
    """Run ``code`` (dedented) or ``python -m`` ``args`` in a child with ``CLGRAD_CACHE_DIR`` =
    ``cache`` and ``env``; returns the CompletedProcess (asserting a zero exit with ``check``)."""
    e = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    e.update(CLGRAD_CACHE_DIR=str(cache),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.update({k: str(v) for k, v in env.items()})
    cmd = [sys.executable] + (list(args) if args else ["-c", textwrap.dedent(code)])
    r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def last_json(r):
    """The last line of the child's output that is a JSON document."""
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in the output:\n{r.stdout}\n{r.stderr}")
