"""``npx.save`` / ``npx.savez`` / ``npx.load``: MXNet's NDArray list format (the ``.params``
files), ``.npy`` and ``.npz``.

``tests/data`` holds two files MXNet 1.9.1 wrote, so that reading MXNet's bytes is checked
without MXNet::

    mx.nd.save('mxnet-1.9.1-nd.params', {'w': mx.nd.array([[1, -2], [3.5, 4]], dtype='float16'),
                                         'n': mx.nd.array([7, -8, 9], dtype='int32')})
    npx.set_np()
    npx.save('mxnet-1.9.1-npx.params',
             {'a': np.array([[0.5, -1.0, 2.25], [3.0, -4.5, 6.0]], dtype='float32'),
              'b': np.array(-7, dtype='int64')})

The tests marked ``mxnet_oracle`` run MXNet 1.9.1 itself (tests/mxnet_python.py finds it).
"""
import os
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as onp
import pytest
from mxnet_python import SKIP_REASON, mxnet_python

from clgrad import MXNetError, np, npx
from clgrad.serialization import ParamsFileError

DATA = Path(__file__).resolve().parent / "data"
NPX_FILE = DATA / "mxnet-1.9.1-npx.params"
ND_FILE = DATA / "mxnet-1.9.1-nd.params"

DTYPES = ["float16", "float32", "float64", "uint8", "int8", "int32", "int64", "bool"]
SHAPES = [(), (0,), (4,), (2, 3), (3, 0, 2)]


def values(dtype, shape):
    """Distinct, exactly representable values of ``dtype`` (negatives where it has them)."""
    n = onp.arange(int(onp.prod(shape)))
    if dtype == "bool":
        v = n % 3 == 1
    elif dtype == "uint8":
        v = n * 7 + 1
    elif dtype.startswith("int"):
        v = n * 5 - 3
    else:
        v = (n - 2.5) * 0.75
    return v.astype(dtype).reshape(shape)


def host_arrays():
    return {f"{dtype}-{i}": values(dtype, shape)
            for dtype in DTYPES for i, shape in enumerate(SHAPES)}


def assert_same(got, want):
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert onp.array_equal(got.asnumpy(), want)


# --- round trips -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_list_and_dict_round_trip_every_shape(tmp_path, dtype):
    hosts = [values(dtype, s) for s in SHAPES]
    arrays = [np.array(h) for h in hosts]
    npx.save(tmp_path / "list.params", arrays)
    for got, want in zip(npx.load(tmp_path / "list.params"), hosts):
        assert_same(got, want)
    names = [f"{i}.weight" for i in range(len(hosts))]
    npx.save(tmp_path / "dict.params", dict(zip(names, arrays)))
    got = npx.load(tmp_path / "dict.params")
    assert list(got) == names
    for name, want in zip(names, hosts):
        assert_same(got[name], want)


def test_tuple_and_empty_list_and_utf8_names(tmp_path):
    x = np.array([1.0, 2.0])
    npx.save(tmp_path / "t.params", (x, x + 1))
    _, b = npx.load(tmp_path / "t.params")
    assert_same(b, onp.array([2.0, 3.0], dtype="float32"))
    npx.save(tmp_path / "empty.params", [])
    assert npx.load(tmp_path / "empty.params") == []
    npx.save(tmp_path / "u.params", {"wëight/ß": x})
    assert list(npx.load(tmp_path / "u.params")) == ["wëight/ß"]


def test_one_array_is_saved_as_npy_and_loads_as_the_array(tmp_path):
    # MXNet 2.x: npx.save of one array writes NumPy's .npy; npx.load gives the array back
    h = values("float32", (2, 3))
    npx.save(tmp_path / "x", np.array(h))
    assert onp.array_equal(onp.load(tmp_path / "x"), h)
    assert_same(npx.load(tmp_path / "x"), h)
    # ... and so does a list file holding one unnamed array (what MXNet 1.9.1's npx.save writes)
    npx.save(tmp_path / "one.params", [np.array(h)])
    assert_same(npx.load(tmp_path / "one.params"), h)


def test_npy_header_is_mxnets(tmp_path):
    npx.save(tmp_path / "x.npy", np.zeros((2, 3), dtype="float32"))
    raw = (tmp_path / "x.npy").read_bytes()
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    assert raw[:10] == b"\x93NUMPY\x01\x00" + struct.pack("<H", 118)
    assert raw[10:128] == header + b" " * (117 - len(header)) + b"\n"
    assert len(raw) == 128 + 24


