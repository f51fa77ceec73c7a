"""The device self-check: what a driver claims, verified by running it.

A driver's description of itself is a claim. PoCL 3.0 from PyPI (LLVM 14) on AMD Zen 4 reports a
preferred float vector width of 16, compiles kernels for a CPU without AVX-512 and links a builtin
library built with it: every builtin called on a 16-wide vector crosses an ABI the two halves
disagree on, and the build log says so ("... changes the ABI") before the process aborts. So on
the first use of a device and driver clgrad runs small probe kernels in the sandbox process
(``isolation``) for every vector width (1, 2, 4, 8, 16) of every storage type its templates use
(float, double, int, long, half) and every class of operation they apply to vectors (``CLASSES``),
plus the group sizes and local memory the launch profiles use and float64 arithmetic. A probe
whose build log warns about the ABI, whose kernel is missing, whose result is wrong, or whose run
kills or hangs the child is excluded, with the reason. The kernels then use the widest vector that
passed for what they call (``vector_width``), and ``Device.caps`` keeps only the verified part of
the claims.

All probes are one program: one build, one child process, when the driver is sound. An
unattributable failure (a crash while building) splits the probes in halves until the culprit is
alone. The result is cached on disk next to the compiled kernels (checksummed, written atomically,
keyed by device and driver, and by the probe plan), so later processes pay a file read.
``python -m clgrad info`` shows it; ``info --recheck`` runs it again. ``CLGRAD_SELFCHECK=0`` trusts
the claims (debugging); ``CLGRAD_SELFCHECK_INJECT`` (``action:probe-regex`` pairs, ``;``-separated;
actions abi, crash, hang, missing, wrong) makes probes fail on purpose, for tests.
"""
import datetime
import hashlib
import json
import os
import re
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from . import isolation
from .probes import (_EXPR, CLASSES, KINDS, WIDTHS, _COMPUTE_KIND, _group_claims,  # noqa: F401
                     _vector_probe, plan, render, smaller, storage_kind)
from .program_cache import device_folder, write_atomic

VERSION = 1


class SelfCheckWarning(UserWarning):
    """The self-check could not run; the driver's claims are used as they are."""


@dataclass
class SelfCheck:
    """What the self-check found for one device and driver."""

    key: str
    checked: bool                       # False: the claims are trusted (see ``note``)
    widths: dict = field(default_factory=dict)      # kind -> class -> verified widths
    excluded: list = field(default_factory=list)    # [(probe, why)]
    fp64: bool = True
    max_wg: int = 0                     # 0: not checked
    local_mem: int = 0
    seconds: float = 0.0
    created: str = ""
    note: str = ""

    def table(self):
        """The verified (kind, class, width) triples, or None when nothing was checked."""
        if not self.checked:
            return None
        return frozenset((k, c, w) for k, cls in self.widths.items() for c, ws in cls.items()
                         for w in ws)

    def to_json(self):
        return {"key": self.key, "checked": self.checked, "widths": self.widths,
                "excluded": [list(e) for e in self.excluded], "fp64": self.fp64,
                "max_wg": self.max_wg, "local_mem": self.local_mem, "seconds": self.seconds,
                "created": self.created, "note": self.note}

    @classmethod
    def from_json(cls, d):
        return cls(key=d["key"], checked=bool(d["checked"]),
                   widths={k: {c: [int(w) for w in ws] for c, ws in v.items()}
                           for k, v in d["widths"].items()},
                   excluded=[tuple(e) for e in d["excluded"]], fp64=bool(d["fp64"]),
                   max_wg=int(d["max_wg"]), local_mem=int(d["local_mem"]),
                   seconds=float(d["seconds"]), created=str(d["created"]), note=str(d["note"]))


# --- running them ------------------------------------------------------------------------------
def _single(p):
    """``p`` split into one probe per class."""
    return [_vector_probe(p.kind, p.width, (c,)) for c in p.classes]


def _failed(p, why, outcomes):
    """Record that ``p`` failed as a whole; a probe of several classes is split instead (the
    returned probes run next), so that the failure is pinned on a class."""
    if len(p.classes) > 1:
        return _single(p)
    for label in p.labels():
        outcomes[label] = why
    return []


