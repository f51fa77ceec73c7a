"""Arenas: arrays of one dtype packed back to back in one device buffer.

The Trainer keeps each group of parameters (weights, gradients, every optimizer state) in
arenas of one shared layout, so that one kernel launch can update the whole group
(``optimizer.fused``). Each packed array is a view of the arena's buffer with a storage of its
own that delegates the buffer (and its copy-on-write state) to the arena but keeps its own
version counter: a write into one parameter's gradient (backward) then marks that parameter
alone, which is how the Trainer tells fresh gradients from stale ones, and autograd's check of
saved arrays sees only writes into the array it saved.
"""
from .. import dtypes as _dt
from ..ndarray import Storage, ndarray
from ..ndarray.ndarray import c_strides
from ..ops.core import copy_into, zeros

__all__ = ["Arena", "ALIGN", "arena_of"]

#: every packed array starts at a multiple of this many elements (256 bytes for float32: whole
#: cache lines and aligned vector loads on every device)
ALIGN = 64


class _PackedStorage(Storage):
    """The storage of one array packed in an arena: the arena storage's buffer, size and
    copy-on-write state (so every packed array follows the arena when a write makes the buffer
    its own), with a version counter of its own."""

    __slots__ = ("arena",)

    def __init__(self, arena_storage):     # (Storage.__init__ would allocate)
        self.arena = arena_storage
        self.device = arena_storage.device
        self.version = 0

    buffer = property(lambda s: s.arena.buffer,
                      lambda s, b: setattr(s.arena, "buffer", b))
    nbytes = property(lambda s: s.arena.nbytes,
                      lambda s, n: setattr(s.arena, "nbytes", n))
    shared = property(lambda s: s.arena.shared,
                      lambda s, v: setattr(s.arena, "shared", v))

    def share(self):
        return self.arena.share()

    def prepare_write(self):
        self.arena.prepare_write()


def _size(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


class Arena:
    """Arrays of ``shapes`` packed in one zero-filled buffer of ``dtype`` on ``device``.

    ``offsets[i]`` is where array i starts (in elements, a multiple of ``ALIGN``), ``flat`` the
    whole buffer as one 1-D array (padding included), ``views[i]`` array i.
    """

    def __init__(self, shapes, dtype, device):
        self.dtype = _dt.as_dtype(dtype)
        self.device = device
        self.shapes = [tuple(int(d) for d in s) for s in shapes]
        self.sizes = [_size(s) for s in self.shapes]
        self.offsets = []
        end = 0
        for n in self.sizes:
            self.offsets.append(end)
            end += (n + ALIGN - 1) // ALIGN * ALIGN
        self.flat = zeros((max(end, 1),), dtype=self.dtype, device=device)
        self.storage = self.flat._storage
        self.views = [ndarray._make(_PackedStorage(self.storage), shape, c_strides(shape), off,
                                    self.dtype)
                      for shape, off in zip(self.shapes, self.offsets)]

    @classmethod
    def pack(cls, arrays, dtype=None):
        """A new arena holding copies of ``arrays`` (one device; cast to ``dtype`` if given)."""
        arrays = list(arrays)
        arena = cls([a.shape for a in arrays], dtype or arrays[0].dtype, arrays[0].device)
        for view, a in zip(arena.views, arrays):
            copy_into(view, a)
        return arena

    def like(self, dtype=None):
        """A zero-filled arena of the same layout (of ``dtype``, default this one's)."""
        return Arena(self.shapes, dtype or self.dtype, self.device)


def arena_of(array):
    """The arena storage behind ``array`` when it is packed, else None."""
    st = array._storage
    return st.arena if type(st) is _PackedStorage else None
