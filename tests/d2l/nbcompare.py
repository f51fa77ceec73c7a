"""Running d2l chapters with ``nbrun.py`` and comparing MXNet's run of a cell with clgrad's.

A cell agrees when it printed, displayed and warned the same text, MXNet's ``mxnet`` read as
``clgrad``. The other ways of comparing, for the cells that cannot agree as text (named in each
test's ``DIFFERENT``):
  shapes:  the displayed value's kinds, dtypes and shapes; printed text with numbers masked
  close:   as shapes, and the elements within a relative 1e-6
  masked:  printed and displayed text with every digit masked
  numbers: printed and displayed text with every number masked, signs and padding included
  near:    as numbers, and each printed number within ``atol + rtol * |MXNet's|`` of MXNet's
  quiet:   as text, MXNet's warnings aside (warnings MXNet's own code raises)
"""
import json
import math
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "nbrun.py"
# clgrad's default device may be a GPU, MXNet's is the CPU, and an array off the CPU shows its
# device (`array([1.], device=gpu(0))`); that suffix is dropped before comparing.
_DEVICE = re.compile(r", device=[a-z]+\(\d+\)\)")
_DIGITS = re.compile(r"\d+")
_NUMBER = re.compile(r"\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def run_chapters(python, framework, chapters, cwd, library=False):
    """What each cell of ``chapters`` showed, run by ``nbrun.py`` under ``python``."""
    files = [str(HERE / "chapters" / f"{c}.py") for c in chapters]
    cmd = [python, str(RUNNER), framework] + (["--library"] if library else []) + files
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=cwd, check=False)
    assert r.returncode == 0, f"{framework} runner failed:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout)


def masked(text):
    return None if text is None else _DIGITS.sub("#", text)


def numbers_masked(text):
    # NumPy pads printed numbers to a common width: the padding goes with the numbers
    return None if text is None else re.sub(r"[ \t]*#[ \t]*", "#", _NUMBER.sub(" #", text))


def numbers(text):
    return [float(m) for m in _NUMBER.findall(text or "")]


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


def difference(mx_cell, cl_cell, how="text", atol=0.0, rtol=0.0):
    """Why clgrad's run of a cell does not match MXNet's, or None."""
    if cl_cell["error"]:
        return f"clgrad raised:\n{cl_cell['error']}"
    def fix(text):
        return None if text is None else text.replace("mxnet", "clgrad")
    want_out, want_shown = fix(mx_cell["stdout"]), fix(mx_cell["display"])
    got_out = cl_cell["stdout"]
    got_shown = None if cl_cell["display"] is None else _DEVICE.sub(")", cl_cell["display"])
    if how != "quiet" and [fix(w) for w in mx_cell["warnings"]] != cl_cell["warnings"]:
        return f"warned {cl_cell['warnings']}, MXNet {mx_cell['warnings']}"
    if how in ("text", "quiet"):
        if want_out != got_out:
            return f"printed\n{got_out}\nMXNet printed\n{want_out}"
        if want_shown != got_shown:
            return f"displayed\n{got_shown}\nMXNet displayed\n{want_shown}"
        return None
    mask = numbers_masked if how in ("numbers", "near") else masked
    if mask(want_out) != mask(got_out):
        return f"printed\n{got_out}\nMXNet printed (numbers aside)\n{want_out}"
    if how in ("masked", "numbers", "near"):
        if mask(want_shown) != mask(got_shown):
            return f"displayed\n{got_shown}\nMXNet displayed (numbers aside)\n{want_shown}"
        if how == "near" and not all(abs(g - w) <= atol + rtol * abs(w) for w, g in
                                     zip(numbers(want_out), numbers(got_out))):
            return (f"printed\n{got_out}\nMXNet printed (each number within {atol} + {rtol} "
                    f"of MXNet's)\n{want_out}")
        return None
    if shapes(mx_cell["summary"]) != shapes(cl_cell["summary"]):
        return f"displayed {shapes(cl_cell['summary'])}, MXNet {shapes(mx_cell['summary'])}"
    if how == "close" and not values_close(mx_cell["summary"], cl_cell["summary"]):
        return f"displayed\n{got_shown}\nMXNet displayed (to a relative 1e-6)\n{want_shown}"
    return None


def differing_cells(mx_cells, cl_cells, rules):
    """{cell index: why it differs} between MXNet's and clgrad's runs of one chapter. ``rules``
    maps a cell index to its entry of a test's DIFFERENT table, (how, text, why[, tolerances]);
    a cell without one is compared as printed text."""
    out = {}
    for i, (mx, cl) in enumerate(zip(mx_cells, cl_cells)):
        how, _text, _why, *tol = rules.get(i, ("text", None, None))
        d = difference(mx, cl, how, **(tol[0] if tol else {}))
        if d:
            out[i] = d
    return out
