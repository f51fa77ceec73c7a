"""Tunable kernel families: what the tuner searches, and how it runs and checks one candidate.

A family is a ``Tunable``: its search space (parameters, value lists, constraints), its safe
default, how a problem size is written and bucketed, the device resources a configuration needs
(work-group size, local memory: the tuner checks them against the device itself), and how to set
up a problem, compile and run a candidate, and verify the result.

``elementwise`` times the runtime's own flat elementwise kernel (``clgrad.ops.launch``) on
``alpha * x + y``, built with each candidate's stream parameters, which the runtime's flat path
then reads (``launch.stream_params``). ``matmul``, ``reduce`` and ``softmax`` are adapters over
the op modules that own those kernels. An op module makes its family tunable by declaring, at
module level::

    TUNABLE = {
        "kernel": "matmul",                 # the name its runtime passes to params_for
        "params": {"TS": [8, 16, 32], ...},  # ordered value lists
        "constraints": ["TS % VW == 0"],     # expressions or callables(params) -> bool
        "default": {"TS": 16, ...},          # what it uses when nothing is tuned
        "local_size": "TS * TS",             # optional: work-items per group (expr or callable)
        "local_mem": "2 * TS * TS * ITEMSIZE",  # optional: bytes of local memory
        "size_key": callable(*size) -> str,  # optional: the runtime's size bucket
    }

(``TUNABLES = {kernel: spec}`` declares several; more optional entries are listed on
``_OpTunable``.) The adapter then runs either the spec's ``run`` / the module's
``<family>_with_params(*inputs, params)`` or, without one, the public op inside
``db.override(kernel, params)``; in that case it checks that the op really asked ``params_for``
for ``kernel`` and otherwise stops with a message saying what the module lacks. An exception
that means "these parameters do not fit this device" is recorded as such when it has
``does_not_fit = True`` or its class name contains ``NoFit``.

Registering another family takes a subclass and one line: ``register(MyTunable)``.

(Why this module is longer than most: it is the registry of every tunable family, and each
family's few methods read best next to the others'.)
"""
import importlib
import math

import numpy as np
import pyopencl as cl

from .. import dtypes as dt
from ..base import MXNetError
from ..ops import launch
from . import db
from .space import SearchSpace, SearchSpaceError


class TunableUnavailable(MXNetError):
    """A kernel family cannot be tuned (yet) on this installation or device."""


def parse_count(text):
    """``"4096"``, ``"64K"``, ``"4M"`` -> int."""
    s = str(text).strip().upper()
    scale = 1
    if s and s[-1] in "KMG":
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[s[-1]]
        s = s[:-1]
    try:
        n = int(s) * scale
    except ValueError:
        raise ValueError(f"size {text!r} is not a count such as 4096, 64K or 4M") from None
    if n <= 0:
        raise ValueError(f"size {text!r} must be positive")
    return n


def parse_dims(text, ndims, fill):
    """``"512"`` or ``"256x1024"`` -> a tuple of ``ndims`` ints; ``fill(n)`` completes one int."""
    parts = [p for p in str(text).lower().replace("*", "x").split("x") if p.strip()]
    dims = tuple(parse_count(p) for p in parts)
    if len(dims) == 1 and ndims > 1:
        dims = fill(dims[0])
    if len(dims) != ndims:
        raise ValueError(f"size {text!r}: expected {ndims} dimensions like "
                         f"{'x'.join(['512'] * ndims)}")
    return dims


class Problem:
    """One problem instance on the tuner's profiling device (attributes set by the family)."""

    def __init__(self, device, dtype, size):
        self.device = device
        self.dtype = dtype
        self.size = size
        self.out = None


