"""Builds that cannot kill the process: a program new to the device is built, created and
launched once in the sandbox process first; one that crashes, hangs or warns about the ABI there
is rejected (and remembered), and the kernel families fall back to their plain variants.

The driver's failures are injected (``CLGRAD_VET_INJECT``: ``action:regex`` matched against the
program's source), so every path runs on any machine.
"""
import re
import uuid

import numpy as onp
import pytest

import clgrad
from _child import run
from clgrad import np
from clgrad.runtime import build_program, default_device, isolation, program_cache


def fresh_device():
    d = default_device()
    return clgrad.Device(d.cl_device, d.platform_index, d.device_index, d.device_type, 60)


def source(tag):
    return (f"// {tag} {uuid.uuid4().hex}\n"
            "__kernel void k(__global float *x, long n) {\n"
            "    const size_t i = get_global_id(0);\n"
            "    if (i < n) x[i] += 1.0f;\n}\n")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CLGRAD_NO_CACHE", raising=False)
    monkeypatch.delenv("CLGRAD_ISOLATE_BUILDS", raising=False)
    return tmp_path


def trial(name="k"):
    return ((name, (None, onp.int64), 256),)


@pytest.mark.parametrize("action, why", [
    ("crash", "died with signal SIGABRT"),
    ("hang", "did not finish within 3 s"),
    ("abi", "warns about the ABI"),
])
def test_a_failing_program_is_rejected_and_remembered(cache, monkeypatch, action, why):
    dev = fresh_device()
    tag = uuid.uuid4().hex
    src = source(tag)
    monkeypatch.setenv("CLGRAD_VET_INJECT", f"{action}:{tag}")
    monkeypatch.setenv("CLGRAD_BUILD_TIMEOUT", "3")
    bins = len(list((cache / "kernels").glob("*.bin")))
    with pytest.raises(clgrad.KernelBuildError, match="rejected") as info:
        build_program(dev, src, trial=trial())
    assert why in str(info.value)
    assert len(list((cache / "kernels").glob("*.bin"))) == bins     # nothing cached for it
    assert info.value.source_path and open(info.value.source_path).read() == src
    # this process carries on, with a new sandbox for the next new program
    x = np.array(onp.arange(5, dtype=onp.float32))
    onp.testing.assert_array_equal((x * 2 + 1).asnumpy(), onp.arange(5) * 2.0 + 1)
    build_program(dev, source("good"), trial=trial())
    # the rejection is remembered: no second attempt, in this process or the next
    before = isolation.stats()["requests"]
    with pytest.raises(clgrad.KernelBuildError, match="rejected"):
        build_program(dev, src, trial=trial())
    assert isolation.stats()["requests"] == before
    assert program_cache.rejected_programs(dev) == 1
    code = f"""
    import clgrad
    from clgrad.runtime import build_program, default_device, isolation
    d = default_device()
    d.caps      # the device self-check (in this new cache folder) may use the sandbox
    before = isolation.stats()["requests"]
    try:
        build_program(d, {src!r})
    except clgrad.KernelBuildError as e:
        print("rejected" in str(e), {why!r} in str(e), isolation.stats()["requests"] - before)
    """
    r = run(code, cache)
    assert r.stdout.split()[-3:] == ["True", "True", "0"]


def test_only_vetted_programs_reach_the_disk_cache(cache, monkeypatch):
    dev = fresh_device()
    src = source("vetted")
    before = isolation.stats()["requests"]
    build_program(dev, src, trial=trial())
    assert isolation.stats()["requests"] == before + 1
    assert len(list((cache / "kernels").glob("*.bin"))) == 1
    # another process loads it without the sandbox
    code = f"""
    from clgrad.runtime import build_program, default_device, isolation
    d = default_device()
    d.caps
    before = isolation.stats()["requests"]
    build_program(d, {src!r})
    print(isolation.stats()["requests"] - before, d.stats["binary_loads"])
    """
    assert run(code, cache).stdout.split()[-2:] == ["0", "1"]


