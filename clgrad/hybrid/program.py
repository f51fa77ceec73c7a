"""A captured call as a prepared list of launches, and the memory plan behind it.

Every launch gets its own kernel object with its arguments set once; a replay only re-sets the
arguments whose buffer changed since the last call (the call's inputs and fresh outputs) and
enqueues. Buffers are named by *keys*: ``("in", k)`` the call's k-th input, ``("head", k)`` the
k-th output cotangent, ``("out", j)``, ``("saved", j)``, ``("grad", j)`` fresh per call; any
other buffer is *fixed*: a constant or an outside array held by the program, or a part of the
arena.

The arena: the intermediates of a program, placed by liveness (first to last step that touches
each) into one device buffer, so that a replay allocates nothing for them; values whose lives
do not overlap share memory. Its parts are bound per call as keys ``("part", j)``: of the
graph's own arena with ``static_alloc=True``, else of one its device's graphs share (``Arena``).
"""
import threading

import pyopencl as cl

from ..ops import launch as _launch
from .trace import Copy, Launch, Upload

_KERNEL, _COPY, _UPLOAD = 0, 1, 2
_enqueue = cl.enqueue_nd_range_kernel


def is_buffer(a):
    return isinstance(a, cl.MemoryObjectHolder)


class Program:
    """Prepared steps over keyed and fixed buffers (see the module's docstring).

    ``resolve(buffer)`` gives ``(True, key)`` for a buffer bound per call, else
    ``(False, buffer to use)``.
    """

    def __init__(self, events, resolve):
        self.steps = []
        self.uses = {}          # key -> [(kernel object, argument position)]
        self.bound = {}         # key -> the buffer its users hold now
        self.launches = 0
        self.lock = threading.Lock()
        self.sources = []       # (kernel name, source) of the fused kernels, for describe()
        for e in events:
            t = type(e)
            if t is Launch:
                self._add_launch(e, resolve)
            elif t is Copy:
                self.steps.append((_COPY, resolve(e.dst), resolve(e.src), e.nbytes, None))
            elif t is Upload:
                self.steps.append((_UPLOAD, resolve(e.buffer), e.host, e.offset, None))

    def _add_launch(self, e, resolve):
        k = e.kernel
        obj = cl.Kernel(k.kernel.program, k.kernel.function_name)
        obj.set_scalar_arg_dtypes(k.arg_dtypes)
        args = []
        for pos, a in enumerate(e.args):
            if is_buffer(a):
                keyed, v = resolve(a)
                if keyed:
                    self.uses.setdefault(v, []).append((obj, pos))
                    args.append(a)      # replaced at the first run
                    continue
                a = v
            args.append(a)
        obj.set_args(*args)
        per_call = None
        if e.per_call is not None:
            positions, values = e.per_call
            per_call = (positions, [k.arg_dtypes[p] for p in positions], values)
        self.steps.append((_KERNEL, obj, e.glob, e.local, (k.queue, per_call)))
        self.launches += 1
        if k.name.startswith("ew_fused") or e.role is not None:
            self.sources.append((k.name, k.source))

    def run(self, binding):
        """Enqueue every step with the keyed buffers of ``binding`` (key -> buffer)."""
        with self.lock:
            bound = self.bound
            for key, users in self.uses.items():
                b = binding[key]
                if bound.get(key) is not b:
                    for obj, pos in users:
                        obj.set_arg(pos, b)
                    bound[key] = b
            for kind, a, b, c, extra in self.steps:
                if kind == _KERNEL:
                    queue, per_call = extra
                    if per_call is not None:
                        positions, dtypes, values = per_call
                        for p, t, v in zip(positions, dtypes, values()):
                            a.set_arg(p, t(v))
                    _enqueue(queue, a, b, c)
                elif kind == _COPY:
                    dst, src = _buffer(a, binding), _buffer(b, binding)
                    cl.enqueue_copy(_queue_of(binding), dst, src, byte_count=c)
                else:
                    cl.enqueue_copy(_queue_of(binding), _buffer(a, binding), b, dst_offset=c,
                                    is_blocking=False)
            _launch.add_launches(self.launches)

    def release(self):
        """Let go of the buffers the kernel objects hold from the last call."""
        with self.lock:
            self.bound.clear()


def _buffer(resolved, binding):
    keyed, v = resolved
    return binding[v] if keyed else v


def _queue_of(binding):
    return binding["queue"]


# --- the memory plan ---------------------------------------------------------------------------
def lifetimes(events, wanted):
    """For the buffers (ids) in ``wanted``: (first, last) index of the events touching each."""
    life = {}
    for i, e in enumerate(events):
        for b in _touched(e):
            key = id(b)
            if key in wanted:
                first = life.get(key)
                life[key] = (i, i) if first is None else (first[0], i)
    return life


def _touched(e):
    t = type(e)
    if t is Launch:
        return e.buffers()
    if t is Copy:
        return (e.dst, e.src)
    return (e.buffer,)


def pack(sizes, life, align):
    """Offsets (id -> byte offset) placing each value so that values alive at the same time
    never overlap, largest first at the lowest free offset; and the arena's size."""
    order = sorted(life, key=lambda k: (-sizes[k], life[k][0]))
    placed = []         # (offset, end, first, last)
    offsets = {}
    total = 0
    for k in order:
        size = -(-sizes[k] // align) * align
        first, last = life[k]
        busy = sorted((o, e) for o, e, f, la in placed if not (la < first or f > last))
        off = 0
        for o, e in busy:
            if off + size <= o:
                break
            off = max(off, -(-e // align) * align)
        offsets[k] = off
        placed.append((off, off + size, first, last))
        total = max(total, off + size)
    return offsets, total


class Arena:
    """The device buffer that the intermediates of captured programs live in: grown on demand,
    used by one program at a time (``with arena.borrow(size) as buffer``: a lock held while the
    program enqueues, so that the device's in-order queue runs its steps together, whichever
    thread calls). With ``static_alloc=True`` a graph has its own (``Arena(device)``); else the
    graphs of a device share one (``Arena.shared(device)``), as large as the largest needs, so
    memory does not grow with the number of graphs. A graph keeps its parts (sub-buffers) while
    the buffer stays the same, so either way a call binds nothing new."""

    _shared = {}
    _guard = threading.Lock()

    def __init__(self, device):
        self.device = device
        self.buffer = None
        self.size = 0
        self.lock = threading.RLock()

    @classmethod
    def shared(cls, device):
        with cls._guard:
            a = cls._shared.get(id(device))
            if a is None or a.device is not device:
                a = cls._shared[id(device)] = cls(device)
            return a

    def borrow(self, size):
        return _Borrowed(self, size)


class _Borrowed:
    __slots__ = ("arena", "size")

    def __init__(self, arena, size):
        self.arena, self.size = arena, size

    def __enter__(self):
        a = self.arena
        a.lock.acquire()
        if self.size > a.size:
            # graphs holding parts of the old buffer make new ones at their next call
            a.buffer = cl.Buffer(a.device.context, cl.mem_flags.READ_WRITE, self.size)
            a.size = self.size
        return a.buffer

    def __exit__(self, *exc):
        self.arena.lock.release()
        return False


def base_align(device):
    """The byte alignment sub-buffers need on ``device`` (at least 128)."""
    bits = device.cl_device.mem_base_addr_align
    return max(128, int(bits) // 8)


__all__ = ["Program", "Arena", "pack", "lifetimes", "base_align", "is_buffer"]
