"""File output, headless through EGL: a video (.mp4/.avi) or a folder of PNGs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from .base import Sink, Size, headless_context

VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}


class FileSink(Sink):
    every_frame = True

    def __init__(self, path, size: Optional[Size] = None, fps: Optional[float] = None, hud: bool = False):
        self.path = Path(path)
        self.size = size
        self.fps = fps
        self.hud = hud
        self.video = self.path.suffix.lower() in VIDEO_FOURCC
        self.name = f"file:{self.path}"
        if not self.video and self.path.suffix:
            raise InputError(f"--output {self.path}: use a video (.mp4, .avi, .mkv, .mov) or a folder name")
        if not self.video and self.path.exists() and not self.path.is_dir():
            raise InputError(f"--output {self.path} exists and is not a folder")
        self.ctx = self._fbo = self._writer = None
        self.written = 0

    def open(self, content_size: Size):
        import cv2

        self.size = tuple(self.size or content_size)
        self.ctx = headless_context()
        self._tex = self.ctx.texture(self.size, 3)
        self._fbo = self.ctx.framebuffer(color_attachments=[self._tex])
        try:
            if self.video:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC[self.path.suffix.lower()])
                self._writer = cv2.VideoWriter(str(self.path), fourcc, float(self.fps or 30.0), self.size)
                if not self._writer.isOpened():
                    raise InputError(f"cannot write video {self.path}")
            else:
                self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        return self.ctx

    def present(self, compositor) -> bool:
        import cv2

        compositor.render(self._fbo, self.size, flip_y=False, hud=self.hud)
        w, h = self.size
        rgb = np.frombuffer(self._fbo.read(components=3, alignment=1), np.uint8).reshape(h, w, 3)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if self._writer is not None:
            self._writer.write(bgr)
        else:
            target = self.path / f"frame_{self.written:06d}.png"
            if not cv2.imwrite(str(target), bgr):
                raise InputError(f"cannot write {target}")
        self.written += 1
        return True

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        for obj in (self._fbo, getattr(self, "_tex", None)):
            if obj is not None:
                obj.release()
        self._fbo = self._tex = None
        if self.ctx is not None:
            self.ctx.release()
            self.ctx = None
