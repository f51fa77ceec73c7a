"""Samplers: the order in which a DataLoader visits a dataset's indices (MXNet's
``gluon.data.sampler``). They run on the host and yield Python ints."""
import operator

import numpy as np

from .errors import DataError, DataTypeError

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "FilterSampler", "BatchSampler",
           "IntervalSampler"]

LAST_BATCH_MODES = ("keep", "discard", "rollover")


def check_int(name, value, minimum):
    """``value`` as an int no smaller than ``minimum``, else a DataError naming ``name``."""
    try:
        value = operator.index(value)
    except TypeError:
        raise DataTypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if value < minimum:
        raise DataError(f"{name} must be at least {minimum}, got {value}")
    return value


class Sampler:
    """Base class of samplers: subclasses define ``__iter__`` (the indices) and ``__len__``."""

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """The indices ``start, start + 1, ..., start + length - 1`` in order."""

    def __init__(self, length, start=0):
        self._length = check_int("length", length, 0)
        self._start = check_int("start", start, 0)

    def __iter__(self):
        return iter(range(self._start, self._start + self._length))

    def __len__(self):
        return self._length


class RandomSampler(Sampler):
    """A fresh permutation of ``range(length)`` each epoch, drawn from NumPy's global RNG
    (``numpy.random.seed`` makes it repeatable, as in MXNet)."""

    def __init__(self, length):
        self._length = check_int("length", length, 0)

    def __iter__(self):
        indices = np.arange(self._length)
        np.random.shuffle(indices)
        return iter(indices.tolist())

    def __len__(self):
        return self._length


class FilterSampler(Sampler):
    """The indices of the samples of ``dataset`` for which ``fn(sample)`` is true (decided once,
    when the sampler is made)."""

    def __init__(self, fn, dataset):
        self._indices = [i for i in range(len(dataset)) if fn(dataset[i])]

    def __iter__(self):
        return iter(self._indices)

    def __len__(self):
        return len(self._indices)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    ``last_batch`` says what happens to a final, short batch: ``'keep'`` yields it,
    ``'discard'`` drops it, ``'rollover'`` keeps its indices and puts them at the front of the
    next epoch's first batch (so ``len`` changes from epoch to epoch).

    >>> list(BatchSampler(SequentialSampler(10), 3, 'keep'))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size, last_batch="keep"):
        if last_batch not in LAST_BATCH_MODES:
            raise DataError(f"last_batch must be one of {', '.join(map(repr, LAST_BATCH_MODES))}, "
                            f"got {last_batch!r}")
        self._sampler = sampler
        self._batch_size = check_int("batch_size", batch_size, 1)
        self._last_batch = last_batch
        self._carried = []     # rollover: the previous epoch's left-over indices

    def __iter__(self):
        batch, self._carried = self._carried, []
        for index in self._sampler:
            batch.append(index)
            if len(batch) == self._batch_size:
                yield batch
                batch = []
        if batch:
            if self._last_batch == "keep":
                yield batch
            elif self._last_batch == "rollover":
                self._carried = batch

    def __len__(self):
        if self._last_batch == "keep":
            return (len(self._sampler) + self._batch_size - 1) // self._batch_size
        if self._last_batch == "discard":
            return len(self._sampler) // self._batch_size
        return (len(self._carried) + len(self._sampler)) // self._batch_size


class IntervalSampler(Sampler):
    """Every ``interval``-th index of ``range(length)``: ``0, interval, 2 * interval, ...``,
    then (``rollover=True``) the same from 1, from 2, ... until every index was visited.

    >>> list(IntervalSampler(13, interval=3))
    [0, 3, 6, 9, 12, 1, 4, 7, 10, 2, 5, 8, 11]
    """

    def __init__(self, length, interval, rollover=True):
        self._length = check_int("length", length, 0)
        self._interval = check_int("interval", interval, 1)
        if self._interval > max(self._length, 1):
            raise DataError(f"interval {interval} must not exceed length {length}")
        self._rollover = rollover

    def __iter__(self):
        for first in range(self._interval if self._rollover else 1):
            yield from range(first, self._length, self._interval)

    def __len__(self):
        if self._rollover:
            return self._length
        return len(range(0, self._length, self._interval))
