"""The program cache: memoised per device, on disk across processes, robust to broken files,
and clear about kernels that fail to build."""
import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as onp
import pytest

import clgrad
from clgrad import np
from clgrad.runtime import build_program, cache_dir, default_device
from clgrad.runtime import program_cache as PC

ROOT = Path(__file__).resolve().parents[2]


def fresh_device():
    """A new Device over the default OpenCL device: its own context and empty memo tables."""
    d = default_device()
    return clgrad.Device(d.cl_device, d.platform_index, d.device_index, d.device_type, 50)


def unique_source(tag=""):
    """A tiny kernel no other test builds (a unique comment keys a new cache entry)."""
    return (f"// {tag} {uuid.uuid4().hex}\n"
            "__kernel void k(__global float *x) { x[get_global_id(0)] += 1.0f; }\n")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CLGRAD_NO_CACHE", raising=False)
    return tmp_path / "kernels"


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CLGRAD_NO_CACHE", raising=False)
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "kernels"
    monkeypatch.delenv("CLGRAD_CACHE_DIR")
    assert cache_dir().name == "kernels" and "clgrad" in str(cache_dir())
    monkeypatch.setenv("CLGRAD_NO_CACHE", "1")
    assert cache_dir() is None


def test_memoised_per_device(cache):
    dev = fresh_device()
    src = unique_source("memo")
    p1 = build_program(dev, src)
    assert dev.stats["compiles"] == 1
    assert build_program(dev, src) is p1 and dev.stats["compiles"] == 1
    # different build options are a different program
    build_program(dev, src, ("-cl-fast-relaxed-math",))
    assert dev.stats["compiles"] == 2
    # another Device (own context) does not share the in-memory program, but loads the binary
    other = fresh_device()
    p2 = build_program(other, src)
    assert p2 is not p1
    assert other.stats == {"compiles": 0, "binary_loads": 1}


def test_disk_entry_is_checksummed(cache):
    dev = fresh_device()
    src = unique_source("disk")
    build_program(dev, src)
    files = list(cache.glob("*.bin"))
    assert len(files) == 1 and not list(cache.glob(".tmp-*"))
    data = files[0].read_bytes()
    head = len(PC._MAGIC)
    assert data.startswith(PC._MAGIC)
    assert hashlib.sha256(data[head + 32:]).digest() == data[head:head + 32]


def _corrupt_variants(data):
    head = len(PC._MAGIC)
    payload = data[head + 32:]
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    garbage = b"not a binary at all" * 10
    return {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "header only": data[:head + 10],
        "flipped byte": bytes(flipped),
        "wrong magic": b"XXXXXXXXXX\n" + data[head:],
        # a valid checksum over a payload the driver rejects: caught when loading
        "bad binary": PC._MAGIC + hashlib.sha256(garbage).digest() + garbage,
        "other payload": PC._MAGIC + hashlib.sha256(payload).digest() + payload[:-7],
    }


@pytest.mark.parametrize("variant", ["truncated", "empty", "header only", "flipped byte",
                                     "wrong magic", "bad binary", "other payload"])
def test_broken_cache_files_are_rebuilt(cache, variant):
    src = unique_source(variant)
    build_program(fresh_device(), src)
    (path,) = cache.glob("*.bin")
    good = path.read_bytes()
    path.write_bytes(_corrupt_variants(good)[variant])
    dev = fresh_device()
    prog = build_program(dev, src)
    assert dev.stats["compiles"] == 1, "a broken cache file was trusted"
    assert PC._read_binary(path) is not None          # replaced by a good entry
    # the rebuilt program runs
    import pyopencl as cl
    k = cl.Kernel(prog, "k")
    buf = cl.Buffer(dev.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                    hostbuf=onp.zeros(4, onp.float32))
    k(dev.queue, (4,), None, buf)
    out = onp.empty(4, onp.float32)
    cl.enqueue_copy(dev.queue, out, buf)
    onp.testing.assert_array_equal(out, onp.ones(4, onp.float32))
    # and a further device loads it without compiling
    third = fresh_device()
    build_program(third, src)
    assert third.stats == {"compiles": 0, "binary_loads": 1}


def test_no_cache_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CLGRAD_NO_CACHE", "1")
    dev = fresh_device()
    build_program(dev, unique_source("nocache"))
    assert dev.stats["compiles"] == 1
    assert not any(tmp_path.rglob("*.bin"))


