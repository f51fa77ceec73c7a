"""``python -m clgrad.tune``: tune kernel families and manage the tuning database.

    python -m clgrad.tune matmul --dtype float32 --sizes 512,1024,2048 \
        --strategy random --budget 120s
    python -m clgrad.tune elementwise --sizes 4M --strategy greedy --budget 40 --json
    python -m clgrad.tune list | show | clear
"""
import json
import shutil
import sys

from .. import command_line
from ..base import MXNetError
from . import db
from .kernels import FAMILIES, TunableUnavailable, get_tunable

EXIT_UNAVAILABLE = 3
EXIT_NOTHING_WORKED = 4


def _value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _space_override(tunable, param_args, constraint_args):
    """(params, constraints) for ``--param NAME=v1,v2`` and ``--constraint EXPR``, or (None,
    None) when neither is given."""
    if not param_args and not constraint_args:
        return None, None
    space = tunable.space()
    values = {k: list(v) for k, v in space.values.items()}
    for item in param_args or ():
        name, sep, vals = item.partition("=")
        name = name.strip()
        if not sep or not vals.strip():
            raise ValueError(f"--param {item!r}: write NAME=V1,V2,...")
        if name not in values:
            raise ValueError(f"--param {name}: {tunable.name} has no parameter {name!r} "
                             f"(it has {', '.join(values)})")
        values[name] = [_value(v.strip()) for v in vals.split(",") if v.strip()]
    return values, list(space.constraints) + list(constraint_args or ())


def _add_tune_parser(sub, name, cls):
    p = sub.add_parser(name, help=cls.description or f"tune {name}",
                       description=f"Tune the {name} kernels ({cls.description}).")
    p.add_argument("--dtype", default="float32",
                   help=f"element type (one of {', '.join(cls.dtypes)}; default float32)")
    p.add_argument("--sizes", default=None,
                   help="comma-separated problem sizes, e.g. 512,1024 or 256x1024 "
                        f"(default {','.join(cls.default_sizes) or 'none'})")
    p.add_argument("--strategy", default="random",
                   choices=["brute_force", "random", "greedy"],
                   help="search strategy (default random)")
    p.add_argument("--budget", default=None,
                   help="per problem size: a count (50), a time (120s, 5m) or a fraction of "
                        "the space (10%%); default: the whole space")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--iterations", type=int, default=5, help="timed runs per candidate")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before timing")
    p.add_argument("--jobs", type=int, default=None,
                   help="parallel compilations (default min(4, CPUs)); 1 if the driver's "
                        "compiler is not thread-safe")
    p.add_argument("--isolate", action="store_true",
                   help="run each candidate in a child process (a driver crash then costs "
                        "only that candidate)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds allowed per candidate (default 60)")
    p.add_argument("--device", default=None,
                   help="device: 'platform:device' indices or a name substring (default: "
                        "CLGRAD_DEVICE / the default device)")
    p.add_argument("--param", action="append", metavar="NAME=V1,V2",
                   help="replace one parameter's values (repeatable)")
    p.add_argument("--constraint", action="append", metavar="EXPR",
                   help="add a constraint over the parameters (repeatable)")
    p.add_argument("--log-dir", default=None, help="folder of the resumable logs")
    p.add_argument("--no-resume", action="store_true", help="start the logs afresh")
    p.add_argument("--no-store", action="store_true",
                   help="do not write the winners to the tuning database")
    p.add_argument("--top", type=int, default=10, help="rows in the final table")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--quiet", action="store_true",
                   help="no progress; print only the best configurations")
    p.set_defaults(func=_cmd_tune, family=name)


