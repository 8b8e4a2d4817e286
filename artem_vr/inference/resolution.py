"""Dynamic inference resolution: the largest inference size that keeps inference within a budget.

VR games hold their frame rate by rendering at a lower resolution when the GPU falls behind; the
live worker does the same for the style net. :class:`DynamicResolution` watches how long each frame
took (the worker's whole per-frame time: conversion, net, stabiliser) and steps the inference box
along a fixed ladder of sizes between a floor and a ceiling:

- the ladder's boxes keep the ceiling's aspect, are multiples of 4 and about 1.25x apart in pixels
  (320x180 and 640x360 among them for a 1280x720 ceiling);
- **down** as soon as a robust high percentile (the p80 of the last second, at least 5 frames, so
  one spike does not count; or three frames in a row when frames are slow) exceeds the budget: straight to the largest box predicted to take at most
  ``target`` of the budget (cost is taken as proportional to pixels: conservative going up, and
  a second step down follows a second later if the prediction was short);
- **up** only when the prediction for a bigger box is within ``target`` of the budget, at most
  two rungs at a time, and never back to a box that was too slow in the last ``block_s`` seconds
  (hysteresis: a box that failed is not retried at once, so the size does not pump);
- at most one change every ``min_interval`` seconds, and the first frame after a change (a new
  CUDA graph, new buffers) is not counted.

The budget is milliseconds per frame, fixed or a callable read at every decision (the capture's
measured frame period, which a webcam only reveals at run time). ``clock`` is injectable for tests.
"""
from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable, Deque, Dict, List, Optional, Tuple, Union

Size = Tuple[int, int]


def size_ladder(floor: Size, ceiling: Size, ratio: float = 1.25) -> List[Size]:
    """Boxes from about ``floor`` up to ``ceiling`` (W,H), ascending, about ``ratio`` apart in pixel
    count. Each is a whole multiple of the ceiling's smallest exact-aspect step whose sides are
    multiples of 4 (1280x720: 64x36, so 320x180 and 640x360 are rungs); a ceiling with no such small
    step gets sides rounded to multiples of 4 instead."""
    cw, ch = (max(32, c // 4 * 4) for c in ceiling)
    g = math.gcd(cw // 4, ch // 4)
    uw, uh = cw // g, ch // g
    if g < 8:  # no small exact step: approximate the aspect
        g, uw, uh = 64, cw / 64, ch / 64
    k_min = max(1, math.ceil(max(floor[0] / uw, floor[1] / uh) - 1e-9))
    if k_min > g:
        raise ValueError(f"floor {floor[0]}x{floor[1]} is above the ceiling {cw}x{ch}")
    lin = math.sqrt(ratio)
    ks, s = [], 1.0
    while True:
        k = max(k_min, round(g * s))
        if not ks or k < ks[-1]:
            ks.append(k)
        if k == k_min:
            break
        s /= lin
    return [(max(32, 4 * round(uw * k / 4)), max(32, 4 * round(uh * k / 4))) for k in reversed(ks)]


class DynamicResolution:
    """``box``: the inference box to use now. Call :meth:`observe` with each frame's milliseconds."""

    def __init__(self, floor: Size, ceiling: Size, budget_ms: Union[float, Callable[[], Optional[float]]],
                 start: Optional[Size] = None, target: float = 0.8, up_max_steps: int = 2,
                 min_interval: float = 1.0, window: float = 1.0, min_samples: int = 5, block_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.ladder = size_ladder(floor, ceiling)
        self.budget = budget_ms
        self.target = target
        self.up_max_steps = up_max_steps
        self.min_interval = min_interval
        self.window = window
        self.min_samples = min_samples
        self.block_s = block_s
        self.clock = clock
        self.index = self._nearest(start) if start else 0
        self.top = len(self.ladder) - 1          # lowered by limit(): nothing above the source / memory
        self.changes = 0
        self._samples: Deque[Tuple[float, float]] = deque(maxlen=240)
        self._skip = 1
        self._last_change = clock()
        self._blocked: Dict[int, float] = {}     # ladder index -> until when going up to it is barred

    @property
    def box(self) -> Size:
        return self.ladder[self.index]

    def budget_ms(self) -> Optional[float]:
        value = self.budget() if callable(self.budget) else self.budget
        return float(value) if value and value > 0 else None

    def _nearest(self, size: Size) -> int:
        px = size[0] * size[1]
        fits = [i for i, (w, h) in enumerate(self.ladder) if w * h <= px * 1.01]
        return fits[-1] if fits else 0

    def limit(self, size: Size) -> None:
        """No box above ``size`` (the source's own size, or what fits in memory): the top rung that fits."""
        self.top = self._nearest(size)
        if self.index > self.top:
            self._change(self.top, self.clock())

    def observe(self, ms: float, now: Optional[float] = None) -> bool:
        """Record one frame's time; returns True when the box changed."""
        now = self.clock() if now is None else now
        if self._skip:
            self._skip -= 1
            return False
        self._samples.append((now, ms))
        budget = self.budget_ms()
        if budget is None or now - self._last_change < self.min_interval:
            return False
        recent = [m for t, m in self._samples if t >= now - self.window]
        if len(recent) < self.min_samples:
            recent = [m for _, m in list(self._samples)[-self.min_samples:]]
            last = recent[-3:]
            if len(recent) < self.min_samples and not (len(last) == 3 and min(last) > budget):
                return False  # too few frames to judge, unless three slow ones in a row (slow frames)
        recent.sort()
        high = recent[int(0.8 * (len(recent) - 1))]   # p80, "lower": one spike in five does not count
        per_pixel = high / self._pixels(self.index)
        goal = self.target * budget
        if high > budget and self.index > 0:
            fits = [i for i in range(self.index) if per_pixel * self._pixels(i) <= goal]
            new = fits[-1] if fits else 0
            self._blocked[self.index] = now + self.block_s
            return self._change(new, now)
        if high <= goal:
            new = self.index
            for i in range(self.index + 1, min(self.top, self.index + self.up_max_steps) + 1):
                if self._blocked.get(i, 0.0) > now or per_pixel * self._pixels(i) > goal:
                    break
                new = i
            if new != self.index:
                return self._change(new, now)
        return False

    def _pixels(self, i: int) -> int:
        w, h = self.ladder[i]
        return w * h

    def _change(self, index: int, now: float) -> bool:
        if index == self.index:
            return False
        self.index = index
        self.changes += 1
        self._last_change = now
        self._samples.clear()
        self._skip = 1
        return True
