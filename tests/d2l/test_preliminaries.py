"""The MXNet code of *Dive into Deep Learning*'s Preliminaries chapters (ndarray,
linear-algebra, calculus, autograd, probability; d2l-en 23d7a5ae, vendored in ``chapters/`` by
``extract.py``) runs on clgrad with ``mxnet`` replaced by ``clgrad`` and nothing else changed
(``nbrun.py`` runs the cells as a notebook does; ``shim/`` stands in for the ``d2l`` library).

Without MXNet, every cell must run. With the MXNet 1.9.1 oracle (``tools/mxnet_oracle_venv.sh``,
``$CLGRAD_MXNET_PYTHON``; marker ``mxnet_oracle``), the same cells run under MXNet too and each
cell must print, display and warn the same text, MXNet's ``mxnet`` read as ``clgrad``, except
the cells in ``DIFFERENT``: each says how it is compared instead, and why (docs/d2l.md).
"""
import importlib.util
import json
import math
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from mxnet_python import SKIP_REASON, mxnet_python

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "nbrun.py"
CHAPTERS = ["ndarray", "linear_algebra", "calculus", "autograd", "probability"]

_RANDOM = "draws random numbers: clgrad's generator is Philox-4x32-10, not MXNet's " \
          "(docs/mxnet_differences.md), so only the dtypes and shapes can agree"
# Everywhere: clgrad's default device is the first GPU, MXNet's the CPU, and an array off the CPU
# shows its device (`array([1.], device=gpu(0))`); that suffix is dropped before comparing.
_DEVICE = re.compile(r", device=[a-z]+\(\d+\)\)")
# (chapter, cell index): (how it is compared, text its source contains, why)
#   shapes: the displayed value's kinds, dtypes and shapes; printed text with numbers masked
#   close:  as shapes, and the elements within a relative 1e-6
#   masked: printed and displayed text with every number masked
DIFFERENT = {
    ("ndarray", 7): ("shapes", "np.random.normal", _RANDOM),
    ("ndarray", 12): (
        "close", "np.exp(x)",
        ("float32 exp is the OpenCL device's built-in, which OpenCL allows 3 ulp: PoCL's exp(4) "
         "is 54.598152, 1 ulp above MXNet's correctly rounded 54.598148 "
         "(docs/mxnet_differences.md)")),
    ("ndarray", 20): (
        "masked", "id(Z)",
        ("prints id(Z), an address that differs from run to run (both runs must print one id "
         "twice: the slice assignment is in place)")),
    ("probability", 2): ("shapes", "multinomial(100, fair_probs)", _RANDOM),
    ("probability", 3): ("shapes", "multinomial(100, fair_probs) / 100", _RANDOM),
    ("probability", 4): ("shapes", "multinomial(10000, fair_probs)", _RANDOM),
}


def cells(chapter):
    return runpy.run_path(str(HERE / "chapters" / f"{chapter}.py"))["CELLS"]


def run_chapters(python, framework, cwd):
    files = [str(HERE / "chapters" / f"{c}.py") for c in CHAPTERS]
    r = subprocess.run([python, str(RUNNER), framework, *files], capture_output=True,
                       text=True, timeout=1800, cwd=cwd, check=False)
    assert r.returncode == 0, f"{framework} runner failed:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout)


# --- how two runs of a cell are compared -------------------------------------------------------
_NUMBER = re.compile(r"\d+")


def masked(text):
    return None if text is None else _NUMBER.sub("#", text)


def shapes(summary):
    """A summary without the elements of its arrays."""
    if isinstance(summary, dict):
        return {k: shapes(v) for k, v in summary.items() if k != "value"}
    if isinstance(summary, list):
        return [shapes(s) for s in summary]
    return summary


