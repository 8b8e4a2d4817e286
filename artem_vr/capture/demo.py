"""``--source demo``: a slow pan and zoom over a bundled public-domain photo with a moving
light, so anyone can try artem-vr with no camera. Deterministic for a given frame number."""
from __future__ import annotations

import math

import numpy as np

from ..images import read_image
from ..resources import assets_dir
from .base import Source

PHOTO = "rocket.jpg"


def demo_frame(photo: np.ndarray, t: float, size=(640, 360)) -> np.ndarray:
    """The demo scene at time ``t`` seconds: ``(h, w, 3) uint8`` RGB."""
    import cv2

    w, h = size
    ph, pw = photo.shape[:2]
    zoom = 1.25 + 0.2 * math.sin(t * 0.31)
    # crop window with the output's aspect, moving on a slow Lissajous path
    cw = min(pw, ph * w / h) / zoom
    ch = cw * h / w
    cx = pw / 2 + (pw - cw) / 2 * 0.9 * math.sin(t * 0.23)
    cy = ph / 2 + (ph - ch) / 2 * 0.9 * math.sin(t * 0.17 + 1.0)
    sx, sy = cw / w, ch / h
    affine = np.array([[sx, 0, cx - cw / 2], [0, sy, cy - ch / 2]], np.float32)
    frame = cv2.warpAffine(photo, affine, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    # a soft warm light drifting across, so even still regions change
    lx, ly = w * (0.5 + 0.4 * math.cos(t * 0.7)), h * (0.5 + 0.35 * math.sin(t * 0.9))
    cv2.circle(frame, (int(lx), int(ly)), int(min(w, h) * 0.08), (255, 214, 120), -1, lineType=cv2.LINE_AA)
    return frame


class DemoSource(Source):
    name = "demo"
    on_demand = True

    def __init__(self, size=(640, 360), fps: float = 30.0):
        self.size = size
        self.rate = fps
        self.photo = read_image(assets_dir() / PHOTO)
        self._n = 0

    def read(self):
        frame = demo_frame(self.photo, self._n / self.rate, self.size)
        self._n += 1
        return frame, "rgb"
