"""Timing helpers: medians of repeated runs, each ended by a device synchronisation."""
import statistics
import time


def _median(fn, sync, repeat, number, warmup, clock, sync_inside):
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        if sync and sync_inside:
            sync()
        times.append((clock() - t0) / number)
        if sync and not sync_inside:
            sync()
    return statistics.median(times)


def median_time(fn, sync=None, repeat=7, number=1, warmup=1):
    """Median seconds per call of ``fn`` (``sync`` is called after each batch of ``number``)."""
    return _median(fn, sync, repeat, number, warmup, time.perf_counter, True)


def median_host_time(fn, sync=None, repeat=7, number=1, warmup=1):
    """Median CPU seconds of the calling thread per call of ``fn`` (the host's own cost: device
    execution, waits and other processes do not count)."""
    return _median(fn, sync, repeat, number, warmup, time.thread_time, False)
