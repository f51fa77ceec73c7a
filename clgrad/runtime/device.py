"""OpenCL devices: discovery, default selection, and the lazily created per-device state.

Importing clgrad touches no OpenCL; the platform list is read on first use, and a device's
context, in-order queue and memory pool are created the first time that device runs something.
Ordering between kernels comes from the single in-order queue: no per-array events.
"""
import atexit
import os
import threading

import pyopencl as cl
import pyopencl.tools as cl_tools

from ..base import DeviceNotFoundError, MXNetError, OutOfMemoryError
from . import hostshared, hugepages
from .caps import apply_limits, read_caps

_SIMULATORS = ("oclgrind",)


class Device:
    """One OpenCL device, named as MXNet names devices: ``cpu(i)`` or ``gpu(i)``."""

    def __init__(self, cl_device, platform_index, device_index, device_type, device_id):
        self.cl_device = cl_device
        self.platform_index = platform_index
        self.device_index = device_index
        self.device_type = device_type
        self.device_id = device_id
        self._caps = None
        self._claims = None
        self._selfcheck = None
        self._caps_lock = threading.Lock()
        self._context = None
        self._queue = None
        self._pool = None
        self._shared = None    # HostSharedPool, or False where not used (hostshared)
        self._max_alloc = 0
        self._init_lock = threading.Lock()
        # One lock per device serialises set-args + enqueue on shared kernel objects.
        self.launch_lock = threading.RLock()
        self.kernels = {}      # small key tuple -> (kernel, launch info); filled by codegen
        self.programs = {}     # (source, options) -> cl.Program
        self.stats = {"compiles": 0, "binary_loads": 0}
        self.peak_bytes = 0    # high-water mark of pool bytes in use (see reset_peak)
        self.huge_page_bytes = 0    # bytes of new buffers advised to huge pages (hugepages)

    # --- identity -------------------------------------------------------------------------
    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    # equality and hashing are object identity (the defaults, which cost no Python call)

    @property
    def name(self):
        return self.cl_device.name.strip()

    @property
    def is_simulator(self):
        return any(s in self.name.lower() or s in self.cl_device.platform.name.lower()
                   for s in _SIMULATORS)

    @property
    def build_options(self):
        """Options added to every program build on this device.

        Oclgrind's uninitialised-value checker cannot interpret LLVM's ``freeze`` instruction,
        which optimised builds emit for integer division; unoptimised builds avoid it.
        ``CLGRAD_BUILD_OPTIONS`` adds options for debugging.
        """
        opts = ("-cl-opt-disable",) if self.is_simulator else ()
        return opts + tuple(os.environ.get("CLGRAD_BUILD_OPTIONS", "").split())

    # --- MXNet's ``with mx.gpu(0):`` sets the default device -------------------------------
    def __enter__(self):
        _state.stack = getattr(_state, "stack", []) + [self]
        return self

    def __exit__(self, *exc):
        _state.stack = _state.stack[:-1]
        return False

    # --- lazily created OpenCL state ---------------------------------------------------------
    @property
    def claims(self):
        """What the driver reports about the device (``DeviceCaps``), before any check."""
        if self._claims is None:
            self._claims = read_caps(self.cl_device, limits=False)
        return self._claims

    @property
    def caps(self):
        """The capabilities kernels may rely on: the driver's claims that the device self-check
        verified (run in a child process on the first use of a device and driver, then read
        from the cache), lowered by ``CLGRAD_DEVICE_LIMITS``."""
        if self._caps is None:
            with self._caps_lock:
                if self._caps is None:
                    from . import selfcheck
                    claims = self.claims
                    result = selfcheck.check(self, claims)
                    self._selfcheck = result
                    self._caps = apply_limits(selfcheck.verified_caps(claims, result))
        return self._caps

    @property
    def selfcheck(self):
        """The device self-check's result (``selfcheck.SelfCheck``)."""
        if self._selfcheck is None:
            self.caps       # noqa: B018  (runs or reads the check)
        return self._selfcheck

    def recheck(self):
        """Run the device self-check again and forget the kernels it rejected before."""
        from . import program_cache, selfcheck
        with self._caps_lock:
            selfcheck.forget(self.claims)
            program_cache.forget_rejections(self)
            result = selfcheck.check(self, self.claims, recheck=True)
            self._selfcheck = result
            self._caps = apply_limits(selfcheck.verified_caps(self.claims, result))
        return result

    def _ensure(self):
        if self._queue is None:
            with self._init_lock:
                if self._queue is None:
                    ctx = cl.Context([self.cl_device])
                    queue = cl.CommandQueue(ctx)
                    self._max_alloc = self.caps.max_alloc
                    self._context = ctx
                    self._queue = queue
                    self._pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(queue))

    @property
    def context(self):
        self._ensure()
        return self._context

    @property
    def queue(self):
        self._ensure()
        return self._queue

    @property
    def pool(self):
        self._ensure()
        return self._pool

    def allocate(self, nbytes):
        """A pooled buffer of at least ``nbytes`` (one byte for empty arrays): host-shared
        (``runtime.hostshared``) from ``hostshared.MIN_BYTES`` on where the device allows."""
        pool = self._pool
        if pool is None or nbytes > self._max_alloc:
            self._check_size(nbytes)
            pool = self.pool
        if nbytes >= hostshared.MIN_BYTES:
            shared = self._shared
            if shared is None:
                shared = self._host_shared_pool()
            if shared:
                return self._allocate_shared(shared, nbytes)
        managed = pool.managed_bytes if nbytes >= hugepages.MIN_BYTES else None
        try:
            buf = pool.allocate(nbytes or 1)
        except cl.Error as first:
            buf = self._retry(nbytes, first, lambda: pool.allocate(nbytes or 1))
            managed = None
        self._note_peak()
        if managed is not None and pool.managed_bytes > managed:
            self._advise_huge(buf, nbytes)      # a new block, not one the pool held
        return buf

    def _host_shared_pool(self):
        """This device's ``HostSharedPool`` (made on first need), or False: CPU devices only,
        where the buffers are host memory anyway, and only when the claim passes its check."""
        caps, context, queue = self.caps, self.context, self.queue
        with self._init_lock:
            if self._shared is None:
                ok = caps.kind == "cpu" and caps.fine_svm and not self.is_simulator and \
                    hostshared.check(context, queue)
                self._shared = hostshared.HostSharedPool(context) if ok else False
                if ok:
                    # at exit, the pool's blocks are freed while commands queued on them could
                    # still run (clSVMFree does not wait): let them finish first
                    atexit.register(self.synchronize)
        return self._shared

    @property
    def host_shared(self):
        """Whether this device's buffers of ``hostshared.MIN_BYTES`` and more are host-shared
        (``runtime.hostshared``; checks the claim on first use)."""
        shared = self._shared
        return bool(shared if shared is not None else self._host_shared_pool())

    def _allocate_shared(self, shared, nbytes):
        try:
            buf, fresh = shared.allocate(nbytes)
        except (cl.Error, MemoryError) as first:
            buf, fresh = self._retry(nbytes, first, lambda: shared.allocate(nbytes))
        self._note_peak()
        if fresh is not None and nbytes >= hugepages.MIN_BYTES and self._huge_wanted():
            if hugepages.advise(fresh, nbytes):
                self.huge_page_bytes += nbytes
        return buf

    def host_array(self, buffer, byte_offset, count, dtype):
        """The ``count`` elements of ``dtype`` at ``byte_offset`` of ``buffer`` as a NumPy array
        over the buffer's own memory when it is host-shared (``runtime.hostshared``), else None.
        The host may use it only while no command that uses the buffer is queued or running."""
        if self._shared and hostshared.is_host_shared(buffer):
            return hostshared.host_array(buffer, byte_offset, count, dtype)
        return None

    def _note_peak(self):
        used = self._pool.active_bytes
        if self._shared:
            used += self._shared.active_bytes
        if used > self.peak_bytes:
            self.peak_bytes = used

    def _huge_wanted(self):
        huge = self.__dict__.get("_huge")
        if huge is None:
            huge = self._huge = self.caps.kind == "cpu" and hugepages.wanted()
        return huge

    def _advise_huge(self, buf, nbytes):
        """Huge pages for a new large buffer of a CPU device (``runtime.hugepages``) that is
        not host-shared: its host range, mapped on a queue of its own (nothing waits for this
        device's other work), is advised before anything writes it. Any failure just leaves
        the buffer as it is."""
        if not self._huge_wanted():
            return
        try:
            q = self.__dict__.get("_side_queue")
            if q is None:
                q = self._side_queue = cl.CommandQueue(self.context, self.cl_device)
            host, _ = cl.enqueue_map_buffer(q, buf, cl.map_flags.WRITE_INVALIDATE_REGION, 0,
                                            (nbytes,), "uint8", is_blocking=True)
            try:
                if hugepages.advise(host.ctypes.data, nbytes):
                    self.huge_page_bytes += nbytes
            finally:
                host.base.release(q)
                q.finish()
        except (cl.Error, OSError, AttributeError, ValueError, TypeError):
            self._huge = False

    def _check_size(self, nbytes):
        caps = self.caps
        if nbytes > caps.max_alloc:
            raise OutOfMemoryError(
                f"cannot allocate {nbytes} bytes on {self} ({self.name}): larger than the device's "
                f"largest single allocation (max_mem_alloc_size = {caps.max_alloc} bytes)")

    def _retry(self, nbytes, first, again):
        """After ``first``, a failed allocation of ``nbytes``: free what the pools hold and
        return ``again()``, or raise OutOfMemoryError."""
        self.empty_cache()
        try:
            return again()
        except (cl.Error, MemoryError):
            raise OutOfMemoryError(
                f"out of device memory on {self} ({self.name}) allocating {nbytes} bytes "
                f"({self.memory_stats()['in_use_bytes']} bytes in use): {first}") from None

    def memory_stats(self):
        if self._pool is None:
            return {"in_use_bytes": 0, "reserved_bytes": 0, "peak_bytes": 0, "active_blocks": 0,
                    "held_blocks": 0}
        p = self._pool
        used, managed = int(p.active_bytes), int(p.managed_bytes)
        active, held = int(p.active_blocks), int(p.held_blocks)
        if self._shared:
            s_used, s_managed, s_active, s_held = self._shared.stats()
            used, managed, active, held = (used + s_used, managed + s_managed,
                                           active + s_active, held + s_held)
        # reserved: everything the pools own (arrays' blocks with their rounding, and held blocks)
        return {"in_use_bytes": used, "reserved_bytes": managed, "peak_bytes": int(self.peak_bytes),
                "active_blocks": active, "held_blocks": held}

    def reset_peak(self):
        """Start a new high-water mark of device bytes in use."""
        self.peak_bytes = self.memory_stats()["in_use_bytes"]

    def empty_cache(self):
        """Free the blocks the pools hold for reuse."""
        if self._pool is not None:
            self._pool.free_held()
        if self._shared:
            self.synchronize()      # SVM blocks are freed at once: nothing may still use them
            self._shared.free_held()

    def synchronize(self):
        if self._queue is not None:
            self._queue.finish()


