"""Advanced indexing (integer arrays, boolean masks), take, take_along_axis, pick, nonzero.

Kernels (templates/gather.cl.mako, scatter.cl.mako, compact.cl.mako):
- gather: one read per output element through an int64 index (already normalised to [0, n));
- the vjp of a gather is a deterministic scatter-add: the target keys are sorted (stably, on
  the device) and the first work-item of each run of equal keys sums the run in order, so
  repeated indices accumulate without float atomics and every run gives the same bits;
- assignment through indices sorts the same way and lets the last writer of each run win, as
  NumPy does;
- nonzero is a two-pass block compaction with one read-back (the count sizes the output).

Indices are validated before anything is written: on the host when they come from the host, else
with one device check and one read-back; an out-of-bounds index raises ``IndexError``.
"""
from .advanced import advanced_getitem, advanced_setitem  # noqa: F401
from .gathers import (gather_raw, pick, put_along_axis_grad, put_along_axis_raw, take,  # noqa: F401
                      take_along_axis, take_raw)
from .kernels import (IndexArgumentError, IndexTypeError, argwhere, compact_raw,  # noqa: F401
                      flatnonzero, nonzero, prep_index)

__all__ = ["argwhere", "flatnonzero", "nonzero", "pick", "take", "take_along_axis"]
