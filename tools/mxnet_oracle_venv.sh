#!/usr/bin/env bash
# The MXNet 1.9.1 oracle's venv (CPU build, with the NumPy it was built against), created once
# and cached. Prints the venv's python on success; exits non-zero, saying why, when pip cannot
# install MXNet here (no wheel for this platform or Python, no network).
#   usage: tools/mxnet_oracle_venv.sh        (CLGRAD_MXNET_VENV overrides the location)
set -euo pipefail
venv="${CLGRAD_MXNET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clgrad/mxnet-1.9.1-venv}"
py="$venv/bin/python"
if [ -x "$py" ] && "$py" -c "import mxnet, sys; sys.exit(mxnet.__version__ != '1.9.1')" 2>/dev/null; then
    echo "$py"
    exit 0
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! python3 -m venv "$venv" >&2; then
    echo "mxnet oracle: could not create a venv at $venv" >&2
    exit 1
fi
if ! "$venv/bin/pip" install -q "mxnet==1.9.1" "numpy<1.24" >&2; then
    rm -rf "$venv"
    echo "mxnet oracle: pip could not install mxnet==1.9.1 here" >&2
    exit 1
fi
"$py" -c "import mxnet" >&2 || { rm -rf "$venv"; echo "mxnet oracle: mxnet does not import" >&2; exit 1; }
echo "$py"
