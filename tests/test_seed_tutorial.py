"""The user's tutorial runs verbatim (mxnet -> clgrad) and prints what MXNet prints."""
import pytest

from seed import expected_cells, run_cell, seed_dir, tutorial_cells

SEED = seed_dir()
pytestmark = pytest.mark.skipif(
    not (SEED / "autograd_tutorial.md").exists(),
    reason=f"the seed tutorial folder {SEED} is absent (it lies beside the repository)")


def _load():
    tutorial = tutorial_cells((SEED / "autograd_tutorial.md").read_text())
    expected = expected_cells((SEED / "expected_output.md").read_text())
    return tutorial, expected


def test_expected_output_describes_the_tutorial():
    tutorial, expected = _load()
    assert len(tutorial) == len(expected)
    for i, (code, (exp_code, _)) in enumerate(zip(tutorial, expected), 1):
        assert code.strip() == exp_code.strip(), f"cell {i} differs between the two files"


def test_every_cell_prints_what_mxnet_prints():
    tutorial, expected = _load()
    ns = {"__name__": "__seed__"}
    for i, (code, (_, printed)) in enumerate(zip(tutorial, expected), 1):
        got = run_cell(code, ns)
        assert got == printed, f"cell {i} printed:\n{got}\nexpected:\n{printed}"
