"""``python -m clgrad.tune`` end to end on a tiny problem, and tools/plot_tuning.py."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clgrad.tune import cli, db

ROOT = Path(__file__).resolve().parents[2]
TINY = ["elementwise", "--sizes", "3000", "--param", "LS=32,64", "--param", "EPT=1",
        "--param", "VW=1", "--param", "LAYOUT=interleaved", "--iterations", "2"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CLGRAD_TUNING_DB", str(tmp_path / "db.json"))
    db.reload()
    yield tmp_path
    db.reload()


def run_cli(*argv):
    out = io.StringIO()
    rc = cli.main(list(argv), out=out)
    return rc, out.getvalue()


def test_cli_tunes_shows_and_clears(env, capsys):
    logs = str(env / "logs")
    rc, text = run_cli(*TINY, "--strategy", "brute_force", "--json", "--log-dir", logs)
    assert rc == 0
    report = json.loads(text)
    assert report["family"] == "elementwise" and report["dtype"] == "float32"
    (res,) = report["results"]
    assert res["counts"] == {"ok": 2} and res["measured"] == 2
    assert res["best"]["params"]["LS"] in (32, 64)
    assert res["stored_as"] == ["small", "default"]
    assert Path(res["log"]).exists()
    assert capsys.readouterr().err == ""        # --json: no progress output
    # the database now has the winner, under the device's key
    rc, text = run_cli("show", "--json")
    shown = json.loads(text)
    (dev,) = shown["devices"].values()
    assert dev["kernels"]["elementwise"]["float32"]["small"]["params"] == res["best"]["params"]
    rc, text = run_cli("show")
    assert "elementwise float32 small" in text
    # a second run resumes from the log and measures nothing; the table names the best
    rc, text = run_cli(*TINY, "--log-dir", logs)
    assert rc == 0 and "0 measured, 2 from the log" in text and "best: LS=" in text
    rc, text = run_cli(*TINY, "--log-dir", logs, "--quiet")
    assert rc == 0 and text.startswith("elementwise float32 3000: LS=")
    from clgrad.runtime import default_device
    dev = default_device()
    spec = f"{dev.platform_index}:{dev.device_index}"
    assert "elementwise" in json.loads(run_cli("show", "--json", "--device", spec)[1])[
        "devices"][dev.caps.key]["kernels"]
    rc, text = run_cli("clear", "--device", spec, "--kernel", "nosuch")
    assert rc == 0 and text.startswith("removed 0 ")
    rc, text = run_cli("clear", "--logs", "--log-dir", logs)
    assert rc == 0 and "removed" in text
    assert not Path(logs).exists()
    assert json.loads(run_cli("show", "--json")[1])["devices"] == {}


def test_cli_progress_line_without_tqdm(env, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)      # import tqdm -> ImportError
    rc, _ = run_cli(*TINY, "--log-dir", str(env / "logs"), "--no-store", "--budget", "1")
    assert rc == 0
    err = capsys.readouterr().err
    assert "elementwise float32 3000 [   1/1] LS=" in err and "best" in err
    assert not env.joinpath("db.json").exists()


def test_progress_uses_tqdm_when_installed(monkeypatch):
    import types
    from clgrad.tune.progress import Progress
    calls = []

    class FakeTqdm:
        def __init__(self, **kw):
            calls.append(("init", kw["total"]))

        def set_postfix_str(self, text, refresh=True):
            calls.append(("postfix", text))

        def update(self, n):
            calls.append(("update", n))

        def close(self):
            calls.append(("close",))
    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeTqdm))
    bar = Progress(total=3, desc="x", stream=io.StringIO())
    rec = {"params": {"A": 1}, "status": "ok", "median_ms": 1.5}
    bar.update(rec, rec)
    bar.update({"params": {"A": 2}, "status": "constraints"}, rec, counted=False)
    bar.close()
    assert calls[0] == ("init", 3)
    assert ("update", 1) in calls and calls.count(("update", 1)) == 1
    assert ("postfix", "best 1.5 ms (A=1)") in calls and calls[-1] == ("close",)


def test_cli_list(env, monkeypatch):
    import numpy as np

    from clgrad.ops import launch
    from clgrad.runtime import default_device
    from clgrad.tune import kernels as K
    assert {"elementwise", "matmul", "matmul_nt", "reduce", "softmax"} <= set(K.FAMILIES)
    # the matmul spaces take seconds to enumerate; the listing itself is what is tested here
    monkeypatch.delitem(K.FAMILIES, "matmul")
    monkeypatch.delitem(K.FAMILIES, "matmul_nt")
    rc, text = run_cli("list", "--json")
    rows = {r["family"]: r for r in json.loads(text)}
    assert rc == 0
    assert rows["elementwise"]["available"] and rows["elementwise"]["configurations"] > 10
    # the default listed is the runtime's flat layout for an arithmetic float32 expression
    ept, vw, layout, ls = launch.builtin_stream(default_device(), np.dtype(np.float32),
                                                ("arith",))
    assert rows["elementwise"]["default"] == {"LS": ls, "EPT": ept, "VW": vw, "LAYOUT": layout}
    assert set(rows) >= {"elementwise", "reduce", "softmax"}
    for r in rows.values():
        assert r["available"] or r["reason"]
    rc, text = run_cli("list")
    assert "elementwise" in text


@pytest.mark.parametrize("argv, code, msg", [
    (["elementwise", "--param", "NOPE=1"], 2, "has no parameter 'NOPE'"),
    (["elementwise", "--param", "LS"], 2, "NAME=V1"),
    (["elementwise", "--budget", "soon"], 2, "budget"),
    (["elementwise", "--dtype", "uint32"], 2, "uint32"),
    (["elementwise", "--dtype", "complex64"], 3, "complex64"),
    (["elementwise", "--sizes", "big"], 2, "size"),
    (["elementwise", "--device", "no-such-device-xyz"], 2, "no-such-device-xyz"),
])
def test_cli_errors_are_clear(env, capsys, argv, code, msg):
    rc, _ = run_cli(*argv, "--log-dir", str(env / "logs"))
    assert rc == code
    assert msg in capsys.readouterr().err


def test_cli_unavailable_family_exit_code(env, capsys, monkeypatch):
    from clgrad.tune import kernels as K

    class Missing(K.ReduceTunable):
        name = "missing"
        module_name = "clgrad.no_such_module"
    monkeypatch.setitem(K.FAMILIES, "missing", Missing)
    rc, _ = run_cli("missing", "--log-dir", str(env / "logs"))
    assert rc == cli.EXIT_UNAVAILABLE
    assert "clgrad.no_such_module" in capsys.readouterr().err


def test_python_m_clgrad_tune_json(env):
    proc = subprocess.run([sys.executable, "-m", "clgrad.tune", *TINY, "--budget", "1",
                           "--json", "--no-store", "--log-dir", str(env / "logs")],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT),
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["results"][0]["measured"] == 1
    assert report["database"] is None


# --- tools/plot_tuning.py ---------------------------------------------------------------------
def _plot_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("plot_tuning", ROOT / "tools" /
                                                  "plot_tuning.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_log(path):
    lines = [{"schema": 1, "kernel": "tk", "dtype": "float32", "problem": "64",
              "params_order": ["TS", "MODE"], "device": {"name": "Fake"}},
             {"params": {"TS": 1, "MODE": "a"}, "status": "started"},
             {"params": {"TS": 1, "MODE": "a"}, "status": "ok", "median_ms": 2.0},
             {"params": {"TS": 2, "MODE": "a"}, "status": "ok", "median_ms": 1.0},
             {"params": {"TS": 4, "MODE": "b"}, "status": "compile", "error": "x"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"params": {"TS"')


def test_plot_reads_logs(tmp_path):
    mod = _plot_module()
    log = tmp_path / "log.jsonl"
    _write_log(log)
    header, records = mod.read_log(log)
    assert header["kernel"] == "tk"
    assert sorted((r["params"]["TS"], r["status"]) for r in records) == \
        [(1, "ok"), (2, "ok"), (4, "compile")]


def test_plot_says_clearly_when_matplotlib_is_missing(tmp_path, monkeypatch, capsys):
    mod = _plot_module()
    log = tmp_path / "log.jsonl"
    _write_log(log)
    monkeypatch.setitem(sys.modules, "matplotlib", None)    # import matplotlib -> ImportError
    assert mod.main([str(log)]) == 2
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and "clgrad[bench]" in err
    assert not (tmp_path / "log.png").exists()


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    mod = _plot_module()
    log = tmp_path / "log.jsonl"
    _write_log(log)
    assert mod.main([str(log), "-o", str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
