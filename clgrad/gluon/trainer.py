"""Gluon's Trainer (MXNet 2.x ``gluon.Trainer``): applies an Optimizer to a set of Parameters.

Packing. Once every trainable parameter (grad_req other than 'null') has data - at
construction, or at the first ``step`` when shapes are inferred later - the Trainer packs the
parameters of each device and dtype into arenas (``optimizer.arena``): one buffer for the
weights, one for the gradients and one per optimizer state, all of one layout, and binds each
parameter to its views (``param.data()`` and ``param.grad()`` keep their values and write
through to the arenas). An update is then one kernel launch per group (``optimizer.fused``).
A parameter whose arrays were replaced since (``cast``, ``reset_device``, a new ``grad_req``)
is packed again at the next step; states of parameters that kept their shape and dtype carry
over.

Stale gradients. MXNet marks a gradient fresh when backward writes it and stale after a step.
clgrad counts writes per array instead: each packed gradient has its own version counter, so a
gradient is fresh when anything wrote it since the last step (backward, and also a write by
the user such as ``zero_grad``, which MXNet would not count).

Several devices. ``allreduce_grads`` sums each gradient over the devices and gives every
device the sum (the arenas of one layout are summed whole, through the host between devices);
each device then applies the same update to its copy, as MXNet's 'device' kvstore does.
"""
import json
import warnings

import numpy as _np

from ..base import MXNetError
from ..ops import add, assign
from ..ops.core import copy_into, from_host
from ..runtime.files import replace_atomically
from .. import distributed, lr_scheduler
from .. import optimizer as opt
from ..optimizer import Arena, fused
from .parameter import Parameter

__all__ = ["Trainer", "DistributedTrainer", "TrainerError", "StaleGradientError",
           "StatesFileError"]

_DIST_SYNC = ("dist_sync", "dist_sync_device", "dist_device_sync")

_FORMAT = "clgrad-trainer-states"
_VERSION = 1


class TrainerError(MXNetError, AssertionError, ValueError):
    """A Trainer set up or used wrongly (MXNet fails an assertion or raises ValueError)."""


class TrainerTypeError(MXNetError, TypeError, ValueError):
    """Something that is not a Parameter where Parameters are expected."""


class StaleGradientError(MXNetError, UserWarning):
    """A parameter's gradient was not written since the last step (MXNet raises UserWarning)."""


class StatesFileError(MXNetError, ValueError):
    """A states file that cannot be read or does not fit this Trainer."""


class _Group:
    """The trainable parameters of one device and dtype, packed: their trainer indices, the
    weight and gradient arenas, and their optimizer states (in arenas of the same layout)."""

    def __init__(self, device, params, indices, weights, grads, states):
        self.device = device
        self.params = params
        self.indices = indices
        self.weights = weights
        self.grads = grads
        self.states = states

    def intact(self):
        """Whether every parameter still uses this group's arrays."""
        for p, w, g in zip(self.params, self.weights.views, self.grads.views):
            data = p._data
            if p.grad_req == "null" or data is None or data.get(self.device) is not w or \
                    w.grad is not g:
                return False
        return True


