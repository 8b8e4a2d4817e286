"""Test inputs made with PyAV and Pillow (no ffmpeg binary needed), and a stand-in engine."""
from __future__ import annotations

from fractions import Fraction

import numpy as np


def frame_at(k: int, size=(96, 64)) -> np.ndarray:
    """``(h,w,3) uint8`` frame number ``k``: a colour that changes with k and a bar that moves."""
    w, h = size
    f = np.zeros((h, w, 3), np.uint8)
    f[..., 0] = (37 * k) % 200 + 30
    f[..., 1] = 120
    f[..., 2] = 220 - (29 * k) % 180
    x = (5 * k) % max(1, w - 8)
    f[:, x:x + 8] = 250
    return f


def make_av_video(path, times, size=(96, 64), codec="libx264", fmt=None, audio=None, pix_fmt=None,
                  time_base=Fraction(1, 90000), rate=25):
    """A video whose frame k is :func:`frame_at` ``(k)`` shown at ``times[k]`` seconds.
    ``audio``: None, or an audio codec name ("aac", "mp2", "libopus") for a 440 Hz tone as long as the video."""
    import av

    w, h = size
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = w, h
        stream.pix_fmt = pix_fmt or ("yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p")
        if out.format.name not in ("avi", "mpeg", "mpegts", "flv", "asf"):
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        tb = stream.codec_context.time_base or Fraction(1, rate)
        a_stream = None
        if audio:
            a_stream = out.add_stream(audio, rate=48000 if audio == "libopus" else 44100)
            a_stream.layout = "mono"
        for k, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_at(k, size), format="rgb24")
            frame.pts = int(round(t / tb))
            frame.time_base = tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if a_stream is not None:
            rate_hz = a_stream.rate
            total = int((times[-1] + 0.1) * rate_hz)
            n = a_stream.codec_context.frame_size or 1024
            for start in range(0, total, n):
                t = (np.arange(start, start + n) / rate_hz).astype(np.float32)
                samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
                fmt_name = a_stream.codec_context.format.name
                if fmt_name == "s16":
                    samples = (samples * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(samples, format=fmt_name, layout="mono")
                af.sample_rate = rate_hz
                af.pts = start
                af.time_base = Fraction(1, rate_hz)
                out.mux(a_stream.encode(af))
            out.mux(a_stream.encode(None))
    return path


def video_streams(path):
    """``{"video": (codec, w, h, pix_fmt), "audio": codec or None, "times": [frame seconds]}`` read back."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"video": (v.codec_context.name, v.codec_context.width, v.codec_context.height,
                          v.codec_context.pix_fmt),
                "audio": c.streams.audio[0].codec_context.name if c.streams.audio else None,
                "format": c.format.name}
        times = sorted(float(f.time) for f in c.decode(v))
    info["times"] = [t - times[0] for t in times]
    info["frames"] = len(times)
    return info


class InvertEngine:
    """Stands in for StyleEngine: ``stylize`` returns 255 - image (fast, exact, visibly 'stylized')."""

    device = "cpu"
    num_styles = 26
    name = "invert"
    calls = 0

    def stylize(self, image, style=0, strength=1.0, preserve_color=False):
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        InvertEngine.calls += 1
        return 255 - image