def _settle(p, frame, where, outcomes):
    """Record what ``frame`` (None: no answer) says about ``p``; returns probes still to run."""
    if frame is None:
        return _failed(p, "no result came back", outcomes)
    status = frame.get("status")
    labels = where[p.name][2]
    if status == "skipped":     # another probe in the same program was at fault
        return [p]
    if status == "abi":
        warned = dict(frame["warnings"])
        hit = {label: warned[line] for label, (line, _, _) in labels.items() if line in warned}
        if len(labels) == 1 and not hit:    # one class: whatever line the warning is on
            hit = {next(iter(labels)): frame["warnings"][0][1]}
        for label, text in hit.items():
            outcomes[label] = f"the build log warns about the ABI: {text}"
        rest = [c for c, label in zip(p.classes, p.labels()) if label not in hit]
        return [_vector_probe(p.kind, p.width, (c,)) for c in rest]
    if status == "create_failed":
        return _failed(p, f"its kernel cannot be created: {frame['why']}", outcomes)
    if status == "launch_failed":
        return _failed(p, f"its launch failed: {frame['why']}", outcomes)
    out = np.frombuffer(frame["output"], dtype=p.out_dtype).astype(np.float64)
    want = p.expected.astype(np.float64)
    for label, (_, start, end) in labels.items():
        isz = np.dtype(p.out_dtype).itemsize
        got, ref = out[start // isz:end // isz], want[start // isz:end // isz]
        if p.kind == "group":
            got, ref = out[:want.size], want
        bad = ~(np.abs(got - ref) <= p.tol * (1 + np.abs(ref)))
        if bad.any():
            i = int(np.argmax(bad))
            outcomes[label] = (f"wrong result: {int(bad.sum())} of {ref.size} values differ "
                               f"(element {i}: {float(got[i]):g}, expected {float(ref[i]):g})")
        else:
            outcomes[label] = None
    return []


def _run(address, probes, outcomes, inject, seconds):
    """Run ``probes`` in the sandbox, filling ``outcomes`` (label -> None or why not), and
    narrowing down every failure that cannot be pinned on one class at once."""
    todo = list(probes)
    rounds = 0
    while todo:
        rounds += 1
        if rounds > 4 * len(probes) + 20:       # cannot happen; never loop for ever
            for p in todo:
                for label in p.labels():
                    outcomes.setdefault(label, "the self-check did not settle it")
            return
        source, where = render(todo, uuid.uuid4().hex)
        frames = {}

        def on_frame(f):
            if "probe" in f:
                frames[f["probe"]] = f
        msg = {"op": "probe", "device": address, "source": source, "inject": inject,
               "probes": [{"name": p.name, "kernel": p.kernel, "lines": where[p.name][:2],
                           "labels": where[p.name][2], "input": p.input.tobytes(),
                           "dtype": p.input.dtype.str,
                           "out_bytes": p.expected.size * np.dtype(p.out_dtype).itemsize,
                           "itemsize": np.dtype(p.out_dtype).itemsize,
                           "global": p.global_size, "local": p.local} for p in todo]}
        try:
            reply = isolation.request(msg, seconds, on_frame)
        except isolation.SandboxError as e:
            if e.stage == "start":
                raise
            nxt = []
            for p in todo:
                if p.name in frames:
                    nxt += _settle(p, frames[p.name], where, outcomes)
            rest = [p for p in todo if p.name not in frames]
            m = re.match(r"running probe (.+)$", e.stage)
            culprit = next((p for p in rest if m and p.name == m.group(1)), None)
            if culprit is not None:
                nxt += _failed(culprit, f"the child process {e.reason}", outcomes)
                todo = [p for p in rest if p is not culprit] + nxt
                continue
            _split(address, rest, outcomes, inject, seconds,
                   f"the child process {e.reason} while {e.stage}")
            todo = nxt
            continue
        if reply.get("status") == "error":
            raise isolation.SandboxError(f"the self-check failed: {reply['why']}", "probe",
                                         reply["why"])
        if reply.get("status") == "build_failed":
            _split(address, todo, outcomes, inject, seconds,
                   "it does not build: " + _first_error(reply.get("log", "")))
            return
        nxt = []
        for p in todo:
            nxt += _settle(p, frames.get(p.name), where, outcomes)
        todo = nxt


def _split(address, todo, outcomes, inject, seconds, why):
    """Probes that failed together, for a reason no single one of them was named for."""
    if len(todo) == 1:
        more = _failed(todo[0], why, outcomes)
        if more:
            _run(address, more, outcomes, inject, seconds)
        return
    half = len(todo) // 2
    _run(address, todo[:half], outcomes, inject, seconds)
    _run(address, todo[half:], outcomes, inject, seconds)


def _first_error(log):
    for line in log.splitlines():
        if "error" in line.lower():
            return line.strip()
    return (log.strip().splitlines() or ["(empty log)"])[0]


def run_check(device, claims):
    """Run every probe for ``device`` (whose unlimited claims are ``claims``) now."""
    t0 = time.monotonic()
    probes = plan(claims)
    outcomes = {}
    inject = os.environ.get("CLGRAD_SELFCHECK_INJECT", "")
    seconds = min(isolation.timeout(), 120.0)
    address = isolation.device_address(device)
    _run(address, probes, outcomes, inject, seconds)
    more = smaller(claims, outcomes)
    if more:
        _run(address, more, outcomes, inject, seconds)
        probes += more
    widths = {}
    excluded = []
    for p in probes:
        for cls, label in zip(p.classes or ("",), p.labels()):
            why = outcomes.get(label, "not run")
            if p.kind in KINDS:
                ws = widths.setdefault(p.kind, {}).setdefault(cls, [])
                if why is None:
                    ws.append(p.width)
            if why is not None:
                excluded.append((label, why))
    passed = {p.name: p for p in probes if p.kind == "group" and outcomes.get(p.name) is None}
    wgs = [p.width for name, p in passed.items() if name.startswith("work-group")]
    lms = [int(name.split()[2]) for name in passed if name.startswith("local memory")]
    if _group_claims(claims)[1] in lms:       # all of it passed: not even rounded to words
        lms.append(claims.local_mem)
    return SelfCheck(key=claims.key, checked=True, widths=widths, excluded=excluded,
                     fp64=claims.fp64 and 1 in widths.get("double", {}).get("arith", []),
                     max_wg=max(wgs) if wgs else 1, local_mem=max(lms) if lms else 0,
                     seconds=round(time.monotonic() - t0, 3),
                     created=datetime.datetime.now().isoformat(timespec="seconds"))


# --- the cache ---------------------------------------------------------------------------------
def _identity(device, claims):
    """What a cached result must match: device and driver, platform version, probe plan."""
    plat = device.cl_device.platform.version.strip()
    # what decides the probes (not the probes themselves: building them costs milliseconds)
    what = json.dumps([sorted(_EXPR.items()), sorted(KINDS.items()), WIDTHS, claims.fp64,
                       _group_claims(claims)])
    digest = hashlib.sha256(what.encode()).hexdigest()[:16]
    return {"key": claims.key, "platform_version": plat, "version": VERSION, "plan": digest}


def _path(claims):
    folder = device_folder(claims.key)
    return folder / "selfcheck.json" if folder is not None else None


def _load(path, ident):
    try:
        doc = json.loads(path.read_text())
        body = doc["body"]
        if hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() != \
                doc["checksum"] or body["identity"] != ident:
            return None
        return SelfCheck.from_json(body["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(path, ident, result):
    body = {"identity": ident, "result": result.to_json()}
    doc = {"checksum": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
           "body": body}
    try:
        write_atomic(path, json.dumps(doc, indent=1).encode())
    except OSError:
        pass    # the cache is an optimisation


_memo = {}
_lock = threading.Lock()


def check(device, claims, recheck=False):
    """The self-check result for ``device`` (claims ``claims``): from this process's memory, the
    disk cache, or a fresh run in the sandbox (always fresh with ``recheck``)."""
    if os.environ.get("CLGRAD_SELFCHECK", "1").strip() in ("0", "no", "false"):
        return SelfCheck(claims.key, False, note="not checked: CLGRAD_SELFCHECK=0")
    if not isolation.available():
        return SelfCheck(claims.key, False, note="not checked: no sandbox process here")
    with _lock:
        got = None if recheck else _memo.get(claims.key)
        if got is not None:
            return got
        ident = _identity(device, claims)
        path = _path(claims)
        if path is not None and not recheck:
            got = _load(path, ident)
        if got is None:
            try:
                got = run_check(device, claims)
            except isolation.SandboxError as e:
                warnings.warn(f"clgrad: the device self-check of {device.name} could not run "
                              f"({e}); using what the driver reports as it is",
                              SelfCheckWarning, stacklevel=3)
                return SelfCheck(claims.key, False, note=f"not checked: {e}")
            if path is not None:
                _store(path, ident, got)
        _memo[claims.key] = got
        return got


def forget(claims):
    """Drop the cached result for this device and driver (memory and disk)."""
    with _lock:
        _memo.pop(claims.key, None)
    path = _path(claims)
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass


def verified_caps(claims, result):
    """``claims`` with what the self-check could not verify taken away."""
    if not result.checked:
        return claims
    return replace(claims, fp64=claims.fp64 and result.fp64,
                   max_wg=min(claims.max_wg, max(1, result.max_wg)),
                   local_mem=min(claims.local_mem, result.local_mem),
                   verified_vectors=result.table())


def verified(caps, kind, cls, width):
    """Whether ``cls`` operations on ``width``-wide vectors of ``kind`` passed the self-check
    (scalars always do: they are the plain variant every kernel falls back to)."""
    table = caps.verified_vectors
    if table is None or width == 1:
        return True
    if cls not in KINDS.get(kind, (None, None, None, ()))[3]:
        if kind in _COMPUTE_KIND:       # half computes in float
            return verified(caps, _COMPUTE_KIND[kind], cls, width)
        return False
    return (kind, cls, width) in table


def vector_width(device, dtype, classes=("arith",), want=None):
    """The widest vector (1, 2, 4, 8 or 16 elements) of ``dtype`` on which every operation class
    in ``classes`` verified on ``device`` (a Device, or its caps), within ``want`` (default: the
    device's preferred width for that type) and ``CLGRAD_DEVICE_LIMITS``'s vector_width."""
    caps = getattr(device, "caps", device)
    kind = storage_kind(dtype)
    if want is None:
        want = {"double": caps.pref_vec_double, "int": caps.pref_vec_int,
                "long": caps.pref_vec_int}.get(kind, caps.pref_vec_float)
    limit = min(int(want), caps.max_vector_width)
    classes = tuple(classes) + ("arith",)
    for w in reversed(WIDTHS):
        if w <= limit and all(verified(caps, kind, c, w) for c in classes):
            return w
    return 1