# --- discovery and the default device --------------------------------------------------------
_state = threading.local()
_devices = None
_discover_lock = threading.Lock()


def all_devices():
    """Every OpenCL device of every platform, in platform order."""
    global _devices
    if _devices is None:
        with _discover_lock:
            if _devices is None:
                found = []
                counters = {"cpu": 0, "gpu": 0}
                try:
                    platforms = cl.get_platforms()
                except cl.Error:
                    platforms = []
                for pi, plat in enumerate(platforms):
                    try:
                        devs = plat.get_devices()
                    except cl.Error:
                        continue
                    for di, d in enumerate(devs):
                        kind = "cpu" if d.type & cl.device_type.CPU else "gpu"
                        found.append(Device(d, pi, di, kind, counters[kind]))
                        counters[kind] += 1
                _devices = found
    return _devices


def match_device(spec, devices, what):
    spec = spec.strip()
    if ":" in spec and all(p.strip().isdigit() for p in spec.split(":", 1) if p.strip()):
        p, _, d = spec.partition(":")
        p = int(p)
        d = int(d) if d.strip() else 0
        for dev in devices:
            if dev.platform_index == p and dev.device_index == d:
                return dev
        raise DeviceNotFoundError(f"{what}={spec!r}: no OpenCL device {p}:{d} "
                                  f"(run `python -m clgrad info` to list devices)")
    if spec.isdigit():
        cand = [d for d in devices if d.platform_index == int(spec)]
        if cand:
            return cand[0]
    low = spec.lower()
    for dev in devices:
        plat = dev.cl_device.platform
        if any(low in t.lower() for t in (dev.name, plat.name, plat.version)):
            return dev
    raise DeviceNotFoundError(f"{what}={spec!r} matches no OpenCL device "
                              f"(run `python -m clgrad info` to list devices)")


_default = None


def default_device():
    """The device used when none is given: ``with device:`` scopes first, then the chosen one."""
    stack = getattr(_state, "stack", None)
    if stack:
        return stack[-1]
    global _default
    if _default is None:
        _default = choose_default()
    return _default


def choose_default():
    devices = all_devices()
    if not devices:
        raise MXNetError("no OpenCL device found: install an OpenCL driver, or PoCL for the CPU "
                         "with `pip install pocl-binary-distribution`")
    for var in ("CLGRAD_DEVICE", "PYOPENCL_CTX"):
        spec = os.environ.get(var)
        if spec:
            return match_device(spec, devices, var)
    real = [d for d in devices if not d.is_simulator]
    for kind in ("gpu", "cpu"):
        for d in real:
            if d.device_type == kind:
                return d
    raise MXNetError("only simulator OpenCL devices were found; select one explicitly with "
                     "CLGRAD_DEVICE")


def get_device(device_type, device_id=0):
    devs = [d for d in all_devices() if d.device_type == device_type]
    if device_id < 0 or device_id >= len(devs):
        raise DeviceNotFoundError(f"{device_type}({device_id}) does not exist: this machine "
                                  f"has {len(devs)} OpenCL {device_type.upper()} device(s)")
    return devs[device_id]
