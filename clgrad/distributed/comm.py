"""The collectives over MPI's world communicator, on device arrays (through host memory)."""
import os
import sys
import threading
import time
import traceback

import numpy as _np

from ..base import MXNetError
from ..ndarray import ndarray
from ..ops.core import assign, from_host

#: bytes per bucket of ``allreduce_arrays`` (the packed gradients of a Trainer group go whole)
BUCKET_BYTES = 4 << 20


class DistributedError(MXNetError, RuntimeError):
    """MPI is missing, an argument is wrong (compression, ``CLGRAD_DIST_TIMEOUT``, Buckets'
    arrays), or the ranks disagree (parameter names, shapes)."""


_state = {"comm": None, "local": None}
_lock = threading.Lock()


def timeout():
    """Seconds a collective may take before ``DistributedError`` (``CLGRAD_DIST_TIMEOUT``)."""
    try:
        return float(os.environ.get("CLGRAD_DIST_TIMEOUT", "300"))
    except ValueError:
        raise DistributedError("CLGRAD_DIST_TIMEOUT must be a number of seconds, got "
                               f"{os.environ.get('CLGRAD_DIST_TIMEOUT')!r}") from None


def init():
    """Start (or join) MPI: ``mpi4py`` over the system's MPI, launched by ``mpirun -n N``. A
    single process without ``mpirun`` is a world of one. Idempotent; returns the rank."""
    with _lock:
        if _state["comm"] is None:
            try:
                from mpi4py import MPI
            except ImportError as e:
                raise DistributedError(
                    "clgrad.distributed needs mpi4py over an MPI library: pip install "
                    "'clgrad[mpi]' with Open MPI installed (Debian: apt install openmpi-bin "
                    f"libopenmpi-dev) ({e})") from None
            if not MPI.Is_initialized():
                # mpi4py was imported with initialization off (rc.initialize = False)
                import atexit
                MPI.Init()
                atexit.register(lambda: MPI.Is_finalized() or MPI.Finalize())
            comm = MPI.COMM_WORLD
            _state["MPI"] = MPI
            _state["comm"] = comm
            _state["local"] = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
            if comm.Get_size() > 1:
                _install_abort_hook(comm)
    return _state["comm"].Get_rank()


def mpi():
    """The ``mpi4py.MPI`` module (after ``init``)."""
    _comm()
    return _state["MPI"]


def is_initialized():
    return _state["comm"] is not None


def _comm():
    if _state["comm"] is None:
        init()
    return _state["comm"]


def rank():
    """This process's rank in the world (0 .. size() - 1)."""
    return _comm().Get_rank()


def size():
    """How many processes the job has."""
    return _comm().Get_size()


def local_rank():
    """This process's rank among the processes of its machine (to choose its device)."""
    _comm()
    return _state["local"]


def _install_abort_hook(comm):
    """An uncaught exception on one rank aborts the job (after saying which rank raised), so
    the other ranks do not wait for it forever in their next collective."""
    def hook(kind, value, tb):
        r = comm.Get_rank()
        sys.stderr.write(f"clgrad.distributed: rank {r} of {comm.Get_size()} raised "
                         f"{kind.__name__}: {value}; aborting the job\n")
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook


