"""Device capabilities, read once per device.

``CLGRAD_DEVICE_LIMITS`` (e.g. ``fp64=0,local_mem=16384,max_wg=64``) makes the runtime act as on a
smaller device, so the fallbacks for such devices are exercised on any machine.
"""
import os
from dataclasses import dataclass, replace

import pyopencl as cl

from ..base import MXNetError


class DeviceLimitsError(MXNetError, ValueError):
    """``CLGRAD_DEVICE_LIMITS`` cannot be parsed."""


@dataclass(frozen=True)
class DeviceCaps:
    name: str
    platform: str
    vendor: str
    kind: str                 # "cpu", "gpu" or "accelerator"
    driver_version: str
    opencl_c_version: str
    fp64: bool
    fp16: bool
    local_mem: int            # bytes usable per work-group (with a safety margin)
    max_wg: int
    max_work_item_sizes: tuple
    compute_units: int
    max_alloc: int
    global_mem: int
    pref_vec_float: int
    pref_vec_double: int
    pref_vec_int: int
    extensions: tuple

    @property
    def key(self):
        """Identifies a device and driver: the disk caches and the tuning database key by it."""
        return f"{self.platform}|{self.name}|{self.driver_version}"


def _kind(dev):
    t = dev.type
    if t & cl.device_type.GPU:
        return "gpu"
    if t & cl.device_type.CPU:
        return "cpu"
    return "accelerator"


def parse_limits(text):
    """Parse ``key=value`` pairs of ``CLGRAD_DEVICE_LIMITS``."""
    out = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in part:
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS entry {part!r} is not key=value")
        k, v = part.split("=", 1)
        k = k.strip()
        if k not in ("fp64", "fp16", "local_mem", "max_wg", "max_alloc"):
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS: unknown key {k!r} "
                                    "(known: fp64, fp16, local_mem, max_wg, max_alloc)")
        try:
            out[k] = int(v)
        except ValueError:
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS: {k}={v.strip()!r} is not an "
                                    "integer") from None
    return out


def read_caps(dev):
    exts = tuple(dev.extensions.split())
    platform = dev.platform.name.strip()
    local = dev.local_mem_size
    # NVIDIA reserves some local memory per group; keep a margin everywhere.
    local = max(0, min(local - 1024, int(local * 0.9)))
    try:
        ocl_c = dev.opencl_c_version
    except cl.Error:
        ocl_c = "OpenCL C 1.2"
    caps = DeviceCaps(
        name=dev.name.strip(), platform=platform, vendor=dev.vendor.strip(), kind=_kind(dev),
        driver_version=dev.driver_version.strip(), opencl_c_version=ocl_c.strip(),
        fp64="cl_khr_fp64" in exts, fp16="cl_khr_fp16" in exts, local_mem=local,
        max_wg=dev.max_work_group_size, max_work_item_sizes=tuple(dev.max_work_item_sizes),
        compute_units=dev.max_compute_units, max_alloc=dev.max_mem_alloc_size,
        global_mem=dev.global_mem_size, pref_vec_float=dev.preferred_vector_width_float,
        pref_vec_double=dev.preferred_vector_width_double,
        pref_vec_int=dev.preferred_vector_width_int, extensions=exts)
    lim = parse_limits(os.environ.get("CLGRAD_DEVICE_LIMITS", ""))
    if lim:
        changes = {}
        if "fp64" in lim:
            changes["fp64"] = caps.fp64 and bool(lim["fp64"])
        if "fp16" in lim:
            changes["fp16"] = caps.fp16 and bool(lim["fp16"])
        for k in ("local_mem", "max_wg", "max_alloc"):
            if k in lim:
                changes[k] = min(getattr(caps, k), lim[k])
        caps = replace(caps, **changes)
    return caps
