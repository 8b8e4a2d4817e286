"""The live pipeline end to end: headless file output, stats, the window, screen capture, shutdown."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from artem_vr.capture.base import Source
from artem_vr.controls import Controls, Settings
from artem_vr.errors import CaptureError
from artem_vr.images import read_image
from artem_vr.pipeline import LivePipeline
from artem_vr.render.file import FileSink
from helpers.common import ROOT, assert_one_line_error, make_video, psnr, run_cli

STATS_FIELDS = {"frames_captured", "frames_inferred", "frames_presented", "frames_dropped", "fps", "latency_ms",
                "stage_ms", "device", "model", "infer_size", "output_size"}
needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")


def read_video_rgb(path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))


def test_video_to_png_folder_matches_engine_frame_by_frame(tmp_path, full_engine):
    video = make_video(tmp_path / "in.avi", frames=8, size=(96, 64))
    out, stats = tmp_path / "frames", tmp_path / "stats.json"
    proc = run_cli("--output", out, "--source", f"video:{video}", "--infer-size", "96x64", "--frames", "6",
                   "--style", "9", "--model", "full", "--device", "cpu", "--stats", stats)
    assert proc.returncode == 0, proc.stderr
    written = sorted(out.glob("*.png"))
    assert len(written) == 6
    inputs = read_video_rgb(video)
    scores = [max(psnr(read_image(p), full_engine.stylize(f, 9)) for f in inputs) for p in written]
    assert np.median(scores) >= 30
    # lock-step offline render: frame i of the output is frame i of the input
    assert psnr(read_image(written[3]), full_engine.stylize(inputs[3], 9)) >= 30
    report = json.loads(stats.read_text())
    assert STATS_FIELDS <= set(report)
    assert report["frames_presented"] == 6 and report["infer_size"] == [96, 64]
    assert set(report["latency_ms"]) == {"p50", "p95"} and set(report["fps"]) == {"capture", "inference", "present"}
    assert set(report["stage_ms"]) == {"capture", "inference", "render"}


def test_video_output_runs_to_the_end_of_the_source(tmp_path):
    video = make_video(tmp_path / "in.avi", frames=5, size=(64, 48))
    proc = run_cli("--output", tmp_path / "out.mp4", "--source", f"video:{video}", "--size", "128x96",
                   "--device", "cpu", "--model", "full")
    assert proc.returncode == 0, proc.stderr
    frames = read_video_rgb(tmp_path / "out.mp4")
    assert len(frames) == 5 and frames[0].shape == (96, 128, 3)


class _ScriptedSource(Source):
    """Frames from a list; raises the given exception after them (a camera that fails mid-run)."""

    name = "scripted"
    rate = 100.0

    def __init__(self, n, exc=None):
        self.n, self.exc, self.i = n, exc, 0

    def read(self):
        if self.i >= self.n:
            if self.exc:
                raise self.exc
            return None
        self.i += 1
        return np.full((48, 64, 3), (10 * self.i) % 256, np.uint8), "rgb"


def test_exception_in_capture_thread_stops_everything(tmp_path, full_engine):
    sink = FileSink(tmp_path / "f")
    pipe = LivePipeline(_ScriptedSource(5, CaptureError("webcam 0 stopped delivering frames")), full_engine, sink,
                        Controls(Settings(0)), (64, 48))
    t0 = time.perf_counter()
    with pytest.raises(CaptureError, match="stopped delivering"):
        pipe.run()
    assert time.perf_counter() - t0 < 5
    assert not pipe.capture.alive and not pipe.worker.alive and sink.ctx is None


def test_slow_inference_keeps_latency_flat(tmp_path, full_engine):
    """Capture at 100 fps, inference far slower: frames are dropped, none queue up."""

    class Slow:
        def __init__(self, engine):
            self.engine, self.device, self.num_styles, self.name = engine, engine.device, 26, "slow"

        def weights(self, style):
            return self.engine.weights(style)

        def stylize_tensor(self, *a, **k):
            time.sleep(0.05)
            return self.engine.stylize_tensor(*a, **k)

    src = _ScriptedSource(10 ** 6)
    pipe = LivePipeline(src, Slow(full_engine), FileSink(tmp_path / "f"), Controls(Settings(0)), (64, 48),
                        frames=12)
    stats = pipe.run()
    assert stats["frames_dropped"] > 20
    lat = list(pipe.latencies)
    assert max(lat[-4:]) < 400  # one inference (~60 ms) plus a frame, not a growing backlog
    assert np.mean(lat[-4:]) < np.mean(lat[:4]) + 100


@needs_display
def test_window_runs_and_exits_0():
    proc = run_cli("--window", "--source", "demo", "--frames", "30", "--model", "full", "--device", "cpu",
                   "--size", "320x180")
    assert proc.returncode == 0, proc.stderr


def test_window_without_display_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "artem_vr", "--window", "--source", "demo"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert "--output" in assert_one_line_error(proc)


@needs_display
def test_screen_capture_shows_the_stylized_screen(tmp_path, full_engine):
    """A known picture is put on the (virtual) screen in a window; artem-vr captures that region."""
    picture = read_image(ROOT / "artem_vr" / "assets" / "rocket.jpg")[:160, :240]
    from artem_vr.images import write_image

    write_image(tmp_path / "picture.png", picture)
    shower = subprocess.Popen([sys.executable, "-m", "helpers.show_picture", str(tmp_path / "picture.png")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT / "tests")
    try:
        ready = shower.stdout.readline().split()
        assert ready[:1] == ["ready"], ready
        x, y = int(ready[1]), int(ready[2])
        proc = run_cli("--output", tmp_path / "s", "--source", f"screen:{x},{y},240,160", "--infer-size", "240x160",
                       "--frames", "3", "--device", "cpu", "--model", "full", "--style", "4")
    finally:
        shower.stdin.close()
        shower.wait(10)
    assert proc.returncode == 0, proc.stderr
    frame = read_image(sorted((tmp_path / "s").glob("*.png"))[-1])
    assert psnr(frame, full_engine.stylize(picture, 4)) >= 25


def _start(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "artem_vr", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _wait_for_frames(folder, n=2, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if folder.exists() and len(list(folder.glob("**/*.png"))) >= n:  # in .partial.PID/ until the run ends
            return
        time.sleep(0.1)
    raise AssertionError("the pipeline never produced frames")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_shut_down_within_2s(tmp_path, sig, code):
    out = tmp_path / "live"
    proc = _start(["--output", str(out), "--source", "demo", "--model", "full",
                   "--device", "cpu", "--stats", str(tmp_path / "s.json")])
    try:
        _wait_for_frames(out)
        t0 = time.perf_counter()
        proc.send_signal(sig)
        proc.wait(timeout=10)
        elapsed = time.perf_counter() - t0
    finally:
        proc.kill()
    assert proc.returncode == code, proc.stderr.read()
    assert elapsed < 2.0
    assert "Traceback" not in proc.stderr.read()
    assert json.loads((tmp_path / "s.json").read_text())["frames_presented"] >= 1


@needs_display
def test_resize_and_minimize_storm():
    """200 window events (resizes, iconify/restore, and 0x0 framebuffers as a minimized window
    reports them) with real GL in a real glfw window: no exception, no GL error, a constant number
    of GL objects. Runs in its own process (a GLX window must not share one with EGL contexts)."""
    proc = subprocess.run([sys.executable, "-m", "helpers.window_storm"], capture_output=True, text=True,
                          cwd=ROOT / "tests", timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["gl_errors"] == [] and report["kept_going"]
    assert len(report["object_counts"]) == 1
    assert report["maxrss_kb"][1] - report["maxrss_kb"][0] < 50_000


def test_style_change_rerenders_the_still_frame(full_engine):
    """A hotkey's style change re-stylizes the last frame at once, with no new frame arriving."""
    from artem_vr.capture.base import Frame
    from artem_vr.inference.worker import StyleWorker
    from artem_vr.slots import LatestSlot

    cap, out = LatestSlot(), LatestSlot()
    controls = Controls(Settings(3))
    worker = StyleWorker(full_engine, cap, out, controls, (64, 48))
    worker.start()
    try:
        cap.put(Frame(read_image(ROOT / "artem_vr" / "assets" / "rocket.jpg")[:96, :128], "rgb", 0, time.perf_counter()))
        first = out.get(0, timeout=10)
        controls.pick_style(12)
        second = out.get(first[0], timeout=10)
    finally:
        worker.stop()
    assert first[1].style == "3 ribbons" and second[1].style == "12 haze"
    assert second[1].index == 0  # the same captured frame, re-rendered
    assert psnr(first[1].pixels, second[1].pixels) < 25