class _Watchdog:
    """Stops the job when a collective outlives ``timeout()``: it says which rank waited for
    what, then ``MPI_Abort``s (which mpirun turns into the end of every rank). Collectives run
    blocking (MPI's tuned algorithms; its non-blocking ones polled from Python were half as
    fast); a thread looks at their deadlines once a second."""

    def __init__(self):
        self.lock = threading.Lock()
        self.waits = {}         # token -> (deadline, message)
        self.tokens = iter(range(1 << 62))
        self.thread = None
        self.rank = None

    def arm(self, what):
        limit = timeout()
        with self.lock:
            token = next(self.tokens)
            # (the message is written only when it is needed: this runs on every collective)
            self.waits[token] = (time.monotonic() + limit, what, limit)
            if self.thread is None:
                self.rank = rank()      # (asked here, on a thread that may call MPI)
                self.thread = threading.Thread(target=self._run, name="clgrad-dist-watchdog",
                                               daemon=True)
                self.thread.start()
        return token

    def disarm(self, token):
        with self.lock:
            del self.waits[token]

    def _run(self):
        while True:
            try:
                time.sleep(min(1.0, timeout() / 4))
            except DistributedError:    # (a bad value is reported where collectives start)
                time.sleep(1.0)
            now = time.monotonic()
            with self.lock:
                late = [(what, limit) for d, what, limit in self.waits.values() if d < now]
            if late:
                what, limit = late[0]
                sys.stderr.write(f"clgrad.distributed: rank {self.rank}: {what} did not complete "
                                 f"within {limit:g} s (CLGRAD_DIST_TIMEOUT): another rank "
                                 "stopped, died or does not call it; aborting the job\n")
                sys.stderr.flush()
                _state["comm"].Abort(1)


_watchdog = _Watchdog()


_before = []    # set_before_collective's function


def set_before_collective(fn):
    """Have ``fn()`` called before every collective that ``guarded`` runs (``Buckets`` waits
    there for the collectives its thread has in flight, so every rank issues the same
    collectives in the same order)."""
    _before[:] = [fn] if fn is not None else []


def guarded(what, collective, *args, **kwargs):
    """Run the blocking MPI call ``collective(*args, **kwargs)`` under the watchdog."""
    for fn in _before:
        fn()
    token = _watchdog.arm(what)
    try:
        return collective(*args, **kwargs)
    finally:
        _watchdog.disarm(token)


# float16 has no MPI type: it travels as float32 (and comes back rounded once)
_WIRE = {_np.dtype(_np.float16): _np.dtype(_np.float32)}


def _host(a):
    h = a.asnumpy()
    wire = _WIRE.get(h.dtype)
    if wire is not None:
        h = h.astype(wire)
    elif h.dtype == _np.bool_:
        h = h.astype(_np.uint8)
    return _np.ascontiguousarray(h)


def wire_dtype(dtype):
    """The dtype an array of ``dtype`` travels as (float16 as float32, bool as uint8)."""
    dtype = _np.dtype(dtype)
    return _WIRE.get(dtype, _np.dtype(_np.uint8) if dtype == _np.bool_ else dtype)


def write_back(a, h):
    """Write host values ``h`` into the device array ``a`` in place."""
    h = h.astype(a.dtype, copy=False).reshape(a.shape)
    if a._is_c_contiguous():
        st = a._storage
        st.prepare_write()
        st.upload(_np.ascontiguousarray(h), a._offset * a.dtype.itemsize)
        st.version += 1
    else:
        assign(a, from_host(h, a.device))


def _check(a, what):
    if not isinstance(a, ndarray):
        raise DistributedError(f"{what}: expects a clgrad array, got {type(a).__name__}")


COMPRESSIONS = (None, "none", "fp16")


def check_compression(compression):
    """``compression`` as ``reduce_host`` takes it: None or 'fp16' (Horovod's
    ``Compression.fp16``: floating-point values travel as float16, summed in float16)."""
    c = getattr(compression, "name", compression)
    if isinstance(c, dict):
        c = c.get("type")
    if c not in COMPRESSIONS:
        raise DistributedError(f"compression must be one of {COMPRESSIONS[1:]} (or None), got "
                               f"{compression!r}")
    return None if c == "none" else c


def _sum_float16(inbuf, inoutbuf, datatype):
    a = _np.frombuffer(inbuf, dtype=_np.float16)
    b = _np.frombuffer(inoutbuf, dtype=_np.float16)
    _np.add(a, b, out=b)


