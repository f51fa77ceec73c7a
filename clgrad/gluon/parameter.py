"""Gluon's Parameter: a named array (one copy per device) with its gradient buffer, its
initializer, and a shape whose unknown dimensions (0 or -1) are filled in at the first forward
(deferred initialization, as MXNet 2.x)."""
import warnings

from .. import autograd
from .. import dtypes as _dt
from .. import init as _init
from .. import numpy as np
from ..base import MXNetError
from ..ops.args import as_flag, as_ints
from ..ops.core import resolve_device
from ..runtime import default_device

__all__ = ["Parameter", "Constant", "ParameterDict", "DeferredInitializationError",
           "ParameterError"]

_GRAD_REQS = ("write", "add", "null")


class DeferredInitializationError(MXNetError):
    """A parameter's data was asked for before its shape was known (MXNet's name)."""


class ParameterError(MXNetError, AssertionError, ValueError):
    """A parameter used wrongly: uninitialized, a shape or dtype that does not fit, a bad
    ``grad_req``. Catchable as MXNet's own categories (AssertionError, ValueError)."""


def _known(shape):
    return shape is not None and all(int(n) > 0 for n in shape)


def _as_devices(device):
    if device is None:
        return [default_device()]
    if isinstance(device, (list, tuple)):
        if not device:
            raise ParameterError("initialize: an empty list of devices")
        return [resolve_device(d) for d in device]
    return [resolve_device(device)]


