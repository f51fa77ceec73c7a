"""Search spaces, strategies and budgets (no device needed)."""
import math
import time

import pytest

from clgrad.base import MXNetError
from clgrad.tune import strategies as S
from clgrad.tune.space import SearchSpace, SearchSpaceError


def small_space():
    return SearchSpace({"TS": [1, 2, 4, 8], "VW": [1, 2, 4], "MODE": ["a", "b"]},
                       ["TS % VW == 0"])


def test_space_enumerates_valid_configs_in_product_order():
    sp = small_space()
    cfgs = sp.configs()
    assert len(sp) == len(cfgs) == 2 * (1 + 2 + 3 + 3)
    assert sp.total == 24
    assert all(c["TS"] % c["VW"] == 0 for c in cfgs)
    assert cfgs[0] == {"TS": 1, "VW": 1, "MODE": "a"}
    assert cfgs[1] == {"TS": 1, "VW": 1, "MODE": "b"}
    assert {"TS": 2, "VW": 4, "MODE": "a"} not in sp
    assert {"TS": 4, "VW": 4, "MODE": "b"} in sp
    assert sp.failed_constraint({"TS": 2, "VW": 4, "MODE": "a"}) == "TS % VW == 0"


def test_callable_constraint_and_division_by_zero():
    sp = SearchSpace({"A": [0, 1, 2], "B": [1, 2]}, [lambda p: p["A"] + p["B"] > 1,
                                                     "B % A == 0"])
    assert sp.configs() == [{"A": 1, "B": 1}, {"A": 1, "B": 2}, {"A": 2, "B": 2}]
    assert sp.to_json() is None   # a callable cannot travel to a child process


def test_neighbours_change_exactly_one_parameter():
    sp = small_space()
    c = {"TS": 4, "VW": 2, "MODE": "a"}
    nbrs = sp.neighbours(c)
    assert nbrs
    for n in nbrs:
        assert n in sp
        assert sum(n[k] != c[k] for k in sp.names) == 1
    assert {"TS": 2, "VW": 2, "MODE": "a"} in nbrs
    assert {"TS": 4, "VW": 2, "MODE": "b"} in nbrs
    assert {"TS": 1, "VW": 2, "MODE": "a"} not in nbrs   # breaks the constraint


@pytest.mark.parametrize("params, constraints, msg", [
    ({}, [], "at least one parameter"),
    ({"A": []}, [], "non-empty"),
    ({"A": [1, 1]}, [], "twice"),
    ({"A": [[1]]}, [], "not an int"),
    ({"1A": [1]}, [], "identifier"),
    ({"A": [1]}, ["A +"], "not a Python expression"),
    ({"A": [1]}, [42], "expression string or a callable"),
])
def test_bad_spaces_raise_clear_errors(params, constraints, msg):
    with pytest.raises(SearchSpaceError, match=msg) as ei:
        SearchSpace(params, constraints)
    assert isinstance(ei.value, MXNetError) and isinstance(ei.value, ValueError)


def test_constraint_with_unknown_name_raises():
    sp = SearchSpace({"A": [1, 2]}, ["B > 1"])
    with pytest.raises(SearchSpaceError, match="B"):
        sp.configs()


def test_space_json_round_trip():
    sp = small_space()
    again = SearchSpace.from_json(sp.to_json())
    assert again.configs() == sp.configs()


# --- strategies --------------------------------------------------------------------------------
def cost_of(c):
    """A smooth bowl with its minimum at TS=4, VW=2, MODE=b."""
    return (math.log2(c["TS"]) - 2) ** 2 + (c["VW"] - 2) ** 2 + (0 if c["MODE"] == "b" else 0.5)


def run(strategy, seed, budget=None, space=None, start=None):
    space = space or small_space()
    seen = []
    b = S.Budget(count=budget).begin(len(space))

    def evaluate(batch):
        out = []
        for c in batch:
            b.charge()
            seen.append(dict(c))
            out.append(cost_of(c))
        return out
    S.search(strategy, space, evaluate, seed=seed, batch=3, start=start)
    return seen


def test_brute_force_visits_everything_in_order():
    sp = small_space()
    assert run("brute_force", 0) == sp.configs()
    assert run("brute_force", 5) == sp.configs()     # the seed does not matter


@pytest.mark.parametrize("strategy", ["random", "greedy"])
def test_strategies_are_deterministic_with_a_seed(strategy):
    a = run(strategy, seed=7)
    assert a == run(strategy, seed=7)
    assert a != run(strategy, seed=8)


def test_random_sample_is_a_permutation_without_repeats():
    sp = small_space()
    seen = run("random", seed=3)
    keys = [sp.key(c) for c in seen]
    assert len(keys) == len(set(keys)) == len(sp)
    assert seen != sp.configs()


def test_random_sample_respects_a_count_budget():
    seen = run("random", seed=1, budget=5)
    assert len(seen) == 5
    assert seen == run("random", seed=1)[:5]     # a budget truncates the same order


def test_greedy_reaches_the_optimum_and_never_repeats():
    sp = small_space()
    seen = run("greedy", seed=0, budget=12, start={"TS": 1, "VW": 1, "MODE": "a"})
    assert seen[0] == {"TS": 1, "VW": 1, "MODE": "a"}
    keys = [sp.key(c) for c in seen]
    assert len(keys) == len(set(keys))
    assert {"TS": 4, "VW": 2, "MODE": "b"} in seen
    # with an unlimited budget it restarts until every configuration was tried
    assert len(run("greedy", seed=0)) == len(sp)


@pytest.mark.parametrize("strategy", ["brute_force", "random", "greedy"])
def test_every_strategy_measures_the_start_first_and_once(strategy):
    sp = small_space()
    start = sp.configs()[-1]
    seen = run(strategy, seed=2, start=start)
    assert seen[0] == start
    keys = [sp.key(c) for c in seen]
    assert len(keys) == len(set(keys)) == len(sp)
    # a budget of one measures just the start (the runtime's default parameters)
    assert run(strategy, seed=2, budget=1, start=start) == [start]
    # a start outside the space is ignored
    assert run(strategy, seed=2, start={"TS": 3, "VW": 1, "MODE": "a"})[0] != \
        {"TS": 3, "VW": 1, "MODE": "a"}


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy"):
        S.get("simulated_annealing")
    assert S.get("brute") is S.brute_force


@pytest.mark.parametrize("text, count, seconds, fraction", [
    ("50", 50, None, None), ("120s", None, 120.0, None), ("2m", None, 120.0, None),
    ("1h", None, 3600.0, None), ("1.5s", None, 1.5, None), ("10%", None, None, 0.1),
    (None, None, None, None), ("", None, None, None),
])
def test_budget_parse(text, count, seconds, fraction):
    b = S.Budget.parse(text)
    parsed, expected = (b.count, b.seconds, b.fraction), (count, seconds, fraction)
    assert parsed == expected


@pytest.mark.parametrize("text", ["0", "-3", "abc", "5x", "0%", "150%"])
def test_budget_parse_rejects(text):
    with pytest.raises(ValueError, match="budget"):
        S.Budget.parse(text)


def test_budget_fraction_and_time():
    b = S.Budget.parse("10%").begin(95)
    assert b.limit == 10
    for _ in range(10):
        b.charge()
    with pytest.raises(S.BudgetExhausted):
        b.charge()
    t = S.Budget(seconds=0.05).begin(10)
    t.charge()
    time.sleep(0.06)
    with pytest.raises(S.BudgetExhausted):
        t.charge()
