"""Devices, queues, memory pools, the program cache, the sandbox and the device self-check."""
from .device import Device, all_devices, choose_default, default_device, get_device
from .isolation import group_size
from .program_cache import build_program, cache_dir
from .selfcheck import vector_width

__all__ = ["Device", "all_devices", "choose_default", "default_device", "get_device",
           "build_program", "cache_dir", "group_size", "vector_width"]
