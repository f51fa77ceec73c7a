"""MNIST and Fashion-MNIST read from local IDX files (MXNet's ``gluon.data.vision.datasets``).

Nothing is downloaded: the four files must already be in ``root``, gzip-compressed (as
distributed) or not. Samples are host data, as a DataLoader wants them: an image is a uint8
NumPy array of shape (28, 28, 1) and a label a NumPy int32 scalar.
"""
import gzip
import os
import struct
import warnings
import zlib

import numpy as np

from ..dataset import Dataset
from ..errors import DatasetFormatError, DatasetNotFoundError

__all__ = ["MNIST", "FashionMNIST"]

# IDX magic numbers: 0x08 (unsigned bytes) in the third byte, the number of dimensions last
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _data_home():
    """MXNet's data directory: $MXNET_HOME, else ~/.mxnet."""
    return os.path.expanduser(os.environ.get("MXNET_HOME", os.path.join("~", ".mxnet")))


def read_idx(path, magic):
    """The uint8 array stored in the IDX file ``path`` (gzip-compressed if it ends in .gz),
    checked against the expected ``magic`` number and against the size its header promises."""
    what = "images" if magic == IMAGES_MAGIC else "labels"
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:   # a truncated or non-gzip .gz file
        raise DatasetFormatError(f"cannot read the IDX {what} file {path}: {e}") from e
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    found = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else None
    if found != magic:
        found_text = "missing (fewer than 4 bytes)" if found is None else f"{found:#010x}"
        raise DatasetFormatError(f"{path} is not an IDX {what} file: its magic number is "
                                 f"{found_text}, expected {magic:#010x}")
    if len(raw) < header:
        raise DatasetFormatError(f"{path} is truncated: its header needs {header} bytes, "
                                 f"the file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DatasetFormatError(f"{path} holds {len(raw) - header} bytes of data, but its header "
                                 f"promises {expected} (shape {shape}): the file is truncated "
                                 f"or corrupt")
    # a copy, so that samples are writable like MXNet's
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


class MNIST(Dataset):
    """MNIST handwritten digits (http://yann.lecun.com/exdb/mnist): 60,000 training and 10,000
    test samples ``(image, label)``, image a (28, 28, 1) uint8 array, label an int32 scalar.

    ``root`` (default ``$MXNET_HOME/datasets/mnist``) must hold ``train-images-idx3-ubyte``
    and ``train-labels-idx1-ubyte`` (``train=True``) or ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz``. ``transform(image, label)``
    is MXNet's deprecated argument: prefer ``dataset.transform_first(...)``.
    """
    _namespace = "mnist"
    _source = "http://yann.lecun.com/exdb/mnist"

    def __init__(self, root=None, train=True, transform=None):
        if root is None:
            root = os.path.join(_data_home(), "datasets", self._namespace)
        self._root = os.path.expanduser(root)
        self._train = train
        if transform is not None:
            warnings.warn("the transform argument of a dataset is deprecated (as in MXNet); use "
                          "dataset.transform() or dataset.transform_first()",
                          DeprecationWarning, stacklevel=2)
        self._transform = transform
        prefix = "train" if train else "t10k"
        images_path, labels_path = self._find(f"{prefix}-images-idx3-ubyte",
                                              f"{prefix}-labels-idx1-ubyte")
        labels = read_idx(labels_path, LABELS_MAGIC)
        images = read_idx(images_path, IMAGES_MAGIC)
        if len(images) != len(labels):
            raise DatasetFormatError(f"{images_path} holds {len(images)} images but {labels_path} "
                                     f"holds {len(labels)} labels")
        self._data = images[..., np.newaxis]
        self._label = labels.astype(np.int32)

    def _find(self, *names):
        found, missing = [], []
        for name in names:
            paths = [os.path.join(self._root, name + ext) for ext in ("", ".gz")]
            path = next((p for p in paths if os.path.isfile(p)), None)
            found.append(path)
            if path is None:
                missing.append(name + "(.gz)")
        if missing:
            split = "training" if self._train else "test"
            needed = " and ".join(name + "(.gz)" for name in names)
            raise DatasetNotFoundError(
                f"{type(self).__name__} ({split} set) needs {needed} in {self._root}; "
                f"missing: {', '.join(missing)}. clgrad does not download "
                f"datasets: get the files from {self._source} and put them there (or pass root=).")
        return found

    def __getitem__(self, idx):
        if self._transform is not None:
            return self._transform(self._data[idx], self._label[idx])
        return self._data[idx], self._label[idx]

    def __len__(self):
        return len(self._label)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist), a drop-in
    replacement of MNIST with the same file names and sample format; ``root`` defaults to
    ``$MXNET_HOME/datasets/fashion-mnist``."""
    _namespace = "fashion-mnist"
    _source = "https://github.com/zalandoresearch/fashion-mnist"