def _float16_sum():
    op = _state.get("f16sum")
    if op is None:
        op = _state["f16sum"] = _state["MPI"].Op.Create(_sum_float16, commute=True)
    return op


def reduce_host(h, average, what, compression=None, boolean=False):
    """Sum the C-contiguous host array ``h`` over all ranks (at most ``timeout()`` seconds);
    returns the result (``h`` itself when it could be reduced in place), divided by ``size()``
    when ``average`` (integers take the floor); ``boolean``: ``h`` holds booleans as uint8,
    or-ed (the sum != 0). With ``compression`` 'fp16'
    floating-point values travel as float16 (half the bytes, float16's precision)."""
    comm = _comm()
    MPI = _state["MPI"]
    if compression == "fp16" and h.dtype.kind == "f":
        with _np.errstate(over="ignore"):       # beyond float16's range: inf, as Horovod
            wire = h.astype(_np.float16)
        guarded(what, comm.Allreduce, MPI.IN_PLACE, [wire.view(_np.uint16), MPI.UINT16_T],
                op=_float16_sum())
        h = wire.astype(h.dtype)
    else:
        guarded(what, comm.Allreduce, MPI.IN_PLACE, h, op=MPI.SUM)
    if boolean:
        return h != 0
    if average:
        n = comm.Get_size()
        if h.dtype.kind in "iu":
            _np.floor_divide(h, n, out=h)
        else:
            _np.divide(h, n, out=h)
    return h


def allreduce(array, average=True, name=None, compression=None):
    """Sum ``array`` over all ranks, in place (divided by ``size()`` when ``average``; integers
    then take the floor, as Horovod), and return it. Booleans are or-ed (a sum, then != 0).
    ``compression='fp16'``: floating-point values travel as float16."""
    _check(array, "allreduce")
    compression = check_compression(compression)
    comm = _comm()
    what = f"allreduce{'' if name is None else ' ' + repr(name)}"
    if array.size == 0 or comm.Get_size() == 1:
        return array
    if array._is_c_contiguous() and wire_dtype(array.dtype) == array.dtype and \
            (compression is None or array.dtype.kind != "f"):
        # reduced in place in the device buffer mapped into host memory: no copy at all where
        # the device's memory is the host's (CPU devices), one transfer each way elsewhere
        st = array._storage
        with st.mapped(array._offset * array.itemsize, array.size, array.dtype) as h:
            reduce_host(h, average, what)
        return array
    write_back(array, reduce_host(_host(array), average, what, compression,
                                   array.dtype == _np.bool_))
    return array


def allreduce_arrays(arrays, average=True, bucket_bytes=None, compression=None):
    """``allreduce`` of many arrays in few collectives: arrays of one dtype packed into host
    buckets of about ``bucket_bytes`` (``BUCKET_BYTES``), one MPI allreduce per bucket. The
    result equals one ``allreduce`` per array."""
    compression = check_compression(compression)
    comm = _comm()
    if comm.Get_size() == 1:
        return arrays
    limit = BUCKET_BYTES if bucket_bytes is None else int(bucket_bytes)
    by_dtype = {}
    for a in arrays:
        _check(a, "allreduce_arrays")
        if a.size:
            by_dtype.setdefault(a.dtype, []).append(a)
    for group in by_dtype.values():
        bucket, nbytes = [], 0
        for a in group + [None]:
            if a is not None and (not bucket or nbytes + a.nbytes <= limit):
                bucket.append(a)
                nbytes += a.nbytes
                continue
            _allreduce_bucket(bucket, average, compression)
            bucket, nbytes = ([a], a.nbytes) if a is not None else ([], 0)
    return arrays


def _allreduce_bucket(bucket, average, compression):
    if not bucket:
        return
    hosts = [_host(a) for a in bucket]
    flat = _np.concatenate([h.reshape(-1) for h in hosts])
    flat = reduce_host(flat, average, f"allreduce of a bucket of {len(bucket)} arrays",
                       compression, bucket[0].dtype == _np.bool_)
    at = 0
    for a, h in zip(bucket, hosts):
        write_back(a, flat[at:at + h.size])
        at += h.size


