"""``clgrad.npx``: MXNet's numpy-extension namespace (devices, modes, NN ops)."""
import types as _types

from . import ops as _ops  # noqa: F401
from .ops import random as _random
from .ops.nn import *  # noqa: F401,F403
from .ops.linalg import batch_dot  # noqa: F401
from .ops.shape import npx_reshape as reshape  # noqa: F401
from .ops.sort import topk  # noqa: F401
from .ops.nn import bernoulli as _nn_bernoulli
from .runtime import all_devices, default_device, get_device
from .serialization import load, save, savez  # noqa: F401

# MXNet's npx.random namespace: seed and bernoulli (the samplers are np.random's)
random = _types.SimpleNamespace(bernoulli=_nn_bernoulli, seed=_random.seed)

_np_mode = {"array": False, "shape": False}


def hybridize(fn=None, static_alloc=False, static_shape=False):
    """Capture a function of arrays as ``HybridBlock.hybridize`` captures a block: the first
    call per input signature runs eagerly and is captured (inside ``autograd.record()`` with
    its backward), later calls replay fused kernels. ``npx.hybridize(f)`` or ``@npx.hybridize``;
    the result's ``describe()`` prints what was captured. Arrays the function reads from its
    closure are read where they are at each call (their buffers), as constants of the graph.
    ``static_alloc=True``: each captured graph keeps its own arena for its intermediates (else
    the graphs of a device share one, as large as the largest needs)."""
    from .hybrid import Hybridized
    if fn is None:
        return lambda f: Hybridized(f, static_alloc=static_alloc)
    return Hybridized(fn, static_alloc=static_alloc)


def set_np(shape=True, array=True, dtype=False):
    """Turn on NumPy semantics. clgrad arrays always behave so; kept for MXNet code."""
    from .ops.args import as_flag
    flags = as_flag(array, "array", "set_np"), as_flag(shape, "shape", "set_np")
    _np_mode["array"], _np_mode["shape"] = flags


def reset_np():
    _np_mode["array"] = False
    _np_mode["shape"] = False


def is_np_array():
    return _np_mode["array"]


def is_np_shape():
    return _np_mode["shape"]


def cpu(device_id=0):
    return get_device("cpu", device_id)


def gpu(device_id=0):
    return get_device("gpu", device_id)


def num_gpus():
    return sum(1 for d in all_devices() if d.device_type == "gpu")


def current_device():
    return default_device()


current_context = current_device


def waitall():
    """Wait until every device has finished all queued work."""
    for d in all_devices():
        d.synchronize()


def stop_gradient(x):
    """``x``'s value, cut from the graph: no gradient flows back through it."""
    from .ops.args import need_array
    return need_array(x, "x", "stop_gradient").detach()


def memory_stats(device=None):
    """Bytes in use and held by the device's memory pool."""
    from .ops.core import resolve_device
    return resolve_device(device).memory_stats()


def empty_cache(device=None):
    """Release the pool's held (free) blocks back to the driver."""
    from .ops.core import resolve_device
    for d in ([resolve_device(device)] if device is not None else all_devices()):
        d.empty_cache()
