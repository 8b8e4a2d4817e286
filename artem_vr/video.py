"""Video files in and out through PyAV (FFmpeg), shared by ``stylize``, the live file sink and the video source.

Reading: a file is a video when FFmpeg finds a video stream in it, whatever its suffix (.ts, .mpg, .flv ...);
frames come as ``(H,W,3) uint8`` RGB (rotation metadata applied, the stream's colour matrix and range
honoured) with their presentation time in seconds from the first frame.

Writing: H.264 (VP9 in .webm) at exactly the size given (yuv420p, or yuv444p when a side is odd), BT.709
tagged, each frame at the time it is given (variable frame rates kept), the source's audio copied
without re-encoding when the container can hold it, encoded on its own thread, to a temporary name
renamed into place by :meth:`VideoWriter.close` (removed by :meth:`VideoWriter.abort`).
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

from .errors import InputError, UsageError, path_error

# suffix -> (FFmpeg muxer, video encoder)
CONTAINERS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
              ".mkv": ("matroska", "libx264"), ".avi": ("avi", "libx264"), ".webm": ("webm", "libvpx-vp9"),
              ".ts": ("mpegts", "libx264")}
VIDEO_OUT_SUFFIXES = set(CONTAINERS)
DEFAULT_CRF = {"libx264": 20, "libvpx-vp9": 32}
FINE_TIME_BASE = Fraction(1, 90000)
_BT709, _LIMITED = 1, 1  # AVCOL_SPC_BT709, AVCOL_RANGE_MPEG
_NOT_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}  # FFmpeg's text-art "videos" (.txt, .nfo ...)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found: coded size (frames come rotated for display when the file says so), mean rate (fps), frame count and
    duration (s) when the container says, and whether there is an audio stream."""

    width: int
    height: int
    rate: float
    frames: Optional[int]
    duration: Optional[float]
    audio: bool


def _open_input(path):
    import av

    path = Path(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise path_error(exc, path, "a video") from None
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        raise InputError(f"{path} is not an image or video artem-vr can read") from None


def _video_stream(container, path):
    streams = [s for s in container.streams.video if s.codec_context.name not in _NOT_VIDEO_CODECS]
    if streams:
        return streams[0]
    if container.streams.audio:
        raise InputError(f"{path} has no video stream (it holds only audio)")
    raise InputError(f"{path} is not an image or video artem-vr can read")


def probe(path) -> VideoInfo:
    """Open ``path`` with FFmpeg and describe its first video stream. Raises :class:`InputError` when it
    is missing, unreadable, not media, or has no video stream ("has no video stream" for audio files)."""
    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        return _describe(container, stream)
    finally:
        container.close()


def is_image_container(path) -> bool:
    """Probe ``path``: True when FFmpeg reads it only as a single picture (its image2/``*_pipe``
    readers, chosen by suffix for e.g. a broken .jpg), False for a video. Raises :class:`InputError`
    as :func:`probe` does."""
    container = _open_input(path)
    try:
        _video_stream(container, path)
        name = container.format.name
        return name == "image2" or name.endswith("_pipe")
    finally:
        container.close()


def _describe(container, stream) -> VideoInfo:
    rate = float(stream.average_rate or stream.guessed_rate or 0) or 30.0
    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
        container.duration / 1e6 if container.duration else None)
    w, h = stream.codec_context.width, stream.codec_context.height
    return VideoInfo(w, h, rate, int(stream.frames) or None, duration, bool(container.streams.audio))


class VideoReader:
    """Frames of ``path``'s first video stream. Iterate for ``(rgb (H,W,3) uint8, t seconds from the
    first frame)``; ``info`` is what :func:`probe` gives; ``origin`` the first frame's own time (s),
    known after the first frame. Raises :class:`InputError` as :func:`probe` does, and mid-file on
    undecodable data."""

    def __init__(self, path):
        self.path = Path(path)
        self._container = _open_input(self.path)
        try:
            self.stream = _video_stream(self._container, self.path)
            self.info = _describe(self._container, self.stream)
        except BaseException:
            self._container.close()
            raise
        self.stream.thread_type = "AUTO"
        self.origin: Optional[float] = None

    def __iter__(self) -> Iterator[Tuple[np.ndarray, float]]:
        import av

        rate = self.info.rate
        last = None
        try:
            for i, frame in enumerate(self._container.decode(self.stream)):
                t = float(frame.time) if frame.time is not None else i / rate
                if self.origin is None:
                    self.origin = t
                t -= self.origin
                if last is not None and t <= last:  # broken or missing timestamps: keep them increasing
                    t = last + 1.0 / rate
                last = t
                yield frame_to_rgb(frame), t
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot decode {self.path}: {' '.join(str(exc).split())}") from None

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def frame_to_rgb(frame) -> np.ndarray:
    """A decoded PyAV VideoFrame -> ``(H,W,3) uint8`` RGB, with the frame's own colour matrix and range
    (BT.601/709, limited/full) and its display rotation applied."""
    rgb = frame.reformat(format="rgb24", src_color_range=frame.color_range or None).to_ndarray()
    rotation = int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=rotation)) if rotation else rgb


