"""``python -m bench``: clgrad against NumPy, pyopencl (and PyTorch, CLBlast) on one device.

Prints a table of medians with each rate as a fraction of the device's own streaming limit
(a hand-written kernel measured in the same run) or as a ratio to NumPy/PyTorch, writes JSON and,
with matplotlib installed, a PNG chart.
"""
import json
import platform
import sys
import time
from pathlib import Path

from bench.cases import CASES, Env
from clgrad import command_line


def _ratio(row, rows, stream_gbs):
    if row["value"] is None:
        return ""
    if row.get("frac_stream") is not None:      # against the streaming kernel timed alongside
        return f"{row['frac_stream']:6.1%} of stream*"
    if row["metric"] == "GB/s" and stream_gbs:
        return f"{row['value'] / stream_gbs:6.1%} of stream"
    peers = {r["impl"]: r for r in rows if r["case"] == row["case"] and r["seconds"]}
    ref = peers.get("numpy") or peers.get("torch cpu")
    if row["impl"] == "clgrad" and "torch cpu" in peers:
        ref = peers["torch cpu"]        # the closest peer: a framework with autograd
    if ref is None or ref is row or not row["seconds"]:
        return ""
    return f"{row['seconds'] / ref['seconds']:6.2f}x {ref['impl']} time"


# ratios of the hybridized rows: (row key, how the note says it)
_RATIO_NOTES = (
    ("host_over_bare", "host {:.2f}x bare enqueue's"),
    ("over_torch", "{:.2f}x torch's eager step"),
    ("over_torch_alternated", "{:.2f}x torch's in alternated 30-step blocks (rounds "
                              "{alternated_rounds})"),
    ("eager_gluon_over", "{:.2f}x faster than eager Gluon"),
    ("eager_over", "{:.1f}x faster than eager; {launches} launches"),
    ("torch_over", "{:.1f}x faster than torch eager"),
    ("speedup", "{:.2f}x faster than eager"),
)


def _notes(r):
    out = []
    if r.get("frac_copy") is not None:      # against the one-in-one-out kernel timed alongside
        out.append(f"{r['frac_copy']:.1%} of y=2*x*")
    if r.get("over_floor") is not None:     # against the bare pyopencl floor timed alongside
        out.append(f"{r['over_floor']:.1f}x bare*")
    if "host_us" in r:
        unit = "ms" if r["metric"] == "ms" else "us/op"
        v = r["host_us"] / 1e3 if unit == "ms" else r["host_us"]
        out.append(f"host CPU {v:.2f} {unit}")
    for key, text in _RATIO_NOTES:
        if r.get(key) is not None:
            out.append(text.format(r[key], **r))
    if r.get("over_hand_written") is not None:
        out.append(f"{r['over_hand_written']:.2f}x the hand-written step; {r['launches']} "
                   "launches")
    if "peak_over_alive" in r:
        out.append(f"peak {r['peak_over_alive']:.2f}x alive ({r['alive_bytes'] / 2**20:.1f} MiB)")
    return "; ".join(out)


def format_table(rows, stream_gbs):
    lines = [f"{'case':34} {'impl':20} {'median':>10} {'rate':>18} {'relative':>24} "
             f"{'ok':>4} {'peak MiB':>9} {'in use MiB':>10}  notes"]
    for r in rows:
        med = f"{r['seconds'] * 1e3:8.3f}ms" if r["seconds"] else "n/a"
        rate = f"{r['value']:10.2f} {r['metric']}" if r["value"] is not None else \
            r.get("note", "")
        peak = f"{r['peak_bytes'] / 2**20:9.1f}" if "peak_bytes" in r else ""
        used = f"{r['in_use_bytes'] / 2**20:10.1f}" if "in_use_bytes" in r else ""
        lines.append(f"{r['case'][:34]:34} {r['impl'][:20]:20} {med:>10} {rate:>18} "
                     f"{_ratio(r, rows, stream_gbs):>24} {'yes' if r['ok'] else 'NO':>4} "
                     f"{peak:>9} {used:>10}  {_notes(r)}".rstrip())
    return "\n".join(lines)


def run(quick=False, only=None, out=sys.stdout):
    env = Env(quick=quick)
    env.stream_gbs = None
    rows = []
    for fn in CASES:
        if only and fn.__name__ not in only and fn.__name__ != "stream_limit":
            continue
        rows.extend(fn(env))
    meta = {"device": env.dev.name, "platform": env.dev.caps.platform,
            "driver": env.dev.caps.driver_version, "compute_units": env.dev.caps.compute_units,
            "host": platform.processor() or platform.machine(), "quick": quick,
            "time": time.strftime("%Y-%m-%d %H:%M:%S"), "stream_gbs": env.stream_gbs}
    return meta, rows


def plot(rows, stream_gbs, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install '.[bench]'): no chart written")
        return None
    bw = [r for r in rows if r["metric"] == "GB/s" and r["value"]]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(bw) + 1.5))
    labels = [f"{r['case']} [{r['impl']}]" for r in bw]
    ax.barh(labels, [r["value"] for r in bw], color=["C0" if r["impl"] == "clgrad" else "C7"
                                                     for r in bw])
    if stream_gbs:
        ax.axvline(stream_gbs, color="C3", ls="--", label="streaming limit")
        ax.legend()
    ax.set_xlabel("GB/s")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _write(path, write):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write(path)


def main(argv=None):
    p = command_line.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes (seconds, for tests)")
    p.add_argument("--only", nargs="*", help="case names to run (the stream limit always runs)")
    p.add_argument("--json", default="bench/results/latest.json",
                   help="where to write JSON ('' for nowhere)")
    p.add_argument("--png", default="bench/results/latest.png", help="where to draw the chart")
    args = p.parse_args(argv)
    unknown = sorted(set(args.only or ()) - {fn.__name__ for fn in CASES})
    if unknown:
        p.error(f"argument --only: no case named {', '.join(unknown)} (the cases: "
                f"{', '.join(fn.__name__ for fn in CASES)})")
    return command_line.run_main("bench", _run_and_write, args)


def _run_and_write(args):
    for path in (args.json, args.png):
        if path:
            command_line.check_writable(path)     # before the benchmarks run, not after them
    meta, rows = run(args.quick, args.only)
    print(f"device: {meta['device']} ({meta['platform']}, driver {meta['driver']}, "
          f"{meta['compute_units']} compute units)")
    print(format_table(rows, meta["stream_gbs"]))
    print("* against the hand-written streaming kernel (d=a*b+c, or y=2*x for the one-in-one-out "
          "pattern) timed right before each repetition (medians of the ratios); other fractions "
          "are against the d=a*b+c limit measured at the start. Tiny-op and tape peers (and the "
          "bare pyopencl floor, 'x bare*') run with their repetitions alternated.")
    if args.json:
        _write(args.json, lambda p: Path(p).write_text(json.dumps({"meta": meta, "rows": rows},
                                                                  indent=1)))
    if args.png:
        _write(args.png, lambda p: plot(rows, meta["stream_gbs"], p))
    failed = [r["case"] for r in rows
              if r["impl"] == "clgrad" and r["seconds"] and not r["ok"]]
    if failed:
        command_line.report("bench", f"clgrad's result differs from the reference in "
                                     f"{', '.join(failed)}")
        return command_line.EXIT_FAILURE
    return 0
