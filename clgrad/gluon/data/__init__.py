"""``clgrad.gluon.data``: datasets, samplers and the DataLoader (MXNet's ``gluon.data``)."""
from .dataset import ArrayDataset, Dataset, SimpleDataset  # noqa: F401
from .sampler import (BatchSampler, FilterSampler, IntervalSampler, RandomSampler,  # noqa: F401
                      Sampler, SequentialSampler)
from .dataloader import DataLoader, default_batchify_fn  # noqa: F401
from .errors import (DataError, DataLoaderTimeoutError, DataLoaderWorkerError,  # noqa: F401
                     DatasetFormatError, DatasetNotFoundError, DataTypeError)
from . import vision  # noqa: F401
