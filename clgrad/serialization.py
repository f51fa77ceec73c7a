"""MXNet's array files: ``npx.save``, ``npx.savez`` and ``npx.load``.

Three formats, as MXNet 2.x writes and reads them (``python/mxnet/numpy_extension/utils.py``,
``MXNDArraySave`` / ``MXNDArrayLoad`` in ``src/c_api/c_api.cc``):

* ``save(file, x)`` of one array writes NumPy's ``.npy`` format (MXNet 2.x: one unnamed array
  goes to ``npy::save_array``, ``src/serialization/cnpy.cc``; its header is built the same way).
* ``savez(file, *args, **kwds)`` writes an uncompressed ``.npz``: a zip of ``name.npy`` members,
  positional arrays named ``arr_0``, ``arr_1``, ... (MXNet 2.x Gluon's ``save_parameters``).
* MXNet's NDArray list format, the ``.params`` files of MXNet 1.x and ``mx.nd.save``: uint64
  magic 0x112, uint64 reserved, uint64 count, each array as ``NDArray::Save`` writes it
  (``src/ndarray/ndarray.cc``): uint32 magic, int32 storage type, int32 ndim, int64 dims,
  int32 dev_type, int32 dev_id, int32 mshadow type flag, the little-endian data; then a uint64
  name count and each name as a uint64 length and its UTF-8 bytes.

Where the two MXNets differ: MXNet 1.9.1's ``npx.save`` writes every array, list or dict in the
NDArray list format; MXNet 2.x's writes one array as ``.npy`` and refuses lists and dicts.
``save`` follows 2.x for one array, and writes lists and dicts as 1.9.1 does (with the V3 magic
of numpy-shape arrays, byte for byte what 1.9.1's ``npx.save`` writes), so that MXNet 1.9.1 reads
them. ``load`` reads all three, as 2.x's ``npx.load`` does, including the list format's V2
arrays (``mx.nd.save``, 1.x Gluon) that 1.9.1's ``npx.load`` refuses, and the older V1 and
pre-V1 layouts. Like 2.x's, it returns a dict when the file names its arrays, the array itself
when it holds one unnamed array (a ``.npy`` file, or a list file of one), else a list.

Every read is checked against the bytes that remain, so a truncated or corrupt file raises
``ParamsFileError`` naming the file and the fault, before anything is allocated for it.
Writes go to a temporary file in the same directory that replaces ``file`` once complete.
"""
import os
import struct
import zipfile
import zlib

import numpy as _np
from numpy.lib import format as _npy

from . import dtypes as _dt
from .base import ArgumentError, ArgumentTypeError, DTypeError, MXNetError
from .ndarray import ndarray
from .ops.core import from_host, resolve_device
from .runtime.files import replace_atomically


class ParamsFileError(MXNetError, ValueError):
    """A file that is not a valid MXNet array file (.params, .npy or .npz)."""


class ParamsOSError(MXNetError, OSError):
    """The file system refused a save or a load (MXNet raises its error; the errno is kept)."""


class ParamsFileNotFoundError(ParamsOSError, FileNotFoundError):
    """A file to load, or the folder to save into, that does not exist."""


def _os_error(what, e):
    cls = ParamsFileNotFoundError if isinstance(e, FileNotFoundError) else ParamsOSError
    if e.errno is None:     # an OSError raised with a message alone
        return cls(f"{what}: {e}")
    err = cls(f"{what}: {e.strerror}: {e.filename!r}")
    # (with errno and strerror set, OSError's str() reads "[Errno 2] npx.load: No such ...")
    err.errno, err.strerror, err.filename = e.errno, f"{what}: {e.strerror}", e.filename
    return err


def _path(file, what):
    """``file`` (str, bytes or os.PathLike) as a str path."""
    try:
        path = os.fspath(file)
    except TypeError:
        raise ArgumentTypeError(f"{what}: file must be a path (str, bytes or os.PathLike), "
                                f"not {type(file).__name__}") from None
    return path if isinstance(path, str) else os.fsdecode(path)


_LIST_MAGIC = 0x112                 # kMXAPINDArrayListMagic
_V1_MAGIC = 0xF993FAC8              # int64 dims, no storage type
_V2_MAGIC = 0xF993FAC9              # adds the storage type
_V3_MAGIC = 0xF993FACA              # numpy shape semantics: 0-d and zero-size arrays
_DEFAULT_STORAGE = 0
_SPARSE_STORAGE = {1: "row_sparse", 2: "csr"}
_CPU_DEVICE = (1, 0)                # Context: kCPU (cpu::kDevMask), dev_id 0
_MAX_NDIM = 32
# the shortest record load accepts (pre-V1, one dim of 0: magic, dim, device, type flag):
# a count that cannot fit in the rest of the file is refused before anything is read
_MIN_RECORD_BYTES = 20

