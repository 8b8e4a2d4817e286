"""Which part of the picture a new frame changes, so a target that keeps its pixels (a recording's
framebuffer) redraws only that part.

On a CPU's software GL the guided upsampling of a 1280x720 recording costs most of the machine
(``benchmarks/bench_screen_record.py``: 36 of ~75 ms of CPU a frame, more than inference), while on
a desktop most of the picture stays as it was from one frame to the next: the stabiliser holds the
stylized pixels of unchanged regions exactly. :class:`ChangeTracker` compares each new stylized
frame and its guide (the full-resolution source) with the previous ones, and gives the output
rectangles whose pixels can differ from the last picture: every output pixel whose guided taps
(``radius``), text mask (``reach``) or guide pixels saw a change. Redrawing those alone gives the
same pixels as redrawing everything (tests/render/test_changes.py checks it on real framebuffers).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

Rect = Tuple[int, int, int, int]
TILE = 16   # stylized pixels a side: the grain of the redrawn rectangles (fewer, larger draws)


class ChangeTracker:
    """Keeps copies of the last stylized frame and guide; :meth:`update` returns the stylized
    pixels whose inputs to the guided pass changed, as a ``(h, w) bool`` mask, or None when
    everything must be redrawn (first frame, new sizes)."""

    def __init__(self):
        self._rgb: Optional[np.ndarray] = None
        self._guide: Optional[np.ndarray] = None

    def reset(self) -> None:
        self._rgb = self._guide = None

    def update(self, rgb: np.ndarray, guide: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """``rgb``: ``(h, w, 3) uint8`` stylized; ``guide``: ``(H, W, C) uint8`` or None."""
        prev_rgb, prev_guide = self._rgb, self._guide
        self._rgb = np.array(rgb, copy=True)
        self._guide = None if guide is None else np.array(guide, copy=True)
        if (prev_rgb is None or prev_rgb.shape != rgb.shape or (guide is None) != (prev_guide is None)
                or (guide is not None and prev_guide.shape != guide.shape)):
            return None
        h, w = rgb.shape[:2]
        changed = (prev_rgb != rgb).any(-1)
        if guide is not None:
            changed |= _cells_changed(prev_guide, guide, (w, h))
        return changed


def _cells_changed(a: np.ndarray, b: np.ndarray, cells: Tuple[int, int]) -> np.ndarray:
    """``(ch, cw) bool``: which cells of a ``cells`` grid over the images ``a``, ``b`` (same shape)
    hold a differing pixel; cell c spans pixels ``c * size // cells`` up to the next cell's start
    (guide_down.frag's footprint)."""
    gh, gw = a.shape[:2]
    cw, ch = cells
    if a.ndim == 3 and a.shape[2] == 4 and a.flags.c_contiguous and b.flags.c_contiguous:
        diff = a.view(np.uint32)[..., 0] != b.view(np.uint32)[..., 0]    # one compare a pixel
    else:
        diff = (a != b).reshape(gh, gw, -1).any(-1)
    rows = np.minimum((np.arange(ch) * gh) // ch, gh - 1)
    cols = np.minimum((np.arange(cw) * gw) // cw, gw - 1)
    return np.logical_or.reduceat(np.logical_or.reduceat(diff, rows, axis=0), cols, axis=1)


def _spans(changed: np.ndarray):
    """Runs of changed :data:`TILE` x TILE tiles along each tile row: ``(row, first, end)`` in tiles."""
    lh, lw = changed.shape
    tiles_y, tiles_x = -(-lh // TILE), -(-lw // TILE)
    padded = np.zeros((tiles_y * TILE, tiles_x * TILE), bool)
    padded[:lh, :lw] = changed
    tiles = padded.reshape(tiles_y, TILE, tiles_x, TILE).any((1, 3))
    for ty in range(tiles_y):
        tx = 0
        while tx < tiles_x:
            if not tiles[ty, tx]:
                tx += 1
                continue
            start = tx
            while tx < tiles_x and tiles[ty, tx]:
                tx += 1
            yield ty, start, tx


def lowres_rects(changed: np.ndarray, grow: Tuple[int, int] = (0, 0)) -> List[Rect]:
    """GL scissor rectangles over the stylized-size passes (row r of ``changed`` at y = r) that
    cover every changed pixel grown by ``grow`` (x, y) pixels (energy_max.frag's reach)."""
    lh, lw = changed.shape
    rects = []
    for ty, start, end in _spans(changed):
        x0, x1 = max(0, start * TILE - grow[0]), min(lw, end * TILE + grow[0])
        y0, y1 = max(0, ty * TILE - grow[1]), min(lh, (ty + 1) * TILE + grow[1])
        rects.append((x0, y0, x1 - x0, y1 - y0))
    return rects


def dirty_rects(changed: np.ndarray, rect: Rect, radius: float, reach: Tuple[int, int],
                flip_y: bool) -> List[Rect]:
    """GL scissor rectangles ``(x, y, w, h)`` (framebuffer pixels, y up) covering every output pixel
    of the picture drawn in ``rect`` (the letterboxed viewport) that ``changed`` (stylized pixels,
    top row first) can reach: through the text mask's maximum over ``reach`` (x, y), the guided
    taps within ``radius``, and one pixel more for rounding. ``flip_y``: the picture's top row is
    at the top of the framebuffer (a window) rather than at y = 0 (read-back order)."""
    lh, lw = changed.shape
    if not changed.any():
        return []
    grow_x, grow_y = reach[0] + math.ceil(radius) + 1, reach[1] + math.ceil(radius) + 1
    x, y, w, h = rect
    rects = []
    for ty, start, tx in _spans(changed):
        # stylized pixels [q0, q1) after growing, then the output pixels whose sample point
        # u = (p + 0.5) * l / n - 0.5 lies within them: p in [q0 * n / l - 1, q1 * n / l + 1)
        q0x, q1x = max(0, start * TILE - grow_x), min(lw, tx * TILE + grow_x)
        q0y, q1y = max(0, ty * TILE - grow_y), min(lh, (ty + 1) * TILE + grow_y)
        px0, px1 = max(0, math.floor(q0x * w / lw) - 1), min(w, math.ceil(q1x * w / lw) + 1)
        py0, py1 = max(0, math.floor(q0y * h / lh) - 1), min(h, math.ceil(q1y * h / lh) + 1)
        if flip_y:  # top row first -> GL y counts up from the bottom
            py0, py1 = h - py1, h - py0
        rects.append((x + px0, y + py0, px1 - px0, py1 - py0))
    return rects
