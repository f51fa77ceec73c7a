"""Measure one candidate: check it fits, compile, warm up, verify, time with profiling events.

Every failure is caught and classified, never raised to the search:

=============  ===================================================================================
constraints    does not fit the device (work-group size, local memory, the compiled kernel's
               CL_KERNEL_WORK_GROUP_SIZE, or a launch refused with INVALID_WORK_GROUP_SIZE /
               OUT_OF_RESOURCES)
compile        the kernel failed to render or build
runtime        the launch or the run failed (or, isolated, the child process died)
verify         the result differs from the reference
timeout        compiling or running took longer than the candidate's time limit
=============  ===================================================================================

Candidates run on a ``ProfilingDevice``: the same OpenCL device with a context and an in-order
queue of its own created with profiling enabled, so timing neither slows nor disturbs the
runtime's queue. Compilation runs in worker threads ahead of the timing (``jobs``); with
``isolate`` each candidate runs in a child process instead, so a driver crash costs one candidate.
"""
import concurrent.futures as cf
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time

import pyopencl as cl

from ..base import KernelBuildError
from ..runtime.device import Device
from .kernels import TunableUnavailable

# OpenCL status codes that mean "this configuration does not fit", not "the kernel is broken".
_DOES_NOT_FIT = {-54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
                 -5: "CL_OUT_OF_RESOURCES"}


class _CompilePool:
    """Runs jobs in daemon threads, at most ``n`` at a time.

    Unlike a ThreadPoolExecutor, whose threads are joined at interpreter exit, a build that never
    returns (a hung compiler) cannot keep the tuner from exiting after it gave up on it. Builds
    that are merely still running must be waited for (``shutdown``) before the tuner returns: a
    daemon thread still inside the driver's compiler while the interpreter finalises aborts the
    process ("terminate called without an active exception").
    """

    def __init__(self, n):
        self._slots = threading.Semaphore(max(1, n))
        self._jobs = []         # (future, thread)

    def submit(self, fn, *args):
        fut = cf.Future()

        def work():
            with self._slots:
                if not fut.set_running_or_notify_cancel():
                    return
                try:
                    fut.set_result(fn(*args))
                except BaseException as e:  # noqa: BLE001  (handed to whoever waits)
                    fut.set_exception(e)
        thread = threading.Thread(target=work, daemon=True, name="clgrad-tune-compile")
        self._jobs = [(f, t) for f, t in self._jobs if t.is_alive()]
        self._jobs.append((fut, thread))
        thread.start()
        return fut

    def shutdown(self, wait=True, timeout=None):
        """Cancel the jobs not started yet; with ``wait``, join the threads, giving the builds
        still running up to ``timeout`` seconds in all (then they are abandoned). Returns
        whether every thread has ended."""
        for fut, _ in self._jobs:
            fut.cancel()
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for _, thread in self._jobs:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._jobs = [(f, t) for f, t in self._jobs if t.is_alive()]
        return not self._jobs


def _join_pools(pools, timeout):
    """Shut down ``pools`` (waiting up to ``timeout`` seconds in all); the pools whose threads
    are still alive afterwards."""
    deadline = time.monotonic() + timeout
    return [p for p in pools
            if not p.shutdown(wait=True, timeout=max(0.0, deadline - time.monotonic()))]


class ProfilingDevice(Device):
    """A private twin of a runtime device whose queue has profiling enabled."""

    def __init__(self, base):
        super().__init__(base.cl_device, base.platform_index, base.device_index,
                         base.device_type, base.device_id)
        self.base = base
        self._caps = base.caps

    def __repr__(self):
        return f"{self.base!r}[tuning]"

    __str__ = __repr__

    def _ensure(self):
        if self._queue is None:
            with self._init_lock:
                if self._queue is None:
                    import pyopencl.tools as cl_tools
                    ctx = cl.Context([self.cl_device])
                    queue = cl.CommandQueue(
                        ctx, properties=cl.command_queue_properties.PROFILING_ENABLE)
                    self._pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(queue))
                    self._context = ctx
                    self._queue = queue


def _error_text(e, limit=2000):
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= limit else text[:limit] + " ..."


