"""Build OpenCL programs once: memoised per device by source, and cached on disk as binaries.

The disk cache keys a program by the device key (platform, device, driver), the build options and
the full rendered source. Each file carries a checksum; a truncated or corrupted file is detected,
removed and rebuilt from source. Files are written to a temporary name and renamed into place, so
processes sharing one cache folder never see half-written files.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import pyopencl as cl

from ..base import KernelBuildError

_MAGIC = b"CLGRADBIN1\n"


def cache_dir():
    """The kernel cache folder, or None when ``CLGRAD_NO_CACHE`` is set."""
    if os.environ.get("CLGRAD_NO_CACHE", "") not in ("", "0"):
        return None
    root = os.environ.get("CLGRAD_CACHE_DIR")
    if not root:
        import platformdirs
        root = platformdirs.user_cache_dir("clgrad")
    return Path(root) / "kernels"


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


def _write_atomic(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def build_program(device, source, options=()):
    """The built program for ``source`` on ``device``, from memory, disk, or a fresh build."""
    options = tuple(options) + device.build_options
    key = (source, options)
    prog = device.programs.get(key)
    if prog is not None:
        return prog
    ctx = device.context
    folder = cache_dir()
    digest = _digest(device, source, options)
    path = folder / f"{digest}.bin" if folder is not None else None
    if path is not None and path.exists():
        binary = _read_binary(path)
        if binary is not None:
            try:
                prog = cl.Program(ctx, [device.cl_device], [binary]).build(options=list(options))
                device.stats["binary_loads"] += 1
            except cl.Error:
                prog = None
        if prog is None:  # corrupted or stale: never trust it again
            try:
                path.unlink()
            except OSError:
                pass
    if prog is None:
        prog = _build_from_source(device, source, options, folder, digest)
        if path is not None:
            try:
                binary = prog.get_info(cl.program_info.BINARIES)[0]
                if binary:
                    _write_atomic(path, _MAGIC + hashlib.sha256(binary).digest() + binary)
            except (OSError, cl.Error):
                pass  # the cache is an optimisation; failing to write it is not an error
    device.programs[key] = prog
    return prog


def _build_from_source(device, source, options, folder, digest):
    device.stats["compiles"] += 1
    try:
        return cl.Program(device.context, source).build(options=list(options))
    except cl.Error as e:
        log = str(e)  # pyopencl puts the build log in the message
        saved = _save_failed_source(source, folder, digest)
        raise KernelBuildError(
            f"OpenCL build failed on {device} ({device.name}, {device.caps.platform}).\n"
            f"Rendered source saved to {saved}.\nBuild log:\n{log}",
            device_name=device.name, build_log=log, source_path=saved) from None


def _save_failed_source(source, folder, digest):
    base = folder.parent if folder is not None else Path(tempfile.gettempdir()) / "clgrad"
    path = base / "failed" / f"{digest}.cl"
    try:
        _write_atomic(path, source.encode())
        return str(path)
    except OSError:
        return "<could not save>"
