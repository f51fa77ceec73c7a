"""Transparent huge pages for the large buffers of CPU devices (Linux).

A CPU device's buffers are host memory. Linux backs an allocation with 2 MiB pages only where
the program asks (``madvise(MADV_HUGEPAGE)``) when the system's policy is "madvise", as it
often is; NumPy asks for its arrays of 4 MiB and more, the OpenCL runtime does not for its
buffers. With 4 KiB pages every pass over a large buffer walks and faults 512 times more pages:
MPI's allreduce of a mapped 16 MiB PoCL buffer took 3.5-3.7 ms on 2 ranks where the same over
huge pages (or over NumPy's array) took 2.2-2.6 ms. So a new large buffer of a CPU device is
mapped once, before anything writes it, and its host range advised.
"""
import ctypes
import mmap
import os
import sys

#: buffers below this size are left as they are (NumPy's threshold for the same advice)
MIN_BYTES = 4 << 20
_MADV_HUGEPAGE = 14
_POLICY = "/sys/kernel/mm/transparent_hugepage/enabled"
_libc = None


def wanted():
    """Whether advising helps here: Linux with the "madvise" policy (with "always" every large
    range gets huge pages anyway, with "never" none), unless ``CLGRAD_HUGE_PAGES=0``."""
    if os.environ.get("CLGRAD_HUGE_PAGES", "1").strip().lower() in ("0", "false", "off", "no"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open(_POLICY) as f:
            return "[madvise]" in f.read()
    except OSError:
        return False


def advise(address, nbytes):
    """Ask for huge pages over the whole pages of ``[address, address + nbytes)``; True when the
    kernel took the advice."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    page = mmap.PAGESIZE
    lo = -(-address // page) * page
    hi = (address + nbytes) // page * page
    if hi <= lo:
        return False
    return _libc.madvise(lo, hi - lo, _MADV_HUGEPAGE) == 0


__all__ = ["MIN_BYTES", "wanted", "advise"]