class Trainer:
    """Applies ``optimizer`` (a name, with ``optimizer_params``, or an Optimizer) to ``params``
    (a dict from ``collect_params``, taken in sorted key order, or a list; a parameter shared
    under two names counts once). ``step(batch_size)`` after ``backward`` rescales the
    gradients by 1 / batch_size, sums them over devices and updates the parameters.

    ``kvstore``: 'device', 'local' or None sum over the devices of this process;
    'dist_sync' (also 'dist_sync_device', 'dist_device_sync') also sums over the ranks of an MPI
    job (``clgrad.distributed``), so ``step`` takes the global batch size, as in MXNet; the
    parameters are broadcast from rank 0 when they are first packed. ``update_on_kvstore=True``
    and the asynchronous kvstores are not supported.
    """

    _average_ranks = False      # dist_sync sums over ranks (DistributedTrainer averages)

    def __init__(self, params, optimizer, optimizer_params=None, kvstore="device",
                 compression_params=None, update_on_kvstore=None):
        if isinstance(params, dict):
            params = [params[k] for k in sorted(params)]
        elif isinstance(params, (list, tuple)):
            params = list(params)
        else:
            raise TrainerTypeError("First argument must be a list or dict of Parameters, got "
                                   f"{type(params).__name__}.")
        self._params = []
        seen = set()
        for p in params:
            if not isinstance(p, Parameter):
                raise TrainerTypeError("First argument must be a list or dict of Parameters, "
                                       f"got list of {type(p).__name__}: {p!r}")
            if id(p) not in seen:
                seen.add(id(p))
                self._params.append(p)
        if kvstore is not None and not isinstance(kvstore, str):
            raise TrainerError(f"kvstore must be 'device', 'local' or None, got {kvstore!r}")
        self._dist = isinstance(kvstore, str) and kvstore.startswith("dist")
        if self._dist and kvstore not in _DIST_SYNC:
            raise TrainerError(f"kvstore {kvstore!r} is not supported: clgrad trains "
                               f"synchronously over MPI ({', '.join(_DIST_SYNC)})")
        if self._dist:
            distributed.init()
        if update_on_kvstore:
            raise TrainerError("update_on_kvstore=True is not supported: clgrad updates the "
                               "parameters on their devices")
        self._compression = None
        if compression_params is not None:
            kind = compression_params.get("type") if isinstance(compression_params, dict) \
                else getattr(compression_params, "name", compression_params)
            if self._dist and kind in ("fp16", "none"):
                self._compression = distributed.check_compression(kind)
            else:
                warnings.warn(f"compression_params {compression_params!r} is ignored: clgrad "
                              "compresses only gradients sent over MPI ({'type': 'fp16'} with "
                              "a dist kvstore)", stacklevel=2)
        self._kvstore = kvstore
        self._compression_params = compression_params
        self._buckets = {}          # group index -> distributed.Buckets (overlapped allreduce)
        self._update_on_kvstore = False
        if optimizer_params is not None and not isinstance(optimizer_params, dict):
            raise TrainerTypeError(f"optimizer_params must be a dict, got "
                                   f"{type(optimizer_params).__name__}")
        self._init_optimizer(optimizer, optimizer_params or {})
        self._scale = self._optimizer.rescale_grad
        self._devices = None
        self._groups = None        # device -> [_Group]
        self._consumed = {}        # (id(param), device) -> (gradient, its version at last step)
        self._pending = None       # loaded state arrays waiting for the parameters' data
        self._kept = {}            # (device, index) -> (shape, dtype, state) of past packings
        self._broadcast_done = False
        if all(p._data is not None for p in self._trainable()):
            self._pack()

    def _init_optimizer(self, optimizer, optimizer_params):
        param_dict = dict(enumerate(self._params))
        if isinstance(optimizer, opt.Optimizer):
            if optimizer_params:
                raise TrainerError("optimizer_params must be None if optimizer is an instance "
                                   "of Optimizer instead of str")
            self._optimizer = optimizer
            # not a copy: lr_mult / wd_mult changed on a parameter later still count
            self._optimizer.param_dict = param_dict
        elif isinstance(optimizer, str):
            self._optimizer = opt.create(optimizer, param_dict=param_dict, **optimizer_params)
        else:
            raise TrainerTypeError("optimizer must be an optimizer name or an Optimizer, got "
                                   f"{type(optimizer).__name__}")

    # --- learning rate ---------------------------------------------------------------------------
    @property
    def learning_rate(self):
        return self._optimizer.learning_rate

    @property
    def optimizer(self):
        return self._optimizer

    def set_learning_rate(self, lr):
        self._optimizer.set_learning_rate(lr)

    # --- packing ---------------------------------------------------------------------------------
    def _trainable(self):
        return [p for p in self._params if p.grad_req != "null"]

    def _ensure_packed(self):
        if self._groups is None or not all(g.intact() for gs in self._groups.values()
                                           for g in gs) or \
                sum(len(g.params) for g in next(iter(self._groups.values()), [])) != \
                len(self._trainable()):
            self._pack()

    def _pack(self):
        """Pack every trainable parameter into arenas (again), keeping the states of those
        that kept their shape and dtype, and whether their gradients were fresh."""
        members = [(i, p) for i, p in enumerate(self._params) if p.grad_req != "null"]
        devices = None
        for _, p in members:
            p.list_data()       # raises for a parameter that has no data yet
            devs = p.list_device()
            if devices is not None and devs != devices:
                raise TrainerError(
                    "All Parameters must be initialized on the same set of devices, but "
                    f"Parameter {p.name} is initialized on {devs} while previous Parameters "
                    f"are initialized on {devices}.")
            devices = devs
        # states outlive a parameter's time out of the groups (grad_req 'null' for a while),
        # as MXNet's updater keeps them by index
        for dev, groups in (self._groups or {}).items():
            for g in groups:
                for i, w, s in zip(g.indices, g.weights.views, g.states):
                    self._kept[(dev, i)] = (w.shape, w.dtype, s)
        old = self._kept
        self._devices = devices or []
        self._groups = {}
        for n, dev in enumerate(self._devices):
            by_dtype = {}
            for i, p in members:
                by_dtype.setdefault(p.list_data()[n].dtype, []).append((i, p))
            self._groups[dev] = [self._pack_group(n, dev, m, old) for m in by_dtype.values()]
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._apply_states(pending)
        if self._dist and not self._broadcast_done:
            # every rank starts from rank 0's parameters (and a mismatch of names or shapes
            # across ranks is found here, on every rank)
            distributed.broadcast_parameters(self._params)
            self._broadcast_done = True
        self._buckets = {}
        if self._dist and len(self._devices) == 1 and distributed.overlap_wanted():
            # each group's gradients start their allreduce during backward, in buckets
            for j, g in enumerate(self._groups[self._devices[0]]):
                b = distributed.Buckets(g.grads.flat, g.grads.views, self._average_ranks,
                                        self._compression, name=f"group {j}")
                b.bind(g.weights.views)
                self._buckets[j] = b

    def _pack_group(self, n, dev, members, old):
        """Pack ``members`` ((index, parameter) of one dtype) on ``dev``, device ``n`` of the
        parameters' list."""
        indices = [i for i, _ in members]
        params = [p for _, p in members]
        grads_before = [p.list_grad()[n] for p in params]
        weights = Arena.pack([p.list_data()[n] for p in params])
        grads = Arena.pack(grads_before)
        for p, w, g, before in zip(params, weights.views, grads.views, grads_before):
            fresh = self._fresh(p, dev, before)
            p._bind(dev, w, g)
            # the copy did not count as a write: carry the old gradient's freshness over
            self._consumed[(id(p), dev)] = (g, -1 if fresh else g._storage.version)
        states = fused.create_states(self._optimizer, indices, weights)
        for k, (i, w) in enumerate(zip(indices, weights.views)):
            prev = old.get((dev, i))
            if prev is not None and prev[0] == w.shape and prev[1] == w.dtype:
                _copy_state(states[k], prev[2])
        return _Group(dev, params, indices, weights, grads, states)

    def _fresh(self, p, dev, grad):
        seen = self._consumed.get((id(p), dev))
        if seen is not None and seen[0] is grad:
            return grad._storage.version != seen[1]
        return grad._storage.version != 0     # a gradient buffer this Trainer never consumed

    # --- steps -----------------------------------------------------------------------------------
    def step(self, batch_size, ignore_stale_grad=False):
        """Rescale the gradients by 1 / ``batch_size`` (in the update), sum them over devices
        (``allreduce_grads``) and update every trainable parameter (``update``). A parameter
        whose gradient was not written since the last step raises ``StaleGradientError``,
        unless ``ignore_stale_grad``, which skips it."""
        self._optimizer.rescale_grad = self._scale / batch_size
        self._ensure_packed()
        self._allreduce_grads()
        self._update(ignore_stale_grad)

    def allreduce_grads(self):
        """Sum each parameter's gradient over its devices and give every device the sum (no-op
        on one device); ``step`` does it, call it with ``update`` to transform the summed
        gradients in between."""
        self._ensure_packed()
        self._allreduce_grads()

    def _allreduce_grads(self):
        multi = len(self._devices) > 1
        if not multi and not self._dist:
            return
        first = self._devices[0]
        for j, head in enumerate(self._groups[first]):
            total = head.grads.flat
            if multi:
                total = total.copy()
                for dev in self._devices[1:]:
                    total = add(total, self._groups[dev][j].grads.flat.to_device(first))
            if self._dist:
                buckets = self._buckets.get(j)
                if buckets is not None:
                    buckets.finish()
                else:
                    # a group's gradients are packed: one read, one MPI allreduce, one write
                    distributed.allreduce(total, average=self._average_ranks,
                                          name=f"group {j}", compression=self._compression)
            if multi:
                # writes through the arenas' own arrays: the parameters' versions (freshness)
                # stay
                for dev in self._devices:
                    assign(self._groups[dev][j].grads.flat, total.to_device(dev))

    def update(self, batch_size, ignore_stale_grad=False):
        """The update of ``step`` without summing gradients over devices."""
        self._optimizer.rescale_grad = self._scale / batch_size
        self._ensure_packed()
        self._update(ignore_stale_grad)

    def _update(self, ignore_stale_grad):
        chosen = {}
        for dev in self._devices:
            for group in self._groups[dev]:
                keep = []
                for k, (p, g) in enumerate(zip(group.params, group.grads.views)):
                    if self._fresh(p, dev, g):
                        keep.append(k)
                    elif not ignore_stale_grad:
                        raise StaleGradientError(
                            f"Gradient of Parameter `{p.name}` on device {dev} has not been "
                            "updated by backward since last `step`. This could mean a bug in "
                            "your model that made it only use a subset of the Parameters "
                            "(Blocks) for this iteration. If you are intentionally only using "
                            "a subset, call step with ignore_stale_grad=True to suppress this "
                            "warning and skip updating of Parameters with stale gradient")
                chosen[id(group)] = keep
        for n, dev in enumerate(self._devices):
            self._optimizer._set_current_device(n)
            for group in self._groups[dev]:
                keep = chosen[id(group)]
                if not keep:
                    continue
                self._optimizer.update_multi_precision(
                    [group.indices[k] for k in keep], [group.weights.views[k] for k in keep],
                    [group.grads.views[k] for k in keep], [group.states[k] for k in keep])
                for k in keep:
                    g = group.grads.views[k]
                    self._consumed[(id(group.params[k]), dev)] = (g, g._storage.version)

    # --- states files ---------------------------------------------------------------------------
    def save_states(self, fname):
        """Write the optimizer's states and settings to ``fname``.

        The file is a NumPy ``.npz`` archive (whatever ``fname`` is called), written to a
        temporary file beside it and renamed over it, so a failed write leaves any old file
        whole. ``__meta__`` holds JSON: the format name and version, the optimizer's class and
        settings (learning rate, update counts, scheduler state ...; not ``param_dict``, as in
        MXNet), and per parameter index its name and number of state arrays; array
        ``state/<index>/<k>`` is the k-th state array of that parameter (the float32 master
        copy first under multi_precision). States are those of the first device; loading gives
        every device the same.
        """
        if self._groups is None and all(p._data is not None for p in self._trainable()):
            self._pack()
        arrays = dict(self._pending or {})
        params = {}
        for group in (self._groups or {}).get(self._devices[0] if self._devices else None, []):
            for i, state in zip(group.indices, group.states):
                slots = _flatten(state)
                params[str(i)] = {"name": self._params[i].name, "slots": len(slots)}
                for k, a in enumerate(slots):
                    arrays[f"state/{i}/{k}"] = a.asnumpy()
        meta = {"format": _FORMAT, "version": _VERSION,
                "optimizer": type(self._optimizer).__name__,
                "settings": _encode(_settings(self._optimizer)),
                "scheduler": _encode_scheduler(self._optimizer.lr_scheduler),
                "params": params}
        replace_atomically(fname, lambda f: _np.savez(f, __meta__=_np.array(json.dumps(meta)),
                                                     **arrays))

    def load_states(self, fname):
        """Read states written by ``save_states``: the optimizer's settings and every
        parameter's state arrays. The whole file is checked before anything changes: a file
        that is corrupt, of another optimizer or of other parameters raises
        ``StatesFileError`` and leaves the Trainer as it was."""
        try:
            with _np.load(fname, allow_pickle=False) as z:
                meta = json.loads(str(z["__meta__"][()]))
                arrays = {k: z[k] for k in z.files if k != "__meta__"}
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except Exception as e:     # a damaged archive fails in many ways (zip, zlib, json ...)
            raise StatesFileError(f"{fname}: not a readable Trainer states file "
                                  f"({type(e).__name__}: {e})") from None
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT or \
                meta.get("version") != _VERSION:
            raise StatesFileError(f"{fname}: not a clgrad Trainer states file (format "
                                  f"{_FORMAT} version {_VERSION})")
        if meta.get("optimizer") != type(self._optimizer).__name__:
            raise StatesFileError(f"{fname}: holds states of optimizer {meta.get('optimizer')},"
                                  f" this Trainer's is {type(self._optimizer).__name__}")
        try:
            settings = _decode(meta["settings"])
            scheduler = _decode_scheduler(meta["scheduler"], self._optimizer)
            if not isinstance(settings, dict) or not isinstance(
                    settings.get("_all_index_update_counts"), dict):
                raise ValueError("no optimizer settings")
        except (KeyError, TypeError, ValueError) as e:
            raise StatesFileError(f"{fname}: damaged settings ({e})") from None
        if self._groups is None and all(p._data is not None for p in self._trainable()):
            self._pack()
        if self._groups is not None:
            self._check_states(fname, arrays)
        # everything checked: from here on nothing fails
        if self._groups is not None:
            self._apply_states(arrays)
        else:
            self._pending = arrays
        _restore_settings(self._optimizer, settings, scheduler)
        self._optimizer.param_dict = dict(enumerate(self._params))

    def _check_states(self, fname, arrays):
        expected = set()
        for group in self._groups[self._devices[0]]:
            for i, state in zip(group.indices, group.states):
                for k, a in enumerate(_flatten(state)):
                    key = f"state/{i}/{k}"
                    expected.add(key)
                    got = arrays.get(key)
                    if got is None or got.shape != a.shape or got.dtype != a.dtype:
                        what = "missing" if got is None else f"{got.dtype}{list(got.shape)}"
                        raise StatesFileError(
                            f"{fname}: state {k} of parameter {i} ({self._params[i].name}) is "
                            f"{what}, expected {a.dtype}{list(a.shape)}")
        extra = sorted(set(arrays) - expected)
        if extra:
            raise StatesFileError(f"{fname}: states of parameters this Trainer does not have: "
                                  f"{', '.join(extra[:5])}")

    def _apply_states(self, arrays):
        for dev in self._devices:
            for group in self._groups[dev]:
                for i, state in zip(group.indices, group.states):
                    for k, a in enumerate(_flatten(state)):
                        host = arrays.get(f"state/{i}/{k}")
                        if host is not None and host.shape == a.shape and host.dtype == a.dtype:
                            copy_into(a, from_host(host, dev))


