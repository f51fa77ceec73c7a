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
