"""``clgrad.gluon.data``: datasets, samplers, the DataLoader, MNIST files and vision transforms,
against MXNet 2.x's semantics."""
import gzip
import struct
import time

import numpy as onp
import pytest

import clgrad
from clgrad import MXNetError
from clgrad.gluon import data as gdata
from clgrad.gluon.data.vision import MNIST, FashionMNIST
from clgrad.gluon.data.vision import transforms as T


def _host(batch):
    """A batch (clgrad arrays, possibly in a list) as NumPy, for comparisons."""
    if isinstance(batch, list):
        return [_host(b) for b in batch]
    return batch.asnumpy() if isinstance(batch, clgrad.ndarray) else onp.asarray(batch)


def _same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype
            onp.testing.assert_array_equal(u, v)


# --- datasets loaded by worker processes must be importable, so they live at module level ----
class Squares(gdata.Dataset):
    """Sample i: (a float32 vector filled with i, the int i * i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return onp.full((3,), i, dtype=onp.float32), i * i


class FailsAt(Squares):
    def __init__(self, n, bad):
        super().__init__(n)
        self.bad = bad

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"corrupt record {i}")
        return super().__getitem__(i)


def sum_batchify(samples):
    """A custom batchify_fn: the sum of the labels, as a plain int."""
    return sum(label for _, label in samples)


# --- datasets -----------------------------------------------------------------------------------
def test_array_dataset_items_and_length_check():
    x = onp.arange(12, dtype=onp.float32).reshape(6, 2)
    single = gdata.ArrayDataset(x)
    assert len(single) == 6
    onp.testing.assert_array_equal(single[2], [4, 5])          # one array: the element
    pair = gdata.ArrayDataset(clgrad.np.array(x), [0, 1, 2, 3, 4, 5])
    item = pair[3]
    assert isinstance(item, tuple) and item[1] == 3             # several: a tuple
    onp.testing.assert_array_equal(_host(item[0]), [6, 7])
    with pytest.raises(gdata.DataError, match="same length.*array 1 has 5") as info:
        gdata.ArrayDataset(x, list(range(5)))
    assert isinstance(info.value, ValueError) and isinstance(info.value, MXNetError)
    with pytest.raises(gdata.DataError, match="at least one"):
        gdata.ArrayDataset()
    assert gdata.SimpleDataset([5, 6, 7])[1] == 6


def test_transform_lazy_and_eager():
    calls = []

    def double(x, y):
        calls.append(y)
        return x * 2, y

    ds = gdata.ArrayDataset(onp.arange(4), onp.arange(4) + 10)
    lazy = ds.transform(double)
    assert calls == []                          # nothing runs until a sample is read
    assert lazy[1] == (2, 11) and lazy[1] == (2, 11)
    assert calls == [11, 11]                    # ... and it runs again on every read
    calls.clear()
    eager = ds.transform(double, lazy=False)
    assert calls == [10, 11, 12, 13]            # every sample once, now
    assert eager[3] == (6, 13) and len(eager) == 4 and calls == [10, 11, 12, 13]
    # a single (non-tuple) sample is passed as is
    assert gdata.SimpleDataset([1, 2]).transform(lambda v: v + 1)[1] == 3


def test_transform_first():
    ds = gdata.ArrayDataset(onp.arange(3), onp.array([7, 8, 9]))
    for lazy in (True, False):
        out = ds.transform_first(lambda v: v * 10, lazy=lazy)
        assert [out[i] for i in range(3)] == [(0, 7), (10, 8), (20, 9)]
    assert gdata.SimpleDataset([1, 2]).transform_first(lambda v: -v)[0] == -1


def test_filter_shard_take_sample():
    ds = gdata.SimpleDataset(list(range(10)))
    evens = ds.filter(lambda v: v % 2 == 0)
    assert len(evens) == 5 and [evens[i] for i in range(5)] == [0, 2, 4, 6, 8]
    # 10 samples in 3 shards: the first shard takes the one left over (MXNet's split)
    shards = [ds.shard(3, i) for i in range(3)]
    assert [[s[i] for i in range(len(s))] for s in shards] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert [ds.take(3)[i] for i in range(3)] == [0, 1, 2]
    assert len(ds.take(100)) == 10 and len(ds.take(None)) == 10
    sampled = ds.sample(gdata.IntervalSampler(10, 4, rollover=False))
    assert [sampled[i] for i in range(len(sampled))] == [0, 4, 8]
    with pytest.raises(gdata.DataError, match="shard index 3"):
        ds.shard(3, 3)
    with pytest.raises(gdata.DataTypeError, match="Sampler"):
        ds.sample([0, 1])
    with pytest.raises(TypeError):
        ds.sample(range(3))


# --- samplers -----------------------------------------------------------------------------------
def test_sequential_random_and_interval_samplers():
    assert list(gdata.SequentialSampler(4)) == [0, 1, 2, 3]
    assert list(gdata.SequentialSampler(3, start=5)) == [5, 6, 7]
    assert len(gdata.SequentialSampler(3, start=5)) == 3
    sampler = gdata.RandomSampler(20)
    onp.random.seed(3)
    first = list(sampler)
    assert sorted(first) == list(range(20)) and len(sampler) == 20
    assert all(type(i) is int for i in first)
    onp.random.seed(3)
    assert list(sampler) == first               # NumPy's global RNG, as in MXNet
    assert list(gdata.IntervalSampler(13, interval=3)) == \
        [0, 3, 6, 9, 12, 1, 4, 7, 10, 2, 5, 8, 11]
    with pytest.raises(gdata.DataError, match="length"):
        gdata.SequentialSampler(-1)


def test_batch_sampler_keep_discard():
    keep = gdata.BatchSampler(gdata.SequentialSampler(10), 3, "keep")
    assert list(keep) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and len(keep) == 4
    discard = gdata.BatchSampler(gdata.SequentialSampler(10), 3, "discard")
    assert list(discard) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(discard) == 3
    assert list(discard) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_batch_sampler_rollover_carries_across_epochs():
    rollover = gdata.BatchSampler(gdata.SequentialSampler(10), 3, "rollover")
    assert len(rollover) == 3
    assert list(rollover) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(rollover) == 3                   # (1 carried + 10) // 3
    assert list(rollover) == [[9, 0, 1], [2, 3, 4], [5, 6, 7]]
    assert len(rollover) == 4                   # (2 carried + 10) // 3
    assert list(rollover) == [[8, 9, 0], [1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert len(rollover) == 3
    assert list(rollover) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_batch_sampler_rejects_bad_arguments():
    with pytest.raises(gdata.DataError, match="last_batch must be one of"):
        gdata.BatchSampler(gdata.SequentialSampler(4), 2, "drop")
    with pytest.raises(gdata.DataError, match="batch_size must be at least 1"):
        gdata.BatchSampler(gdata.SequentialSampler(4), 0)
    with pytest.raises(gdata.DataTypeError, match="batch_size must be an integer"):
        gdata.BatchSampler(gdata.SequentialSampler(4), 2.5)


# --- DataLoader -----------------------------------------------------------------------------------
def test_loader_batches_shapes_and_dtypes():
    images = onp.arange(7 * 2 * 3, dtype=onp.uint8).reshape(7, 2, 3)
    ds = gdata.ArrayDataset(images, list(range(7)), onp.arange(7, dtype=onp.float32))
    loader = gdata.DataLoader(ds, batch_size=3)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(3, 2, 3), (3, 2, 3), (1, 2, 3)]
    x, y, z = batches[0]
    assert isinstance(batches[0], list)         # MXNet's Stack gives a list of fields
    assert all(isinstance(a, clgrad.ndarray) for a in (x, y, z))
    assert x.dtype == onp.uint8 and z.dtype == onp.float32
    assert y.dtype == onp.int64                 # Python ints: NumPy's int64, as in MXNet
    assert x.device == clgrad.npx.current_device()
    onp.testing.assert_array_equal(x.asnumpy(), images[:3])
    last = _host(batches[2])
    onp.testing.assert_array_equal(last[0], images[6:])
    assert last[1].tolist() == [6] and last[2].tolist() == [6.0]
    # a single-array dataset gives single arrays
    single = list(gdata.DataLoader(gdata.ArrayDataset(images), batch_size=4))
    assert [b.shape for b in single] == [(4, 2, 3), (3, 2, 3)]


def test_loader_python_floats_are_float64_as_in_mxnet():
    batch = next(iter(gdata.DataLoader([0.5, 1.5, 2.5], batch_size=2)))
    assert batch.dtype == onp.float64
    onp.testing.assert_array_equal(batch.asnumpy(), [0.5, 1.5])


def test_loader_over_clgrad_samples_stacks_on_device():
    x = clgrad.np.arange(12, dtype="float32").reshape(6, 2)
    batches = list(gdata.DataLoader(x, batch_size=4))      # an array serves as a dataset
    assert [b.shape for b in batches] == [(4, 2), (2, 2)]
    onp.testing.assert_array_equal(batches[1].asnumpy(), [[8, 9], [10, 11]])
    rows = gdata.SimpleDataset([(x[i], i) for i in range(6)])
    data, label = next(iter(gdata.DataLoader(rows, batch_size=6)))
    onp.testing.assert_array_equal(data.asnumpy(), x.asnumpy())
    onp.testing.assert_array_equal(label.asnumpy(), onp.arange(6))


@pytest.mark.parametrize("mode, sizes", [("keep", [4, 4, 2]), ("discard", [4, 4]),
                                         ("rollover", [4, 4])])
def test_loader_last_batch(mode, sizes):
    loader = gdata.DataLoader(onp.arange(10), batch_size=4, last_batch=mode)
    assert len(loader) == len(sizes)
    assert [b.shape[0] for b in loader] == sizes
    if mode == "rollover":                      # 2 carried: (2 + 10) // 4 batches next epoch
        second = [_host(b).tolist() for b in loader]
        assert second == [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]


def test_loader_shuffle_is_a_permutation_each_epoch():
    loader = gdata.DataLoader(onp.arange(50), batch_size=8, shuffle=True)
    onp.random.seed(0)
    epochs = [onp.concatenate([_host(b) for b in loader]) for _ in range(2)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(50))
    assert epochs[0].tolist() != epochs[1].tolist()
    assert epochs[0].tolist() != list(range(50))


def test_loader_custom_batchify_and_batch_sampler():
    sampler = gdata.BatchSampler(gdata.SequentialSampler(6), 4, "keep")
    loader = gdata.DataLoader(Squares(6), batch_sampler=sampler, batchify_fn=sum_batchify)
    assert list(loader) == [0 + 1 + 4 + 9, 16 + 25]


def test_default_batchify_fn_rejects_ragged_samples():
    with pytest.raises(gdata.DataError, match="one shape"):
        gdata.default_batchify_fn([onp.zeros(2), onp.zeros(3)])
    with pytest.raises(gdata.DataError, match="same number of elements"):
        gdata.default_batchify_fn([(1, 2), (1,)])


def test_loader_argument_validation():
    ds = onp.arange(6)
    batches = gdata.BatchSampler(gdata.SequentialSampler(6), 2)
    cases = [
        (dict(), "batch_size must be specified"),
        (dict(batch_size=2, batch_sampler=batches), "must not be specified if batch_sampler"),
        (dict(shuffle=True, batch_sampler=batches), "must not be specified if batch_sampler"),
        (dict(last_batch="keep", batch_sampler=batches), "must not be specified if batch_sampler"),
        (dict(batch_size=2, shuffle=True, sampler=gdata.SequentialSampler(6)),
         "shuffle must not be specified if sampler"),
        (dict(batch_size=2, last_batch="sometimes"), "last_batch must be one of"),
        (dict(batch_size=2, timeout=0), "timeout must be positive"),
    ]
    for kwargs, message in cases:
        with pytest.raises(gdata.DataError, match=message) as info:
            gdata.DataLoader(ds, **kwargs)
        assert isinstance(info.value, ValueError)


def test_workers_give_the_same_batches_as_the_main_process():
    ds = gdata.ArrayDataset(clgrad.np.arange(24, dtype="float32").reshape(12, 2),
                            onp.arange(12, dtype=onp.int32))

    def loader(**kwargs):
        return gdata.DataLoader(ds, batch_size=5, sampler=gdata.SequentialSampler(12), **kwargs)

    want = [_host(b) for b in loader()]
    processes = loader(num_workers=2)
    threads = loader(num_workers=2, thread_pool=True, prefetch=1)
    for workers in (processes, threads):
        assert len(workers) == 3
        for _ in range(2):                       # each iteration is a new epoch
            got = list(workers)
            assert all(isinstance(a, clgrad.ndarray) for b in got for a in b)
            _same_batches([_host(b) for b in got], want)
    # a custom batchify_fn runs in the workers; what it returns is passed on as is
    sums = gdata.DataLoader(Squares(7), batch_size=3, batchify_fn=sum_batchify, num_workers=2,
                            thread_pool=True)
    assert list(sums) == [0 + 1 + 4, 9 + 16 + 25, 36]


def test_worker_errors_name_the_sample():
    for thread_pool in (False, True):
        loader = gdata.DataLoader(FailsAt(9, bad=7), batch_size=3, num_workers=2,
                                  thread_pool=thread_pool)
        with pytest.raises(gdata.DataLoaderWorkerError, match="sample 7") as info:
            list(loader)
        err = info.value
        assert err.index == 7 and err.batch == [6, 7, 8] and isinstance(err, MXNetError)
        assert "ValueError: corrupt record 7" in str(err)
        assert "corrupt record 7" in err.worker_traceback


class Slow(Squares):
    def __getitem__(self, i):
        time.sleep(0.5)
        return super().__getitem__(i)


def test_worker_timeout():
    loader = gdata.DataLoader(Slow(2), batch_size=1, num_workers=1, thread_pool=True,
                              timeout=0.05)
    with pytest.raises(gdata.DataLoaderTimeoutError, match="within 0.05 seconds") as info:
        next(iter(loader))
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, MXNetError)


def test_process_workers_need_a_picklable_dataset():
    ds = gdata.SimpleDataset([1, 2, 3]).transform(lambda v: v + 1)
    with pytest.raises(gdata.DataTypeError, match="pickling.*thread_pool=True"):
        gdata.DataLoader(ds, batch_size=2, num_workers=2)
    threads = gdata.DataLoader(ds, batch_size=2, num_workers=2, thread_pool=True)
    assert [_host(b).tolist() for b in threads] == [[2, 3], [4]]


# --- MNIST ----------------------------------------------------------------------------------------
def _idx_bytes(array, magic):
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(onp.uint8).tobytes()


def _write_mnist(root, prefix, n, compress, seed=0):
    rng = onp.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=onp.uint8)
    labels = rng.integers(0, 10, size=(n,), dtype=onp.uint8)
    ext = ".gz" if compress else ""
    opener = gzip.open if compress else open
    for name, blob in ((f"{prefix}-images-idx3-ubyte", _idx_bytes(images, 0x803)),
                       (f"{prefix}-labels-idx1-ubyte", _idx_bytes(labels, 0x801))):
        with opener(root / (name + ext), "wb") as f:
            f.write(blob)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_idx_files(tmp_path, compress):
    images, labels = _write_mnist(tmp_path, "train", 5, compress)
    test_images, _ = _write_mnist(tmp_path, "t10k", 3, compress, seed=1)
    ds = MNIST(root=str(tmp_path))
    assert len(ds) == 5 and len(MNIST(str(tmp_path), train=False)) == 3
    image, label = ds[4]
    assert image.shape == (28, 28, 1) and image.dtype == onp.uint8
    assert label.dtype == onp.int32 and label.shape == () and label == labels[4]
    onp.testing.assert_array_equal(image[:, :, 0], images[4])
    onp.testing.assert_array_equal(MNIST(str(tmp_path), train=False)[2][0][:, :, 0],
                                   test_images[2])
    assert len(FashionMNIST(root=str(tmp_path))) == 5
    with pytest.warns(DeprecationWarning, match="transform_first"):
        old_style = MNIST(str(tmp_path), transform=lambda x, y: (x.shape, y + 1))
    assert old_style[4] == ((28, 28, 1), labels[4] + 1)


def test_mnist_to_loader_end_to_end(tmp_path):
    images, labels = _write_mnist(tmp_path, "train", 6, compress=True)
    trans = T.Compose([T.ToTensor(), T.Normalize(0.5, 0.25)])
    loader = gdata.DataLoader(MNIST(str(tmp_path)).transform_first(trans), batch_size=4)
    x, y = next(iter(loader))
    assert x.shape == (4, 1, 28, 28) and x.dtype == onp.float32 and y.dtype == onp.int32
    want = (images[:4, None].astype(onp.float32) / 255 - 0.5) / 0.25
    onp.testing.assert_allclose(x.asnumpy(), want, rtol=1e-6, atol=1e-6)
    onp.testing.assert_array_equal(y.asnumpy(), labels[:4])


def test_mnist_missing_files(tmp_path):
    _write_mnist(tmp_path, "train", 2, compress=False)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(gdata.DatasetNotFoundError,
                       match="missing: train-labels-idx1-ubyte") as info:
        MNIST(root=str(tmp_path))
    assert isinstance(info.value, FileNotFoundError) and str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.*does not download"):
        FashionMNIST(root=str(tmp_path / "nowhere"), train=False)


def test_mnist_truncated_or_foreign_files(tmp_path):
    _write_mnist(tmp_path, "train", 3, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    blob = path.read_bytes()
    path.write_bytes(blob[:-100])
    with pytest.raises(gdata.DatasetFormatError, match="truncated or corrupt") as info:
        MNIST(root=str(tmp_path))
    assert isinstance(info.value, ValueError)
    path.write_bytes(blob[:10])
    with pytest.raises(gdata.DatasetFormatError, match="header needs 16 bytes"):
        MNIST(root=str(tmp_path))
    path.write_bytes((tmp_path / "train-labels-idx1-ubyte").read_bytes())   # labels as images
    with pytest.raises(gdata.DatasetFormatError, match="not an IDX images file.*0x00000801"):
        MNIST(root=str(tmp_path))
    path.write_bytes(blob)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(onp.zeros(2), 0x801))
    with pytest.raises(gdata.DatasetFormatError, match="3 images but .* 2 labels"):
        MNIST(root=str(tmp_path))


def test_mnist_truncated_gzip(tmp_path):
    _write_mnist(tmp_path, "t10k", 3, compress=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(gdata.DatasetFormatError, match="cannot read the IDX images file"):
        MNIST(root=str(tmp_path), train=False)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(gdata.DatasetFormatError, match="cannot read"):
        MNIST(root=str(tmp_path), train=False)


# --- transforms -----------------------------------------------------------------------------------
def _image(h=4, w=5, c=3, seed=0):
    return onp.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=onp.uint8)


def test_to_tensor_host_and_device():
    img = _image()
    want = img.transpose(2, 0, 1).astype(onp.float32) / 255
    host = T.ToTensor()(img)
    assert isinstance(host, onp.ndarray) and host.shape == (3, 4, 5) and host.dtype == onp.float32
    onp.testing.assert_array_equal(host, want)
    device = T.ToTensor()(clgrad.np.array(img))
    assert isinstance(device, clgrad.ndarray) and device.dtype == onp.float32
    onp.testing.assert_allclose(device.asnumpy(), want, rtol=1e-6)
    batch = T.ToTensor()(onp.stack([img, img]))           # NHWC -> NCHW
    assert batch.shape == (2, 3, 4, 5)
    onp.testing.assert_array_equal(batch[1], want)
    tensor, label = T.ToTensor()(img, 7)                   # extra inputs pass through
    assert label == 7 and tensor.shape == (3, 4, 5)
    with pytest.raises(gdata.DataError, match="got shape \\(4, 5\\)"):
        T.ToTensor()(img[:, :, 0])


def test_normalize_host_and_device():
    x = T.ToTensor()(_image())
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    m = onp.array(mean, dtype=onp.float32)[:, None, None]
    s = onp.array(std, dtype=onp.float32)[:, None, None]
    want = (x - m) / s
    onp.testing.assert_allclose(T.Normalize(mean, std)(x), want, rtol=1e-6)
    device = T.Normalize(mean, std)(clgrad.np.array(x))
    assert isinstance(device, clgrad.ndarray) and device.dtype == onp.float32
    onp.testing.assert_allclose(device.asnumpy(), want, rtol=1e-6, atol=1e-6)
    batch = T.Normalize(0.5, 0.5)(onp.stack([x, x]))       # scalars serve every channel
    onp.testing.assert_allclose(batch[0], (x - 0.5) / 0.5, rtol=1e-6)
    with pytest.raises(gdata.DataError, match="mean has 2 values, the input 3 channels"):
        T.Normalize((0.1, 0.2), 1.0)(x)
    with pytest.raises(gdata.DataTypeError, match="apply ToTensor first"):
        T.Normalize()(_image().transpose(2, 0, 1))


def test_compose_and_cast():
    img = _image()
    trans = T.Compose([T.ToTensor(), T.Normalize(0.5, 0.5), T.Cast("float16")])
    out, label = trans(img, onp.int32(3))
    assert out.dtype == onp.float16 and out.shape == (3, 4, 5)
    assert label.dtype == onp.float16 and label == 3        # Cast casts every input, as MXNet's
    onp.testing.assert_allclose(out, (img.transpose(2, 0, 1) / 255 - 0.5) / 0.5, atol=1e-3)
    assert T.Compose([T.Cast("int32")])(onp.ones(2)).dtype == onp.int32
    dev = T.Cast("float32")(clgrad.np.array(img))
    assert isinstance(dev, clgrad.ndarray) and dev.dtype == onp.float32


def test_resize_and_crops():
    pytest.importorskip("PIL")
    img = _image(h=6, w=8)
    assert T.Resize((4, 3))(img).shape == (3, 4, 3)         # size is (width, height)
    assert T.Resize(5)(img).shape == (5, 5, 3)
    assert T.Resize(3, keep_ratio=True)(img).shape == (3, 4, 3)   # short edge 6 -> 3
    assert T.Resize(4, keep_ratio=True)(_image(h=9, w=6)).shape == (6, 4, 3)
    assert T.Resize((4, 3))(onp.stack([img, img])).shape == (2, 3, 4, 3)
    onp.testing.assert_array_equal(T.Resize((8, 6))(img), img)     # same size: unchanged
    onp.testing.assert_array_equal(T.CenterCrop((4, 2))(img), img[2:4, 2:6])
    onp.testing.assert_array_equal(T.CenterCrop(3)(img), img[1:4, 2:5])
    assert T.CenterCrop(10)(img).shape == (10, 10, 3)       # too small: cropped and upsampled
    device = T.CenterCrop((4, 2))(clgrad.np.array(img))
    assert isinstance(device, clgrad.ndarray)
    onp.testing.assert_array_equal(device.asnumpy(), img[2:4, 2:6])
    resized = T.Resize((4, 3))(clgrad.np.array(img))
    assert isinstance(resized, clgrad.ndarray) and resized.shape == (3, 4, 3)
    onp.random.seed(1)
    for _ in range(5):
        out = T.RandomResizedCrop((5, 4))(img)
        assert out.shape == (4, 5, 3) and out.dtype == onp.uint8


def test_random_flip_left_right():
    img = _image()
    onp.testing.assert_array_equal(T.RandomFlipLeftRight(p=1)(img), img[:, ::-1])
    onp.testing.assert_array_equal(T.RandomFlipLeftRight(p=0)(img), img)
    flipped = T.RandomFlipLeftRight(p=1)(clgrad.np.array(img))
    onp.testing.assert_array_equal(flipped.asnumpy(), img[:, ::-1])
    onp.random.seed(0)
    seen = {T.RandomFlipLeftRight()(img)[0, 0, 0] == img[0, -1, 0] for _ in range(20)}
    assert seen == {True, False}
