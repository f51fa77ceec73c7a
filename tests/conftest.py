"""Suite-wide setup: tests/ on sys.path for the shared helpers, and float64 skips.

The suite runs on whatever device the environment selects. On a device without cl_khr_fp64
(or under CLGRAD_DEVICE_LIMITS=fp64=0) a test that needs float64 gets clgrad's documented
DeviceCapabilityError; such a test is reported as skipped ("needs float64"), while every other
failure still fails.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _device_has_fp64():
    try:
        from clgrad.runtime import default_device
        return default_device().caps.fp64
    except Exception:  # noqa: BLE001  (no device: let the tests themselves fail)
        return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    exc = outcome.excinfo
    if exc is None or _device_has_fp64():
        return
    from clgrad.base import DeviceCapabilityError
    err = exc[1]
    while err is not None and not isinstance(err, DeviceCapabilityError):
        err = err.__cause__ or err.__context__
    if err is not None and "float64" in str(err) and \
            item.get_closest_marker("expects_fp64_error") is None:
        outcome.force_exception(pytest.skip.Exception(
            f"needs float64, which this device lacks: {err}", _use_item_location=True))


@pytest.fixture
def tuning_db(tmp_path, monkeypatch):
    """A fresh, empty tuning database file for this test (``CLGRAD_TUNING_DB``), read anew
    before and after it."""
    from clgrad.tune import db
    path = tmp_path / "tuning_db.json"
    monkeypatch.setenv("CLGRAD_TUNING_DB", str(path))
    db.reload()
    yield path
    db.reload()
