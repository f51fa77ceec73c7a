#!/usr/bin/env bash
# Run clgrad's test suite and benchmarks on NVIDIA's OpenCL, on a bare CUDA machine with Python.
#
#   tools/gpu_check.sh [OUTDIR]
#
# Python packages come from wheels in ./.whl when that folder exists (a machine without network),
# else from pip. NVIDIA's OpenCL driver (libnvidia-opencl.so.1) is registered through an .icd file
# in a private folder named by OCL_ICD_VENDORS, so nothing is installed system-wide. Results
# (device info, test log, benchmark table, JSON and chart) land in OUTDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$out"

if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/clgrad-site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/clgrad-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    python3 -m pip install -q ".[test]" || exit 1
fi

lib=""
for cand in $(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF}') \
            /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so.1 \
            /usr/lib64/libnvidia-opencl.so.1; do
    if [ -e "$cand" ]; then lib="$cand"; break; fi
done
if [ -z "$lib" ]; then
    echo "libnvidia-opencl.so.1 not found: is the NVIDIA driver installed?" | tee "$out/error.txt"
    exit 1
fi
icd=$(mktemp -d)
echo "$lib" > "$icd/nvidia.icd"
export OCL_ICD_VENDORS="$icd" CLGRAD_DEVICE="${CLGRAD_DEVICE:-NVIDIA}" PYTHONUNBUFFERED=1
export CLGRAD_CACHE_DIR="${CLGRAD_CACHE_DIR:-/tmp/clgrad-cache}"

python3 -m clgrad info 2>&1 | tee "$out/info.txt"
python3 -m pytest -q -m "not oclgrind and not wheel" -p no:cacheprovider 2>&1 | tee "$out/tests.txt"
tests_rc=${PIPESTATUS[0]}
python3 -m bench --json "$out/bench.json" --png "$out/bench.png" 2>&1 | tee "$out/bench.txt"
bench_rc=${PIPESTATUS[0]}
echo "tests exit $tests_rc, bench exit $bench_rc" | tee "$out/summary.txt"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
