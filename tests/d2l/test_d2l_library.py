"""d2l's own library for MXNet (``lib/d2l/mxnet.py``, d2l-en 23d7a5ae, unchanged) imports on
clgrad with ``mxnet`` as another name for ``clgrad`` (``alias/``), and its functions and classes
work: ``libcalls.py`` calls a representative set of them (the base classes Module, DataModule,
Trainer, HyperParameters, ProgressBoard; the regression and classification models; RNNs,
attention, the Transformer and BERT; boxes and anchors; the book's training loops).

Without MXNet, every call must run on clgrad. With the MXNet 1.9.1 oracle (marker
``mxnet_oracle``) the same calls run under MXNet with the same library: each must give the same
value (arrays within float32 rounding) and print the same text, except the calls in
``DIFFERENT``: each says how it is compared instead, and why.
"""
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mxnet_python import SKIP_REASON, mxnet_python

HERE = Path(__file__).resolve().parent
LIBRARY_SHA256 = "932c1983a5d95af03f57d67c2c4b797426703f4b95b4b081c966cb3cb22ce3d0"

_RANDOM = ("draws random numbers (data, initial weights or dropout masks): clgrad's generator "
           "is Philox-4x32-10, not MXNet's, so only the kinds, dtypes and shapes can agree")
_PRINTS_SPEED = "prints losses of random data and a speed in examples/sec"
# call: (how it is compared, why)
#   shapes: the value's kinds, dtypes and shapes (``kinds``)
#   runs:   only that it runs (it draws figures or prints timings)
DIFFERENT = {
    "synthetic_data_module": ("shapes", _RANDOM),
    "linear_regression_scratch_fit": ("shapes", _RANDOM),
    "linear_regression_fit_with_clipping": ("shapes", _RANDOM),
    "resnet18_forward": ("shapes", _RANDOM),
    "rnn_scratch_language_model": ("shapes", _RANDOM),
    "rnn_and_gru": ("shapes", _RANDOM),
    "seq2seq_encoder": ("shapes", _RANDOM),
    "synthetic_data_and_load_array": ("shapes", _RANDOM),
    "animator_and_timer": ("shapes", "keeps the points it drew, and times itself"),
    "plots": ("runs", "draws figures"),
    "training_loops": ("runs", _PRINTS_SPEED),
}


def run_calls(python, framework, cwd):
    r = subprocess.run([python, str(HERE / "libcalls.py"), framework], capture_output=True,
                       text=True, timeout=1800, cwd=cwd, check=False)
    assert r.returncode == 0, f"{framework} library calls failed:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout)


def kinds(value):
    """A value without its contents: arrays as dtype and shape, anything else as its type."""
    if isinstance(value, dict):
        return {k: v if k in ("array", "shape", "type") else kinds(v)
                for k, v in value.items() if k != "value"}
    if isinstance(value, list):
        return [kinds(v) for v in value]
    return type(value).__name__


def close(want, got, rtol=1e-5, atol=1e-6):
    """Equal values, floats within float32 rounding of several operations."""
    if isinstance(want, dict) and isinstance(got, dict):
        return want.keys() == got.keys() and all(close(want[k], got[k]) for k in want)
    if isinstance(want, list) and isinstance(got, list):
        return len(want) == len(got) and all(close(w, g) for w, g in zip(want, got))
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(want, got, rel_tol=rtol, abs_tol=atol)
    return want == got


def test_the_library_is_d2ls_unchanged():
    text = (HERE / "lib" / "d2l" / "mxnet.py").read_bytes()
    assert hashlib.sha256(text).hexdigest() == LIBRARY_SHA256


def test_comparison_tells_float32_rounding_from_a_difference():
    arr = {"array": "float32", "shape": [2], "value": [1.0, 0.5]}
    assert close([arr, "cpu(0)", 3], [dict(arr, value=[1.000001, 0.5]), "cpu(0)", 3])
    assert not close(arr, dict(arr, value=[1.001, 0.5]))
    assert not close(arr, dict(arr, array="float64"))
    assert not close([1, 2], [1, 2, 3])
    assert kinds([arr, 0.25, "cpu(0)"]) == kinds([dict(arr, value=[3.0, 4.0]), 0.5, "cpu(0)"])
    assert kinds([arr]) != kinds([dict(arr, shape=[3])])


# --- clgrad alone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clgrad_calls():
    return run_calls(sys.executable, "clgrad", HERE.parent.parent)


def test_every_call_runs_on_clgrad(clgrad_calls):
    failed = {name: c["error"] for name, c in clgrad_calls.items() if c["error"]}
    assert not failed, "\n\n".join(f"{name}:\n{e}" for name, e in failed.items())
    assert set(DIFFERENT) <= set(clgrad_calls)


def test_what_the_base_classes_give_on_clgrad(clgrad_calls):
    value = {name: c["value"] for name, c in clgrad_calls.items()}
    assert value["save_hyperparameters"] == [{"a": 1, "b": "two"}, 1, "two", False]
    assert value["progress_board_points"] == {"square": [[0.5, 0.5], [2.5, 6.5], [4.5, 20.5]]}
    gluon_params, deferred_shapes, scratch_shapes = value["module_parameters"]
    assert gluon_params == "ParameterDict" and scratch_shapes == [[1], [2, 1]]     # b, w
    assert deferred_shapes == [[1], [1, -1]]          # Dense(1) before its first forward
    # after 2 epochs from w = 0 the estimate is within 0.5 of w = [2, -3.4]
    assert value["linear_regression_scratch_fit"][2] < 0.5
    assert value["linear_regression_fit_with_clipping"][2] < 3.5     # clipped steps, 1 epoch
    assert clgrad_calls["lenet_layer_summary"]["stdout"].splitlines()[-1] == \
        "Dense output shape:\t (1, 10)"


# --- against MXNet 1.9.1 -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mxnet_calls(tmp_path_factory):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    return run_calls(py, "mxnet", tmp_path_factory.mktemp("mxnet"))


@pytest.mark.mxnet_oracle
def test_every_call_runs_under_mxnet(mxnet_calls):
    failed = {name: c["error"] for name, c in mxnet_calls.items() if c["error"]}
    assert not failed, f"calls that MXNet itself cannot make (fix libcalls.py): {failed}"


@pytest.mark.mxnet_oracle
def test_each_call_gives_what_mxnet_gives(mxnet_calls, clgrad_calls):
    diffs = {}
    for name, mx in mxnet_calls.items():
        cl = clgrad_calls[name]
        how = DIFFERENT.get(name, ("value",))[0]
        if how == "runs" or mx["skipped"] or cl["skipped"]:
            continue
        if how == "shapes" and kinds(mx["value"]) != kinds(cl["value"]):
            diffs[name] = f"gave {kinds(cl['value'])}\nMXNet {kinds(mx['value'])}"
        if how == "value" and not close(mx["value"], cl["value"]):
            diffs[name] = f"gave {cl['value']}\nMXNet {mx['value']}"
        if how == "value" and mx["stdout"] != cl["stdout"]:
            diffs[name] = f"printed\n{cl['stdout']}\nMXNet printed\n{mx['stdout']}"
    assert not diffs, "\n\n".join(f"{name}:\n{d}" for name, d in diffs.items())
