"""Timings every stage keeps about itself: a window of recent events for live readouts and
bounded full-run samples for the ``--stats`` report."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Deque, Dict, Optional

import numpy as np


def percentiles(samples, qs=(50, 95)) -> Dict[str, Optional[float]]:
    if len(samples) == 0:
        return {f"p{q}": None for q in qs}
    arr = np.asarray(samples, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(arr, q)), 3) for q in qs}


class StageStats:
    """Counts events, their durations (ms) and rate. Thread-safe; bounded memory."""

    def __init__(self, window: int = 120, keep: int = 20000) -> None:
        self._lock = threading.Lock()
        self._recent: Deque[float] = deque(maxlen=window)   # event timestamps
        self._recent_ms: Deque[float] = deque(maxlen=window)
        self._all_ms: Deque[float] = deque(maxlen=keep)
        self.count = 0
        self.first: Optional[float] = None
        self.last: Optional[float] = None

    def record(self, duration_ms: float, now: Optional[float] = None) -> None:
        now = time.perf_counter() if now is None else now
        with self._lock:
            self.count += 1
            self.first = now if self.first is None else self.first
            self.last = now
            self._recent.append(now)
            self._recent_ms.append(duration_ms)
            self._all_ms.append(duration_ms)

    def fps(self) -> float:
        """Rate over the recent window (live readout)."""
        with self._lock:
            if len(self._recent) < 2:
                return 0.0
            span = self._recent[-1] - self._recent[0]
            return (len(self._recent) - 1) / span if span > 0 else 0.0

    def run_fps(self) -> float:
        """Rate over the whole run."""
        with self._lock:
            if self.count < 2 or not self.last or self.last <= self.first:
                return 0.0
            return (self.count - 1) / (self.last - self.first)

    def recent_ms(self) -> float:
        with self._lock:
            return float(np.median(self._recent_ms)) if self._recent_ms else 0.0

    def summary(self) -> Dict[str, Optional[float]]:
        with self._lock:
            return percentiles(list(self._all_ms))