def _cl_code(e):
    try:
        return e.code
    except AttributeError:
        pass
    args = getattr(e, "args", ())
    if args and hasattr(args[0], "code"):
        try:
            return args[0].code
        except Exception:  # noqa: BLE001
            return None
    return None


def _raised_in_template(e):
    """Whether ``e`` came out of rendering a Mako template (a kernel that cannot be built)."""
    tb = e.__traceback__
    while tb is not None:
        mod = tb.tb_frame.f_globals.get("__name__", "") or ""
        if mod.startswith("mako.") or mod.endswith("_mako"):
            return True
        tb = tb.tb_next
    return False


def classify_launch_error(e):
    """The failure kind of an exception raised while running a candidate.

    Build errors (an op family compiles on first use) are ``compile``; OpenCL errors that mean
    "does not fit" and exceptions that say so (``does_not_fit = True``, or a class named
    ``*NoFit*``) are ``constraints``; anything else is ``runtime``."""
    if isinstance(e, KernelBuildError) or _raised_in_template(e):
        return "compile"
    if getattr(e, "does_not_fit", False) or "NoFit" in type(e).__name__:
        return "constraints"
    if isinstance(e, cl.Error):
        code = _cl_code(e)
        if code in _DOES_NOT_FIT:
            return "constraints"
        text = str(e)
        if any(n in text for n in ("INVALID_WORK_GROUP_SIZE", "OUT_OF_RESOURCES",
                                   "INVALID_WORK_ITEM_SIZE")):
            return "constraints"
    return "runtime"


def _event_ms(events):
    """Device time of a run from its events (ms), or None without usable profiling data."""
    total = 0
    for ev in events:
        try:
            total += ev.profile.end - ev.profile.start
        except (cl.Error, AttributeError):
            return None
    return total / 1e6 if total > 0 else None


