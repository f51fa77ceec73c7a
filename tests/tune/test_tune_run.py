"""Tuning runs on the OpenCL device: failure classification, resume, isolation, storing winners,
and the runtime using them. Spaces and problems are tiny; the kernels repeat across tests so
they compile once (then come from the on-disk program cache)."""
import json

import numpy as np
import pytest

from clgrad import np as cnp
from clgrad.ops import launch
from clgrad.runtime import default_device, vector_width
from clgrad.tune import db
from clgrad.tune import kernels as K
from clgrad.tune.runner import format_table, tune

from _tune_probe import ProbeTunable

N = 1000    # elements of the streaming problems (a ragged tail for every EPT / VW)


def status_of(report):
    return {json.dumps(r["params"], sort_keys=True): r["status"]
            for r in report.results[0].records}


def key(**p):
    return json.dumps(p, sort_keys=True)


PROBE_SPACE = {"LS": [32, 8192], "EPT": [3], "VW": [1, 3], "LAYOUT": ["blocked"],
               "MODE": ["ok", "build", "lm", "verify", "runtime", "slow"]}
PROBE_RULES = ["LS == 32 or (VW == 1 and MODE == 'ok')", "VW == 1 or MODE == 'ok'"]


def test_failures_are_classified_and_never_stop_the_run(tuning_db, tmp_path):
    t = ProbeTunable(params=PROBE_SPACE, constraints=PROBE_RULES)
    assert len(t.space()) == 8
    report = tune(t, sizes=[f"{N}"], strategy="brute_force", log_dir=tmp_path / "logs",
                  iterations=2, timeout=4, jobs=2, progress=False)
    got = status_of(report)
    base = dict(EPT=3, LAYOUT="blocked")
    assert got == {
        key(LS=32, VW=1, MODE="ok", **base): "ok",
        key(LS=32, VW=1, MODE="build", **base): "compile",     # the source has an #error
        key(LS=32, VW=3, MODE="ok", **base): "constraints",    # no vector width of the kernels
        key(LS=8192, VW=1, MODE="ok", **base): "constraints",  # work-group too large
        key(LS=32, VW=1, MODE="lm", **base): "constraints",    # local memory too large
        key(LS=32, VW=1, MODE="verify", **base): "verify",
        key(LS=32, VW=1, MODE="runtime", **base): "runtime",
        key(LS=32, VW=1, MODE="slow", **base): "timeout",
    }
    recs = {json.dumps(r["params"], sort_keys=True): r for r in report.results[0].records}
    assert "does not build" in recs[key(LS=32, VW=1, MODE="build", **base)]["error"]
    assert "vector width 3" in recs[key(LS=32, VW=3, MODE="ok", **base)]["error"]
    assert "work-group" in recs[key(LS=8192, VW=1, MODE="ok", **base)]["error"]
    assert "local memory" in recs[key(LS=32, VW=1, MODE="lm", **base)]["error"]
    assert "wrong" in recs[key(LS=32, VW=1, MODE="verify", **base)]["error"]
    ok = recs[key(LS=32, VW=1, MODE="ok", **base)]
    assert len(ok["times_ms"]) == 2 and ok["median_ms"] > 0 and ok["gbs"] > 0
    assert ok["timer"] == "events"
    r = report.results[0]
    assert r.best["params"] == ok["params"]
    assert r.counts == {"ok": 1, "compile": 1, "constraints": 3, "verify": 1, "runtime": 1,
                        "timeout": 1}
    # everything is in the log, one header and one line per candidate plus 'started' marks
    lines = [json.loads(x) for x in open(r.log)]
    assert lines[0]["kernel"] == "probe" and lines[0]["params_order"] == list(PROBE_SPACE)
    finals = [x for x in lines[1:] if x["status"] != "started"]
    assert len(finals) == 8
    # the winner went to the database, under its size bucket and as the default
    assert r.stored == [launch.stream_size_key(N), "default"]
    dev = default_device()
    assert db.params_for(dev, "probe", "float32", launch.stream_size_key(N), {}) == ok["params"]
    assert "best: LS=32" in format_table(report)