class Parameter:
    """A learnable array of a Block (MXNet 2.x ``gluon.Parameter``).

    ``shape`` may leave dimensions unknown (0 or -1, MXNet 1.x and 2.x spellings) when
    ``allow_deferred_init``: ``initialize`` then waits until the owning block's first forward
    fills them in (``Block.infer_shape``).
    """

    def __init__(self, name="weight", grad_req="write", shape=None, dtype="float32",
                 lr_mult=1.0, wd_mult=1.0, init=None, allow_deferred_init=False,
                 differentiable=True, stype="default", grad_stype="default"):
        if not all(isinstance(t, str) and t == "default" for t in (stype, grad_stype)):
            raise ParameterError(f"Parameter '{name}': only dense storage is supported "
                                 f"(stype={stype!r}, grad_stype={grad_stype!r})")
        self._name = name
        self._shape = None if shape is None else (
            as_ints(shape, "shape", f"Parameter '{name}'", truncate=True))
        self.dtype = _dt.as_dtype(dtype)
        self.lr_mult = float(lr_mult)
        self.wd_mult = float(wd_mult)
        self.init = init
        self.allow_deferred_init = as_flag(allow_deferred_init, "allow_deferred_init",
                                           f"Parameter '{name}'")
        self._differentiable = as_flag(differentiable, "differentiable", f"Parameter '{name}'")
        self._grad_req = None
        self.grad_req = grad_req if differentiable else "null"
        self._data = None           # device -> ndarray, in the order of initialize's devices
        self._deferred = None       # (init, devices, default_init) while the shape is unknown

    # --- identity -----------------------------------------------------------------------------
    @property
    def name(self):
        return self._name

    def __repr__(self):
        return f"Parameter {self._name} (shape={self._shape}, dtype={self.dtype})"

    # --- shape and grad_req -------------------------------------------------------------------
    @property
    def shape(self):
        """The shape, an unknown dimension shown as -1 (MXNet's NumPy shape semantics, whether
        it was given as 0 or -1)."""
        return None if self._shape is None else tuple(-1 if n == 0 else n for n in self._shape)

    @shape.setter
    def shape(self, new_shape):
        new_shape = tuple(int(n) for n in new_shape)
        if self._shape is None:
            self._shape = new_shape
            return
        ok = len(new_shape) == len(self._shape) and all(
            old <= 0 or old == new for old, new in zip(self._shape, new_shape))
        if not ok:
            raise ParameterError(f"Parameter '{self._name}': expected shape {self._shape} is "
                                 f"incompatible with the given shape {new_shape}")
        self._shape = new_shape

    @property
    def grad_req(self):
        return self._grad_req

    @grad_req.setter
    def grad_req(self, req):
        if not isinstance(req, str) or req not in _GRAD_REQS:
            raise ParameterError(f"Parameter '{self._name}': grad_req must be one of "
                                 f"{_GRAD_REQS}, got {req!r}")
        if not self._differentiable:
            req = "null"
        if req == self._grad_req:
            return
        self._grad_req = req
        if getattr(self, "_data", None):
            for arr in self._data.values():
                self._attach(arr)

    def _attach(self, arr):
        if self._grad_req == "null":
            autograd.mark_variables([arr], [None], "null")
        else:
            arr.attach_grad(self._grad_req)

    # --- initialization ------------------------------------------------------------------------
    def initialize(self, init=None, device=None, default_init=None, force_reinit=False,
                   ctx=None):
        """Create the data on ``device`` (a device or a list; ``ctx`` is MXNet 1.x's name) and
        fill it with ``init``, else ``self.init``, else ``default_init`` (Uniform). As in MXNet,
        the one chosen fills the array whatever the parameter's name (its ``_init_weight``):
        the name patterns (``*bias`` zeros, ...) serve plain initializer calls only."""
        if self._data is not None and not force_reinit:
            warnings.warn(f"Parameter '{self._name}' is already initialized, ignoring. Set "
                          "force_reinit=True to re-initialize.", stacklevel=2)
            return
        devices = _as_devices(device if device is not None else ctx)
        if default_init is None:
            default_init = _init.Uniform()
        chosen = init if init is not None else self.init if self.init is not None \
            else default_init
        self._data = None
        if not _known(self._shape):
            if not self.allow_deferred_init:
                raise ParameterError(f"Cannot initialize Parameter '{self._name}' because it "
                                     f"has invalid shape: {self._shape}. Give its full shape "
                                     "(in_units, in_channels, ...) or let the block infer it.")
            self._deferred = (chosen, devices, default_init)
            return
        self._deferred = (chosen, devices, default_init)
        self._finish_deferred_init()

    def _finish_deferred_init(self):
        """Create and fill the data once the shape is known (the first forward)."""
        if self._deferred is None:
            return
        chosen, devices, default_init = self._deferred
        if not _known(self._shape):
            raise DeferredInitializationError(
                f"Parameter '{self._name}' has not been initialized yet because its shape "
                f"{self._shape} is unknown; run a forward pass first")
        host = np.zeros(self._shape, dtype=self.dtype, device=devices[0])
        desc = _init.InitDesc(self._name, {"__init__": chosen})
        with autograd.pause():
            _init.create(default_init)(desc, host)
        self._deferred = None
        self._set(host, devices)

    def _set(self, value, devices):
        data = {}
        for d in devices:
            arr = value.copy() if value.device is d else value.to_device(d)
            self._attach(arr)
            data[d] = arr
        self._data = data

    def _check_initialized(self):
        if self._data is not None:
            return
        if self._deferred is not None:
            raise DeferredInitializationError(
                f"Parameter '{self._name}' has not been initialized yet because initialization "
                "was deferred: its shape is known only after the first forward pass")
        raise ParameterError(f"Parameter '{self._name}' has not been initialized. Note that you "
                             "should initialize parameters and create a Trainer with "
                             "Block.collect_params() instead of Block.params because the later "
                             "does not include parameters of nested child Blocks")

    # --- data and gradients ------------------------------------------------------------------
    def _pick(self, arrays, device, what):
        if device is None:
            return next(iter(arrays.values())) if len(arrays) == 1 else \
                arrays.get(default_device(), next(iter(arrays.values())))
        dev = resolve_device(device)
        if dev not in arrays:
            raise ParameterError(f"Parameter '{self._name}' was not initialized on {dev}; its "
                                 f"{what} is on {list(arrays)}")
        return arrays[dev]

    def data(self, device=None, ctx=None):
        """The array on ``device`` (the only or the default device when omitted)."""
        self._check_initialized()
        return self._pick(self._data, device if device is not None else ctx, "data")

    def list_data(self):
        self._check_initialized()
        return list(self._data.values())

    def grad(self, device=None, ctx=None):
        self._check_initialized()
        if self._grad_req == "null":
            raise ParameterError(f"Cannot get gradient array for Parameter '{self._name}' "
                                 "because grad_req='null'")
        arr = self._pick(self._data, device if device is not None else ctx, "data")
        return arr.grad

    def list_grad(self):
        self._check_initialized()
        if self._grad_req == "null":
            raise ParameterError(f"Cannot get gradient array for Parameter '{self._name}' "
                                 "because grad_req='null'")
        return [a.grad for a in self._data.values()]

    def list_device(self):
        if self._data is None:
            return list(self._deferred[1]) if self._deferred is not None else []
        return list(self._data)

    list_ctx = list_device

    def zero_grad(self):
        if self._data is None or self._grad_req == "null":
            return
        for a in self._data.values():
            a.grad[...] = 0

    def set_data(self, data):
        """Write ``data`` into every copy (a shape different from a known one raises)."""
        data = data if hasattr(data, "asnumpy") else np.array(data, dtype=self.dtype)
        self.shape = data.shape
        if self._data is None:
            if self._deferred is not None:
                self._deferred = None
            devices = self.list_device() or [data.device]
            self._set(data.astype(self.dtype), devices)
            return
        for arr in self._data.values():
            arr[...] = data.astype(self.dtype).to_device(arr.device)

    def reset_device(self, device):
        """Move the data to ``device`` (a device or a list)."""
        devices = _as_devices(device)
        if self._data is None:
            if self._deferred is not None:
                self._deferred = self._deferred[:1] + (devices,) + self._deferred[2:]
            return
        self._set(next(iter(self._data.values())).detach(), devices)

    reset_ctx = reset_device

    def cast(self, dtype):
        """Convert data and gradient to ``dtype``."""
        self.dtype = _dt.as_dtype(dtype)
        if self._data is None:
            return
        first = next(iter(self._data.values()))
        self._set(first.detach().astype(self.dtype), list(self._data))

    def _bind(self, device, data, grad):
        """Make ``data`` (holding this parameter's values) and ``grad`` the arrays of
        ``device``: the Trainer's packed storage hands out views of one buffer per group."""
        self._check_initialized()
        dev = resolve_device(device)
        if dev not in self._data:
            raise ParameterError(f"Parameter '{self._name}' has no data on {dev}")
        if data.shape != self._shape or (grad is not None and grad.shape != self._shape):
            raise ParameterError(f"Parameter '{self._name}': buffers of shape {data.shape} do "
                                 f"not fit its shape {self._shape}")
        autograd.mark_variables([data], [grad], self._grad_req if grad is not None else "null")
        self._data[dev] = data