def build_parser():
    parser = command_line.ArgumentParser(
        prog="python -m clgrad.tune",
        description="Tune clgrad's OpenCL kernels for a device and keep the winners in the "
                    "per-device tuning database that the runtime reads.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, cls in FAMILIES.items():
        _add_tune_parser(sub, name, cls)
    p = sub.add_parser("list", help="list the tunable kernel families")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("show", help="show the tuning database")
    p.add_argument("--device", default=None, help="only this device (spec as for tuning)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_show)
    p = sub.add_parser("clear", help="remove tuned entries (and optionally the logs)")
    p.add_argument("--device", default=None, help="only this device (default: all devices)")
    p.add_argument("--kernel", default=None, help="only this kernel (default: all)")
    p.add_argument("--logs", action="store_true", help="also delete the resumable logs")
    p.add_argument("--log-dir", default=None, help="folder of the logs (default: the cache)")
    p.set_defaults(func=_cmd_clear)
    return parser


def _cmd_tune(args, out):
    from .runner import format_table, tune
    from .progress import format_params
    tunable = get_tunable(args.family)
    reason = tunable.unavailable()
    if reason:
        raise TunableUnavailable(reason)
    params, constraints = _space_override(tunable, args.param, args.constraint)
    if params is not None:
        tunable = get_tunable(args.family, params=params,
                              constraints=[str(c) if getattr(c, "serialisable", True) else c
                                           for c in constraints])
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()] if args.sizes else None
    # where the run writes, checked before it rather than after it
    command_line.check_writable(args.log_dir or db.log_root(), folder=True)
    if not args.no_store:
        command_line.check_writable(db.db_path())
    report = tune(tunable, dtype=args.dtype, sizes=sizes, strategy=args.strategy,
                  budget=args.budget, seed=args.seed, device=args.device,
                  iterations=args.iterations, warmup=args.warmup, jobs=args.jobs,
                  isolate=args.isolate, timeout=args.timeout, log_dir=args.log_dir,
                  resume=not args.no_resume, store=not args.no_store,
                  progress=not (args.quiet or args.json))
    if args.json:
        json.dump(report.to_json(args.top), out, indent=1)
        out.write("\n")
    elif args.quiet:
        for r in report.results:
            best = (f"{format_params(r.best['params'])}  {r.best['median_ms']:.4g} ms"
                    if r.best else "no configuration worked")
            out.write(f"{report.family} {report.dtype} {r.problem}: {best}\n")
    else:
        out.write(format_table(report, args.top) + "\n")
    failed = [r.problem for r in report.results if not r.best]
    if failed:
        command_line.report("clgrad.tune", f"no {report.family} configuration worked for "
                                           f"{', '.join(failed)}")
        return EXIT_NOTHING_WORKED
    return 0


def _cmd_list(args, out):
    rows = []
    for name, cls in FAMILIES.items():
        t = cls()
        reason = t.unavailable()
        row = {"family": name, "description": cls.description, "dtypes": list(cls.dtypes),
               "default_sizes": list(cls.default_sizes), "available": reason is None}
        if reason is None:
            space = t.space()
            row.update(kernel=t.kernel, configurations=len(space), space=space.describe(),
                       default=t.default_params())
        else:
            row["reason"] = reason
        rows.append(row)
    if args.json:
        json.dump(rows, out, indent=1)
        out.write("\n")
        return 0
    for row in rows:
        if row["available"]:
            out.write(f"{row['family']:<12} {row['description']}\n"
                      f"{'':<12} {row['configurations']} configurations: {row['space']}\n"
                      f"{'':<12} dtypes {', '.join(row['dtypes'])}; default {row['default']}\n")
        else:
            out.write(f"{row['family']:<12} unavailable: {row['reason']}\n")
    return 0


def _cmd_show(args, out):
    doc = db.entries()
    devices = doc["devices"]
    if args.device is not None:
        from .runner import resolve_device
        key = resolve_device(args.device).caps.key
        devices = {k: v for k, v in devices.items() if k == key}
    if args.json:
        json.dump({"database": str(db.db_path()), "devices": devices}, out, indent=1)
        out.write("\n")
        return 0
    out.write(f"tuning database: {db.db_path()}\n")
    if not devices:
        out.write("  (no tuned entries)\n")
    for key, dev in sorted(devices.items()):
        out.write(f"{dev['name']}  [{dev['platform']}, driver {dev['driver']}, "
                  f"{dev['vendor']}/{dev['type']}]\n")
        for kernel, by_dtype in sorted(dev["kernels"].items()):
            for dname, by_size in sorted(by_dtype.items()):
                for skey, entry in sorted(by_size.items()):
                    extra = "".join(f", {entry[m]:.4g} {u}" for m, u in
                                    (("gflops", "GFLOPS"), ("gbs", "GB/s")) if m in entry)
                    timing = (f" ({entry['median_ms']:.4g} ms on {entry.get('problem', '?')}"
                              f"{extra})" if "median_ms" in entry else "")
                    out.write(f"  {kernel} {dname} {skey}: {entry['params']}{timing}\n")
    return 0


def _cmd_clear(args, out):
    device = None
    if args.device is not None:
        from .runner import resolve_device
        device = resolve_device(args.device)
    n = db.clear(device=device, kernel=args.kernel)
    out.write(f"removed {n} tuned kernel table(s) from {db.db_path()}\n")
    if args.logs:
        from pathlib import Path
        from .log import device_folder
        root = Path(args.log_dir) if args.log_dir else db.log_root()
        target = root / device_folder(device.caps) if device is not None else root
        if target.exists():
            if args.kernel:
                removed = 0
                for f in target.rglob(f"{args.kernel}-*.jsonl"):
                    f.unlink()
                    removed += 1
                out.write(f"removed {removed} log(s) under {target}\n")
            else:
                shutil.rmtree(target)
                out.write(f"removed the logs under {target}\n")
    return 0


def main(argv=None, out=None):
    out = out if out is not None else sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, out)
    except TunableUnavailable as e:
        command_line.report("clgrad.tune", e)
        return EXIT_UNAVAILABLE
    except (MXNetError, ValueError) as e:   # bad sizes, dtypes, budgets, devices ...
        command_line.report("clgrad.tune", e)
        return command_line.EXIT_USAGE
    except KeyboardInterrupt:
        command_line.report("clgrad.tune", "interrupted")
        return command_line.EXIT_INTERRUPTED
    except command_line.expected_failures() as e:   # an unwritable database or logs, the driver
        command_line.report("clgrad.tune", e)
        return command_line.EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
