"""``clgrad.image``: read, decode, resize and crop into (h, w, c) uint8 device arrays."""
import io

import numpy as onp
import pytest
from PIL import Image

from clgrad import MXNetError, image


@pytest.fixture
def picture(tmp_path):
    rng = onp.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 16, 3), dtype=onp.uint8)
    path = tmp_path / "p.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def test_imread_and_imdecode(picture):
    path, pixels = picture
    x = image.imread(str(path))
    assert x.shape == (12, 16, 3) and x.dtype == onp.uint8
    onp.testing.assert_array_equal(x.asnumpy(), pixels)
    onp.testing.assert_array_equal(image.imread(str(path), to_rgb=False).asnumpy(),
                                   pixels[:, :, ::-1])
    gray = image.imread(str(path), flag=0)
    assert gray.shape == (12, 16, 1)
    want = onp.asarray(Image.fromarray(pixels).convert("L"))
    onp.testing.assert_array_equal(gray.asnumpy()[:, :, 0], want)
    onp.testing.assert_array_equal(image.imdecode(path.read_bytes()).asnumpy(), pixels)


def test_bad_files_raise(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(MXNetError, match="cannot read an image"):
        image.imread(str(bad))
    with pytest.raises(MXNetError, match="not an image"):
        image.imdecode(b"\x00\x01")


def test_resize_and_crops(picture):
    path, pixels = picture
    x = image.imread(str(path))
    r = image.imresize(x, 8, 6)
    assert r.shape == (6, 8, 3) and r.dtype == onp.uint8
    near = image.imresize(x, 32, 24, interp=0).asnumpy()
    onp.testing.assert_array_equal(near[::2, ::2], pixels)      # nearest doubles each pixel
    c = image.fixed_crop(x, 2, 3, 5, 4)
    onp.testing.assert_array_equal(c.asnumpy(), pixels[3:7, 2:7])
    assert image.fixed_crop(x, 2, 3, 5, 4, size=(10, 8)).shape == (8, 10, 3)
    out, (x0, y0, w, h) = image.random_crop(x, (5, 4))
    onp.testing.assert_array_equal(out.asnumpy(), pixels[y0:y0 + h, x0:x0 + w])
    out, (x0, y0, w, h) = image.center_crop(x, (4, 4))
    assert (x0, y0, w, h) == (6, 4, 4, 4)
    onp.testing.assert_array_equal(out.asnumpy(), pixels[4:8, 6:10])
    with pytest.raises(MXNetError, match="not inside"):
        image.fixed_crop(x, 14, 0, 5, 4)
    with pytest.raises(MXNetError, match="interp"):
        image.imresize(x, 4, 4, interp=9)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    onp.testing.assert_array_equal(image.imdecode(buf.getvalue()).asnumpy(), pixels)