def test_resume_after_a_truncated_log(tuning_db, tmp_path):
    space = {"LS": [16, 32, 64, 128], "EPT": [1], "VW": [1], "LAYOUT": ["interleaved"]}
    logs = tmp_path / "logs"
    first = tune(K.StreamTunable(params=space), sizes=[f"{N}"], strategy="brute_force",
                 budget="2", log_dir=logs, iterations=1, progress=False, store=False)
    r1 = first.results[0]
    assert r1.measured == 2 and r1.resumed == 0
    with open(r1.log, "a") as f:
        f.write('{"params": {"LS": 64, "EPT": 1, "VW"')     # killed mid-write
    with pytest.warns(Warning, match="truncated"):
        second = tune(K.StreamTunable(params=space), sizes=[f"{N}"], strategy="brute_force",
                      log_dir=logs, iterations=1, progress=False, store=False)
    r2 = second.results[0]
    assert r2.resumed == 2 and r2.measured == 2
    assert sorted(r["params"]["LS"] for r in r2.records) == [16, 32, 64, 128]
    lines = [json.loads(x) for x in open(r2.log)]        # the log is whole again
    assert sorted(x["params"]["LS"] for x in lines[1:] if x["status"] == "ok") == \
        [16, 32, 64, 128]
    # a third run has nothing left to do
    third = tune(K.StreamTunable(params=space), sizes=[f"{N}"], strategy="random",
                 log_dir=logs, iterations=1, progress=False, store=False)
    assert third.results[0].measured == 0 and third.results[0].resumed == 4


def test_isolated_candidates_survive_a_crash(tuning_db, tmp_path):
    space = {"LS": [32], "EPT": [3], "VW": [1], "LAYOUT": ["blocked"], "MODE": ["ok", "crash"]}
    # jobs=2 also builds both candidates ahead, each in a compile-only child
    report = tune(ProbeTunable(params=space), sizes=[f"{N}"], strategy="brute_force",
                  log_dir=tmp_path / "logs", iterations=1, isolate=True, jobs=2,
                  progress=False, store=False)
    got = {r["params"]["MODE"]: r for r in report.results[0].records}
    assert got["ok"]["status"] == "ok" and got["ok"]["median_ms"] > 0
    assert got["crash"]["status"] == "runtime"
    assert "child process died (signal SIGKILL)" in got["crash"]["error"]


def _compile_threads():
    import threading
    return [t for t in threading.enumerate() if t.name == "clgrad-tune-compile" and t.is_alive()]


class _SlowBuilds(ProbeTunable):
    """Every build takes a while, so builds started ahead are still running when the search
    stops; ``interrupt`` makes the first run raise KeyboardInterrupt (Ctrl-C)."""

    slow_seconds = 0.4
    interrupt = False

    def run(self, problem, compiled, params):
        if self.interrupt:
            raise KeyboardInterrupt
        return super().run(problem, compiled, params)


SLOW_SPACE = {"LS": [16, 32, 64, 128], "EPT": [1], "VW": [1], "LAYOUT": ["interleaved"],
              "MODE": ["slow"]}


@pytest.mark.parametrize("jobs", [1, 2])
def test_no_compile_thread_outlives_a_run(tuning_db, tmp_path, jobs):
    # a budget of one measures one candidate of a batch compiled ahead: the builds of the
    # others must be cancelled or waited for, or a driver thread still compiling while the
    # interpreter exits aborts the process ("terminate called without an active exception")
    report = tune(_SlowBuilds(params=SLOW_SPACE), sizes=[f"{N}"], strategy="brute_force",
                  budget="1", log_dir=tmp_path / "logs", iterations=1, jobs=jobs,
                  progress=False, store=False)
    assert report.results[0].measured == 1
    assert _compile_threads() == []


