"""Vision transforms (MXNet's ``gluon.data.vision.transforms``).

A transform is called as ``t(x, *rest)``: it transforms ``x`` and passes ``rest`` through, so
``dataset.transform(t)`` works on ``(image, label)`` samples. ``forward`` does the work and
``__call__`` calls it, as for a Block.

Each transform works where its input lives. NumPy arrays (what MNIST and ``ArrayDataset``
yield, and what a DataLoader's worker processes should handle) are transformed on the host and
stay NumPy; the DataLoader uploads the finished batch. clgrad arrays are transformed by clgrad
ops on their device and stay clgrad arrays, except that resizing goes through the host (Pillow,
as in ``clgrad.image``), so its pixels can differ slightly from MXNet's OpenCV resize.
Random transforms draw from NumPy's global RNG (``numpy.random.seed`` repeats them).
"""
import math

import numpy as np

from .... import numpy as _cnp
from ....image import resize_host
from ....ndarray import ndarray
from ..errors import DataError, DataTypeError

__all__ = ["Transform", "Compose", "Cast", "ToTensor", "Normalize", "Resize", "CenterCrop",
           "RandomResizedCrop", "RandomFlipLeftRight"]


def _with_rest(x, *rest):
    return (x,) + rest if rest else x


def _as_array(x):
    return x if isinstance(x, ndarray) else np.asarray(x)


def _check_image(name, x, layout):
    if x.ndim not in (3, 4):
        raise DataError(f"{name} expects an image {layout} or a batch of them (N, ...), "
                        f"got shape {tuple(x.shape)}")


def _size_pair(size):
    """MXNet's ``size``: an int (square) or ``(width, height)``."""
    if isinstance(size, (int, np.integer)):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise DataError(f"size must be a positive int or (width, height), got {size}")
    return size


