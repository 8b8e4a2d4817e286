"""Watches a live camera feed for the ways cameras fail quietly: frames that stop coming, frames
that stop changing (OpenCV often hands back the last frame forever), and a black picture."""
from __future__ import annotations

import time
import zlib
from typing import Optional

import numpy as np

LOST_AFTER_S = 0.5      # no new frame, or identical frames, this long: treat the camera as lost
FROZEN_BANNER_S = 2.0   # identical frames this long: say so
BLACK_BANNER_S = 2.0    # a black picture this long (after warm-up): say so
WARMUP_S = 1.0          # cameras start dark: no black/frozen verdicts before this
BLACK_LEVEL = 8.0       # mean 8-bit level below which a picture counts as black

LOST = "source lost - reconnecting"
FROZEN = "source frozen - the picture stopped changing"
BLACK = "source is black - lens covered or camera off?"


class FeedHealth:
    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.started = clock()
        self.last_frame: Optional[float] = None
        self._signature: Optional[int] = None
        self.same_since: Optional[float] = None
        self.black_since: Optional[float] = None
        self.reconnecting = False

    def observe(self, pixels: np.ndarray, now: Optional[float] = None) -> None:
        """Record a delivered frame (``(H,W,C) uint8``); a strided sample keeps this cheap."""
        now = self.clock() if now is None else now
        sample = np.ascontiguousarray(pixels[::16, ::16, :3])
        signature = zlib.crc32(sample.tobytes())
        if signature != self._signature:
            self._signature, self.same_since = signature, None
        elif self.same_since is None:
            self.same_since = self.last_frame if self.last_frame is not None else now
        if float(sample.mean()) < BLACK_LEVEL:
            self.black_since = self.black_since or now
        else:
            self.black_since = None
        self.last_frame = now

    def frozen_for(self, now: Optional[float] = None) -> float:
        now = self.clock() if now is None else now
        return 0.0 if self.same_since is None else now - self.same_since

    def status(self, now: Optional[float] = None) -> Optional[str]:
        """A banner for the HUD, or None while the feed is healthy."""
        now = self.clock() if now is None else now
        if self.reconnecting or (self.last_frame is not None and now - self.last_frame > LOST_AFTER_S):
            return LOST
        if now - self.started < WARMUP_S:
            return None
        if self.frozen_for(now) >= FROZEN_BANNER_S:
            return FROZEN
        if self.black_since is not None and now - self.black_since >= BLACK_BANNER_S:
            return BLACK
        return None
