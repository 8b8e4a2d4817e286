"""The style picker (``G`` in the window): every built-in style as a live thumbnail of the current scene.

The inference thread renders a few thumbnails after each frame it stylizes (:meth:`StylePicker.render_some`,
at thumbnail size, so the display never waits and the grid refreshes in turn); the main thread lays
the newest ones out as one RGBA overlay of the window's size (:meth:`StylePicker.image`), drawn where
the HUD goes. Arrow keys move the selection, Enter or a click picks, G or Esc closes.
"""
from __future__ import annotations

import threading
from typing import Dict, Optional, Tuple

import numpy as np

THUMB_BOX = (192, 108)   # inference size of one thumbnail (aspect of the source kept)
PER_FRAME = 4            # thumbnails rendered after each stylized frame (the grid hides the picture anyway)
COLUMNS = 6


class StylePicker:
    """State shared by the window (keys, clicks), the worker (thumbnails) and the pipeline (overlay)."""

    def __init__(self, num_styles: int = 26, columns: int = COLUMNS):
        self.num_styles = num_styles
        self.columns = columns
        self.open = False
        self.selected = 0
        self.version = 0                 # bumped when the overlay would look different
        self._lock = threading.Lock()
        self._thumbs: Dict[int, np.ndarray] = {}
        self._next = 0

    @property
    def rows(self) -> int:
        return -(-self.num_styles // self.columns)

    # -- main thread: keys, clicks ------------------------------------------------------------

    def toggle(self, current: int = 0) -> bool:
        with self._lock:
            self.open = not self.open
            if self.open:
                self.selected = current % self.num_styles
                self._next = self.selected  # the highlighted one first
            self.version += 1
            return self.open

    def move(self, dx: int, dy: int) -> int:
        with self._lock:
            self.selected = min(self.num_styles - 1, max(0, self.selected + dx + dy * self.columns))
            self.version += 1
            return self.selected

    def close(self) -> None:
        with self._lock:
            self.open = False
            self.version += 1

    def cell_at(self, x: float, y: float, size: Tuple[int, int]) -> Optional[int]:
        """The style under pixel (x, y) (top-left origin) of an overlay of ``size``, or None."""
        cw, ch = size[0] / self.columns, size[1] / self.rows
        if not (0 <= x < size[0] and 0 <= y < size[1]):
            return None
        index = int(y // ch) * self.columns + int(x // cw)
        return index if index < self.num_styles else None

    # -- inference thread ---------------------------------------------------------------------

    def render_some(self, engine, frame, count: int = PER_FRAME) -> None:
        """Stylize ``frame`` (a capture Frame) at thumbnail size in the next ``count`` styles."""
        from ..inference.engine import to_uint8
        from ..inference.worker import fit_inside, frame_to_tensor

        if not self.open:
            return
        table = engine.for_style(0) if getattr(engine, "takes_paintings", False) else engine
        size = fit_inside(frame.size, THUMB_BOX)
        x = frame_to_tensor(frame.pixels, frame.order, table.device, size)
        for _ in range(count):
            with self._lock:
                index = self._next
                self._next = (self._next + 1) % self.num_styles
            out = table.stylize_tensor(x, table.weights(index), 1.0, False)
            thumb = to_uint8(out)[0]
            with self._lock:
                self._thumbs[index] = thumb
                self.version += 1

    # -- main thread: the overlay -------------------------------------------------------------

    def image(self, size: Tuple[int, int]) -> np.ndarray:
        """``(H,W,4) uint8`` RGBA of ``size``: the grid, each thumbnail letterboxed in its cell with
        its number and name, the selected one framed."""
        import cv2
        from PIL import Image, ImageDraw

        from ..inference.styles import style_name
        from .hud import text_font

        w, h = size
        canvas = np.zeros((h, w, 4), np.uint8)
        canvas[..., 3] = 235
        canvas[..., :3] = (14, 14, 18)
        with self._lock:
            thumbs, selected = dict(self._thumbs), self.selected
        cw, ch = w / self.columns, h / self.rows
        label_h = max(14, int(ch * 0.16))
        cells = []
        for i in range(self.num_styles):
            r, c = divmod(i, self.columns)
            x0, y0, x1, y1 = int(c * cw), int(r * ch), int((c + 1) * cw), int((r + 1) * ch)
            cells.append((x0, y0, x1, y1))
            thumb = thumbs.get(i)
            bw, bh = x1 - x0 - 8, y1 - y0 - label_h - 8
            if thumb is not None and bw > 4 and bh > 4:
                th, tw = thumb.shape[:2]
                s = min(bw / tw, bh / th)
                nw, nh = max(1, int(tw * s)), max(1, int(th * s))
                small = cv2.resize(thumb, (nw, nh), interpolation=cv2.INTER_AREA)
                ox, oy = x0 + 4 + (bw - nw) // 2, y0 + label_h + 4 + (bh - nh) // 2
                canvas[oy:oy + nh, ox:ox + nw, :3] = small
                canvas[oy:oy + nh, ox:ox + nw, 3] = 255
        pic = Image.fromarray(canvas, "RGBA")
        draw = ImageDraw.Draw(pic)
        font = text_font(max(10, min(15, label_h - 2)))
        for i, (x0, y0, x1, y1) in enumerate(cells):
            draw.text((x0 + 6, y0 + 2), f"{i} {style_name(i)}", fill=(240, 240, 240, 255), font=font)
            if i == selected:
                draw.rectangle([x0 + 1, y0 + 1, x1 - 2, y1 - 2], outline=(255, 210, 40, 255), width=3)
        hint = "arrows + Enter or click: pick   G / Esc: close"
        draw.text((w - draw.textlength(hint, font=font) - 8, h - label_h - 4), hint, fill=(255, 210, 40, 255), font=font)
        return np.asarray(pic)
