"""The memory behind arrays: one pooled device buffer shared by an array and all its views."""
from contextlib import contextmanager
from sys import getrefcount as _getrefcount

import numpy as _np
import pyopencl as cl

# pyopencl's own buffer read/write entry points, without enqueue_copy's dispatch on argument
# types (a few microseconds per transfer); enqueue_copy where a version lacks them
try:
    from pyopencl import _cl as _pcl
    _read = _pcl._enqueue_read_buffer
    _write = _pcl._enqueue_write_buffer
except (ImportError, AttributeError):     # pragma: no cover
    _read = _write = None


_observer = None    # the capture in progress (``set_observer``)


def set_observer(observer):
    """Install ``observer`` (None removes it) and return the one it replaces: while installed,
    it is told of every storage created (``allocated(storage)``), every upload
    (``uploaded(storage, host, byte_offset)``), every download (``downloaded(storage)``, which
    may raise to refuse it) and every device copy (``copied(dst, src, nbytes)``)."""
    global _observer
    prev = _observer
    _observer = observer
    return prev


class Storage:
    """A pooled buffer on one device, with a version counter bumped by every in-place write.

    Autograd records the version of each array it saves, so a write that would silently change
    a gradient is detected at backward time.
    """

    __slots__ = ("buffer", "device", "nbytes", "version", "shared", "__weakref__")

    def __init__(self, device, nbytes):
        self.device = device
        self.nbytes = nbytes
        self.buffer = device.allocate(nbytes)
        self.version = 0
        self.shared = False
        if _observer is not None:
            _observer.allocated(self)

    def share(self):
        """A new storage over the same buffer: MXNet's copy semantics (``reshape``, transposes,
        strided slices give new arrays) at a view's price. Whichever side is written first
        while the other still holds the buffer copies it then (``prepare_write``)."""
        s = Storage.__new__(Storage)
        s.device = self.device
        s.nbytes = self.nbytes
        s.buffer = self.buffer
        s.version = 0
        s.shared = self.shared = True
        return s

    def prepare_write(self):
        """Make the buffer this storage's own before a write in place (every write path calls
        it): a shared buffer that another storage still holds is copied first."""
        if self.shared:
            # the references are this slot and getrefcount's argument, plus one per other
            # storage (a stray temporary reference only costs a copy that was not needed)
            if _getrefcount(self.buffer) > 2 and self.nbytes:
                new = self.device.allocate(self.nbytes)
                if _observer is not None:
                    _observer.copied(new, self.buffer, self.nbytes)
                cl.enqueue_copy(self.device.queue, new, self.buffer, byte_count=self.nbytes)
                self.buffer = new
            self.shared = False

    def upload(self, host, byte_offset=0):
        """Copy a C-contiguous NumPy array in (asynchronously; pyopencl keeps ``host`` alive)."""
        if _observer is not None:
            _observer.uploaded(self, host, byte_offset)
        if host.nbytes:
            if _write is not None:
                _write(self.device.queue, self.buffer, host, byte_offset, None, False)
            else:
                cl.enqueue_copy(self.device.queue, self.buffer, host, dst_offset=byte_offset,
                                is_blocking=False)

    def download_into(self, host, byte_offset=0, wait=True):
        """Copy ``host.nbytes`` bytes from ``byte_offset`` into the C-contiguous NumPy array
        ``host``; with ``wait`` False, return the transfer's event at once (None when there is
        nothing to copy); ``host`` must then stay alive until the event completes."""
        if _observer is not None:
            _observer.downloaded(self)
        if not host.nbytes:
            return None
        if _read is not None:
            return _read(self.device.queue, self.buffer, host, byte_offset, None, wait)
        return cl.enqueue_copy(self.device.queue, host, self.buffer, src_offset=byte_offset,
                               is_blocking=wait)

    @contextmanager
    def mapped(self, byte_offset, count, dtype, write=True):
        """The ``count`` elements of ``dtype`` from ``byte_offset`` as a NumPy array over the
        buffer's memory (waits for the device; no copy where the device's memory is the
        host's, and no command at all where the buffer is host-shared); ``write``: changes made
        to it are the new contents (the version is bumped). Nothing may be enqueued on the
        buffer, and the array must not be used, outside the ``with`` block."""
        if _observer is not None:
            _observer.downloaded(self)
        if write:
            self.prepare_write()
        device = self.device
        host = device.host_array(self.buffer, byte_offset, count, dtype)
        mapping = None
        if host is None:
            flags = cl.map_flags.READ | (cl.map_flags.WRITE if write else 0)
            host, _ = cl.enqueue_map_buffer(device.queue, self.buffer, flags, byte_offset,
                                            (count,), dtype, is_blocking=True)
            mapping = host.base
        else:
            device.queue.finish()       # host-shared: the buffer's own memory, once idle
        try:
            yield host
        finally:
            if mapping is not None:
                mapping.release(device.queue)
            if write:
                self.version += 1

    def download(self, shape, dtype, byte_offset=0):
        """A NumPy copy of ``shape``/``dtype`` elements starting at ``byte_offset`` (waits)."""
        if _observer is not None:
            _observer.downloaded(self)
        host = _np.empty(shape, dtype=dtype)
        if host.nbytes:
            device = self.device
            shared = device.host_array(self.buffer, byte_offset, host.size, host.dtype)
            if shared is not None:      # host-shared: a copy once the queue is idle
                device.queue.finish()
                host.reshape(-1)[...] = shared
            elif _read is not None:
                _read(device.queue, self.buffer, host, byte_offset, None, True)
            else:
                cl.enqueue_copy(device.queue, host, self.buffer, src_offset=byte_offset,
                                is_blocking=True)
        return host
