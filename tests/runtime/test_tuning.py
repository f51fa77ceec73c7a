"""The store of tuned parameters (``clgrad.runtime.tuning``, which the tuning tool reaches as
``clgrad.tune.db``): lookup order, corruption handling, memoisation, atomic concurrent writes
(no device needed: devices are described by fake capabilities)."""
import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from clgrad.runtime import tuning as db
from clgrad.runtime.shipped import SHIPPED
from fakes import fake_caps

DEFAULT = {"TS": 1, "VW": 1}


@pytest.fixture
def shipped(monkeypatch):
    """Shipped defaults for the test kernel 'tk' (restored afterwards)."""
    entries = {
        "NVIDIA/gpu": {"tk": {"float32": {"default": {"params": {"TS": 40, "VW": 4}}}}},
        "*/gpu": {"tk": {"*": {"default": {"params": {"TS": 50, "VW": 5}}}}},
    }
    for k, v in entries.items():
        monkeypatch.setitem(SHIPPED, k, dict(SHIPPED.get(k, {}), **v))
    db.reload()
    yield
    db.reload()


def test_fallback_order_device_vendor_shipped_caller(tuning_db, shipped):
    me = fake_caps(name="Card A", driver="2.0")
    same_name_old_driver = fake_caps(name="Card A", driver="1.0")
    sibling = fake_caps(name="Card B")
    other_vendor = fake_caps(name="Card C", vendor="Advanced Micro Devices, Inc.")
    f32 = "float32"
    # nothing stored: shipped vendor/type default, then shipped */type, then the caller's
    assert db.params_for(me, "tk", f32, "large", DEFAULT) == {"TS": 40, "VW": 4}
    assert db.params_for(other_vendor, "tk", f32, "large", DEFAULT) == {"TS": 50, "VW": 5}
    cpu = fake_caps(name="Some CPU", kind="cpu", vendor="GenuineIntel")
    assert db.params_for(cpu, "tk", f32, "large", DEFAULT) == DEFAULT
    assert db.params_for(me, "unknown_kernel", f32, "large", DEFAULT) == DEFAULT
    # another device of the same vendor and type
    db.store(sibling, "tk", f32, "large", {"TS": 30, "VW": 3})
    assert db.params_for(me, "tk", f32, "large", DEFAULT) == {"TS": 30, "VW": 3}
    assert db.params_for(other_vendor, "tk", f32, "large", DEFAULT) == {"TS": 50, "VW": 5}
    # the same device under another driver version wins over the sibling
    db.store(same_name_old_driver, "tk", f32, "large", {"TS": 20, "VW": 2})
    assert db.params_for(me, "tk", f32, "large", DEFAULT) == {"TS": 20, "VW": 2}
    # this very device wins over everything
    db.store(me, "tk", f32, "large", {"TS": 10, "VW": 1})
    assert db.params_for(me, "tk", f32, "large", DEFAULT) == {"TS": 10, "VW": 1}
    # dtype and size bucket are part of the key: other ones fall back
    assert db.params_for(me, "tk", "float64", "large", DEFAULT) == {"TS": 50, "VW": 5}
    assert db.params_for(me, "tk", f32, "small", DEFAULT) == {"TS": 40, "VW": 4}
    # the "default" bucket of a level answers for every size before the next level
    db.store(me, "tk", f32, "default", {"TS": 11, "VW": 1})
    assert db.params_for(me, "tk", f32, "small", DEFAULT) == {"TS": 11, "VW": 1}


def test_borrowed_entries_must_fit_this_device(tuning_db, shipped):
    big = fake_caps(name="Big", max_wg=2048)
    small = fake_caps(name="Small", max_wg=256)
    db.store(big, "tk2", "float32", "default", {"TS": 1024, "VW": 1})
    db.register_fit_check("tk2", lambda p, caps, d: p["TS"] <= caps.max_wg)
    try:
        assert db.params_for(big, "tk2", "float32", "x", DEFAULT) == {"TS": 1024, "VW": 1}
        # too large for the small device: skipped, the caller's default is used
        assert db.params_for(small, "tk2", "float32", "x", DEFAULT) == DEFAULT
    finally:
        db.register_fit_check("tk2", None)


