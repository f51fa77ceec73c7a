"""Gluon's Block and HybridBlock (MXNet 2.x): children and parameters registered by attribute
assignment, structural names ('0.weight', 'features.1.bias'), deferred shape inference at the
first forward, hooks, and parameter files in MXNet's format.

``HybridBlock.hybridize()`` hands the block's calls to ``clgrad.hybrid``: captured per input
signature, fused, replayed as prepared launches (a plain Block passes it on to its children).
"""
import re
from collections import OrderedDict

import numpy as _np

from .. import npx
from ..base import MXNetError, UnsupportedError
from ..hybrid import Hybridized, capturing
from ..ndarray import ndarray
from .parameter import DeferredInitializationError, Parameter, ParameterDict, ParameterError

__all__ = ["Block", "HybridBlock", "BlockError"]


class BlockError(MXNetError, TypeError):
    """A block built or called wrongly (an attribute changing type, an uninferable shape)."""


class _HookHandle:
    """Returned by ``register_forward_hook``: ``detach()`` removes the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def detach(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


class Block:
    """The base of every layer and model: implement ``forward``; assign child blocks and
    Parameters as attributes and they are registered under the attribute's name."""

    def __init__(self):
        object.__setattr__(self, "_children", OrderedDict())
        object.__setattr__(self, "_reg_params", ParameterDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_active", False)

    # --- registration ------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_children" not in self.__dict__:
            raise BlockError(f"{type(self).__name__}: call super().__init__() before assigning "
                             f"attribute '{name}'")
        old = self.__dict__.get(name)
        if old is not None and isinstance(old, (Block, Parameter)) and \
                not isinstance(value, type(old)) and value is not None:
            raise BlockError(f"Changing attribute type for {name} from {type(old)} to "
                             f"{type(value)} is not allowed.")
        if isinstance(value, Block):
            self.register_child(value, name)
        elif isinstance(value, Parameter):
            self._reg_params[name] = value
        elif value is None:
            self._children.pop(name, None)
            self._reg_params.pop(name, None)
        object.__setattr__(self, name, value)

    def register_child(self, block, name=None):
        """Register ``block`` as a child (named by its position when ``name`` is None)."""
        if name is None:
            name = str(len(self._children))
        self._children[name] = block

    @property
    def params(self):
        """This block's own parameters (not its children's), by attribute name: the block's
        own dict, as in MXNet, so ``params.get(name, shape=...)`` registers what it creates."""
        return self._reg_params

    def collect_params(self, select=None):
        """Every parameter of this block and its descendants by structural name; ``select`` is a
        regular expression the whole name must match from its start (MXNet's ``re.match``)."""
        pattern = re.compile(select) if select is not None else None
        # a shared parameter appears under each of its names, as in MXNet
        return ParameterDict((name, p) for name, p in self._collect("")
                             if pattern is None or pattern.match(name))

    def _collect(self, prefix):
        for name, p in self._reg_params.items():
            yield prefix + name, p
        for name, child in self._children.items():
            yield from child._collect(prefix + name + ".")

    # --- whole-tree operations ----------------------------------------------------------------
    def initialize(self, init=None, device=None, verbose=False, force_reinit=False, ctx=None):
        """Initialize every parameter (``init``: the default initializer, Uniform if None)."""
        self.collect_params().initialize(init, device if device is not None else ctx,
                                         verbose, force_reinit)

    def zero_grad(self):
        self.collect_params().zero_grad()

    def reset_device(self, device):
        self.collect_params().reset_device(device)

    reset_ctx = reset_device

    def cast(self, dtype):
        for child in self._children.values():
            child.cast(dtype)
        for p in self._reg_params.values():
            p.cast(dtype)

    def apply(self, fn):
        """Call ``fn`` on every child (depth first) and then on this block; returns self."""
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def hybridize(self, active=True, **kwargs):
        """Hybridize every HybridBlock below (a plain Block itself runs eagerly, as in MXNet)."""
        object.__setattr__(self, "_active", bool(active))
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    # --- hooks ----------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook):
        """``hook(block, inputs)`` before each forward; returns a handle with ``detach()``."""
        h = _HookHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    def register_forward_hook(self, hook):
        """``hook(block, inputs, outputs)`` after each forward; returns a handle."""
        h = _HookHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    # --- calling ----------------------------------------------------------------------------
    # How many leading inputs must be arrays: clgrad's own layers and losses say so (a user's
    # block may take anything), and such an input that is not an array (clgrad's, or NumPy's,
    # which the ops convert) is refused here by its position rather than deep inside.
    _array_inputs = 0

    def __call__(self, *args, **kwargs):
        for i, x in enumerate(args[:self._array_inputs]):
            if not isinstance(x, (ndarray, _np.ndarray)):
                raise BlockError(f"{type(self).__name__}: input {i} must be an array, not "
                                 f"{type(x).__name__}")
        for hook in list(self._forward_pre_hooks.values()):
            hook(self, args)
        self._finish_deferred(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            hook(self, args, out)
        return out

    def _finish_deferred(self, args):
        """At a forward with parameters still waiting for their shape: infer it from the
        inputs (``infer_shape``), then create and fill them."""
        pending = [p for p in self._reg_params.values() if p._deferred is not None]
        if not pending:
            return
        if any(p.shape is None or any(n <= 0 for n in p.shape) for p in pending):
            self.infer_shape(*args)
        for p in pending:
            try:
                p._finish_deferred_init()
            except DeferredInitializationError:
                raise BlockError(f"{type(self).__name__}: the shape {p.shape} of parameter "
                                 f"'{p.name}' is still unknown after infer_shape; give the full "
                                 "shape (in_units, in_channels, ...)") from None

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def infer_shape(self, *args):
        """Fill in the unknown dimensions of this block's parameters from the inputs; layers
        with deferred shapes override it."""
        unknown = [p.name for p in self._reg_params.values()
                   if p.shape is None or any(n <= 0 for n in p.shape)]
        raise BlockError(f"{type(self).__name__} has parameters of unknown shape {unknown} and "
                         "does not implement infer_shape; give their full shapes")

    # --- parameter files ----------------------------------------------------------------------
    def save_parameters(self, filename, deduplicate=False):
        """Write every parameter to ``filename`` in MXNet's parameter file format, under its
        structural name (atomic: a temporary file renamed)."""
        arrays = {}
        seen = {}
        for name, p in self._collect(""):
            if deduplicate and id(p) in seen:
                continue
            seen[id(p)] = name
            arrays[name] = p.data().detach()
        npx.save(filename, arrays)

    def load_parameters(self, filename, device=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current", ctx=None):
        """Read ``filename`` into this block's parameters. Everything is checked before any
        parameter changes: a missing or extra name (unless allowed) or a shape that does not fit
        raises ``ParameterError`` naming the parameter, and the network is left as it was."""
        loaded = npx.load(filename)
        if not isinstance(loaded, dict):
            raise ParameterError(f"load_parameters: '{filename}' holds unnamed arrays, not "
                                 "parameters")
        params = self.collect_params()
        if not allow_missing:
            for name in params:
                if name not in loaded:
                    raise ParameterError(
                        f"Parameter '{name}' is missing in 'file: {filename}', which contains "
                        f"parameters: {sorted(loaded)}. Set allow_missing=True to ignore "
                        "missing parameters." + _prefixed_names_hint(loaded, params))
        if not ignore_extra:
            for name in loaded:
                if name not in params:
                    raise ParameterError(
                        f"Parameter '{name}' loaded from 'file: {filename}' is not present in "
                        f"this block, which contains parameters {sorted(params)}. Set "
                        "ignore_extra=True to ignore.")
        plan = []
        for name, p in params.items():
            if name not in loaded:
                continue
            arr = loaded[name]
            if p.shape is not None and (len(p.shape) != arr.ndim or any(
                    k > 0 and k != n for k, n in zip(p.shape, arr.shape))):
                raise ParameterError(f"Failed loading Parameter '{name}' from saved params: "
                                     f"shape incompatible expected {p.shape} vs saved "
                                     f"{arr.shape}")
            if arr.dtype != p.dtype:
                if not cast_dtype:
                    raise ParameterError(f"Failed loading Parameter '{name}' from saved params: "
                                         f"dtype incompatible expected {p.dtype} vs saved "
                                         f"{arr.dtype}. Set cast_dtype=True to cast the dtype "
                                         "of saved params.")
                if dtype_source == "current":
                    arr = arr.astype(p.dtype)
            plan.append((p, arr))
        dev = device if device is not None else ctx
        for p, arr in plan:
            if arr.dtype != p.dtype:
                p.cast(arr.dtype)
            if p._data is None:
                p.shape = arr.shape
                if dev is not None or not p.list_device():
                    p.reset_device(dev if dev is not None else arr.device)
            p.set_data(arr)

    # --- display ------------------------------------------------------------------------------
    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        if len(lines) == 1:
            return f"{type(self).__name__}()"
        return "\n".join(lines + [")"])

    def summary(self, *inputs):
        """Print each block's output shape and parameter count for a forward on ``inputs``."""
        rows = []

        def hook(block, args, out):
            shape = out.shape if hasattr(out, "shape") else [o.shape for o in out]
            n = sum(int(_prod(p.shape)) for p in block._reg_params.values())
            rows.append((type(block).__name__, shape, n))
        handles = []
        self.apply(lambda b: handles.append(b.register_forward_hook(hook)))
        try:
            self(*inputs)
        finally:
            for h in handles:
                h.detach()
        total = sum(int(_prod(p.shape)) for p in self.collect_params().values())
        width = 64
        print("-" * width)
        print(f"{'Layer (type)':<28}{'Output Shape':<24}{'Param #':>12}")
        print("=" * width)
        print(f"{'Input':<28}{str([tuple(x.shape) for x in inputs]):<24}{0:>12}")
        for name, shape, n in rows:
            print(f"{name:<28}{str(shape):<24}{n:>12}")
        print("=" * width)
        print(f"Parameters in forward computation graph, duplicate included\n"
              f"   Total params: {total}")
        print("-" * width)


def _prefixed_names_hint(loaded, params):
    """What to say when a file names parameters as MXNet 1.x's ParameterDict.save and export do
    ('dense0_weight': the layers' name scopes), which no structural name can match."""
    if any("." in n for n in loaded) or not any("." in n for n in params) or \
            any(n in params for n in loaded):
        return ""
    return (" Its names are MXNet 1.x's prefixed names (ParameterDict.save, export), which name "
            "layers by creation order; load_parameters reads the structural names "
            "('0.weight') that save_parameters writes, in MXNet 1.9.1 and 2.x alike.")


def _prod(shape):
    n = 1
    for k in shape or ():
        n *= k
    return n


class HybridBlock(Block):
    """A Block whose forward is written with ``np``/``npx`` operations only, so that
    ``hybridize()`` can capture it: the first call per input signature runs eagerly and is
    captured (forward, and inside ``autograd.record()`` its backward), later calls replay fused
    kernels as prepared launches. Python control flow is captured as taken; a forward that
    reads array values on the host runs eagerly, with one ``HybridizeWarning`` naming the op."""

    def hybridize(self, active=True, static_alloc=False, static_shape=False, **kwargs):
        """Capture this block's calls (``active=False`` returns to eager calls). Intermediates
        live in an arena planned by liveness: with ``static_alloc=True`` each captured graph
        keeps its own between calls; else the graphs of a device share one, as large as the
        largest needs, so memory does not grow with the number of graphs. A new input shape
        always captures a new graph, which ``static_shape`` only promises not to need."""
        super().hybridize(active, static_alloc=static_alloc, static_shape=static_shape,
                          **kwargs)
        h = Hybridized(lambda *a: Block.__call__(self, *a), self._hybrid_params,
                       type(self).__name__, static_alloc) if active else None
        object.__setattr__(self, "_hybrid", h)

    def __call__(self, *args, **kwargs):
        h = self.__dict__.get("_hybrid")
        if h is None or kwargs or capturing():
            return super().__call__(*args, **kwargs)
        return h(*args)

    def _hybrid_params(self):
        """The arrays of every parameter below, or None while one is not initialized (that
        call runs eagerly and finishes it)."""
        arrays = []
        seen = set()
        for p in self.collect_params().values():
            if p._data is None:
                return None
            for a in p.list_data():
                if id(a) not in seen:
                    seen.add(id(a))
                    arrays.append(a)
        return arrays

    def describe_captured(self):
        """The captured graphs of this hybridized block: op counts before and after fusion,
        launches per call, the arena, and the source of every fused kernel."""
        h = self.__dict__.get("_hybrid")
        if h is None:
            return f"{type(self).__name__} is not hybridized"
        return h.describe()

    def infer_type(self, *args):
        """Parameters take their declared dtypes; nothing to infer eagerly."""

    def export(self, path, epoch=0, remove_amp_cast=True):
        raise UnsupportedError("HybridBlock.export writes MXNet's symbol JSON, which clgrad's "
                               "captured graphs (OpenCL launches) have no form of; "
                               "save_parameters writes the weights, describe_captured() shows "
                               "the captured graph")
