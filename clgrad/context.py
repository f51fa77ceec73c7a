"""``clgrad.context``: MXNet 1.x's spelling of devices. A ``Context`` is a clgrad ``Device``
(so ``with clgrad.cpu():`` scopes the default device and ``isinstance(ctx, Context)`` holds);
``Context('gpu', 1)`` finds the second OpenCL GPU."""
from .runtime import Device, all_devices, default_device, get_device

class _ContextType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Device)


class Context(metaclass=_ContextType):
    """``Context(device_type, device_id)``: that clgrad ``Device`` (MXNet's constructor)."""

    def __new__(cls, device_type, device_id=0):
        if isinstance(device_type, Device):
            return device_type
        return get_device(device_type, device_id)


def cpu(device_id=0):
    """The ``device_id``-th OpenCL CPU device (PoCL's, for instance)."""
    return get_device("cpu", device_id)


def gpu(device_id=0):
    """The ``device_id``-th OpenCL GPU."""
    return get_device("gpu", device_id)


def cpu_pinned(device_id=0):
    """MXNet's pinned host memory: on OpenCL, the CPU device."""
    return cpu(device_id)


def current_context():
    """The device used when none is given (``with ctx:`` scopes first)."""
    return default_device()


def num_gpus():
    """How many OpenCL GPUs clgrad sees."""
    return sum(1 for d in all_devices() if d.device_type == "gpu")
