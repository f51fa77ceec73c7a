"""The store of tuned kernel parameters: a per-device database that the runtime reads and the
kernel-tuning tool (``clgrad.tune``) writes, through the public functions here.

Kernel code asks ``params_for(device, kernel, dtype, size_key, default)`` when it renders a kernel.
The answer comes from the first level that has an entry, in this order:

1. the user database, this exact device (platform, device name, driver version);
2. the user database, the same platform and device name under another driver version;
3. the user database, another device of the same vendor and type (e.g. ``NVIDIA/gpu``);
4. the shipped defaults (``runtime.shipped``): vendor/type, then ``*/type``, then ``*/*``;
5. the caller's ``default``.

Within a level, an entry for the exact dtype and size bucket wins over the bucket ``"default"``,
which wins over the dtype ``"*"``. Entries borrowed from another device (levels 2-4) are used only
when the family's fit check (``register_fit_check``) accepts them on this device, because what fits
one device's work-group and local-memory limits need not fit another's.

The database file is JSON with a checksum over its body. A file that does not parse, has the wrong
schema or a wrong checksum is ignored with a ``TuningDatabaseWarning``, never trusted. Updates take
a lock file (where the OS has ``fcntl``), re-read the file, and replace it atomically
(a temporary file renamed into place, ``runtime.files``), so concurrent tuners neither corrupt
it nor lose each other's entries.

``params_for`` is memoised: the file is read once per process (``reload()`` reads it again) and a
repeated query is one dictionary lookup plus a copy of the small result. ``generation()`` changes
whenever an answer may change (a reload, a store, a new fit check, an override entered or left),
so caches of kernels and launch plans built from the answers key on it; a cache on a hot path
that cannot afford the comparison registers with ``on_change`` and forgets its choices instead.
"""
import contextlib
import hashlib
import json
import os
import threading
import time
import warnings
from pathlib import Path

from .files import write_atomically
from .program_cache import cache_root

SCHEMA = 1
_MAGIC = "clgrad-tuning-db"


class TuningDatabaseWarning(UserWarning):
    """The tuning database file could not be trusted and was ignored."""


# --- locations ---------------------------------------------------------------------------------
def db_path():
    """The database file: ``CLGRAD_TUNING_DB`` if set, else ``<cache>/tuning/tuning_db.json``."""
    path = os.environ.get("CLGRAD_TUNING_DB")
    return Path(path) if path else cache_root() / "tuning" / "tuning_db.json"


def log_root():
    """Where the tuner keeps its resumable per-device logs."""
    return cache_root() / "tuning" / "logs"


# --- device identity ---------------------------------------------------------------------------
_VENDOR_NAMES = (
    ("nvidia", "NVIDIA"), ("advanced micro devices", "AMD"), ("authenticamd", "AMD"),
    ("genuineintel", "Intel"), ("intel", "Intel"), ("apple", "Apple"), ("qualcomm", "Qualcomm"),
    ("imagination", "Imagination"), ("samsung", "Samsung"), ("mesa", "Mesa"),
)


def normalize_vendor(vendor):
    """A short vendor name, so that e.g. ``Advanced Micro Devices, Inc.`` and ``AMD`` agree."""
    low = vendor.strip().lower()
    for needle, name in _VENDOR_NAMES:
        if needle in low:
            return name
    if low.startswith("amd"):
        return "AMD"
    if low.startswith("arm"):
        return "ARM"
    return vendor.strip() or "unknown"


def normalize_name(name):
    """The device name without PoCL's ``pthread-`` prefix (the same CPU under another driver)."""
    name = name.strip()
    return name[len("pthread-"):] if name.startswith("pthread-") else name


def _caps_of(device):
    return getattr(device, "caps", device)


def device_key(device):
    """The database key of a device (a clgrad Device or its DeviceCaps)."""
    return _caps_of(device).key


def vendor_type(device):
    caps = _caps_of(device)
    return f"{normalize_vendor(caps.vendor)}/{caps.kind}"


