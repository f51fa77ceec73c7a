"""``clgrad.init``: MXNet's weight initializers (``mx.init``, ``mxnet.initializer``).

An initializer is called as ``init(desc, arr)`` and fills the clgrad array ``arr`` in place, so
the array object and every view of it keep their identity. Which value a parameter gets follows
MXNet 2.x: an ``'__init__'`` attribute on the descriptor names an initializer for that parameter
alone; otherwise the end of its name decides (``weight`` gets the initializer's own scheme,
``bias`` and ``beta`` zero, ``gamma`` one, ...). Random initializers draw from clgrad's Philox
generator on the array's device, so ``clgrad.np.random.seed(s)`` repeats them on every device.
"""
import json
import logging
import math
import re
import warnings

import numpy as _onp

from . import dtypes as _dt
from . import numpy as _np
from .base import MXNetError, ShapeError
from .ndarray import ndarray

_log = logging.getLogger(__name__)


class InitializerError(MXNetError, ValueError):
    """An unknown initializer or name pattern, or an argument out of its range."""


class InitializerTypeError(MXNetError, TypeError):
    """An argument of the wrong kind (not a name, array or initializer)."""


class InitDesc(str):
    """A parameter's name, with its attributes (``'__init__'`` names a per-parameter
    initializer) and the global initializer to fall back to; a ``str`` as in MXNet."""

    def __new__(cls, name, attrs=None, global_init=None):
        desc = super().__new__(cls, name)
        desc.attrs = dict(attrs) if attrs else {}
        desc.global_init = global_init
        return desc


# Name endings and the hook each calls, in MXNet 2.x's order (with Gluon's running_* names).
_PATTERNS = (("weight", "_init_weight"), ("bias", "_init_bias"), ("gamma", "_init_gamma"),
             ("beta", "_init_beta"), ("running_mean", "_init_zero"), ("moving_mean", "_init_zero"),
             ("running_var", "_init_one"), ("moving_var", "_init_one"), ("min", "_init_zero"),
             ("max", "_init_one"))


class Initializer:
    """Base class: subclasses implement ``_init_weight``; the other ``_init_*`` hooks give
    MXNet's fixed values and may be overridden."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Log each initialized array with ``print_func(arr)`` (default: its root mean square)."""
        self._verbose = verbose
        self._print_func = print_func or _root_mean_square
        return self

    def dumps(self):
        """JSON ``[name, kwargs]`` that ``create`` turns back into this initializer."""
        return json.dumps([type(self).__name__.lower(), self._kwargs], default=_jsonable)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"

    def __call__(self, desc, arr):
        """Fill ``arr`` in place as ``desc`` (an ``InitDesc`` or plain name) asks."""
        if not isinstance(desc, str):
            raise InitializerTypeError(f"initializer: desc must be a parameter name (str or "
                                       f"InitDesc), got {type(desc).__name__}")
        if not isinstance(arr, ndarray):
            raise InitializerTypeError(f"initializer: cannot initialize {desc}: expected a "
                                       f"clgrad array, got {type(arr).__name__}")
        if not isinstance(desc, InitDesc):
            desc = InitDesc(desc)
        if desc.global_init is None:
            desc.global_init = self
        chosen = desc.attrs.get("__init__")
        if chosen is not None and not (isinstance(chosen, str) and not chosen):
            create(chosen)._init_weight(desc, arr)
            self._verbose_print(desc, chosen, arr)
            return
        for suffix, hook in _PATTERNS:
            if desc.endswith(suffix):
                getattr(self, hook)(desc, arr)
                self._verbose_print(desc, suffix, arr)
                return
        self._init_default(desc, arr)

    def _verbose_print(self, desc, how, arr):
        if self._verbose:
            _log.info("Initialized %s as %s: %s", desc, how, self._print_func(arr))

    def _init_zero(self, _, arr):
        arr[...] = 0.0

    def _init_one(self, _, arr):
        arr[...] = 1.0

    _init_bias = _init_beta = _init_zero
    _init_gamma = _init_one

    def _init_weight(self, desc, arr):
        raise NotImplementedError(f"{type(self).__name__} does not define _init_weight "
                                  f"(needed for {desc})")

    def _init_default(self, desc, _):
        raise InitializerError(
            f"Unknown initialization pattern for {desc}. Default initialization is limited to "
            f"names ending in weight, bias, gamma (1.0), beta (0.0), running_mean/moving_mean "
            f"(0.0), running_var/moving_var (1.0), min (0.0) and max (1.0); give the parameter "
            f"its own initializer (init=...) for any other name")


