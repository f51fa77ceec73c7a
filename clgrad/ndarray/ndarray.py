"""The device array: a pooled buffer plus shape, element strides, offset, dtype and device.

Views (reshape of contiguous data, transpose, slicing, broadcast_to, expand_dims, squeeze) share
the buffer and copy nothing. Nothing here waits for the device except reading values back
(``asnumpy``, ``item``, ``repr``, ``bool`` ...). The array knows no op and no tape: its operators
and methods call the op table ``_ops`` that ``clgrad.ops`` fills when it is imported, and the
layers above add their own methods (``clgrad.autograd``: attach_grad, grad, backward;
``clgrad.array_api``: __array_namespace__, __dlpack__).
"""
import operator

import numpy as _np

from .. import dtypes as _dt
from ..base import ArgumentError, MXNetError, ShapeError
from .storage import Storage

_ops = None  # clgrad.ops, bound when that package is imported (it imports this module)


class ConversionError(MXNetError, TypeError):
    """A conversion NumPy refuses with TypeError (``float`` of a long array, ``len`` of 0-d)."""


def c_strides(shape):
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= n
    return tuple(reversed(st))


# shape -> (shape as a tuple of ints, C strides, size): allocation needs no per-call arithmetic
_LAYOUTS = {}


def _layout(shape):
    norm = tuple(int(n) for n in shape)
    size = 1
    for n in norm:
        size *= n
    lay = (norm, c_strides(norm), size)
    if len(_LAYOUTS) > 4096:
        _LAYOUTS.clear()
    try:
        _LAYOUTS[shape] = lay
    except TypeError:       # a list: unhashable, answered without caching
        pass
    return lay


