"""Reductions and scans: two deterministic kernel families (templates/reduce.cl.mako and
templates/scan.cl.mako), many ops.

The reduced axes and the kept axes are each collapsed to as few dimensions as their strides
allow. Small reductions run one work-item per output; long ones a work-group per output with a
local-memory tree, and a second stage when there are too few outputs to fill the device. Every
kind is a small accumulator (a scalar, or a struct such as argmax's (value, index)) with its own
init / map / combine / finalise in OpenCL C, so the combination order is fixed and results are
reproducible run to run (no atomics).

Dtypes follow MXNet: the sum, product and cumulative sum and product of integers keep their
dtype (accumulated exactly in int64, then cast), of booleans give int64; the mean (and
var/std/logsumexp) of integers is float32. float16 accumulates in float32.

The work-group size and the layout thresholds come from ``runtime.tuning.params_for(device,
"reduce" | "scan", src_dtype, size_key, defaults)``; ``size_key`` is ``"small"`` (k < 1024),
``"medium"`` (k < 65536) or ``"large"``, k being the length of one reduction. Parameters:
``wg`` (power of two), ``min_group_k`` (shorter reductions run one work-item per output),
``serial_min_outputs`` (with strided reads and at least this many outputs, one work-item per
output reads coalesced across outputs) and ``waves`` (groups per compute unit to aim for before
splitting one reduction in parts).
"""
from .kernels import TUNABLE, reduce_raw, scan_raw  # noqa: F401
from .kinds import (AxisError, EmptyReductionError, acc_dtype, default_out_dtype,  # noqa: F401
                    normalize_axes, normalize_axis)
from .ops import (all, amax, amin, any, argmax, argmin, cumprod, cumsum, logsumexp,  # noqa: F401
                  max, mean, min, prod, std, sum, var)

__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "cumprod", "cumsum", "logsumexp",
           "max", "mean", "min", "prod", "std", "sum", "var"]

