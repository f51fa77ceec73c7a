"""Device discovery and selection, capabilities and their overrides, the info command, and the
npx device helpers."""
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as onp
import pyopencl as cl
import pytest

import clgrad
from clgrad import np, npx
from clgrad.runtime import device as D
from clgrad.runtime.caps import parse_limits, read_caps
from fresh import ROOT, run_python


def _platform_devices():
    out = []
    for pi, p in enumerate(cl.get_platforms()):
        for di, d in enumerate(p.get_devices()):
            out.append((pi, di, d))
    return out


# --- discovery -----------------------------------------------------------------------------------
def test_discovers_every_device_of_every_platform():
    devs = D.all_devices()
    found = _platform_devices()
    assert len(devs) == len(found) >= 1
    for dev, (pi, di, d) in zip(devs, found):
        assert (dev.platform_index, dev.device_index) == (pi, di)
        assert dev.name == d.name.strip()
        assert dev.device_type in ("cpu", "gpu")
    # cpu(i) and gpu(i) number each kind from 0 in discovery order
    for kind in ("cpu", "gpu"):
        ids = [d.device_id for d in devs if d.device_type == kind]
        assert ids == list(range(len(ids)))
    assert D.all_devices() is devs       # discovered once


def test_device_identity_and_names():
    dev = D.all_devices()[0]
    assert repr(dev) == f"{dev.device_type}({dev.device_id})" == str(dev)
    assert dev == dev and hash(dev) == hash(dev)
    twin = clgrad.Device(dev.cl_device, dev.platform_index, dev.device_index,
                         dev.device_type, dev.device_id)
    assert twin != dev       # a separate context: never the same device
    assert D.get_device(dev.device_type, dev.device_id) is dev


def test_get_device_out_of_range():
    n = sum(d.device_type == "cpu" for d in D.all_devices())
    with pytest.raises(clgrad.MXNetError, match=rf"cpu\({n}\) does not exist.*{n} OpenCL CPU"):
        D.get_device("cpu", n)
    with pytest.raises(clgrad.MXNetError):
        D.get_device("cpu", -1)


