"""The device self-check: probes in a child process, exclusions with reasons, the cache, the
verified capabilities the runtime uses, and ``python -m clgrad info``.

Failures are injected (``CLGRAD_SELFCHECK_INJECT``) so that every path runs on any machine: a
build log with the ABI warning PoCL 3.0 prints on AMD Zen 4, a child that aborts as LLVM does,
a hang, a missing kernel and a wrong result.
"""
import hashlib
import json

import pytest

from _child import last_json, run
from clgrad.runtime import default_device, isolation, selfcheck, vector_width
from clgrad.runtime.caps import DeviceLimitsError, parse_limits

#: The warning PoCL 3.0 (LLVM 14) printed for a 16-wide builtin call on a Zen 4 host.
ZEN4_LOG = (
    "warning: /root/.cache/pocl/kcache/tempfile_NCNqRB.cl:68:23 <Spelling=/x/pocl/include/"
    "_builtin_renames.h:811:20>: AVX vector argument of type '__private float16' (vector of 16 "
    "'float' values) without 'avx512f' enabled changes the ABI\n"
    "2 warnings generated.\n")

REPORT = """
    import json
    from clgrad import np, npx
    from clgrad.runtime import isolation, vector_width
    d = npx.current_device()
    r = d.selfcheck
    print(json.dumps({"excluded": dict(r.excluded), "widths": r.widths, "created": r.created,
                      "checked": r.checked, "fp64": r.fp64, "max_wg": r.max_wg,
                      "local_mem": r.local_mem, "caps_max_wg": d.caps.max_wg,
                      "caps_local_mem": d.caps.local_mem, "caps_fp64": d.caps.fp64,
                      "claims_max_wg": d.claims.max_wg, "claims_local_mem": d.claims.local_mem,
                      "math": vector_width(d, "float32", ("math",), want=16),
                      "arith": vector_width(d, "float32", want=16),
                      "stats": isolation.stats()}))
"""


def test_abi_warnings_are_found_with_their_line():
    (found,) = isolation.abi_warnings(ZEN4_LOG)
    line, text = found
    assert line == 68
    assert text.startswith("AVX vector argument of type '__private float16'")
    assert "changes the ABI" in text and "kcache" not in text
    assert isolation.abi_warnings("warning: unused variable 'x'\n") == []


def test_the_plan_probes_every_kind_width_and_class():
    claims = default_device().claims
    probes = selfcheck.plan(claims)
    source, where = selfcheck.render(probes)
    lines = source.split("\n")
    labels = {}
    for p in probes:
        first, last, marks = where[p.name]
        assert lines[first - 1].startswith("__kernel void " + p.kernel + "(")
        assert lines[last - 1] == "}"
        labels.update(marks)
    for kind, (_, _, _, classes) in selfcheck.KINDS.items():
        if kind == "double" and not claims.fp64:
            continue
        for w in selfcheck.WIDTHS:
            for cls in classes:
                line = labels[f"{kind}{w} {cls}"][0]
                text = lines[line - 1]
                if cls == "math":          # each class's expression is on its own line
                    assert "exp(" in text and "acosh(" in text
                elif cls == "minmax":
                    assert "max(" in text and "clamp(" in text
                elif cls == "loadstore":
                    assert "vload_half" in lines[line - 2]
    assert any(p.name.startswith("work-group") for p in probes)
    assert any(p.name.startswith("local memory") for p in probes)


def test_this_device_passes_its_scalar_probes_and_the_runtime_follows_the_check():
    dev = default_device()
    r = dev.selfcheck
    assert r.checked, r.note
    for kind, classes in r.widths.items():
        for cls, widths in classes.items():
            assert 1 in widths, (kind, cls, dict(r.excluded))
    for name, why in r.excluded:
        assert why, name
    caps = dev.caps
    assert caps.verified_vectors == r.table()
    for kind in r.widths:
        dtype = {"float": "float32", "double": "float64", "int": "int32", "half": "float16"}[kind]
        for cls in r.widths[kind]:
            w = vector_width(dev, dtype, (cls,), want=16)
            assert w == 1 or w in r.widths[kind][cls], (kind, cls, w)