class Transform:
    """Base class: subclasses define ``forward(x, *rest)``."""

    def __call__(self, x, *rest):
        return self.forward(x, *rest)

    def forward(self, x, *rest):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k.lstrip('_')}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Compose(Transform):
    """The transforms applied in turn; a transform that returns a tuple hands its first element
    to the next one as ``x`` and the rest as ``*rest`` (MXNet's Sequential rule)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def forward(self, x, *rest):
        for transform in self.transforms:
            out = transform(x, *rest)
            if isinstance(out, (tuple, list)):
                x, rest = out[0], tuple(out[1:])
            else:
                x, rest = out, ()
        return _with_rest(x, *rest)


class Cast(Transform):
    """Every input (``x`` and the rest) cast to ``dtype``."""

    def __init__(self, dtype="float32"):
        self._dtype = np.dtype(dtype)

    def forward(self, *args):
        cast = [a.astype(self._dtype) if hasattr(a, "astype") else np.asarray(a, self._dtype)
                for a in args]
        return _with_rest(*cast)


class ToTensor(Transform):
    """An image (H, W, C) with values in [0, 255] as a float32 tensor (C, H, W) in [0, 1]; a
    batch (N, H, W, C) as (N, C, H, W)."""

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("ToTensor", x, "(H, W, C)")
        axes = (2, 0, 1) if x.ndim == 3 else (0, 3, 1, 2)
        if isinstance(x, ndarray):
            out = _cnp.transpose(x, axes).astype("float32") / 255
        else:
            out = np.ascontiguousarray(np.transpose(x, axes), dtype=np.float32) / np.float32(255)
        return _with_rest(out, *rest)


class Normalize(Transform):
    """A float tensor (C, H, W) or batch (N, C, H, W) normalized per channel:
    ``(x[c] - mean[c]) / std[c]``; a scalar (or one-element) mean or std serves every channel."""

    def __init__(self, mean=0.0, std=1.0):
        self._mean = mean
        self._std = std

    def _per_channel(self, name, value, channels):
        v = np.asarray(value, dtype=np.float64).ravel()
        if v.size not in (1, channels):
            raise DataError(f"Normalize: {name} has {v.size} values, the input {channels} "
                            f"channels (give 1 or {channels})")
        return v.reshape(-1, 1, 1)

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("Normalize", x, "(C, H, W)")
        if x.dtype.kind != "f":
            raise DataTypeError(f"Normalize expects a float tensor, got dtype {x.dtype} "
                                f"(apply ToTensor first)")
        channels = x.shape[-3]
        mean = self._per_channel("mean", self._mean, channels).astype(x.dtype)
        std = self._per_channel("std", self._std, channels).astype(x.dtype)
        if not std.all():
            raise DataError(f"Normalize: std must be non-zero, got {self._std}")
        if isinstance(x, ndarray):
            mean = _cnp.array(mean, device=x.device)
            std = _cnp.array(std, device=x.device)
        return _with_rest((x - mean) / std, *rest)


def _resize(x, width, height, interp):
    """``x`` (H, W, C) or (N, H, W, C) resized on the host; returned where ``x`` lives."""
    host = x.asnumpy() if isinstance(x, ndarray) else x
    if host.ndim == 3:
        out = resize_host(host, width, height, interp)
    else:
        out = np.stack([resize_host(img, width, height, interp) for img in host])
    return _cnp.array(out, device=x.device) if isinstance(x, ndarray) else out


def _crop_resize(x, x0, y0, crop_w, crop_h, size, interp):
    region = x[..., y0:y0 + crop_h, x0:x0 + crop_w, :]
    if (crop_w, crop_h) == tuple(size):
        return region if isinstance(x, ndarray) else np.ascontiguousarray(region)
    return _resize(region, size[0], size[1], interp)


class Resize(Transform):
    """An image (H, W, C) or batch (N, H, W, C) resized to ``size``: ``(width, height)``, or an
    int for a square, or with ``keep_ratio=True`` for the shorter edge (the other scaled,
    rounded down). ``interpolation``: 0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos."""

    def __init__(self, size, keep_ratio=False, interpolation=1):
        self._size = size
        self._keep = keep_ratio
        self._interpolation = interpolation

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("Resize", x, "(H, W, C)")
        h, w = x.shape[-3], x.shape[-2]
        if isinstance(self._size, (int, np.integer)) and self._keep:
            short = _size_pair(self._size)[0]
            new_w, new_h = (short, h * short // w) if h > w else (w * short // h, short)
        else:
            new_w, new_h = _size_pair(self._size)
        return _with_rest(_resize(x, new_w, new_h, self._interpolation), *rest)


def _scale_down(src_w, src_h, w, h):
    """MXNet's crop region for a ``w`` x ``h`` output from a ``src_w`` x ``src_h`` image:
    the output size, shrunk where the image is smaller (in MXNet's order of steps, which
    scales the height with the width only when the image is too short, not too narrow)."""
    w, h = float(w), float(h)
    if src_h < h:
        w, h = w * src_h / h, float(src_h)
    if src_w < w:
        w = float(src_w)
    return int(w), int(h)


class CenterCrop(Transform):
    """The centred ``size = (width, height)`` region of an image (H, W, C) or batch; an image
    smaller than ``size`` is cropped to what it has and resized up (as MXNet does)."""

    def __init__(self, size, interpolation=1):
        self._size = _size_pair(size)
        self._interpolation = interpolation

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("CenterCrop", x, "(H, W, C)")
        src_h, src_w = x.shape[-3], x.shape[-2]
        crop_w, crop_h = _scale_down(src_w, src_h, *self._size)
        x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
        return _with_rest(_crop_resize(x, x0, y0, crop_w, crop_h, self._size,
                                       self._interpolation), *rest)


class RandomResizedCrop(Transform):
    """A crop of random area (``scale`` of the image's) and aspect ratio (in ``ratio``),
    resized to ``size``; after 10 unsuccessful draws, the centre crop of ``CenterCrop``.
    (MXNet's fallback places that crop off-centre, offset by the output size; here it is
    centred.)"""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation=1):
        self._size = _size_pair(size)
        self._scale = (scale, 1.0) if isinstance(scale, (int, float)) else tuple(scale)
        self._ratio = tuple(ratio)
        self._interpolation = interpolation

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("RandomResizedCrop", x, "(H, W, C)")
        src_h, src_w = x.shape[-3], x.shape[-2]
        log_ratio = (math.log(self._ratio[0]), math.log(self._ratio[1]))
        for _ in range(10):
            area = np.random.uniform(*self._scale) * src_w * src_h
            aspect = math.exp(np.random.uniform(*log_ratio))
            # std::round (halves away from zero), as MXNet rounds
            crop_w = math.floor(math.sqrt(area * aspect) + 0.5)
            crop_h = math.floor(math.sqrt(area / aspect) + 0.5)
            if 0 < crop_w <= src_w and 0 < crop_h <= src_h:
                x0 = int(np.random.uniform(0, 1) * (src_w - crop_w))
                y0 = int(np.random.uniform(0, 1) * (src_h - crop_h))
                out = _crop_resize(x, x0, y0, crop_w, crop_h, self._size, self._interpolation)
                return _with_rest(out, *rest)
        return CenterCrop(self._size, self._interpolation)(x, *rest)


class RandomFlipLeftRight(Transform):
    """An image (H, W, C) or batch mirrored left to right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def forward(self, x, *rest):
        x = _as_array(x)
        _check_image("RandomFlipLeftRight", x, "(H, W, C)")
        if self.p > 0 and (self.p >= 1 or np.random.random() < self.p):
            x = _cnp.flip(x, axis=-2) if isinstance(x, ndarray) else x[..., ::-1, :].copy()
        return _with_rest(x, *rest)
