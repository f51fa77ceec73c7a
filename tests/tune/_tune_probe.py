"""Shared pieces of the tuning tests: a tuning-database fixture helper, fake device capabilities,
and a probe tunable whose MODE parameter makes a candidate fail in each way the tuner knows."""
import os
import signal
import time

from clgrad.runtime.caps import DeviceCaps
from clgrad.tune.kernels import StreamTunable


def fake_caps(name="Fake GPU", platform="Fake Platform", vendor="NVIDIA Corporation",
              kind="gpu", driver="1.0", max_wg=1024, local_mem=48 * 1024):
    return DeviceCaps(name=name, platform=platform, vendor=vendor, kind=kind,
                      driver_version=driver, opencl_c_version="OpenCL C 1.2", fp64=True,
                      fp16=False, local_mem=local_mem, max_wg=max_wg,
                      max_work_item_sizes=(max_wg, max_wg, 64), compute_units=8,
                      max_alloc=1 << 30, global_mem=1 << 32, pref_vec_float=1,
                      pref_vec_double=1, pref_vec_int=1, extensions=())


class ProbeTunable(StreamTunable):
    """The streaming tunable plus MODE: "ok" runs normally; "lm" asks for more local memory than
    any device has; "verify" computes a wrong result; "runtime" fails at launch; "slow" compiles
    for longer than the test's timeout; "crash" kills its process (only run isolated)."""

    name = kernel = "probe"

    def local_mem(self, params, dtype):
        return 1 << 40 if params.get("MODE") == "lm" else 0

    slow_seconds = 5.0

    def compile(self, problem, params):
        if params.get("MODE") == "slow":
            time.sleep(self.slow_seconds)
        return super().compile(problem, params)

    def run(self, problem, compiled, params):
        mode = params.get("MODE")
        if mode == "runtime":
            raise RuntimeError("probe: simulated launch failure")
        if mode == "crash":   # SIGKILL: the OpenCL runtime may catch SIGSEGV itself
            os.kill(os.getpid(), signal.SIGKILL)
        evs = super().run(problem, compiled, params)
        if mode == "verify":   # overwrite the first element behind the kernel's back
            import numpy as np
            import pyopencl as cl
            evs[-1].wait()
            bad = np.array([12345], dtype=problem.dtype)
            evs = [cl.enqueue_copy(problem.device.queue, problem.o, bad)]
        return evs
