"""Shared pieces of the tuning tests: a tuning-database fixture helper, fake device capabilities,
and a probe tunable whose MODE parameter makes a candidate fail in each way the tuner knows."""
import os
import signal
import time

from clgrad.tune.kernels import StreamTunable
from fakes import fake_caps  # noqa: F401  (the tuning tests' fake devices)


class ProbeTunable(StreamTunable):
    """The elementwise tunable plus MODE: "ok" runs normally; "build" builds a source with an
    ``#error``; "lm" asks for more local memory than any device has; "verify" computes a wrong
    result; "runtime" fails at launch; "slow" compiles for longer than the test's timeout;
    "crash" kills its process (only run isolated)."""

    name = kernel = "probe"

    def local_mem(self, params, dtype):
        return 1 << 40 if params.get("MODE") == "lm" else 0

    slow_seconds = 5.0

    def compile(self, problem, params):
        if params.get("MODE") == "slow":
            time.sleep(self.slow_seconds)
        if params.get("MODE") == "build":
            from clgrad.ops import launch
            launch.Kernel(problem.device, '#error "probe: this candidate does not build"\n'
                          "__kernel void probe_build(__global float *p) { p[0] = 1.0f; }\n",
                          "probe_build", [None])
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