# --- the interface ------------------------------------------------------------------------------
class Tunable:
    """Base of every tunable family; subclasses set the class attributes and the hooks."""

    name = None              # family name (CLI) ...
    kernel = None            # ... and the kernel name the runtime passes to params_for
    description = ""
    metric_unit = "GB/s"
    dtypes = ("float32",)
    default_sizes = ()
    uses_events = True       # run() returns profiling events (else the tuner uses markers)
    precompile = True        # compile() may run in a worker thread ahead of run()

    def __init__(self, params=None, constraints=None):
        self._space_override = None
        if params is not None:
            self._space_override = SearchSpace(params, constraints or ())
        self._init_kwargs = {"params": params, "constraints": constraints}

    # identity, for rebuilding the family in a child process
    def spec(self):
        space = self._space_override.to_json() if self._space_override is not None else None
        if self._space_override is not None and space is None:
            return None
        cls = type(self)
        return {"factory": f"{cls.__module__}:{cls.__qualname__}",
                "kwargs": ({"params": space["params"], "constraints": space["constraints"]}
                           if space else {})}

    def unavailable(self):
        """None when the family can be tuned, else a message saying why not."""
        return None

    def space(self):
        if self._space_override is not None:
            return self._space_override
        return self.default_space()

    def default_space(self):
        raise NotImplementedError

    def default_params(self, device=None, dtype=None):
        """The family's safe default (the runtime's own choice when nothing is tuned)."""
        return dict(self.space().configs()[0])

    def default_for(self, device, dtype, size):
        """What the runtime uses for a problem of ``size`` when nothing is tuned (the tuner
        measures it first); ``default_params`` unless the family's choice depends on size."""
        return self.default_params(device, dtype)

    def supported_dtypes(self):
        return self.dtypes

    # sizes
    def parse_size(self, text):
        raise NotImplementedError

    def label(self, size):
        return "x".join(str(n) for n in size)

    def size_key(self, size):
        return "default"

    # device resources
    def work_group(self, params):
        """Work-items per work-group (an int, or a tuple of per-dimension sizes)."""
        return None

    def local_mem(self, params, dtype):
        """Bytes of local memory a configuration needs."""
        return 0

    def fits(self, params, caps, dtype):
        """None if ``params`` fit the device's limits, else the reason they do not."""
        return db.limits_problem(caps, self.work_group(params), self.local_mem(params, dtype))

    # running
    def setup(self, device, dtype, size, seed):
        raise NotImplementedError

    def compile(self, problem, params):
        """Build the candidate (thread-safe); returns what run() needs. Optional."""
        return None

    def compiled_kernels(self, compiled, params):
        """(cl.Kernel, work-items per group) pairs, checked against CL_KERNEL_WORK_GROUP_SIZE."""
        return ()

    def reset(self, problem):
        """Poison the output so that a candidate that writes nothing cannot pass."""

    def run(self, problem, compiled, params):
        raise NotImplementedError

    def check(self, problem):
        """None if the last run's output is right, else what is wrong."""
        raise NotImplementedError

    def metric(self, size, dtype, seconds):
        """{"gbs": ...} or {"gflops": ...} for one run of ``seconds``."""
        return {}


def _tolerance(dtype):
    return {"float16": 2e-3, "float32": 2e-5, "float64": 1e-12}.get(np.dtype(dtype).name, 0)


def _rel_l2(out, ref):
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        return math.inf
    if not np.all(np.isfinite(out)):
        return math.inf
    den = float(np.linalg.norm(ref.ravel())) or 1.0
    return float(np.linalg.norm((out - ref).ravel())) / den


# --- elementwise: the runtime's flat kernel on alpha * x + y -----------------------------------
_CANARY = 64   # elements after the output that a correct kernel never touches
_AXPY = "tune_axpy"
# an expression of operators only: on float32/float64 the flat path runs it on vectors as it
# does every arithmetic expression (vector classes "arith")
launch.VECTOR_SAFE.add(_AXPY)


def _axpy_plan(dtype):
    """The runtime's elementwise plan of ``v0 * v1 + v2`` over (scalar alpha, array x, array y)
    of ``dtype``, computed in its compute type (float for float16), as the ops compute."""
    c = np.dtype(launch.scalar_np_dtype(dt.compute_ctype(dtype)))
    return launch.ew_plan(_AXPY, "v0 * v1 + v2", dtype, ((False, None, c), (True, dtype, c),
                                                         (True, dtype, c)))