# mshadow's type flags (3rdparty/mshadow/mshadow/base.h, enum TypeFlag)
_FLAG_OF = {_dt.float32: 0, _dt.float64: 1, _dt.float16: 2, _dt.uint8: 3, _dt.int32: 4,
            _dt.int8: 5, _dt.int64: 6, _dt.bool_: 7, _dt.int16: 8}
_DTYPE_OF = {flag: dt for dt, flag in _FLAG_OF.items()}
_UNSUPPORTED_FLAGS = {9: "uint16", 10: "uint32", 11: "uint64", 12: "bfloat16"}

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUM"
# the most a deflate stream can expand (about 1032:1): bounds a member's declared size
_MAX_DEFLATE_RATIO = 1100


# --- writing ---------------------------------------------------------------------------------
def save(file, arr):
    """Save one array as ``.npy``, or a list/tuple of arrays or a dict of name -> array in
    MXNet's NDArray list format (the ``.params`` format MXNet 1.9.1 reads)."""
    if isinstance(arr, ndarray):
        _write_atomically(file, lambda f: _write_npy(f, _host(arr)))
        return
    if isinstance(arr, dict):
        if not all(isinstance(k, str) for k in arr):
            raise ArgumentTypeError("npx.save: dict keys must be str")
        names, arrays = list(arr), list(arr.values())
    elif isinstance(arr, (list, tuple)):
        names, arrays = [], list(arr)
    else:
        raise ArgumentTypeError("npx.save takes an ndarray, a list or tuple of ndarrays, or a "
                                f"dict of str -> ndarray, not {type(arr).__name__}")
    for a in arrays:
        if not isinstance(a, ndarray):
            raise ArgumentTypeError(f"npx.save: {type(a).__name__} is not a clgrad ndarray")
        if a.dtype not in _FLAG_OF:
            raise DTypeError(f"MXNet's NDArray format has no type for {a.dtype} "
                             "(save it with npx.savez instead)")
    _write_atomically(file, lambda f: _write_list(f, arrays, names))


def savez(file, *args, **kwds):
    """Save arrays into an uncompressed ``.npz``: positional ones as ``arr_0``, ``arr_1``, ...,
    keyword ones under their names."""
    for i, a in enumerate(args):
        name = f"arr_{i}"
        if name in kwds:
            raise ArgumentError(f"npx.savez: positional array {i} and keyword {name!r} clash")
        kwds[name] = a
    for name, a in kwds.items():
        if not isinstance(a, ndarray):
            raise ArgumentTypeError(f"npx.savez: {name!r} is a {type(a).__name__}, not an "
                                    "ndarray")

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            for name, a in kwds.items():
                host = _host(a)
                header = _npy_header(host)
                info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.file_size = len(header) + host.nbytes   # lets zipfile choose zip64
                with zf.open(info, "w") as member:
                    member.write(header)
                    member.write(_raw(host))
    _write_atomically(file, write)


def _host(a):
    """The array's values on the host, little-endian and C-ordered."""
    host = a.asnumpy()
    return host.astype(host.dtype.newbyteorder("<"), copy=False)


def _raw(host):
    return host.reshape(-1).view(_np.uint8)


def _npy_header(host):
    """The .npy preamble and header as MXNet's ``create_npy_header`` builds them."""
    dims = ", ".join(str(n) for n in host.shape) + ("," if host.ndim == 1 else "")
    header = f"{{'descr': '{host.dtype.str}', 'fortran_order': False, 'shape': ({dims}), }}"
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    header = header.encode("latin1")
    if len(header) <= 0xFFFF:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header


def _write_npy(f, host):
    f.write(_npy_header(host))
    f.write(_raw(host))


def _write_list(f, arrays, names):
    f.write(struct.pack("<QQQ", _LIST_MAGIC, 0, len(arrays)))
    for a in arrays:
        host = _host(a)
        f.write(struct.pack(f"<Iii{host.ndim}qiii", _V3_MAGIC, _DEFAULT_STORAGE, host.ndim,
                            *host.shape, *_CPU_DEVICE, _FLAG_OF[a.dtype]))
        f.write(_raw(host))
    f.write(struct.pack("<Q", len(names)))
    for name in names:
        b = name.encode("utf-8")
        f.write(struct.pack("<Q", len(b)) + b)