def test_answer_has_exactly_the_callers_keys(tuning_db):
    me = fake_caps()
    db.store(me, "tk", "float32", "default", {"TS": 8, "OLD": 3})
    assert db.params_for(me, "tk", "float32", "s", {"TS": 1, "VW": 2}) == {"TS": 8, "VW": 2}
    assert db.params_for(me, "tk", "float32", "s", {}) == {"TS": 8, "OLD": 3}


def test_result_is_a_copy(tuning_db):
    me = fake_caps()
    db.store(me, "tk", "float32", "default", {"TS": 8, "VW": 2})
    got = db.params_for(me, "tk", "float32", "s", DEFAULT)
    got["TS"] = 999
    assert db.params_for(me, "tk", "float32", "s", DEFAULT)["TS"] == 8


def test_memoised_no_file_io_after_first_call(tuning_db, monkeypatch):
    me = fake_caps()
    db.store(me, "tk", "float32", "default", {"TS": 8, "VW": 2})
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == {"TS": 8, "VW": 2}

    def no_io(*a, **k):
        raise AssertionError("params_for touched the file system")
    monkeypatch.setattr(db, "read_file", no_io)
    monkeypatch.setattr(Path, "read_bytes", no_io)
    monkeypatch.setattr(Path, "exists", no_io)
    for _ in range(3):
        assert db.params_for(me, "tk", "float32", "s", DEFAULT) == {"TS": 8, "VW": 2}
    # a miss for another key is answered from the loaded document, still without I/O
    assert db.params_for(me, "tk", "float64", "s", DEFAULT) == DEFAULT


def test_reload_sees_changes_made_by_another_process(tuning_db):
    me = fake_caps()
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == DEFAULT
    doc = {"format": "clgrad-tuning-db", "schema": 1, "devices": {me.key: {
        "platform": me.platform, "name": me.name, "driver": me.driver_version,
        "vendor": "NVIDIA", "type": "gpu",
        "kernels": {"tk": {"float32": {"default": {"params": {"TS": 4}}}}}}}}
    db.write_document(tuning_db, doc)
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == DEFAULT   # memoised
    db.reload()
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == {"TS": 4, "VW": 1}