def dtype_name(dtype):
    if dtype is None or dtype == "*":
        return "*"
    if isinstance(dtype, str):
        import numpy as np
        return np.dtype(dtype).name
    return getattr(dtype, "name", None) or __import__("numpy").dtype(dtype).name


# --- loading, validation -----------------------------------------------------------------------
def checksum(body):
    """The checksum a database document carries over its devices table."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _is_scalar(v):
    return isinstance(v, (bool, int, float, str)) and not (isinstance(v, float) and v != v)


def _validate_kernels(kernels, where):
    if not isinstance(kernels, dict):
        raise ValueError(f"{where}: kernels is not an object")
    for kname, by_dtype in kernels.items():
        if not isinstance(by_dtype, dict):
            raise ValueError(f"{where}/{kname}: not an object")
        for dname, by_size in by_dtype.items():
            if not isinstance(by_size, dict):
                raise ValueError(f"{where}/{kname}/{dname}: not an object")
            for skey, entry in by_size.items():
                if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
                    raise ValueError(f"{where}/{kname}/{dname}/{skey}: entry without params")
                for pk, pv in entry["params"].items():
                    if not isinstance(pk, str) or not _is_scalar(pv):
                        raise ValueError(f"{where}/{kname}/{dname}/{skey}: bad parameter {pk!r}")


def validate(data):
    """Raise ValueError unless ``data`` is a well-formed database document with a good checksum."""
    if not isinstance(data, dict) or data.get("format") != _MAGIC:
        raise ValueError("not a clgrad tuning database")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
    body = data.get("devices")
    if not isinstance(body, dict):
        raise ValueError("no devices table")
    if data.get("checksum") != checksum(body):
        raise ValueError("checksum mismatch (the file was truncated, damaged or edited)")
    for key, dev in body.items():
        if not isinstance(dev, dict):
            raise ValueError(f"device {key!r} is not an object")
        for field in ("platform", "name", "driver", "vendor", "type"):
            if not isinstance(dev.get(field), str):
                raise ValueError(f"device {key!r} lacks {field!r}")
        _validate_kernels(dev.get("kernels"), key)


def _empty_doc():
    return {"format": _MAGIC, "schema": SCHEMA, "devices": {}}


def read_file(path, warn=True):
    """(document, problem): the parsed, validated file, or an empty document and why."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _empty_doc(), None
    except OSError as e:
        problem = f"cannot be read ({e})"
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
            validate(data)
            return data, None
        except (ValueError, UnicodeDecodeError) as e:
            problem = f"is corrupted: {e}"
    if warn:
        warnings.warn(f"clgrad tuning database {path} {problem}; ignoring it and using default "
                      "kernel parameters (re-tune, or run `python -m clgrad.tune clear`)",
                      TuningDatabaseWarning, stacklevel=3)
    return _empty_doc(), problem


# --- in-process state --------------------------------------------------------------------------
_lock = threading.RLock()
_doc = None           # the loaded user database (validated), or None before the first query
_memo = {}            # (device, kernel, dtype, size_key) -> found params (dict) or None
_fit_checks = {}      # kernel -> fit(params, caps, dtype) -> bool
_generation = 0       # bumped whenever an answer may change


class _Local(threading.local):
    overrides = ()    # a class default: reading it never raises (a missing attribute is slow)


_local = _Local()


_listeners = []       # callables run at every change (on_change)


def _changed():
    global _generation
    _generation += 1
    for fn in _listeners:
        fn()


def on_change(fn):
    """Call ``fn()`` whenever ``params_for`` may answer differently (a stored result, a reload,
    an override entered or left): for caches on hot paths that cannot afford to compare
    ``generation()`` at every use and forget what they chose instead. (Overrides are per
    thread; such a cache follows the last change in any thread.)"""
    _listeners.append(fn)
    return fn


def generation():
    """A token that changes whenever ``params_for`` may answer differently (this thread's
    overrides included): what caches of kernels and plans built from its answers key on."""
    ov = _local.overrides
    return _generation if not ov else (_generation, tuple(map(id, ov)))


