"""Learning-rate schedules (MXNet 2.x ``mx.lr_scheduler``): ``scheduler(num_update)`` is the
learning rate after ``num_update`` updates.

The schedules follow MXNet exactly, conventions included: warmup covers ``num_update`` in
[0, warmup_steps); FactorScheduler and MultiFactorScheduler change the rate once
``num_update`` is strictly past a step boundary and keep the decayed rate in ``base_lr`` (so
they expect non-decreasing ``num_update``); Poly and Cosine reach ``final_lr`` at
``max_update`` and stay there.
"""
import logging
from math import cos, pi

from .base import MXNetError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler", "SchedulerError"]


class SchedulerError(MXNetError, ValueError, AssertionError):
    """A schedule's settings that do not fit (MXNet raises ValueError, or fails an assertion
    for a wrong type)."""


def _check_int(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise SchedulerError(f"{what} must be an int, got {value!r}")


class LRScheduler:
    """The base of the schedules: ``base_lr`` and a warmup over the first ``warmup_steps``
    updates, from ``warmup_begin_lr`` up to ``base_lr`` ('linear') or held at
    ``warmup_begin_lr`` ('constant')."""

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        self.base_lr = base_lr
        _check_int(warmup_steps, "warmup_steps")
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise SchedulerError("Base lr has to be higher than warmup_begin_lr")
        if self.warmup_steps < 0:
            raise SchedulerError("Warmup steps has to be positive or 0")
        if warmup_mode not in ("linear", "constant"):
            raise SchedulerError("Supports only linear and constant modes of warmup, got "
                                 f"{warmup_mode!r}")
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        if num_update >= self.warmup_steps:
            raise SchedulerError(f"get_warmup_lr({num_update}) is past the {self.warmup_steps} "
                                 "warmup steps")
        if self.warmup_mode == "linear":
            increase = (self.warmup_final_lr - self.warmup_begin_lr) \
                * float(num_update) / float(self.warmup_steps)
            return self.warmup_begin_lr + increase
        return self.warmup_begin_lr

    def __call__(self, num_update):
        """The learning rate after ``num_update`` updates (the largest count of any weight)."""
        raise NotImplementedError("must override this")


class FactorScheduler(LRScheduler):
    """``base_lr * factor ** max(0, ceil(num_update / step) - 1)``, not below
    ``stop_factor_lr``: the rate drops at updates step + 1, 2 * step + 1, ..."""

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise SchedulerError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise SchedulerError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # a loop, not an if: a restart may jump several steps at once
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: now learning rate arrived at %0.5e, will not change "
                             "in the future", num_update, self.base_lr)
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update,
                             self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """``base_lr * factor ** k`` where k counts the steps in ``step`` (increasing) that
    ``num_update`` is strictly past."""

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, list) or len(step) < 1:
            raise SchedulerError(f"step must be a non-empty list of ints, got {step!r}")
        for i, s in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise SchedulerError("Schedule step must be an increasing integer list")
            if s < 1:
                raise SchedulerError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise SchedulerError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind < len(self.step):
            if num_update <= self.step[self.cur_step_ind]:
                return self.base_lr
            self.count = self.step[self.cur_step_ind]
            self.cur_step_ind += 1
            self.base_lr *= self.factor
            logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


class PolyScheduler(LRScheduler):
    """``final_lr + (base_lr - final_lr) * (1 - (num_update - warmup_steps) / (max_update -
    warmup_steps)) ** pwr`` up to ``max_update``; ``final_lr`` after."""

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        _check_int(max_update, "max_update")
        if max_update < 1:
            raise SchedulerError("maximum number of updates must be strictly positive")
        self.power = pwr
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * pow(
                1 - float(num_update - self.warmup_steps) / float(self.max_steps), self.power)
        return self.base_lr


class CosineScheduler(LRScheduler):
    """``final_lr + (base_lr - final_lr) * (1 + cos(pi * (num_update - warmup_steps) /
    (max_update - warmup_steps))) / 2`` up to ``max_update``; ``final_lr`` after."""

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        _check_int(max_update, "max_update")
        if max_update < 1:
            raise SchedulerError("maximum number of updates must be strictly positive")
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                (1 + cos(pi * (num_update - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr
