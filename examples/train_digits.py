"""Train a LeNet-style CNN on scikit-learn's bundled digits (8x8 images, 1797 samples) with Gluon.

    pip install -e ".[pocl,examples]"        # scikit-learn, tqdm, matplotlib
    python examples/train_digits.py [--epochs 15] [--out digits_out]
    mpirun -n 2 python examples/train_digits.py --distributed     # pip install ".[mpi]"

Written as MXNet Gluon code is: replace ``clgrad`` with ``mxnet`` and it runs there too. Prints the
test accuracy per epoch, writes ``curves.png`` (loss and accuracy) when matplotlib is installed,
and checks a checkpoint round trip: a fresh network loading the saved parameters predicts the same.

``--distributed`` trains data-parallel over MPI: every rank takes its share of each global batch
of ``--batch-size`` samples, gradients are summed over the ranks (``kvstore='dist_sync'``), so
every step is the step one process makes on the whole batch; rank 0 alone prints and writes.
"""
import argparse
import os
import time

import numpy as onp

from clgrad import autograd, distributed, gluon, init, np, npx
from clgrad.gluon import nn

try:
    from tqdm import tqdm
except ImportError:                      # the progress bar is optional
    def tqdm(it, **kwargs):
        return it


def load_digits(seed=0, test_fraction=0.2):
    """(train images, train labels, test images, test labels): NCHW float32 in [0, 1], int32."""
    from sklearn.datasets import load_digits as sk_digits
    d = sk_digits()
    x = (d.images / 16.0).astype(onp.float32)[:, None, :, :]
    y = d.target.astype(onp.int32)
    order = onp.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation="relu"),
            nn.MaxPool2D(pool_size=2),
            nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
            nn.MaxPool2D(pool_size=2),
            nn.Flatten(),
            nn.Dense(64, activation="relu"),
            nn.Dense(10))
    return net


def evaluate(net, loader):
    metric = gluon.metric.Accuracy()
    for x, y in loader:
        metric.update(y, net(x))
    return metric.get()[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", default="digits_out", help="folder for the checkpoint and plot")
    ap.add_argument("--distributed", action="store_true",
                    help="data-parallel over the ranks of an MPI job (mpirun -n N)")
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: all)")
    ap.add_argument("--loss-log", default="", help="write each step's loss to this JSON file")
    args = ap.parse_args(argv)
    rank, ranks = (distributed.init(), distributed.size()) if args.distributed else (0, 1)
    if args.batch_size % ranks:
        ap.error(f"--batch-size {args.batch_size} must divide among {ranks} ranks")
    npx.set_np()
    np.random.seed(0)
    onp.random.seed(0)                   # the DataLoader's shuffling (host side, as MXNet)
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)

    xtr, ytr, xte, yte = load_digits()
    train = gluon.data.DataLoader(gluon.data.ArrayDataset(xtr, ytr), batch_size=args.batch_size,
                                  shuffle=True)
    test = gluon.data.DataLoader(gluon.data.ArrayDataset(xte, yte), batch_size=256)

    net = lenet()
    net.initialize(init.Xavier())
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": args.lr},
                            kvstore="dist_sync" if args.distributed else "device")
    say = print if rank == 0 else (lambda *a, **k: None)

    history = {"loss": [], "acc": []}
    steps = []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for x, y in tqdm(train, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False,
                         disable=rank != 0):
            n = x.shape[0]
            if ranks > 1:       # this rank's share of the global batch
                x, y = x[rank * n // ranks:(rank + 1) * n // ranks], \
                    y[rank * n // ranks:(rank + 1) * n // ranks]
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(n)                 # the global batch: gradients are summed
            s = loss.sum()
            if ranks > 1:
                distributed.allreduce(s, average=False, name="loss")
            total += float(s)
            count += n
            steps.append(float(s) / n)
            if args.steps and len(steps) >= args.steps:
                break
        acc = evaluate(net, test)
        history["loss"].append(total / count)
        history["acc"].append(acc)
        say(f"epoch {epoch + 1:2d}  loss {total / count:.4f}  test accuracy {acc:.4f}")
        if args.steps and len(steps) >= args.steps:
            break
    seconds = time.perf_counter() - start
    say(f"trained {len(history['acc'])} epochs in {seconds:.1f} s; test accuracy "
        f"{history['acc'][-1]:.4f}")
    if args.loss_log and rank == 0:
        import json
        with open(args.loss_log, "w") as f:
            json.dump(steps, f)
    if rank != 0:
        return history["acc"][-1], True

    path = os.path.join(args.out, "lenet_digits.params")
    net.save_parameters(path)
    again = lenet()
    again.load_parameters(path)
    x = np.array(xte)
    same = bool((again(x).argmax(axis=1) == net(x).argmax(axis=1)).all())
    print(f"checkpoint {path}: reloaded network predicts the same: {same}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
    else:
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
        epochs = range(1, args.epochs + 1)
        a.plot(epochs, history["loss"])
        a.set(xlabel="epoch", ylabel="training loss")
        b.plot(epochs, history["acc"])
        b.set(xlabel="epoch", ylabel="test accuracy")
        fig.tight_layout()
        png = os.path.join(args.out, "curves.png")
        fig.savefig(png, dpi=100)
        print(f"curves: {png}")
    return history["acc"][-1], same


if __name__ == "__main__":
    main()
