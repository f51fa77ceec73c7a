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


def interleaved_samples(runs, repeat=7, warmup=1):
    """Seconds per call of each run in ``runs`` (a list of ``(fn, sync, number)``), one list
    per run, the repetitions alternated between them: a machine whose load drifts during the
    measurement (other processes) slows every run alike, so their ratios stay comparable."""
    for fn, sync, _ in runs:
        for _ in range(warmup):
            fn()
            if sync:
                sync()
    times = [[] for _ in runs]
    clock = time.perf_counter
    for _ in range(repeat):
        for (fn, sync, number), ts in zip(runs, times):
            t0 = clock()
            for _ in range(number):
                fn()
            if sync:
                sync()
            ts.append((clock() - t0) / number)
    return times


def interleaved_times(runs, repeat=7, warmup=1):
    """Median seconds per call of each run (``interleaved_samples``)."""
    return [statistics.median(ts) for ts in interleaved_samples(runs, repeat, warmup)]


def _alternated(a, b, rounds, measure):
    """``measure(fn, sync, number)`` of ``a`` then of ``b`` (each ``(fn, sync[, number])``),
    ``rounds`` times: (median of the per-round ratios, the ratios, a's times, b's times)."""
    ratios, ta, tb = [], [], []
    for _ in range(rounds):
        x, y = measure(*a), measure(*b)
        ratios.append(x / y)
        ta.append(x)
        tb.append(y)
    return statistics.median(ratios), ratios, ta, tb


def alternated_ratio(a, b, rounds=6, block=30):
    """Median over ``rounds`` of (median seconds of ``a``) / (median seconds of ``b``), each
    timed over a block of ``block`` calls, the blocks alternated; ``a`` and ``b`` are
    ``(fn, sync)``. Blocks rather than single calls: a peer whose worker threads keep spinning
    after a call (OpenMP) slows only the first calls of the other's block, which the median
    leaves out. Returns (ratio, per-round ratios)."""
    ratio, ratios, _, _ = _alternated(
        a, b, rounds, lambda fn, sync: _median(fn, sync, block, 1, 1, time.perf_counter, True))
    return ratio, ratios


def alternated_host_ratio(a, b, rounds=15):
    """Median over ``rounds`` of (CPU seconds of the calling thread per call of ``a``) /
    (the same of ``b``), the two measured one after the other in each round; ``a`` and ``b``
    are ``(fn, sync, number)`` (``sync`` after each batch of ``number`` calls, not counted).
    Returns (ratio, seconds per call of a, seconds per call of b), medians."""
    ratio, _, ta, tb = _alternated(
        a, b, rounds,
        lambda fn, sync, number: _median(fn, sync, 1, number, 0, time.thread_time, False))
    return ratio, statistics.median(ta), statistics.median(tb)
