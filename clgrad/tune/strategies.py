"""Search strategies: which configurations to try, in which order.

A strategy is a generator ``strategy(space, rng, batch, start)`` that yields lists of
configurations and is sent back their costs (seconds; ``inf`` for a failed candidate). Yielding a
batch lets the tuner compile the whole batch in parallel while it times them one by one. Every
choice comes from ``rng`` (a ``random.Random`` seeded by the caller), so a strategy given the same
seed and the same costs proposes the same configurations in the same order.

The budget is not the strategy's business: the evaluator raises ``BudgetExhausted`` when it runs
out, and the search simply stops there.
"""
import itertools
import math
import random
import re
import time


class BudgetExhausted(Exception):
    """Raised by an evaluator when the budget does not allow another measurement."""


class Budget:
    """A limit on new measurements: a count, a number of seconds, and/or a fraction of the space.

    Candidates found in a resumed log and candidates that do not fit the device cost nothing.
    """

    def __init__(self, count=None, seconds=None, fraction=None):
        self.count = count
        self.seconds = seconds
        self.fraction = fraction
        self.start = None
        self.used = 0

    @classmethod
    def parse(cls, text):
        """``"50"`` (measurements), ``"120s"``, ``"2m"``, ``"1h"`` (time) or ``"10%"`` (of the
        space); None or ``""`` means no limit."""
        if text is None or str(text).strip() in ("", "none", "inf"):
            return cls()
        s = str(text).strip().lower()
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*(s|sec|m|min|h)", s)
        if m:
            scale = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[m.group(2)]
            return cls(seconds=float(m.group(1)) * scale)
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*%", s)
        if m and 0 < float(m.group(1)) <= 100:
            return cls(fraction=float(m.group(1)) / 100)
        if s.isdigit() and int(s) > 0:
            return cls(count=int(s))
        raise ValueError(f"budget {text!r}: give a count (50), a time (120s, 2m, 1h) or a "
                         "fraction of the space (10%)")

    def begin(self, space_size):
        self.start = time.monotonic()
        self.used = 0
        self._limit = self.count
        if self.fraction is not None:
            f = max(1, math.ceil(self.fraction * space_size))
            self._limit = f if self._limit is None else min(self._limit, f)
        return self

    @property
    def limit(self):
        """The most new measurements allowed (None: only time or nothing limits them)."""
        return getattr(self, "_limit", self.count)

    def charge(self):
        """Account for one new measurement, or raise BudgetExhausted if none is left."""
        if self.limit is not None and self.used >= self.limit:
            raise BudgetExhausted
        if self.seconds is not None and time.monotonic() - self.start >= self.seconds:
            raise BudgetExhausted
        self.used += 1

    def remaining_seconds(self):
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.monotonic() - self.start))

    def __str__(self):
        parts = []
        if self.count is not None:
            parts.append(f"{self.count} measurements")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        if self.fraction is not None:
            parts.append(f"{self.fraction:.0%} of the space")
        return " or ".join(parts) or "unlimited"


def _start_first(space, start, configs, batch):
    """Batches of ``configs`` with ``start`` (the default parameters, when valid) measured
    first and not again: a run stopped by its budget after a few candidates then never
    stores a winner slower than what the runtime already uses."""
    first = space.canonical(start) if start is not None else None
    if first:
        yield [first]
    key = space.key
    skip = key(first) if first else None
    out = []
    for c in configs:
        if skip is not None and key(c) == skip:
            continue
        out.append(c)
        if len(out) == batch:
            yield out
            out = []
    if out:
        yield out


def brute_force(space, rng, batch=8, start=None):
    """Every configuration, in the space's order (``start`` first)."""
    yield from _start_first(space, start, space.configs(), batch)


def random_sample(space, rng, batch=8, start=None):
    """Configurations drawn without replacement in a seeded random order (``start`` first)."""
    cfgs = space.configs()
    order = list(range(len(cfgs)))
    rng.shuffle(order)
    yield from _start_first(space, start, (cfgs[j] for j in order), batch)


def greedy(space, rng, batch=8, start=None):
    """Multi-start local search: from a start, evaluate every neighbour (one parameter changed),
    move to the best one while it improves, and restart from a random untried configuration at a
    local optimum. The first start is ``start`` (e.g. the default parameters) when it is valid."""
    cfgs = space.configs()
    key = space.key
    cost = {}
    order = list(range(len(cfgs)))
    rng.shuffle(order)
    first = [space.canonical(start)] if start is not None and space.canonical(start) else []
    for s in itertools.chain(first, (cfgs[i] for i in order)):
        if key(s) in cost:
            continue
        (c,) = yield [s]
        cost[key(s)] = c
        current, current_cost = s, c
        while True:
            nbrs = space.neighbours(current)
            new = [n for n in nbrs if key(n) not in cost]
            if new:
                costs = yield new
                for n, nc in zip(new, costs):
                    cost[key(n)] = nc
            best = min(nbrs, key=lambda n: cost[key(n)], default=None)
            if best is None or not cost[key(best)] < current_cost:
                break
            current, current_cost = best, cost[key(best)]


STRATEGIES = {"brute_force": brute_force, "random": random_sample, "greedy": greedy}
ALIASES = {"brute": "brute_force", "bruteforce": "brute_force", "brute-force": "brute_force",
           "random_sample": "random", "greedy_local": "greedy", "local": "greedy"}


def get(name):
    name = ALIASES.get(name, name)
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})") from None


def search(strategy, space, evaluate_batch, seed=0, batch=8, start=None):
    """Run ``strategy`` over ``space``; ``evaluate_batch(configs) -> costs`` may raise
    BudgetExhausted to stop. Returns the configurations proposed, in order."""
    gen = get(strategy)(space, random.Random(seed), batch=max(1, batch), start=start)
    proposed = []
    try:
        b = next(gen)
        while True:
            proposed.extend(b)
            costs = evaluate_batch(b)
            b = gen.send(list(costs))
    except (StopIteration, BudgetExhausted):
        pass
    finally:
        gen.close()
    return proposed
