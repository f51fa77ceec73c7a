"""``DataLoader``: mini-batches of a dataset as clgrad arrays (MXNet's ``gluon.data.DataLoader``).

Batching happens on the host: the samples of a batch are stacked with NumPy and each field of
the batch reaches the device in one transfer (``clgrad.np.array``), made by the main process.
With ``num_workers > 0`` worker processes (started with 'spawn', so none inherits an OpenCL
context) or threads (``thread_pool=True``) load and stack the next batches while the main
process uses the current one.
"""
import collections
import io
import multiprocessing
import multiprocessing.pool
import operator
import pickle
import signal
import traceback
import weakref

import numpy as np

from ... import numpy as _cnp
from ...ndarray import ndarray
from .errors import DataError, DataLoaderTimeoutError, DataLoaderWorkerError, DataTypeError
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_batchify_fn"]

# 'spawn' starts each worker as a fresh interpreter: a forked child would share the parent's
# OpenCL context and queues, which drivers do not support.
WORKER_START_METHOD = "spawn"


# --- batching ---------------------------------------------------------------------------------
def default_batchify_fn(data):
    """Stack a list of samples into a batch, as MXNet's default (``batchify.Stack``) does.

    A sample may be a NumPy array, a Python or NumPy number, a clgrad array, or a tuple or list
    of those (a ``(data, label)`` pair): the batch is then a list with one batched array per
    position. NumPy arrays and numbers are stacked on the host and uploaded once, keeping
    NumPy's dtype (Python ints give int64, floats float64, as in MXNet); clgrad arrays are
    stacked on their device.
    """
    return _upload(collate(data))


def collate(samples):
    """``default_batchify_fn`` without the upload: NumPy arrays for host samples (what a
    worker process returns), device arrays for clgrad samples."""
    if len(samples) == 0:
        raise DataError("cannot batch an empty list of samples")
    first = samples[0]
    if isinstance(first, ndarray):
        return _cnp.stack(samples)
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise DataError("the samples of a batch must have the same number of elements; got "
                            f"lengths {sorted({len(s) for s in samples})}")
        return [collate(list(field)) for field in zip(*samples)]
    try:
        batch = np.asarray(samples)
    except ValueError:
        batch = None
    if batch is None or batch.dtype == object:
        shapes = sorted({str(np.shape(s)) for s in samples})
        raise DataError(f"the samples of a batch must have one shape to be stacked; got shapes "
                        f"{', '.join(shapes)} (pass a batchify_fn that pads them)")
    return batch


def _upload(batch):
    if isinstance(batch, np.ndarray):
        return _cnp.array(batch)
    if isinstance(batch, list):
        return [_upload(field) for field in batch]
    return batch


# --- what runs in a worker --------------------------------------------------------------------
def load_batch(dataset, batchify_fn, indices):
    """``("ok", batch)``, or ``("error", index, message, traceback)`` naming the failing sample
    (index None when batchify_fn failed): the main process raises the error, so that it names
    the sample even when it comes from another process."""
    samples = []
    for index in indices:
        try:
            samples.append(dataset[index])
        except Exception as e:  # noqa: BLE001  (reported to the main process)
            return "error", index, f"{type(e).__name__}: {e}", traceback.format_exc()
    try:
        return "ok", batchify_fn(samples)
    except Exception as e:  # noqa: BLE001
        return "error", None, f"{type(e).__name__}: {e}", traceback.format_exc()


_process_state = {}     # in a worker process: the pickled payload, then what it holds


def _init_process_worker(payload):
    # Ctrl-C is for the main process, which stops the pool; workers would only print tracebacks
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _process_state["payload"] = payload


def _process_worker_task(indices):
    # unpickled on first use, not in the initializer: a failing initializer makes the pool
    # restart workers forever, while a failing task reports the reason
    if "dataset" not in _process_state:
        try:
            dataset, batchify_fn = pickle.loads(_process_state["payload"])
        except Exception as e:  # noqa: BLE001
            message = f"the worker could not unpickle the dataset: {type(e).__name__}: {e}"
            return "error", None, message, traceback.format_exc()
        _process_state.update(dataset=dataset, batchify_fn=batchify_fn)
        del _process_state["payload"]      # the unpickled copy is all the worker needs
    return load_batch(_process_state["dataset"], _process_state["batchify_fn"], indices)


class _HostPickler(pickle.Pickler):
    """Pickles clgrad arrays as NumPy arrays, so that worker processes get host data."""

    def reducer_override(self, obj):
        if isinstance(obj, ndarray):
            return np.asarray, (obj.asnumpy(),)
        return NotImplemented


def _payload_for_workers(dataset, batchify_fn):
    buf = io.BytesIO()
    try:
        _HostPickler(buf, pickle.HIGHEST_PROTOCOL).dump((dataset, batchify_fn))
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise DataTypeError(
            f"num_workers > 0 sends the dataset and batchify_fn to worker processes by "
            f"pickling, which failed: {e}. Use functions and classes defined at module level "
            f"(lambdas and local functions cannot be pickled), or pass thread_pool=True.") from e
    return buf.getvalue()


