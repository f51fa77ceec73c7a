"""Capture: what one eager run of a call did, kept as a list of events.

A ``Tracer`` is installed as the observer of the launch helper and of array storage (their
``set_observer``); the call then runs eagerly, as it always does, while the tracer keeps:

- ``Ew``: an elementwise op's record (its plan, output view, operands): what fusion works on;
- ``Launch``: any other kernel launch (kernel, geometry, argument values), opaque to fusion;
- ``Copy`` / ``Upload``: device copies (copy-on-write) and host-to-device writes.

Every storage created meanwhile is held, so no buffer is handed out twice during the capture and
a buffer's identity names one value. A read back to the host (``asnumpy``, ``item``, ``bool``)
makes the values of the call matter to its control flow: the tracer lets it happen, so the call
still gives the right answer, but marks the capture unusable, naming the op.
"""
import sys
import threading

import pyopencl as cl

from ..ndarray import storage as _storage
from ..ops import launch as _launch


class Ew:
    """One elementwise call: ``plan`` (``launch.EwPlan``) writing ``out`` from ``inputs``."""

    __slots__ = ("plan", "out", "inputs", "flat", "op", "fused")

    def __init__(self, plan, out, inputs, flat, op, fused=1):
        self.plan = plan
        self.out = out
        self.inputs = inputs
        self.flat = flat
        self.op = op            # the name the user would know it by
        self.fused = fused      # how many captured elementwise ops this one computes

    def reads(self):
        return [x._storage.buffer for x in self.inputs if hasattr(x, "_storage")]

    def writes(self):
        return [self.out._storage.buffer]


class Launch:
    """A launch of any other kernel: the arguments as they were passed (buffers and values);
    ``per_call`` is (positions, values function) for arguments drawn anew every call."""

    __slots__ = ("kernel", "glob", "local", "args", "per_call", "op", "fused", "role")

    def __init__(self, kernel, glob, local, args, per_call, op, fused=0, role=None):
        self.kernel = kernel
        self.glob = tuple(glob)
        self.local = None if local is None else tuple(local)
        self.args = list(args)
        self.per_call = per_call
        self.op = op
        self.fused = fused      # elementwise ops its kernel applies as an epilogue or prologue
        self.role = role        # "epilogue" or "prologue" where it applies them

    def buffers(self):
        return [a for a in self.args if isinstance(a, cl.MemoryObjectHolder)]

    # which arguments a kernel reads is not declared: count every buffer
    reads = buffers

    def writes(self):
        """The buffers the kernel writes: those its family declares (``Kernel.outputs``), else
        every buffer argument."""
        out = self.kernel.outputs
        if out is None:
            return self.buffers()
        return [self.args[p] for p in out]


class Copy:
    __slots__ = ("dst", "src", "nbytes")

    def __init__(self, dst, src, nbytes):
        self.dst, self.src, self.nbytes = dst, src, nbytes

    def reads(self):
        return [self.src]

    def writes(self):
        return [self.dst]


class Upload:
    __slots__ = ("buffer", "host", "offset")

    def __init__(self, buffer, host, offset):
        self.buffer, self.host, self.offset = buffer, host, offset

    def reads(self):
        return []

    def writes(self):
        return [self.buffer]


class Tracer:
    """The observer of one capture (see the module's docstring).

    ``collect=True`` is the second use: launches are only listed, not enqueued (building the
    launch list of an already computed, fused call).
    """

    def __init__(self, collect=False):
        self.thread = threading.get_ident()
        self.collect = collect
        self.events = []
        self.internal = {}      # id(buffer) -> buffer: created during the capture (held)
        self.sizes = {}         # id(buffer) -> bytes
        self.op = None          # the op running now (for messages)
        self.failed = None      # why this capture cannot be replayed, once known
        self._per_call = None
        self._in_ew = False
        self._prev = None

    # --- installing ----------------------------------------------------------------------------
    def __enter__(self):
        self._prev = (_launch.set_observer(self), _storage.set_observer(self))
        return self

    def __exit__(self, *exc):
        _launch.set_observer(self._prev[0])
        _storage.set_observer(self._prev[1])
        return False

    def _mine(self):
        return threading.get_ident() == self.thread

    # --- launch observer -----------------------------------------------------------------------
    def elementwise(self, plan, out, inputs, flat):
        if not self._mine() or self.collect:
            return False
        self.events.append(Ew(plan, out, list(inputs), flat, plan.name))
        self._in_ew = True
        try:
            plan.execute(out, inputs, flat)
        finally:
            self._in_ew = False
        return True

    def launch(self, kernel, glob, local, args):
        if not self._mine() or self._in_ew:
            return False
        self.events.append(Launch(kernel, glob, local, args, self._per_call,
                                  self.op or kernel.name))
        self._per_call = None
        return self.collect

    def per_call_args(self, positions, values):
        if self._mine():
            self._per_call = (tuple(positions), values)

    # --- storage observer ----------------------------------------------------------------------
    def allocated(self, storage):
        if not self._mine():
            return
        buf = storage.buffer
        self.internal[id(buf)] = buf
        self.sizes[id(buf)] = storage.nbytes

    def copied(self, dst, src, nbytes):
        if self._mine():
            self.internal[id(dst)] = dst
            self.sizes[id(dst)] = nbytes
            self.events.append(Copy(dst, src, nbytes))

    def uploaded(self, storage, host, offset):
        if self._mine():
            self.events.append(Upload(storage.buffer, host.copy(), offset))

    def downloaded(self, storage):
        if self._mine() and self.failed is None:
            self.failed = (_api_name() or self.op or "a read of array values",
                           "it reads array values back to the host (asnumpy, item, bool, "
                           "printing, or a result whose shape depends on the data)")

    def note_op(self, name):
        if self._mine():
            self.op = name


def _api_name():
    """The clgrad function the caller's code called that is running now (the outermost clgrad
    frame on the stack, outside the hybrid and gluon layers): the op to name in messages."""
    f = sys._getframe(2)
    name = None
    while f is not None:
        mod = f.f_globals.get("__name__", "")
        if mod.startswith("clgrad.") and not mod.startswith(("clgrad.hybrid", "clgrad.gluon")):
            name = f.f_code.co_name
        elif name is not None:
            break
        f = f.f_back
    return name
