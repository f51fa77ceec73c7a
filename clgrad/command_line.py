"""What the command-line entry points (``python -m clgrad``, ``python -m clgrad.tune``,
``python -m bench``) share: a usage error or a failure ends the program with a non-zero exit
status and one line on stderr, not a usage block or a traceback."""
import argparse
import os
import sys
from pathlib import Path

from .base import MXNetError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130      # as a shell reports a program ended by SIGINT

_LONGEST = 1000             # characters of an error message shown on its line


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line on stderr (then exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def one_line(error):
    """``error`` (an exception or a text) as one line: its lines joined, cut when very long."""
    text = _os_error_text(error) if isinstance(error, OSError) else str(error)
    if isinstance(error, BaseException) and not text.strip():
        text = type(error).__name__
    text = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return text if len(text) <= _LONGEST else text[:_LONGEST] + " ..."


def _os_error_text(error):
    name = error.filename
    if name is None:
        return str(error)
    if isinstance(error, FileExistsError):     # os.makedirs(..., exist_ok=True) met a file
        return f"cannot make the folder {name}: a file of that name is in the way"
    return f"{error.strerror or error}: {name}"


def check_writable(path, folder=False):
    """Raise OSError when the file (or with ``folder`` the folder) ``path`` cannot be written:
    checked before a long run rather than after it. Creates nothing."""
    path = Path(path)
    start = next(p for p in path.parents if p.exists())     # where its folders would start
    if not start.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {start} is a file, not a folder")
    if path.exists() and path.is_dir() != folder:
        raise OSError(f"cannot write {path}: it is a {'file' if folder else 'folder'}")
    if not os.access(path if path.exists() else start, os.W_OK):
        raise PermissionError(f"cannot write {path}: permission denied")


def expected_failures():
    """The exceptions that are the program's failures to report (clgrad's errors, the OS's, the
    OpenCL driver's, bad values) rather than bugs, which keep their traceback."""
    import pyopencl as cl
    return (MXNetError, OSError, ValueError, cl.Error)


def report(prog, error):
    """Print ``error`` as ``prog: message`` on stderr."""
    print(f"{prog}: {one_line(error)}", file=sys.stderr)


def run_main(prog, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``'s exit status; an expected failure or Ctrl-C is reported on one line
    of stderr and gives exit status 1 or 130."""
    try:
        return fn(*args, **kwargs)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except expected_failures() as e:
        report(prog, e)
        return EXIT_FAILURE
