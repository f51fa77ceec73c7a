"""Gradient buckets that start their allreduce while backward is still running.

A Trainer packs the gradients of one dtype into one device buffer (its arena). ``Buckets``
cuts that buffer into contiguous ranges of about ``BUCKET_BYTES``, from its end (the last
layers, whose gradients backward finishes first). ``autograd.graph.on_gradient_ready`` tells
it when a parameter's gradient is final; its values are read to the bucket's host buffer (an
enqueued read: the device goes on with backward), and a bucket whose parameters are all read
is handed to one communication thread, which waits for the reads and runs the bucket's MPI
allreduce while the main thread enqueues the rest of backward. ``finish`` (the Trainer's step)
reduces what backward did not reach, waits for every bucket and writes each back with one
transfer.

Every rank issues the buckets' collectives in the same fixed order (bucket 0 first, a bucket
only after the ones before it), whatever order its gradients became final in, so the
collectives match across ranks; every step reduces every bucket exactly once, so the count
matches too. A gradient made final again before the step (a second backward, grad_req 'add')
marks its bucket to be reduced again from the arena at the step, and so does a backward that
failed after some callbacks (it wrote no gradient).
"""
import os
import queue
import threading

import numpy as _np

from ..autograd import graph
from . import comm

#: bytes per bucket of gradients reduced during backward
BUCKET_BYTES = 4 << 20


class _Job:
    """One bucket's allreduce, run on the communication thread."""

    __slots__ = ("events", "host", "average", "what", "compression", "result", "error", "done")

    def __init__(self, events, host, average, what, compression):
        self.events = events
        self.host = host
        self.average = average
        self.what = what
        self.compression = compression
        self.result = self.error = None
        self.done = threading.Event()

    def run(self):
        try:
            for e in self.events:
                e.wait()
            self.events = None
            self.result = comm.reduce_host(self.host, self.average, self.what, self.compression)
        except BaseException as e:     # noqa: BLE001 - handed to the thread that waits
            self.error = e
        finally:
            self.done.set()

    def wait(self):
        # the job's own collective enforces the timeout; this only waits for the thread
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


_jobs = queue.SimpleQueue()
_thread = []
_in_flight = threading.Condition()
_count = [0]        # jobs submitted and not yet run


def _worker():
    while True:
        job = _jobs.get()
        try:
            job.run()
        finally:
            with _in_flight:
                _count[0] -= 1
                if not _count[0]:
                    _in_flight.notify_all()


def _submit(job):
    with _in_flight:
        if not _thread:
            t = threading.Thread(target=_worker, name="clgrad-allreduce", daemon=True)
            t.start()
            _thread.append(t)
            comm.set_before_collective(_drain)
        _count[0] += 1
    _jobs.put(job)


def _drain():
    """Wait until the communication thread has run every job (before a collective of another
    thread: the order of collectives must be the same on every rank)."""
    if _thread and threading.current_thread() is not _thread[0]:
        with _in_flight:
            while _count[0]:
                _in_flight.wait()


def overlap_wanted():
    """Whether a Trainer should reduce gradients during backward (``Buckets``): several
    ranks, MPI lets a second thread communicate (``MPI_THREAD_MULTIPLE``, what mpi4py asks
    for), and ``CLGRAD_DIST_OVERLAP`` is not '0'."""
    if os.environ.get("CLGRAD_DIST_OVERLAP", "1") == "0" or comm.size() == 1:
        return False
    MPI = comm.mpi()
    return MPI.Query_thread() >= MPI.THREAD_MULTIPLE


