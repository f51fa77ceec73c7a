"""The differential suite: every snippet of ``snippets.py`` runs under MXNet 1.9.1 (its own
venv: ``tools/mxnet_oracle_venv.sh``) and under clgrad, and everything it shows must agree:
values, dtypes, shapes and exception categories. ``KNOWN`` lists where clgrad deliberately
differs, each with clgrad's expected record and the reason (``docs/mxnet_differences.md``).

MXNet's interpreter is ``$CLGRAD_MXNET_PYTHON``, else the tool's cached venv; without either
the suite is skipped, saying how to create it (CI creates it where pip can install MXNet).
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compare import differences, mismatch
from mxnet_python import SKIP_REASON, mxnet_python

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets.py"
RUNNER = HERE / "runner.py"

pytestmark = pytest.mark.mxnet_oracle

_F32 = "MXNet 2.x and NumPy: float-valued functions of integers and booleans give float32 " \
       "(MXNet 1.9.1 keeps the integer type, truncating the result)"
_WRAP = "a Python int wraps modulo 2**32 into int32, as C converts integers; MXNet 1.9.1 " \
        "converts it through a double, which x86 turns into the int32 minimum (undefined in C)"
KNOWN = {
    ("int8 plus uint8", "dtype"): (
        {"kind": "str", "value": "int16"},
        "NumPy's and the Array API standard's table (clgrad's arrays serve clgrad.array_api "
        "too); MXNet 1.9.1 gives int32"),
    ("int times float scalar", "value"): (
        {"kind": "array", "dtype": "float32", "shape": [2], "value": [2.5, 2.5]},
        "MXNet 2.x's NumPy semantics: an integer array times a Python float is a float array; "
        "MXNet 1.9.1 truncates the scalar (and here fails to read the result back)"),
    **{("scalar promotion", f"exp {d}"): ({"kind": "str", "value": "float32"}, _F32)
       for d in ("bool", "int8", "uint8", "int32", "int64")},
    ("scalars beyond the range", "int32 + (2**32 + 5)"): (
        {"kind": "array", "dtype": "int32", "shape": [2], "value": [6, 7]},
        _WRAP),
    ("scalars beyond the range", "int32 * 2**40"): (
        {"kind": "array", "dtype": "int32", "shape": [2], "value": [0, 0]}, _WRAP),
    ("scalars beyond the range", "int32 == 2**40"): (
        {"kind": "array", "dtype": "bool", "shape": [1], "value": [True]},
        _WRAP + "; 2**40 wraps to 0"),
    ("scalars beyond the range", "full int32 1e20"): (
        {"kind": "array", "dtype": "int32", "shape": [2], "value": [1661992960] * 2},
        "a float truncates, then wraps as an integer (10**20 modulo 2**32); MXNet 1.9.1's "
        "double-to-int32 conversion is undefined in C and gives the minimum on x86"),
    ("scalars beyond the range", "int32 0 ** -1"): (
        {"kind": "array", "dtype": "int32", "shape": [2], "value": [0, 0]},
        "0 ** -n is 0, as integer division by zero; MXNet 1.9.1 converts pow's infinity to "
        "int32, undefined in C (the minimum on x86)"),
    ("sampler parameters", "normal scale nan"): (
        {"kind": "no error"}, "NumPy's rule: only a negative scale is refused (NaN gives NaN "
        "samples); MXNet 1.9.1 fails to parse 'nan' as a parameter"),
    ("sampler parameters", "multinomial negative pvals"): (
        {"kind": "error", "category": ["MXNetError", "ValueError"]},
        "NumPy's check (pvals < 0, pvals > 1 or NaN); MXNet 1.9.1 draws as if it were 0"),
}


def _run(python, framework, cwd):
    r = subprocess.run([python, str(RUNNER), framework, str(SNIPPETS)], capture_output=True,
                       text=True, timeout=900, cwd=cwd)
    assert r.returncode == 0, f"{framework} runner failed:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    # MXNet runs outside the repository, so that `import clgrad` there could never succeed
    mx = _run(py, "mxnet", tmp_path_factory.mktemp("mxnet"))
    cl = _run(sys.executable, "clgrad", HERE.parent.parent)
    return mx, cl


def test_every_snippet_ran_under_mxnet(results):
    mx, _ = results
    broken = {name: rec for name, shown in mx.items() for label, rec in shown
              if label == "(uncaught)"}
    assert not broken, f"snippets that MXNet itself cannot run (fix the snippet): {broken}"


def test_clgrad_agrees_with_mxnet(results):
    mx, cl = results
    diff = {k: v for k, v in differences(mx, cl).items() if k not in KNOWN}
    assert not diff, "\n".join(f"{k}: {v}" for k, v in sorted(diff.items()))


@pytest.mark.parametrize("key", sorted(KNOWN))
def test_known_difference_is_still_what_clgrad_gives(results, key):
    mx, cl = results
    name, label = key
    want, reason = KNOWN[key]
    got = dict((lb, rec) for lb, rec in cl[name])[label]
    assert mismatch(want, got) is None, f"{key}: expected {want} ({reason}), clgrad gave {got}"
    theirs = dict((lb, rec) for lb, rec in mx[name])[label]
    assert mismatch(theirs, got) is not None, \
        f"{key}: MXNet now agrees with clgrad; remove it from KNOWN and the differences file"
