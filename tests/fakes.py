"""Fakes shared by tests in several folders (tests/ is on sys.path through conftest.py)."""
from clgrad.runtime.caps import DeviceCaps


def fake_caps(name="Fake GPU", platform="Fake Platform", vendor="NVIDIA Corporation",
              kind="gpu", driver="1.0", max_wg=1024, local_mem=48 * 1024):
    return DeviceCaps(name=name, platform=platform, vendor=vendor, kind=kind,
                      driver_version=driver, opencl_c_version="OpenCL C 1.2", fp64=True,
                      fp16=False, local_mem=local_mem, max_wg=max_wg,
                      max_work_item_sizes=(max_wg, max_wg, 64), compute_units=8,
                      max_alloc=1 << 30, global_mem=1 << 32, pref_vec_float=1,
                      pref_vec_double=1, pref_vec_int=1, extensions=())
