"""Timing helpers: medians of repeated runs, each ended by a device synchronisation."""
import statistics
import time


def median_time(fn, sync=None, repeat=7, number=1, warmup=1):
    """Median seconds per call of ``fn`` (``sync`` is called after each batch of ``number``)."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def median_host_time(fn, sync=None, repeat=7, number=1, warmup=1):
    """Median CPU seconds of the calling thread per call of ``fn`` (the host's own cost: device
    execution, waits and other processes do not count)."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        times.append((time.thread_time() - t0) / number)
        if sync:
            sync()
    return statistics.median(times)
