"""Every benchmark case runs (at small sizes) and clgrad's results in it are right."""
import json

import pytest

from bench.cases import CASES
from bench.run import format_table, main, run


@pytest.fixture(scope="module")
def quick_run():
    return run(quick=True)


def test_every_case_produces_rows(quick_run):
    meta, rows = quick_run
    names = {r["case"] for r in rows}
    assert len(names) >= len(CASES)
    assert meta["stream_gbs"] and meta["stream_gbs"] > 0


def test_every_clgrad_result_is_checked_and_right(quick_run):
    _, rows = quick_run
    mine = [r for r in rows if r["impl"] == "clgrad"]
    assert mine
    for r in mine:
        ran = r["seconds"] is not None
        assert ran, f"{r['case']} did not run: {r.get('note')}"
        assert r["ok"], f"{r['case']}: clgrad's result differs from NumPy's"


def test_hand_written_references_are_right(quick_run):
    _, rows = quick_run
    refs = {r["case"]: r for r in rows if r["impl"] == "hand-written OpenCL"}
    assert set(refs) == {"stream d=a*b+c", "stream y=2*x"}
    assert all(r["ok"] and r["value"] > 0 for r in refs.values())
    # one-input ops are also shown against the one-in-one-out kernel timed alongside
    exp = next(r for r in rows if r["case"].startswith("exp") and r["impl"] == "clgrad")
    assert exp["frac_copy"] > 0 and exp["frac_stream"] > 0


def test_latency_is_measured_against_the_bare_floor(quick_run):
    _, rows = quick_run
    mine = {r["case"]: r for r in rows if r["impl"] == "clgrad" and r["case"].startswith("tiny")}
    assert set(mine) == {"tiny add (16) async", "tiny add (16) sync"}
    for r in mine.values():
        assert r["over_floor"] > 0          # its time over the bare enqueue timed alongside
    floors = [r for r in rows if r["impl"].startswith("bare enqueue")]
    assert len(floors) == 2 and all(r["ok"] for r in floors)


def test_table_and_json(quick_run, tmp_path):
    meta, rows = quick_run
    text = format_table(rows, meta["stream_gbs"])
    assert "of stream" in text and "of y=2*x*" in text and "clgrad" in text
    out = tmp_path / "b.json"
    main(["--quick", "--only", "latency", "--json", str(out), "--png", ""])
    data = json.loads(out.read_text())
    assert {r["case"] for r in data["rows"]} >= {"tiny add (16) async"}


def test_gluon_step_is_checked_and_compared_with_the_hand_written_one(quick_run):
    _, rows = quick_run
    g = next(r for r in rows if r["impl"] == "clgrad gluon")
    assert g["ok"], "the Gluon step's first loss differs from NumPy's"
    assert g["over_hand_written"] > 0 and g["launches"] > 0
    assert "the hand-written step" in format_table(rows, 1.0)


def test_bytecode_counts_are_exact_and_compare_two_checkouts(capsys):
    """The dispatch-cost count is repeatable (the same numbers twice) and prints the ratio."""
    import os

    from bench import bytecodes
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    first, second = bytecodes.measure(root), bytecodes.measure(root)
    assert first == second
    assert set(first) == {"unrecorded", "recorded", "tape"}
    assert 0 < first["unrecorded"][0] < first["recorded"][0] < first["tape"][0]
    assert bytecodes.main(["--against", root]) == 0
    out = capsys.readouterr().out
    assert out.count(" 1.00") == 3, out


def test_bytecode_bench_times_two_checkouts_in_alternating_rounds(capsys):
    import os

    from bench import bytecodes
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with pytest.raises(SystemExit):
        bytecodes.main(["--time", "2"])         # timing compares two checkouts
    capsys.readouterr()
    assert bytecodes.main(["--against", root, "--time", "2"]) == 0
    timed = capsys.readouterr().out.split("timed, us per op call")[1].splitlines()[1:]
    assert len(timed) == 3
    for line in timed:
        mine, theirs, ratio = (float(v) for v in line.split()[-3:])
        assert mine > 0 and theirs > 0 and ratio > 0
