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
    """MPI is missing, a collective timed out, or the ranks disagree (parameter names, shapes)."""


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


def _wait(request, what):
    """Wait for a non-blocking collective, at most ``timeout()`` seconds."""
    limit = timeout()
    deadline = time.monotonic() + limit
    spins = 0
    # MPI progresses a non-blocking collective inside Test (as a blocking one polls inside its
    # call): poll without sleeping, and look at the clock every so often
    while not request.Test():
        spins += 1
        if spins % 256 == 0 and time.monotonic() > deadline:
            raise DistributedError(
                f"rank {rank()}: {what} did not complete within {limit:g} s "
                "(CLGRAD_DIST_TIMEOUT): another rank stopped, died or does not call it")


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


def _write_back(a, h):
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


def allreduce(array, average=True, name=None):
    """Sum ``array`` over all ranks, in place (divided by ``size()`` when ``average``; integers
    then take the floor, as Horovod), and return it. Booleans are or-ed (a sum, then != 0)."""
    _check(array, "allreduce")
    comm = _comm()
    what = f"allreduce{'' if name is None else ' ' + repr(name)}"
    if array.size == 0 or comm.Get_size() == 1:
        return array
    h = _host(array)
    _wait(comm.Iallreduce(_state["MPI"].IN_PLACE, h, op=_state["MPI"].SUM), what)
    if array.dtype == _np.bool_:
        h = h != 0
    elif average:
        n = comm.Get_size()
        h = h // n if h.dtype.kind in "iu" else h / n
    _write_back(array, h)
    return array


def allreduce_arrays(arrays, average=True, bucket_bytes=None):
    """``allreduce`` of many arrays in few collectives: arrays of one dtype packed into host
    buckets of about ``bucket_bytes`` (``BUCKET_BYTES``), one MPI allreduce per bucket. The
    result equals one ``allreduce`` per array."""
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
            _allreduce_bucket(comm, bucket, average)
            bucket, nbytes = ([a], a.nbytes) if a is not None else ([], 0)
    return arrays


def _allreduce_bucket(comm, bucket, average):
    if not bucket:
        return
    MPI = _state["MPI"]
    hosts = [_host(a) for a in bucket]
    flat = _np.concatenate([h.reshape(-1) for h in hosts])
    _wait(comm.Iallreduce(MPI.IN_PLACE, flat, op=MPI.SUM),
          f"allreduce of a bucket of {len(bucket)} arrays")
    if bucket[0].dtype == _np.bool_:
        flat = flat != 0
    elif average:
        n = comm.Get_size()
        flat = flat // n if flat.dtype.kind in "iu" else flat / n
    at = 0
    for a, h in zip(bucket, hosts):
        _write_back(a, flat[at:at + h.size])
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
    _wait(comm.Ibcast(h, root=root), "broadcast")
    _write_back(array, h)
    return array


def _agree(meta, root, what, label):
    """Raise ``DistributedError`` on every rank when ``meta`` (a list) differs from root's."""
    comm = _comm()
    mine = list(meta)
    everyone = comm.allgather(mine)
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
            _wait(_comm().Ibcast(h, root=root), "broadcast_parameters")
            _write_back(a, h)
    return params


def allgather(array):
    """The arrays of all ranks concatenated along axis 0 (their first dimensions may differ;
    the rest of the shape and the dtype must agree), on ``array``'s device."""
    _check(array, "allgather")
    comm = _comm()
    if comm.Get_size() == 1:
        return from_host(array.asnumpy(), array.device)
    shapes = comm.allgather((tuple(array.shape), str(array.dtype)))
    tail = [(s[1:], d) for s, d in shapes]
    if array.ndim == 0 or any(t != tail[0] for t in tail):
        raise DistributedError(f"allgather: the arrays must agree but in their first "
                               f"dimension (and not be 0-d); the ranks have {shapes}")
    h = _host(array)
    counts = [int(_np.prod(s)) for s, _ in shapes]
    out = _np.empty(sum(counts), dtype=h.dtype)
    comm.Allgatherv(h.reshape(-1), [out, counts])
    first = sum(s[0] for s, _ in shapes)
    out = out.reshape((first,) + tuple(array.shape[1:])).astype(array.dtype, copy=False)
    return from_host(out, array.device)


def barrier():
    """Wait until every rank reaches this point (at most ``timeout()`` seconds)."""
    comm = _comm()
    if comm.Get_size() > 1:
        _wait(comm.Ibarrier(), "barrier")