class Evaluator:
    """Measures candidates of one tunable on one problem (in this process)."""

    def __init__(self, tunable, device, dtype, size, seed=0, iterations=5, warmup=1,
                 timeout=60.0, jobs=1):
        self.tunable = tunable
        self.base_device = getattr(device, "base", device)
        self.dtype = dtype
        self.size = size
        self.seed = seed
        self.iterations = max(1, int(iterations))
        self.warmup = max(0, int(warmup))
        self.timeout = float(timeout) if timeout else math.inf
        self.jobs = max(1, int(jobs or 1))
        self._pool = None
        self._retired = []      # pools given up on whose builds may still run (joined by close)
        self._futures = {}
        self.problem = None
        self._new_problem()

    # --- problem and device ---------------------------------------------------------------
    def _new_problem(self):
        self.device = ProfilingDevice(self.base_device)
        self.problem = self.tunable.setup(self.device, self.dtype, self.size, self.seed)
        self._drop_compiled()

    def _drop_compiled(self):
        self._futures = {}
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._retired.append(self._pool)
            self._pool = None

    def close(self):
        """Cancel the builds not started and wait for the running ones (up to the candidates'
        time limit), so that no compile thread outlives the run."""
        self._drop_compiled()
        self._retired = _join_pools(self._retired, min(self.timeout, 600.0))

    @property
    def caps(self):
        return self.base_device.caps

    def _key(self, params):
        return json.dumps(params, sort_keys=True)

    # --- compile ahead -----------------------------------------------------------------------
    def _compile_timed(self, params):
        t0 = time.perf_counter()
        compiled = self.tunable.compile(self.problem, params)
        return compiled, (time.perf_counter() - t0) * 1e3

    def prefetch(self, configs):
        """Start compiling ``configs`` (those that fit) in worker threads."""
        if not self.tunable.precompile:
            return
        for params in configs:
            k = self._key(params)
            if k in self._futures or self.tunable.fits(params, self.caps, self.dtype):
                continue
            if self._pool is None:
                self._pool = _CompilePool(self.jobs)
            self._futures[k] = self._pool.submit(self._compile_timed, params)

    # --- one candidate ----------------------------------------------------------------------------
    def fit_error(self, params):
        return self.tunable.fits(params, self.caps, self.dtype)

    def measure(self, params, on_start=None):
        """The record of one candidate (a dict with ``status`` among the six kinds)."""
        rec = {"params": dict(params)}
        reason = self.fit_error(params)
        if reason:
            return self._fail(rec, "constraints", reason)
        compiled, compile_ms = None, None
        if self.tunable.precompile:
            k = self._key(params)
            fut = self._futures.pop(k, None)
            if fut is None:
                self.prefetch([params])
                fut = self._futures.pop(k)
            try:
                compiled, compile_ms = fut.result(timeout=self.timeout)
            except cf.TimeoutError:
                self._drop_compiled()   # the stuck thread is abandoned, not waited for
                return self._fail(rec, "timeout", f"compiling took longer than {self.timeout:g} s")
            except TunableUnavailable:
                raise
            except Exception as e:  # noqa: BLE001  (render or build errors of every kind)
                if isinstance(e, KernelBuildError):
                    rec["source"] = e.source_path
                return self._fail(rec, "compile", _error_text(e))
            rec["compile_ms"] = round(compile_ms, 3)
            for kernel, local in self.tunable.compiled_kernels(compiled, params):
                limit = kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE,
                                                   self.device.cl_device)
                if local > limit:
                    return self._fail(rec, "constraints",
                                      f"the compiled kernel allows {limit} work-items per "
                                      f"group (CL_KERNEL_WORK_GROUP_SIZE), not {local}")
        if on_start is not None:
            on_start(rec)
        # the run has its own time limit, apart from the build's (op families build on first
        # use, so for them it covers both)
        return self._run(rec, params, compiled, time.perf_counter())

    def _run(self, rec, params, compiled, started):
        t, q = self.tunable, self.device.queue
        try:
            t.reset(self.problem)
            for _ in range(max(1, self.warmup)):
                w0 = time.perf_counter()
                t.run(self.problem, compiled, params)
                q.finish()
                rec.setdefault("warmup_ms", round((time.perf_counter() - w0) * 1e3, 3))
                if time.perf_counter() - started > self.timeout:
                    return self._fail(rec, "timeout",
                                      f"the first run took longer than {self.timeout:g} s")
        except TunableUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            status = classify_launch_error(e)
            self._recover(e)
            return self._fail(rec, status, _error_text(e))
        try:
            problem = t.check(self.problem)
        except Exception as e:  # noqa: BLE001  (reading back can surface a failed kernel)
            self._recover(e)
            return self._fail(rec, "runtime", _error_text(e))
        if problem:
            return self._fail(rec, "verify", problem)
        times = []
        timer = "events" if t.uses_events else "markers"
        try:
            for _ in range(self.iterations):
                if t.uses_events:
                    w0 = time.perf_counter()
                    evs = t.run(self.problem, compiled, params)
                    cl.wait_for_events(evs)
                    ms = _event_ms(evs)
                    if ms is None:
                        timer, ms = "wall", (time.perf_counter() - w0) * 1e3
                else:
                    w0 = time.perf_counter()
                    m0 = cl.enqueue_marker(q)
                    t.run(self.problem, compiled, params)
                    m1 = cl.enqueue_marker(q)
                    m1.wait()
                    ms = _event_ms_between(m0, m1)
                    if ms is None:
                        timer, ms = "wall", (time.perf_counter() - w0) * 1e3
                times.append(ms)
                if time.perf_counter() - started > self.timeout:
                    break
        except TunableUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            self._recover(e)
            return self._fail(rec, classify_launch_error(e), _error_text(e))
        rec["status"] = "ok"
        rec["times_ms"] = [round(x, 6) for x in times]
        rec["median_ms"] = round(statistics.median(times), 6)
        rec["timer"] = timer
        for k, v in t.metric(self.size, self.dtype, rec["median_ms"] / 1e3).items():
            rec[k] = round(v, 3)
        rec["timestamp"] = time.time()
        return rec

    def _recover(self, error):
        # A failed launch can leave the context unusable (NVIDIA): start over on a fresh one.
        if not isinstance(error, cl.Error) or classify_launch_error(error) != "runtime":
            return
        try:
            self._new_problem()
        except Exception:  # noqa: BLE001  (the next candidate will report what is wrong)
            pass

    @staticmethod
    def _fail(rec, status, error):
        rec["status"] = status
        rec["error"] = error
        rec["timestamp"] = time.time()
        return rec

    def compile_only(self, params):
        """Just the fit check and the build (the isolated runner's parallel pre-compile)."""
        rec = {"params": dict(params)}
        reason = self.fit_error(params)
        if reason:
            return self._fail(rec, "constraints", reason)
        if not self.tunable.precompile:
            rec["status"] = "ok"
            return rec
        try:
            _, ms = self._compile_timed(params)
        except Exception as e:  # noqa: BLE001
            return self._fail(rec, "compile", _error_text(e))
        rec.update(status="ok", compile_ms=round(ms, 3))
        return rec


