"""Learning-rate schedules: tables of scheduler(num_update) worked out from MXNet 2.x's
lr_scheduler.py by hand, its off-by-one conventions included (a factor step applies once
num_update is strictly past the boundary; warmup covers updates 0 .. warmup_steps - 1)."""
import math

import pytest

from clgrad import lr_scheduler as lrs
from clgrad import optimizer as opt
from clgrad.base import MXNetError

C = (1 + math.cos(math.pi / 4)) / 2        # cosine schedule a quarter of the way
TABLES = [
    ("factor", lambda: lrs.FactorScheduler(step=2, factor=0.5, base_lr=1.0),
     [1, 1, 1, .5, .5, .25, .25, .125]),
    ("factor stop", lambda: lrs.FactorScheduler(step=2, factor=0.5, stop_factor_lr=0.3,
                                                base_lr=1.0),
     [1, 1, 1, .5, .5, .3, .3, .3]),
    ("factor warmup", lambda: lrs.FactorScheduler(step=2, factor=0.5, base_lr=1.0,
                                                  warmup_steps=2),
     [0, .5, 1, .5, .5, .25]),
    ("multifactor", lambda: lrs.MultiFactorScheduler(step=[2, 4], factor=0.1, base_lr=1.0),
     [1, 1, 1, .1, .1, .01, .01]),
    ("poly", lambda: lrs.PolyScheduler(max_update=4, base_lr=1.0, pwr=2),
     [1, .5625, .25, .0625, 0, 0]),
    ("poly warmup", lambda: lrs.PolyScheduler(max_update=4, base_lr=1.0, pwr=2,
                                              warmup_steps=2, warmup_begin_lr=0.5),
     [.5, .75, 1, .25, 0, 0]),
    ("poly final", lambda: lrs.PolyScheduler(max_update=2, base_lr=1.0, pwr=1, final_lr=0.2),
     [1, .6, .2, .2]),
    ("cosine", lambda: lrs.CosineScheduler(max_update=4, base_lr=1.0),
     [1, C, .5, 1 - C, 0, 0]),
    ("cosine constant warmup", lambda: lrs.CosineScheduler(
        max_update=7, base_lr=1.0, final_lr=0.5, warmup_steps=3, warmup_begin_lr=0.1,
        warmup_mode="constant"),
     [.1, .1, .1, 1, .5 + .5 * C, .75, .5 + .5 * (1 - C), .5, .5]),
]


@pytest.mark.parametrize("make,table", [t[1:] for t in TABLES], ids=[t[0] for t in TABLES])
def test_schedule_table(make, table):
    sched = make()
    got = [sched(n) for n in range(len(table))]
    assert got == pytest.approx(table, abs=1e-12)


def test_factor_scheduler_catches_up_after_a_jump():
    sched = lrs.FactorScheduler(step=10, factor=0.5, base_lr=1.0)
    assert sched(35) == 0.125        # three boundaries (11, 21, 31) passed at once
    assert sched(36) == 0.125


def test_poly_and_cosine_past_max_update_before_any_call_keep_base_lr():
    """MXNet only recomputes up to max_update: a first call past it returns base_lr."""
    assert lrs.PolyScheduler(max_update=4, base_lr=1.0)(10) == 1.0
    assert lrs.CosineScheduler(max_update=4, base_lr=1.0)(10) == 1.0


@pytest.mark.parametrize("make,match", [
    (lambda: lrs.FactorScheduler(step=0), "greater or equal than 1"),
    (lambda: lrs.FactorScheduler(step=2, factor=1.5), "no more than 1"),
    (lambda: lrs.MultiFactorScheduler(step=[3, 2]), "increasing"),
    (lambda: lrs.MultiFactorScheduler(step=[0, 2]), "greater or equal than 1"),
    (lambda: lrs.PolyScheduler(max_update=0), "strictly positive"),
    (lambda: lrs.CosineScheduler(max_update=4, warmup_mode="cubic"), "linear and constant"),
    (lambda: lrs.CosineScheduler(max_update=4, base_lr=0.1, warmup_begin_lr=0.2),
     "higher than warmup_begin_lr"),
    (lambda: lrs.FactorScheduler(step=2, warmup_steps=-1), "positive or 0"),
])
def test_bad_settings_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match) as e:
        make()
    assert isinstance(e.value, MXNetError)


@pytest.mark.parametrize("make", [lambda: lrs.PolyScheduler(max_update=4.0),
                                  lambda: lrs.LRScheduler(warmup_steps=1.5),
                                  lambda: lrs.MultiFactorScheduler(step=(2, 4))])
def test_wrong_types_raise_as_mxnet_asserts(make):
    with pytest.raises(AssertionError):
        make()


def test_optimizer_follows_its_scheduler():
    sched = lrs.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
    o = opt.SGD(learning_rate=None, lr_scheduler=sched)
    assert o.learning_rate == 1.0
    o.num_update = 3
    assert o.learning_rate == 0.25
    with pytest.warns(UserWarning, match="overwritten"):
        o2 = opt.SGD(learning_rate=0.2, lr_scheduler=lrs.CosineScheduler(max_update=4))
    assert o2.lr_scheduler.base_lr == 0.2
    with pytest.raises(UserWarning, match="LRScheduler of the optimizer has already"):
        o.set_learning_rate(0.1)