def test_load_places_arrays_on_the_given_device(tmp_path):
    dev = npx.current_device()
    npx.save(tmp_path / "d.params", {"a": np.ones(3)})
    assert npx.load(tmp_path / "d.params", device=dev)["a"].device is dev


def test_savez_round_trip_and_numpy_reads_it(tmp_path):
    hosts = host_arrays()
    arrays = {k: np.array(v) for k, v in hosts.items()}
    first = np.array([1, 2, 3], dtype="int64")
    npx.savez(tmp_path / "a.npz", first, **arrays)
    with onp.load(tmp_path / "a.npz") as z:
        assert sorted(z.files) == sorted([*hosts, "arr_0"])
        for k, v in hosts.items():
            assert z[k].dtype == v.dtype and onp.array_equal(z[k], v)
    got = npx.load(tmp_path / "a.npz")
    assert_same(got["arr_0"], onp.array([1, 2, 3]))
    for k, v in hosts.items():
        assert_same(got[k], v)
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert all(m.compress_type == zipfile.ZIP_STORED for m in zf.infolist())


def test_savez_names_and_errors(tmp_path):
    x = np.ones(2)
    npx.savez(tmp_path / "p.npz", x, x)
    assert sorted(npx.load(tmp_path / "p.npz")) == ["arr_0", "arr_1"]
    with pytest.raises(ValueError, match="clash"):
        npx.savez(tmp_path / "c.npz", x, arr_0=x)
    with pytest.raises(TypeError):
        npx.savez(tmp_path / "c.npz", onp.ones(2))
    npx.savez(tmp_path / "e.npz")
    assert npx.load(tmp_path / "e.npz") == []
    assert not (tmp_path / "c.npz").exists()


def test_loads_what_numpy_writes(tmp_path):
    onp.savez_compressed(tmp_path / "c.npz", x=onp.arange(5.0), flag=onp.array(True))
    got = npx.load(tmp_path / "c.npz")
    assert_same(got["x"], onp.arange(5.0))
    assert_same(got["flag"], onp.array(True))
    swapped = onp.asfortranarray(onp.arange(6).reshape(2, 3).astype(">i4"))
    onp.save(tmp_path / "f.npy", swapped)
    assert_same(npx.load(tmp_path / "f.npy"), onp.arange(6, dtype="int32").reshape(2, 3))


def test_complex_arrays_go_to_npz_not_the_list_format(tmp_path):
    z = np.array([1 + 2j, -3j], dtype="complex64")
    npx.savez(tmp_path / "z.npz", z=z)
    assert_same(npx.load(tmp_path / "z.npz")["z"], onp.array([1 + 2j, -3j], dtype="complex64"))
    with pytest.raises(TypeError, match="no type for complex64"):
        npx.save(tmp_path / "z.params", [z])


# --- MXNet's own bytes -------------------------------------------------------------------------
A = onp.array([[0.5, -1.0, 2.25], [3.0, -4.5, 6.0]], dtype="float32")
B = onp.array(-7, dtype="int64")


def test_reads_mxnet_1_9_1_npx_save_file():
    got = npx.load(NPX_FILE)
    assert list(got) == ["a", "b"]
    assert_same(got["a"], A)
    assert_same(got["b"], B)


def test_reads_mxnet_1_9_1_nd_save_file_with_v2_records():
    got = npx.load(ND_FILE)
    assert_same(got["w"], onp.array([[1, -2], [3.5, 4]], dtype="float16"))
    assert_same(got["n"], onp.array([7, -8, 9], dtype="int32"))


def test_writes_the_bytes_mxnet_1_9_1_writes(tmp_path):
    npx.save(tmp_path / "x.params", {"a": np.array(A), "b": np.array(B)})
    assert (tmp_path / "x.params").read_bytes() == NPX_FILE.read_bytes()


def record(dims, flag, data, magic=0xF993FACA, stype=0):
    """One array as MXNet's NDArray::Save lays it out (V2/V3)."""
    return struct.pack(f"<Iii{len(dims)}qiii", magic, stype, len(dims), *dims, 1, 0, flag) + data


def list_file(records, names=()):
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n
    return out


def test_reads_v1_and_pre_v1_records(tmp_path):
    data = onp.array([1.5, -2.0], dtype="float32").tobytes()
    v1 = struct.pack("<Iiqiii", 0xF993FAC8, 1, 2, 1, 0, 0) + data
    pre_v1 = struct.pack("<IIiii", 1, 2, 1, 0, 0) + data     # the magic is the ndim
    path = tmp_path / "old.params"
    path.write_bytes(list_file([v1, pre_v1]))
    for got in npx.load(path):
        assert_same(got, onp.array([1.5, -2.0], dtype="float32"))