def check_output_suffix(path) -> None:
    """:class:`UsageError` unless ``path``'s suffix is a container we write."""
    if Path(path).suffix.lower() not in CONTAINERS:
        raise UsageError(f"{path}: unknown video suffix; use one of {', '.join(sorted(CONTAINERS))}")


def _reason(exc: BaseException) -> str:
    """An FFmpeg/OS error's own words ("Read-only file system"), without the temporary file's name."""
    return getattr(exc, "strerror", None) or " ".join(str(exc).split())


class VideoWriter:
    """Encode RGB frames at given times into ``path`` (container by suffix, see :data:`CONTAINERS`).

    ``size``: (w, h) of every frame, written exactly. ``rate``: the nominal frame rate (metadata, and the
    clock of .avi, which cannot vary). ``audio_from``: a media file whose first audio stream is copied,
    its time 0 aligned to ``audio_origin`` seconds of that file. ``crf``: quality (lower = better;
    default 20 for H.264, 32 for VP9). ``notes`` collects one-line remarks (audio not copied ...).
    Raises :class:`InputError` when the file cannot be made, :class:`UsageError` for an unknown suffix.
    """

    def __init__(self, path, size: Tuple[int, int], rate: float = 30.0, audio_from=None,
                 audio_origin: float = 0.0, crf: Optional[int] = None, preset: str = "veryfast"):
        self.path = Path(path)
        check_output_suffix(self.path)
        self.size = (int(size[0]), int(size[1]))
        self.rate = float(rate) if rate and rate > 0 else 30.0
        self.fmt, self.codec = CONTAINERS[self.path.suffix.lower()]
        self.crf = crf
        self.preset = preset
        self.notes: List[str] = []
        self.frames = 0
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.partial{self.path.suffix}")
        self._queue: "queue.Queue" = queue.Queue(maxsize=4)
        self._error: Optional[BaseException] = None
        self._audio_in = None
        self.last_t: Optional[float] = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._thread: Optional[threading.Thread] = None
        try:
            self._open(audio_from, audio_origin)
            self._thread = threading.Thread(target=self._encode_loop, name="video-encode", daemon=True)
            self._thread.start()
        except BaseException:  # SIGTERM (Terminated) or Ctrl-C during the set-up: no temporary file stays
            self.abort()
            raise

    # -- setup ------------------------------------------------------------------------------

    def _open(self, audio_from, audio_origin: float) -> None:
        import av

        try:
            self._out = av.open(str(self.tmp), "w", format=self.fmt)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot write {self.path}: {_reason(exc)}") from None
        try:
            self._add_video_stream()
        except ValueError:  # av.codec.codec.UnknownCodecError: this FFmpeg build lacks the encoder
            self._discard()
            raise InputError(f"cannot write {self.path}: this FFmpeg (PyAV) has no {self.codec} encoder; "
                             "reinstall PyAV from its wheels (pip install --force-reinstall av)") from None
        try:
            if audio_from is not None:
                self._add_audio(audio_from, audio_origin)
            self._out.start_encoding()
        except av.error.FFmpegError as exc:
            if self._audio_in is not None:  # the container refused the audio codec: retry without it
                name = self._audio_in[1].codec_context.name
                self._close_audio()
                self._discard()
                self.notes.append(f"audio not copied: {self.path.suffix} cannot hold {name} audio without "
                                  "re-encoding; use .mkv or .mp4 to keep it")
                return self._open(None, 0.0)
            self._discard()
            raise InputError(f"cannot write video {self.path}: {_reason(exc)}") from None

    def _add_video_stream(self) -> None:
        w, h = self.size
        rate = Fraction(self.rate).limit_denominator(1001)
        stream = self._out.add_stream(self.codec, rate=rate)
        stream.width, stream.height = w, h
        self.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        stream.pix_fmt = self.pix_fmt
        self.time_base = Fraction(1, 1) / rate if self.fmt == "avi" else FINE_TIME_BASE
        stream.time_base = self.time_base
        ctx = stream.codec_context
        ctx.time_base = self.time_base
        ctx.colorspace, ctx.color_range, ctx.color_primaries, ctx.color_trc = _BT709, _LIMITED, 1, 1
        crf = str(DEFAULT_CRF[self.codec] if self.crf is None else self.crf)
        if self.codec == "libx264":
            stream.options = {"crf": crf, "preset": self.preset}
        else:
            stream.options = {"crf": crf, "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        self._video = stream

    def _add_audio(self, source, origin: float) -> None:
        try:
            container = _open_input(source)
        except InputError:
            self.notes.append(f"audio not copied: cannot read {source}")
            return
        if not container.streams.audio:
            container.close()
            return
        audio = container.streams.audio[0]
        try:
            out = self._out.add_stream_from_template(audio)
        except ValueError:  # the muxer knows it cannot hold this codec
            container.close()
            self.notes.append(f"audio not copied: {self.path.suffix} cannot hold {audio.codec_context.name} "
                              "audio without re-encoding; use .mkv or .mp4 to keep it")
            return
        self._audio_in = (container, audio, out, container.demux(audio), origin)

    # -- frames -------------------------------------------------------------------------------

    def write(self, rgb: np.ndarray, t: float) -> None:
        """Queue one ``(h,w,3) uint8`` RGB frame, shown from ``t`` seconds on (times must increase;
        equal ones are nudged a tick later). Blocks while the encoder is 4 frames behind."""
        if self._error is not None:
            raise self._error
        if rgb.shape[:2] != (self.size[1], self.size[0]) or rgb.dtype != np.uint8:
            raise ValueError(f"frame {rgb.shape} {rgb.dtype} does not match the writer's {self.size}")
        while True:
            try:
                self._queue.put((rgb, float(t)), timeout=0.2)
                break
            except queue.Full:
                if self._error is not None or not self._thread.is_alive():
                    raise self._error or InputError(f"video encoder for {self.path} stopped")
        self.frames += 1
        self.last_t = float(t)
        self._last_frame = rgb

    def _encode_loop(self) -> None:
        import av

        last_pts = -1
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                rgb, t = item
                pts = max(int(round(t / self.time_base)), last_pts + 1)
                last_pts = pts
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                    format=self.pix_fmt, dst_colorspace=_BT709, dst_color_range=_LIMITED)
                frame.pts, frame.time_base = pts, self.time_base
                self._out.mux(self._video.encode(frame))
                self._copy_audio(until=float(pts * self.time_base) + 0.5)
        except BaseException as exc:  # handed to the caller at the next write/close
            self._error = exc if isinstance(exc, InputError) else InputError(
                f"cannot write {self.path}: {_reason(exc)}")
            while True:  # unblock a producer waiting on a full queue
                try:
                    if self._queue.get_nowait() is None:
                        break
                except queue.Empty:
                    break

    def _copy_audio(self, until: Optional[float]) -> None:
        """Mux the source's audio packets that start before ``until`` seconds (None: up to the end)."""
        if self._audio_in is None:
            return
        container, audio, out, packets, origin = self._audio_in
        tb = audio.time_base
        shift = int(round(Fraction(origin) / tb)) if tb else 0
        for packet in packets:
            if packet.dts is None or packet.pts is None or packet.size == 0:
                continue
            start = float((packet.pts - shift) * tb)
            if start < 0:
                continue
            end = self.end_time
            if end is not None and start >= end:
                break
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = out
            self._out.mux(packet)
            if until is not None and start > until:
                break

    end_time: Optional[float] = None  # set by close(): the video's end, audio after it is cut

    # -- end ----------------------------------------------------------------------------------

    def close(self, end_time: Optional[float] = None) -> List[str]:
        """Flush, copy the rest of the audio (cut at the video's end), rename into place; returns the
        notes. ``end_time``: the recording's length in seconds; the last frame is held until then.
        Raises :class:`InputError` (nothing is left under the final name then)."""
        try:
            if self.last_t is not None and end_time is not None and end_time - self.last_t > 1.5 / self.rate:
                self._hold_last_frame(end_time)
            self._queue.put(None)
            self._thread.join()
            if self._error is not None:
                raise self._error
            if self.frames == 0:
                raise InputError(f"no frames to write to {self.path}")
            self.end_time = (self.last_t or 0.0) + 1.0 / self.rate
            self._out.mux(self._video.encode(None))
            self._copy_audio(until=None)
            self._out.close()
            self._close_audio()
            os.replace(self.tmp, self.path)
        except OSError as exc:  # full disk, file size limit: the user's name, not the temporary one
            self.abort()
            raise InputError(f"cannot write {self.path}: {_reason(exc)}") from None
        except BaseException:
            self.abort()
            raise
        return self.notes

    def _hold_last_frame(self, end_time: float) -> None:
        """Repeat the newest frame one frame period before ``end_time``, so the file lasts that long."""
        self.write(self._last_frame, end_time - 1.0 / self.rate)

    def abort(self) -> None:
        """Stop and remove the temporary file (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(timeout=5)
        self._close_audio()
        self._discard()

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in[0].close()
            self._audio_in = None

    def _discard(self) -> None:
        from .images import remove_quietly

        try:
            self._out.close()
        except Exception:
            pass
        remove_quietly(self.tmp)  # a read-only folder: the error names the user's file, not this one
