"""File output, headless through EGL: a video (.mp4/.avi) or a folder of PNGs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import InputError
from .base import OffscreenTarget, Sink, Size

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
        self.target = self.ctx = self._writer = None
        self.written = 0

    def open(self, content_size: Size):
        import cv2

        self.size = tuple(self.size or content_size)
        self.target = OffscreenTarget(self.size)
        self.ctx = self.target.ctx
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

        compositor.render(self.target.fbo, self.size, flip_y=False, hud=self.hud)
        bgr = cv2.cvtColor(self.target.read(), cv2.COLOR_RGB2BGR)
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
        if self.target is not None:
            self.target.release()
        self.target = self.ctx = None
