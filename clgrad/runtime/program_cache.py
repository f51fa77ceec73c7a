"""Build OpenCL programs once: memoised per device by source, and cached on disk as binaries.

A program this device and driver have not built before is first built, created and launched once
in the sandbox process (``isolation``): a driver that aborts or hangs on it takes the sandbox down,
not the user's process. The program is then recorded as rejected for this device and driver
(``KernelBuildError``, and never tried again: the families fall back to their plain variant), or
this process builds it from the binary the sandbox sends back.

The disk cache keys a program by the device key (platform, device, driver), the build options and
the full rendered source, and holds only programs that passed the sandbox. Each file carries a
checksum; a truncated or corrupted file is detected, removed and rebuilt. Files are written to a
temporary name and renamed into place, so processes sharing one cache folder never see
half-written files. Rejections are kept per device under ``devices/<key hash>/rejected``.
"""
import hashlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path

import pyopencl as cl

from ..base import KernelBuildError
from . import isolation
from .files import write_atomically

# 2: only programs that passed the sandbox are written (entries of version 1 are not trusted)
_MAGIC = b"CLGRADBIN2\n"


def cache_root():
    """The folder of clgrad's caches (``CLGRAD_CACHE_DIR``, else the user cache folder)."""
    root = os.environ.get("CLGRAD_CACHE_DIR")
    if not root:
        import platformdirs
        root = platformdirs.user_cache_dir("clgrad")
    return Path(root)


def cache_dir():
    """The kernel cache folder, or None when ``CLGRAD_NO_CACHE`` is set."""
    if os.environ.get("CLGRAD_NO_CACHE", "") not in ("", "0"):
        return None
    return cache_root() / "kernels"


def device_folder(key):
    """The folder of what clgrad learned about one device and driver (``DeviceCaps.key``): its
    self-check result and its rejected kernels. Kept even with ``CLGRAD_NO_CACHE``, which is
    about compiled kernels."""
    return cache_root() / "devices" / hashlib.sha256(key.encode()).hexdigest()[:20]


def _digest(device, source, options):
    h = hashlib.sha256()
    for part in (device.caps.key, " ".join(options), source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _read_binary(path):
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC)
    if len(data) < head + 32 or not data.startswith(_MAGIC):
        return None
    checksum, payload = data[head:head + 32], data[head + 32:]
    if hashlib.sha256(payload).digest() != checksum:
        return None
    return payload