# --- selection -----------------------------------------------------------------------------------
@pytest.fixture
def no_selection_env(monkeypatch):
    for k in ("CLGRAD_DEVICE", "PYOPENCL_CTX"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_select_by_platform_and_device_index(no_selection_env):
    for dev in D.all_devices():
        no_selection_env.setenv("CLGRAD_DEVICE", f"{dev.platform_index}:{dev.device_index}")
        assert D.choose_default() is dev
        no_selection_env.setenv("CLGRAD_DEVICE", f"{dev.platform_index}:")
        assert D.choose_default().platform_index == dev.platform_index
        no_selection_env.setenv("CLGRAD_DEVICE", f"{dev.platform_index}")
        assert D.choose_default().platform_index == dev.platform_index


def test_select_by_name_substring(no_selection_env):
    for dev in D.all_devices():
        frag = dev.name[len(dev.name) // 3:][:8]
        no_selection_env.setenv("CLGRAD_DEVICE", frag.upper())      # case-insensitive
        chosen = D.choose_default()
        assert frag.lower() in chosen.name.lower()


def test_pyopencl_ctx_and_precedence(no_selection_env):
    devs = D.all_devices()
    last = devs[-1]
    no_selection_env.setenv("PYOPENCL_CTX", f"{last.platform_index}:{last.device_index}")
    assert D.choose_default() is last
    no_selection_env.setenv("CLGRAD_DEVICE", f"{devs[0].platform_index}:{devs[0].device_index}")
    assert D.choose_default() is devs[0]          # CLGRAD_DEVICE wins


def test_bad_selection_names_the_variable(no_selection_env):
    no_selection_env.setenv("CLGRAD_DEVICE", "99:0")
    with pytest.raises(clgrad.MXNetError, match=r"CLGRAD_DEVICE='99:0'.*no OpenCL device 99:0"):
        D.choose_default()
    no_selection_env.setenv("CLGRAD_DEVICE", "no-such-device-xyz")
    with pytest.raises(clgrad.MXNetError, match="PYOPENCL_CTX|CLGRAD_DEVICE.*matches no"):
        D.choose_default()
    no_selection_env.delenv("CLGRAD_DEVICE")
    no_selection_env.setenv("PYOPENCL_CTX", "no-such-device-xyz")
    with pytest.raises(clgrad.MXNetError, match="PYOPENCL_CTX"):
        D.choose_default()


def test_a_missing_device_is_a_value_error_however_it_is_asked_for(no_selection_env):
    """NumPy raises ValueError for a device it cannot use; so do these, as MXNetErrors."""
    n_cpu = sum(d.device_type == "cpu" for d in D.all_devices())
    n_gpu = npx.num_gpus()
    lookups = [lambda: npx.gpu(n_gpu), lambda: npx.cpu(n_cpu), lambda: clgrad.gpu(n_gpu),
               lambda: clgrad.cpu(n_cpu), lambda: clgrad.context.gpu(n_gpu),
               lambda: clgrad.Context("cpu", n_cpu), lambda: npx.cpu(-1),
               lambda: np.zeros(2, device=f"gpu({n_gpu})"),
               lambda: np.zeros(2, device=f"cpu({n_cpu})"),
               lambda: np.zeros(2, ctx=f"cpu({n_cpu})")]
    for lookup in lookups:
        with pytest.raises(clgrad.DeviceNotFoundError, match="does not exist") as e:
            lookup()
        assert isinstance(e.value, ValueError) and isinstance(e.value, clgrad.MXNetError)
    for spec in ("99:0", "no-such-device-xyz"):
        no_selection_env.setenv("CLGRAD_DEVICE", spec)
        with pytest.raises(ValueError, match="CLGRAD_DEVICE"):
            D.choose_default()


def test_selection_in_a_fresh_process():
    devs = D.all_devices()
    last = devs[-1]
    r = run_python("""
        from clgrad import np, npx
        a = np.ones(3)
        print(a.device, a.device.platform_index, a.device.device_index, npx.current_device())
    """, CLGRAD_DEVICE=f"{last.platform_index}:{last.device_index}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(last), str(last.platform_index), str(last.device_index),
                                str(last)]
    r = run_python("from clgrad import np; np.ones(1)", CLGRAD_DEVICE="no-such-device-xyz")
    assert r.returncode != 0 and "matches no OpenCL device" in r.stderr


def _fake(name, platform):
    return SimpleNamespace(name=name, platform=SimpleNamespace(name=platform, version="1.2"))


def test_no_simulator_chosen_by_default(no_selection_env):
    sim = clgrad.Device(_fake("Oclgrind Simulator", "Oclgrind"), 0, 0, "gpu", 0)
    real = clgrad.Device(_fake("pthread-cpu", "Portable Computing Language"), 1, 0, "cpu", 0)
    assert sim.is_simulator and not real.is_simulator
    no_selection_env.setattr(D, "_devices", [sim, real])
    assert D.choose_default() is real          # a GPU, but a simulated one: skipped
    no_selection_env.setattr(D, "_devices", [sim])
    with pytest.raises(clgrad.MXNetError, match="simulator"):
        D.choose_default()
    no_selection_env.setenv("CLGRAD_DEVICE", "oclgrind")
    assert D.choose_default() is sim            # chosen on purpose: allowed
    no_selection_env.setattr(D, "_devices", [])
    with pytest.raises(clgrad.MXNetError, match="no OpenCL device"):
        D.choose_default()


def test_gpu_preferred_over_cpu(no_selection_env):
    cpu = clgrad.Device(_fake("a cpu", "P"), 0, 0, "cpu", 0)
    gpu = clgrad.Device(_fake("a gpu", "Q"), 1, 0, "gpu", 0)
    no_selection_env.setattr(D, "_devices", [cpu, gpu])
    assert D.choose_default() is gpu


def test_device_scopes_nest_and_restore():
    devs = D.all_devices()
    a, b = devs[0], devs[-1]
    before = npx.current_device()
    with a:
        assert npx.current_device() is a
        with b:
            assert npx.current_device() is b
            assert np.zeros(1).device is b
        assert npx.current_device() is a
        with pytest.raises(KeyError):
            with b:
                raise KeyError("x")
        assert npx.current_device() is a
    assert npx.current_device() is before


# --- importing touches no OpenCL -----------------------------------------------------------------
def test_import_touches_no_opencl():
    r = run_python("""
        import pyopencl as cl
        calls = []
        def spy(name, f):
            def g(*a, **k):
                calls.append(name)
                return f(*a, **k)
            return g
        cl.get_platforms = spy("get_platforms", cl.get_platforms)
        cl.Context = spy("Context", cl.Context)
        cl.CommandQueue = spy("CommandQueue", cl.CommandQueue)
        import clgrad
        from clgrad import np, npx, autograd
        import clgrad.runtime.device as D
        assert calls == [], calls
        assert D._devices is None and D._default is None
        a = np.ones(2)                     # the first op discovers and initialises
        assert "get_platforms" in calls and "Context" in calls, calls
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# --- capabilities --------------------------------------------------------------------------------
def test_caps_match_the_driver(monkeypatch):
    monkeypatch.delenv("CLGRAD_DEVICE_LIMITS", raising=False)
    for dev in D.all_devices():
        d = dev.cl_device
        c = read_caps(d)
        assert c.name == d.name.strip() and c.platform == d.platform.name.strip()
        assert c.fp64 == ("cl_khr_fp64" in d.extensions.split())
        assert c.fp16 == ("cl_khr_fp16" in d.extensions.split())
        assert 0 <= c.local_mem < d.local_mem_size
        assert c.max_wg == d.max_work_group_size
        assert c.max_alloc == d.max_mem_alloc_size and c.global_mem == d.global_mem_size
        assert c.compute_units == d.max_compute_units >= 1
        assert c.kind in ("cpu", "gpu", "accelerator")
        assert c.key == f"{c.platform}|{c.name}|{c.driver_version}"
        # the claims as read; what kernels rely on is the part the self-check verified
        assert dev.claims == c
        caps = dev.caps
        assert caps.fp64 <= c.fp64 and caps.max_wg <= c.max_wg
        assert caps.local_mem <= c.local_mem


def test_device_limits_override(monkeypatch):
    dev = D.all_devices()[0]
    monkeypatch.delenv("CLGRAD_DEVICE_LIMITS", raising=False)
    full = read_caps(dev.cl_device)
    monkeypatch.setenv("CLGRAD_DEVICE_LIMITS",
                       "fp64=0, local_mem=16384,max_wg=64,max_alloc=4096,svm=0")
    c = read_caps(dev.cl_device)
    assert c.fp64 is False and c.fine_svm is False
    assert c.local_mem == min(16384, full.local_mem)
    assert c.max_wg == min(64, full.max_wg) and c.max_alloc == min(4096, full.max_alloc)
    assert (c.name, c.key, c.compute_units) == (full.name, full.key, full.compute_units)
    # limits only ever shrink: fp64=1 cannot grant what the device lacks
    monkeypatch.setenv("CLGRAD_DEVICE_LIMITS", "fp64=1,max_wg=1000000,svm=1")
    c2 = read_caps(dev.cl_device)
    assert c2.fp64 == ("cl_khr_fp64" in dev.cl_device.extensions.split())
    assert c2.fine_svm == full.fine_svm
    assert c2.max_wg == dev.cl_device.max_work_group_size


def test_device_limits_parse_errors():
    assert parse_limits("") == {} and parse_limits(None) == {}
    assert parse_limits("fp64=0,max_wg=32") == {"fp64": 0, "max_wg": 32}
    for bad, msg in (("fp64", "key=value"), ("speed=3", "unknown key"),
                     ("max_wg=big", "max_wg.*integer")):
        with pytest.raises(ValueError, match=msg):
            parse_limits(bad)
    with pytest.raises(clgrad.MXNetError):
        parse_limits("speed=3")


def test_device_limits_in_a_fresh_process():
    r = run_python("""
        import numpy as onp
        import clgrad
        from clgrad import np
        dev = clgrad.runtime.default_device()
        assert not dev.caps.fp64 and dev.caps.max_wg <= 64
        for f in (lambda: np.zeros(2, dtype="float64"), lambda: np.array(onp.ones(2)),
                  lambda: np.ones(2).astype("float64")):
            try:
                f()
            except clgrad.DeviceCapabilityError as e:
                assert "cl_khr_fp64" in str(e) and dev.name in str(e), e
            else:
                raise AssertionError("float64 accepted without fp64")
        x = np.arange(1000, dtype="int64")         # integer ramps need no double
        y = (x * 3 + 1) // 2
        assert (y.asnumpy() == (onp.arange(1000) * 3 + 1) // 2).all()
        assert all(k.local <= 64 for k in dev.kernels.values() if hasattr(k, "local"))
        try:
            np.zeros(10000)                          # 40000 bytes > max_alloc
        except clgrad.OutOfMemoryError as e:
            assert "max_mem_alloc_size" in str(e), e
        else:
            raise AssertionError("allocation above max_alloc accepted")
        print("ok")
    """, CLGRAD_DEVICE_LIMITS="fp64=0,max_wg=64,max_alloc=32768")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# --- python -m clgrad info -----------------------------------------------------------------------
def test_info_command_lists_every_platform_and_device():
    r = run_python("import runpy, sys; sys.argv = ['clgrad', 'info']; "
                   "runpy.run_module('clgrad', run_name='__main__')")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for pi, p in enumerate(cl.get_platforms()):
        assert f"platform {pi}: {p.name.strip()}" in out
    for dev in D.all_devices():
        line = next(x for x in out.splitlines()
                    if x.strip().startswith(f"device {dev.platform_index}:{dev.device_index} "))
        assert str(dev) in line and dev.name in line
    assert out.count("<- default") == 1
    assert out.count("float64 ") == len(D.all_devices())
    assert "max work-group" in out and "local memory" in out
    # the same through `python -m clgrad` with no command
    r2 = subprocess.run([sys.executable, "-m", "clgrad"], cwd=str(ROOT), capture_output=True,
                        text=True, timeout=300,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r2.returncode == 0 and r2.stdout.count("platform ") == out.count("platform ")


def test_info_reports_a_bad_selection_without_failing():
    r = run_python("import sys; from clgrad.__main__ import main; sys.exit(main(['info']))",
                   CLGRAD_DEVICE="no-such-device-xyz")
    assert r.returncode == 0, r.stderr
    assert "default device: none" in r.stdout and "no-such-device-xyz" in r.stdout
    assert "<- default" not in r.stdout


def test_info_marks_the_selected_device():
    last = D.all_devices()[-1]
    r = run_python("import sys; from clgrad.__main__ import main; sys.exit(main())",
                   CLGRAD_DEVICE=f"{last.platform_index}:{last.device_index}")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "<- default" in x)
    assert line.strip().startswith(f"device {last.platform_index}:{last.device_index} ")


# --- npx helpers ---------------------------------------------------------------------------------
def test_npx_devices():
    cpus = [d for d in D.all_devices() if d.device_type == "cpu"]
    gpus = [d for d in D.all_devices() if d.device_type == "gpu"]
    assert npx.num_gpus() == len(gpus)
    if cpus:
        assert npx.cpu() is cpus[0] and npx.cpu(len(cpus) - 1) is cpus[-1]
    for i, g in enumerate(gpus):
        assert npx.gpu(i) is g
    with pytest.raises(clgrad.MXNetError, match="does not exist"):
        npx.gpu(len(gpus))
    assert npx.current_device() is D.default_device()
    assert npx.current_context is npx.current_device


def test_waitall_finishes_queued_work_and_touches_unused_devices_not():
    x = np.arange(10000)
    spare = [d for d in D.all_devices() if d._queue is None]
    y = x * 2 + 1
    npx.waitall()
    onp.testing.assert_array_equal(y.asnumpy(), onp.arange(10000, dtype=onp.float32) * 2 + 1)
    assert all(d._queue is None for d in spare)     # no context created just to wait


# --- huge pages for the large buffers of CPU devices -------------------------------------------
def _vma_flags(address):
    """The VmFlags of the mapping of this process that holds ``address`` (Linux)."""
    lines = open("/proc/self/smaps").read().splitlines()
    inside = False
    for line in lines:
        head = line.split()[0]
        if "-" in head and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(v, 16) for v in head.split("-"))
            inside = lo <= address < hi
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    return None


def test_a_new_large_buffer_of_a_cpu_device_is_advised_to_huge_pages():
    import pyopencl as cl

    from clgrad.runtime import default_device, hugepages
    dev = default_device()
    if dev.caps.kind != "cpu" or not hugepages.wanted():
        pytest.skip("huge pages are advised on CPU devices under Linux's 'madvise' policy only")
    before = dev.huge_page_bytes
    n = (hugepages.MIN_BYTES * 3) // 4 + 12345      # elements: a size the pool holds no block of
    x = np.ones(n, dtype="float32")
    assert dev.huge_page_bytes >= before + x.nbytes
    assert float(x.sum()) == n
    host, _ = cl.enqueue_map_buffer(dev.queue, x._storage.buffer, cl.map_flags.READ, 0, (n,),
                                    onp.float32, is_blocking=True)
    try:
        assert (host == 1).all()
        # (the whole pages only: the first, which the buffer shares, keeps its mapping's flags)
        middle = host.ctypes.data + host.nbytes // 2
        assert "hg" in (_vma_flags(middle) or []), "the range is not advised"
    finally:
        host.base.release(dev.queue)
        dev.queue.finish()
    small = dev.huge_page_bytes
    np.ones(1000)                       # small buffers are left alone
    assert dev.huge_page_bytes == small


def test_huge_pages_off_by_environment(monkeypatch):
    from clgrad.runtime import hugepages
    monkeypatch.setenv("CLGRAD_HUGE_PAGES", "0")
    assert not hugepages.wanted()
