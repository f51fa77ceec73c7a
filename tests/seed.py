"""Reading the user's tutorial (``../shared/seed``): its code cells and what each must print."""
import ast
import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seed_dir():
    env = os.environ.get("CLGRAD_SEED_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "seed"


_FENCE = re.compile(r"```python\n(.*?)```", re.S)


def tutorial_cells(text):
    """The code of every ```python cell, with mxnet imports pointing at clgrad."""
    return [to_clgrad(c) for c in _FENCE.findall(text)]


def to_clgrad(code):
    return re.sub(r"\bfrom mxnet import\b", "from clgrad import", code)


def expected_cells(text):
    """[(code, printed text)] from expected_output.md, in cell order."""
    out = []
    for part in re.split(r"^## Cell \d+\s*$", text, flags=re.M)[1:]:
        code = _FENCE.search(part).group(1)
        rest = part[part.index("```", part.index("```python") + 3) + 3:]
        if "prints nothing" in rest:
            printed = ""
        else:
            m = re.search(r"prints:\s*\n```\n(.*?)```", rest, re.S)
            printed = m.group(1)
        out.append((to_clgrad(code), printed))
    return out


def run_cell(code, namespace):
    """Run ``code`` as a notebook would; returns what it printed (and a trailing repr)."""
    tree = ast.parse(code)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            body = ast.Module(body=tree.body[:-1], type_ignores=[])
            exec(compile(body, "<cell>", "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
        else:
            exec(compile(tree, "<cell>", "exec"), namespace)
    return buf.getvalue()
