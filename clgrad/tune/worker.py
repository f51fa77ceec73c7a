"""Child process of isolated tuning: measure one candidate and print its record.

Reads a JSON job on stdin (the tunable's factory and arguments, the device's platform and device
indices, dtype, size, parameters, mode "full" or "compile") and prints one line
``CLGRAD_TUNE_RESULT {...}``. If the driver crashes, the line never comes and the parent records
the candidate as a runtime failure.
"""
import importlib
import json
import sys


def _build_tunable(spec):
    module, _, qualname = spec["factory"].partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj(**spec.get("kwargs", {}))


def main():
    job = json.loads(sys.stdin.read())
    from ..runtime import all_devices
    from .bench import RESULT_TAG, Evaluator
    pi, di = job["device"]
    device = next(d for d in all_devices() if d.platform_index == pi and d.device_index == di)
    tunable = _build_tunable(job["tunable"])
    ev = Evaluator(tunable, device, job["dtype"], tuple(job["size"]), seed=job["seed"],
                   iterations=job["iterations"], warmup=job["warmup"], timeout=job["timeout"])
    try:
        if job["mode"] == "compile":
            rec = ev.compile_only(job["params"])
        else:
            rec = ev.measure(job["params"])
    finally:
        ev.close()
    sys.stdout.write(RESULT_TAG + json.dumps(rec) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
