"""The HUD: a few lines of text rendered to an RGBA image (PIL), composited by GL on top."""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np


@lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def hud_image(lines: Sequence[str], scale: float = 1.0) -> np.ndarray:
    """``(H,W,4) uint8`` RGBA: light text on a translucent dark panel, top row first."""
    from PIL import Image, ImageDraw

    font = _font(max(10, int(15 * scale)))
    line_h = int(19 * scale)
    pad = int(8 * scale)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    width = max((probe.textlength(line, font=font) for line in lines), default=0)
    img = Image.new("RGBA", (int(width) + 2 * pad, line_h * len(lines) + 2 * pad), (12, 12, 16, 170))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, fill=(240, 240, 240, 255), font=font)
    return np.asarray(img)


def hud_lines(settings, capture_fps: float, capture_ms: float, infer_fps: float, infer_ms: float,
              display_fps: float, latency_ms: float, device: str, infer_size, model: str = "",
              auto=False) -> list:
    """``auto``: False, True, or a note on the dynamic inference size (e.g. "auto 192x108-640x360, 3 changes")."""
    from ..inference.styles import style_label

    colour = "photo" if settings.preserve_color else "style"
    size = (f"{infer_size[0]}x{infer_size[1]}" if infer_size else "-") + (
        f" ({auto})" if isinstance(auto, str) else " (auto)" if auto else "")
    steady = "on" if getattr(settings, "stabilize", False) else "off"
    return [
        f"style {style_label(settings.style)}   strength {settings.strength:.1f}   colour {colour}   stabilize {steady}"
        f"   detail {getattr(settings, 'detail', 0.0):.2f}",
        f"capture    {capture_fps:5.1f} fps  {capture_ms:6.1f} ms",
        f"inference  {infer_fps:5.1f} fps  {infer_ms:6.1f} ms  {device} {size}" + (f"  {model}" if model else ""),
        f"display    {display_fps:5.1f} fps",
        f"capture->display  {latency_ms:6.1f} ms",
    ]


# What the window's keys do: shown for the first seconds of a window session and with ?.
KEY_LINES = [
    "keys (? shows/hides this)",
    "G  style grid: arrows + Enter or click",
    "<- ->  previous / next style",
    "0-9  style; two digits quickly: 10-25",
    "[ ]  strength   C  colour   T  steady",
    "D / Shift+D  more / less detail",
    ", .  paintings of --style-dir; drop a file",
    "H  HUD   F  fullscreen   Esc/Q  quit",
]