def values_close(want, got, rtol=1e-6):
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(values_close(want[k], got[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(values_close(w, g) for w, g in zip(want, got))
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(want, got, rel_tol=rtol, abs_tol=0.0)
    return want == got


def difference(mx_cell, cl_cell, how="text"):
    """Why clgrad's run of a cell does not match MXNet's, or None."""
    if cl_cell["error"]:
        return f"clgrad raised:\n{cl_cell['error']}"
    def fix(text):
        return None if text is None else text.replace("mxnet", "clgrad")
    want_out, want_shown = fix(mx_cell["stdout"]), fix(mx_cell["display"])
    got_out = cl_cell["stdout"]
    got_shown = None if cl_cell["display"] is None else _DEVICE.sub(")", cl_cell["display"])
    if [fix(w) for w in mx_cell["warnings"]] != cl_cell["warnings"]:
        return f"warned {cl_cell['warnings']}, MXNet {mx_cell['warnings']}"
    if how == "text":
        if want_out != got_out:
            return f"printed\n{got_out}\nMXNet printed\n{want_out}"
        if want_shown != got_shown:
            return f"displayed\n{got_shown}\nMXNet displayed\n{want_shown}"
        return None
    if masked(want_out) != masked(got_out):
        return f"printed\n{got_out}\nMXNet printed (numbers aside)\n{want_out}"
    if how == "masked":
        if masked(want_shown) != masked(got_shown):
            return f"displayed\n{got_shown}\nMXNet displayed (numbers aside)\n{want_shown}"
        return None
    if shapes(mx_cell["summary"]) != shapes(cl_cell["summary"]):
        return f"displayed {shapes(cl_cell['summary'])}, MXNet {shapes(mx_cell['summary'])}"
    if how == "close" and not values_close(mx_cell["summary"], cl_cell["summary"]):
        return f"displayed\n{got_shown}\nMXNet displayed (to a relative 1e-6)\n{want_shown}"
    return None


def _cell(stdout="", display=None, summary=None, error=None, warnings=()):
    return {"stdout": stdout, "display": display, "summary": summary, "error": error,
            "warnings": list(warnings)}


def _arr(value, dtype="float32"):
    return {"array": dtype, "shape": [len(value)], "value": value}


def test_comparison_finds_each_kind_of_difference():
    mx = _cell("id: 12\n", "array([1.], ctx=mxnet)", _arr([1.0]))
    assert difference(mx, _cell("id: 12\n", "array([1.], ctx=clgrad)", _arr([1.0]))) is None
    assert difference(_cell(display="(array([1.]), array(2.))"),
                      _cell(display="(array([1.], device=gpu(0)), array(2., device=gpu(1)))")) \
        is None
    assert "printed" in difference(mx, _cell("id: 13\n", "array([1.], ctx=clgrad)", _arr([1.0])))
    assert difference(mx, _cell("id: 13\n", "array([2.], ctx=clgrad)"), "masked") is None
    assert "displayed" in difference(mx, _cell("id: 13\n", "[2.]"), "masked")
    assert "raised" in difference(mx, _cell(error="Traceback"), "shapes")
    assert difference(mx, _cell("id: 1\n", "x", _arr([7.0])), "shapes") is None
    assert "MXNet" in difference(mx, _cell("id: 1\n", "x", _arr([7.0], "int64")), "shapes")
    assert difference(mx, _cell("id: 1\n", "x", _arr([1.0000001])), "close") is None
    assert "1e-6" in difference(mx, _cell("id: 1\n", "x", _arr([1.00001])), "close")
    assert "warned" in difference(mx, _cell("id: 12\n", "array([1.], ctx=clgrad)", _arr([1.0]),
                                            warnings=["DeprecationWarning: float()"]))


def test_every_deliberate_difference_names_the_cell_it_means():
    for (chapter, i), (how, text, _why) in DIFFERENT.items():
        assert how in ("shapes", "close", "masked")
        assert text in cells(chapter)[i], f"{chapter} cell {i} no longer holds {text!r}"


def test_the_fake_pyplot_checks_what_matplotlib_checks():
    spec = importlib.util.spec_from_file_location("fakeplt", HERE / "shim/d2l/_fakeplt.py")
    plt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plt)
    plt.plot([0, 1, 2], [1.0, 2.0, 3.0], "m--", [4, 5], label="a")
    with pytest.raises(ValueError, match="same first dimension"):
        plt.plot([0, 1, 2], [1.0, 2.0])
    with pytest.raises((TypeError, ValueError)):
        plt.plot(["a", "b"])
    with pytest.raises(ValueError, match="scale"):
        plt.gca().set_xscale("loggy")
    with pytest.raises(TypeError):
        plt.axhline(y=[0.5, 1.0])


# --- clgrad alone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clgrad_run():
    return run_chapters(sys.executable, "clgrad", HERE.parent.parent)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_on_clgrad(clgrad_run, chapter):
    ran = clgrad_run[chapter]
    assert len(ran) == len(cells(chapter))
    failed = {i: c["error"] for i, c in enumerate(ran) if c["error"]}
    assert not failed, "\n".join(f"cell {i}:\n{cells(chapter)[i]}{e}" for i, e in failed.items())


def test_the_in_place_assignment_keeps_the_array(clgrad_run):
    ids = re.findall(r"id\(Z\): (\d+)", clgrad_run["ndarray"][20]["stdout"])
    assert len(ids) == 2 and ids[0] == ids[1]


# --- against MXNet 1.9.1 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mxnet_run(tmp_path_factory):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    # MXNet runs outside the repository, so that `import clgrad` there could never succeed
    return run_chapters(py, "mxnet", tmp_path_factory.mktemp("mxnet"))


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_under_mxnet(mxnet_run, chapter):
    failed = {i: c["error"] for i, c in enumerate(mxnet_run[chapter]) if c["error"]}
    assert not failed, f"cells that MXNet itself cannot run (fix the shim): {failed}"


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_what_mxnet_shows(mxnet_run, clgrad_run, chapter):
    diffs = {}
    for i, (mx, cl) in enumerate(zip(mxnet_run[chapter], clgrad_run[chapter])):
        how = DIFFERENT.get((chapter, i), ("text",))[0]
        d = difference(mx, cl, how)
        if d:
            diffs[i] = d
    assert not diffs, "\n\n".join(f"cell {i}:\n{cells(chapter)[i]}{d}"
                                  for i, d in diffs.items())


