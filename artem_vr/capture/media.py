"""Video files and still images as sources. Videos are decoded by :mod:`artem_vr.video` (PyAV), so any
container FFmpeg reads works, frames come as RGB, and each frame's own time is known for recordings."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import CaptureError, InputError
from ..images import read_image
from .base import Source

_KEEP_TIMES = 4096  # frame times remembered for the sink (it asks for each presented frame once)


class VideoSource(Source):
    """A video file, paced at its own mean fps. Loops in live modes (``loop``); ends in offline runs.

    ``media_time(index)``: seconds of the ``index``-th delivered frame from the first frame (loops
    continue the clock); ``origin``: the first frame's own time in the file (s), for aligning audio.
    Raises :class:`InputError` at construction (missing, a folder, not a video, audio only)."""

    on_demand = True

    def __init__(self, path, loop: bool = True):
        from ..video import probe

        self.path = Path(path)
        self.loop = loop
        self.name = f"video:{self.path.name}"
        if self.path.is_dir():
            raise InputError(f"--source video:{self.path} is a folder; name a video file")
        if not self.path.exists():
            raise InputError(f"video file not found: {self.path}")
        self.info = probe(self.path)
        self.rate = self.info.rate if 1 <= self.info.rate <= 240 else 30.0
        self.origin = 0.0
        self._reader = self._frames = None
        self._times: "OrderedDict[int, float]" = OrderedDict()
        self._count = 0
        self._offset = 0.0
        self._last_t = 0.0

    def open(self) -> None:
        from ..video import VideoReader

        try:
            self._reader = VideoReader(self.path)
        except InputError as exc:
            raise CaptureError(str(exc)) from None
        self._frames = iter(self._reader)

    def read(self):
        try:
            rgb, t = next(self._frames)
        except StopIteration:
            if self._count == 0:
                raise CaptureError(f"{self.path} has no readable frames") from None
            if not self.loop:
                return None
            self._offset += self._last_t + 1.0 / self.rate
            self._reader.close()
            self.open()
            try:
                rgb, t = next(self._frames)
            except StopIteration:
                return None
        except InputError as exc:
            raise CaptureError(str(exc)) from None
        if self._count == 0:
            self.origin = self._reader.origin or 0.0
        self._last_t = t
        self._times[self._count] = self._offset + t
        while len(self._times) > _KEEP_TIMES:
            self._times.popitem(last=False)
        self._count += 1
        return rgb, "rgb"

    def media_time(self, index: int) -> Optional[float]:
        return self._times.get(index)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class ImageSource(Source):
    """A still image, delivered repeatedly at ``fps`` so the pipeline keeps flowing; ``count`` times
    and then it ends when given (offline renders: one frame, or ``--frames N``)."""

    on_demand = True

    def __init__(self, path, fps: float = 30.0, count: Optional[int] = None):
        self.path = Path(path)
        self.rate = fps
        self.count = count
        self.name = f"image:{self.path.name}"
        self.pixels: np.ndarray = read_image(self.path)  # decode errors surface before any thread starts
        if min(self.pixels.shape[:2]) < 32:
            raise InputError(f"{self.path} is too small; both sides need at least 32 px")
        self._delivered = 0

    def read(self):
        if self.count is not None and self._delivered >= self.count:
            return None
        self._delivered += 1
        return self.pixels, "rgb"

    def media_time(self, index: int) -> float:
        return index / self.rate
