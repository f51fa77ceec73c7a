"""The resumable tuning log: one JSON-lines file per (device, kernel, dtype, problem).

Line 1 is a header naming what was tuned; every later line is one configuration's record,
appended (and flushed) as soon as it is measured, so a crash or Ctrl-C loses at most the candidate
in flight. A candidate is announced with a ``started`` line before it runs; a ``started`` line
without a result on resume means the process died while that candidate ran (a driver crash), and
it is recorded as a ``runtime`` failure instead of being retried forever. A truncated last line
(the process died mid-write) is cut off on resume.
"""
import hashlib
import json
import os
import re
import time
import warnings
from pathlib import Path

SCHEMA = 1
STATUSES = ("ok", "constraints", "compile", "runtime", "verify", "timeout")
# Header fields that must match for a log to be resumed.
_IDENTITY = ("schema", "device_key", "kernel", "dtype", "problem", "params_order")


class TuningLogWarning(UserWarning):
    """A tuning log could not be resumed as it was (mismatch or damaged lines)."""


def _slug(text, limit=60):
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
    return s[:limit] or "x"


def device_folder(caps):
    """A readable, unique folder name for a device key (platform, device, driver)."""
    digest = hashlib.sha256(caps.key.encode()).hexdigest()[:10]
    return f"{_slug(caps.name, 40)}-{digest}"


def log_path(root, caps, kernel, dtype, problem):
    name = f"{_slug(kernel)}-{_slug(dtype)}-{_slug(problem)}.jsonl"
    return Path(root) / device_folder(caps) / name


def read_records(path):
    """(header, records, good_bytes, damaged): the parsed lines of a log without resuming it."""
    raw = Path(path).read_bytes()
    end = raw.rfind(b"\n") + 1        # bytes after the last newline are a partial line
    lines = raw[:end].split(b"\n")[:-1]
    header, records, damaged = None, [], 0
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError
        except ValueError:
            damaged += 1
            continue
        if i == 0:
            header = obj
        else:
            records.append(obj)
    return header, records, end, damaged + (1 if end < len(raw) else 0)


def final_results(records):
    """Configuration records that are final, in order, keyed by ``params`` (as JSON text).

    A ``started`` line with no later result becomes a ``runtime`` failure (the process died
    while the candidate ran); an ``interrupted`` line cancels its ``started`` (Ctrl-C: retry)."""
    done, pending, order = {}, {}, []
    for r in records:
        p = r.get("params")
        if not isinstance(p, dict):
            continue
        k = json.dumps(p, sort_keys=True)
        st = r.get("status")
        if st == "started":
            pending[k] = r
        elif st == "interrupted":
            pending.pop(k, None)
        elif st in STATUSES:
            pending.pop(k, None)
            if k not in done:
                order.append(k)
            done[k] = r
    crashed = []
    for k, r in pending.items():
        if k not in done:
            rec = {"params": r["params"], "status": "runtime",
                   "error": "the tuning process ended while this candidate ran (driver crash?)",
                   "timestamp": time.time()}
            done[k] = rec
            order.append(k)
            crashed.append(rec)
    return {k: done[k] for k in order}, crashed


class TuningLog:
    """An open log: ``append(record)`` writes one line and flushes it."""

    def __init__(self, path, header, resume=True):
        self.path = Path(path)
        self.header = header
        self.previous = {}      # params JSON -> final record, from a resumed log
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self._resume()
        else:
            self._start()

    def _start(self):
        self._f = open(self.path, "w", encoding="utf-8")
        self._write(self.header)

    def _resume(self):
        old_header, records, good, damaged = read_records(self.path)
        mismatch = self._mismatch(old_header)
        if mismatch:
            aside = self.path.with_name(f"{self.path.stem}.stale-{int(time.time())}.jsonl")
            os.replace(self.path, aside)
            warnings.warn(f"tuning log {self.path} was not resumed ({mismatch}); it was moved to "
                          f"{aside} and tuning starts over", TuningLogWarning, stacklevel=3)
            self._start()
            return
        if damaged:
            warnings.warn(f"tuning log {self.path}: ignored {damaged} damaged or truncated "
                          "line(s)", TuningLogWarning, stacklevel=3)
        with open(self.path, "r+b") as f:   # cut a partial last line so appends start cleanly
            f.truncate(good)
        self.previous, crashed = final_results(records)
        self._f = open(self.path, "a", encoding="utf-8")
        for rec in crashed:
            self._write(rec)

    def _mismatch(self, old):
        if old is None:
            return "its header is missing or damaged"
        for field in _IDENTITY:
            if old.get(field) != self.header.get(field):
                return f"its {field} is {old.get(field)!r}, now {self.header.get(field)!r}"
        return None

    def _write(self, obj):
        self._f.write(json.dumps(obj, sort_keys=False) + "\n")
        self._f.flush()

    def append(self, record):
        self._write(record)

    def close(self):
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
