"""Gluon's data-parallel helpers (MXNet 2.x ``gluon.utils``): split a batch over devices, and
clip gradients by their global norm."""
import math
import warnings
from collections import OrderedDict

from .. import dtypes as _dt
from .. import numpy as np
from ..base import ArgumentTypeError, MXNetError
from ..ndarray import ndarray
from ..ops.args import as_int as _as_int
from ..ops.args import need_array as _need_array

__all__ = ["split_data", "split_and_load", "clip_global_norm", "SplitError"]


class SplitError(MXNetError, ValueError):
    """A batch that cannot be split as asked (MXNet raises ValueError)."""


def split_data(data, num_slice, batch_axis=0, even_split=True):
    """``data`` split into ``num_slice`` slices along ``batch_axis`` (a list, even of one).

    With ``even_split`` the axis must divide evenly; otherwise the first ``size % num_slice``
    slices get one element more (MXNet's sizes).
    """
    _need_array(data, "data", "split_data")
    if not isinstance(num_slice, int) or isinstance(num_slice, bool) or num_slice < 1:
        raise SplitError(f"num_slice must be a positive int, got {num_slice!r}")
    batch_axis = _as_int(batch_axis, "batch_axis", "split_data")
    if not -data.ndim <= batch_axis < data.ndim:
        raise SplitError(f"batch_axis {batch_axis} is out of range for data of shape "
                         f"{data.shape}")
    size = data.shape[batch_axis]
    if even_split and size % num_slice != 0:
        raise SplitError(
            f"data with shape {data.shape} cannot be evenly split into {num_slice} slices "
            f"along axis {batch_axis}. Use a batch size that's multiple of {num_slice} or set "
            "even_split=False to allow uneven partitioning of data.")
    each, extras = divmod(size, num_slice)
    if num_slice - size > 1 << 24:     # (a list of that many empty slices fills the memory)
        raise SplitError(f"split_data: {num_slice} slices of data with shape {data.shape} "
                         f"along axis {batch_axis}: more than 2**24 of them would be empty")
    points, at = [], 0
    for i in range(num_slice - 1):
        at += each + (1 if i < extras else 0)
        points.append(at)
    return np.split(data, points, axis=batch_axis)


def split_and_load(data, device_list, batch_axis=0, even_split=True):
    """``data`` split along ``batch_axis`` into one slice per device of ``device_list``, each
    slice on its device (``data`` may be anything ``np.array`` takes)."""
    if isinstance(device_list, (str, bytes)) or not hasattr(device_list, "__iter__"):
        raise ArgumentTypeError(f"split_and_load: device_list must be a list of devices, not "
                                f"{type(device_list).__name__}")
    device_list = list(device_list)
    if not device_list:
        raise SplitError("split_and_load: device_list is empty")
    if not isinstance(data, ndarray):
        data = np.array(data, device=device_list[0])
    if len(device_list) == 1:
        return [data.to_device(device_list[0])]
    slices = split_data(data, len(device_list), batch_axis, even_split)
    return [s.to_device(d) for s, d in zip(slices, device_list)]


def clip_global_norm(arrays, max_norm, check_isfinite=True):
    """Scale ``arrays`` in place so that their global 2-norm (the norm of all their elements
    together) is at most ``max_norm``: each is multiplied by ``min(1, max_norm / (norm +
    1e-8))``.

    Returns the norm before scaling: a Python float, or with ``check_isfinite=False`` (no
    wait for the device, as in MXNet) an array of shape (1,). A norm that is NaN or infinite
    warns when ``check_isfinite`` (the scaled values are then undefined).
    """
    if isinstance(arrays, (str, bytes)) or not hasattr(arrays, "__iter__"):
        raise ArgumentTypeError(f"clip_global_norm: arrays must be a list of clgrad arrays, "
                                f"not {type(arrays).__name__}")
    arrays = list(arrays)
    if not arrays:
        raise SplitError("clip_global_norm: no arrays given")
    by_device = OrderedDict()
    for a in arrays:
        if not isinstance(a, ndarray):
            raise ArgumentTypeError(f"clip_global_norm: arrays must be clgrad arrays, got a "
                                    f"{type(a).__name__}")
        by_device.setdefault(a.device, []).append(a)
    first = arrays[0].device
    total = None
    for dev, group in by_device.items():
        part = None
        for a in group:
            # float16 squares overflow past 256: sum them in float32
            x = a.astype(_dt.float32) if a.dtype == _dt.float16 else a
            s = np.sum(np.square(x)).astype(_dt.float32)
            part = s if part is None else part + s
        part = part.to_device(first)
        total = part if total is None else total + part
    norm = np.sqrt(total).reshape((1,))
    scale = np.minimum(max_norm / (norm + 1e-8), 1.0).reshape(())
    if check_isfinite:
        value = norm.item()
        if not math.isfinite(value):
            warnings.warn(UserWarning("nan or inf is detected. Clipping results will be "
                                      "undefined."), stacklevel=2)
    for a in arrays:
        a *= scale.to_device(a.device).astype(a.dtype)
    return value if check_isfinite else norm
