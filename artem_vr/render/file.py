"""File output, headless through EGL: a video (H.264/VP9 through :mod:`artem_vr.video`) or a folder of PNGs.

Each frame is written at its own time: a video source's frame times (so variable frame rates and the
audio track line up), or, for live sources, the time it was captured, so a recording lasts as long as
the run did however slowly inference went. The pipeline sets :attr:`FileSink.frame_time` before each
``present`` and :attr:`FileSink.end_time` / :attr:`FileSink.failed` before ``close``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from ..errors import InputError, UsageError
from .base import OffscreenTarget, Sink, Size


class FileSink(Sink):
    """``path``: a video (suffix in :data:`artem_vr.video.CONTAINERS`) or a folder (no suffix) of PNGs.

    ``media``: the source when it is a file (``.path``, ``.origin``, ``.info.audio``): the sink refuses
    to overwrite it and copies its audio. Raises :class:`UsageError`/:class:`InputError` at construction
    for a bad path, before the model loads."""

    every_frame = True

    def __init__(self, path, size: Optional[Size] = None, fps: Optional[float] = None, hud: bool = False,
                 media=None, progress: bool = False, total: Optional[int] = None, until: Optional[str] = None):
        from ..video import VIDEO_OUT_SUFFIXES

        self.path = Path(path)
        as_folder = str(path).endswith(("/", os.sep))  # "--output frames.v2/" is a folder of PNGs
        self.size = size
        self.fps = fps
        self.hud = hud
        self.media = media
        self.video = self.path.suffix.lower() in VIDEO_OUT_SUFFIXES and not as_folder
        self.name = f"file:{self.path}"
        if not self.video and self.path.suffix and not self.path.is_dir() and not as_folder:
            raise UsageError(f"--output {self.path}: unknown suffix {self.path.suffix!r}; use a video "
                             f"({', '.join(sorted(VIDEO_OUT_SUFFIXES))}) or a folder name for PNG frames "
                             "(end it with / if its name has a dot)")
        if not self.video and self.path.exists() and not self.path.is_dir():
            raise InputError(f"--output {self.path} exists and is not a folder")
        source_path = getattr(media, "path", None)
        if source_path is not None and _same_file(self.path, Path(source_path)):
            raise UsageError(f"--output {self.path} is the source video itself; choose another name")
        self.target = self.ctx = self._writer = None
        self.written = 0
        self.frame_time: Optional[float] = None  # seconds, set by the pipeline for each new frame
        self.end_time: Optional[float] = None  # a live recording's length in seconds
        self.failed = False  # the run ended in an error: remove the partial file
        # a progress bar on stderr when it is a terminal, as `stylize` shows (``total``: frames expected)
        self.progress, self.total, self._bar = progress, total, None
        self.until = until  # why the run only ends on Ctrl-C: said once the first frame is there
        self._earlier = self.video and self.path.is_file()  # a file from an earlier run: replaced, and said so
        self._staging: Optional[Path] = None  # a folder run's frames, moved in when the run is done

    def prepare(self) -> None:
        """Before the model loads: a folder that cannot be written (read-only, no permission) is one
        line naming the user's path."""
        from ..images import check_writable

        check_writable(self.path)

    def open(self, content_size: Size):
        from ..video import VideoWriter

        self.size = tuple(self.size or content_size)
        self.target = OffscreenTarget(self.size)
        self.ctx = self.target.ctx
        if self.video:
            media = self.media
            audio = getattr(media, "path", None) if getattr(getattr(media, "info", None), "audio", False) else None
            self._writer = VideoWriter(self.path, self.size, rate=float(self.fps or 30.0), audio_from=audio,
                                       audio_origin=getattr(media, "origin", 0.0) or 0.0)
        else:
            self._made_folder = not self.path.exists()  # a failed run removes a folder it made, if empty
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                staging = self.path / f".partial.{os.getpid()}"
                staging.mkdir(exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
            self._staging = staging
        if self.until:
            print(f"artem-vr: note: {self.until}: writing {self.path} until Ctrl-C (--frames N stops after N)",
                  file=sys.stderr, flush=True)
        self._start_progress()
        return self.ctx

    def present(self, compositor) -> bool:
        from ..images import write_image

        # our framebuffer keeps its pixels: redraw only what the new frame changed (render/changes.py)
        compositor.render(self.target.fbo, self.size, flip_y=False, hud=self.hud, incremental=True)
        rgb = self.target.read()
        if self._writer is not None:
            t = self.frame_time if self.frame_time is not None else self.written / float(self.fps or 30.0)
            self._writer.write(rgb, t)
        else:
            write_image(self._staging / frame_name(self.written), rgb)
        self.written += 1
        if self._bar is not None:
            self._bar.update(1)
        return True

    def _start_progress(self) -> None:
        if self.progress and self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="frame", desc=self.path.name or str(self.path), file=sys.stderr,
                             disable=None)  # None: only on a terminal

    def close(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            if self.failed or self.written == 0:
                writer.abort()
            else:
                for line in writer.close(end_time=self.end_time):
                    print(f"artem-vr: note: {line}", file=sys.stderr)
                replaced = f"; replaced the earlier {self.path.name}" if self._earlier else ""
                print(f"wrote {self.path} ({self.size[0]}x{self.size[1]}, {writer.frames} frame{'' if writer.frames == 1 else 's'}, "
                      f"{writer.end_time:.1f} s{replaced})", flush=True)
        elif self._staging is not None:
            self._finish_folder()
        if self.target is not None:
            self.target.release()
        self.target = self.ctx = None


    def _finish_folder(self) -> None:
        """A folder run that wrote its frames: the frames of an earlier run in the folder (and only
        those: ``frame_NNNNNN.png``) make way for the new ones, so two runs are never mixed, and the
        line says so; a failed run removes its own frames and leaves the earlier ones as they were."""
        import re
        import shutil

        staging, self._staging = self._staging, None
        try:
            if self.failed or not self.written:
                return
            earlier = [p for p in self.path.iterdir() if re.fullmatch(r"frame_\d{6,}\.png", p.name)]
            try:
                for old in earlier:
                    old.unlink()
                for k in range(self.written):
                    os.replace(staging / frame_name(k), self.path / frame_name(k))
            except OSError as exc:
                raise InputError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
            replaced = (f"; replaced the {len(earlier)} frame{'' if len(earlier) == 1 else 's'} of an earlier run"
                        if earlier else "")
            print(f"wrote {self.path}{os.sep} ({self.size[0]}x{self.size[1]}, {self.written} "
                  f"frame{'' if self.written == 1 else 's'}{replaced})", flush=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if (self.failed or not self.written) and getattr(self, "_made_folder", False):
                try:
                    self.path.rmdir()  # only when empty: nothing of anyone's is removed
                except OSError:
                    pass


def frame_name(index: int) -> str:
    """The PNG of frame ``index`` in an --output folder: ``frame_000000.png`` ..."""
    return f"frame_{index:06d}.png"


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (resolved, through links; hard links by inode when both exist)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()