# --- states as arrays, settings as JSON ----------------------------------------------------------
def _flatten(state):
    """The arrays of a state (nested tuples, as create_state_multi_precision makes them)."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flatten(s)]
    return [state]


def _copy_state(new, old):
    new, old = _flatten(new), _flatten(old)
    if len(new) == len(old) and all(a.shape == b.shape and a.dtype == b.dtype
                                    for a, b in zip(new, old)):
        for a, b in zip(new, old):
            copy_into(a, b if b.device is a.device else b.to_device(a.device))


_SKIP = ("param_dict", "lr_scheduler", "_index_update_count")


def _settings(optimizer):
    return {k: v for k, v in vars(optimizer).items() if k not in _SKIP and _plain(v)}


def _plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(_plain(k) and _plain(x) for k, x in v.items())
    return False


def _encode(v):
    """JSON for plain values; dicts become key/value pairs (their keys may be ints)."""
    if isinstance(v, dict):
        return {"pairs": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    return v


def _decode(v):
    if isinstance(v, dict):
        return {_hashable(_decode(k)): _decode(x) for k, x in v["pairs"]}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


def _encode_scheduler(s):
    if s is None:
        return None
    return {"class": type(s).__name__, "settings": _encode({k: v for k, v in vars(s).items()
                                                           if _plain(v)})}


def _decode_scheduler(d, optimizer):
    """(class, settings) of the saved scheduler ``d``: the optimizer's own scheduler when it is
    of that class, else clgrad's schedule of that name (ValueError for another)."""
    if d is None:
        return None
    name, values = d["class"], _decode(d["settings"])
    if not isinstance(values, dict):
        raise ValueError("damaged lr_scheduler settings")
    current = optimizer.lr_scheduler
    if current is not None and type(current).__name__ == name:
        return type(current), values
    cls = getattr(lr_scheduler, name, None)
    if not (isinstance(cls, type) and issubclass(cls, lr_scheduler.LRScheduler)):
        raise ValueError(f"unknown lr_scheduler {name!r}")
    return cls, values


def _restore_settings(optimizer, settings, scheduler):
    vars(optimizer).update(settings)
    counts = optimizer._all_index_update_counts
    optimizer._index_update_count = counts.setdefault(0, {})
    if scheduler is not None:
        cls, values = scheduler
        s = optimizer.lr_scheduler
        if type(s) is not cls:
            s = cls.__new__(cls)
            optimizer.lr_scheduler = s
        vars(s).update(values)


class DistributedTrainer(Trainer):
    """Horovod's trainer: gradients *averaged* over the ranks of an MPI job, so ``step`` takes
    this rank's batch size; the parameters are broadcast from rank 0 when first packed. The
    same as ``Trainer(..., kvstore='dist_sync')`` otherwise (which sums, as MXNet)."""

    _average_ranks = True

    def __init__(self, params, optimizer, optimizer_params=None, compression=None, **kwargs):
        kwargs.setdefault("kvstore", "dist_sync")
        if compression is not None:
            kwargs.setdefault("compression_params", {"type": getattr(compression, "name",
                                                                     compression)})
        super().__init__(params, optimizer, optimizer_params, **kwargs)
