"""A tuning run: search one family's space for each problem size, log every candidate, and store
the winners in the tuning database."""
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

from .. import dtypes as dt
from . import db
from . import strategies as S
from .bench import Evaluator, IsolatedEvaluator
from .kernels import Tunable, TunableUnavailable, get_tunable
from .log import TuningLog, log_path
from .progress import Progress, format_params

__all__ = ["tune", "TuneReport", "SizeResult", "format_table", "resolve_device"]


@dataclasses.dataclass
class SizeResult:
    """What tuning one problem size found."""

    size: tuple
    problem: str
    size_key: str
    best: dict            # the best ``ok`` record, or None
    counts: dict          # status -> number of candidates (resumed ones included)
    measured: int         # candidates measured in this run
    resumed: int          # results taken from the log of an earlier run
    log: str
    records: list         # every final record, in the order they were obtained
    stored: list = dataclasses.field(default_factory=list)   # size keys written to the database

    def top(self, n=10):
        ok = [r for r in self.records if r.get("status") == "ok"]
        return sorted(ok, key=lambda r: r["median_ms"])[:n]

    def to_json(self, top=10):
        return {"problem": self.problem, "size": list(self.size), "size_key": self.size_key,
                "best": self.best, "counts": self.counts, "measured": self.measured,
                "resumed": self.resumed, "log": self.log, "stored_as": self.stored,
                "top": self.top(top)}


@dataclasses.dataclass
class TuneReport:
    family: str
    kernel: str
    device: dict
    dtype: str
    strategy: str
    budget: str
    seed: int
    space_size: int
    database: str
    results: list

    def to_json(self, top=10):
        d = dataclasses.asdict(self)
        d["results"] = [r.to_json(top) for r in self.results]
        return d


def device_info(caps):
    d = dataclasses.asdict(caps)
    d.pop("extensions", None)
    d.pop("verified_vectors", None)     # the device self-check's table (python -m clgrad info)
    d["max_work_item_sizes"] = list(d["max_work_item_sizes"])
    d["key"] = caps.key
    d["vendor_type"] = db.vendor_type(caps)
    return d


def resolve_device(device):
    from ..runtime import all_devices, default_device
    if device is None:
        return default_device()
    if isinstance(device, str):
        from ..runtime.device import match_device
        return match_device(device, all_devices(), "--device")
    return getattr(device, "base", device)


def _cost(rec):
    return rec["median_ms"] if rec.get("status") == "ok" else math.inf


def _clgrad_version():
    try:
        from .. import __version__
        return __version__
    except ImportError:   # pragma: no cover
        return "unknown"


def tune(family, dtype="float32", sizes=None, strategy="random", budget=None, seed=0,
         device=None, iterations=5, warmup=1, jobs=None, isolate=False, timeout=60.0,
         log_dir=None, resume=True, store=True, progress=True, stream=None, params=None,
         constraints=None):
    """Tune ``family`` (a name from ``kernels.FAMILIES`` or a Tunable) and return a TuneReport.

    ``budget`` ("50", "120s", "10%", or a ``strategies.Budget``) applies to each problem size.
    ``params``/``constraints`` replace the family's search space. The winners go to the
    database unless ``store`` is false: each size's winner under its size bucket, and the
    winner of the largest size also under the bucket ``"default"``.
    """
    tunable = family if isinstance(family, Tunable) else get_tunable(
        family, params=params, constraints=constraints)
    reason = tunable.unavailable()
    if reason:
        raise TunableUnavailable(reason)
    device = resolve_device(device)
    dtype = dt.as_dtype(dtype)
    if dtype.name not in tunable.supported_dtypes():
        raise TunableUnavailable(f"{tunable.name} is tuned for "
                                 f"{', '.join(tunable.supported_dtypes())}, not {dtype}")
    dt.check_device(dtype, device)
    space = tunable.space()
    if len(space) == 0:
        raise TunableUnavailable(f"the {tunable.name} search space is empty: no configuration "
                                 f"meets the constraints ({space.describe()})")
    strategy = S.ALIASES.get(strategy, strategy)
    S.get(strategy)
    if not isinstance(budget, S.Budget):
        budget = S.Budget.parse(budget)
    sizes = [tunable.parse_size(s) if isinstance(s, str) else tuple(s)
             for s in (sizes or tunable.default_sizes)]
    if not sizes:
        raise ValueError(f"give at least one problem size for {tunable.name}")
    if jobs is None:
        import os
        jobs = max(1, min(4, os.cpu_count() or 1))
    log_dir = Path(log_dir) if log_dir is not None else db.log_root()
    stream = stream if stream is not None else sys.stderr
    caps = device.caps
    results = []
    for size in sizes:
        results.append(_tune_size(tunable, device, dtype, size, space, strategy, budget, seed,
                                  iterations, warmup, jobs, isolate, timeout, log_dir, resume,
                                  progress, stream))
    if store:
        _store_winners(tunable, caps, dtype, results)
    return TuneReport(family=tunable.name, kernel=tunable.kernel, device=device_info(caps),
                      dtype=dtype.name, strategy=strategy, budget=str(budget), seed=seed,
                      space_size=len(space), database=str(db.db_path()) if store else None,
                      results=results)


