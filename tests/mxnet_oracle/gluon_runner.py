"""The same Gluon networks and training steps under MXNet 1.9.1 or clgrad, exchanging parameter
files (``tests/mxnet_oracle/test_gluon_params.py`` runs it under MXNet's interpreter and calls
its functions with clgrad).

    python gluon_runner.py mxnet|clgrad MODE DIR [OTHER]

Modes, each reading and writing files in DIR:
  train:   build the networks, train each 3 SGD steps, ``save_parameters`` to
           ``<fw>_<net>.params``, and write their predictions to ``<fw>_pred.npz``
  load:    build them afresh, ``load_parameters`` OTHER's files and write the predictions to
           ``<fw>_loaded.npz``
  init:    build, initialize and save the starting weights to ``init_<net>.params``
  steps:   from ``init_<net>.params``, 5 steps of each optimizer through ``gluon.Trainer``:
           the loss of each step and the final parameters go to ``<fw>_steps.npz``

The networks: an MLP (Dense(16, relu), Dense(3)) and a CNN (Conv2D with relu, BatchNorm,
MaxPool2D, Flatten, Dense), both HybridSequential, in NumPy mode. Inputs and labels are drawn by
NumPy's own generator, so both frameworks see the same ones. Imports no test code.
"""
import sys
from pathlib import Path

import numpy as onp

NETS = ("mlp", "cnn")
OPTIMIZERS = {"sgd": ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
              "adam": ("adam", {"learning_rate": 0.01})}


def build(fw, name):
    nn = fw.gluon.nn
    net = nn.HybridSequential()
    if name == "mlp":
        net.add(nn.Dense(16, activation="relu"), nn.Dense(3))
    else:
        # the convolution's relu comes before BatchNorm: a bias right before it would get only
        # rounding noise as its gradient, which Adam scales up to full steps of either sign
        net.add(nn.Conv2D(4, kernel_size=3, padding=1, activation="relu"), nn.BatchNorm(),
                nn.MaxPool2D(pool_size=2), nn.Flatten(), nn.Dense(3))
    return net


def data(fw, name):
    rng = onp.random.RandomState(7)
    shape = (8, 5) if name == "mlp" else (6, 2, 6, 6)
    X = rng.standard_normal(shape).astype(onp.float32)
    y = rng.randint(0, 3, size=shape[0]).astype(onp.float32)
    return fw.np.array(X), fw.np.array(y)


def step(fw, net, trainer, X, y):
    loss_fn = fw.gluon.loss.SoftmaxCrossEntropyLoss()
    with fw.autograd.record():
        loss = loss_fn(net(X), y)
    loss.backward()
    trainer.step(X.shape[0])
    return float(loss.mean())


def host_params(fw, net, folder):
    """The parameters by structural name ('0.weight'), as save_parameters writes them (MXNet
    1.9.1's collect_params names them by prefix: 'dense0_weight')."""
    f = str(folder / f"{fw.__name__}_last.params")
    net.save_parameters(f)
    return {k: v.asnumpy() for k, v in fw.npx.load(f).items()}




def train(fw, folder):
    out = {}
    for name in NETS:
        net = build(fw, name)
        net.initialize(fw.init.Xavier())
        X, y = data(fw, name)
        trainer = fw.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        for _ in range(3):
            step(fw, net, trainer, X, y)
        net.save_parameters(str(folder / f"{fw.__name__}_{name}.params"))
        out[name] = net(X).asnumpy()
    onp.savez(folder / f"{fw.__name__}_pred.npz", **out)


def load(fw, folder, other):
    out = {}
    for name in NETS:
        net = build(fw, name)
        net.load_parameters(str(folder / f"{other}_{name}.params"))
        out[name] = net(data(fw, name)[0]).asnumpy()
    onp.savez(folder / f"{fw.__name__}_loaded.npz", **out)


def init(fw, folder):
    for name in NETS:
        net = build(fw, name)
        net.initialize(fw.init.Xavier())
        net(data(fw, name)[0])           # the deferred shapes
        net.save_parameters(str(folder / f"init_{name}.params"))


def steps(fw, folder):
    out = {}
    for name in NETS:
        X, y = data(fw, name)
        for opt, (kind, args) in OPTIMIZERS.items():
            net = build(fw, name)
            net.load_parameters(str(folder / f"init_{name}.params"))
            trainer = fw.gluon.Trainer(net.collect_params(), kind, dict(args))
            out[f"{name}/{opt}/loss"] = onp.array([step(fw, net, trainer, X, y)
                                                   for _ in range(5)])
            out.update({f"{name}/{opt}/{k}": v for k, v in host_params(fw, net, folder).items()})
    onp.savez(folder / f"{fw.__name__}_steps.npz", **out)


def main():
    framework, mode, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    fw = __import__(framework)
    fw.npx.set_np()
    fw.random.seed(0)
    modes = {"train": train, "load": load, "init": init, "steps": steps}
    modes[mode](fw, folder, *sys.argv[4:])


if __name__ == "__main__":
    main()