class StreamTunable(Tunable):
    """``out = alpha * x + y`` over contiguous data by the runtime's flat elementwise kernel:
    its group size (LS), elements per work-item (EPT), vector width (VW) and layout."""

    name = kernel = "elementwise"
    description = "flat elementwise kernel: group size, elements per work-item, vectors, layout"
    metric_unit = "GB/s"
    dtypes = ("float32", "float64", "float16", "int32")
    default_sizes = ("1M",)

    def default_space(self):
        # up to the runtime's own CPU layout: four vectors of 16 lanes per work-item
        return SearchSpace({"LS": [16, 32, 64, 128, 256, 512, 1024],
                            "EPT": [1, 2, 4, 8, 16, 32, 64],
                            "VW": [1, 2, 4, 8, 16],
                            "LAYOUT": ["interleaved", "blocked"]},
                           ["EPT % VW == 0"])

    def default_params(self, device=None, dtype=None):
        """What the runtime's flat path uses for ``alpha * x + y`` on ``device`` (default: the
        runtime's default device) when nothing is tuned."""
        if device is None:
            from ..runtime import default_device
            device = default_device()
        dtype = np.dtype(dtype or "float32")
        ept, vw, layout, ls = launch.builtin_stream(getattr(device, "base", device), dtype,
                                                    _axpy_plan(dtype).classes)
        return {"LS": ls, "EPT": ept, "VW": vw, "LAYOUT": layout}

    def fits(self, params, caps, dtype):
        # the device's limits, then the rule the runtime applies to what it reads back
        return super().fits(params, caps, dtype) or launch.stream_problem(params, caps, dtype)

    def parse_size(self, text):
        return (parse_count(text),)

    def size_key(self, size):
        return launch.stream_size_key(size[0])

    def work_group(self, params):
        return params["LS"]

    def setup(self, device, dtype, size, seed):
        dtype = np.dtype(dtype)
        if dtype.name not in self.dtypes:
            raise TunableUnavailable(f"the elementwise tunable supports {', '.join(self.dtypes)}, "
                                     f"not {dtype}")
        dt.check_device(dtype, device)
        (n,) = size
        rng = np.random.default_rng(seed)
        p = Problem(device, dtype, size)
        if dtype.kind == "f":
            x = rng.standard_normal(n).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            p.alpha = 1.5
            comp = np.float32 if dtype == dt.float16 else dtype
            p.ref = (np.asarray(p.alpha, comp) * x.astype(comp) + y.astype(comp)).astype(dtype)
            p.poison = np.full(n + _CANARY, np.nan, dtype)
        else:
            x = rng.integers(-1000, 1000, n).astype(dtype)
            y = rng.integers(-1000, 1000, n).astype(dtype)
            p.alpha = 3
            p.ref = (p.alpha * x.astype(np.int64) + y).astype(dtype)
            p.poison = np.full(n + _CANARY, -123456789, dtype)
        ctx = device.context
        mf = cl.mem_flags
        p.x = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=x)
        p.y = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=y)
        p.o = cl.Buffer(ctx, mf.READ_WRITE, size=p.poison.nbytes)
        p.n = n
        p.plan = _axpy_plan(dtype)
        return p

    def compile(self, problem, params):
        """The flat kernel the runtime builds with these stream parameters (a ``launch.Kernel``;
        ``KernelBuildError`` when the device cannot build it)."""
        stream = (params["EPT"], params["VW"], params["LAYOUT"], params["LS"])
        return problem.plan.kernel(problem.device, 0, launch.flat_index(problem.n), "", stream)

    def compiled_kernels(self, compiled, params):
        return [(compiled.kernel, params["LS"])]

    def reset(self, problem):
        cl.enqueue_copy(problem.device.queue, problem.o, problem.poison)

    def run(self, problem, compiled, params):
        # the flat path's arguments and geometry (``Kernel.__call__``): ceil(n / EPT)
        # work-items padded to whole groups; enqueued here to keep the profiling event
        n, local = problem.n, compiled.local
        items = -(-n // params["EPT"])
        with compiled.lock:
            compiled.kernel.set_args(problem.o, 0, problem.alpha, problem.x, 0, problem.y, 0, n)
            ev = cl.enqueue_nd_range_kernel(problem.device.queue, compiled.kernel,
                                            (-(-items // local) * local,), (local,))
        return [ev]

    def check(self, problem):
        got = np.empty_like(problem.poison)
        cl.enqueue_copy(problem.device.queue, got, problem.o, is_blocking=True)
        n = problem.n
        if got[n:].tobytes() != problem.poison[n:].tobytes():
            return "wrote past the end of the output (canary region changed)"
        res, ref = got[:n], problem.ref
        if problem.dtype.kind == "f":
            bad = ~np.isclose(res.astype(np.float64), ref.astype(np.float64),
                              rtol=_tolerance(problem.dtype), atol=_tolerance(problem.dtype))
        else:
            bad = res != ref
        if bad.any():
            i = int(np.argmax(bad))
            return (f"{int(bad.sum())} of {n} elements wrong (first at {i}: got {res[i]!r}, "
                    f"expected {ref[i]!r})")
        return None

    def metric(self, size, dtype, seconds):
        return {"gbs": 3 * size[0] * np.dtype(dtype).itemsize / seconds / 1e9}


# --- adapters over op modules -------------------------------------------------------------------
def _find_spec(module, kernels):
    """The TUNABLE spec of ``module`` for one of ``kernels`` (names), or None."""
    table = getattr(module, "TUNABLES", None)
    if isinstance(table, dict):
        for k in kernels:
            if k in table:
                return table[k]
    elif isinstance(table, (list, tuple)):
        for spec in table:
            if _get(spec, "kernel") in kernels:
                return spec
    spec = getattr(module, "TUNABLE", None)
    if spec is None:
        return None
    if _get(spec, "params") is None and isinstance(spec, dict):   # {kernel: spec}
        for k in kernels:
            if k in spec:
                return spec[k]
        return None
    kname = _get(spec, "kernel")
    return spec if kname is None or kname in kernels else None


def _get(spec, key, *alts):
    for k in (key,) + alts:
        if isinstance(spec, dict):
            if k in spec:
                return spec[k]
        elif hasattr(spec, k):
            return getattr(spec, k)
    return None


class _OpTunable(Tunable):
    """Adapter over an op module that declares TUNABLE (see the module docstring).

    Spec entries it understands besides the space: ``default`` (a dict, or a callable(device,
    dtype)), ``default_for_size`` (callable(device, dtype, *size): the runtime's default for
    that problem, when it depends on the size), ``problem`` (callable(params, device, dtype)
    -> why it cannot run, or None), ``local_size``/``work_group``, ``local_mem``
    (callable(params, itemsize) or expression), ``size_key``, ``run`` (the with-params
    function), ``make_operands`` (callable(*size, dtype, device) -> input arrays), ``dtypes``.
    """

    module_name = None
    kernels = ()                 # names the module's spec may use for this family
    with_params = None           # optional module function name taking (*inputs, params)
    precompile = False
    uses_events = False

    # subclass hooks: inputs, reference, public op
    def make_inputs(self, rng, dtype, size):
        raise NotImplementedError

    def reference(self, inputs):
        raise NotImplementedError

    def public_op(self, module, arrays):
        raise NotImplementedError

    # module and spec
    def _module(self):
        try:
            return importlib.import_module(self.module_name)
        except ImportError as e:
            raise TunableUnavailable(f"{self.name} cannot be tuned: {self.module_name} does not "
                                     f"import ({e})") from None

    def _spec(self):
        spec = getattr(self, "_cached_spec", None)
        if spec is not None:
            return spec
        mod = self._module()
        spec = _find_spec(mod, self.kernels)
        if spec is None:
            raise TunableUnavailable(
                f"{self.name} is not tunable yet: {self.module_name} does not declare TUNABLE "
                f"(a dict with 'kernel': {self.kernels[0]!r}, 'params', 'constraints', "
                "'default'); see clgrad/tune/kernels.py")
        if not isinstance(_get(spec, "params", "space", "tune_params"), dict):
            raise TunableUnavailable(f"{self.module_name}.TUNABLE has no 'params' dict of "
                                     "value lists")
        self._cached_spec = spec
        return spec

    def unavailable(self):
        try:
            self._spec()
        except TunableUnavailable as e:
            return str(e)
        return None

    @property
    def kernel(self):
        try:
            return _get(self._spec(), "kernel") or self.kernels[0]
        except TunableUnavailable:
            return self.kernels[0]

    def supported_dtypes(self):
        try:
            d = _get(self._spec(), "dtypes")
        except TunableUnavailable:
            d = None
        return tuple(d) if d else self.dtypes

    def default_space(self):
        spec = self._spec()
        try:
            return SearchSpace(_get(spec, "params", "space", "tune_params"),
                               _get(spec, "constraints", "restrictions") or ())
        except SearchSpaceError as e:
            raise TunableUnavailable(f"{self.module_name}.TUNABLE: {e}") from None

    def default_params(self, device=None, dtype=None):
        d = _get(self._spec(), "default", "defaults")
        if callable(d):
            if device is None:
                from ..runtime import default_device
                device = default_device()
            d = d(getattr(device, "base", device), np.dtype(dtype or "float32"))
        return dict(d) if d else super().default_params()

    def default_for(self, device, dtype, size):
        d = _get(self._spec(), "default_for_size")
        if callable(d):
            return dict(d(getattr(device, "base", device), np.dtype(dtype), *size))
        return self.default_params(device, dtype)

    def size_key(self, size):
        fn = _get(self._spec(), "size_key")
        return str(fn(*size)) if callable(fn) else "default"

    def work_group(self, params):
        return db.evaluate(_get(self._spec(), "local_size", "work_group"), params)

    def local_mem(self, params, dtype):
        return db.evaluate(_get(self._spec(), "local_mem"), params,
                             itemsize=np.dtype(dtype).itemsize) or 0

    def fits(self, params, caps, dtype):
        # the module's own hook (it knows its compute types and shapes), else its declared
        # work-group and local memory: the check the runtime makes of borrowed entries
        return db.declared_problem(self._spec(), params, caps, dtype)

    def setup(self, device, dtype, size, seed):
        from ..ops.core import array
        dtype = np.dtype(dtype)
        dt.check_device(dtype, device)
        p = Problem(device, dtype, size)
        spec = self._spec()
        make = _get(spec, "make_operands")
        if callable(make):   # the module's own operands (layouts as its runtime sees them)
            p.inputs = list(make(*size, dtype, device))
            host = [a.asnumpy() for a in p.inputs]
        else:
            host = self.make_inputs(np.random.default_rng(seed), dtype, size)
            p.inputs = [array(h, dtype=dtype, device=device) for h in host]
        p.ref = self.reference(host)
        p.module = self._module()
        fn = _get(spec, "run")
        if not callable(fn) and self.with_params:
            fn = getattr(p.module, self.with_params, None)
        p.fn = fn if callable(fn) else None
        return p

    def reset(self, problem):
        problem.out = None

    def run(self, problem, compiled, params):
        if problem.fn is not None:
            problem.out = problem.fn(*problem.inputs, params)
            return None
        kernel = self.kernel
        with db.override(kernel, params) as o:
            problem.out = self.public_op(problem.module, problem.inputs)
        if not o.consulted:
            raise TunableUnavailable(
                f"{self.name} is not tunable yet: {self.module_name} did not ask "
                f"params_for(device, {kernel!r}, ...) when it ran, so candidate parameters "
                "cannot reach its kernel")
        return None

    def check(self, problem):
        out = problem.out
        if out is None:
            return "the op returned nothing"
        got = out.asnumpy() if hasattr(out, "asnumpy") else np.asarray(out)
        if got.shape != problem.ref.shape:
            return f"result shape {got.shape}, expected {problem.ref.shape}"
        if problem.dtype.kind != "f":
            return None if np.array_equal(got, problem.ref) else "integer result differs"
        err = _rel_l2(got, problem.ref)
        tol = self.tolerance(problem)
        return None if err <= tol else f"relative L2 error {err:.3g} exceeds {tol:.3g}"

    def tolerance(self, problem):
        return 10 * _tolerance(problem.dtype)


class MatmulTunable(_OpTunable):
    """C = A @ B through ``clgrad.ops.linalg`` (``matmul_with_params`` and TUNABLE)."""

    name = "matmul"
    description = "tiled matrix multiply C = A @ B (clgrad.ops.linalg)"
    module_name = "clgrad.ops.linalg"
    kernels = ("matmul",)
    with_params = "matmul_with_params"
    metric_unit = "GFLOPS"
    dtypes = ("float32", "float64", "float16")
    default_sizes = ("256", "512")

    def parse_size(self, text):
        return parse_dims(text, 3, lambda n: (n, n, n))

    def make_inputs(self, rng, dtype, size):
        m, n, k = size
        return [rng.standard_normal((m, k)).astype(dtype),
                rng.standard_normal((k, n)).astype(dtype)]

    def reference(self, inputs):
        return inputs[0].astype(np.float64) @ inputs[1].astype(np.float64)

    def public_op(self, module, arrays):
        return module.matmul(*arrays)

    def tolerance(self, problem):
        return 10 * _tolerance(problem.dtype) * max(1.0, math.sqrt(problem.size[2]) / 8)

    def metric(self, size, dtype, seconds):
        m, n, k = size
        return {"gflops": 2.0 * m * n * k / seconds / 1e9}


class MatmulNTTunable(MatmulTunable):
    """C = A @ B.T with both operands contiguous along K (the linalg module's second form)."""

    name = "matmul_nt"
    description = "tiled matrix multiply C = A @ B.T, operands contiguous along K"
    kernels = ("matmul_nt",)
    default_sizes = ("256",)

    def make_inputs(self, rng, dtype, size):
        m, n, k = size
        return [rng.standard_normal((m, k)).astype(dtype),
                np.ascontiguousarray(rng.standard_normal((n, k)).astype(dtype)).T]


class ReduceTunable(_OpTunable):
    """Row sums (``sum(axis=-1)``) through ``clgrad.ops.reduce``."""

    name = "reduce"
    description = "reductions: sum over the last axis (clgrad.ops.reduce)"
    module_name = "clgrad.ops.reduce"
    kernels = ("reduce",)
    metric_unit = "GB/s"
    dtypes = ("float32", "float64", "float16", "int32")
    default_sizes = ("1x1M", "4096x256")

    def parse_size(self, text):
        return parse_dims(text, 2, lambda n: (1, n))

    def size_key(self, size):
        fn = _get(self._spec(), "size_key")
        if callable(fn):
            return str(fn(*size))
        k = size[1]   # the bucket clgrad.ops.reduce uses: by the length of one reduction
        return "small" if k < 1024 else "medium" if k < 65536 else "large"

    def make_inputs(self, rng, dtype, size):
        if np.dtype(dtype).kind == "f":
            return [rng.standard_normal(size).astype(dtype)]
        return [rng.integers(-100, 100, size).astype(dtype)]

    def reference(self, inputs):
        a = inputs[0]
        return a.astype(np.float64 if a.dtype.kind == "f" else np.int64).sum(axis=-1)

    def public_op(self, module, arrays):
        return module.sum(arrays[0], axis=-1)

    def tolerance(self, problem):
        return 10 * _tolerance(problem.dtype) * max(1.0, math.sqrt(problem.size[1]) / 8)

    def metric(self, size, dtype, seconds):
        return {"gbs": size[0] * size[1] * np.dtype(dtype).itemsize / seconds / 1e9}


class SoftmaxTunable(_OpTunable):
    """Row softmax (``softmax(axis=-1)``) through ``clgrad.ops.nn``."""

    name = "softmax"
    description = "fused softmax over the last axis (clgrad.ops.nn)"
    module_name = "clgrad.ops.nn"
    kernels = ("softmax",)
    metric_unit = "GB/s"
    dtypes = ("float32", "float64", "float16")
    default_sizes = ("1024x1024",)

    def parse_size(self, text):
        return parse_dims(text, 2, lambda n: (n, n))

    def make_inputs(self, rng, dtype, size):
        return [(3 * rng.standard_normal(size)).astype(dtype)]

    def reference(self, inputs):
        a = inputs[0].astype(np.float64)
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def public_op(self, module, arrays):
        return module.softmax(arrays[0], axis=-1)

    def metric(self, size, dtype, seconds):
        return {"gbs": 2 * size[0] * size[1] * np.dtype(dtype).itemsize / seconds / 1e9}


# --- the registry --------------------------------------------------------------------------------
FAMILIES = {}


def register(cls, name=None):
    """Make a Tunable class available to the tuner (and its CLI) under ``name``."""
    FAMILIES[name or cls.name] = cls
    return cls


def get_tunable(name, **kwargs):
    try:
        cls = FAMILIES[name]
    except KeyError:
        raise TunableUnavailable(f"unknown kernel family {name!r} (known: "
                                 f"{', '.join(sorted(FAMILIES))})") from None
    return cls(**kwargs)


register(StreamTunable)
register(MatmulTunable)
register(MatmulNTTunable)
register(ReduceTunable)
register(SoftmaxTunable)

