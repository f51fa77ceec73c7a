"""The MXNet code of *Dive into Deep Learning*'s chapters on linear neural networks for
regression (d2l-en 23d7a5ae, chapter_linear-regression: linear-regression,
synthetic-regression-data, oo-design, linear-regression-scratch, linear-regression-concise,
weight-decay; generalization.md has no code) runs on clgrad with ``mxnet`` replaced by
``clgrad`` and nothing else changed, with d2l's own library (``lib/d2l/mxnet.py``, unchanged,
imported through ``alias/``: ``mxnet`` as another name for ``clgrad``).

Without MXNet, every cell must run. With the MXNet 1.9.1 oracle (marker ``mxnet_oracle``) the
same cells run under MXNet with the same library, and each cell must print, display and warn
the same text, except the cells in ``DIFFERENT``: each says how it is compared instead, and why
(docs/d2l.md). Training cells plot with matplotlib (Agg) when it is installed.
"""
import runpy
import sys
from pathlib import Path

import pytest

from mxnet_python import SKIP_REASON, mxnet_python
from nbcompare import differing_cells, numbers, run_chapters

HERE = Path(__file__).resolve().parent
CHAPTERS = ["linear_regression", "synthetic_regression_data", "oo_design",
            "linear_regression_scratch", "linear_regression_concise", "weight_decay"]

_TIMING = "prints a time measured while it runs"
_RANDOM = ("prints random draws: clgrad's generator is Philox-4x32-10, not MXNet's "
           "(docs/mxnet_differences.md), so only the printed layout can agree")
_TRAINED = ("prints what training on random data learned: the data (Philox draws, "
            "docs/mxnet_differences.md) and the minibatch order (MXNet's DataLoader shuffles with "
            "NumPy's unseeded generator, so MXNet's own runs differ too) are not MXNet's")
# (chapter, cell index): (how it is compared (nbcompare.py), text its source contains, why
# [, tolerance of "near"])
DIFFERENT = {
    ("linear_regression", 2): ("masked", "c[i] = a[i] + b[i]", _TIMING),
    ("linear_regression", 3): ("masked", "d = a + b", _TIMING),
    ("synthetic_regression_data", 3): ("numbers", "print('features:'", _RANDOM),
    ("synthetic_regression_data", 5): (
        "quiet", "next(iter(data.train_dataloader()))",
        ("MXNet 1.9.1 warns 'ndarray.as_in_context has been renamed to ndarray.as_in_ctx' from "
         "its own code: indexing with an array of indices calls its deprecated as_in_context")),
    # 3 epochs from w = 0 leave an error of about 5% of w = [2, -3.4] and b = 4.2; MXNet's own
    # runs spread by 0.03
    ("linear_regression_scratch", 9): ("near", "error in estimating w", _TRAINED,
                                       {"atol": 0.1}),
    # the norm without weight decay (about 0.01) is 8 times the one with it (about 0.0012):
    # within a factor of 2 of MXNet's, each tells them apart
    ("weight_decay", 5): ("near", "train_scratch(0)", _TRAINED, {"rtol": 0.5}),
    ("weight_decay", 6): ("near", "train_scratch(3)", _TRAINED, {"rtol": 0.5}),
    ("weight_decay", 8): ("near", "WeightDecay(wd=3, lr=0.01)", _TRAINED, {"rtol": 0.5}),
}


def cells(chapter):
    return runpy.run_path(str(HERE / "chapters" / f"{chapter}.py"))["CELLS"]


def test_every_deliberate_difference_names_the_cell_it_means():
    for (chapter, i), (how, text, _why, *tol) in DIFFERENT.items():
        assert how in ("masked", "numbers", "near", "quiet")
        assert (how == "near") == bool(tol)
        assert text in cells(chapter)[i], f"{chapter} cell {i} no longer holds {text!r}"


def test_the_cells_are_mxnets_after_d2lbook_resolves_its_tabs():
    # d2lbook keeps the body of `if tab.selected('mxnet', ...)` and drops other frameworks'
    source = "\n".join("\n".join(cells(c)) for c in CHAPTERS)
    assert "tab.selected" not in source and "%%tab" not in source
    assert "torch" not in source and "tf." not in source and "jax" not in source
    assert "self.w = d2l.normal(0, sigma, (num_inputs, 1))" in cells("linear_regression_scratch")[1]


# --- clgrad alone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clgrad_run():
    return run_chapters(sys.executable, "clgrad", CHAPTERS, HERE.parent.parent, library=True)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_on_clgrad(clgrad_run, chapter):
    ran = clgrad_run[chapter]
    assert len(ran) == len(cells(chapter))
    failed = {i: c["error"] for i, c in enumerate(ran) if c["error"]}
    assert not failed, "\n".join(f"cell {i}:\n{cells(chapter)[i]}{e}" for i, e in failed.items())


def test_training_learns_the_synthetic_weights(clgrad_run):
    # the scratch model's estimate after 3 epochs, and weight decay shrinking the weights
    errors = numbers(clgrad_run["linear_regression_scratch"][9]["stdout"])
    assert len(errors) == 3 and all(abs(e) < 0.5 for e in errors)
    no_decay, decay, concise_decay = (
        numbers(clgrad_run["weight_decay"][i]["stdout"])[-1] for i in (5, 6, 8))
    assert decay < no_decay / 4 and concise_decay < no_decay / 4


# --- against MXNet 1.9.1 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mxnet_run(tmp_path_factory):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    # MXNet runs outside the repository, so that `import clgrad` there could never succeed
    return run_chapters(py, "mxnet", CHAPTERS, tmp_path_factory.mktemp("mxnet"), library=True)


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_under_mxnet(mxnet_run, chapter):
    failed = {i: c["error"] for i, c in enumerate(mxnet_run[chapter]) if c["error"]}
    assert not failed, f"cells that MXNet itself cannot run (fix the runner): {failed}"


@pytest.mark.mxnet_oracle
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_what_mxnet_shows(mxnet_run, clgrad_run, chapter):
    rules = {i: rule for (c, i), rule in DIFFERENT.items() if c == chapter}
    diffs = differing_cells(mxnet_run[chapter], clgrad_run[chapter], rules)
    assert not diffs, "\n\n".join(f"cell {i}:\n{cells(chapter)[i]}{d}"
                                  for i, d in diffs.items())
