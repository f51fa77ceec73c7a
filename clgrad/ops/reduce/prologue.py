"""Elementwise prologues of the reduction family: an elementwise op computed at each element a
reduction's first stage reads, instead of read from memory (``(x - m) ** 2`` summed for a
variance, a negation averaged for a loss). Built by clgrad.hybrid's fusion; this module owns
how a reduction launch's arguments are laid out, so the caller never parses them.
"""
import numpy as _np

from ... import dtypes as dt
from .. import launch


class Prologue:
    """The value a reduction reads at each element, computed: ``operands`` (``render.Operand``,
    arrays read at the element's place and scalars), ``lets`` and ``expr`` over ``w0, w1, ...``
    (the operands) and ``u0, u1, ...`` (the lets), and the ``helpers`` they call. ``expr`` gives
    the value in the compute type of the dtype the reduction reads (any store-and-load
    conversion already applied). The first array operand takes the reduction's own source
    arguments; every other operand is passed after the kernel's arguments: an array as its
    buffer, offset and strides along the outer then inner dimensions, a scalar as its value."""

    def __init__(self, operands, lets, expr, helpers):
        self.operands, self.lets, self.expr, self.helpers = \
            tuple(operands), tuple(lets), expr, helpers
        arrays = [i for i, o in enumerate(self.operands) if o.is_array]
        if not arrays:
            raise ValueError("a reduction prologue reads at least one array")
        self.first = arrays[0]
        self.key = (tuple((o.is_array, o.dtype, o.compute) for o in self.operands), self.lets,
                    expr, helpers)
        self.fp64 = any(o.compute.startswith("double") or o.dtype == dt.float64
                        for o in self.operands) or \
            any(t.startswith("double") for t, _ in self.lets)

    def extra(self):
        """The positions of the operands passed after the kernel's own arguments."""
        return [i for i in range(len(self.operands)) if i != self.first]

    def function(self, s_type):
        """The OpenCL C function computing the value (``pro_value``, one parameter per
        operand in order)."""
        params = ", ".join(f"const {o.compute} w{i}" for i, o in enumerate(self.operands))
        body = [f"const {t} u{k} = ({t})({e});" for k, (t, e) in enumerate(self.lets)]
        body.append(f"return ({s_type})({self.expr});")
        return "\n".join([self.helpers or "", f"static {s_type} pro_value({params}) {{"] +
                         ["    " + b for b in body] + ["}"])

    def arg_dtypes(self, outer_nd, inner_nd):
        out = []
        for i in self.extra():
            o = self.operands[i]
            out += [None, _np.int64] + [_np.int64] * (outer_nd + inner_nd) if o.is_array else \
                [launch.scalar_np_dtype(o.compute)]
        return out


class PrologueSite:
    """What a reduction's first-stage launch offers for a prologue (``Kernel.prologue``).

    ``build(prologue, inner_unit, outer_nd, inner_nd)`` gives (kernel, work-group size) of the
    same kernel computing its source with the prologue over that many dimensions
    (``inner_unit``: the first array operand's inner stride is 1); the layout it was made for:
    ``outer_nd`` and ``inner_nd`` collapsed dimensions and the ``mode`` ("serial", "group" or
    "cols"); ``kind`` and ``out_dtype`` say what it computes."""

    __slots__ = ("build", "outer_nd", "inner_nd", "mode", "kind", "out_dtype")

    def __init__(self, build, outer_nd, inner_nd, mode, kind, out_dtype):
        self.build, self.outer_nd, self.inner_nd, self.mode = build, outer_nd, inner_nd, mode
        #: the reduction kind, and the dtype of the results when this launch writes them (one
        #: stage: None for a first stage whose partial results a second combines)
        self.kind, self.out_dtype = kind, out_dtype

    def source(self, args):
        """(buffer, element offset, (dims, outer)) of what a launch with these arguments
        reads: dims are (size, stride) per collapsed dimension, the ``outer`` ones (one per
        output place) first, then the inner (reduced) ones."""
        dims = [(args[7 + 2 * d], args[8 + 2 * d])
                for d in range(self.outer_nd + self.inner_nd)]
        return args[0], args[1], (dims, self.outer_nd)

    def fuse(self, args, glob, local, prologue, sizes, outer, first, operands):
        """(kernel, arguments, global size, local size) of the launch computing its source
        with ``prologue``, or None where its layout cannot. The dimensions are ``sizes`` (the
        first ``outer`` of them outer): the launch's own, or some split further, as the
        operands' strides need. ``first`` is (buffer, offset, strides per dimension) of the
        first array operand; ``operands`` the others in order, as such a triple for an array
        and the value (of its compute type's kind) for a scalar."""
        nd = self.outer_nd + self.inner_nd
        inner = len(sizes) - outer
        if self.mode == "cols" and (inner != 1 or
                                    sizes[outer - 1] != args[7 + 2 * (self.outer_nd - 1)]):
            return None     # the row layout: one inner dimension, blocks along the last outer
        buf, off, strides = first
        kernel, wg = self.build(prologue, inner == 1 and strides[-1] == 1, outer, inner)
        new = [buf, off] + list(args[2:7])
        for n, st in zip(sizes, strides):
            new += [n, st]
        new += list(args[7 + 2 * nd:])
        for x in operands:
            if isinstance(x, tuple):
                new += [x[0], x[1]] + list(x[2])
            else:
                new.append(x)
        if self.mode == "group":
            # a group kernel's size is its tree's: the rebuilt one may have had to shrink
            glob, local = (glob[0] // local[0] * wg,), (wg,)
        else:
            # glob is a multiple of local, a power of two: halving keeps it one
            lo = local[0]
            while lo > kernel.local:
                lo //= 2
            local = (lo,)
        return kernel, new, glob, local


__all__ = ["Prologue", "PrologueSite"]
