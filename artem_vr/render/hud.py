"""The HUD: a few lines of text rendered to an RGBA image (PIL), composited by GL on top.

Text is drawn in DejaVu Sans Mono (shipped in ``artem_vr/assets``, licence beside it: it covers
Latin, Greek and Cyrillic, where Pillow's built-in font draws boxes), light with a dark outline on
a nearly opaque dark plate, so it reads on any picture: behind the plate a white or busy picture
moves the plate's colour by at most 1 - PLATE_ALPHA of its range.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "DejaVuSansMono.ttf"
PLATE = (12, 12, 16)
PLATE_ALPHA = 235      # of 255: the picture behind shows through by 8% (it was 33%)
TEXT = (245, 245, 245)


@lru_cache(maxsize=8)
def text_font(size: int):
    """Our font at ``size`` px (a PIL FreeTypeFont); Pillow's built-in one if the file is missing."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:  # a broken install: boxes for non-Latin names, but a HUD
        return ImageFont.load_default(size=size)


def fit_text(draw, text: str, font, width: float) -> str:
    """``text``, cut to end in "…" where it would be wider than ``width`` px in ``font``."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def wrap_lines(draw, lines: Sequence[str], font, width: float) -> list:
    """``lines`` broken at spaces so each fits ``width`` px in ``font`` (a word wider than that is
    cut with "…"); continuation lines are indented by two spaces."""
    out = []
    for line in lines:
        words, current = line.split(" "), ""
        for word in words:
            trial = f"{current} {word}" if current else word
            if current and draw.textlength(trial, font=font) > width:
                out.append(fit_text(draw, current.rstrip(), font, width))
                current = "  " + word
            else:
                current = trial
        out.append(fit_text(draw, current, font, width))
    return out


def hud_image(lines: Sequence[str], scale: float = 1.0, max_width: int = 0) -> np.ndarray:
    """``(H,W,4) uint8`` RGBA: light text with a dark outline on a nearly opaque dark plate, top row
    first. ``max_width``: px the plate may take (the window's width); longer lines wrap at spaces."""
    from PIL import Image, ImageDraw

    font = text_font(max(10, int(14 * scale)))
    line_h = int(19 * scale)
    pad = int(8 * scale)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    if max_width > 2 * pad + 40:
        lines = wrap_lines(probe, lines, font, max_width - 2 * pad)
    width = max((probe.textlength(line, font=font) for line in lines), default=0)
    img = Image.new("RGBA", (int(width) + 2 * pad, line_h * len(lines) + 2 * pad), (*PLATE, PLATE_ALPHA))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, fill=(*TEXT, 255), font=font,
                  stroke_width=1, stroke_fill=(*PLATE, 255))
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