def reload():
    """Forget what was read; the next query reads the database file again."""
    global _doc
    with _lock:
        _doc = None
        _memo.clear()
        _changed()


def _document():
    global _doc
    doc = _doc
    if doc is None:
        with _lock:
            if _doc is None:
                _doc = read_file(db_path())[0]
            doc = _doc
    return doc


def register_fit_check(kernel, fit):
    """Declare how to tell whether ``params`` of ``kernel`` fit a device: ``fit(params, caps,
    dtype_name) -> bool`` (None removes the check). Used for entries borrowed from other
    devices and shipped defaults; each kernel family registers its own when it is imported."""
    with _lock:
        if fit is None:
            _fit_checks.pop(kernel, None)
        else:
            _fit_checks[kernel] = fit
        _memo.clear()
        _changed()


def evaluate(entry, params, **extra):
    """A declared quantity of a tunable family: ``entry`` is a callable(params, **extra) or an
    expression over the parameter names (and the ``extra`` names in capitals)."""
    if entry is None:
        return None
    if callable(entry):
        try:
            return entry(params, **extra) if extra else entry(params)
        except TypeError:
            return entry(params)
    env = dict(params)
    env.update({k.upper(): v for k, v in extra.items()})
    return eval(compile(str(entry), "<tunable>", "eval"),  # noqa: S307  (our declarations)
                {"__builtins__": {"min": min, "max": max}}, env)


def limits_problem(caps, work_group=None, local_mem=0):
    """Why a work-group of ``work_group`` work-items (an int or a shape) using ``local_mem``
    bytes cannot run on a device with ``caps``, or None."""
    if work_group is not None:
        dims = tuple(work_group) if isinstance(work_group, (tuple, list)) else (int(work_group),)
        total = 1
        for n in dims:
            total *= n
        if total > caps.max_wg:
            return (f"a work-group of {total} work-items exceeds the device's maximum of "
                    f"{caps.max_wg}")
        for d, (n, lim) in enumerate(zip(dims, caps.max_work_item_sizes)):
            if n > lim:
                return f"work-group size {n} in dimension {d} exceeds the device's {lim}"
    if local_mem and local_mem > caps.local_mem:
        return (f"needs {local_mem} bytes of local memory; the device has {caps.local_mem} "
                "usable per work-group")
    return None


class _CapsDevice:
    """Stands in for a device where a declaration's hook wants one but only caps are known."""

    def __init__(self, caps):
        self.caps = caps
        self.name = caps.name

    def __repr__(self):
        return self.caps.name


def declared_problem(spec, params, caps, dtype):
    """Why ``params`` of the family declared by ``spec`` (a kernel module's TUNABLE) cannot run
    on a device with ``caps``, or None: its own ``problem`` hook when it has one, else its
    work-group size (``local_size``) and local memory (``local_mem``) against the limits."""
    import numpy as np
    hook = spec.get("problem")
    if callable(hook):
        return hook(params, _CapsDevice(caps), np.dtype(dtype))
    return limits_problem(caps, evaluate(spec.get("local_size", spec.get("work_group")), params),
                          evaluate(spec.get("local_mem"), params,
                                   itemsize=np.dtype(dtype).itemsize) or 0)


def declare(spec):
    """Register the fit check of a kernel family from its declaration (``declared_problem``)."""
    def fit(params, caps, dtype_name):
        return declared_problem(spec, params, caps, dtype_name) is None
    register_fit_check(spec["kernel"], fit)


def _entry_in(kernels, kernel, dname, size_key):
    by_dtype = kernels.get(kernel)
    if not by_dtype:
        return None
    for d in (dname, "*"):
        by_size = by_dtype.get(d)
        if by_size:
            for s in (size_key, "default"):
                entry = by_size.get(s)
                if entry is not None:
                    return entry
    return None


