"""Screen capture with mss. Frames stay BGRA as mss delivers them (no numpy channel shuffles);
the inference stage swizzles on its device."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import CaptureError
from .base import Source


class ScreenSource(Source):
    """``monitor``: mss monitor number (1 = primary); or ``region`` = (x, y, w, h) in desktop pixels."""

    def __init__(self, monitor: int = 1, region: Optional[Tuple[int, int, int, int]] = None, fps: float = 30.0):
        self.monitor = monitor
        self.region = region
        self.rate = fps
        self.name = "screen" if region is None and monitor == 1 else (
            f"screen:{','.join(map(str, region))}" if region else f"screen:{monitor}")
        self._sct = None
        self._area = None

    def open(self) -> None:
        import mss

        try:
            self._sct = mss.MSS()  # made on the capture thread: mss handles are per-thread
            monitors = self._sct.monitors
        except Exception as exc:
            raise CaptureError(f"screen capture is not available ({' '.join(str(exc).split()) or type(exc).__name__}); "
                               "on Linux it needs an X display (Wayland: run under XWayland); "
                               "try --source webcam or --source demo") from None
        if self.region is not None:
            x, y, w, h = self.region
            self._area = {"left": x, "top": y, "width": w, "height": h}
            desk = monitors[0]
            if (x < desk["left"] or y < desk["top"] or x + w > desk["left"] + desk["width"]
                    or y + h > desk["top"] + desk["height"]):
                raise CaptureError(f"region {x},{y},{w},{h} is outside the desktop "
                                   f"({desk['width']}x{desk['height']} at {desk['left']},{desk['top']})")
        else:
            if not 1 <= self.monitor < len(monitors):
                raise CaptureError(f"no monitor {self.monitor}; this desktop has {len(monitors) - 1} "
                                   f"(screen:1..screen:{len(monitors) - 1})")
            self._area = dict(monitors[self.monitor])
        self.read()  # fail now, not on the first frame, if grabbing does not work

    def read(self):
        try:
            shot = self._sct.grab(self._area)
        except Exception as exc:
            raise CaptureError(f"screen capture failed: {' '.join(str(exc).split()) or type(exc).__name__}") from None
        return np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4), "bgra"

    def close(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None