def test_no_compile_thread_outlives_an_interrupted_run(tuning_db, tmp_path):
    t = _SlowBuilds(params=SLOW_SPACE)
    t.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        tune(t, sizes=[f"{N}"], strategy="brute_force", log_dir=tmp_path / "logs",
             iterations=1, jobs=2, progress=False, store=False)
    assert _compile_threads() == []


class _Launches:
    """A launch observer (``launch.set_observer``) that takes nothing over: it notes the plans
    of the elementwise calls and the geometry of every launch."""

    def __init__(self):
        self.plans, self.launches = [], []

    def elementwise(self, plan, out, inputs, flat):
        self.plans.append((plan, flat))
        return False

    def launch(self, kernel, global_size, local_size, args):
        self.launches.append((kernel.name, tuple(global_size), tuple(local_size)))
        return False

    def per_call_args(self, positions, values):
        pass


def test_stored_winner_is_used_by_the_runtime(tuning_db):
    dev = default_device()
    f32, arith = np.dtype(np.float32), ("arith",)    # what 2 * x and ... + y do to vectors
    x = cnp.array(np.arange(N, dtype=np.float32))
    y = cnp.array(np.ones(N, dtype=np.float32))
    want = 2 * np.arange(N, dtype=np.float32) + 1
    # nothing tuned: the runtime's built-in layout, which is the tuner's default
    base = launch.builtin_stream(dev, f32, arith)
    assert launch.stream_params(dev, f32, N, arith) == base
    d = K.StreamTunable().default_params(dev, "float32")
    assert (d["EPT"], d["VW"], d["LAYOUT"], d["LS"]) == base
    vw = 2 if launch.stream_width(dev.caps, f32) >= 2 else 1
    winner = {"LS": 16, "EPT": 2, "VW": vw, "LAYOUT": "blocked"}
    assert K.StreamTunable().fits(winner, dev.caps, "float32") is None   # the tuner may store it
    assert base != (2, vw, "blocked", 16)
    np.testing.assert_array_equal((2 * x + y).asnumpy(), want)  # plans choose their kernels
    db.store(dev, "elementwise", "float32", launch.stream_size_key(N), winner)
    seen = _Launches()
    # (no clear_caches: a stored result makes the plans choose again, tuning.on_change)
    prev = launch.set_observer(seen)
    try:
        assert launch.stream_params(dev, f32, N, arith) == (2, vw, "blocked", 16)
        out = 2 * x + y
        np.testing.assert_array_equal(out.asnumpy(), want)
        # both ops took the flat path with the winner's kernel: groups of 16, ceil(N / 2)
        # work-items padded to whole groups
        assert len(seen.plans) == 2 and all(flat for _, flat in seen.plans), seen.plans
        for plan, _ in seen.plans:
            assert plan.classes == arith
            kernel, ept = plan.flat_kernel(dev, N)
            assert ept == 2 and kernel.local == 16
        items = (N + 1) // 2
        g = (items + 15) // 16 * 16
        assert [(gs, ls) for _, gs, ls in seen.launches] == [((g,), (16,))] * 2, seen.launches
        # another size bucket is not affected
        assert launch.stream_params(dev, f32, 1 << 23, arith) == base
    finally:
        launch.set_observer(prev)
        launch.clear_caches()       # no later test runs with this winner


