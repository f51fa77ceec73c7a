"""Allreduce bandwidth and data-parallel scaling over MPI, run under mpirun:

    mpirun -n 2 python -m bench.distributed          # (--oversubscribe on a 2-core machine)

Rank 0 prints, for 1, 16 and 256 MiB of float32: ``clgrad.distributed.allreduce`` of a device
array (reduced in place in the buffer mapped into host memory) against mpi4py's allreduce of a
NumPy array of the same size, timed in the same run, and with float16 on the wire; and the time
of one step of the digits LeNet (examples/train_digits.py, global batch 64) on this many ranks:
gradients reduced at the step, during backward (buckets), and with float16 on the wire.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as onp

from clgrad import autograd, distributed, gluon, np, npx


def _time(fn, repeat):
    fn()
    out = []
    for _ in range(repeat):
        distributed.barrier()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,16,256", help="MiB, comma-separated")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    distributed.init()
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = distributed.rank(), distributed.size()
    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"{size} ranks; device: {npx.current_device().name}")
    say(f"{'MiB':>5} {'clgrad device':>14} {'mpi4py numpy':>13} {'ratio':>6}  {'GB/s (device)':>13}"
        f" {'device fp16':>14}")
    for mib in [int(s) for s in args.sizes.split(",")]:
        n = mib * (1 << 20) // 4
        a = np.ones(n)
        h = onp.ones(n, dtype=onp.float32)
        td = _time(lambda a=a: (distributed.allreduce(a, average=False), npx.waitall()),
                   args.repeat)
        th = _time(lambda h=h: comm.Allreduce(MPI.IN_PLACE, h, op=MPI.SUM), args.repeat)
        c = np.ones(n)      # (a has doubled at every sum; averaged, c stays within float16)
        tc = _time(lambda c=c: (distributed.allreduce(c, compression="fp16"),
                                npx.waitall()), args.repeat)
        say(f"{mib:>5} {td * 1e3:>12.2f}ms {th * 1e3:>11.2f}ms {td / th:>6.2f}  "
            f"{mib / 1024 * 2 * (size - 1) / size / td:>13.2f} {tc * 1e3:>12.2f}ms")
    # one training step of the digits LeNet, global batch 64 shared among the ranks
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "examples"))
    from train_digits import lenet
    npx.set_np()
    np.random.seed(0)
    net = lenet()
    net.initialize()
    rng = onp.random.default_rng(rank)
    x = np.array(rng.uniform(0, 1, (64 // size, 1, 8, 8)).astype(onp.float32))
    y = np.array(rng.integers(0, 10, 64 // size).astype(onp.float32))
    net(x)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def timed_step(overlap, **kw):
        os.environ["CLGRAD_DIST_OVERLAP"] = "1" if overlap else "0"
        tr = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3},
                           kvstore="dist_sync" if size > 1 else "device", **kw)

        def step():
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            tr.step(64)
            npx.waitall()
        return _time(step, 3 * args.repeat)
    t = timed_step(False)
    say(f"digits LeNet step, global batch 64 on {size} rank(s): {t * 1e3:.2f} ms")
    if size > 1:
        t = timed_step(True)
        say(f"  with the allreduce started during backward (buckets): {t * 1e3:.2f} ms")
        t = timed_step(True, compression_params={"type": "fp16"})
        say(f"  and float16 on the wire: {t * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