def _event_ms_between(m0, m1):
    try:
        ms = (m1.profile.end - m0.profile.end) / 1e6
    except (cl.Error, AttributeError):
        return None
    return ms if ms > 0 else None


# --- isolation: one child process per candidate --------------------------------------------------
RESULT_TAG = "CLGRAD_TUNE_RESULT "


class IsolatedEvaluator:
    """Runs each candidate in ``python -m clgrad.tune.worker``; compiles ahead in parallel
    children (which fill the on-disk program cache) when ``jobs`` > 1."""

    def __init__(self, tunable, device, dtype, size, seed=0, iterations=5, warmup=1,
                 timeout=60.0, jobs=1):
        spec = tunable.spec()
        if spec is None:
            raise TunableUnavailable("isolated tuning needs a tunable that can be rebuilt in a "
                                     "child process (constraints given as strings, not "
                                     "callables)")
        self.tunable = tunable
        self.base_device = getattr(device, "base", device)
        self.dtype = dtype
        self.size = size
        self.timeout = float(timeout) if timeout else 600.0
        self.jobs = max(1, int(jobs or 1))
        self.job = {"tunable": spec, "device": [self.base_device.platform_index,
                                                self.base_device.device_index],
                    "dtype": str(dtype), "size": list(size), "seed": seed,
                    "iterations": iterations, "warmup": warmup, "timeout": timeout}
        self._pool = None
        self._futures = {}

    @property
    def caps(self):
        return self.base_device.caps

    def fit_error(self, params):
        return self.tunable.fits(params, self.caps, self.dtype)

    def _child(self, params, mode, limit):
        job = dict(self.job, params=params, mode=mode)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            proc = subprocess.run([sys.executable, "-m", "clgrad.tune.worker"],
                                  input=json.dumps(job), capture_output=True, text=True,
                                  timeout=limit, env=env)
        except subprocess.TimeoutExpired:
            return {"params": params, "status": "timeout", "timestamp": time.time(),
                    "error": f"the child process took longer than {limit:g} s and was killed"}
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_TAG):
                return json.loads(line[len(RESULT_TAG):])
        if proc.returncode < 0:
            try:
                import signal
                how = f"signal {signal.Signals(-proc.returncode).name}"
            except (ValueError, ImportError):
                how = f"signal {-proc.returncode}"
        else:
            how = f"exit status {proc.returncode}"
        tail = proc.stderr.strip().splitlines()[-5:]
        return {"params": params, "status": "runtime", "timestamp": time.time(),
                "error": f"the child process died ({how})" + (": " + " | ".join(tail)
                                                             if tail else "")}

    def prefetch(self, configs):
        if self.jobs < 2 or not self.tunable.precompile:
            return
        for params in configs:
            k = json.dumps(params, sort_keys=True)
            if k in self._futures or self.fit_error(params):
                continue
            if self._pool is None:
                self._pool = _CompilePool(self.jobs)
            self._futures[k] = self._pool.submit(self._child, params, "compile", self.timeout)

    def measure(self, params, on_start=None):
        reason = self.fit_error(params)
        if reason:
            return {"params": dict(params), "status": "constraints", "error": reason,
                    "timestamp": time.time()}
        fut = self._futures.pop(json.dumps(params, sort_keys=True), None)
        if fut is not None:
            pre = fut.result()
            if pre.get("status") != "ok":
                return pre
        if on_start is not None:
            on_start({"params": dict(params)})
        # the child's own limit covers compile and run; this one also covers its start-up
        return self._child(params, "full", self.timeout * 2 + 30)

    def close(self):
        """Cancel the pre-compiles not started and wait for the running children (each has its
        own time limit)."""
        self._futures = {}
        if self._pool is not None:
            _join_pools([self._pool], self.timeout + 30)
            self._pool = None