def test_stored_matmul_winner_is_used_by_matmul(tuning_db):
    linalg = pytest.importorskip("clgrad.ops.linalg")
    if not hasattr(linalg, "LAST_PLAN") or not hasattr(linalg, "size_key"):
        pytest.skip("clgrad.ops.linalg does not report its launch plan")
    dev = default_device()
    a = np.random.default_rng(0).standard_normal((40, 24)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((24, 48)).astype(np.float32)
    winner = {"MWG": 16, "NWG": 16, "KWG": 8, "MDIMC": 4, "NDIMC": 4, "VW": 1, "SA": 0, "SB": 0}
    db.store(dev, "matmul", "float32", linalg.size_key(40, 48, 24), winner)
    got = cnp.matmul(cnp.array(a), cnp.array(b)).asnumpy()
    np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert linalg.LAST_PLAN["path"] == "tiled"
    used = linalg.LAST_PLAN["params"]
    assert {k: used[k] for k in winner} == winner


def test_matmul_family_tunes_end_to_end(tuning_db, tmp_path):
    t = K.MatmulTunable()
    if t.unavailable():
        pytest.skip(t.unavailable())
    # two small candidates (quick to build): two of the module's fallback tiles
    linalg = pytest.importorskip("clgrad.ops.linalg")
    default = t.default_params(default_device(), "float32")
    full = t.space()
    fallbacks = getattr(linalg, "FALLBACK_PARAMS", ())[:2]
    if len(fallbacks) < 2:
        pytest.skip("clgrad.ops.linalg has no FALLBACK_PARAMS")
    cands = [{n: fb.get(n, default.get(n, vals[0])) for n, vals in full.values.items()}
             for fb in fallbacks]
    space = {n: sorted({c[n] for c in cands}) for n in full.values}
    report = tune(K.MatmulTunable(params=space,
                                  constraints=list(full.constraints) + [lambda p: p in cands]),
                  sizes=["32x40x24"], strategy="brute_force", log_dir=tmp_path / "logs",
                  iterations=1, progress=False)
    r = report.results[0]
    assert r.counts.get("ok", 0) >= 1, r.records
    assert r.best["gflops"] > 0
    assert db.params_for(default_device(), "matmul", "float32", r.size_key, {}) == \
        r.best["params"]


def test_reduce_family_tunes_through_params_for(tuning_db, tmp_path):
    t = K.ReduceTunable(params={"wg": [16, 32], "waves": [4]})
    if t.unavailable():
        pytest.skip(t.unavailable())
    report = tune(t, sizes=["8x512"], strategy="brute_force", log_dir=tmp_path / "logs",
                  iterations=1, progress=False)
    r = report.results[0]
    assert r.counts == {"ok": 2}, r.records
    assert r.size_key == "small"
    dev = default_device()
    got = db.params_for(dev, t.kernel, np.dtype(np.float32), "small", {"wg": 256, "waves": 1})
    assert got == r.best["params"]


@pytest.mark.parametrize("strategy", ["random", "brute_force", "greedy"])
def test_a_short_run_measures_the_runtime_default_first(tuning_db, tmp_path, strategy):
    from clgrad.ops import launch
    t = K.StreamTunable()
    dev = default_device()
    d = t.default_params(dev, "float32")
    # the tuner's default is what the runtime's flat path runs for its expression (a*x + y:
    # operators only) when nothing is tuned
    n = 1 << 16
    assert launch.stream_params(dev, np.dtype(np.float32), n, ("arith",)) == \
        (d["EPT"], d["VW"], d["LAYOUT"], d["LS"])
    assert d in t.space()
    report = tune(t, sizes=[str(n)], strategy=strategy, budget="1", log_dir=tmp_path / "logs",
                  iterations=1, progress=False)
    r = report.results[0]
    # the default first, and the only one measured (candidates the device refuses cost nothing:
    # under a vector_width limit a random order may note some before the budget stops it)
    assert r.records[0]["params"] == d
    assert [rec["params"] for rec in r.records if rec["status"] != "constraints"] == [d]
    assert r.best["params"] == d


def test_reduce_default_is_the_runtime_layout():
    from clgrad.ops import launch
    t = K.ReduceTunable()
    dev = default_device()
    d = t.default_params(dev, "float32")
    assert d in t.space()
    assert d["layout"] == ("cpu" if launch.launch_profile(dev) == "cpu" else "group")
    # the CPU layout has its own geometry: one candidate, not one per group size
    assert sum(1 for c in t.space().configs() if c["layout"] == "cpu") == 1


@pytest.mark.parametrize("size", [(40, 48, 24), (640, 256, 1024)])
def test_matmul_default_is_what_the_runtime_runs_at_that_size(tuning_db, size):
    linalg = pytest.importorskip("clgrad.ops.linalg")
    M, N, K_ = size
    dev = default_device()
    a = cnp.array(np.ones((M, K_), np.float32))
    b = cnp.array(np.ones((K_, N), np.float32))
    np.testing.assert_allclose((a @ b).asnumpy(), np.full((M, N), K_, np.float32))
    used = linalg.LAST_PLAN["params"]
    want = K.MatmulTunable().default_for(dev, "float32", size)
    assert {k: used[k] for k in want} == want


def test_softmax_family_tunes_through_params_for(tuning_db, tmp_path):
    t = K.SoftmaxTunable()
    assert t.unavailable() is None
    assert len(t.default_space()) == 9       # vectors only with a row per work-item
    t = K.SoftmaxTunable(params={"wg": [1, 16], "vw": [0, 4]},
                         constraints=list(t.default_space().constraints))
    report = tune(t, sizes=["8x40"], strategy="brute_force", log_dir=tmp_path / "logs",
                  iterations=1, progress=False)
    r = report.results[0]
    # (16, 4) breaks "wg == 1 or vw == 0": three candidates, every one right
    assert r.counts == {"ok": 3}, r.records
    assert r.size_key == "small"
    got = db.params_for(default_device(), t.kernel, np.dtype(np.float32), "small", {})
    assert got == r.best["params"]
    dev = default_device()
    assert t.default_params(dev, "float32") in [{"wg": w, "vw": v}
                                                for w in (1, 16, 32, 64, 128, 256)
                                                for v in (0, 4, 8, 16)]
    # the default measured first is the runtime's own layout for that problem
    from clgrad.ops.nn import rows as nn
    for m, k in ((2, 1024), (1024, 1024), (64, 40)):
        d = t.default_for(dev, "float32", (m, k))
        assert (d["wg"], d["vw"]) == nn._heuristic_rows(dev, m, k, np.dtype(np.float32), True)


def test_op_family_that_ignores_params_for_is_reported(tuning_db, tmp_path, monkeypatch):
    import types
    mod = types.ModuleType("_fake_tune_ops")
    mod.TUNABLE = {"kernel": "fakered", "params": {"wg": [16, 32]}, "default": {"wg": 16}}
    mod.sum = lambda a, axis: a          # never asks params_for("fakered", ...)
    monkeypatch.setitem(__import__("sys").modules, "_fake_tune_ops", mod)

    class FakeReduce(K.ReduceTunable):
        name = "fakered"
        module_name = "_fake_tune_ops"
        kernels = ("fakered",)
    with pytest.raises(K.TunableUnavailable, match="did not ask params_for"):
        tune(FakeReduce(), sizes=["4x8"], log_dir=tmp_path / "logs", progress=False)
    (log,) = (tmp_path / "logs").rglob("*.jsonl")
    assert [json.loads(x).get("status") for x in open(log)][1:] == ["started", "interrupted"]
    del mod.TUNABLE
    assert "does not declare TUNABLE" in FakeReduce().unavailable()


STREAM_CANDIDATES = [{"LS": 16, "EPT": 1, "VW": 1, "LAYOUT": "interleaved"},
                     {"LS": 32, "EPT": 3, "VW": 1, "LAYOUT": "blocked"},
                     {"LS": 64, "EPT": 8, "VW": 1, "LAYOUT": "interleaved"},
                     {"LS": 16, "EPT": 64, "VW": 1, "LAYOUT": "blocked"}]


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32"])
def test_candidates_compute_alpha_x_plus_y(dtype):
    """The tunable's candidates are the runtime's flat kernel: one element at a time for these
    dtypes, several per work-item, both layouts, ragged ends, and nothing written past n."""
    from clgrad.tune.bench import ProfilingDevice
    dev = default_device()
    if dtype == "float64" and not dev.caps.fp64:
        pytest.skip("no fp64")
    t = K.StreamTunable()
    pdev = ProfilingDevice(dev)
    for n in (1, 1000):
        p = t.setup(pdev, dtype, (n,), seed=3)
        for params in STREAM_CANDIDATES:
            assert t.fits(params, dev.caps, dtype) is None, params
            k = t.compile(p, params)
            assert k.name == "ew_tune_axpy" and k.local == params["LS"]
            assert [local for _, local in t.compiled_kernels(k, params)] == [params["LS"]]
            t.reset(p)
            assert t.check(p) is not None          # the poisoned output does not pass
            for ev in t.run(p, k, params):
                ev.wait()
            assert t.check(p) is None, (n, params, t.check(p))


def test_fits_refuses_what_the_flat_path_does_not_run():
    t = K.StreamTunable()
    caps = default_device().caps
    ok = {"LS": 16, "EPT": 4, "VW": 1, "LAYOUT": "blocked"}
    for dtype in ("float16", "int32"):
        assert t.fits(ok, caps, dtype) is None
        bad = dict(ok, VW=2)
        why = t.fits(bad, caps, dtype)
        assert why and "one element at a time" in why and dtype in why, why
        assert not launch.stream_fits(bad, caps, dtype)   # nor does the store take it
    for dtype in ("float32", "float64"):
        w = launch.stream_width(caps, dtype)
        assert w == vector_width(caps, np.dtype(dtype), ("arith",), want=16)
        assert t.fits(dict(ok, VW=w, EPT=w), caps, dtype) is None
        if w < 16:
            why = t.fits(dict(ok, VW=2 * w, EPT=2 * w), caps, dtype)
            assert why and "self-check" in why, why
    # entries the runtime would not read back
    assert "vector width 3" in t.fits(dict(ok, VW=3, EPT=3), caps, "float32")
    assert "elements per work-item" in t.fits(dict(ok, EPT=128), caps, "float32")
    assert "layout" in t.fits(dict(ok, LAYOUT="diagonal"), caps, "float32")
    assert "work-group" in t.fits(dict(ok, LS=caps.max_wg * 2), caps, "float32")


@pytest.mark.parametrize("dtype", ["float16", "float64", "int32"])
def test_tuned_parameters_reach_every_dtype(dtype):
    """Stream parameters the tuner may store for a dtype without vectors run the public ops on
    it, views with offsets included."""
    dev = default_device()
    if dtype == "float64" and not dev.caps.fp64:
        pytest.skip("no fp64")
    host_x = (np.arange(37) % 11 - 5).astype(dtype)
    host_y = (np.arange(37) % 7).astype(dtype)
    params = {"LS": 16, "EPT": 3, "VW": 1, "LAYOUT": "blocked"}
    with db.override("elementwise", params) as o:
        launch.clear_caches()
        try:
            assert launch.stream_params(dev, np.dtype(dtype), 34) == (3, 1, "blocked", 16)
            x = cnp.array(host_x)[3:]          # views with an offset
            y = cnp.array(host_y)[:-3]
            out = 3 * x + y
        finally:
            launch.clear_caches()
    assert o.consulted
    want = (3 * host_x[3:].astype(np.float64) + host_y[:-3]).astype(dtype)
    np.testing.assert_array_equal(out.asnumpy(), want)
    assert out.dtype == np.dtype(dtype)


def test_unavailable_family_and_bad_arguments(tuning_db, tmp_path):
    with pytest.raises(K.TunableUnavailable, match="unknown kernel family"):
        tune("nosuch", log_dir=tmp_path)
    with pytest.raises(K.TunableUnavailable, match="tuned for .*not uint8"):
        tune("elementwise", dtype="uint8", sizes=["64"], log_dir=tmp_path)
    with pytest.raises(K.TunableUnavailable, match="empty"):
        tune(K.StreamTunable(params={"LS": [32], "EPT": [1], "VW": [2],
                                     "LAYOUT": ["blocked"]}, constraints=["EPT % VW == 0"]),
             sizes=["64"], log_dir=tmp_path)
    with pytest.raises(ValueError, match="size"):
        tune("elementwise", sizes=["lots"], log_dir=tmp_path)
