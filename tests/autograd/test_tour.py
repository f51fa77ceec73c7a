"""examples/autograd_tour.py runs and its printed results agree with the hand-worked values."""
import contextlib
import io
import re
import runpy
from pathlib import Path

import numpy as onp

TOUR = Path(__file__).resolve().parents[2] / "examples" / "autograd_tour.py"


def _run_tour():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_path(str(TOUR), run_name="__main__")
    return buf.getvalue()


def _nums(text):
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", text)]


def test_tour_runs_and_prints_every_section():
    out = _run_tour()
    for title in ["record + attach_grad + backward", "retain_graph", "grad_req",
                  "train_mode / predict_mode", "record inside a function", "control flow",
                  "attach_grad detaches", "custom Function", "autograd.grad and second derivatives",
                  "in-place safety"]:
        assert f"== {title}" in out, title
    assert "third backward refused" in out and "backward refused" in out
    second = next(line for line in out.splitlines() if line.startswith("y'' ="))
    got, expect = second[len("y'' ="):].split("expected")
    onp.testing.assert_allclose(_nums(got), _nums(expect), rtol=1e-5)
    first = next(line for line in out.splitlines() if line.startswith("w.grad "))
    got, expect = first.split("=", 1)[1].split("(6 w =")
    onp.testing.assert_allclose(_nums(got), _nums(expect))
    assert "add over steps 1+2+3: [6. 6.]" in out
    assert "record(train_mode=False): gradient [1. 1.]" in out
