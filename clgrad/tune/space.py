"""Search spaces: named parameters with ordered value lists and the constraints between them.

A constraint is either a Python expression over the parameter names (``"TS % VW == 0"``) or a
callable taking the configuration as a dict. Configurations that break a constraint are not part
of the space at all; limits that depend on the device (work-group size, local memory) are checked
per candidate by the tuner, which records such candidates as ``constraints`` (does not fit).
"""
import math

from ..base import MXNetError

# Names a constraint expression may use besides the parameters.
_SAFE = {"min": min, "max": max, "abs": abs, "int": int, "len": len, "all": all, "any": any,
         "log2": math.log2, "True": True, "False": False, "None": None}


class SearchSpaceError(MXNetError, ValueError):
    """A search space or a configuration that is not well formed."""


class Constraint:
    """One restriction on configurations; ``str()`` names it in messages.

    An expression constraint knows which parameters it reads (``uses``), so enumeration can
    check it as soon as those are chosen and prune the rest of the product.
    """

    __slots__ = ("text", "fn", "_code", "uses", "_fast")

    def __init__(self, c):
        self._fast = None
        if isinstance(c, Constraint):
            self.text, self.fn, self._code, self.uses = c.text, c.fn, c._code, c.uses
        elif isinstance(c, str):
            try:
                self._code = compile(c, f"<constraint {c}>", "eval")
            except SyntaxError as e:
                raise SearchSpaceError(f"constraint {c!r} is not a Python expression: {e}") \
                    from None
            self.text, self.fn = c, None
            self.uses = tuple(n for n in self._code.co_names if n not in _SAFE)
        elif callable(c):
            self.text = getattr(c, "__doc__", None) or getattr(c, "__name__", "constraint")
            self.fn, self._code, self.uses = c, None, None   # reads anything: check last
        else:
            raise SearchSpaceError(f"a constraint is an expression string or a callable, "
                                   f"not {type(c).__name__}")

    def __call__(self, config):
        try:
            if self.fn is not None:
                return bool(self.fn(config))
            return bool(eval(self._code, {"__builtins__": _SAFE}, dict(config)))
        except (ArithmeticError, ValueError, TypeError):
            return False   # e.g. a division by a zero-valued parameter: not a valid config
        except NameError as e:
            raise SearchSpaceError(f"constraint {self.text!r}: {e}") from None

    def fast(self):
        """The expression as a function of its parameters (positional, in ``uses`` order)."""
        if self._fast is None:
            args = ", ".join(self.uses)
            fn = eval(f"lambda {args}: ({self.text})", {"__builtins__": _SAFE})  # noqa: S307

            def check(*vals, _fn=fn):
                try:
                    return bool(_fn(*vals))
                except (ArithmeticError, ValueError, TypeError):
                    return False
            self._fast = check
        return self._fast

    def __str__(self):
        return self.text

    @property
    def serialisable(self):
        return self.fn is None


def _check_value(name, v):
    if not isinstance(v, (bool, int, float, str)):
        raise SearchSpaceError(f"parameter {name!r}: value {v!r} is not an int, float, bool or "
                               "str (values go to a JSON log and into kernel source)")


class _Configs:
    """A read-only sequence view of a space's configurations, as dicts."""

    __slots__ = ("_space",)

    def __init__(self, space):
        self._space = space

    def __len__(self):
        return len(self._space._configs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._space.config(j) for j in range(*i.indices(len(self)))]
        return self._space.config(i)

    def __iter__(self):
        names = self._space.names
        return (dict(zip(names, c)) for c in self._space._configs)

    def __eq__(self, other):
        return list(self) == list(other)

    __hash__ = None


