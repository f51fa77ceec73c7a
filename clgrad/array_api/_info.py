"""``__array_namespace_info__()``: what this namespace supports on which device."""
import numpy as _np

from .. import dtypes as dt

_KINDS = {
    "bool": ("bool",),
    "signed integer": ("int8", "int16", "int32", "int64"),
    "unsigned integer": ("uint8",),
    "integral": ("int8", "int16", "int32", "int64", "uint8"),
    "real floating": ("float32", "float64"),
    "complex floating": ("complex64", "complex128"),
    "numeric": ("int8", "int16", "int32", "int64", "uint8", "float32", "float64", "complex64",
                "complex128"),
}

_capabilities = {}


def _probe_capabilities(device):
    """Whether boolean masks and data-dependent shapes work, asked of the ops themselves (they
    arrive with the indexing and set ops), once per device."""
    from .. import ops
    from ..base import MXNetError
    found = _capabilities.get(device)
    if found is None:
        x = ops.array(_np.array([1.0, 0.0], dtype=_np.float32), device=device)
        mask = ops.array(_np.array([True, False]), device=device)
        try:
            bool_ok = x[mask].shape == (1,)
        except (MXNetError, TypeError, IndexError, ValueError, NotImplementedError):
            bool_ok = False
        try:
            dds_ok = len(ops.nonzero(x)[0].tolist()) == 1 and \
                ops.unique(x).shape == (2,)
        except (MXNetError, TypeError, IndexError, ValueError, NotImplementedError,
                AttributeError):
            dds_ok = False
        found = _capabilities[device] = (bool_ok, dds_ok)
    return found


class Info:
    """The object ``__array_namespace_info__()`` returns (Array API 2023.12 and later)."""

    __module__ = "clgrad.array_api"

    def capabilities(self):
        from ..runtime import default_device
        bool_ok, dds_ok = _probe_capabilities(default_device())
        return {"boolean indexing": bool_ok, "data-dependent shapes": dds_ok,
                "max dimensions": None}

    def default_device(self):
        from ..runtime import default_device
        return default_device()

    def devices(self):
        from ..runtime import all_devices
        return list(all_devices())

    def default_dtypes(self, *, device=None):
        from ..ops.core import resolve_device
        dev = resolve_device(device)
        f = dt.float64 if dev.caps.fp64 else dt.float32
        c = dt.complex128 if dev.caps.fp64 else dt.complex64
        return {"real floating": f, "complex floating": c, "integral": dt.int64,
                "indexing": dt.int64}

    def dtypes(self, *, device=None, kind=None):
        from ..ops.core import resolve_device
        dev = resolve_device(device)
        names = set()
        kinds = ("bool", "numeric") if kind is None else \
            (kind,) if isinstance(kind, str) else tuple(kind)
        for k in kinds:
            if isinstance(k, str):
                if k not in _KINDS:
                    raise ValueError(f"unknown dtype kind {k!r} (known: {', '.join(_KINDS)})")
                names.update(_KINDS[k])
            else:
                names.add(_np.dtype(k).name)
        if not dev.caps.fp64:
            names.discard("float64")
            names.discard("complex128")
        order = ["bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64",
                 "complex64", "complex128"]
        return {n: _np.dtype(n) for n in order if n in names}
