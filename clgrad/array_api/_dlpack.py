"""DLPack exchange, where the memory allows it.

clgrad's arrays live in OpenCL buffers. DLPack describes memory by a raw data pointer that the
consumer dereferences on a device it knows how to address (host memory, CUDA, ROCm, ...). An
OpenCL buffer is an opaque ``cl_mem`` handle, not a pointer any consumer can read, and no DLPack
consumer maps ``kDLOpenCL`` memory; so an array cannot be shared without a copy. Therefore:

* ``__dlpack_device__`` reports the truth: ``(kDLOpenCL, index)``, the index being the device's
  position in ``clgrad.runtime.all_devices()``;
* ``__dlpack__`` exports a host copy (``kDLCPU`` memory) whenever a copy is allowed
  (``copy=None``, the default, or ``True``) and the consumer takes host memory (``dl_device``
  unset or ``(kDLCPU, 0)``): so ``numpy.from_dlpack(x)`` works and copies. ``copy=False`` raises
  ``BufferError``, as the standard requires when sharing is impossible;
* ``from_dlpack`` accepts host producers (NumPy and anything exporting ``kDLCPU`` memory) and
  copies their data onto the device; it never shares memory, so ``copy=False`` is refused.
"""
import numpy as _np

from ..base import MXNetError

kDLCPU = 1
kDLCUDA = 2
kDLCUDAHost = 3
kDLOpenCL = 4


class DLPackError(MXNetError, BufferError):
    """A DLPack exchange that OpenCL memory cannot take part in."""


def device_of(x):
    from ..runtime import all_devices
    dev = x.device
    for i, d in enumerate(all_devices()):
        if d is dev:
            return (kDLOpenCL, i)
    return (kDLOpenCL, 0)


def export(x, stream=None, max_version=None, dl_device=None, copy=None):
    """``x.__dlpack__``: a capsule of a host copy when a copy is allowed, else an error."""
    if stream is not None:
        raise DLPackError("clgrad arrays have no CUDA/ROCm stream to synchronise with "
                          f"(got stream={stream!r})")
    to_host = dl_device is None or tuple(dl_device)[:1] == (kDLCPU,)
    if to_host and copy is not False:
        host = x.asnumpy()
        kw = {} if max_version is None else {"max_version": max_version}
        return host.__dlpack__(**kw)
    raise DLPackError(
        f"cannot export a clgrad array on {x.device} through DLPack "
        f"{'without a copy' if copy is False else f'to device {tuple(dl_device)}'}: its data is "
        "an OpenCL buffer (kDLOpenCL), which DLPack consumers cannot address. Allow a host copy "
        "(copy=None or True, dl_device=None or (1, 0), as numpy.from_dlpack(x) does), or use "
        "x.asnumpy().")


def from_dlpack(x, device=None, copy=None):
    """A new device array with the data of ``x``, a DLPack producer in host memory."""
    from ..ndarray import ndarray
    from ..ops.core import array, resolve_device, to_device
    if isinstance(x, ndarray):
        dev = x.device if device is None else resolve_device(device)
        if copy is True:
            return to_device(array(x, copy=True), dev)
        if dev is not x.device and copy is False:
            raise DLPackError("from_dlpack: moving an array to another device needs a copy, "
                              "but copy=False")
        return to_device(x, dev)
    if not hasattr(x, "__dlpack__"):
        raise DLPackError(f"from_dlpack: {type(x).__name__} is not a DLPack producer (it has "
                          "no __dlpack__ method)")
    if hasattr(x, "__dlpack_device__"):
        kind = tuple(x.__dlpack_device__())[0]
        if int(kind) not in (kDLCPU, kDLCUDAHost):
            raise DLPackError(f"from_dlpack: the producer's memory is DLPack device type "
                              f"{int(kind)}; clgrad can read only host memory (kDLCPU)")
    if copy is False:
        raise DLPackError("from_dlpack: clgrad cannot share host memory with an OpenCL device; "
                          "the data must be copied (copy=None or True)")
    try:
        host = _np.from_dlpack(x)
    except (BufferError, TypeError, RuntimeError) as e:
        raise DLPackError(f"from_dlpack: cannot read the producer's memory: {e}") from None
    return array(_np.ascontiguousarray(host) if host.ndim else _np.array(host), dtype=host.dtype,
                 device=resolve_device(device))
