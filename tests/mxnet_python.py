"""Where the MXNet 1.9.1 oracle's interpreter is, for the suites that compare with MXNet
(tests/mxnet_oracle, tests/d2l): ``$CLGRAD_MXNET_PYTHON``, else the venv that
``tools/mxnet_oracle_venv.sh`` caches (``$CLGRAD_MXNET_VENV``, default
``~/.cache/clgrad/mxnet-1.9.1-venv``), else None."""
import os
from pathlib import Path

SKIP_REASON = ("the MXNet 1.9.1 oracle is not installed: run tools/mxnet_oracle_venv.sh "
               "(or set CLGRAD_MXNET_PYTHON)")


def mxnet_python():
    env = os.environ.get("CLGRAD_MXNET_PYTHON")
    if env:
        return env
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    py = Path(os.environ.get("CLGRAD_MXNET_VENV", cache / "clgrad" / "mxnet-1.9.1-venv")) \
        / "bin" / "python"
    return str(py) if py.exists() else None