def write_atomic(path, data):
    """Write ``data`` to ``path`` (its folder created) through a temporary file renamed in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data)


def build_program(device, source, options=(), trial=()):
    """The built program for ``source`` on ``device``, from memory, disk, or a fresh build.

    ``trial`` lists the kernels that will be created from it, as (name, scalar argument dtypes
    with None for pointers, group size cap): a fresh build launches each once in the sandbox
    first. Raises ``KernelBuildError`` when the program fails to build or is rejected there.
    """
    options = tuple(options) + device.build_options
    key = (source, options)
    prog = device.programs.get(key)
    if prog is not None:
        return prog
    folder = cache_dir()
    digest = _digest(device, source, options)
    path = folder / f"{digest}.bin" if folder is not None else None
    if path is not None and path.exists():
        binary = _read_binary(path)
        if binary is not None:
            try:
                prog = cl.Program(device.context, [device.cl_device], [binary]).build(
                    options=list(options))
                device.stats["binary_loads"] += 1
            except cl.Error:
                prog = None
        if prog is None:  # corrupted or stale: never trust it again
            try:
                path.unlink()
            except OSError:
                pass
    if prog is None:
        prog = _fresh_build(device, source, options, trial, folder, digest)
        if path is not None:
            try:
                binary = prog.get_info(cl.program_info.BINARIES)[0]
                if binary:
                    write_atomic(path, _MAGIC + hashlib.sha256(binary).digest() + binary)
            except (OSError, cl.Error):
                pass  # the cache is an optimisation; failing to write it is not an error
    device.programs[key] = prog
    return prog


def _fresh_build(device, source, options, trial, folder, digest):
    """Build a program this process has no binary of: through the sandbox when isolation is on."""
    rejected = _rejection(device, digest)
    if rejected is not None:
        raise _rejected_error(device, source, folder, digest, rejected)
    device.stats["compiles"] += 1
    if isolation.enabled():
        msg = {"op": "vet", "device": isolation.device_address(device), "source": source,
               "options": list(options), "max_wg": device.caps.max_wg,
               "kernels": [(name, [None if d is None else _dtype_str(d) for d in dts], cap)
                           for name, dts, cap in trial],
               "inject": os.environ.get("CLGRAD_VET_INJECT", "")}
        try:
            reply = isolation.request(msg)
        except isolation.SandboxError as e:
            if e.stage == "start":
                _warn_once(device, f"kernels are built without the sandbox: {e}")
                return _build_from_source(device, source, options, folder, digest)
            reply = {"status": "died", "why": f"the sandbox process {e.reason} while {e.stage}"}
        status = reply.get("status")
        if status == "error":      # the sandbox itself is broken, not this program
            _warn_once(device, f"kernels are built without the sandbox: {reply.get('why')}")
            return _build_from_source(device, source, options, folder, digest)
        if status == "build_failed":
            raise _build_error(device, source, folder, digest, reply.get("log", ""))
        if status != "ok":
            record = {"why": reply.get("why") or status, "log": reply.get("log", "")}
            _reject(device, digest, record)
            raise _rejected_error(device, source, folder, digest, record)
        if reply.get("binary"):
            try:
                return cl.Program(device.context, [device.cl_device], [reply["binary"]]).build(
                    options=list(options))
            except cl.Error:
                pass        # a driver that cannot reload its own binary builds from source
    return _build_from_source(device, source, options, folder, digest)


def _build_from_source(device, source, options, folder, digest):
    try:
        prog = cl.Program(device.context, source).build(options=list(options))
    except cl.Error as e:
        raise _build_error(device, source, folder, digest, str(e)) from None
    abi = isolation.abi_warnings(prog.get_build_info(device.cl_device,
                                                     cl.program_build_info.LOG))
    if abi:
        record = {"why": f"the build log warns about the ABI: {abi[0][1]}", "log": abi[0][1]}
        _reject(device, digest, record)
        raise _rejected_error(device, source, folder, digest, record)
    return prog


def _dtype_str(d):
    import numpy as np
    return np.dtype(d).str


def _build_error(device, source, folder, digest, log):
    saved = _save_failed_source(source, folder, digest)
    return KernelBuildError(
        f"OpenCL build failed on {device} ({device.name}, {device.caps.platform}).\n"
        f"Rendered source saved to {saved}.\nBuild log:\n{log}",
        device_name=device.name, build_log=log, source_path=saved)


def _rejected_error(device, source, folder, digest, record):
    saved = _save_failed_source(source, folder, digest)
    return KernelBuildError(
        f"kernel rejected on {device} ({device.name}, {device.caps.platform}): {record['why']}."
        f"\nRendered source saved to {saved}.", device_name=device.name,
        build_log=record.get("log", ""), source_path=saved)


# --- rejected programs, per device and driver ---------------------------------------------------
_rejected = {}      # (device key, digest) -> record
_warned = set()
_lock = threading.Lock()


def _rejection_path(device, digest):
    return device_folder(device.claims.key) / "rejected" / f"{digest}.json"


def rejection_file(device, source, options=()):
    """Where the record of this program's rejection on ``device`` is kept (whether or not
    there is one)."""
    return _rejection_path(device, _digest(device, source, options))


def _rejection(device, digest):
    """The record of this program's rejection on this device and driver, or None."""
    rec = _rejected.get((device.claims.key, digest))
    if rec is not None:
        return rec
    path = _rejection_path(device, digest)
    try:
        doc = json.loads(path.read_text())
        body = doc["body"]
        if hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() != \
                doc["checksum"]:
            return None
        rec = {"why": str(body["why"]), "log": str(body.get("log", ""))}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if rec["why"].startswith("the sandbox process") and \
            rec["why"].endswith(" while waiting for the child"):
        # written before the sandbox said when it was up: its child died before it started
        # on the program (a broken install's import error), which is no verdict on the program
        try:
            path.unlink()
        except OSError:
            pass
        return None
    _rejected[(device.claims.key, digest)] = rec
    return rec


def _reject(device, digest, record):
    _rejected[(device.claims.key, digest)] = record
    body = {"why": record["why"], "log": record.get("log", "")[-4000:]}
    doc = {"checksum": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
           "body": body}
    try:
        write_atomic(_rejection_path(device, digest), json.dumps(doc).encode())
    except OSError:
        pass


def rejected_programs(device):
    """How many programs were rejected on this device and driver (kept on disk)."""
    folder = device_folder(device.claims.key) / "rejected"
    try:
        return len(list(folder.glob("*.json")))
    except OSError:
        return 0


def forget_rejections(device):
    """Forget every rejection recorded for this device and driver (memory and disk)."""
    key = device.claims.key
    for k in [k for k in _rejected if k[0] == key]:
        del _rejected[k]
    folder = device_folder(key) / "rejected"
    for f in folder.glob("*.json") if folder.is_dir() else ():
        try:
            f.unlink()
        except OSError:
            pass


def _warn_once(device, text):
    with _lock:
        if device.claims.key in _warned:
            return
        _warned.add(device.claims.key)
    warnings.warn(f"clgrad: {text}", RuntimeWarning, stacklevel=4)


def _save_failed_source(source, folder, digest):
    base = folder.parent if folder is not None else Path(tempfile.gettempdir()) / "clgrad"
    path = base / "failed" / f"{digest}.cl"
    try:
        write_atomic(path, source.encode())
        return str(path)
    except OSError:
        return "<could not save>"