class Constant(Parameter):
    """A parameter that is never updated (grad_req 'null'), initialized to ``value``."""

    def __init__(self, value, name="const"):
        value = value if hasattr(value, "asnumpy") else np.array(value)
        self.value = value
        super().__init__(name=name, grad_req="null", shape=value.shape, dtype=value.dtype,
                         init=_init.Constant(value.asnumpy()), differentiable=False)

    def __repr__(self):
        return f"Constant {self._name} (shape={self._shape}, dtype={self.dtype})"


class ParameterDict(dict):
    """The parameters of a block by structural name (``collect_params``): a dict, with MXNet
    1.x's helpers that act on every parameter in it."""

    def get(self, name, default=None, **kwargs):
        """With keyword arguments, MXNet 1.x's ``get``: the parameter ``name``, created from
        them (``Parameter(name, **kwargs)``) and added when missing (d2l's BERT encoder:
        ``self.params.get('pos_embedding', shape=...)``); an existing one must agree with
        them, its unknown dimensions filled in. Without, ``dict.get``."""
        if not kwargs:
            return super().get(name, default)
        param = super().get(name)
        if param is None:
            param = self[name] = Parameter(name, **kwargs)
            return param
        for key, value in kwargs.items():
            stored = getattr(param, key, None)
            if stored is None:
                setattr(param, key, value)
            elif key == "shape" and len(value) == len(stored):
                # an unknown dimension (0 or -1) on either side takes the other's
                param.shape = tuple(n if n > 0 else o for n, o in zip(value, stored))
            elif value is not None and stored != value:
                raise ParameterError(f"Cannot retrieve Parameter '{name}' because desired "
                                     f"attribute does not match with stored for attribute "
                                     f"'{key}': desired '{value}' vs stored '{stored}'.")
        return param

    def initialize(self, init=None, device=None, verbose=False, force_reinit=False, ctx=None):
        for p in self.values():
            p.initialize(None, device if device is not None else ctx, default_init=init,
                         force_reinit=force_reinit)

    def zero_grad(self):
        for p in self.values():
            p.zero_grad()

    def reset_device(self, device):
        for p in self.values():
            p.reset_device(device)

    reset_ctx = reset_device

    def setattr(self, name, value):
        """Set attribute ``name`` (``grad_req``, ``lr_mult``, ``wd_mult``, ...) on every one."""
        for p in self.values():
            setattr(p, name, value)

    def cast(self, dtype):
        for p in self.values():
            p.cast(dtype)
