"""``--record FILE``: a video of the live run beside the window or headset, drawn by the same compositor.

A secondary sink (see :class:`~artem_vr.render.base.Sink`): it renders into a framebuffer of its own in
the primary's GL context, reads it back and hands it to :class:`artem_vr.video.VideoWriter` (PyAV, on
the writer's own thread). Each new stylized frame is written once, at the time it was captured
(counted from the first frame shown), and the last one is held to the end of the run, so the file
lasts as long as the run did and plays at the speed things happened, however slowly inference went.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import UsageError
from .base import FramebufferTarget, Size
from .file import FileSink


class RecordSink(FileSink):
    """``path``: a video file (.mp4, .mkv, .webm, .avi, ...). ``size``: the video's (w, h); default the
    source's size, exactly (odd sides too: :class:`~artem_vr.video.VideoWriter` writes them). ``hud``: draw the HUD into the video too.
    Raises :class:`UsageError` at construction for a path that is no video, before the model loads."""

    every_frame = False

    def __init__(self, path, size: Optional[Size] = None, fps: float = 30.0, hud: bool = False):
        from ..video import VIDEO_OUT_SUFFIXES

        if Path(path).suffix.lower() not in VIDEO_OUT_SUFFIXES:
            raise UsageError(f"--record {path}: use a video name ({', '.join(sorted(VIDEO_OUT_SUFFIXES))})")
        super().__init__(path, size=size, fps=fps, hud=hud)
        self.name = f"record:{self.path}"
        self.drew = False

    def open(self, content_size: Size, ctx=None):
        from ..video import VideoWriter

        if ctx is None:
            raise ValueError("RecordSink is a secondary sink: open it with the primary's GL context")
        self.size = tuple(self.size or content_size)
        self.ctx = ctx
        self.target = FramebufferTarget(ctx, self.size)
        self._writer = VideoWriter(self.path, self.size, rate=float(self.fps or 30.0))
        return ctx

    def present(self, compositor) -> bool:
        """Write the picture when a new stylized frame came (``frame_time`` set by the pipeline)."""
        self.drew = self.frame_time is not None and compositor.texture is not None
        if self.drew:
            super().present(compositor)
            self.frame_time = None
        return True
