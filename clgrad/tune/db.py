"""The tuned-parameter store, as the tuning tool writes and reads it: the public functions of
``clgrad.runtime.tuning`` (the store lives in the runtime, which reads it when it builds kernels;
this module is where the tool and its users have always found it)."""
from ..runtime.tuning import (SCHEMA, TuningDatabaseWarning, cache_root, checksum,  # noqa: F401
                              clear, db_path, declare, declared_problem, device_key, dtype_name,
                              entries, evaluate, generation, limits_problem, log_root, lookup,
                              normalize_name, normalize_vendor, override, own_entry, params_for,
                              read_file, register_fit_check, reload, store, validate,
                              vendor_type, write_document)