# --- the loader -------------------------------------------------------------------------------
class DataLoader:
    """Loads a dataset in mini-batches (MXNet's signature and argument rules).

    Give ``batch_size`` (with ``shuffle``, ``sampler`` or ``last_batch``: 'keep', 'discard' or
    'rollover', see ``BatchSampler``), or a ``batch_sampler`` and none of those.
    ``batchify_fn`` turns a list of samples into a batch (default ``default_batchify_fn``).

    ``num_workers > 0`` loads batches in that many worker processes, each holding a pickled
    copy of the dataset (clgrad arrays in it arrive as NumPy arrays; a script that uses them
    needs the ``if __name__ == '__main__':`` guard, as for any 'spawn' multiprocessing).
    Transforms then run in the workers: keep them on NumPy data there, so the workers never
    start OpenCL. ``thread_pool=True`` uses threads instead (no pickling, shared dataset).
    Up to ``prefetch`` batches (default ``2 * num_workers``) are loaded ahead; a batch not
    delivered within ``timeout`` seconds raises ``DataLoaderTimeoutError``, and a sample that
    fails in a worker raises ``DataLoaderWorkerError`` naming its index.

    ``pin_memory``, ``pin_device_id`` and ``try_nopython`` are accepted for MXNet code and have
    no effect: OpenCL uploads need no pinned staging, and there is no C++ loader to compile to.
    """

    def __init__(self, dataset, batch_size=None, shuffle=False, sampler=None, last_batch=None,
                 batch_sampler=None, batchify_fn=None, num_workers=0, pin_memory=False,
                 pin_device_id=0, prefetch=None, thread_pool=False, timeout=120,
                 try_nopython=None):
        if batch_sampler is None:
            if batch_size is None:
                raise DataError("batch_size must be specified unless batch_sampler is specified")
            if sampler is None:
                sampler = (RandomSampler if shuffle else SequentialSampler)(len(dataset))
            elif shuffle:
                raise DataError("shuffle must not be specified if sampler is specified")
            batch_sampler = BatchSampler(sampler, batch_size, last_batch or "keep")
        elif batch_size is not None or shuffle or sampler is not None or last_batch is not None:
            raise DataError("batch_size, shuffle, sampler and last_batch must not be specified "
                            "if batch_sampler is specified")
        if not timeout > 0:
            raise DataError(f"timeout must be positive, got {timeout}")
        try:
            num_workers = max(0, operator.index(num_workers))
        except TypeError:
            raise DataTypeError(f"num_workers must be an integer, got "
                                f"{type(num_workers).__name__}") from None

        self._dataset = dataset
        self._batch_sampler = batch_sampler
        self._num_workers = num_workers
        self._timeout = timeout
        self._prefetch = max(0, int(prefetch)) if prefetch is not None else 2 * num_workers
        # with the default batchify, workers stack on the host and the main process uploads
        self._default_batchify = batchify_fn is None or batchify_fn is default_batchify_fn
        self._batchify_fn = default_batchify_fn if batchify_fn is None else batchify_fn
        worker_batchify = collate if self._default_batchify else self._batchify_fn
        self._pool = None
        if num_workers > 0:
            if thread_pool:
                self._pool = multiprocessing.pool.ThreadPool(num_workers)
                self._task = _ThreadTask(dataset, worker_batchify)
            else:
                payload = _payload_for_workers(dataset, worker_batchify)
                context = multiprocessing.get_context(WORKER_START_METHOD)
                self._pool = context.Pool(num_workers, initializer=_init_process_worker,
                                          initargs=(payload,))
                self._task = _process_worker_task
            # the workers stop when the loader is collected or the interpreter exits
            weakref.finalize(self, self._pool.terminate)

    def __iter__(self):
        if self._pool is None:
            return self._same_process_batches()
        return _WorkerBatches(self)

    def _same_process_batches(self):
        for indices in self._batch_sampler:
            yield self._batchify_fn([self._dataset[i] for i in indices])

    def __len__(self):
        return len(self._batch_sampler)


class _ThreadTask:
    def __init__(self, dataset, batchify_fn):
        self._dataset = dataset
        self._batchify_fn = batchify_fn

    def __call__(self, indices):
        return load_batch(self._dataset, self._batchify_fn, indices)


class _WorkerBatches:
    """One epoch of a multi-worker DataLoader: batches in the sampler's order, with up to
    ``prefetch`` more queued in the workers (submitted as soon as the epoch starts)."""

    def __init__(self, loader):
        self._loader = loader
        self._indices = iter(loader._batch_sampler)
        self._pending = collections.deque()
        for _ in range(loader._prefetch):
            self._submit()

    def _submit(self):
        indices = next(self._indices, None)
        if indices is not None:
            self._pending.append((indices, self._loader._pool.apply_async(
                self._loader._task, (indices,))))

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        self._submit()
        if not self._pending:
            raise StopIteration
        indices, result = self._pending.popleft()
        timeout = self._loader._timeout
        try:
            outcome = result.get(timeout)
        except multiprocessing.TimeoutError:
            raise DataLoaderTimeoutError(
                f"a DataLoader worker did not deliver the batch of samples {indices} within "
                f"{timeout} seconds: the transform may be slow (raise timeout) or a worker may "
                f"have died") from None
        if outcome[0] == "error":
            _, index, message, worker_tb = outcome
            where = f"sample {index}" if index is not None else "the batchify_fn"
            raise DataLoaderWorkerError(
                f"DataLoader worker failed on {where} (batch {indices}): {message}\n\n"
                f"Worker traceback:\n{worker_tb}", index=index, batch=indices,
                worker_traceback=worker_tb)
        batch = outcome[1]
        return _upload(batch) if self._loader._default_batchify else batch
