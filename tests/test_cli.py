"""The command-line entry points as a user runs them (``python -m clgrad`` / ``clgrad-info``,
``python -m clgrad.tune`` / ``clgrad-tune``, ``python -m bench``): exit status 0 after success;
after a failure a non-zero status and one line on stderr that says what went wrong, never a
usage block or a traceback. Each run is short (the tuner: one candidate of a tiny problem with
its own cache folder; the benchmarks: ``--quick --only latency``)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY_TUNE = ["elementwise", "--sizes", "3000", "--param", "LS=32", "--param", "EPT=1",
             "--param", "VW=1", "--param", "LAYOUT=interleaved", "--budget", "1",
             "--iterations", "1"]


@pytest.fixture
def cache(tmp_path):
    """A cache folder of its own (tuning database, logs, kernels) for the child processes."""
    return tmp_path / "cache"


def run(args, cache, timeout=300, **env):
    """``args`` (a ``-m`` module and its arguments, or a console script's path) in a child."""
    e = dict(os.environ, CLGRAD_CACHE_DIR=str(cache),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("CLGRAD_TUNING_DB", None)
    e.update(env)
    cmd = [str(args[0])] + list(args[1:]) if isinstance(args[0], Path) else \
        [sys.executable, "-m"] + list(args)
    return subprocess.run(cmd, cwd=str(ROOT), env=e, capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line_failure(r, *needles, code=None):
    assert r.returncode != 0, r.stdout
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- python -m clgrad ----------------------------------------------------------------------------
def test_info_succeeds(cache):
    r = run(["clgrad"], cache)
    assert r.returncode == 0, r.stderr
    assert "platform 0:" in r.stdout


def test_info_console_script_succeeds(cache):
    script = BIN / "clgrad-info"
    if not script.exists():
        pytest.skip("clgrad is not installed with its console scripts here")
    r = run([script, "info"], cache)
    assert r.returncode == 0, r.stderr
    assert "platform 0:" in r.stdout


@pytest.mark.parametrize("argv, needle", [(["bogus"], "invalid choice: 'bogus'"),
                                          (["info", "--nope"], "--nope")])
def test_info_bad_arguments(cache, argv, needle):
    assert_one_line_failure(run(["clgrad", *argv], cache), "python -m clgrad: error:", needle,
                            code=2)


# --- python -m clgrad.tune -----------------------------------------------------------------------
def test_tune_succeeds_and_stores(cache):
    r = run(["clgrad.tune", *TINY_TUNE, "--quiet"], cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("elementwise float32 3000: LS=32")
    assert r.stderr == ""
    assert (cache / "tuning" / "tuning_db.json").exists()      # inside its own cache folder
    r = run(["clgrad.tune", "show"], cache)
    assert r.returncode == 0 and "elementwise float32" in r.stdout, r.stderr


def test_tune_console_script_lists(cache):
    script = BIN / "clgrad-tune"
    if not script.exists():
        pytest.skip("clgrad is not installed with its console scripts here")
    r = run([script, "list"], cache)
    assert r.returncode == 0, r.stderr
    assert "elementwise" in r.stdout


@pytest.mark.parametrize("argv, code, needles", [
    (["no_such_family"], 2, ["invalid choice: 'no_such_family'"]),
    ([], 2, ["required"]),
    (["elementwise", "--budget", "soon"], 2, ["clgrad.tune:", "budget"]),
    (["elementwise", "--sizes", "big"], 2, ["clgrad.tune:", "big"]),
    (["elementwise", "--dtype", "complex64"], 3, ["clgrad.tune:", "complex64"]),
    (["elementwise", "--device", "no-such-device-xyz"], 2, ["no-such-device-xyz"]),
    (["elementwise", "--jobs", "two"], 2, ["--jobs", "'two'"]),
])
def test_tune_bad_arguments(cache, argv, code, needles):
    assert_one_line_failure(run(["clgrad.tune", *argv], cache), *needles, code=code)


def test_tune_unwritable_database_or_logs_fail_before_tuning(cache, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run(["clgrad.tune", *TINY_TUNE], cache, CLGRAD_TUNING_DB=str(blocker / "db.json"))
    assert_one_line_failure(r, "clgrad.tune: cannot write", "is a file, not a folder", code=1)
    assert r.stdout == ""          # nothing was tuned
    r = run(["clgrad.tune", *TINY_TUNE, "--log-dir", str(blocker / "logs")], cache)
    assert_one_line_failure(r, "cannot write", str(blocker), code=1)


# --- python -m bench -----------------------------------------------------------------------------
def test_bench_succeeds(cache, tmp_path):
    out = tmp_path / "results" / "b.json"
    r = run(["bench", "--quick", "--only", "latency", "--json", str(out), "--png", ""], cache)
    assert r.returncode == 0, r.stderr
    assert "tiny add (16)" in r.stdout and out.exists()


def test_bench_unknown_case(cache):
    r = run(["bench", "--quick", "--only", "no_such_case"], cache)
    assert_one_line_failure(r, "python -m bench: error:", "no_such_case", "latency", code=2)


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_bench_unwritable_output_fails_before_running(cache, tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = blocker / "b.json" if where == "under-a-file" else tmp_path
    r = run(["bench", "--quick", "--only", "latency", "--json", str(path), "--png", ""], cache)
    assert_one_line_failure(r, "bench: cannot write", str(path), code=1)
    assert r.stdout == ""          # it stopped before measuring anything
