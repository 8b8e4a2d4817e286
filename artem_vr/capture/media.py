"""Video files and still images as sources."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CaptureError, InputError
from ..images import read_image
from .base import Source


class VideoSource(Source):
    """A video file, paced at its own fps. Loops in live modes (``loop``); ends in offline runs."""

    on_demand = True

    def __init__(self, path, loop: bool = True):
        self.path = Path(path)
        self.loop = loop
        self.name = f"video:{self.path.name}"
        if not self.path.is_file():
            raise InputError(f"video file not found: {self.path}")
        self._cap = None

    def open(self) -> None:
        import cv2

        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise CaptureError(f"cannot open video {self.path} (unsupported or broken file)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.rate = fps if fps and 1 <= fps <= 240 else 30.0
        self._read_any = False

    def read(self):
        import cv2

        ok, frame = self._cap.read()
        if not ok:
            if not self._read_any:
                raise CaptureError(f"{self.path} has no readable frames")
            if not self.loop:
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
            if not ok:
                return None
        self._read_any = True
        return frame, "bgr"

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageSource(Source):
    """A still image, delivered repeatedly at ``fps`` so the pipeline keeps flowing."""

    on_demand = True

    def __init__(self, path, fps: float = 30.0):
        self.path = Path(path)
        self.rate = fps
        self.name = f"image:{self.path.name}"
        self.pixels: np.ndarray = read_image(self.path)  # decode errors surface before any thread starts
        if min(self.pixels.shape[:2]) < 32:
            raise InputError(f"{self.path} is too small; both sides need at least 32 px")

    def read(self):
        return self.pixels, "rgb"
