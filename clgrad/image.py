"""``clgrad.image``: MXNet's ``mx.image`` basics: read, decode, resize and crop images into
``(height, width, channels)`` uint8 arrays on the device. Decoding and resampling run on the
host with Pillow (the optional extra ``clgrad[image]``); the results are clgrad arrays."""
import random as _random

import numpy as _np

from .base import MXNetError
from .ndarray import ndarray
from .ops import array


class ImageReadError(MXNetError, OSError):
    """A file or buffer that holds no image Pillow can decode (an ``OSError``, as Pillow raises
    for both)."""


class ImageArgumentError(MXNetError, ValueError):
    """An image or a resize or crop argument that does not fit (a ``ValueError``)."""


# MXNet's (OpenCV's) interpolation codes; 2 is MXNet's default for crops
_INTERP = {0: "NEAREST", 1: "BILINEAR", 2: "BICUBIC", 3: "BOX", 4: "LANCZOS"}


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("clgrad.image needs Pillow: pip install 'clgrad[image]'") from e
    return Image


def _to_array(img, flag, to_rgb, device):
    a = _np.asarray(img.convert("L" if flag == 0 else "RGB"))
    if flag == 0:
        a = a[:, :, None]
    elif not to_rgb:
        a = a[:, :, ::-1]       # OpenCV's BGR order, as MXNet gives with to_rgb=False
    return array(_np.ascontiguousarray(a), dtype="uint8", device=device)


def imread(filename, flag=1, to_rgb=True, out=None, device=None):
    """The image in ``filename`` as a ``(h, w, 3)`` uint8 array (``flag=0``: ``(h, w, 1)``
    grayscale; ``to_rgb=False``: BGR)."""
    Image = _pil()
    try:
        with Image.open(filename) as img:
            img.load()
            res = _to_array(img, flag, to_rgb, device)
    except OSError as e:
        raise ImageReadError(f"imread: cannot read an image from {filename!r}: {e}") from e
    return _into(res, out)


def imdecode(buf, flag=1, to_rgb=True, out=None, device=None):
    """An encoded image (bytes, e.g. a JPEG or PNG file's contents) decoded like ``imread``."""
    import io
    Image = _pil()
    if isinstance(buf, ndarray):
        buf = buf.asnumpy().tobytes()
    try:
        with Image.open(io.BytesIO(bytes(buf))) as img:
            img.load()
            res = _to_array(img, flag, to_rgb, device)
    except OSError as e:
        raise ImageReadError(f"imdecode: the buffer is not an image Pillow can decode: "
                             f"{e}") from e
    return _into(res, out)


def _into(res, out):
    if out is None:
        return res
    from .ops import assign
    return assign(out, res)


def _host(src):
    if not isinstance(src, ndarray):
        raise TypeError(f"expected a clgrad array of shape (h, w, c), got {type(src).__name__}")
    if src.ndim != 3:
        raise ImageArgumentError(f"expected an image of shape (h, w, c), got shape "
                                 f"{src.shape}")
    return src.asnumpy()


def resize_host(a, w, h, interp):
    """A host (NumPy, HWC uint8 or float) image resized to ``w`` x ``h`` with Pillow."""
    Image = _pil()
    if interp not in _INTERP:
        raise ImageArgumentError(f"interp must be one of {sorted(_INTERP)}, got {interp}")
    if w <= 0 or h <= 0:
        raise ImageArgumentError(f"resize: width and height must be positive, got {w} x {h}")
    mode = getattr(Image, "Resampling", Image)
    chans = []
    for c in range(a.shape[2]):     # per channel: any channel count, any numeric dtype
        ch = Image.fromarray(_np.ascontiguousarray(a[:, :, c]).astype(_np.float32), mode="F")
        r = _np.asarray(ch.resize((int(w), int(h)), getattr(mode, _INTERP[interp])))
        chans.append(r)
    out = _np.stack(chans, axis=2)
    if a.dtype.kind in "iu":
        info = _np.iinfo(a.dtype)
        out = _np.clip(_np.rint(out), info.min, info.max)
    return out.astype(a.dtype)


def imresize(src, w, h, interp=1):
    """``src`` resized to ``w`` x ``h`` (interp: 0 nearest, 1 bilinear, 2 bicubic, 3 area,
    4 Lanczos)."""
    return array(resize_host(_host(src), w, h, interp), device=src.device)


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """The ``w`` x ``h`` region at ``(x0, y0)``, resized to ``size = (w, h)`` when given."""
    a = _host(src)
    H, W = a.shape[:2]
    if x0 < 0 or y0 < 0 or w <= 0 or h <= 0 or x0 + w > W or y0 + h > H:
        raise ImageArgumentError(f"fixed_crop: region x0={x0}, y0={y0}, w={w}, h={h} is not "
                                 f"inside the {W} x {H} image")
    a = a[y0:y0 + h, x0:x0 + w]
    if size is not None and (w, h) != tuple(size):
        a = resize_host(a, size[0], size[1], interp)
    return array(_np.ascontiguousarray(a), device=src.device)


def random_crop(src, size, interp=2):
    """A randomly placed crop of ``size = (w, h)`` (scaled down first where the image is
    smaller) and its region ``(x0, y0, w, h)``."""
    H, W = src.shape[:2]
    w, h = size
    nw, nh = min(w, W), min(h, H)
    x0 = _random.randint(0, W - nw)
    y0 = _random.randint(0, H - nh)
    return fixed_crop(src, x0, y0, nw, nh, size, interp), (x0, y0, nw, nh)


def center_crop(src, size, interp=2):
    """The crop of ``size = (w, h)`` at the centre and its region ``(x0, y0, w, h)``."""
    H, W = src.shape[:2]
    w, h = size
    nw, nh = min(w, W), min(h, H)
    x0, y0 = (W - nw) // 2, (H - nh) // 2
    return fixed_crop(src, x0, y0, nw, nh, size, interp), (x0, y0, nw, nh)