def _tune_size(tunable, device, dtype, size, space, strategy, budget, seed, iterations, warmup,
               jobs, isolate, timeout, log_dir, resume, progress, stream):
    caps = device.caps
    problem = tunable.label(size)
    header = {"schema": 1, "device_key": caps.key, "device": device_info(caps),
              "kernel": tunable.kernel, "family": tunable.name, "dtype": dtype.name,
              "problem": problem, "size": list(size), "size_key": tunable.size_key(size),
              "params_order": list(space.names), "space": space.to_json(),
              "strategy": strategy, "seed": seed, "clgrad_version": _clgrad_version(),
              "created": time.time()}
    path = log_path(log_dir, caps, tunable.kernel, dtype.name, problem)
    results = {}
    order = []
    measured = 0
    log = TuningLog(path, header, resume=resume)
    for k, rec in log.previous.items():
        results[k] = rec
        order.append(k)
    resumed = len(results)
    cls = IsolatedEvaluator if isolate else Evaluator
    evaluator = cls(tunable, device, dtype, size, seed=seed, iterations=iterations,
                    warmup=warmup, timeout=timeout, jobs=jobs)
    budget.begin(len(space))
    total = len(space) if budget.limit is None and budget.seconds is None else \
        (min(budget.limit, len(space)) if budget.limit is not None else None)
    bar = Progress(total=total, desc=f"{tunable.name} {dtype.name} {problem}",
                   enabled=progress, stream=stream)
    best = [min((r for r in results.values() if r.get("status") == "ok"), key=_cost,
                default=None)]

    def evaluate_batch(configs):
        nonlocal measured
        todo = [c for c in configs if json.dumps(c, sort_keys=True) not in results]
        evaluator.prefetch(todo)
        costs = []
        for c in configs:
            k = json.dumps(c, sort_keys=True)
            rec = results.get(k)
            if rec is None:
                reason = evaluator.fit_error(c)
                counted = not reason
                if reason:    # does not fit: recorded, costs no budget
                    rec = {"params": dict(c), "status": "constraints", "error": reason,
                           "timestamp": time.time()}
                else:
                    budget.charge()
                    try:
                        rec = evaluator.measure(c, on_start=lambda r: log.append(
                            {"params": r["params"], "status": "started",
                             "timestamp": time.time()}))
                    except (KeyboardInterrupt, TunableUnavailable):
                        # not the candidate's fault: it is tried again on the next run
                        log.append({"params": dict(c), "status": "interrupted",
                                    "timestamp": time.time()})
                        raise
                    measured += 1
                log.append(rec)
                results[k] = rec
                order.append(k)
                if rec.get("status") == "ok" and (best[0] is None or
                                                  rec["median_ms"] < best[0]["median_ms"]):
                    best[0] = rec
                bar.update(rec, best[0], counted)
            costs.append(_cost(rec))
        return costs

    default = tunable.default_for(device, dtype, size)
    try:
        S.search(strategy, space, evaluate_batch, seed=seed, batch=max(4, 2 * jobs),
                 start=default if default in space else None)
    finally:
        bar.close()
        evaluator.close()
        log.close()
    records = [results[k] for k in order]
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return SizeResult(size=tuple(size), problem=problem, size_key=tunable.size_key(size),
                      best=best[0], counts=counts, measured=measured, resumed=resumed,
                      log=str(path), records=records)


def _store_winners(tunable, caps, dtype, results):
    by_bucket = {}
    for r in results:
        if r.best is None:
            continue
        cur = by_bucket.get(r.size_key)
        if cur is None or math.prod(r.size) > math.prod(cur.size):
            by_bucket[r.size_key] = r
    if not by_bucket:
        return
    largest = max(by_bucket.values(), key=lambda r: math.prod(r.size))
    plan = [(k, r) for k, r in by_bucket.items()]
    if "default" not in by_bucket:
        plan.append(("default", largest))
    for key, r in plan:
        info = {"median_ms": r.best["median_ms"], "problem": r.problem, "family": tunable.name}
        for m in ("gflops", "gbs"):
            if m in r.best:
                info[m] = r.best[m]
        db.store(caps, tunable.kernel, dtype, key, r.best["params"], info)
        r.stored.append(key)


def format_table(report, top=10):
    """The final table of a report, as text."""
    lines = [f"{report.family} ({report.kernel}) on {report.device['name']} "
             f"[{report.device['platform']}, driver {report.device['driver_version']}], "
             f"{report.dtype}, strategy {report.strategy}, budget {report.budget}, "
             f"seed {report.seed}, {report.space_size} configurations in the space"]
    for r in report.results:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r.counts.items()))
        lines.append("")
        lines.append(f"problem {r.problem} (size bucket {r.size_key!r}): {r.measured} measured, "
                     f"{r.resumed} from the log; {counts or 'nothing evaluated'}")
        rows = r.top(top)
        if not rows:
            lines.append("  no configuration worked")
            continue
        names = list(rows[0]["params"])
        metric = next((m for m in ("gflops", "gbs") if m in rows[0]), None)
        head = ["#"] + names + ["median ms"] + ([{"gflops": "GFLOPS", "gbs": "GB/s"}[metric]]
                                                if metric else [])
        body = []
        for i, rec in enumerate(rows, 1):
            row = [str(i)] + [str(rec["params"].get(n)) for n in names] + \
                [f"{rec['median_ms']:.4g}"]
            if metric:
                row.append(f"{rec.get(metric, float('nan')):.4g}")
            body.append(row)
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)))
        for row in body:
            lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
        lines.append(f"  best: {format_params(r.best['params'])}  ({r.best['median_ms']:.4g} ms)"
                     + (f"  -> stored as {', '.join(r.stored)}" if r.stored else ""))
    return "\n".join(lines)

