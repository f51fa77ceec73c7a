"""Host-shared buffers (``runtime.hostshared``): the large buffers of CPU devices that claim
fine-grained SVM, which the host reads and writes between commands without a map. Each test
that needs them skips, saying why, on a device without them; the fallback (``svm=0``) runs
everywhere."""
import numpy as onp
import pyopencl as cl
import pytest

from clgrad import np, npx
from clgrad.runtime import default_device, hostshared
from clgrad.runtime import device as D
from fresh import run_python

BIG = hostshared.MIN_BYTES // 4 + 1000        # float32 elements: host-shared where allowed


def _shared_device():
    dev = default_device()
    if not (dev.caps.kind == "cpu" and dev.caps.fine_svm and not dev.is_simulator):
        pytest.skip(f"{dev.name}: host-shared buffers need a CPU device with fine-grained SVM")
    return dev


def _is_shared(a):
    return a.device.host_array(a._storage.buffer, 0, 1, a.dtype) is not None


def test_large_buffers_of_a_cpu_device_with_fine_svm_are_host_shared():
    dev = _shared_device()
    assert hostshared.check(dev.context, dev.queue)
    big, small = np.ones(BIG), np.ones(1000)
    assert _is_shared(big) and not _is_shared(small)
    assert not _is_shared(np.ones(hostshared.MIN_BYTES // 4 - 1))


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64", "uint8"])
def test_host_and_kernels_see_each_others_writes_without_a_map(dtype):
    _shared_device()
    n = hostshared.MIN_BYTES // onp.dtype(dtype).itemsize + 77
    want = (onp.arange(n) % 97).astype(dtype)
    a = np.array(want) * 2                      # queued: the host must wait for it
    st = a._storage
    assert _is_shared(a)
    v = st.version
    off = 13
    with st.mapped(off * a.itemsize, 5, a.dtype) as h:
        assert (h == want[off:off + 5] * 2).all()
        h[:] = 7
    assert st.version == v + 1
    b = a + 1                                   # a kernel reads what the host wrote
    got = b.asnumpy()                           # a read over the host view
    expect = want * 2 + 1
    expect[off:off + 5] = 8
    assert got.dtype == onp.dtype(dtype) and (got == expect).all()
    view = a[off:off + 5]                       # a view at an offset of the same buffer
    assert (view.asnumpy() == 7).all()
    with st.mapped(0, n, a.dtype, write=False) as h:
        assert (h[off:off + 5] == 7).all() and h[0] == want[0] * 2
    assert st.version == v + 1


def test_memory_stats_and_empty_cache_count_host_shared_blocks():
    dev = _shared_device()
    npx.waitall()
    dev.empty_cache()
    before = dev.memory_stats()
    a = np.zeros(BIG)
    during = dev.memory_stats()
    assert during["in_use_bytes"] >= before["in_use_bytes"] + a.nbytes
    assert during["peak_bytes"] >= during["in_use_bytes"]
    del a
    held = dev.memory_stats()
    assert held["in_use_bytes"] == before["in_use_bytes"] and held["held_blocks"] >= 1
    dev.empty_cache()
    after = dev.memory_stats()
    assert after["held_blocks"] == 0 and after["reserved_bytes"] < held["reserved_bytes"]


def test_a_claim_that_fails_its_check_leaves_buffers_plain(monkeypatch):
    dev = _shared_device()
    fresh = D.Device(dev.cl_device, dev.platform_index, dev.device_index, dev.device_type,
                     dev.device_id)
    monkeypatch.setattr(hostshared, "check", lambda context, queue: False)
    buf = fresh.allocate(hostshared.MIN_BYTES)
    assert not hostshared.is_host_shared(buf)
    assert fresh.host_array(buf, 0, 1, onp.float32) is None


def test_the_check_fails_where_the_host_does_not_see_the_device(monkeypatch):
    dev = _shared_device()

    def unshared(self, nbytes):       # a buffer with a host copy that is not its memory
        host = onp.zeros(nbytes, onp.uint8)
        return cl.Buffer(self.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                         hostbuf=host), None
    monkeypatch.setattr(hostshared.HostSharedPool, "allocate", unshared)
    monkeypatch.setattr(hostshared, "host_array",
                        lambda buffer, off, count, dtype: onp.zeros(count, dtype))
    assert not hostshared.check(dev.context, dev.queue)


def test_without_svm_large_buffers_are_mapped_and_still_advised_to_huge_pages():
    r = run_python("""
        import numpy as onp
        from clgrad import np
        from clgrad.runtime import default_device, hostshared, hugepages
        dev = default_device()
        assert not dev.caps.fine_svm
        n = hostshared.MIN_BYTES // 4 + 1000
        a = np.arange(n, dtype="float32") * 2
        assert dev.host_array(a._storage.buffer, 0, 1, a.dtype) is None
        with a._storage.mapped(4, 2, onp.float32) as h:
            assert (h == [2, 4]).all()
            h[:] = -1
        assert (a[:4].asnumpy() == [0, -1, -1, 6]).all()
        if dev.caps.kind == "cpu" and hugepages.wanted():
            before = dev.huge_page_bytes
            np.ones((hugepages.MIN_BYTES * 3) // 4 + 12345)
            assert dev.huge_page_bytes > before
        print("ok")
    """, CLGRAD_DEVICE_LIMITS="svm=0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_a_process_may_exit_with_work_queued_on_host_shared_buffers():
    """The pool's blocks are freed at exit without waiting for commands, so the device finishes
    its queue first (without that, this exited with a segmentation fault)."""
    _shared_device()
    r = run_python("""
        from clgrad import np
        a = np.ones(1 << 22)
        b = [a * i for i in range(40)]
        print("queued", flush=True)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "queued"


def test_info_says_whether_large_buffers_are_host_shared_and_why_not():
    dev = _shared_device()
    cmd = "import sys; from clgrad.__main__ import main; sys.exit(main(['info']))"
    where = f"{dev.platform_index}:{dev.device_index}"
    lines = {}
    for limits in ("", "svm=0"):
        r = run_python(cmd, CLGRAD_DEVICE=where, CLGRAD_DEVICE_LIMITS=limits)
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        at = next(i for i, x in enumerate(out) if "<- default" in x)
        lines[limits] = next(x for x in out[at:] if "host-shared buffers" in x)
    assert "1 MiB and more): yes" in lines[""], lines
    assert "no (svm=0 in CLGRAD_DEVICE_LIMITS)" in lines["svm=0"], lines