def _candidates(doc, caps, kernel, dname, size_key):
    """Entries in lookup order, each with whether it was tuned on this very device."""
    devices = doc["devices"]
    key = caps.key
    own = devices.get(key)
    if own is not None:
        e = _entry_in(own.get("kernels", {}), kernel, dname, size_key)
        if e is not None:
            yield e, True
    name = normalize_name(caps.name)
    vendor = normalize_vendor(caps.vendor)
    same_name, same_vendor = [], []
    for k, dev in devices.items():
        if k == key:
            continue
        e = _entry_in(dev.get("kernels", {}), kernel, dname, size_key)
        if e is None:
            continue
        if dev["platform"] == caps.platform and normalize_name(dev["name"]) == name:
            same_name.append(e)
        elif dev["vendor"] == vendor and dev["type"] == caps.kind:
            same_vendor.append(e)
    for group in (same_name, same_vendor):   # the most recently tuned first
        group.sort(key=lambda e: -float(e.get("timestamp", 0) or 0))
        for e in group:
            yield e, False
    from .shipped import SHIPPED
    for vt in (f"{vendor}/{caps.kind}", f"*/{caps.kind}", "*/*"):
        kernels = SHIPPED.get(vt)
        if kernels:
            e = _entry_in(kernels, kernel, dname, size_key)
            if e is not None:
                yield e, False


def lookup(device, kernel, dtype, size_key):
    """The stored parameters (a dict) for this query, or None; not merged with any default."""
    caps = _caps_of(device)
    dname = dtype_name(dtype)
    size_key = str(size_key)
    doc = _document()
    fit = _fit_checks.get(kernel)
    for entry, own in _candidates(doc, caps, kernel, dname, size_key):
        params = entry["params"]
        if own or fit is None:
            return dict(params)
        try:
            ok = fit(params, caps, dname)
        except Exception:  # noqa: BLE001  (a fit check that fails to decide rejects)
            ok = False
        if ok:
            return dict(params)
    return None


def own_entry(device, kernel, dtype, size_key):
    """The parameters tuned on this very device (or set by an active ``override``) for this
    query, or None: no borrowed or shipped entry, no default. Never raises: a damaged database
    counts as empty."""
    for o in reversed(_local.overrides):
        if o.kernel == kernel and o.matches(dtype, size_key):
            o.consulted = True
            return dict(o.params)
    try:
        own = _document()["devices"].get(_caps_of(device).key)
        if own:
            e = _entry_in(own.get("kernels", {}), kernel, dtype_name(dtype), str(size_key))
            if e is not None:
                return dict(e["params"])
    except Exception:  # noqa: BLE001  (a damaged database must not break a kernel)
        return None
    return None


def params_for(device, kernel, dtype, size_key, default):
    """Tuned parameters for ``kernel`` on ``device`` (dict), or ``default`` when none are stored.

    ``size_key`` is a small hashable describing the problem size bucket (e.g. "large").
    ``device`` is a clgrad Device or its DeviceCaps. When ``default`` is not empty, the answer
    has exactly its keys: stored values replace the default's, and stored keys the caller does
    not know (a kernel whose parameters changed since it was tuned) are dropped.
    """
    ov = _local.overrides
    if ov:
        for o in reversed(ov):
            if o.kernel == kernel and o.matches(dtype, size_key):
                o.consulted = True
                return _merge(default, o.params)
    # Keyed by the device object itself: a Device hashes by identity, which is cheap.
    mkey = (device, kernel, dtype, size_key)
    try:
        found = _memo[mkey]
    except KeyError:
        with _lock:
            found = lookup(device, kernel, dtype, size_key)
            _memo[mkey] = found
    except TypeError:   # an unhashable size_key: answer without memoising
        found = lookup(device, kernel, dtype, size_key)
    if found is None:
        return dict(default)
    return _merge(default, found)


def _merge(default, found):
    if default:
        return {k: found.get(k, v) for k, v in default.items()}
    return dict(found)


class _Override:
    __slots__ = ("kernel", "params", "dtype", "size_key", "consulted")

    def __init__(self, kernel, params, dtype, size_key):
        self.kernel = kernel
        self.params = dict(params)
        self.dtype = None if dtype is None else dtype_name(dtype)
        self.size_key = size_key
        self.consulted = False

    def matches(self, dtype, size_key):
        if self.dtype is not None and dtype_name(dtype) != self.dtype:
            return False
        return self.size_key is None or str(size_key) == str(self.size_key)


