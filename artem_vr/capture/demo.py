"""``--source demo``: a slow pan and zoom over a bundled public-domain portrait (an astronaut in an
orange suit, the flag and a shuttle behind her; mirrored like a webcam preview), framed whole, so anyone can try artem-vr with no
camera and see what it does to a person, as a webcam would show one. Deterministic for a given
frame number.
"""
from __future__ import annotations

import math

import numpy as np

from ..images import read_image
from ..resources import assets_dir
from .base import Source

PHOTO = "astronaut.jpg"


def demo_frame(photo: np.ndarray, t: float, size=(640, 360)) -> np.ndarray:
    """The demo scene at time ``t`` seconds: ``(h, w, 3) uint8`` RGB. The view spans the photo's width
    (at most 8% zoomed in) and drifts between the face and the suit, never leaving the photo."""
    import cv2

    w, h = size
    ph, pw = photo.shape[:2]
    zoom = 1.0 + 0.04 * (1.0 - math.cos(t * 0.21))
    cw = min(pw, ph * w / h) / zoom
    ch = cw * h / w
    cx = pw / 2 + (pw - cw) / 2 * math.sin(t * 0.13)
    lo, hi = ch / 2, ph - ch / 2
    cy = lo + (hi - lo) * (0.09 + 0.08 * math.sin(t * 0.25))  # the face always in view
    sx, sy = cw / w, ch / h
    affine = np.array([[sx, 0, cx - cw / 2], [0, sy, cy - ch / 2]], np.float32)
    return cv2.warpAffine(photo, affine, (w, h), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


class DemoSource(Source):
    name = "demo"
    on_demand = True

    def __init__(self, size=(640, 360), fps: float = 30.0):
        self.size = size
        self.rate = fps
        # mirrored, as a webcam preview is: the face then sits right of centre, clear of the HUD
        self.photo = np.ascontiguousarray(read_image(assets_dir() / PHOTO)[:, ::-1])
        self._n = 0

    def read(self):
        frame = demo_frame(self.photo, self._n / self.rate, self.size)
        self._n += 1
        return frame, "rgb"

    def media_time(self, index: int) -> float:
        """Seconds of the ``index``-th frame on the demo's own clock (``index / rate``): a file written
        from the demo is rendered in lock-step like a video, so the same command gives the same file."""
        return index / self.rate
