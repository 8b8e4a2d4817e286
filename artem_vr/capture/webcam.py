"""Webcam through OpenCV: one buffered frame, MJPG where the camera offers it.

The capture thread reads continuously and the slot keeps only the newest frame, so a slow
consumer never sees stale frames piled up in a driver queue.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

from ..errors import CaptureError
from .base import Source


def _default_backend(cv2) -> int:
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        return cv2.CAP_DSHOW
    return cv2.CAP_ANY


class WebcamSource(Source):
    """``capture_factory(index, backend)`` returns a ``cv2.VideoCapture``-like object (tests swap it)."""

    monitored = True

    def __init__(self, index: int = 0, size=None, capture_factory: Optional[Callable] = None):
        self.index = index
        self.size = size
        self.name = f"webcam:{index}"
        self._factory = capture_factory
        self._cap = None
        self._first = None

    def _hint(self) -> str:
        return "try --source webcam:N with another N, --source screen or --source demo"

    def open(self) -> None:
        import cv2

        factory = self._factory or cv2.VideoCapture
        cap = factory(self.index, _default_backend(cv2))
        if not cap.isOpened():
            cap.release()
            raise CaptureError(f"no webcam at index {self.index}; {self._hint()}")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        if self.size:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise CaptureError(f"webcam {self.index} opened but gives no frames (busy in another app?); "
                               f"{self._hint()}")
        self._cap = cap
        self._first = frame

    def read(self):
        if self._first is not None:
            frame, self._first = self._first, None
            return frame, "bgr"
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CaptureError(f"webcam {self.index} stopped delivering frames (unplugged?)")
        return frame, "bgr"

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