@contextlib.contextmanager
def override(kernel, params, dtype=None, size_key=None):
    """Within the block (this thread only), ``params_for(..., kernel, ...)`` answers ``params``.

    The tuner uses it to run a family's public op with candidate parameters. The yielded object's
    ``consulted`` attribute tells whether the runtime asked for ``kernel`` inside the block.
    """
    o = _Override(kernel, params, dtype, size_key)
    stack = _local.overrides
    if not isinstance(stack, list):
        stack = _local.overrides = []
    stack.append(o)
    _changed()
    try:
        yield o
    finally:
        stack.remove(o)
        _changed()


# --- writing -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _file_lock(path):
    """An exclusive lock on ``<path>.lock`` between processes (a no-op where fcntl is missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:   # Windows: os.replace still keeps the file whole
        yield
        return
    with open(str(path) + ".lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_document(path, doc):
    """Write the database document ``doc`` to ``path`` with its checksum, atomically."""
    doc = dict(doc)
    doc["format"], doc["schema"] = _MAGIC, SCHEMA
    doc["checksum"] = checksum(doc["devices"])
    write_atomically(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def _update(path=None):
    """Read-modify-write the database under the lock; a corrupted file is set aside, not merged."""
    path = Path(path) if path is not None else db_path()
    with _file_lock(path):
        doc, problem = read_file(path, warn=False)
        if problem is not None and path.exists():
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
            warnings.warn(f"clgrad tuning database {path} {problem}; moved it to {aside} and "
                          "started a new one", TuningDatabaseWarning, stacklevel=4)
        yield doc
        write_document(path, doc)
    reload()


def store(device, kernel, dtype, size_key, params, info=None, path=None):
    """Record ``params`` as the winner for ``kernel``/``dtype``/``size_key`` on ``device``."""
    caps = _caps_of(device)
    params = dict(params)
    for k, v in params.items():
        if not isinstance(k, str) or not _is_scalar(v):
            raise ValueError(f"tuned parameter {k!r}={v!r} is not a JSON scalar")
    entry = {"params": params, "timestamp": time.time()}
    if info:
        entry.update({k: v for k, v in info.items() if k not in ("params",)})
    with _update(path) as doc:
        dev = doc["devices"].setdefault(caps.key, {
            "platform": caps.platform, "name": caps.name, "driver": caps.driver_version,
            "vendor": normalize_vendor(caps.vendor), "type": caps.kind, "kernels": {}})
        dev["kernels"].setdefault(kernel, {}).setdefault(dtype_name(dtype), {})[str(size_key)] \
            = entry
    return entry


def clear(device=None, kernel=None, path=None):
    """Remove entries: of one device (or all devices), of one kernel (or all kernels).

    Returns how many (device, kernel) tables were removed. Clearing everything deletes the file.
    """
    path = Path(path) if path is not None else db_path()
    if device is None and kernel is None:
        removed = 0
        if path.exists():
            doc, _ = read_file(path, warn=False)
            removed = sum(len(d.get("kernels", {})) for d in doc["devices"].values()) or 1
            with _file_lock(path):
                path.unlink()
        reload()
        return removed
    removed = 0
    with _update(path) as doc:
        keys = [device_key(device)] if device is not None else list(doc["devices"])
        for k in keys:
            dev = doc["devices"].get(k)
            if dev is None:
                continue
            if kernel is None:
                removed += len(dev["kernels"])
                del doc["devices"][k]
            elif kernel in dev["kernels"]:
                del dev["kernels"][kernel]
                removed += 1
                if not dev["kernels"]:
                    del doc["devices"][k]
    return removed


def entries(path=None):
    """The whole user database as a document (validated; empty with a warning if corrupted)."""
    return read_file(Path(path) if path is not None else db_path())[0]