# --- a second process ----------------------------------------------------------------------------
SCRIPT = """
import numpy as onp
from clgrad import np, npx
h = onp.arange(24, dtype="float32").reshape(4, 6)
x = np.array(h)
y = (np.exp(x / 10) - x.T.T * 2)[::-1, 1::2] + np.array(onp.arange(3, dtype="int32"))
z = np.where(x > 5, x, -x).astype("int16") // 3
want_y = (onp.exp(h / 10) - h * 2)[::-1, 1::2] + onp.arange(3)
want_z = (onp.where(h > 5, h, -h).astype("int16") // 3)
assert onp.allclose(y.asnumpy(), want_y, rtol=1e-5) and (z.asnumpy() == want_z).all()
s = npx.current_device().stats
print(s["compiles"], s["binary_loads"])
"""


def _run(cache_root, **env):
    e = dict(os.environ, CLGRAD_CACHE_DIR=str(cache_root),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("CLGRAD_NO_CACHE", None)
    e.update(env)
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=e, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    compiles, loads = map(int, r.stdout.split())
    return compiles, loads


def test_a_second_process_compiles_nothing(tmp_path):
    compiles, loads = _run(tmp_path)
    assert compiles > 0 and loads == 0
    n_files = len(list((tmp_path / "kernels").glob("*.bin")))
    assert n_files == compiles
    compiles2, loads2 = _run(tmp_path)
    assert compiles2 == 0, "the second process rebuilt kernels from source"
    assert loads2 == compiles
    # a broken file costs exactly one rebuild
    victim = sorted((tmp_path / "kernels").glob("*.bin"))[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    compiles3, loads3 = _run(tmp_path)
    assert (compiles3, loads3) == (1, compiles - 1)


# --- build failures ------------------------------------------------------------------------------
BAD = "__kernel void broken(__global float *x) { x[0] = undefined_name + ; }\n"


def test_build_failure_raises_kernel_build_error(cache):
    dev = fresh_device()
    src = f"// {uuid.uuid4().hex}\n" + BAD
    with pytest.raises(clgrad.KernelBuildError) as info:
        build_program(dev, src)
    e = info.value
    assert isinstance(e, clgrad.MXNetError)
    assert e.device_name == dev.name
    assert e.build_log and ("undefined_name" in e.build_log or "error" in e.build_log.lower())
    assert e.source_path and Path(e.source_path).read_text() == src
    msg = str(e)
    assert dev.name in msg and e.source_path in msg and "Build log" in msg
    assert dev.stats["compiles"] == 1
    assert not list(cache.glob("*.bin"))            # nothing cached for a failed build
    # the process stays usable: the same device builds good kernels and runs ops
    good = unique_source("after failure")
    build_program(dev, good)
    x = np.array(onp.arange(5, dtype=onp.float32))
    onp.testing.assert_array_equal((x * 2 + 1).asnumpy(), onp.arange(5) * 2.0 + 1)
    # and trying the bad source again fails the same way, not with a stale object
    with pytest.raises(clgrad.KernelBuildError):
        build_program(dev, src)


def test_build_failure_without_a_cache_folder(monkeypatch):
    monkeypatch.setenv("CLGRAD_NO_CACHE", "1")
    dev = fresh_device()
    with pytest.raises(clgrad.KernelBuildError) as info:
        build_program(dev, f"// {uuid.uuid4().hex}\n" + BAD)
    assert Path(info.value.source_path).exists()


def test_launch_kernel_build_failure_surfaces(cache):
    """The launch layer's Kernel passes the build error through unchanged."""
    from clgrad.ops.launch import Kernel
    dev = fresh_device()
    with pytest.raises(clgrad.KernelBuildError, match="broken|Build log"):
        Kernel(dev, f"// {uuid.uuid4().hex}\n" + BAD, "broken", [None])


def test_build_failure_in_a_subprocess_leaves_it_usable(tmp_path):
    code = textwrap.dedent(f"""
        import clgrad
        from clgrad import np
        from clgrad.runtime import build_program, default_device
        try:
            build_program(default_device(), {BAD!r})
        except clgrad.KernelBuildError as e:
            print("failed", bool(e.build_log), e.source_path is not None)
        print((np.ones(3) + 1).asnumpy().tolist())
    """)
    e = dict(os.environ, CLGRAD_CACHE_DIR=str(tmp_path),
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("CLGRAD_NO_CACHE", None)      # the failed source goes to the cache folder checked here
    r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["failed True True", "[2.0, 2.0, 2.0]"]
    assert list((tmp_path / "failed").glob("*.cl"))