@pytest.mark.parametrize("damage", ["garbage", "truncate", "edit", "schema", "structure"])
def test_corrupted_database_is_ignored_with_a_warning(tuning_db, damage):
    me = fake_caps()
    db.store(me, "tk", "float32", "default", {"TS": 8, "VW": 2})
    text = tuning_db.read_text()
    if damage == "garbage":
        tuning_db.write_bytes(b"\x00\xffnot json at all")
    elif damage == "truncate":
        tuning_db.write_text(text[: len(text) // 2])
    elif damage == "edit":           # valid JSON, but the checksum no longer matches
        tuning_db.write_text(text.replace('"TS": 8', '"TS": 9'))
    elif damage == "schema":
        d = json.loads(text)
        d["schema"] = 99
        tuning_db.write_text(json.dumps(d))
    else:
        d = json.loads(text)
        d["devices"][me.key]["kernels"]["tk"]["float32"]["default"]["params"]["TS"] = [1, 2]
        d["checksum"] = db.checksum(d["devices"])
        tuning_db.write_text(json.dumps(d))
    db.reload()
    with pytest.warns(db.TuningDatabaseWarning, match="ignoring it"):
        got = db.params_for(me, "tk", "float32", "s", DEFAULT)
    assert got == DEFAULT


def test_store_over_a_corrupted_file_moves_it_aside(tuning_db):
    tuning_db.write_text("{broken")
    me = fake_caps()
    with pytest.warns(db.TuningDatabaseWarning, match="moved it"):
        db.store(me, "tk", "float32", "default", {"TS": 8, "VW": 2})
    assert list(tuning_db.parent.glob("tuning_db.json.corrupt-*"))
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == {"TS": 8, "VW": 2}


def test_store_rejects_non_scalar_values(tuning_db):
    with pytest.raises(ValueError, match="JSON scalar"):
        db.store(fake_caps(), "tk", "float32", "default", {"TS": [1, 2]})
    assert not tuning_db.exists()


def test_clear(tuning_db):
    a, b = fake_caps(name="A"), fake_caps(name="B")
    db.store(a, "tk", "float32", "default", {"TS": 8})
    db.store(a, "other", "float32", "default", {"TS": 8})
    db.store(b, "tk", "float32", "default", {"TS": 4})
    assert db.clear(device=a, kernel="tk") == 1
    assert db.params_for(a, "tk", "float32", "s", DEFAULT) == {"TS": 4, "VW": 1}   # from B
    assert db.clear(kernel="tk") == 1
    assert db.params_for(a, "tk", "float32", "s", DEFAULT) == DEFAULT
    assert db.params_for(a, "other", "float32", "s", DEFAULT) == {"TS": 8, "VW": 1}
    assert db.clear() >= 1
    assert not tuning_db.exists()
    assert db.params_for(a, "other", "float32", "s", DEFAULT) == DEFAULT


def test_locations_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CLGRAD_TUNING_DB", raising=False)
    monkeypatch.setenv("CLGRAD_CACHE_DIR", str(tmp_path / "cache"))
    assert db.db_path() == tmp_path / "cache" / "tuning" / "tuning_db.json"
    assert db.log_root() == tmp_path / "cache" / "tuning" / "logs"
    monkeypatch.setenv("CLGRAD_TUNING_DB", str(tmp_path / "x.json"))
    assert db.db_path() == tmp_path / "x.json"
    monkeypatch.delenv("CLGRAD_CACHE_DIR")
    monkeypatch.delenv("CLGRAD_TUNING_DB")
    import platformdirs
    assert db.db_path() == Path(platformdirs.user_cache_dir("clgrad")) / "tuning" / \
        "tuning_db.json"


def test_vendor_names_are_normalised():
    assert db.normalize_vendor("Advanced Micro Devices, Inc.") == "AMD"
    assert db.normalize_vendor("NVIDIA Corporation") == "NVIDIA"
    assert db.normalize_vendor("Intel(R) Corporation") == "Intel"
    assert db.normalize_vendor("GenuineIntel") == "Intel"
    assert db.normalize_vendor("ARM") == "ARM"
    assert db.normalize_vendor("Acme Accelerators") == "Acme Accelerators"
    assert db.normalize_name("pthread-Intel(R) Xeon(R)") == "Intel(R) Xeon(R)"


def test_override_is_scoped_and_thread_local(tuning_db):
    me = fake_caps()
    seen = {}
    with db.override("tk", {"TS": 64}) as o:
        assert not o.consulted
        assert db.params_for(me, "tk", "float32", "s", DEFAULT) == {"TS": 64, "VW": 1}
        assert o.consulted
        t = threading.Thread(target=lambda: seen.update(
            other=db.params_for(me, "tk", "float32", "s", DEFAULT)))
        t.start()
        t.join()
    assert seen["other"] == DEFAULT
    assert db.params_for(me, "tk", "float32", "s", DEFAULT) == DEFAULT
    with db.override("tk", {"TS": 64}, dtype="float64"):
        assert db.params_for(me, "tk", "float32", "s", DEFAULT) == DEFAULT


def _store_many(path, worker, n):
    os.environ["CLGRAD_TUNING_DB"] = path
    db.reload()
    caps = fake_caps(name=f"Card {worker}")
    for i in range(n):
        db.store(caps, f"k{i}", "float32", "default", {"TS": worker * 100 + i})


def test_concurrent_writers_keep_the_file_whole(tuning_db):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_store_many, args=(str(tuning_db), w, 8)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    db.reload()
    doc = db.entries()   # validates the checksum; a torn write would warn and come back empty
    assert len(doc["devices"]) == 4
    for w in range(4):
        caps = fake_caps(name=f"Card {w}")
        for i in range(8):
            assert db.params_for(caps, f"k{i}", "float32", "s", {"TS": 0}) == {"TS": w * 100 + i}
    assert not list(tuning_db.parent.glob(".tmp-*"))
