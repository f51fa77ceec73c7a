"""Host cost of op dispatch, counted instead of timed: Python bytecodes (and Python-level calls)
executed per op call, for an unrecorded ``a + b``, a recorded ``a + b`` and a recorded chain of
``y * c`` with its backward (4x4 float32 arrays, after warm-up).

    python -m bench.bytecodes                       # this checkout
    python -m bench.bytecodes --against ../old      # and another checkout, side by side

The count is exact and repeatable: it does not move with the machine's load, so it tells a
change of the dispatch path by a few percent where wall-clock rows (``python -m bench``, the
``latency`` and ``tape`` cases) cannot on a shared machine. It leaves out the C code below
(pyopencl, the driver), which is the same for both sides of a comparison.
"""
import argparse
import os
import subprocess
import sys

_PROBE = r'''
import gc, sys
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
    count[:] = [0, 0]
    sys.settrace(tracer); f(); sys.settrace(None)
    npx.waitall()
    print(f.__name__, count[0] / 100, count[1] / 100)
'''

_NAMES = {"unrecorded": "a + b, not recorded", "recorded": "a + b, recorded",
          "tape": "y * c recorded, with its backward"}


def measure(root):
    """{workload: (bytecodes per op, Python calls per op)} of the clgrad in ``root``."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(root))
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=os.path.abspath(root),
                         capture_output=True, text=True, timeout=600, check=True).stdout
    rows = {}
    for line in out.splitlines():
        name, ops, calls = line.split()
        rows[name] = (float(ops), float(calls))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="another clgrad checkout to count beside this one")
    args = ap.parse_args(argv)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
