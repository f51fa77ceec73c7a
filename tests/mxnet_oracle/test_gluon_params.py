"""Gluon parameter files between MXNet 1.9.1 and clgrad, and one training run on both.

``gluon_runner.py`` builds the same networks in either framework (an MLP and a
Conv2D/BatchNorm/Dense CNN, HybridSequential, NumPy mode). MXNet trains them a few steps and
``save_parameters``; clgrad builds them afresh, ``load_parameters`` that file and must predict
the same on the same input, and the other way round. Then both start from the weights MXNet
initialized and take 5 steps with SGD (momentum, weight decay) and with Adam through
``gluon.Trainer``: the losses, the weights and BatchNorm's running statistics must agree within
float32 rounding.
"""
import subprocess
from pathlib import Path

import numpy as onp
import pytest

import clgrad
import gluon_runner
from mxnet_python import SKIP_REASON, mxnet_python

pytestmark = pytest.mark.mxnet_oracle
HERE = Path(__file__).resolve().parent


def run_mxnet(mode, folder, *args):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    r = subprocess.run([py, str(HERE / "gluon_runner.py"), "mxnet", mode, str(folder), *args],
                       capture_output=True, text=True, timeout=600, cwd=folder, check=False)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("gluon_params")


@pytest.fixture(scope="module")
def mxnet_trained(folder):
    run_mxnet("train", folder)
    return folder


def test_mxnet_names_parameters_as_clgrad_does(mxnet_trained):
    # MXNet 1.9.1's save_parameters writes structural names in NumPy mode (and outside it)
    for name in gluon_runner.NETS:
        saved = clgrad.npx.load(str(mxnet_trained / f"mxnet_{name}.params"))
        assert list(saved) == list(gluon_runner.build(clgrad, name).collect_params())
    assert list(saved) == ["0.weight", "0.bias", "1.gamma", "1.beta", "1.running_mean",
                           "1.running_var", "4.weight", "4.bias"]


def test_mxnet_trained_parameters_predict_the_same_here(mxnet_trained):
    gluon_runner.load(clgrad, mxnet_trained, "mxnet")
    want, got = (onp.load(mxnet_trained / f) for f in ("mxnet_pred.npz", "clgrad_loaded.npz"))
    for name in gluon_runner.NETS:
        onp.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_clgrad_trained_parameters_predict_the_same_in_mxnet(folder):
    gluon_runner.train(clgrad, folder)
    run_mxnet("load", folder, "clgrad")
    want, got = (onp.load(folder / f) for f in ("clgrad_pred.npz", "mxnet_loaded.npz"))
    for name in gluon_runner.NETS:
        onp.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_training_from_mxnets_weights_takes_mxnets_steps(folder):
    run_mxnet("init", folder)
    run_mxnet("steps", folder)
    gluon_runner.steps(clgrad, folder)
    want, got = (onp.load(folder / f) for f in ("mxnet_steps.npz", "clgrad_steps.npz"))
    assert sorted(got.files) == sorted(want.files)
    assert len(want.files) == 2 * (1 + 4) + 2 * (1 + 8)     # per optimizer: losses, parameters
    for key in want.files:
        onp.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)
    # and they trained: each run's loss fell
    for key in want.files:
        if key.endswith("/loss"):
            assert got[key][-1] < got[key][0], key