class Buckets:
    """The gradients of one arena (``flat``, a contiguous 1-D device array; ``views``, the
    parameters' gradients inside it, in its order), reduced in buckets (module docstring)."""

    def __init__(self, flat, views, average, compression=None, bucket_bytes=None, name="grads"):
        self.flat = flat
        self.average = average
        self.compression = comm.check_compression(compression)
        self.name = name
        limit = BUCKET_BYTES if bucket_bytes is None else int(bucket_bytes)
        self.wire = comm.wire_dtype(flat.dtype)
        self.views = list(views)
        spans = []      # (start, stop) element range of each view in flat
        for v in self.views:
            start = v._offset - flat._offset
            if v._storage.buffer is not flat._storage.buffer or v.dtype != flat.dtype or \
                    not v._is_c_contiguous() or start < 0 or start + v.size > flat.size:
                raise comm.DistributedError(
                    f"Buckets: a gradient of shape {v.shape} ({v.dtype}) is not inside the "
                    f"packed buffer of {flat.size} {flat.dtype} elements")
            spans.append((start, start + v.size))
        # contiguous runs of views, cut from the end, each at least one view
        self.ranges, self.members, self.gaps, self.bucket_of = [], [], [], {}
        stop, members, nbytes = None, [], 0
        for k in range(len(views) - 1, -1, -1):
            s0, s1 = spans[k]
            if members and nbytes + (s1 - s0) * flat.itemsize > limit:
                self._close(members, spans, stop)
                members, nbytes = [], 0
            if not members:
                stop = s1
            members.append(k)
            nbytes += (s1 - s0) * flat.itemsize
        if members:
            self._close(members, spans, stop)
        self.spans = spans
        self._reset()

    def _close(self, members, spans, stop):
        b = len(self.ranges)
        start = min(spans[k][0] for k in members)
        self.ranges.append((start, stop))
        self.members.append(frozenset(members))
        # the arena's padding between the views: no gradient is read there, so the host
        # buffer's bytes there are zeroed (else whatever the allocator left, summed on the
        # wire: an inf or a NaN warning in float16, garbage in the arena's padding)
        gaps, at = [], start
        for s0, s1 in sorted(spans[k] for k in members):
            if s0 > at:
                gaps.append((at - start, s0 - start))
            at = max(at, s1)
        self.gaps.append(gaps)
        for k in members:
            self.bucket_of[k] = b

    def _reset(self):
        n = len(self.ranges)
        self.waiting = [set(m) for m in self.members]
        self.events = [[] for _ in range(n)]
        self.hosts = [None] * n
        self.jobs = [None] * n
        self.stale = set()
        self.submitted = 0
        self.read = {}          # view k -> its version when its gradient was read

    def bind(self, variables):
        """Register the callbacks: ``variables[k]`` is the parameter array whose gradient is
        view ``k``."""
        for k, v in enumerate(variables):
            graph.on_gradient_ready(v, lambda value, k=k: self.ready(k, value))

    def _host(self, b):
        h = self.hosts[b]
        if h is None:
            start, stop = self.ranges[b]
            h = self.hosts[b] = _np.empty(stop - start, self.flat.dtype)
            for g0, g1 in self.gaps[b]:
                h[g0:g1] = 0
        return h

    def ready(self, k, value):
        """View ``k``'s gradient will be ``value``: read it into its bucket."""
        b = self.bucket_of[k]
        self.read[k] = self.views[k]._storage.version
        if self.jobs[b] is not None or k not in self.waiting[b]:
            self.stale.add(b)       # made final again after its bucket left: redo at the step
            return
        start = self.ranges[b][0]
        s0, s1 = self.spans[k]
        e = value.read_into(self._host(b)[s0 - start:s1 - start], wait=False)
        if e is not None:
            self.events[b].append(e)
        self.waiting[b].discard(k)
        self._submit_ready()

    def _job(self, b, events):
        host = self._host(b)
        if host.dtype != self.wire:
            # (float16 and bool travel converted: wait for the reads here)
            for e in events:
                e.wait()
            events, host = [], host.astype(self.wire)
        what = f"allreduce of {self.name} bucket {b}"
        return _Job(events, host, self.average, what, self.compression)

    def _submit_ready(self):
        while self.submitted < len(self.ranges) and not self.waiting[self.submitted]:
            b = self.submitted
            self.jobs[b] = job = self._job(b, self.events[b])
            self.events[b] = []
            _submit(job)
            self.submitted += 1

    def finish(self):
        """Reduce every bucket not reduced during backward (from the arena), wait for all
        and write each result into the arena."""
        try:
            for k, version in self.read.items():
                if self.views[k]._storage.version == version:
                    # read, but not written since: that backward failed
                    self.stale.add(self.bucket_of[k])
            for b in range(len(self.ranges)):
                if b >= self.submitted or b in self.stale:
                    if self.jobs[b] is not None:
                        self.jobs[b].wait()     # keep the collectives in order
                    start, stop = self.ranges[b]
                    self.flat[start:stop].read_into(self._host(b))
                    self.jobs[b] = self._job(b, [])
                    _submit(self.jobs[b])
            results = [job.wait() for job in self.jobs]
            for b, r in enumerate(results):
                start, stop = self.ranges[b]
                comm.write_back(self.flat[start:stop], r)
        finally:
            self._reset()
