"""Capture sources and ``--source`` spec parsing."""
from __future__ import annotations

from ..errors import UsageError
from .base import CaptureStage, Frame, Source

SPEC_HELP = ("webcam, webcam:N, screen, screen:N, screen:X,Y,W,H, screen:pick, video:PATH, image:PATH or demo")


def parse_source(spec: str, offline: bool = False, frames=None) -> Source:
    """Build a Source from a ``--source`` spec. ``offline``: videos end instead of looping, and a still
    image is delivered once (or ``frames`` times)."""
    kind, _, arg = (spec or "webcam").partition(":")
    kind = kind.strip().lower()
    if kind == "webcam":
        from .webcam import WebcamSource

        return WebcamSource(_int(arg, spec, 0, minimum=0))
    if kind == "screen":
        from .screen import ScreenSource

        if "," in arg:
            parts = arg.split(",")
            if len(parts) != 4:
                raise UsageError(f"bad screen region {spec!r}; use screen:X,Y,W,H")
            x, y, w, h = (_int(p, spec, 0) for p in parts)
            if w < 32 or h < 32:
                raise UsageError(f"screen region {w}x{h} is too small; both sides need at least 32 px")
            return ScreenSource(region=(x, y, w, h))
        return ScreenSource(monitor=_int(arg, spec, 1, minimum=1))
    if kind in ("video", "image"):
        if not arg:
            raise UsageError(f"--source {kind}:PATH needs a path")
        from .media import ImageSource, VideoSource

        if kind == "video":
            return VideoSource(arg, loop=not offline)
        return ImageSource(arg, count=(frames or 1) if offline else None)
    if kind == "demo" and not arg:
        from .demo import DemoSource

        return DemoSource()
    raise UsageError(f"unknown source {spec!r}; use {SPEC_HELP}")


def _int(text: str, spec: str, default: int, minimum=None) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"bad source {spec!r}; use {SPEC_HELP}") from None
    if minimum is not None and value < minimum:
        raise UsageError(f"bad source {spec!r}: the number must be at least {minimum}")
    return value


__all__ = ["CaptureStage", "Frame", "Source", "parse_source"]
