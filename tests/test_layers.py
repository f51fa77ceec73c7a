"""The house rules on imports: layers import only from below (the import-linter contracts in
pyproject.toml), and no module reaches for another package's underscore names (a new need gets
a public name in the lower package)."""
import ast
import importlib
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "clgrad"


def _package_of(module):
    """``clgrad.ops.core`` -> ``clgrad.ops``; top-level modules are their own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _resolve(module, is_package, node):
    """The absolute module a ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_reaches():
    """(module, what it takes) for every underscore name taken from another clgrad package."""
    found = []
    modules = dict(_modules())
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        mine = _package_of(module)
        aliases = {}        # local name -> module of another package
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve(module, is_package, node)
                if not src.startswith("clgrad") or _package_of(src) == mine:
                    continue
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.append((module, f"{src}.{a.name}"))
                    sub = f"{src}.{a.name}"
                    # a submodule (not a class a package exports under the same name)
                    if sub in modules and inspect.ismodule(
                            getattr(importlib.import_module(src), a.name, None)):
                        aliases[a.asname or a.name] = sub
                if any(part.startswith("_") and not part.startswith("__")
                       for part in src.split(".")):
                    found.append((module, src))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("clgrad") and _package_of(a.name) != mine:
                        if a.asname:
                            aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in aliases and node.attr.startswith("_") and \
                    not node.attr.startswith("__"):
                found.append((module, f"{aliases[node.value.id]}.{node.attr}"))
    return sorted(set(found))


def test_no_module_takes_another_packages_private_names():
    assert private_reaches() == []


def test_the_scan_finds_a_private_reach(tmp_path, monkeypatch):
    """The check can fail: a module taking ``_tls`` from another package is reported."""
    tree = ast.parse("from ..autograd.graph import _Flags\nfrom ..runtime import tuning\n"
                     "x = tuning._local\n")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _resolve("clgrad.ops.core", False, node)
            found += [f"{src}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert found == ["clgrad.autograd.graph._Flags"]


def test_layer_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.fail("lint-imports is not installed (pip install '.[test]' installs it)")
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def module_import_graph(inside_functions=False):
    """module -> the clgrad modules it imports when it is itself imported (statements at module
    level, inside top-level ``if``/``try`` too); with ``inside_functions``, also those that its
    functions import when they run."""
    modules = dict(_modules())
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        deps = set()
        for stmt in tree.body:
            nodes = ast.walk(stmt) if inside_functions or isinstance(stmt, (ast.If, ast.Try)) \
                else [stmt]
            for node in nodes:
                if isinstance(node, ast.ImportFrom):
                    src = _resolve(module, is_package, node)
                    for a in node.names:
                        sub = f"{src}.{a.name}"
                        deps.add(sub if sub in modules else src)
                elif isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names)
        graph[module] = {d for d in deps if d in modules and d != module}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}      # module -> 1 while on the current path, 2 when done

    def visit(m, path):
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state:
                found = visit(d, path)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [])
            if found:
                return found
    return None


def test_no_import_cycle():
    """No module comes back round to itself, neither when it is imported nor when its functions
    import: op families reach each other only downwards (axes < elementwise < shape < reduce <
    indexing < sort < ...); the few ops a lower family's vjp needs from a higher one come
    through ``ops.late``, bound by the family that defines them."""
    assert find_cycle(module_import_graph()) is None
    assert find_cycle(module_import_graph(inside_functions=True)) is None


def test_the_cycle_check_can_fail():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
