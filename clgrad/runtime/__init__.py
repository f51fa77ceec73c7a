"""Devices, queues, memory pools and the program cache."""
from .device import Device, all_devices, choose_default, default_device, get_device
from .program_cache import build_program, cache_dir

__all__ = ["Device", "all_devices", "choose_default", "default_device", "get_device",
           "build_program", "cache_dir"]
