"""Kernel tuning: search kernel parameters per device and keep the winners in the store of tuned
parameters that the runtime reads (``clgrad.runtime.tuning``, also reachable as
``clgrad.tune.db``). The tuner itself (``tune``, the families in ``clgrad.tune.kernels``, the CLI
``python -m clgrad.tune``) is imported on first use.
"""
from .db import params_for  # noqa: F401

_LAZY = {
    "tune": ("runner", "tune"), "format_table": ("runner", "format_table"),
    "TuneReport": ("runner", "TuneReport"),
    "Tunable": ("kernels", "Tunable"), "TunableUnavailable": ("kernels", "TunableUnavailable"),
    "register": ("kernels", "register"), "get_tunable": ("kernels", "get_tunable"),
    "FAMILIES": ("kernels", "FAMILIES"),
    "SearchSpace": ("space", "SearchSpace"), "SearchSpaceError": ("space", "SearchSpaceError"),
    "Budget": ("strategies", "Budget"),
    "TuningDatabaseWarning": ("db", "TuningDatabaseWarning"),
}

__all__ = ["params_for"] + sorted(_LAZY)


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'clgrad.tune' has no attribute {name!r}") from None
    import importlib
    return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