def _write_atomically(file, write):
    """Run ``write(f)`` on a new file beside ``file`` that replaces it only once it is complete
    and on disk: a failure leaves the old file as it was."""
    path = _path(file, "npx.save")
    try:
        replace_atomically(path, write)
    except OSError as e:
        raise _os_error("npx.save", e) from None


# --- reading ---------------------------------------------------------------------------------
def load(file, device=None):
    """Load a ``.npy``, ``.npz`` or NDArray list file: a dict when the file names its arrays,
    the array when it holds one unnamed array, else a list; arrays go to ``device`` (default:
    the current device)."""
    path = _path(file, "npx.load")
    dev = resolve_device(device)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise _os_error("npx.load", e) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(4)
        f.seek(0)
        if len(head) < 4:
            raise ParamsFileError(f"{path}: {size} bytes is too short for an array file")
        if head in _ZIP_MAGICS:
            names, hosts = _read_npz(f, path)
        elif head == _NPY_MAGIC:
            names, hosts = [], [_read_npy(f, path, size)]
        else:
            names, hosts = _read_list(_Reader(f, path, size))
    for h in hosts:
        _dt.check_device(h.dtype, dev)      # before any allocation
    arrays = [from_host(h, dev) for h in hosts]
    if names:
        return dict(zip(names, arrays))
    return arrays[0] if len(arrays) == 1 else arrays


class _Reader:
    """Reads from a file of known length, each read checked against the bytes that remain."""

    def __init__(self, f, path, size):
        self.f, self.path, self.size = f, path, size

    def fail(self, what):
        return ParamsFileError(f"{self.path}: {what} (at byte {self.f.tell()})")

    def remaining(self):
        return self.size - self.f.tell()

    def need(self, n, what):
        if n > self.remaining():
            raise self.fail(f"truncated: {what} needs {n} bytes, {self.remaining()} remain")

    def read(self, n, what):
        self.need(n, what)
        data = self.f.read(n)
        if len(data) != n:       # the file shrank while being read
            raise self.fail(f"truncated: {what} needs {n} bytes")
        return data

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))

    def array(self, dtype, shape, what):
        nbytes = _size(shape) * dtype.itemsize
        self.need(nbytes, what)
        buf = _np.empty(nbytes, _np.uint8)
        if self.f.readinto(buf) != nbytes:
            raise self.fail(f"truncated: {what} needs {nbytes} bytes")
        return buf.view(dtype).reshape(shape)


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _read_list(r):
    magic, _reserved = r.unpack("<QQ", "the file header")
    if magic != _LIST_MAGIC:
        raise r.fail(f"not an MXNet array file: header magic {magic:#x}, expected "
                     f"{_LIST_MAGIC:#x} (or a .npy/.npz file)")
    count, = r.unpack("<Q", "the array count")
    if count > r.remaining() // _MIN_RECORD_BYTES:
        raise r.fail(f"the file claims {count} arrays but only {r.remaining()} bytes follow")
    hosts = [_read_record(r, i) for i in range(count)]
    n_names, = r.unpack("<Q", "the name count")
    if n_names not in (0, count):
        raise r.fail(f"{n_names} names for {count} arrays")
    names = []
    for i in range(n_names):
        length, = r.unpack("<Q", f"the length of name {i}")
        raw = r.read(length, f"name {i}")
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise r.fail(f"name {i} is not UTF-8") from None
    return names, hosts      # (bytes after the names are ignored, as MXNet does)


def _read_record(r, i):
    """One array as ``NDArray::Load`` reads it, as a host array."""
    what = f"array {i}"
    magic, = r.unpack("<I", f"{what}'s magic")
    if magic in (_V2_MAGIC, _V3_MAGIC):
        stype, = r.unpack("<i", f"{what}'s storage type")
        if stype in _SPARSE_STORAGE:
            raise r.fail(f"{what} has {_SPARSE_STORAGE[stype]} storage; clgrad loads dense "
                         "arrays only")
        if stype != _DEFAULT_STORAGE:
            raise r.fail(f"{what} has an unknown storage type {stype}")
        ndim, = r.unpack("<i", f"{what}'s ndim")
        shape = _read_dims(r, ndim, "q", what)
        # without numpy shape semantics (V2), ndim 0 is an array with no shape yet
        if magic == _V2_MAGIC and ndim == 0:
            shape = None
    elif magic == _V1_MAGIC:
        ndim, = r.unpack("<i", f"{what}'s ndim")
        shape = _read_dims(r, ndim, "q", what)
    elif 0 < magic <= _MAX_NDIM:     # before V1 the record began with a uint32 shape
        shape = _read_dims(r, magic, "I", what)
    else:
        raise r.fail(f"{what} has an unknown magic {magic:#010x} (expected {_V3_MAGIC:#x}, "
                     f"{_V2_MAGIC:#x} or {_V1_MAGIC:#x})")
    if shape is None:
        raise r.fail(f"{what} is an uninitialised NDArray (no shape), which clgrad cannot hold")
    r.unpack("<ii", f"{what}'s device")      # where it was saved from: not where it goes
    flag, = r.unpack("<i", f"{what}'s type flag")
    dtype = _DTYPE_OF.get(flag)
    if dtype is None:
        kind = _UNSUPPORTED_FLAGS.get(flag)
        raise r.fail(f"{what} has type {kind}, which clgrad does not support" if kind else
                     f"{what} has an unknown type flag {flag}")
    host = r.array(dtype, shape, f"{what}'s data ({dtype}, shape {shape})")
    return _as_bool(host) if dtype == _dt.bool_ else host


