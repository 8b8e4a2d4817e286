"""The sink interface every output implements, and headless GL context creation."""
from __future__ import annotations

from typing import Tuple

from ..errors import DisplayError

Size = Tuple[int, int]


class Sink:
    """An output. Called on the main thread only, in this order:

    ``prepare()`` (before the model loads), ``open(content_size) -> moderngl.Context`` (the sink makes or is handed its GL context),
    ``present(compositor) -> bool`` (draw the latest picture; False = stop), ``close()``.
    ``every_frame``: True for outputs that want each new stylized frame once (files), False for
    displays that re-present the latest picture at their own rate (window, headset).

    Secondary sinks (``--record``, ``--virtualcam``) run beside a primary one: ``open(content_size, ctx)``
    hands them the primary's GL context, and ``present`` is called after the primary's on every loop
    turn, with ``frame_time`` set to the new stylized frame's time in seconds, or None when no new
    frame came since the last turn.
    """

    every_frame = False
    name = "sink"
    drew = True  # whether the last present() put a new picture on the output (for the stats)

    def prepare(self) -> None:
        """Cheap checks and connections made before the model loads (display, VR runtime), so
        a missing one costs the user no waiting. ``close`` undoes it."""

    def open(self, content_size: Size):
        raise NotImplementedError

    def present(self, compositor) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def title_info(self, text: str) -> None:
        """Short status (style, fps) for outputs that can show it."""


def headless_context(require: int = 330):
    """A standalone OpenGL context through EGL (no display needed)."""
    import moderngl

    try:
        return moderngl.create_standalone_context(require=require, backend="egl")
    except Exception as exc:
        raise DisplayError(f"no headless OpenGL (EGL) context: {' '.join(str(exc).split())}; "
                           "install Mesa's EGL (libegl1) or a GPU driver") from None


class FramebufferTarget:
    """One RGB framebuffer of ``size`` in an existing context ``ctx`` (a secondary sink's target in the
    primary's context): render into ``fbo``, ``read()`` it back; ``release`` leaves the context alone."""

    def __init__(self, ctx, size: Size):
        self.size = tuple(size)
        self.ctx = ctx
        self.texture = ctx.texture(self.size, 3)
        self.fbo = ctx.framebuffer(color_attachments=[self.texture])

    def read(self):
        """``(H,W,3) uint8`` RGB, top row first when rendered with ``flip_y=False``."""
        import numpy as np

        w, h = self.size
        return np.frombuffer(self.fbo.read(components=3, alignment=1), np.uint8).reshape(h, w, 3)

    def release(self) -> None:
        if self.fbo is not None:
            self.fbo.release()
            self.texture.release()
            self.fbo = self.texture = None


class OffscreenTarget:
    """A headless context with one RGB framebuffer of ``size`` to render into and read back."""

    def __init__(self, size: Size):
        self.size = tuple(size)
        self.ctx = headless_context()
        self.texture = self.ctx.texture(self.size, 3)
        self.fbo = self.ctx.framebuffer(color_attachments=[self.texture])

    def read(self):
        """``(H,W,3) uint8`` RGB, top row first when rendered with ``flip_y=False``."""
        import numpy as np

        w, h = self.size
        return np.frombuffer(self.fbo.read(components=3, alignment=1), np.uint8).reshape(h, w, 3)

    def release(self) -> None:
        if self.ctx is not None:
            self.fbo.release()
            self.texture.release()
            self.ctx.release()
            self.ctx = None