def test_injected_failures_are_excluded_with_their_reason(tmp_path):
    inject = ("abi:float8 math;crash:double4 minmax;wrong:int2 minmax;hang:float2 convert;"
              "missing:half4")
    r = run(REPORT, tmp_path, CLGRAD_SELFCHECK_INJECT=inject, CLGRAD_BUILD_TIMEOUT=5)
    got = last_json(r)
    ex = got["excluded"]
    assert "ABI" in ex["float8 math"]
    assert "SIGABRT" in ex["double4 minmax"] and "injected crash" in ex["double4 minmax"]
    assert ex["int2 minmax"].startswith("wrong result")
    assert "did not finish within 5 s" in ex["float2 convert"]
    assert "INVALID_KERNEL_NAME" in ex["half4 loadstore"]
    # a failure is pinned on its class: the other classes of the same kernel still pass
    assert 8 in got["widths"]["float"]["arith"] and 4 in got["widths"]["double"]["arith"]
    assert 2 in got["widths"]["int"]["arith"]
    # the runtime takes the widest width that verified (16 where it did: the check does not
    # assume that a failing width fails every wider one)
    assert got["math"] != 8 and got["math"] in got["widths"]["float"]["math"] + [1]
    assert got["stats"]["started"] >= 3        # the crash and the hang cost a child each


def test_the_runtime_uses_only_verified_widths(tmp_path):
    """With float math vectors excluded above 2 lanes, exp still runs on vectors (of 2) and
    multiplication keeps the widest ones; both give NumPy's results."""
    code = REPORT + """
    import numpy as onp
    x = onp.random.default_rng(0).standard_normal(100003).astype("float32")
    a = np.array(x)
    assert onp.allclose(np.exp(a).asnumpy(), onp.exp(x), rtol=1e-5)
    assert onp.allclose((a * a).asnumpy(), x * x)
    """
    r = run(code, tmp_path, CLGRAD_SELFCHECK_INJECT="abi:float(4|8|16) math")
    got = last_json(r)
    assert got["math"] == 2


def test_the_result_is_cached_and_checked_again_when_the_driver_changes(tmp_path):
    first = last_json(run(REPORT, tmp_path))
    assert first["stats"]["started"] == 1
    files = list((tmp_path / "devices").glob("*/selfcheck.json"))
    assert len(files) == 1
    second = last_json(run(REPORT, tmp_path))
    assert second["stats"]["started"] == 0 and second["created"] == first["created"]
    # a damaged file is not trusted
    path = files[0]
    path.write_text(path.read_text()[:-40])
    third = last_json(run(REPORT, tmp_path))
    assert third["stats"]["started"] == 1
    # a file written for another driver (valid checksum, other platform version) is not used
    doc = json.loads(path.read_text())
    doc["body"]["identity"]["platform_version"] = "OpenCL 3.0 some other driver"
    doc["body"]["result"]["created"] = "stale"
    doc["checksum"] = hashlib.sha256(json.dumps(doc["body"], sort_keys=True).encode()).hexdigest()
    path.write_text(json.dumps(doc))
    fourth = last_json(run(REPORT, tmp_path))
    assert fourth["stats"]["started"] == 1 and fourth["created"] != "stale"


def test_failed_group_and_local_memory_probes_lower_the_caps(tmp_path):
    claims = default_device().claims
    top, lm = selfcheck._group_claims(claims)
    if top <= 16 or lm < 8192:
        pytest.skip("the device claims too little to fall back from")
    inject = f"crash:work-group {top}$;wrong:local memory {lm} B"
    got = last_json(run(REPORT, tmp_path, CLGRAD_SELFCHECK_INJECT=inject))
    assert "SIGABRT" in got["excluded"][f"work-group {top}"]
    assert got["excluded"][f"local memory {lm} B"].startswith("wrong result")
    assert got["max_wg"] < top and got["caps_max_wg"] == got["max_wg"]
    assert got["local_mem"] < lm and got["caps_local_mem"] == got["local_mem"]


