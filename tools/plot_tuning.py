#!/usr/bin/env python3
"""Plot a clgrad tuning log: the time of every configuration against each of its parameters.

    python tools/plot_tuning.py ~/.cache/clgrad/tuning/logs/<device>/<kernel>-<dtype>-<size>.jsonl
    python tools/plot_tuning.py LOG.jsonl -o matmul.png --metric gflops

One panel per parameter: each working configuration is a dot at its value of that parameter
(spread a little sideways so equal values stay visible), the best one a star; failed candidates
are counted per value along the top, by kind. Needs matplotlib (``pip install 'clgrad[bench]'``);
reading the log needs nothing else.
"""
import argparse
import json
import math
import sys
from pathlib import Path

_FAILURES = ("constraints", "compile", "runtime", "verify", "timeout")


def read_log(path):
    """(header, final records) of a tuning log; later results of a configuration win, partial
    and damaged lines are skipped, ``started``/``interrupted`` markers are not results."""
    header, final = None, {}
    with open(path, "rb") as f:
        raw = f.read()
    end = raw.rfind(b"\n") + 1
    for i, line in enumerate(raw[:end].split(b"\n")[:-1]):
        try:
            obj = json.loads(line.decode("utf-8"))
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        if i == 0:
            header = obj
            continue
        params = obj.get("params")
        if isinstance(params, dict) and obj.get("status") in ("ok",) + _FAILURES:
            final[json.dumps(params, sort_keys=True)] = obj
    if header is None:
        raise ValueError(f"{path} has no tuning-log header line")
    return header, list(final.values())


def _value_of(rec, metric):
    if metric == "time":
        return rec.get("median_ms")
    return rec.get(metric)


def plot(header, records, out, metric="time"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(header.get("params_order") or (records[0]["params"] if records else []))
    if not names:
        raise ValueError("the log names no parameters")
    ok = [r for r in records if r.get("status") == "ok" and _value_of(r, metric) is not None]
    failed = [r for r in records if r.get("status") in _FAILURES]
    lower_is_better = metric == "time"
    best = None
    if ok:
        best = (min if lower_is_better else max)(ok, key=lambda r: _value_of(r, metric))
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    ylabel = {"time": "median time (ms)", "gflops": "GFLOPS", "gbs": "GB/s"}.get(metric, metric)
    for ax, name in zip(axes.ravel(), names):
        values = []
        for r in records:
            v = r["params"].get(name)
            if v not in values:
                values.append(v)
        try:
            values.sort()
        except TypeError:
            values.sort(key=str)
        pos = {repr(v): i for i, v in enumerate(values)}
        xs, ys, best_x = [], [], None
        for j, r in enumerate(ok):
            # a fixed sideways spread (golden-ratio sequence) keeps equal values apart
            xs.append(pos[repr(r["params"].get(name))] + ((j * 0.6180339) % 1 - 0.5) * 0.5)
            ys.append(_value_of(r, metric))
            if r is best:
                best_x = xs[-1]
        ax.scatter(xs, ys, s=12, alpha=0.6, color="tab:blue", label="ok")
        if best is not None:
            ax.scatter([best_x], [_value_of(best, metric)],
                       marker="*", s=160, color="tab:orange", zorder=3, label="best")
        for v in values:
            kinds = {}
            for r in failed:
                if r["params"].get(name) == v:
                    kinds[r["status"]] = kinds.get(r["status"], 0) + 1
            if kinds:
                ax.annotate("\n".join(f"{n} {k}" for k, n in sorted(kinds.items())),
                            (pos[repr(v)], 1.01), xycoords=("data", "axes fraction"),
                            ha="center", va="bottom", fontsize=7, color="tab:red")
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels([str(v) for v in values], rotation=45 if len(values) > 6 else 0)
        ax.set_xlim(-0.6, len(values) - 0.4)
        ax.set_xlabel(name)
        ax.set_ylabel(ylabel)
        if ys and min(ys) > 0 and max(ys) / min(ys) > 20:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    dev = header.get("device", {})
    title = (f"{header.get('kernel', '?')} {header.get('dtype', '')} {header.get('problem', '')}"
             f" on {dev.get('name', header.get('device_key', '?'))}: {len(ok)} ok, "
             f"{len(failed)} failed")
    if best is not None:
        title += "\nbest " + " ".join(f"{k}={v}" for k, v in best["params"].items())
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot time against parameters from a clgrad "
                                             "tuning log (.jsonl) as a PNG.")
    ap.add_argument("log", help="a tuning log written by python -m clgrad.tune")
    ap.add_argument("-o", "--out", default=None, help="output PNG (default: next to the log)")
    ap.add_argument("--metric", default="time", choices=["time", "gflops", "gbs"],
                    help="what to plot on the y axis (default: median time)")
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_tuning.py needs matplotlib, which is not installed: "
              "pip install 'clgrad[bench]' (or pip install matplotlib)", file=sys.stderr)
        return 2
    try:
        header, records = read_log(args.log)
    except (OSError, ValueError) as e:
        print(f"plot_tuning.py: cannot read {args.log}: {e}", file=sys.stderr)
        return 1
    out = args.out or str(Path(args.log).with_suffix(".png"))
    plot(header, records, out, args.metric)
    print(f"wrote {out} ({sum(r.get('status') == 'ok' for r in records)} working "
          f"configurations of {len(records)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