def test_builds_without_the_sandbox_when_isolation_is_off(cache, monkeypatch):
    monkeypatch.setenv("CLGRAD_ISOLATE_BUILDS", "0")
    dev = fresh_device()
    dev.caps        # noqa: B018  (the self-check may use the sandbox; builds must not)
    before = isolation.stats()["requests"]
    build_program(dev, source("in process"), trial=trial())
    assert isolation.stats()["requests"] == before
    assert dev.stats["compiles"] == 1


def test_a_build_error_is_not_a_rejection(cache, monkeypatch):
    dev = fresh_device()
    bad = f"// {uuid.uuid4().hex}\n__kernel void k(__global float *x) {{ x[0] = nope; }}\n"
    with pytest.raises(clgrad.KernelBuildError, match="Build log") as info:
        build_program(dev, bad, trial=(("k", (None,), 256),))
    assert "nope" in info.value.build_log
    assert program_cache.rejected_programs(dev) == 0


def test_several_kernels_of_one_program(cache):
    from clgrad.ops import launch
    dev = default_device()
    src = (f"// {uuid.uuid4().hex}\n"
           "__kernel void add1(__global float *x, long n) { if (get_global_id(0) < n) "
           "x[get_global_id(0)] += 1.0f; }\n"
           "__kernel void twice(__global float *x, long n) { if (get_global_id(0) < n) "
           "x[get_global_id(0)] *= 2.0f; }\n")
    before = isolation.stats()["requests"]
    add1, twice = launch.kernels(dev, src, [("add1", [None, onp.int64], 256),
                                            ("twice", [None, onp.int64], 64)])
    assert isolation.stats()["requests"] == before + 1        # one trial for both kernels
    assert twice.local <= 64
    x = np.array(onp.arange(10, dtype=onp.float32))
    add1(dev, 10, x._storage.buffer, 10)
    twice(dev, 10, x._storage.buffer, 10)
    onp.testing.assert_array_equal(x.asnumpy(), (onp.arange(10) + 1) * 2.0)


FALLBACK = """
import json, warnings
import numpy as onp
from clgrad import np, npx
from clgrad import KernelFallbackWarning
rng = onp.random.default_rng(0)
x = rng.standard_normal((257, 301)).astype("float32")
a = np.array(x)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = {}
    out["exp"] = bool(onp.allclose(np.exp(a).asnumpy(), onp.exp(x), rtol=1e-5))
    out["exp_again"] = bool(onp.allclose(np.exp(a[1:]).asnumpy(), onp.exp(x[1:]), rtol=1e-5))
    out["row"] = bool(onp.allclose((a + a[0]).asnumpy(), x + x[0], rtol=1e-6))
    out["sum"] = bool(onp.allclose(a.sum(axis=1).asnumpy(), x.sum(axis=1), rtol=1e-4))
    out["sum0"] = bool(onp.allclose(a.sum(axis=0).asnumpy(), x.sum(axis=0), rtol=1e-4,
                                    atol=1e-4))
    sm = npx.softmax(a).asnumpy()
    e = onp.exp(x - x.max(-1, keepdims=True))
    out["softmax"] = bool(onp.allclose(sm, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7))
    out["matmul"] = bool(onp.allclose((a @ a.T).asnumpy(), x @ x.T, rtol=1e-4, atol=1e-3))
    out["matvec"] = bool(onp.allclose((a @ a[0]).asnumpy(), x @ x[0], rtol=1e-4, atol=1e-3))
    out["cumsum"] = bool(onp.allclose(np.cumsum(a, axis=1).asnumpy(), onp.cumsum(x, axis=1),
                                      rtol=1e-4, atol=1e-3))
fell = [str(w.message) for w in caught if issubclass(w.category, KernelFallbackWarning)]
out["warnings"] = fell
print(json.dumps(out))
"""