def test_float64_that_fails_is_not_used(tmp_path):
    if not default_device().claims.fp64:
        pytest.skip("the device does not claim float64")
    code = REPORT + """
    try:
        np.ones(3, dtype="float64")
    except Exception as e:
        print("refused:", type(e).__name__)
    """
    r = run(code, tmp_path, CLGRAD_SELFCHECK_INJECT="wrong:double1 arith")
    got = last_json(r)
    assert got["fp64"] is False and got["caps_fp64"] is False
    assert "refused: DeviceCapabilityError" in r.stdout


def test_disabled_check_trusts_the_claims(tmp_path):
    got = last_json(run(REPORT, tmp_path, CLGRAD_SELFCHECK="0"))
    assert got["checked"] is False and got["stats"]["started"] == 0
    assert got["caps_max_wg"] == got["claims_max_wg"]
    assert got["caps_local_mem"] == got["claims_local_mem"]


def test_info_shows_the_check_and_recheck_runs_it_again(tmp_path):
    r = run(None, tmp_path, args=["-m", "clgrad", "info"],
            CLGRAD_SELFCHECK_INJECT="abi:float8 math")
    assert "widest verified vectors" in r.stdout
    assert "excluded float8 math: the build log warns about the ABI" in r.stdout
    # the cached result is shown until --recheck runs the probes again (no injection now)
    r = run(None, tmp_path, args=["-m", "clgrad", "info"])
    assert "excluded float8 math" in r.stdout
    r = run(None, tmp_path, args=["-m", "clgrad", "info", "--recheck"])
    assert "excluded float8 math" not in r.stdout


def test_vector_width_limit(monkeypatch):
    assert parse_limits("vector_width=4") == {"vector_width": 4}
    for bad in ("vector_width=3", "vector_width=32", "vector_width=x"):
        with pytest.raises(DeviceLimitsError):
            parse_limits(bad)
    dev = default_device()
    for n in (1, 4):
        monkeypatch.setenv("CLGRAD_DEVICE_LIMITS", f"vector_width={n}")
        from clgrad.runtime.caps import apply_limits
        caps = apply_limits(dev.claims)
        assert caps.max_vector_width == n
        assert max(caps.pref_vec_float, caps.pref_vec_double, caps.pref_vec_int) <= n
        for dtype in ("float32", "float64", "int32", "float16"):
            assert vector_width(caps, dtype, ("arith",), want=16) <= n


def test_limited_vector_width_in_a_process(tmp_path):
    """Under ``vector_width=1`` every family runs scalar kernels and still computes right."""
    code = REPORT + """
    import numpy as onp
    from clgrad.ops import launch, linalg
    x = onp.random.default_rng(1).standard_normal((64, 300)).astype("float32")
    a = np.array(x)
    assert launch.cpu_vectors(d, onp.dtype("float32"), ("arith",))[1] == 1
    assert linalg.default_params(d, onp.dtype("float32"))["VW"] == 1
    assert onp.allclose(np.exp(a).asnumpy(), onp.exp(x), rtol=1e-5)
    assert onp.allclose(npx.softmax(a).asnumpy().sum(-1), 1, rtol=1e-5)
    assert onp.allclose((a @ a.T).asnumpy(), x @ x.T, rtol=1e-4, atol=1e-3)
    """
    got = last_json(run(code, tmp_path, CLGRAD_DEVICE_LIMITS="vector_width=1",
                        CLGRAD_LAUNCH_PROFILE="cpu"))
    assert got["arith"] == 1 and got["math"] == 1
