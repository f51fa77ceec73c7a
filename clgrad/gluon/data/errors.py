"""Errors of ``clgrad.gluon.data``: each is an ``MXNetError`` and the builtin Python would raise."""
from ...base import MXNetError


class DataError(MXNetError, ValueError):
    """A bad argument or sample: mismatched lengths, an unknown ``last_batch``, conflicting
    DataLoader options, samples of different shapes in one batch."""


class DataTypeError(MXNetError, TypeError):
    """An argument of the wrong kind (a sampler that is not a ``Sampler``, say)."""


class DataLoaderWorkerError(MXNetError):
    """A DataLoader worker failed while loading or batching a sample.

    ``index`` is the dataset index of the failing sample (None when the batchify function
    failed on the whole batch), ``batch`` the indices of the batch, ``worker_traceback`` the
    worker's formatted traceback."""

    def __init__(self, message, index=None, batch=None, worker_traceback=""):
        super().__init__(message)
        self.index = index
        self.batch = batch
        self.worker_traceback = worker_traceback


class DataLoaderTimeoutError(MXNetError, TimeoutError):
    """A worker took longer than the DataLoader's ``timeout`` to deliver a batch."""


class DatasetNotFoundError(MXNetError, FileNotFoundError):
    """A dataset's files are not where the dataset looks for them (nothing is downloaded)."""


class DatasetFormatError(MXNetError, ValueError):
    """A dataset file is truncated or is not the format expected (wrong magic number, say)."""