def _read_dims(r, ndim, code, what):
    """The dims, or None for MXNet's unknown shape (ndim -1 or a dim of -1)."""
    if ndim == -1:
        return None
    if not 0 <= ndim <= _MAX_NDIM:
        raise r.fail(f"{what} has ndim {ndim} (at most {_MAX_NDIM})")
    dims = r.unpack(f"<{ndim}{code}", f"{what}'s shape")
    if -1 in dims:
        return None
    if any(d < 0 for d in dims):
        raise r.fail(f"{what} has a negative dimension in shape {dims}")
    return dims


def _read_npy(f, path, size):
    """A ``.npy`` stream of ``size`` bytes as a native-order, C-ordered host array."""
    start = f.tell()
    try:
        version = _npy.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = _npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = _npy.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
    except (ValueError, SyntaxError, TypeError, EOFError) as e:
        raise ParamsFileError(f"{path}: not a valid .npy header: {e}") from None
    native = dtype.newbyteorder("=")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or \
            native not in _dt.SUPPORTED:
        raise ParamsFileError(f"{path}: .npy dtype {dtype} is not supported by clgrad")
    nbytes = _size(shape) * dtype.itemsize
    remaining = size - (f.tell() - start)
    if nbytes > remaining:
        raise ParamsFileError(f"{path}: truncated: the data of shape {shape} ({dtype}) needs "
                              f"{nbytes} bytes, {remaining} remain")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise ParamsFileError(f"{path}: truncated: the data needs {nbytes} bytes")
    host = _np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")
    host = host.astype(native, order="C")      # also makes it writable
    return _as_bool(host) if native == _dt.bool_ else host


def _as_bool(host):
    """Any nonzero byte is True (kernels expect bools to be 0 or 1)."""
    return host.view(_np.uint8) != 0


# scipy.sparse's save_npz layouts (and MXNet's row_sparse), which MXNet 2.x loads as sparse
_SPARSE_MEMBERS = ({"data.npy", "indices.npy", "indptr.npy", "format.npy", "shape.npy"},
                   {"data.npy", "indices.npy", "format.npy", "shape.npy"},
                   {"data.npy", "row.npy", "col.npy", "format.npy", "shape.npy"},
                   {"data.npy", "offsets.npy", "format.npy", "shape.npy"})


def _read_npz(f, path):
    archive_size = os.fstat(f.fileno()).st_size
    names, hosts = [], []
    try:
        with zipfile.ZipFile(f) as zf:
            members = [m for m in zf.infolist() if m.filename.endswith(".npy")]
            folders = {}
            for m in members:
                folder, _, base = m.filename.rpartition("/")
                folders.setdefault(folder, set()).add(base)
            for folder, contents in folders.items():
                if folder and contents in _SPARSE_MEMBERS:
                    raise ParamsFileError(f"{path}: {folder!r} is a sparse array; clgrad loads "
                                          "dense arrays only")
            for m in members:
                where = f"{path}:{m.filename}"
                if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise ParamsFileError(f"{where}: compression method {m.compress_type} "
                                          "(MXNet reads stored and deflated members only)")
                limit = archive_size if m.compress_type == zipfile.ZIP_STORED \
                    else m.compress_size * _MAX_DEFLATE_RATIO
                if m.file_size > limit:
                    raise ParamsFileError(f"{where}: declares {m.file_size} bytes, more than "
                                          "the archive can hold")
                with zf.open(m) as member:
                    hosts.append(_read_npy(member, where, m.file_size))
                names.append(m.filename[:-len(".npy")])
    except ParamsFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError, RuntimeError, struct.error) as e:
        raise ParamsFileError(f"{path}: not a valid .npz archive: {e}") from None
    return names, hosts
