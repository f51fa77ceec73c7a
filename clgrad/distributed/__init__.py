"""Data-parallel training over MPI (``mpi4py`` over the system's Open MPI; ``clgrad[mpi]``).

Launch with ``mpirun -n N python script.py``: every process (rank) runs the same script on its
share of each batch, and gradients are summed (``gluon.Trainer(..., kvstore='dist_sync')``, as
MXNet) or averaged (``DistributedTrainer``, as Horovod) across ranks before each update. OpenCL
has no device-to-device transport between processes, so arrays travel through host memory: one
read, one MPI collective and one write per bucket of packed gradients (the Trainer's arenas).
A Trainer starts each bucket's allreduce during backward, as soon as its gradients are final
(``Buckets``; ``CLGRAD_DIST_OVERLAP=0`` waits for the step instead), and can send float16 on
the wire (``compression_params={'type': 'fp16'}``, Horovod's ``Compression.fp16``).

Collectives are MPI's (``Allreduce``, ``Bcast``, ``Allgatherv``); clgrad adds no transport.
A collective that does not complete within ``CLGRAD_DIST_TIMEOUT`` seconds (default 300)
stops the job instead of hanging (a watchdog prints which rank waited for what, then
``MPI_Abort``s), and so does an uncaught exception on one rank, after printing which rank
raised: the others never wait forever.
"""
from .buckets import Buckets, overlap_wanted  # noqa: F401
from .comm import (DistributedError, allgather, allreduce, allreduce_arrays, barrier,  # noqa: F401
                   broadcast, broadcast_parameters, check_compression, init, is_initialized,
                   local_rank, rank, size, timeout)

__all__ = ["DistributedError", "init", "is_initialized", "rank", "size", "local_rank",
           "allreduce", "allreduce_arrays", "allgather", "broadcast", "broadcast_parameters",
           "barrier", "timeout", "Buckets", "overlap_wanted", "check_compression"]