class SearchSpace:
    """The valid configurations of a set of parameters, enumerated in a deterministic order."""

    def __init__(self, params, constraints=()):
        if not params:
            raise SearchSpaceError("a search space needs at least one parameter")
        self.names = tuple(params)
        self.values = {}
        for k, vals in params.items():
            if not isinstance(k, str) or not k.isidentifier():
                raise SearchSpaceError(f"parameter name {k!r} is not an identifier")
            vals = list(vals) if not isinstance(vals, (str, bytes)) else None
            if not vals:
                raise SearchSpaceError(f"parameter {k!r} needs a non-empty list of values")
            for v in vals:
                _check_value(k, v)
            if len(set(map(repr, vals))) != len(vals):
                raise SearchSpaceError(f"parameter {k!r} lists a value twice: {vals}")
            self.values[k] = vals
        self.constraints = [Constraint(c) for c in constraints]
        self._configs = None
        self._index = None

    # --- membership ---------------------------------------------------------------------------
    def key(self, config):
        """The hashable identity of a configuration (its values in parameter order)."""
        try:
            return tuple(config[n] for n in self.names)
        except KeyError as e:
            raise SearchSpaceError(f"configuration {config} lacks parameter {e}") from None

    def failed_constraint(self, config):
        """The first constraint ``config`` breaks (as text), or None."""
        for c in self.constraints:
            if not c(config):
                return str(c)
        return None

    def __contains__(self, config):
        self._enumerate()
        try:
            return self.key(config) in self._index
        except SearchSpaceError:
            return False

    # --- enumeration -------------------------------------------------------------------------
    def _enumerate(self):
        if self._configs is None:
            # tuples, not dicts: a large space (a quarter of a million matmul tilings) stays small
            self._configs = self._search()
            self._index = {c: i for i, c in enumerate(self._configs)}
        return self._configs

    def _search(self):
        """Valid configurations in itertools.product order, by depth-first search that checks
        each expression constraint as soon as the parameters it reads are chosen."""
        names = self.names
        for c in self.constraints:
            if c.uses is not None:
                unknown = [n for n in c.uses if n not in self.values]
                if unknown:
                    raise SearchSpaceError(f"constraint {c.text!r}: name {unknown[0]!r} is "
                                           "not a parameter")
        # checks[d]: the (function, parameter positions) to run once names[d] is chosen
        checks = [[] for _ in names]
        late = []
        for c in self.constraints:
            if c.uses is None:
                late.append(c)
            elif not c.uses:
                if not c.fast()():
                    return []
            else:
                pos = tuple(names.index(n) for n in c.uses)
                checks[max(pos)].append((c.fast(), pos))
        values = [self.values[n] for n in names]
        out = []
        chosen = [None] * len(names)

        def visit(d):
            for v in values[d]:
                chosen[d] = v
                if all(fn(*[chosen[i] for i in pos]) for fn, pos in checks[d]):
                    if d + 1 < len(names):
                        visit(d + 1)
                    elif not late or all(c(dict(zip(names, chosen))) for c in late):
                        out.append(tuple(chosen))
        visit(0)
        return out

    def configs(self):
        """Every valid configuration, in itertools.product order: a sequence of dicts (made on
        access; indexing and slicing work)."""
        self._enumerate()
        return _Configs(self)

    def config(self, i):
        """The ``i``-th valid configuration as a dict."""
        return dict(zip(self.names, self._enumerate()[i]))

    def __len__(self):
        return len(self._enumerate())

    @property
    def total(self):
        """How many configurations there are before the constraints."""
        return math.prod(len(v) for v in self.values.values())

    def neighbours(self, config):
        """Valid configurations that differ from ``config`` in exactly one parameter."""
        self._enumerate()
        out = []
        for n in self.names:
            for v in self.values[n]:
                if v == config[n] and type(v) is type(config[n]):
                    continue
                cand = dict(config)
                cand[n] = v
                if self.key(cand) in self._index:
                    out.append(cand)
        return out

    def canonical(self, config):
        """The space's own dict for a configuration equal to ``config``, or None."""
        self._enumerate()
        try:
            i = self._index.get(self.key(config))
        except SearchSpaceError:
            return None
        return None if i is None else self.config(i)

    # --- description ---------------------------------------------------------------------------
    def to_json(self):
        """The space as JSON-able data; None when a constraint is a callable (not portable)."""
        if not all(c.serialisable for c in self.constraints):
            return None
        return {"params": {k: list(v) for k, v in self.values.items()},
                "constraints": [c.text for c in self.constraints]}

    @classmethod
    def from_json(cls, data):
        return cls(data["params"], data.get("constraints", ()))

    def describe(self):
        parts = [f"{k} in {v}" for k, v in self.values.items()]
        if self.constraints:
            parts.append("where " + " and ".join(str(c) for c in self.constraints))
        return "; ".join(parts)