# --- corrupt files -------------------------------------------------------------------------------
def test_every_truncation_of_a_params_file_is_refused(tmp_path):
    raw = NPX_FILE.read_bytes()
    path = tmp_path / "cut.params"
    for n in range(len(raw)):
        path.write_bytes(raw[:n])
        with pytest.raises(ParamsFileError, match="cut.params"):
            npx.load(path)


@pytest.mark.parametrize("kind", ["npy", "npz"])
def test_truncated_npy_and_npz_are_refused(tmp_path, kind):
    src = tmp_path / f"whole.{kind}"
    if kind == "npy":
        npx.save(src, np.array(A))
    else:
        npx.savez(src, a=np.array(A), b=np.array(B))
    raw = src.read_bytes()
    path = tmp_path / f"cut.{kind}"
    for n in sorted({4, 8, 9, 12, 40, 100, len(raw) // 2, len(raw) - 30, len(raw) - 1}):
        path.write_bytes(raw[:n])
        with pytest.raises(ParamsFileError, match=f"cut.{kind}"):
            npx.load(path)


F32 = onp.zeros(2, "float32").tobytes()
CORRUPT = {
    "header magic": (struct.pack("<QQQQ", 0x113, 0, 0, 0), "header magic 0x113"),
    "array magic": (list_file([record([2], 0, F32, magic=0xDEADBEEF)]), "unknown magic"),
    "type flag": (list_file([record([2], 99, F32)]), "unknown type flag 99"),
    "bfloat16": (list_file([record([2], 12, F32)]), "bfloat16"),
    "row_sparse": (list_file([record([2], 0, F32, stype=1)]), "row_sparse storage"),
    "csr": (list_file([record([2], 0, F32, stype=2)]), "csr storage"),
    "storage type": (list_file([record([2], 0, F32, stype=7)]), "unknown storage type 7"),
    "absurd count": (struct.pack("<QQQ", 0x112, 0, 2**63) + record([2], 0, F32),
                     "claims 9223372036854775808 arrays"),
    "absurd size": (list_file([record([2**40, 2**20], 0, F32)]), "truncated"),
    "negative dim": (list_file([record([-2], 0, F32)]), "negative dimension"),
    "absurd ndim": (list_file([struct.pack("<Iii", 0xF993FACA, 0, 10**6)]), "ndim 1000000"),
    "uninitialised": (list_file([struct.pack("<Iii", 0xF993FACA, 0, -1)]), "uninitialised"),
    "name count": (list_file([record([2], 0, F32)], [b"a", b"b"]), "2 names for 1 arrays"),
    "name length": (list_file([record([2], 0, F32)])[:-8] + struct.pack("<QQ", 1, 2**62),
                    "truncated"),
    "name bytes": (list_file([record([2], 0, F32)], [b"\xff\xfe"]), "not UTF-8"),
    "too short": (b"\x12\x01", "too short"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_params_file_is_refused(tmp_path, case):
    raw, message = CORRUPT[case]
    path = tmp_path / "bad.params"
    path.write_bytes(raw)
    with pytest.raises(ParamsFileError, match=message) as err:
        npx.load(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, MXNetError) and isinstance(err.value, ValueError)


def npy_bytes(header, data=b""):
    header = header.encode("latin1")
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


@pytest.mark.parametrize("header, message", [
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", "truncated"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "not supported"),
    ("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", "not supported"),
    ("{'descr': '<f4', 'shape': (1,), }", "not a valid .npy header"),
    ("__import__('os')", "not a valid .npy header"),
])
def test_corrupt_npy_is_refused(tmp_path, header, message):
    path = tmp_path / "bad.npy"
    path.write_bytes(npy_bytes(header, b"\0" * 8))
    with pytest.raises(ParamsFileError, match=message):
        npx.load(path)


def test_sparse_npz_is_refused(tmp_path):
    path = tmp_path / "s.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for member in ("data", "indices", "indptr", "format", "shape"):
            zf.writestr(f"m/{member}.npy", npy_bytes(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8))
    with pytest.raises(ParamsFileError, match="sparse"):
        npx.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        npx.load(tmp_path / "nothing.params")


# --- atomic writes -----------------------------------------------------------------------------
OLD = b"the previous contents"


@pytest.fixture
def old_file(tmp_path):
    path = tmp_path / "model.params"
    path.write_bytes(OLD)
    return path


def assert_untouched(path):
    assert path.read_bytes() == OLD
    assert os.listdir(path.parent) == [path.name]     # no temporary file left behind


@pytest.mark.parametrize("bad", [onp.ones(2), [np.ones(2), onp.ones(2)], {1: np.ones(2)},
                                 {"a": 1.0}, "text", None])
def test_unsupported_data_raises_before_touching_the_file(old_file, bad):
    with pytest.raises(TypeError):
        npx.save(old_file, bad)
    assert_untouched(old_file)


def test_failure_mid_write_leaves_the_old_file(old_file, monkeypatch):
    asnumpy = np.ndarray.asnumpy
    calls = []

    def fail_on_the_second_array(self):
        calls.append(self)
        if len(calls) == 2:
            raise OSError("disk full")
        return asnumpy(self)
    monkeypatch.setattr(np.ndarray, "asnumpy", fail_on_the_second_array)
    with pytest.raises(OSError, match="disk full"):
        npx.save(old_file, [np.ones(1000), np.ones(1000)])
    assert_untouched(old_file)


@pytest.mark.parametrize("write", [
    lambda p: npx.save(p, {"a": np.ones(3)}),
    lambda p: npx.save(p, np.ones(3)),
    lambda p: npx.savez(p, a=np.ones(3)),
])
def test_failed_fsync_leaves_the_old_file(old_file, monkeypatch, write):
    def fsync(fd):
        raise OSError("I/O error")
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="I/O error"):
        write(old_file)
    assert_untouched(old_file)


def test_a_completed_save_replaces_the_file_with_usual_permissions(old_file):
    umask = os.umask(0o022)
    os.umask(umask)
    npx.save(old_file, {"a": np.ones(3)})
    assert_same(npx.load(old_file)["a"], onp.ones(3, dtype="float32"))
    assert os.listdir(old_file.parent) == [old_file.name]
    new = old_file.parent / "new.params"
    npx.save(new, [np.ones(1)])
    assert (new.stat().st_mode & 0o777) == (0o666 & ~umask)


# --- against MXNet 1.9.1 -------------------------------------------------------------------------
MXNET_WRITES = """
import sys, numpy as onp
from mxnet import np, npx
npx.set_np()
src, out = sys.argv[1], sys.argv[2]
with onp.load(src) as z:
    names = list(z.files)
    arrays = [np.array(z[n], dtype=z[n].dtype) for n in names]
npx.save(out + "/list.params", arrays)
npx.save(out + "/dict.params", dict(zip(names, arrays)))
npx.save(out + "/single.params", arrays[0])
"""

MXNET_READS = """
import sys, numpy as onp
from mxnet import npx
npx.set_np()
out = {}
for f in sys.argv[1:-1]:
    got = npx.load(f)
    items = got.items() if isinstance(got, dict) else enumerate(got)
    out.update({f"{f}|{k}": v.asnumpy() for k, v in items})
onp.savez(sys.argv[-1], **out)
"""


def run_mxnet(script, *args, cwd):
    py = mxnet_python()
    if py is None:
        pytest.skip(SKIP_REASON)
    r = subprocess.run([py, "-c", script, *map(str, args)], check=False,
                       capture_output=True, text=True, timeout=300, cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.mxnet_oracle
def test_bytes_match_mxnet_1_9_1_for_every_dtype_and_shape(tmp_path):
    hosts = host_arrays()
    onp.savez(tmp_path / "src.npz", **hosts)
    run_mxnet(MXNET_WRITES, tmp_path / "src.npz", tmp_path, cwd=tmp_path)
    arrays = [np.array(h) for h in hosts.values()]
    npx.save(tmp_path / "cl-list.params", arrays)
    npx.save(tmp_path / "cl-dict.params", dict(zip(hosts, arrays)))
    npx.save(tmp_path / "cl-single.params", arrays[:1])    # 1.9.1's npx.save(f, x) is a list
    for form in ("list", "dict", "single"):
        assert (tmp_path / f"cl-{form}.params").read_bytes() == \
            (tmp_path / f"{form}.params").read_bytes(), form


@pytest.mark.mxnet_oracle
def test_mxnet_1_9_1_reads_what_clgrad_writes(tmp_path):
    hosts = host_arrays()
    arrays = [np.array(h) for h in hosts.values()]
    npx.save(tmp_path / "list.params", arrays)
    npx.save(tmp_path / "dict.params", dict(zip(hosts, arrays)))
    run_mxnet(MXNET_READS, "list.params", "dict.params", "out.npz", cwd=tmp_path)
    with onp.load(tmp_path / "out.npz") as got:
        assert len(got.files) == 2 * len(hosts)
        for i, (name, want) in enumerate(hosts.items()):
            for key in (f"list.params|{i}", f"dict.params|{name}"):
                assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
                assert onp.array_equal(got[key], want), key
