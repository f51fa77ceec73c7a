"""The resumable JSON-lines tuning log (no device needed)."""
import json

import pytest

from clgrad.tune.log import TuningLog, TuningLogWarning, log_path, read_records

from _tune_probe import fake_caps


def header(**kw):
    h = {"schema": 1, "device_key": "P|D|1", "kernel": "tk", "dtype": "float32",
         "problem": "64", "params_order": ["TS", "VW"]}
    h.update(kw)
    return h


def rec(ts, status="ok", ms=1.0):
    r = {"params": {"TS": ts, "VW": 1}, "status": status}
    if status == "ok":
        r["median_ms"] = ms
    return r


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_resume_ignores_a_truncated_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    with TuningLog(path, header()) as log:
        log.append(rec(1))
        log.append(rec(2, "compile"))
    with open(path, "a") as f:
        f.write('{"params": {"TS": 3, "VW"')      # the process died mid-write
    with pytest.warns(TuningLogWarning, match="truncated"):
        log = TuningLog(path, header())
    assert [json.loads(k)["TS"] for k in log.previous] == [1, 2]
    assert log.previous[json.dumps({"TS": 2, "VW": 1}, sort_keys=True)]["status"] == "compile"
    log.append(rec(3))
    log.close()
    got = lines(path)             # every line parses: the partial one was cut, not glued to
    assert got[0]["kernel"] == "tk"
    assert [r["params"]["TS"] for r in got[1:]] == [1, 2, 3]


def test_started_without_result_is_recorded_as_a_crash(tmp_path):
    path = tmp_path / "log.jsonl"
    with TuningLog(path, header()) as log:
        log.append(rec(1))
        log.append({"params": {"TS": 2, "VW": 1}, "status": "started"})
        log.append({"params": {"TS": 4, "VW": 1}, "status": "started"})
        log.append({"params": {"TS": 4, "VW": 1}, "status": "interrupted"})
    log = TuningLog(path, header())
    log.close()
    prev = {json.loads(k)["TS"]: r for k, r in log.previous.items()}
    assert prev[2]["status"] == "runtime" and "ended while" in prev[2]["error"]
    assert 4 not in prev                          # Ctrl-C: tried again next time
    assert lines(path)[-1]["status"] == "runtime"  # the verdict is written down once
    assert sum(1 for r in lines(path) if r.get("status") == "runtime") == 1
    log = TuningLog(path, header())
    log.close()
    assert sum(1 for r in lines(path) if r.get("status") == "runtime") == 1


def test_later_result_of_a_configuration_wins(tmp_path):
    path = tmp_path / "log.jsonl"
    with TuningLog(path, header()) as log:
        log.append(rec(1, ms=5.0))
        log.append(rec(1, ms=2.0))
    log = TuningLog(path, header())
    log.close()
    assert list(log.previous.values())[0]["median_ms"] == 2.0


@pytest.mark.parametrize("field, value", [("device_key", "P|D|2"), ("kernel", "other"),
                                          ("params_order", ["VW", "TS"]), ("schema", 2)])
def test_mismatched_log_is_moved_aside(tmp_path, field, value):
    path = tmp_path / "log.jsonl"
    with TuningLog(path, header()) as log:
        log.append(rec(1))
    with pytest.warns(TuningLogWarning, match=field):
        log = TuningLog(path, header(**{field: value}))
    log.close()
    assert log.previous == {}
    assert len(lines(path)) == 1
    assert len(list(tmp_path.glob("log.stale-*.jsonl"))) == 1


def test_damaged_header_starts_over(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("not json\n" + json.dumps(rec(1)) + "\n")
    with pytest.warns(TuningLogWarning, match="header"):
        TuningLog(path, header()).close()
    assert lines(path) == [header()]


def test_no_resume_overwrites(tmp_path):
    path = tmp_path / "log.jsonl"
    with TuningLog(path, header()) as log:
        log.append(rec(1))
    TuningLog(path, header(), resume=False).close()
    h, records, _, damaged = read_records(path)
    assert h == header() and records == [] and damaged == 0


def test_log_path_is_per_device_and_problem(tmp_path):
    a = log_path(tmp_path, fake_caps(driver="1"), "matmul", "float32", "512x512x512")
    b = log_path(tmp_path, fake_caps(driver="2"), "matmul", "float32", "512x512x512")
    assert a.parent != b.parent and a.name == b.name == "matmul-float32-512x512x512.jsonl"
