"""Timing shared by the benchmark scripts."""
import time


def best_time(run, repeats=3, warmup=1):
    """Fastest wall time in seconds of ``repeats`` calls to ``run()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
