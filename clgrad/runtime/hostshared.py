"""Host-shared buffers: the large buffers of CPU devices, in memory the host may read and write
between commands without mapping them.

A CPU device's memory is the host's, but OpenCL 1.2 lets the host touch a buffer only between a
map and an unmap, two commands that each go through the driver's worker threads: 30-50 us apiece
on PoCL, more than MPI's whole allreduce of 1 MiB between two ranks (0.11-0.13 ms). OpenCL 2.0's
fine-grained buffer SVM is memory that host and device share, coherent at every command
boundary, and a buffer created over it with ``CL_MEM_USE_HOST_PTR`` has it as its storage (the
specification's words). So a CPU device that claims fine-grained SVM, and passes ``check`` of
that claim, takes its buffers of ``MIN_BYTES`` or more from a ``HostSharedPool``, and the host
reaches their contents with ``host_array`` once the queue is idle: no command at all.

Smaller buffers stay in the ordinary pool: creating a buffer over pooled SVM costs about 2 us
against 0.3 us, which only a large buffer's first pass hides.
"""
import ctypes

import numpy as _np
import pyopencl as cl
import pyopencl.tools as cl_tools

#: buffers of this many bytes and more are host-shared
MIN_BYTES = 1 << 20


class _Host(_np.ndarray):
    """A NumPy view of an SVM block that keeps the block (``block``) alive: the buffer created
    over it holds the view, so the block returns to its pool when the buffer is released."""


class HostSharedPool:
    """Buffers over pooled fine-grained SVM of one context.

    The blocks are freed with ``clSVMFree``, which does not wait for commands: free held blocks
    (``free_held``) only when the device's queue is idle."""

    def __init__(self, context):
        self.context = context
        flags = cl.svm_mem_flags.READ_WRITE | cl.svm_mem_flags.SVM_FINE_GRAIN_BUFFER
        # alignment 0: the size of the largest OpenCL C type, the most PoCL accepts
        self._pool = cl_tools.SVMPool(cl_tools.SVMAllocator(context, alignment=0, flags=flags))

    def allocate(self, nbytes):
        """A buffer of ``nbytes`` over a pooled block, and the block's address when the pool
        had to allocate it (None for a block it held). Raises ``cl.Error`` (or MemoryError)
        when there is no memory."""
        managed = self._pool.managed_bytes
        block = self._pool(nbytes)
        address = block.svm_ptr
        if not address:                 # an allocation the driver refused without an error
            raise MemoryError(f"clSVMAlloc of {nbytes} bytes returned NULL")
        host = _np.frombuffer((ctypes.c_char * nbytes).from_address(address),
                              dtype=_np.uint8).view(_Host)
        host.block = block
        buf = cl.Buffer(self.context, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR,
                        nbytes, hostbuf=host)
        return buf, (address if self._pool.managed_bytes > managed else None)

    @property
    def active_bytes(self):
        return self._pool.active_bytes

    def stats(self):
        """(active bytes, managed bytes, active blocks, held blocks), as the device pool's."""
        p = self._pool
        return (int(p.active_bytes), int(p.managed_bytes), int(p.active_blocks),
                int(p.held_blocks))

    def free_held(self):
        self._pool.free_held()


def host_array(buffer, byte_offset, count, dtype):
    """The ``count`` elements of ``dtype`` at ``byte_offset`` of the host-shared ``buffer``, as
    a NumPy array over its memory (it keeps the buffer alive)."""
    dtype = _np.dtype(dtype)
    whole = buffer.get_host_array((buffer.size,), _np.uint8)
    return whole[byte_offset:byte_offset + count * dtype.itemsize].view(dtype)


def is_host_shared(buffer):
    """Whether ``buffer`` was made by a ``HostSharedPool`` (the only buffers with
    ``CL_MEM_USE_HOST_PTR`` that devices make)."""
    return bool(buffer.flags & cl.mem_flags.USE_HOST_PTR)


def check(context, queue):
    """Verify the fine-grained SVM claim where it matters: values the host writes into a
    host-shared buffer are what a device command reads, and values a device command writes are
    what the host then reads, with no map in between. False on any difference or error."""
    try:
        pool = HostSharedPool(context)
        n = 4096
        shared, _ = pool.allocate(n)
        host = host_array(shared, 0, n, _np.uint8)
        want = (_np.arange(n) % 251).astype(_np.uint8)
        host[:] = want
        plain = cl.Buffer(context, cl.mem_flags.READ_WRITE, n)
        cl.enqueue_copy(queue, plain, shared, byte_count=n)
        seen = _np.empty(n, _np.uint8)
        cl.enqueue_copy(queue, seen, plain, is_blocking=True)
        back = want[::-1].copy()
        cl.enqueue_copy(queue, plain, back, is_blocking=True)
        cl.enqueue_copy(queue, shared, plain, byte_count=n)
        queue.finish()
        ok = (seen == want).all() and (host == back).all()
        del host, shared
        pool.free_held()
        return bool(ok)
    except (cl.Error, MemoryError, ValueError, TypeError, AttributeError):
        return False


__all__ = ["MIN_BYTES", "HostSharedPool", "host_array", "is_host_shared", "check"]
