"""Screen capture with mss. Frames stay BGRA as mss delivers them (no numpy channel shuffles);
the inference stage swizzles on its device.

No feedback loop: while our own window (or the VR mirror) sits on the captured area, the pipeline
hands its rectangle to :meth:`ScreenSource.exclude`, and that part of each grab is replaced by what
was there before the window covered it, so the window never films itself. That part cannot change
while covered, so on one monitor the window opens beside the action, not over it (see
:meth:`artem_vr.render.window.WindowSink.open`), and while it covers (nearly) all of the captured
area a banner says so for as long as it lasts.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import CaptureError
from .base import Source

Rect = Tuple[int, int, int, int]  # x, y, w, h in desktop pixels
EXCLUDE_MARGIN = 4   # px around our window (a moving window is a frame ahead of what we know)
NOTICE_SECONDS = 5.0
WHOLLY_COVERED = 0.9  # share of the captured area under our windows from which the picture is all but frozen


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
        self._exclude: Tuple[Rect, ...] = ()   # set on the main thread, read on the capture thread
        self._fill = None         # a frame from before our window covered it (BGRA, captured area)
        self._masked_since: Optional[float] = None
        self.masked = False       # whether the last grab had part of our window replaced
        self.covered = 0.0        # the share of the captured area our windows covered in the last grab

    def exclude(self, rects: Sequence[Rect], before: Optional[np.ndarray] = None) -> None:
        """Desktop rectangles ``(x, y, w, h)`` (our windows) to keep out of the picture; ``before``:
        a frame this source grabbed before they opened, whose pixels fill them (else the latest
        frame's, or dark grey). Called from the main thread."""
        if before is not None:
            self._fill = before
        self._exclude = tuple(tuple(int(v) for v in r) for r in rects)

    @property
    def captured_rect(self) -> Optional[Rect]:
        """``(x, y, w, h)`` of the captured area in desktop pixels, once opened (else None)."""
        a = self._area
        return (a["left"], a["top"], a["width"], a["height"]) if a else None

    @property
    def notice(self) -> Optional[str]:
        """A HUD banner: for as long as our window covers (nearly) all of the captured area, else
        for a few seconds after it starts covering part of it."""
        if self.covered >= WHOLLY_COVERED:
            return ("this window covers the captured screen, so the picture cannot change: make the window "
                    "smaller or move it aside (F leaves fullscreen), or capture another monitor or a region")
        if self._masked_since is not None and time.monotonic() - self._masked_since < NOTICE_SECONDS:
            return "this window covers part of the captured screen: that part shows what was there before"
        return None

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
        pixels = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
        return self._mask(pixels), "bgra"

    def _mask(self, pixels: np.ndarray) -> np.ndarray:
        """Replace the parts of ``pixels`` (the captured area) that our windows cover."""
        rects, left, top = self._exclude, self._area["left"], self._area["top"]
        h, w = pixels.shape[:2]
        boxes = []
        for x, y, rw, rh in rects:
            x0, y0 = max(0, x - left - EXCLUDE_MARGIN), max(0, y - top - EXCLUDE_MARGIN)
            x1, y1 = min(w, x - left + rw + EXCLUDE_MARGIN), min(h, y - top + rh + EXCLUDE_MARGIN)
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1, y1))
        if not boxes:
            self.masked, self._masked_since, self.covered = False, None, 0.0
            self._fill = pixels   # the latest clean picture, for when a window comes
            return pixels
        if not pixels.flags.writeable:
            pixels = pixels.copy()
        fill = self._fill if self._fill is not None and self._fill.shape == pixels.shape else None
        for x0, y0, x1, y1 in boxes:
            if fill is not None:
                pixels[y0:y1, x0:x1] = fill[y0:y1, x0:x1]
            else:
                pixels[y0:y1, x0:x1] = (40, 40, 40, 255)
        self._fill = pixels  # the next grab fills from this one: the window's area stays as it was
        was_whole, self.covered = self.covered >= WHOLLY_COVERED, _union_share(boxes, w, h)
        if not self.masked or (was_whole and self.covered < WHOLLY_COVERED):  # the partial banner anew
            self._masked_since = time.monotonic()
        self.masked = True
        return pixels

    def close(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None


def _union_share(boxes, w: int, h: int) -> float:
    """The share of a ``w`` x ``h`` area that the boxes ``(x0, y0, x1, y1)`` (inside it) cover together."""
    if len(boxes) == 1:
        x0, y0, x1, y1 = boxes[0]
        return (x1 - x0) * (y1 - y0) / float(w * h)
    under = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        under[y0:y1, x0:x1] = True
    return float(under.mean())