def test_families_fall_back_to_their_plain_variants(tmp_path):
    """Every variant chosen for speed crashes the sandbox: each family warns once, runs its plain
    variant, and computes the right result; the process ends normally."""
    import json
    fast = ("crash:float(2|4|8|16) v0"           # elementwise vectors (flat and rows)
            "|define ACCV float(2|4|8|16)"       # softmax rows on vectors
            "|ACC a\\["                          # reductions with several accumulators
            "|reduce_\\w+_(group|cols)"          # reductions in groups or column blocks
            "|scan_\\w+_group"                   # scans in groups
            "|void matmul_(nvec|kvec)"           # the tiled matmul
            "|void matmul_simple_group")         # a work-group per output of a small product
    r = run(FALLBACK, tmp_path, CLGRAD_VET_INJECT=fast, CLGRAD_LAUNCH_PROFILE="cpu")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    warned = out.pop("warnings")
    assert all(out.values()), out
    families = sorted(re.search(r"a (\w+) kernel variant failed", w).group(1) for w in warned)
    assert families == sorted(set(families)), warned          # once per family
    assert {"elementwise", "softmax", "reduce", "matmul"} <= set(families), warned
    assert all("SIGABRT" in w for w in warned), warned


def test_a_failing_plain_variant_is_an_error(tmp_path):
    code = """
    import clgrad
    from clgrad import np
    a = np.ones(1000)
    try:
        np.exp(a)
    except clgrad.KernelBuildError as e:
        print("KernelBuildError", "SIGABRT" in str(e))
    print((a + 1).asnumpy()[:2].tolist())
    """
    r = run(code, tmp_path, CLGRAD_VET_INJECT="crash:void ew_exp\\(")
    assert r.stdout.split("\n")[:2] == ["KernelBuildError True", "[2.0, 2.0]"]


def test_no_sandbox_where_pipes_cannot_be_waited_on(monkeypatch):
    """On Windows (no ``select`` on pipes) kernels are built in the process and the driver's
    claims are trusted, rather than every build counting as a crash."""
    import sys
    from clgrad.runtime import selfcheck
    monkeypatch.setattr(sys, "platform", "win32")
    assert not isolation.available() and not isolation.enabled()
    dev = default_device()
    got = selfcheck.check(dev, dev.claims, recheck=True)
    assert not got.checked and "no sandbox" in got.note
    monkeypatch.undo()
    assert isolation.available()


def test_a_sandbox_that_cannot_start_blames_no_program(tmp_path):
    """A sandbox process that dies before it is up (here: its interpreter exits while starting,
    as a broken install's import error would end it) is the sandbox's failure: kernels are built
    without it, and no program is recorded as rejected (a record would outlive the broken
    install and refuse the kernel in every later process)."""
    import os
    from _child import ROOT
    site = tmp_path / "site"
    site.mkdir()
    # only the sandbox child runs with CLGRAD_ISOLATE_BUILDS=0 (isolation sets it for it)
    (site / "sitecustomize.py").write_text(
        "import os\nif os.environ.get('CLGRAD_ISOLATE_BUILDS') == '0':\n    os._exit(7)\n")
    code = """
    import warnings
    import clgrad
    from clgrad import np
    from clgrad.runtime import build_program, default_device, program_cache
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = default_device()
        prog = build_program(d, "__kernel void k(__global float *x) { x[0] = 1.0f; }",
                             trial=(("k", (None,), 1),))
        print((np.arange(4) * 3 + 1).asnumpy().tolist())
    print(program_cache.rejected_programs(d),
          any("without the sandbox" in str(x.message) for x in w))
    """
    r = run(code, tmp_path / "cache", CLGRAD_SELFCHECK="0",
            PYTHONPATH=f"{site}{os.pathsep}{ROOT}")
    assert r.stdout.split("\n")[:2] == ["[1.0, 4.0, 7.0, 10.0]", "0 True"], r.stdout + r.stderr


def test_an_old_record_of_a_sandbox_that_never_started_is_dropped(cache):
    """Records written before the sandbox said when it was up, of a child that died before it
    started on the program, are no verdict: they are dropped when read."""
    import hashlib
    import json
    dev = fresh_device()
    src = source("old-record")
    path = program_cache.rejection_file(dev, src)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"why": "the sandbox process exited with status 1; its last output:\nImportError: "
                   "cannot import name 'x' while waiting for the child", "log": ""}
    path.write_text(json.dumps({"checksum": hashlib.sha256(json.dumps(
        body, sort_keys=True).encode()).hexdigest(), "body": body}))
    assert program_cache.rejected_programs(dev) == 1
    build_program(dev, src, trial=trial())          # built, not refused
    assert program_cache.rejected_programs(dev) == 0 and not path.exists()