class ndarray:
    """An n-dimensional array on an OpenCL device, with MXNet's ``np.ndarray`` interface."""

    __slots__ = ("_storage", "shape", "_strides", "_offset", "dtype", "_ag_node", "_ag_index",
                 "_contig", "__weakref__")
    __array_priority__ = 1000.0   # NumPy defers to our reflected operators
    __hash__ = None

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def _make(cls, storage, shape, strides, offset, dtype):
        a = object.__new__(cls)
        a._storage = storage
        a.shape = shape
        a._strides = strides
        a._offset = offset
        a.dtype = dtype
        a._ag_node = None
        a._ag_index = 0
        a._contig = None      # C-contiguity, worked out on first use
        return a

    @classmethod
    def _empty(cls, shape, dtype, device):
        return cls._empty_n(shape, dtype, device)[0]

    @classmethod
    def _empty_n(cls, shape, dtype, device):
        """A new C-contiguous array and its size (what ``_empty`` makes, for hot paths)."""
        lay = _LAYOUTS.get(shape)
        if lay is None:
            lay = _layout(shape)
        shape, strides, size = lay
        a = object.__new__(cls)
        a._storage = Storage(device, size * dtype.itemsize)
        a.shape = shape
        a._strides = strides
        a._offset = 0
        a.dtype = dtype
        a._ag_node = None
        a._ag_index = 0
        a._contig = True
        return a, size

    def _view(self, shape, strides, offset):
        """A view of the same storage (not recorded by autograd)."""
        return ndarray._make(self._storage, tuple(shape), tuple(strides), offset, self.dtype)

    def _shared(self, shape, strides, offset):
        """A new array over the same buffer that a write on either side does not reach (copy on
        write: ``Storage.share``)."""
        return ndarray._make(self._storage.share(), tuple(shape), tuple(strides), offset,
                             self.dtype)

    def __init__(self, *args, **kwargs):
        from ..base import ArgumentTypeError
        raise ArgumentTypeError("ndarray: create arrays with clgrad.np.array, np.zeros, "
                                "np.empty, ...")

    # --- properties ----------------------------------------------------------------------
    @property
    def device(self):
        return self._storage.device

    ctx = context = device

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        lay = _LAYOUTS.get(self.shape)
        return lay[2] if lay is not None else _layout(self.shape)[2]

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def strides(self):
        """Strides in bytes, as NumPy reports them."""
        return tuple(s * self.dtype.itemsize for s in self._strides)

    def _is_c_contiguous(self):
        c = self._contig
        if c is None:
            c = True
            acc = 1
            for n, s in zip(reversed(self.shape), reversed(self._strides)):
                if n != 1 and s != acc:
                    c = False
                    break
                acc *= n
            self._contig = c
        return c

    @property
    def T(self):
        return self.transpose()

    # --- host transfer -----------------------------------------------------------------------
    def asnumpy(self):
        """A NumPy copy of the array (waits for the device)."""
        src = self if self._is_c_contiguous() else _ops.copy_raw(self)
        return src._storage.download(self.shape, self.dtype, src._offset * self.itemsize)

    def read_into(self, host, wait=True):
        """Copy the elements (C order) into ``host``, a C-contiguous NumPy array of the same size
        and dtype; with ``wait`` False the copy is only enqueued and its event returned (None
        for no elements): ``host`` is valid, and must stay alive, until the event completes."""
        if not isinstance(host, _np.ndarray) or host.size != self.size or \
                host.dtype != self.dtype or not host.flags.c_contiguous:
            raise ShapeError(f"read_into: needs a C-contiguous NumPy array of {self.size} "
                             f"{self.dtype} elements, got "
                             f"{getattr(host, 'size', '?')} {getattr(host, 'dtype', type(host))}")
        src = self if self._is_c_contiguous() else _ops.copy_raw(self)
        return src._storage.download_into(host, src._offset * self.itemsize, wait)

    def __array__(self, dtype=None, copy=None):
        a = self.asnumpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self, *args):
        if len(args) == 1 and not isinstance(args[0], tuple):
            # one integer is a flat (C-order) index, as in NumPy
            i = _index(args[0])
            if not -self.size <= i < self.size:
                from .indexing import IndexOutOfRange
                raise IndexOutOfRange(f"index {i} is out of bounds for size {self.size}")
            args = _np.unravel_index(i % self.size, self.shape) if self.shape else ()
            return self[tuple(int(k) for k in args)].item()
        if args:
            return self[args[0] if len(args) == 1 else args].item()
        if self.size != 1:
            raise ShapeError("can only convert an array of size 1 to a Python scalar")
        return self.asnumpy().reshape(()).item()

    def tolist(self):
        return self.asnumpy().tolist()

    def __bool__(self):
        if self.size != 1:
            if self.size == 0:
                raise ShapeError("The truth value of an empty array is ambiguous.")
            raise ShapeError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return bool(self.item())

    def _scalar(self):
        if self.size != 1:
            raise ConversionError("only length-1 arrays can be converted to Python scalars "
                                  f"(this one has shape {self.shape})")
        return self.item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __complex__(self):
        return complex(self._scalar())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise ConversionError("only integer scalar arrays can be converted to a scalar "
                                  f"index (this one is {self.dtype})")
        return int(self._scalar())

    def __len__(self):
        if not self.shape:
            raise ConversionError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        # checked here, not inside a generator, so iter() itself raises for 0-d arrays
        if not self.shape:
            raise ConversionError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        s = repr(self.asnumpy())
        if "dtype=" in s:
            if self.dtype == _dt.default_float:
                s = s[:s.rindex(",")] + ")"
        elif self.dtype not in (_dt.default_float, _dt.bool_):
            s = s[:-1] + f", dtype={self.dtype})"
        dev = self.device
        if dev.device_type != "cpu":
            s = s[:-1] + f", device={dev})"
        return s

    def __str__(self):
        s = str(self.asnumpy())
        dev = self.device
        if dev.device_type == "cpu" or self.ndim == 0:
            return s
        return f"{s} @{dev}"

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __reduce__(self):
        return (_ops.array, (self.asnumpy(),))

    # --- copies and conversions --------------------------------------------------------------
    def copy(self):
        return _ops.copy(self)

    def astype(self, dtype, copy=True):
        dtype = _dt.as_dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        return _ops.astype(self, dtype)

    def copyto(self, other):
        """Copy into another array (``other``) or onto a device; returns the copy."""
        if isinstance(other, ndarray):
            if other.shape != self.shape:
                raise _ops.ShapeError(f"copyto: shape {self.shape} does not match the "
                                      f"destination's {other.shape}")
            _ops.assign(other, self)
            return other
        return _ops.to_device(self, other)

    def to_device(self, device, stream=None):
        if stream is not None:      # the Array API's keyword; each device has one queue
            raise ArgumentError(f"to_device: clgrad has no streams (got stream={stream!r})")
        return _ops.to_device(self, device)

    as_in_context = as_in_ctx = to_device

    def as_np_ndarray(self):
        return self

    def wait_to_read(self):
        self.device.synchronize()

    # --- views and shape (recorded by autograd where they are differentiable) ----------------
    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _ops.reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _ops.transpose(self, axes or None)

    def swapaxes(self, a, b):
        return _ops.swapaxes(self, a, b)

    def flatten(self, order="C"):
        return _ops.reshape(_ops.copy(self) if not self._is_c_contiguous() else self, (-1,))

    def ravel(self, order="C"):
        return _ops.reshape(self, (-1,))

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    def __setitem__(self, key, value):
        _ops.setitem(self, key, value)

    # --- autograd (attach_grad, grad, grad_req and backward come from clgrad.autograd) ---
    def drop_grad(self):
        self._ag_node = None

    def detach(self):
        return self._view(self.shape, self._strides, self._offset)

    # --- reductions and other methods -------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False):
        return _ops.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _ops.mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _ops.prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _ops.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _ops.any(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, out=None, keepdims=False):
        return _ops.argmax(self, axis=axis, out=out, keepdims=keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return _ops.argmin(self, axis=axis, out=out, keepdims=keepdims)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _ops.std(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _ops.var(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis=None, dtype=None, out=None):
        return _ops.cumsum(self, axis=axis, dtype=dtype, out=out)

    def cumprod(self, axis=None, dtype=None, out=None):
        return _ops.cumprod(self, axis=axis, dtype=dtype, out=out)

    # MXNet's fluent methods (d2l calls x.repeat, scores.argsort(), ...); MXNet's ndarray.sort
    # raises a TypeError (its body is `raise sort(...)`) and is left out
    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis=axis)

    def argsort(self, axis=-1, kind=None, order=None):
        return _ops.argsort(self, axis=axis, kind=kind, order=order)

    def take(self, indices, axis=None, mode="raise"):
        return _ops.take(self, indices, axis=axis, mode=mode)

    def nonzero(self):
        return _ops.nonzero(self)

    def dot(self, b, out=None):
        return _ops.dot(self, b, out=out)

    # --- the Python Array API standard: __array_namespace__, __dlpack__ and __dlpack_device__
    # come from clgrad.array_api
    @property
    def mT(self):
        """The matrix transpose of a stack of matrices (swaps the last two axes)."""
        return _ops.swapaxes(self, -1, -2)

    def clip(self, min=None, max=None, out=None):  # noqa: A002  (NumPy's and MXNet's names)
        return _ops.clip(self, min, max, out=out)

    def round(self, decimals=0):
        return _ops.round(self, decimals)

    def abs(self):
        return _ops.abs(self)

    @property
    def real(self):
        """The real part (a writable view for complex arrays, as in NumPy)."""
        return _ops.real(self)

    @property
    def imag(self):
        """The imaginary part (a writable view for complex arrays, as in NumPy)."""
        return _ops.imag(self)

    def conj(self):
        return _ops.conjugate(self)

    conjugate = conj

    def sqrt(self):
        return _ops.sqrt(self)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    # --- operators -------------------------------------------------------------------------
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.subtract(self, o)
    def __rsub__(self, o): return _ops.subtract(o, self)
    def __mul__(self, o): return _ops.multiply(self, o)
    def __rmul__(self, o): return _ops.multiply(o, self)
    def __truediv__(self, o): return _ops.true_divide(self, o)
    def __rtruediv__(self, o): return _ops.true_divide(o, self)
    def __floordiv__(self, o): return _ops.floor_divide(self, o)
    def __rfloordiv__(self, o): return _ops.floor_divide(o, self)
    def __mod__(self, o): return _ops.mod(self, o)
    def __rmod__(self, o): return _ops.mod(o, self)
    def __pow__(self, o, m=None): return _ops.power(self, o)
    def __rpow__(self, o): return _ops.power(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __and__(self, o): return _ops.bitwise_and(self, o)
    def __rand__(self, o): return _ops.bitwise_and(o, self)
    def __or__(self, o): return _ops.bitwise_or(self, o)
    def __ror__(self, o): return _ops.bitwise_or(o, self)
    def __xor__(self, o): return _ops.bitwise_xor(self, o)
    def __rxor__(self, o): return _ops.bitwise_xor(o, self)
    def __lshift__(self, o): return _ops.left_shift(self, o)
    def __rlshift__(self, o): return _ops.left_shift(o, self)
    def __rshift__(self, o): return _ops.right_shift(self, o)
    def __rrshift__(self, o): return _ops.right_shift(o, self)
    def __eq__(self, o): return _ops.equal(self, o)
    def __ne__(self, o): return _ops.not_equal(self, o)
    def __lt__(self, o): return _ops.less(self, o)
    def __le__(self, o): return _ops.less_equal(self, o)
    def __gt__(self, o): return _ops.greater(self, o)
    def __ge__(self, o): return _ops.greater_equal(self, o)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return _ops.positive(self)
    def __abs__(self): return _ops.absolute(self)
    def __invert__(self): return _ops.invert(self)

    def __iadd__(self, o): return _ops.inplace(_ops.add, self, o)
    def __isub__(self, o): return _ops.inplace(_ops.subtract, self, o)
    def __imul__(self, o): return _ops.inplace(_ops.multiply, self, o)
    def __itruediv__(self, o): return _ops.inplace(_ops.true_divide, self, o)
    def __ifloordiv__(self, o): return _ops.inplace(_ops.floor_divide, self, o)
    def __imod__(self, o): return _ops.inplace(_ops.mod, self, o)
    def __ipow__(self, o): return _ops.inplace(_ops.power, self, o)
    def __iand__(self, o): return _ops.inplace(_ops.bitwise_and, self, o)
    def __ior__(self, o): return _ops.inplace(_ops.bitwise_or, self, o)
    def __ixor__(self, o): return _ops.inplace(_ops.bitwise_xor, self, o)
    def __ilshift__(self, o): return _ops.inplace(_ops.left_shift, self, o)
    def __irshift__(self, o): return _ops.inplace(_ops.right_shift, self, o)


def _index(i):
    if isinstance(i, (bool, _np.bool_)):
        raise ConversionError("an index must be an integer, not bool")
    try:
        return operator.index(i)
    except TypeError:
        raise ConversionError(f"an index must be an integer, not {type(i).__name__}") from None
