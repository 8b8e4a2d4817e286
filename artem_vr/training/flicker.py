"""Flicker measures and synthetic sequences with known motion (shared by bench_flicker and tests).

A sequence is a list of ``(H,W,3) uint8`` RGB frames plus, for each pair of neighbours, the exact
backward warp that maps frame t+1 onto frame t: ``(map_x, map_y, valid)``, float32 ``(H,W)`` pixel
coordinates into frame t+1 (for ``cv2.remap``) and a bool ``(H,W)`` mask of the pixels of frame t
that frame t+1 still shows (not occluded, not past the border).

Flicker is the warping error of Lai et al., "Learning Blind Video Temporal Consistency" (ECCV 2018):
the mean over neighbours of the mean squared difference, over valid pixels and channels, between
output frame t and output frame t+1 warped back onto it, in [0,1] units. On a static scene it is
the mean squared frame-to-frame change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

Warp = Tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Sequence:
    name: str
    frames: List[np.ndarray]
    warps: List[Warp]                       # len(frames) - 1
    static: Optional[np.ndarray] = None     # (H,W) bool: pixels that never change (desktop case)
    notes: dict = field(default_factory=dict)


def _identity(h: int, w: int):
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs, ys


def _noisy(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if sigma <= 0:
        return img.copy()
    return np.clip(img.astype(np.float32) + rng.normal(0.0, sigma, img.shape), 0, 255).round().astype(np.uint8)


def static_sequence(photo: np.ndarray, frames: int, sigma: float, seed: int = 0) -> Sequence:
    """The same ``(H,W,3)`` picture ``frames`` times with independent Gaussian noise of ``sigma``
    grey levels (a camera on a tripod)."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    xs, ys = _identity(h, w)
    warp = (xs, ys, np.ones((h, w), bool))
    return Sequence(f"static_noise{sigma:g}", [_noisy(photo, sigma, rng) for _ in range(frames)],
                    [warp] * (frames - 1), static=np.ones((h, w), bool))


def pan_sequence(photo: np.ndarray, size: Tuple[int, int], frames: int, speed: Tuple[float, float],
                 sigma: float = 0.0, seed: int = 0) -> Sequence:
    """A ``size`` (W,H) camera panning over a larger ``photo`` by ``speed`` (dx,dy) pixels a frame
    (sub-pixel speeds resample bilinearly), plus noise of ``sigma`` grey levels.
    Frame t at p shows photo(p + t*speed), so frame t = frame t+1 at p - speed."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    dx, dy = speed
    need_w, need_h = w + abs(dx) * frames + 2, h + abs(dy) * frames + 2
    ph, pw = photo.shape[:2]
    scale = max(need_w / pw, need_h / ph, 1.0)
    if scale > 1.0:
        photo = cv2.resize(photo, (int(np.ceil(pw * scale)), int(np.ceil(ph * scale))), interpolation=cv2.INTER_CUBIC)
    x0 = 1.0 if dx >= 0 else photo.shape[1] - w - 1.0
    y0 = 1.0 if dy >= 0 else photo.shape[0] - h - 1.0
    out = []
    for t in range(frames):
        m = np.float32([[1, 0, -(x0 + t * dx)], [0, 1, -(y0 + t * dy)]])
        out.append(_noisy(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR), sigma, rng))
    xs, ys = _identity(h, w)
    mx, my = xs - dx, ys - dy
    valid = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return Sequence(f"pan{dx:g}x{dy:g}_noise{sigma:g}", out, [(mx, my, valid)] * (frames - 1))


def window_sequence(desktop: np.ndarray, window: np.ndarray, frames: int, start: Tuple[int, int],
                    speed: Tuple[int, int]) -> Sequence:
    """A static ``desktop`` ``(H,W,3)`` with one ``window`` ``(h,w,3)`` dragged across it by an
    integer ``speed`` (dx,dy) a frame from ``start`` (x,y), no noise. ``static`` marks the desktop
    pixels the window never touches."""
    H, W = desktop.shape[:2]
    wh, ww = window.shape[:2]
    dx, dy = speed
    xs, ys = _identity(H, W)
    out, warps, touched = [], [], np.zeros((H, W), bool)

    def rect(t):
        x, y = start[0] + t * dx, start[1] + t * dy
        return max(0, x), max(0, y), min(W, x + ww), min(H, y + wh), x, y

    for t in range(frames):
        frame = desktop.copy()
        x0, y0, x1, y1, x, y = rect(t)
        frame[y0:y1, x0:x1] = window[y0 - y:y1 - y, x0 - x:x1 - x]
        touched[y0:y1, x0:x1] = True
        out.append(frame)
    for t in range(frames - 1):
        a, b = rect(t), rect(t + 1)
        in_a = np.zeros((H, W), bool)
        in_a[a[1]:a[3], a[0]:a[2]] = True
        in_b = np.zeros((H, W), bool)
        in_b[b[1]:b[3], b[0]:b[2]] = True
        mx, my = xs.copy(), ys.copy()
        mx[in_a] += dx
        my[in_a] += dy
        inside = (mx >= 0) & (mx <= W - 1) & (my >= 0) & (my <= H - 1)
        # window pixels stay window pixels; desktop pixels count unless the window covers them next
        valid = inside & (in_a | ~in_b)
        warps.append((mx, my, valid))
    return Sequence(f"window{dx}x{dy}", out, warps, static=~touched)


def warping_error(frames: List[np.ndarray], warps: List[Warp], margin: int = 8,
                  region: Optional[np.ndarray] = None) -> float:
    """Lai et al.'s warping error of ``frames`` ``(H,W,3) uint8`` under the sequence's exact
    ``warps``: mean squared difference in [0,1] units over valid pixels (``margin`` px border and,
    if given, pixels outside the bool ``region`` left out)."""
    import cv2

    errors = []
    for t in range(len(frames) - 1):
        mx, my, valid = warps[t]
        back = cv2.remap(frames[t + 1].astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = valid.copy()
        if region is not None:
            mask &= region
        if margin:
            mask[:margin] = mask[-margin:] = False
            mask[:, :margin] = mask[:, -margin:] = False
        if not mask.any():
            continue
        diff = (back - frames[t].astype(np.float32)) / 255.0
        errors.append(float(np.mean(diff[mask] ** 2)))
    return float(np.mean(errors)) if errors else 0.0


def texture_energy(frames: List[np.ndarray], margin: int = 8) -> float:
    """Mean Sobel gradient magnitude of the luma of ``frames`` ``(H,W,3) uint8``, [0,1] units."""
    import cv2

    total = []
    for f in frames:
        y = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.sqrt(gx * gx + gy * gy)
        total.append(float(mag[margin:-margin, margin:-margin].mean() if margin else mag.mean()))
    return float(np.mean(total))


def mean_frame_change(frames: List[np.ndarray]) -> float:
    """Mean squared frame-to-frame change, [0,1] units (flicker of a static scene)."""
    diffs = [np.mean(((frames[i + 1].astype(np.float32) - frames[i].astype(np.float32)) / 255.0) ** 2)
             for i in range(len(frames) - 1)]
    return float(np.mean(diffs)) if diffs else 0.0
