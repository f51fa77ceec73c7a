"""The Optimizer base class and the registry of optimizers by name (MXNet 2.x
``mx.optimizer.Optimizer``, ``register``, ``create``).

An optimizer that names an update rule of ``templates/optimizer.cl.mako`` (``_rule``) gets its
``step`` and ``fused_step`` from ``optimizer.fused``: generated kernels that update many
parameters per launch. One that does not (a user's subclass) implements ``step`` with array ops,
as in MXNet.
"""
import warnings

import numpy as _np

from .. import dtypes as _dt
from ..base import MXNetError
from ..ndarray import ndarray
from . import fused
from .errors import OptimizerError, OptimizerTypeError  # noqa: F401  (part of this API)

__all__ = ["Optimizer", "OptimizerError", "OptimizerTypeError", "SchedulerConflictError",
           "register", "create"]


class SchedulerConflictError(MXNetError, UserWarning):
    """``set_learning_rate`` while an lr_scheduler sets the rate (MXNet raises UserWarning)."""


class Optimizer:
    """The base of every optimizer (MXNet 2.x).

    ``rescale_grad`` multiplies each gradient, then ``clip_gradient`` (when > 0) clips it to
    [-clip_gradient, clip_gradient]. The learning rate is ``learning_rate``, or
    ``lr_scheduler(num_update)`` when a scheduler is given (``learning_rate`` then overrides
    its base_lr), 0.01 when neither is. A parameter's rate and weight decay are multiplied by
    its ``lr_mult`` / ``wd_mult`` (from ``param_dict``, else ``set_lr_mult`` / ``set_wd_mult``
    by index or name). ``num_update`` is the largest per-index update count; counts start at
    ``begin_num_update`` and are kept per device.
    """

    opt_registry = {}

    def __init__(self, rescale_grad=1., param_idx2name=None, wd=0., clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None, aggregate_num=None,
                 use_fused_step=None, **kwargs):
        if kwargs:
            raise OptimizerTypeError(f"{type(self).__name__} got unexpected keyword "
                                     f"argument(s): {', '.join(sorted(kwargs))}")
        if sym is not None:
            raise OptimizerError("clgrad has no Symbol: pass param_idx2name or param_dict to "
                                 "name parameters, not sym")
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None and \
                lr_scheduler.base_lr != learning_rate:
            warnings.warn("learning rate from ``lr_scheduler`` has been overwritten by "
                          "``learning_rate`` in optimizer.", UserWarning, stacklevel=2)
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 1 if aggregate_num is None else aggregate_num
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise OptimizerTypeError("param_idx2name should be a dict of param indexes to "
                                     f"names, got {type(param_idx2name).__name__}")
        self.idx2name = param_idx2name.copy()
        self.param_dict = param_dict if param_dict else {}
        self.use_fused_step = bool(use_fused_step) if use_fused_step is not None else False
        self.set_lr_mult({})
        self.set_wd_mult({})

    # --- registry ------------------------------------------------------------------------------
    @staticmethod
    def register(klass):
        """Register ``klass`` under its lower-cased class name (a decorator)."""
        if not isinstance(klass, type):
            raise OptimizerTypeError(f"register expects a class, got {klass!r}")
        name = klass.__name__.lower()
        old = Optimizer.opt_registry.get(name)
        if old is not None and old is not klass:
            warnings.warn(f"WARNING: New optimizer {klass.__module__}.{klass.__name__} is "
                          f"overriding existing optimizer {old.__module__}.{old.__name__}",
                          stacklevel=2)
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """An instance of the optimizer registered as ``name`` (case-insensitive)."""
        klass = Optimizer.opt_registry.get(str(name).lower())
        if klass is None:
            raise OptimizerError(f"Cannot find optimizer {name!r}; the registered optimizers "
                                 f"are: {', '.join(sorted(Optimizer.opt_registry))}")
        return klass(**kwargs)

    # --- learning rate -------------------------------------------------------------------------
    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        if self.lr_scheduler is not None:
            raise SchedulerConflictError(
                "LRScheduler of the optimizer has already been defined. Note that "
                "set_learning_rate can mutate the value of the learning rate of the optimizer "
                "only when the LRScheduler of the optimizer is undefined.")
        self.lr = lr

    def set_lr_mult(self, args_lr_mult):
        """Learning-rate multipliers by parameter index or name (replacing earlier ones)."""
        self.lr_mult = dict(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Weight-decay multipliers by parameter index or name (replacing earlier ones)."""
        self.wd_mult = dict(args_wd_mult)

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        return [lr * self._mult(index, self.lr_mult, "lr_mult") for index in indices]

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wds(self, indices):
        return [self.wd * self._mult(index, self.wd_mult, "wd_mult") for index in indices]

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    def _mult(self, index, table, attr):
        if index in self.param_dict:
            return getattr(self.param_dict[index], attr)
        if index in table:
            return table[index]
        if index in self.idx2name:
            return table.get(self.idx2name[index], 1.0)
        return 1.0

    # --- update counts ---------------------------------------------------------------------------
    def _set_current_device(self, device_id):
        """Switch to the update counts of device ``device_id`` (each device keeps its own)."""
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    _set_current_context = _set_current_device

    def _update_count(self, index):
        for idx in (index if isinstance(index, (list, tuple)) else [index]):
            if idx not in self._index_update_count:
                self._index_update_count[idx] = self.begin_num_update
            self._index_update_count[idx] += 1
            self.num_update = max(self._index_update_count[idx], self.num_update)

    # --- states ----------------------------------------------------------------------------------
    def create_state(self, index, weight):
        """The state of ``weight`` (zeros; None for an optimizer without state)."""
        from ..ops.core import zeros
        slots = [zeros(weight.shape, dtype=d, device=weight.device)
                 for d in self._state_dtypes(weight.dtype)]
        return self._state_from_slots(slots)

    def create_state_multi_precision(self, index, weight):
        """``create_state``, and with ``multi_precision`` a float16 weight's float32 master
        copy: the state is then ``(master, state of the master)``."""
        if self.multi_precision and weight.dtype == _dt.float16:
            master = weight.astype(_np.float32)
            return (master, self.create_state(index, master))
        if weight.dtype == _dt.float16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                          "slow convergence. Consider using multi_precision=True option of the "
                          "optimizer", stacklevel=2)
        return self.create_state(index, weight)

    # --- updates ---------------------------------------------------------------------------------
    def step(self, indices, weights, grads, states):
        """Update each weight in place, one parameter at a time."""
        if self._rule() is None:
            raise NotImplementedError(f"{type(self).__name__} must implement step()")
        fused.update(self, indices, weights, grads, states, packed=False)

    def fused_step(self, indices, weights, grads, states):
        """Update the weights in place, every packed group in one launch (``fused.update``)."""
        if self._rule() is None:
            raise NotImplementedError(f"{type(self).__name__} has no fused_step; create it "
                                      "with use_fused_step=False")
        fused.update(self, indices, weights, grads, states, packed=True)

    def update(self, indices, weights, grads, states):
        """``fused_step`` when ``use_fused_step``, else ``step`` (lists, as MXNet 2.x)."""
        for w, g in zip(weights, grads):
            if not isinstance(w, ndarray) or not isinstance(g, ndarray):
                raise OptimizerTypeError("update expects lists of clgrad arrays, got "
                                         f"{type(w).__name__} and {type(g).__name__}")
        if self.use_fused_step:
            self.fused_step(indices, weights, grads, states)
        else:
            self.step(indices, weights, grads, states)

    def update_multi_precision(self, indices, weights, grads, states):
        """``update`` where float16 weights with ``multi_precision`` carry their float32
        master copy in their state (``create_state_multi_precision``)."""
        if self._rule() is not None:
            # the kernels update the master copy and write the float16 weight in one pass
            self.update(indices, weights, grads, states)
            return
        masters, inner, grads32 = [], [], []
        for w, g, s in zip(weights, grads, states):
            if self.multi_precision and w.dtype == _dt.float16:
                masters.append(s[0])
                inner.append(s[1])
                grads32.append(g.astype(_np.float32))
            else:
                masters.append(w)
                inner.append(s)
                grads32.append(g)
        self.update(indices, masters, grads32, inner)
        for m, w in zip(masters, weights):
            if m is not w:
                w[...] = m.astype(w.dtype)

    # --- what the kernels need (subclasses with an update rule override these) ----------------
    def _rule(self):
        """The update rule's name in templates/optimizer.cl.mako, None without one."""
        return None

    def _hyperparams(self):
        """The rule's scalars by name (the kernel's arguments)."""
        return {}

    def _state_dtypes(self, dtype):
        """The dtype of each state array of a weight updated in ``dtype``."""
        return ()

    def _state_from_slots(self, slots):
        """The state as MXNet shapes it, from its arrays: None, one array, or a tuple."""
        if not slots:
            return None
        return slots[0] if len(slots) == 1 else tuple(slots)

    def _slots_of(self, state):
        """The arrays of a state (``_state_from_slots`` reversed)."""
        if state is None:
            return []
        return list(state) if isinstance(state, (tuple, list)) else [state]

    def _bias_terms(self, t):
        """(learning-rate factor, c1, c2) at a parameter's update count ``t``."""
        return 1.0, 1.0, 1.0

    def _skip_update(self):
        """Whether this update is skipped entirely (AdamW: a non-finite rescale_grad)."""
        return False


register = Optimizer.register
create = Optimizer.create_optimizer
