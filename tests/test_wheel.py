"""The wheel is complete: built from this repository, installed into an empty folder and imported
from outside the repository, it finds its templates/ and cl_kernels/ and runs every kernel family.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.wheel

_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                               ".hypothesis", ".pytest_cache", "results")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the repository (the build leaves no files in the tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP)
    out = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                        str(src)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("clgrad-*.whl")
    return whl


def test_wheel_carries_every_module_and_kernel_source(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = []
    for f in (ROOT / "clgrad").rglob("*.py"):
        rel = f.relative_to(ROOT).as_posix()
        if "__pycache__" not in rel and rel not in names:
            missing.append(rel)
    for folder, pattern in (("templates", "*.mako"), ("cl_kernels", "*.cl")):
        for f in (ROOT / folder).glob(pattern):
            if f"clgrad/{folder}/{f.name}" not in names:
                missing.append(f"clgrad/{folder}/{f.name}")
    assert not missing, f"the wheel lacks {missing}"
    assert not any(n.startswith("tests/") for n in names)


def _site_packages():
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [p for p in paths if os.path.isdir(p)]


def test_installed_wheel_runs_outside_the_repository(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = textwrap.dedent(f"""
        import importlib, pkgutil, sys
        from pathlib import Path
        import numpy as onp
        import clgrad
        from clgrad import np, npx
        from clgrad.codegen import render
        site = Path({str(target)!r}).resolve()
        assert Path(clgrad.__file__).resolve().is_relative_to(site), clgrad.__file__
        assert render.TEMPLATES.resolve().is_relative_to(site), render.TEMPLATES
        assert render.CL_KERNELS.resolve().is_relative_to(site), render.CL_KERNELS
        assert not any("{ROOT.name}" == Path(p).name for p in sys.path if p), sys.path
        for m in pkgutil.walk_packages(clgrad.__path__, "clgrad."):
            if m.name.endswith("__main__"):
                continue
            importlib.import_module(m.name)
        h = onp.arange(12, dtype="float32").reshape(3, 4)
        x = np.array(h)
        y = np.exp(x.T[::-1] / 10) // 1 + (x % 3).sum()        # elementwise, intmath, reduce
        want = onp.exp(h.T[::-1] / 10) // 1 + (h % 3).sum()
        assert onp.allclose(y.asnumpy(), want), (y, want)
        np.random.seed(1)
        u = np.random.uniform(size=(5,))                      # random family, philox.cl
        assert ((u.asnumpy() >= 0) & (u.asnumpy() < 1)).all()
        print("ok", npx.current_device())
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target)] + _site_packages())
    env.pop("PYTHONHOME", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=str(work), env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok ")
    r = subprocess.run([sys.executable, "-m", "clgrad", "info"], cwd=str(work), env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "platform 0:" in r.stdout, r.stderr
