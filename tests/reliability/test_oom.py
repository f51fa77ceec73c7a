"""Allocations the device cannot serve raise a clear out-of-memory error and harm nothing."""
import numpy as onp
import pyopencl as cl
import pytest

import clgrad
from clgrad import np, npx


def test_beyond_max_alloc_raises_and_existing_arrays_survive():
    keep = np.array(onp.arange(10, dtype=onp.float32))
    dev = keep.device
    too_big = dev.caps.max_alloc // 4 + 1
    with pytest.raises(clgrad.OutOfMemoryError) as e:
        np.zeros((too_big,), dtype="float32")
    assert "max_mem_alloc_size" in str(e.value)
    assert isinstance(e.value, MemoryError) and isinstance(e.value, clgrad.MXNetError)
    onp.testing.assert_array_equal((keep + 1).asnumpy(), onp.arange(10) + 1)


def test_pool_frees_held_blocks_and_retries(monkeypatch):
    x = np.ones(1000)
    dev = x.device
    pool = dev.pool
    real = pool.allocate
    calls = {"n": 0, "freed": 0}

    class FlakyPool:
        """Fails the first allocation as a full device would, until held blocks are freed."""

        def allocate(self, n):
            calls["n"] += 1
            if calls["freed"] == 0:
                raise cl.MemoryError("clCreateBuffer", cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
                                     "out of memory")
            return real(n)

        def free_held(self):
            calls["freed"] += 1
            pool.free_held()

        def __getattr__(self, name):
            return getattr(pool, name)

    monkeypatch.setattr(dev, "_pool", FlakyPool())
    y = np.zeros(1000)
    assert calls["freed"] == 1 and calls["n"] == 2
    onp.testing.assert_array_equal((x + y).asnumpy(), onp.ones(1000))


def test_allocation_that_never_fits_names_the_device(monkeypatch):
    x = np.ones(4)
    dev = x.device
    pool = dev.pool

    class FullPool:
        def allocate(self, n):
            raise cl.MemoryError("clCreateBuffer", cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
                                 "out of memory")

        def free_held(self):
            pass

        def __getattr__(self, name):
            return getattr(pool, name)

    monkeypatch.setattr(dev, "_pool", FullPool())
    with pytest.raises(clgrad.OutOfMemoryError) as e:
        np.zeros(16)
    assert str(dev) in str(e.value) and "out of device memory" in str(e.value)
    monkeypatch.undo()
    onp.testing.assert_array_equal(x.asnumpy(), onp.ones(4))


def test_memory_stats_and_empty_cache():
    dev = npx.current_device()
    before = npx.memory_stats()["in_use_bytes"]
    a = np.ones((256, 256))
    assert npx.memory_stats()["in_use_bytes"] >= before + a.nbytes
    del a
    assert npx.memory_stats()["in_use_bytes"] <= before
    npx.empty_cache()
    stats = npx.memory_stats()
    assert stats["held_blocks"] == 0
    assert stats["reserved_bytes"] - stats["in_use_bytes"] <= stats["in_use_bytes"] / 16 + 64
    assert npx.memory_stats(dev)["peak_bytes"] >= 256 * 256 * 4
