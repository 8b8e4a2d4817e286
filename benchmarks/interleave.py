"""The one timing loop of every benchmark here: runners interleaved round by round.

Every runner runs on the same machine state as the others (A, B, C, A, B, C, ...), so a noisy
machine slows all of them alike. In each round a runner runs twice back to back and only the
second run is timed: that is the steady state of a live loop, and the untimed first run absorbs
what the previous runner left behind (another library's busy-waiting threads, cores that a virtual
machine let idle). See bench_inference.py's docstring for what was measured without it.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List


def interleaved(runners: Dict[str, Callable[[], object]], rounds: int, warmup: int = 1,
                settle_s: float = 0.0) -> Dict[str, List[float]]:
    """``runners``: name -> a call with no arguments. Each is called ``warmup`` times first, then
    ``rounds`` rounds run every runner in order: one untimed call, one timed call, then
    ``settle_s`` seconds of sleep (so that a runner whose threads keep spinning after it returns
    does not slow the next one). Returns name -> the ``rounds`` timed calls in milliseconds."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    times: Dict[str, List[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, fn in runners.items():
            fn()  # untimed: settles the cores after the previous runner
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
            if settle_s:
                time.sleep(settle_s)
    return times
