"""Device capabilities, read once per device.

What a driver reports is a claim (``read_caps(dev, limits=False)``); the device self-check
(``selfcheck``) verifies the claims the kernels depend on, and ``Device.caps`` is what survives.
``CLGRAD_DEVICE_LIMITS`` (e.g. ``fp64=0,local_mem=16384,max_wg=64,vector_width=4,svm=0``) makes
the runtime act as on a smaller device, so the fallbacks for such devices are exercised on any
machine.
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
    max_vector_width: int = 16  # the widest vector any kernel may use (CLGRAD_DEVICE_LIMITS)
    # OpenCL 2.0's fine-grained buffer SVM (memory the host may use between commands without a
    # map); the claim is checked before use (``runtime.hostshared``)
    fine_svm: bool = False
    # (storage kind, operation class, width) triples the device self-check verified; None when
    # it did not run (every width the driver prefers is trusted)
    verified_vectors: frozenset = None

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
        if k not in _LIMIT_KEYS:
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS: unknown key {k!r} "
                                    f"(known: {', '.join(_LIMIT_KEYS)})")
        try:
            out[k] = int(v)
        except ValueError:
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS: {k}={v.strip()!r} is not an "
                                    "integer") from None
        if k == "vector_width" and out[k] not in (1, 2, 4, 8, 16):
            raise DeviceLimitsError(f"CLGRAD_DEVICE_LIMITS: vector_width={out[k]} is not one "
                                    "of 1, 2, 4, 8, 16")
    return out


_LIMIT_KEYS = ("fp64", "fp16", "local_mem", "max_wg", "max_alloc", "vector_width", "svm")


def _fine_svm(dev):
    """Whether ``dev`` claims fine-grained buffer SVM (OpenCL 2.0 and later; an older
    platform has no such query)."""
    try:
        return bool(dev.svm_capabilities & cl.device_svm_capabilities.FINE_GRAIN_BUFFER)
    except (cl.Error, AttributeError):
        return False


def read_caps(dev, limits=True):
    """The driver's claims about ``dev``, lowered by ``CLGRAD_DEVICE_LIMITS`` when ``limits``."""
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
        pref_vec_int=dev.preferred_vector_width_int, extensions=exts, fine_svm=_fine_svm(dev))
    return apply_limits(caps) if limits else caps


def apply_limits(caps):
    """``caps`` lowered by ``CLGRAD_DEVICE_LIMITS`` (unchanged when it is not set)."""
    lim = parse_limits(os.environ.get("CLGRAD_DEVICE_LIMITS", ""))
    if not lim:
        return caps
    changes = {}
    if "fp64" in lim:
        changes["fp64"] = caps.fp64 and bool(lim["fp64"])
    for k, field in (("fp16", "fp16"), ("svm", "fine_svm")):
        if k in lim:
            changes[field] = getattr(caps, field) and bool(lim[k])
    for k in ("local_mem", "max_wg", "max_alloc"):
        if k in lim:
            changes[k] = min(getattr(caps, k), lim[k])
    if "vector_width" in lim:
        w = min(caps.max_vector_width, lim["vector_width"])
        changes.update(max_vector_width=w, pref_vec_float=min(caps.pref_vec_float, w),
                       pref_vec_double=min(caps.pref_vec_double, w),
                       pref_vec_int=min(caps.pref_vec_int, w))
    return replace(caps, **changes)
