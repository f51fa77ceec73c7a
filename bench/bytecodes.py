"""Host cost of op dispatch, counted instead of timed: Python bytecodes (and Python-level calls)
executed per op call, for an unrecorded ``a + b``, a recorded ``a + b`` and a recorded chain of
``y * c`` with its backward (4x4 float32 arrays, after warm-up).

    python -m bench.bytecodes                       # this checkout
    python -m bench.bytecodes --against ../old      # and another checkout, side by side
    python -m bench.bytecodes --against ../old --time 8   # and timed: 8 alternating rounds

The count is exact and repeatable: it does not move with the machine's load, so it tells a
change of the dispatch path by a few percent where wall-clock rows (``python -m bench``, the
``latency`` and ``tape`` cases) cannot on a shared machine. It leaves out the C code below
(pyopencl, the driver), which is the same for both sides of a comparison.
"""
import argparse
import os
import statistics
import subprocess
import sys

_PROBE = r'''
import gc, sys, time
gc.disable()        # (a collection inside the count would run finalizers into it)
from clgrad import np, npx, autograd
a = np.ones((4, 4)); b = np.ones((4, 4)); a.attach_grad()
def unrecorded():
    for _ in range(100): a + b
def recorded():
    with autograd.record():
        for _ in range(100): a + b
def tape():
    with autograd.record():
        y = a
        for _ in range(100): y = y * 1.0001
    y.backward()
count = [0, 0]
def tracer(frame, event, arg):
    frame.f_trace_opcodes = True
    if event == "opcode":
        count[0] += 1
    elif event == "call":
        count[1] += 1
    return tracer
for f in (unrecorded, recorded, tape):
    f(); f(); npx.waitall()
    if sys.argv[1] == "time":       # the fastest of 30 repetitions, microseconds per op call
        best = float("inf")
        for _ in range(30):
            t = time.perf_counter(); f(); npx.waitall()
            best = min(best, time.perf_counter() - t)
        print(f.__name__, best / 100 * 1e6, 0)
        continue
    count[:] = [0, 0]
    sys.settrace(tracer); f(); sys.settrace(None)
    npx.waitall()
    print(f.__name__, count[0] / 100, count[1] / 100)
'''

_NAMES = {"unrecorded": "a + b, not recorded", "recorded": "a + b, recorded",
          "tape": "y * c recorded, with its backward"}


def measure(root, mode="count"):
    """{workload: (bytecodes per op, Python calls per op)} of the clgrad in ``root``; with
    ``mode="time"``, {workload: (microseconds per op, 0)}: the fastest of 30 repetitions."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(root))
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], env=env,
                         cwd=os.path.abspath(root), capture_output=True, text=True, timeout=600,
                         check=True).stdout
    rows = {}
    for line in out.splitlines():
        name, ops, calls = line.split()
        rows[name] = (float(ops), float(calls))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="another clgrad checkout to count beside this one")
    ap.add_argument("--time", type=int, default=0, metavar="ROUNDS",
                    help="also time both checkouts, alternating, in this many rounds")
    args = ap.parse_args(argv)
    if args.time and not args.against:
        ap.error("--time compares two checkouts: give --against")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mine = measure(here)
    other = measure(args.against) if args.against else None
    head = f"{'per op call':36} {'bytecodes':>10} {'calls':>6}"
    if other:
        head += f" {'against':>10} {'calls':>6} {'ratio':>6}"
    print(head)
    for key, label in _NAMES.items():
        ops, calls = mine[key]
        line = f"{label:36} {ops:>10.0f} {calls:>6.1f}"
        if other:
            o_ops, o_calls = other[key]
            line += f" {o_ops:>10.0f} {o_calls:>6.1f} {ops / o_ops:>6.2f}"
        print(line)
    if args.time:
        print(timed(here, args.against, args.time))
    return 0


def timed(here, other, rounds):
    """Wall-clock time per op call of both checkouts, in ``rounds`` rounds that alternate which
    goes first; per workload, the fastest time of each and the median of the rounds' ratios
    (the machine's load moves both sides of a round alike)."""
    ratios = {key: [] for key in _NAMES}
    best = {key: [float("inf"), float("inf")] for key in _NAMES}
    for r in range(rounds):
        order = (here, other) if r % 2 == 0 else (other, here)
        got = dict(zip(order, (measure(order[0], "time"), measure(order[1], "time"))))
        for key in _NAMES:
            mine, theirs = got[here][key][0], got[other][key][0]
            ratios[key].append(mine / theirs)
            best[key] = [min(best[key][0], mine), min(best[key][1], theirs)]
    lines = [f"{'timed, us per op call (fastest)':36} {'this':>10} {'against':>10} "
             f"{'median ratio of ' + str(rounds) + ' rounds':>26}"]
    for key, label in _NAMES.items():
        lines.append(f"{label:36} {best[key][0]:>10.2f} {best[key][1]:>10.2f} "
                     f"{statistics.median(ratios[key]):>26.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
