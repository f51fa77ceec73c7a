"""Files written whole or not at all: every file clgrad writes (kernel binaries, the tuning
database, parameter and optimizer-state files) goes through ``replace_atomically``."""
import contextlib
import os
import secrets


def replace_atomically(path, write, mode="wb"):
    """Write ``path`` by calling ``write(f)`` on a temporary file in the same folder, flushed
    and fsync'ed, then renamed over ``path``: a reader sees the old file or the new one, never a
    part. On any error (KeyboardInterrupt too) the temporary file is removed, the old file kept.
    The temporary file is created as ``open`` would create it (mode 0o666 less the umask)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_atomically(path, data):
    """``replace_atomically`` with ``data`` (bytes, or str written as UTF-8) as the content."""
    replace_atomically(path, lambda f: f.write(data), "wb" if isinstance(data, bytes) else "w")


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); where folders cannot be opened, skip it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