def broadcast(array, root=0):
    """Overwrite ``array`` on every rank with root's, in place; returns it. The shape and dtype
    must agree on all ranks (``DistributedError`` names the rank that differs)."""
    _check(array, "broadcast")
    comm = _comm()
    if comm.Get_size() == 1:
        return array
    _agree([(array.shape, str(array.dtype))], root, "broadcast", lambda i: "the array")
    if array.size == 0:
        return array
    h = _host(array)
    guarded("broadcast", comm.Bcast, h, root=root)
    write_back(array, h)
    return array


def _agree(meta, root, what, label):
    """Raise ``DistributedError`` on every rank when ``meta`` (a list) differs from root's."""
    comm = _comm()
    mine = list(meta)
    everyone = guarded(what, comm.allgather, mine)
    want = everyone[root]
    for r, theirs in enumerate(everyone):
        if theirs == want:
            continue
        if len(theirs) != len(want):
            raise DistributedError(f"{what}: rank {r} has {len(theirs)} arrays, rank {root} "
                                   f"has {len(want)}")
        for i, (a, b) in enumerate(zip(theirs, want)):
            if a != b:
                raise DistributedError(f"{what}: {label(i)} on rank {r} is {a}, on rank "
                                       f"{root} {b}")


def broadcast_parameters(params, root=0):
    """Make every rank's parameters equal root's (call once, before training): ``params`` is a
    dict of name -> Parameter (``collect_params()``) or a list of Parameters or arrays. The
    names, shapes and dtypes must agree across ranks; a mismatch raises ``DistributedError``
    naming the parameter and the rank, on every rank."""
    if isinstance(params, dict):
        items = sorted(params.items())
    else:
        items = [(f"{getattr(p, 'name', 'array')} (#{i})", p) for i, p in enumerate(params)]
    arrays, meta = [], []
    for name, p in items:
        data = p.list_data() if hasattr(p, "list_data") else [p]
        for a in data:
            arrays.append((name, a))
            meta.append((name, tuple(a.shape), str(a.dtype)))
    if _comm().Get_size() == 1:
        return params
    _agree(meta, root, "broadcast_parameters",
           lambda i: f"parameter {meta[i][0]!r} (name, shape, dtype)")
    for _, a in arrays:
        if a.size:
            h = _host(a)
            guarded("broadcast_parameters", _comm().Bcast, h, root=root)
            write_back(a, h)
    return params


def allgather(array):
    """The arrays of all ranks concatenated along axis 0 (their first dimensions may differ;
    the rest of the shape and the dtype must agree), on ``array``'s device."""
    _check(array, "allgather")
    comm = _comm()
    if comm.Get_size() == 1:
        return from_host(array.asnumpy(), array.device)
    shapes = guarded("allgather", comm.allgather, (tuple(array.shape), str(array.dtype)))
    tail = [(s[1:], d) for s, d in shapes]
    if array.ndim == 0 or any(t != tail[0] for t in tail):
        raise DistributedError(f"allgather: the arrays must agree but in their first "
                               f"dimension (and not be 0-d); the ranks have {shapes}")
    h = _host(array)
    counts = [int(_np.prod(s)) for s, _ in shapes]
    out = _np.empty(sum(counts), dtype=h.dtype)
    guarded("allgather", comm.Allgatherv, h.reshape(-1), [out, counts])
    first = sum(s[0] for s, _ in shapes)
    out = out.reshape((first,) + tuple(array.shape[1:])).astype(array.dtype, copy=False)
    return from_host(out, array.device)


def barrier():
    """Wait until every rank reaches this point (at most ``timeout()`` seconds)."""
    comm = _comm()
    if comm.Get_size() > 1:
        guarded("barrier", comm.Barrier)