def _root_mean_square(arr):
    return str(math.sqrt(float(_np.mean(_np.square(arr.astype(_dt.float32))))))


def _jsonable(value):
    # array arguments (Constant's value) are written as nested lists
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _fill_random(arr, dist, p0, p1):
    """Fill ``arr`` with draws from clgrad's generator on ``arr``'s device; arrays other than
    float64 (float16 among them) take a float32 draw, cast on assignment."""
    dtype = _dt.float64 if arr.dtype == _dt.float64 else _dt.float32
    sampler = _np.random.uniform if dist == "uniform" else _np.random.normal
    arr[...] = sampler(p0, p1, size=arr.shape, dtype=dtype, device=arr.device)


# --- registry ---------------------------------------------------------------------------------
_REGISTRY = {}


def _add(name, klass):
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise InitializerTypeError(f"register: {klass!r} is not a subclass of Initializer")
    old = _REGISTRY.get(name)
    if old is not None and old is not klass:
        warnings.warn(f"initializer {klass.__module__}.{klass.__name__} overrides "
                      f"{old.__module__}.{old.__name__} under the name {name!r}", stacklevel=3)
    _REGISTRY[name] = klass


def register(klass):
    """Class decorator: make ``klass`` (an Initializer) creatable by its lowercase name."""
    _add(klass.__name__.lower(), klass)
    return klass


def alias(*names):
    """Class decorator: make the initializer creatable under each of ``names`` as well."""
    def add_aliases(klass):
        for name in names:
            _add(name.lower(), klass)
        return klass
    return add_aliases


def create(initializer, **kwargs):
    """An initializer from an instance (returned as is), a registered name (any case;
    ``kwargs`` go to its constructor) or ``dumps()`` JSON."""
    if isinstance(initializer, Initializer):
        if kwargs:
            raise InitializerTypeError(f"create: {initializer!r} is already an initializer; "
                                       f"it takes no arguments (got {sorted(kwargs)})")
        return initializer
    if not isinstance(initializer, str):
        raise InitializerTypeError(f"create: expected an initializer, its name or its JSON, "
                                   f"got {type(initializer).__name__}")
    text = initializer.strip()
    if text.startswith("["):
        try:
            name, json_kwargs = json.loads(text)
        except ValueError:
            raise InitializerError(f"create: {initializer!r} is not an initializer's JSON "
                                   f"([name, {{arguments}}])") from None
        if not isinstance(name, str) or not isinstance(json_kwargs, dict):
            raise InitializerError(f"create: {initializer!r} is not an initializer's JSON "
                                   f"([name, {{arguments}}])")
        return create(name, **json_kwargs, **kwargs)
    klass = _REGISTRY.get(text.lower())
    if klass is None:
        raise InitializerError(f"create: unknown initializer {initializer!r}; known "
                               f"initializers: {', '.join(sorted(_REGISTRY))}")
    return klass(**kwargs)


def _choose(name, value, options):
    if value not in options:
        raise InitializerError(f"{name} must be one of {', '.join(map(repr, options))}, "
                               f"got {value!r}")
    return value


# --- initializers -----------------------------------------------------------------------------
@register
@alias("zeros")
class Zero(Initializer):
    """Weights to zero."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        arr[...] = 0.0


@register
@alias("ones")
class One(Initializer):
    """Weights to one."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        arr[...] = 1.0


@register
class Constant(Initializer):
    """Weights to ``value``: a scalar, or an array (NumPy, clgrad or nested lists) that
    broadcasts to the weight's shape."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, desc, arr):
        value = self.value
        if isinstance(value, ndarray) and value.device is not arr.device:
            value = value.to_device(arr.device)
        try:
            arr[...] = value
        except ShapeError as err:
            raise InitializerError(f"Constant cannot initialize {desc} of shape {arr.shape}: "
                                   f"{err}") from None


@register
class Uniform(Initializer):
    """Weights from U[-scale, scale]."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill_random(arr, "uniform", -self.scale, self.scale)


