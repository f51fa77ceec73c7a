"""The examples run as their docstrings say and reach what the README promises."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_digits_reaches_97_percent_and_round_trips_its_checkpoint(tmp_path):
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn (the "
                                          "'examples' and 'test' extras install it)")
    acc, same = _load("train_digits").main(["--out", str(tmp_path)])
    assert acc >= 0.97
    assert same
    assert (tmp_path / "lenet_digits.params").stat().st_size > 0


def test_every_environment_variable_clgrad_reads_is_in_the_readme_table():
    """The README's table of variables names each ``CLGRAD_*`` name the package's code quotes
    (the environment variables it reads), so a new switch cannot go undocumented."""
    import re
    root = EXAMPLES.parent
    quoted = set()
    for path in (root / "clgrad").rglob("*.py"):
        quoted |= set(re.findall(r"[\"'](CLGRAD_[A-Z0-9_]+)[\"']", path.read_text()))
    table = "\n".join(line for line in (root / "README.md").read_text().splitlines()
                      if line.startswith("| `CLGRAD_"))
    listed = set(re.findall(r"`(CLGRAD_[A-Z0-9_]+)", table))
    assert len(quoted) >= 15, quoted
    assert quoted <= listed, sorted(quoted - listed)
