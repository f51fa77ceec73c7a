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
import re
import runpy
import sys
from pathlib import Path

import pytest

from mxnet_python import SKIP_REASON, mxnet_python
from nbcompare import difference, differing_cells, run_chapters

HERE = Path(__file__).resolve().parent
CHAPTERS = ["ndarray", "linear_algebra", "calculus", "autograd", "probability"]

_RANDOM = "draws random numbers: clgrad's generator is Philox-4x32-10, not MXNet's " \
          "(docs/mxnet_differences.md), so only the dtypes and shapes can agree"
# (chapter, cell index): (how it is compared (nbcompare.py), text its source contains, why)
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
    # numbers: signs and padding masked too; near: and each number within the tolerance
    mx = _cell("w: [ 0.10 -0.12]\n", warnings=["DeprecationWarning: as_in_context"])
    cl = _cell("w: [0.09 0.15]\n")
    assert "warned" in difference(mx, cl, "numbers")
    mx["warnings"] = []
    assert difference(mx, cl, "masked") is not None
    assert difference(mx, cl, "numbers") is None
    assert difference(mx, cl, "near", atol=0.3) is None
    assert "within" in difference(mx, cl, "near", atol=0.1)
    assert difference(mx, _cell("w: [ 0.09 -0.15]\n"), "near", rtol=0.3) is None
    assert "printed" in difference(mx, _cell("w: [0.09]\n"), "numbers")
    assert difference(_cell("a\n", warnings=["DeprecationWarning: x"]), _cell("a\n"),
                      "quiet") is None


def test_every_deliberate_difference_names_the_cell_it_means():
    for (chapter, i), (how, text, _why) in DIFFERENT.items():
        assert how in ("shapes", "close", "masked")
        assert text in cells(chapter)[i], f"{chapter} cell {i} no longer holds {text!r}"


def test_the_fake_pyplot_checks_what_matplotlib_checks():
    spec = importlib.util.spec_from_file_location("fakeplt",
                                                  HERE / "shim_fallback/matplotlib/pyplot.py")
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
    # d2l's ProgressBoard: a new figure, one line per plot call, legend(handles, labels)
    plt.figure(figsize=(3.5, 2.5))
    lines = plt.plot([0, 1], [1.0, 2.0], linestyle="--", color="C0")
    assert len(lines) == 1
    plt.gca().legend(lines, ["train_loss"])
    with pytest.raises(TypeError):
        plt.gca().legend(["not a line"], ["train_loss"])


# --- clgrad alone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clgrad_run():
    return run_chapters(sys.executable, "clgrad", CHAPTERS, HERE.parent.parent)


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
    return run_chapters(py, "mxnet", CHAPTERS, tmp_path_factory.mktemp("mxnet"))


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_under_mxnet(mxnet_run, chapter):
    failed = {i: c["error"] for i, c in enumerate(mxnet_run[chapter]) if c["error"]}
    assert not failed, f"cells that MXNet itself cannot run (fix the shim): {failed}"


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_what_mxnet_shows(mxnet_run, clgrad_run, chapter):
    rules = {i: rule for (c, i), rule in DIFFERENT.items() if c == chapter}
    diffs = differing_cells(mxnet_run[chapter], clgrad_run[chapter], rules)
    assert not diffs, "\n\n".join(f"cell {i}:\n{cells(chapter)[i]}{d}"
                                  for i, d in diffs.items())