@register
class Normal(Initializer):
    """Weights from N(0, sigma^2)."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill_random(arr, "normal", 0.0, self.sigma)


@register
class Xavier(Initializer):
    """Glorot's scheme: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel)
    and fan_out = out * prod(kernel); scale = sqrt(magnitude / factor), factor being their
    average, fan_in or fan_out; draws from U[-scale, scale] or N(0, scale^2)."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = _choose("Xavier rnd_type", rnd_type, ("uniform", "gaussian"))
        self.factor_type = _choose("Xavier factor_type", factor_type, ("avg", "in", "out"))
        self.magnitude = float(magnitude)

    def _init_weight(self, desc, arr):
        shape = arr.shape
        if len(shape) < 2:
            raise InitializerError(f"{type(self).__name__} initializer cannot be applied to "
                                   f"{desc} of shape {shape}: it needs at least 2 dimensions")
        if arr.size == 0:
            return
        kernel = math.prod(shape[2:])
        fan_in, fan_out = shape[1] * kernel, shape[0] * kernel
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = math.sqrt(self.magnitude / factor)
        if self.rnd_type == "uniform":
            _fill_random(arr, "uniform", -scale, scale)
        else:
            _fill_random(arr, "normal", 0.0, scale)


@register
class MSRAPrelu(Xavier):
    """He's scheme for (P)ReLU layers: Gaussian Xavier with magnitude 2 / (1 + slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Orthogonal(Initializer):
    """A scaled orthogonal matrix (Saxe et al.): the weight seen as (shape[0], prod(rest)) has
    orthonormal rows or columns (whichever are fewer), times ``scale``."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = _choose("Orthogonal rand_type", rand_type, ("uniform", "normal"))

    def _init_weight(self, desc, arr):
        if arr.ndim < 1:
            raise InitializerError(f"Orthogonal initializer cannot be applied to the scalar "
                                   f"{desc}")
        if arr.size == 0:
            return
        rows, cols = arr.shape[0], arr.size // arr.shape[0]
        if self.rand_type == "uniform":
            draw = _np.random.uniform(-1.0, 1.0, size=(rows, cols), device=arr.device)
        else:
            draw = _np.random.normal(0.0, 1.0, size=(rows, cols), device=arr.device)
        # the SVD runs on the host with NumPy: initialization is rare and the matrices small
        u, _, vt = _onp.linalg.svd(draw.asnumpy().astype(_onp.float64), full_matrices=False)
        q = u if u.shape == (rows, cols) else vt
        arr[...] = (self.scale * q).reshape(arr.shape)


@register
class Bilinear(Initializer):
    """Bilinear upsampling kernels for a (.., .., height, width) deconvolution weight."""

    def __init__(self):
        super().__init__()

    def _init_weight(self, desc, arr):
        if arr.ndim != 4:
            raise InitializerError(f"Bilinear initializer needs a 4-d weight, got {desc} of "
                                   f"shape {arr.shape}")
        height, width = arr.shape[2:]
        f = math.ceil(width / 2.0)
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        x = 1 - _onp.abs(_onp.arange(width) / f - c)
        y = 1 - _onp.abs(_onp.arange(height) / f - c)
        arr[...] = _onp.broadcast_to(_onp.outer(y, x), arr.shape)


@register
class LSTMBias(Initializer):
    """An LSTM bias: zero, except the forget gate's quarter (the second of the gates i, f,
    c, o) set to ``forget_bias``."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, desc, arr):
        if arr.ndim < 1:
            raise InitializerError(f"LSTMBias cannot be applied to the scalar {desc}")
        arr[...] = 0.0
        hidden = arr.shape[0] // 4
        arr[hidden:2 * hidden] = self.forget_bias


@register
class Mixed(Initializer):
    """Per-parameter choice: the first regular expression in ``patterns`` that matches the
    start of a parameter's name picks the initializer at the same position."""

    def __init__(self, patterns, initializers):
        patterns, initializers = list(patterns), [create(i) for i in initializers]
        if len(patterns) != len(initializers):
            raise InitializerError(f"Mixed: {len(patterns)} patterns but "
                                   f"{len(initializers)} initializers")
        try:
            self.map = [(re.compile(p), i) for p, i in zip(patterns, initializers)]
        except re.error as err:
            raise InitializerError(f"Mixed: invalid pattern: {err}") from None
        super().__init__(patterns=patterns, initializers=[i.dumps() for i in initializers])

    def __repr__(self):
        pairs = ", ".join(f"{p.pattern!r}: {i!r}" for p, i in self.map)
        return f"Mixed({{{pairs}}})"

    def __call__(self, desc, arr):
        for pattern, initializer in self.map:
            if pattern.match(desc):
                initializer(desc, arr)
                return
        raise InitializerError(f"Mixed: parameter {desc} matches none of the patterns "
                               f"{[p.pattern for p, _ in self.map]}; add '.*' last for a "
                               f"default initializer")

    def _init_weight(self, desc, arr):
        # reached through an '__init__' attribute: match by name, without that attribute
        attrs = {k: v for k, v in desc.attrs.items() if k != "__init__"}
        self(InitDesc(desc, attrs, desc.global_init), arr)
