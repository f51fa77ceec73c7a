"""Ops that a lower op family calls but a higher one defines, bound by the defining family when
it is imported, so that imports run one way (axes < elementwise < shape < reduce < indexing <
sort): the vjp of a broadcasting elementwise op sums (``reduce``) and reshapes (``shape``),
``reshape`` of an advanced index gathers (``indexing``), ``where(c)`` is ``nonzero``, the
unique-key path of indexing sorts. Importing ``clgrad.ops`` imports every family, so each name
is bound before any op runs.
"""

_NAMES = ("multiply", "sum", "reshape", "nonzero", "advanced_getitem", "advanced_setitem",
          "argsort_keys")


def bind(**fns):
    """Bind the late names ``fns`` (each defined once, by its own family)."""
    for name, fn in fns.items():
        if name not in _NAMES:
            raise KeyError(f"clgrad.ops.late has no name {name!r}")
        globals()[name] = fn


def _unbound(name):
    def fn(*args, **kwargs):
        raise RuntimeError(f"clgrad.ops.late.{name} is not bound yet: import clgrad.ops first")
    fn.__name__ = name
    return fn


multiply = _unbound("multiply")
sum = _unbound("sum")  # noqa: A001
reshape = _unbound("reshape")
nonzero = _unbound("nonzero")
advanced_getitem = _unbound("advanced_getitem")
advanced_setitem = _unbound("advanced_setitem")
argsort_keys = _unbound("argsort_keys")
