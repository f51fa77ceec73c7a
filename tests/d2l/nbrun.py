"""Runs d2l chapters' cells as a notebook would, and prints what each cell showed as JSON.

    python nbrun.py mxnet|clgrad [--library] CHAPTER_FILE...

A chapter file (``chapters/*.py``) holds ``CELLS``, MXNet code as d2l wrote it. Under clgrad
each cell runs with ``mxnet`` replaced by ``clgrad`` and nothing else changed. A chapter's cells
run in order in one namespace (a fresh one per chapter), as IPython runs them: line magics
(``%matplotlib inline``) are no code, and when the last statement is an expression its value is
displayed, as its ``repr``, unless it is None or the cell ends with ``;``. For each cell the
runner records what it printed, what it displayed, a summary of the displayed value (kinds,
array dtypes, shapes and elements: a cell that draws random numbers is compared on the dtypes
and shapes), the warnings it issued and the error it raised, if any; later cells still run.

Before each chapter Python's ``random`` and the framework's generator are seeded with 0, and
the ``d2l`` library is imported afresh and every figure closed, as in a new notebook kernel.
``d2l`` is the shim (``shim/``), or with ``--library`` d2l's own library (``lib/``, unchanged),
first on ``sys.path``; for clgrad the library also needs ``alias/`` (``mxnet`` as another name
for ``clgrad``). ``shim_fallback/`` comes last: stand-ins for what may not be installed
(matplotlib, matplotlib_inline, IPython, pandas, requests). Figures draw on matplotlib's Agg
backend. This file imports no test code: it runs in MXNet's venv too.
"""
import ast
import contextlib
import io
import json
import math
import os
import random
import runpy
import sys
import traceback
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _plain(v):
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def summary(value):
    """The kind of a displayed value: an array's dtype, shape and elements, a sequence's
    items, else its type's name."""
    if hasattr(value, "asnumpy") and not isinstance(value, type):
        return {"array": str(value.dtype), "shape": list(value.shape),
                "value": _plain(value.asnumpy().tolist())}
    if isinstance(value, (tuple, list)):
        return {type(value).__name__: [summary(v) for v in value]}
    return {"type": type(value).__name__}


def run_cell(source, ns, name):
    """(printed text, displayed repr or None, summary or None, warnings) of one cell run in
    ``ns``; every warning is recorded, as "Category: message"."""
    code = "\n".join(line for line in source.split("\n") if not line.startswith("%"))
    tree = ast.parse(code, name)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(tree, name, "exec"), ns)
        value = eval(compile(last, name, "eval"), ns) if last is not None else None
    shown = [f"{w.category.__name__}: {w.message}" for w in caught]
    if value is None or code.rstrip().endswith(";"):
        return out.getvalue(), None, None, shown
    return out.getvalue(), repr(value), summary(value), shown


def new_kernel():
    """Forget the d2l library (the next import runs it afresh) and close every figure."""
    for name in [m for m in sys.modules if m == "d2l" or m.startswith("d2l.")]:
        del sys.modules[name]
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def run_chapter(framework, path):
    cells = runpy.run_path(str(path))["CELLS"]
    fw = __import__(framework)
    new_kernel()
    random.seed(0)
    fw.random.seed(0)
    ns = {"__name__": "__main__"}
    results = []
    for i, cell in enumerate(cells):
        source = cell if framework == "mxnet" else cell.replace("mxnet", "clgrad")
        rec = {"stdout": "", "display": None, "summary": None, "warnings": [], "error": None}
        try:
            rec["stdout"], rec["display"], rec["summary"], rec["warnings"] = \
                run_cell(source, ns, f"<{Path(path).stem} cell {i}>")
        except Exception:   # noqa: BLE001  (recorded; the next cells still run)
            rec["error"] = traceback.format_exc(limit=-4)[-2000:]
        results.append(rec)
    return results


def main():
    framework, paths = sys.argv[1], sys.argv[2:]
    library = paths[:1] == ["--library"]
    paths = paths[library:]
    os.environ.setdefault("MPLBACKEND", "Agg")
    if library:
        first = ["lib"] + (["alias"] if framework == "clgrad" else [])
    else:
        first = ["shim"]
    sys.path[:0] = [str(HERE / f) for f in first]
    sys.path.append(str(HERE / "shim_fallback"))
    report = {Path(p).stem: run_chapter(framework, p) for p in paths}
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
