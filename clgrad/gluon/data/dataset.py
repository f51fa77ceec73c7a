"""Datasets: indexable collections of samples (MXNet's ``gluon.data.dataset``).

Samples stay on the host wherever clgrad can choose: ``ArrayDataset`` copies clgrad arrays to
NumPy once, so a DataLoader batches on the host and uploads each batch in one transfer, and
its worker processes never need OpenCL.
"""
from ...ndarray import ndarray
from .errors import DataError, DataTypeError
from .sampler import FilterSampler, Sampler, SequentialSampler, check_int

__all__ = ["Dataset", "SimpleDataset", "ArrayDataset"]


class Dataset:
    """Base class of datasets: subclasses define ``__getitem__`` (the i-th sample) and
    ``__len__``. A NumPy array, a list or a clgrad array can stand in for a Dataset wherever a
    DataLoader takes one."""

    def __getitem__(self, idx):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def filter(self, fn):
        """The samples for which ``fn(sample)`` is true (``fn`` runs on every sample now)."""
        return _SampledDataset(self, FilterSampler(fn, self))

    def shard(self, num_shards, index):
        """Part ``index`` of ``num_shards`` nearly equal contiguous parts (the first
        ``len % num_shards`` parts hold one sample more). Shard before shuffling, so that each
        part is a distinct subset."""
        num_shards = check_int("num_shards", num_shards, 1)
        index = check_int("index", index, 0)
        if index >= num_shards:
            raise DataError(f"shard index {index} is out of range for {num_shards} shards")
        shard_len, rest = divmod(len(self), num_shards)
        start = shard_len * index + min(index, rest)
        return _SampledDataset(self, SequentialSampler(shard_len + (index < rest), start))

    def take(self, count):
        """The first ``count`` samples (all of them if ``count`` is None or larger)."""
        count = len(self) if count is None else min(check_int("count", count, 0), len(self))
        return _SampledDataset(self, SequentialSampler(count))

    def sample(self, sampler):
        """The samples at the indices ``sampler`` yields (drawn once, now)."""
        if not isinstance(sampler, Sampler):
            raise DataTypeError(f"sample() needs a gluon.data.Sampler, "
                                f"got {type(sampler).__name__}")
        return _SampledDataset(self, sampler)

    def transform(self, fn, lazy=True):
        """Each sample passed through ``fn`` (a tuple sample is spread: ``fn(*sample)``).

        ``lazy=True`` applies ``fn`` whenever a sample is read (a random augmentation then
        differs each epoch); ``lazy=False`` applies it to every sample now, once."""
        transformed = _LazyTransformDataset(self, fn)
        if lazy:
            return transformed
        return SimpleDataset([transformed[i] for i in range(len(transformed))])

    def transform_first(self, fn, lazy=True):
        """Like ``transform``, but ``fn`` sees only the sample's first element (the data of a
        ``(data, label)`` pair); the other elements pass through unchanged."""
        return self.transform(_TransformFirst(fn), lazy)


class SimpleDataset(Dataset):
    """A Dataset over any object with ``len()`` and ``[]`` (a list, a NumPy array, ...)."""

    def __init__(self, data):
        self._data = data

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        return self._data[idx]


class _LazyTransformDataset(Dataset):
    def __init__(self, data, fn):
        self._data = data
        self._fn = fn

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        item = self._data[idx]
        if isinstance(item, tuple):
            return self._fn(*item)
        return self._fn(item)


class _TransformFirst:
    """A class rather than a closure, so that worker processes can unpickle it."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, first, *rest):
        if rest:
            return (self._fn(first),) + rest
        return self._fn(first)


class _SampledDataset(Dataset):
    def __init__(self, dataset, sampler):
        self._dataset = dataset
        self._indices = list(sampler)

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, idx):
        return self._dataset[self._indices[idx]]


class ArrayDataset(Dataset):
    """Parallel dataset-like objects (arrays, lists, Datasets) of one length: sample ``i`` is
    ``(a[i], b[i], ...)``, or just ``a[i]`` when there is a single one.

    clgrad arrays are copied to NumPy once, here (MXNet does so for 1-D arrays only): their
    samples are then NumPy arrays and scalars, which a DataLoader stacks on the host and
    uploads in one transfer per batch.
    """

    def __init__(self, *args):
        if not args:
            raise DataError("ArrayDataset needs at least one array")
        self._length = len(args[0])
        self._data = []
        for i, data in enumerate(args):
            if len(data) != self._length:
                raise DataError(f"all arrays of an ArrayDataset must have the same length; "
                                f"array 0 has length {self._length} but array {i} has {len(data)}")
            if isinstance(data, ndarray):
                data = data.asnumpy()
            self._data.append(data)

    def __getitem__(self, idx):
        if len(self._data) == 1:
            return self._data[0][idx]
        return tuple(data[idx] for data in self._data)

    def __len__(self):
        return self._length

