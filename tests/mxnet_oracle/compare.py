"""How the oracle compares what a snippet showed under MXNet and under clgrad."""
import math


def close(a, b, rtol=1e-5, atol=1e-6):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str):    # "nan", "inf"
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)


def mismatch(want, got):
    """Why clgrad's record ``got`` does not match MXNet's ``want``, or None."""
    if want["kind"] == "error":
        if got["kind"] != "error":
            return f"MXNet raised {want['category']}, clgrad {got}"
        missing = set(want["category"]) - set(got["category"])
        if missing:     # clgrad may be more specific; every MXNet category must catch it
            return f"clgrad's error is not caught as {sorted(missing)} (it is {got['category']})"
        return None
    if want["kind"] != got["kind"]:
        return f"kind {want['kind']} vs {got['kind']} ({got})"
    if want["kind"] == "array":
        if want["dtype"] != got["dtype"]:
            return f"dtype {want['dtype']} vs {got['dtype']}"
        if want["shape"] != got["shape"]:
            return f"shape {want['shape']} vs {got['shape']}"
        if not close(want["value"], got["value"]):
            return f"values {want['value']} vs {got['value']}"
        return None
    if want["kind"] in ("list", "tuple"):
        if len(want["items"]) != len(got["items"]):
            return f"{len(want['items'])} items vs {len(got['items'])}"
        for i, (w, g) in enumerate(zip(want["items"], got["items"])):
            m = mismatch(w, g)
            if m:
                return f"item {i}: {m}"
        return None
    if want["kind"] == "number":
        return None if close(want["value"], got["value"]) else \
            f"{want['value']} vs {got['value']}"
    return None if want == got else f"{want} vs {got}"


def differences(mx_results, cl_results):
    """{(snippet, label): why} for every shown value that differs, labels aligned in order."""
    out = {}
    for name, want_list in mx_results.items():
        got_list = cl_results.get(name, [])
        got = dict((label, rec) for label, rec in got_list)
        for label, rec in want_list:
            if label not in got:
                out[(name, label)] = f"clgrad showed nothing for it ({got.get('(uncaught)')})"
                continue
            m = mismatch(rec, got[label])
            if m:
                out[(name, label)] = m
        for label, rec in got_list:
            if label == "(uncaught)" and (label, rec) not in [tuple(x) for x in want_list]:
                out[(name, label)] = f"clgrad raised {rec}"
    return out
