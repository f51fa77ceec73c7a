"""Runs the oracle's snippets under one framework and prints what they showed as JSON.

    python runner.py mxnet|clgrad SNIPPETS_FILE

Each snippet runs in a fresh namespace holding ``mx`` (the framework), ``np``, ``npx``,
``autograd``, ``show(label, value)`` and ``raises(label, fn)``. A value is recorded as its kind,
dtype, shape and elements; an exception as its category (the builtin exception types it is an
instance of, plus MXNetError), so that an ``except`` clause written for MXNet can be checked
against clgrad. This file imports no test code: it runs in MXNet's own venv too.
"""
import json
import math
import sys
import traceback

CATEGORIES = ("ValueError", "TypeError", "IndexError", "KeyError", "AssertionError",
              "AttributeError", "NotImplementedError", "ZeroDivisionError", "MXNetError")


def category(exc):
    names = {c.__name__ for c in type(exc).__mro__}
    return sorted(n for n in CATEGORIES if n in names)


def _plain(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def record(value, fw):
    if hasattr(value, "asnumpy"):
        h = value.asnumpy()
        return {"kind": "array", "dtype": str(h.dtype), "shape": list(h.shape),
                "value": _plain(h.tolist())}
    if isinstance(value, (list, tuple)):
        return {"kind": type(value).__name__, "items": [record(v, fw) for v in value]}
    if isinstance(value, bool) or value is None:
        return {"kind": "scalar", "value": value}
    if isinstance(value, (int, float)):
        return {"kind": "number", "value": _plain(float(value))}
    if hasattr(value, "dtype") and hasattr(value, "tolist"):        # a NumPy scalar
        return {"kind": "number", "value": _plain(float(value))}
    text = str(value).replace(fw, "FW")
    return {"kind": "str", "value": text}


def main():
    fw, path = sys.argv[1], sys.argv[2]
    if fw == "mxnet":
        import mxnet as mx
        from mxnet import autograd, np, npx
    else:
        import clgrad as mx
        from clgrad import autograd, np, npx
    npx.set_np()
    spec = {}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), spec)
    results = {}
    for name, code in spec["SNIPPETS"].items():
        shown = []

        def show(label, value, _shown=shown):
            try:
                _shown.append([label, record(value, fw)])
            except Exception as e:      # noqa: BLE001
                _shown.append([label, {"kind": "error", "category": category(e)}])

        def raises(label, fn, _shown=shown):
            try:
                fn()
            except Exception as e:      # noqa: BLE001
                _shown.append([label, {"kind": "error", "category": category(e)}])
            else:
                _shown.append([label, {"kind": "no error"}])

        ns = {"mx": mx, "np": np, "npx": npx, "autograd": autograd, "show": show,
              "raises": raises}
        try:
            mx.random.seed(0)
            exec(compile(code, f"<snippet {name}>", "exec"), ns)
        except Exception as e:      # noqa: BLE001
            shown.append(["(uncaught)", {"kind": "error", "category": category(e),
                                         "detail": traceback.format_exc(limit=3)[-600:]}])
        results[name] = shown
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