def test_cpu_frame_conversion_shrinks_as_uint8_and_keeps_colours():
    """A camera-sized BGRA frame on the CPU: OpenCV's area filter shrinks it before the float
    conversion. Quadrant colours land in RGB order, and the picture matches torch's antialiased
    resize of the same frame (what the GPU path does) to within rounding."""
    import torch
    import torch.nn.functional as F

    from artem_vr.inference.worker import frame_to_tensor

    rgb = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (250, 200, 40)}
    frame = np.zeros((720, 1280, 4), np.uint8)
    for key, (r, g, b) in rgb.items():
        ys = slice(0, 360) if key[0] == "t" else slice(360, 720)
        xs = slice(0, 640) if key[1] == "l" else slice(640, 1280)
        frame[ys, xs] = (b, g, r, 255)  # BGRA, as a screen grab delivers it
    frame[100:620, 600:680] = (200, 200, 200, 255)  # a bar across the middle: edges to filter
    x = frame_to_tensor(frame, "bgra", torch.device("cpu"), (320, 180))
    assert x.shape == (1, 3, 180, 320) and x.dtype == torch.float32
    for key, (r, g, b) in rgb.items():
        y0 = 20 if key[0] == "t" else 160
        x0 = 20 if key[1] == "l" else 300
        np.testing.assert_allclose(x[0, :, y0, x0].numpy() * 255, (r, g, b), atol=1)
    ref = torch.from_numpy(frame[..., [2, 1, 0]].copy()).permute(2, 0, 1)[None].float() / 255
    ref = F.interpolate(ref, size=(180, 320), mode="bilinear", align_corners=False, antialias=True)
    assert (x - ref).abs().mean().item() < 0.01


def test_live_modes_make_torch_threads_wait_passively():
    """Chosen before torch loads, for the onnxruntime default; --backend torch and a user's own
    setting are left alone."""
    code = ("import os, sys; from artem_vr.cli import quiet_torch_threads as q; q(sys.argv[1]); "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    run = lambda backend, **extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code, backend], env={**env, **extra}, capture_output=True, text=True, timeout=60).stdout
    assert run("auto").split() == ["PASSIVE", "False"]
    assert run("torch").split() == ["None", "False"]
    assert run("auto", OMP_WAIT_POLICY="ACTIVE").split() == ["ACTIVE", "False"]
