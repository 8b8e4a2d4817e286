"""Several outputs from one compositor: --record beside the window, --virtualcam through pyvirtualcam
(a backend registered through pyvirtualcam's own registration, following the real contract)."""
import os
import threading
import time

import numpy as np
import pytest

from artem_vr.capture import parse_source
from artem_vr.controls import Controls, Settings
from artem_vr.images import write_image
from artem_vr.pipeline import LivePipeline
from helpers.common import assert_one_line_error, psnr, run_cli

pyvirtualcam = pytest.importorskip("pyvirtualcam")
needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent. Like the real ones it refuses pixel formats
    it does not take and frames of the wrong size, dtype or layout, and takes any device name."""

    frames: list = []
    opened: list = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        from pyvirtualcam.util import encode_fourcc

        if fourcc != encode_fourcc(pyvirtualcam.PixelFormat.RGB.value):
            raise RuntimeError("only RGB")
        self.width, self.height, self.fps, self._device = width, height, fps, device or "/dev/video-test"
        RecordingBackend.opened.append(self)

    def send(self, frame):
        assert frame.dtype == np.uint8 and frame.ndim == 1 and frame.flags.c_contiguous
        if frame.size != self.width * self.height * 3:
            raise ValueError("wrong size")
        RecordingBackend.frames.append((time.perf_counter(), frame.reshape(self.height, self.width, 3).copy()))

    def close(self):
        self.closed = True

    def device(self):
        return self._device

    def native_fourcc(self):
        return None


@pytest.fixture
def test_camera():
    RecordingBackend.frames, RecordingBackend.opened = [], []
    pyvirtualcam.register_backend("artem-test", RecordingBackend)
    yield RecordingBackend
    pyvirtualcam.camera.BACKENDS.pop("artem-test", None)


def quadrants(w=320, h=240):
    """(h, w, 3) uint8: red, green / blue, white quadrants (colour order and letterbox are visible)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (255, 0, 0)
    img[: h // 2, w // 2:] = (0, 255, 0)
    img[h // 2:, : w // 2] = (0, 0, 255)
    img[h // 2:, w // 2:] = 255
    return img


def run_for(pipe, seconds):
    threading.Timer(seconds, pipe.controls.quit.set).start()
    return pipe.run()


def test_virtual_camera_alone_letterboxes_rgb_at_its_own_rate(tmp_path, test_camera, full_engine):
    from artem_vr.render.virtualcam import VirtualCamSink

    write_image(tmp_path / "q.png", quadrants())
    sink = VirtualCamSink(size=(160, 90), fps=20.0, backend="artem-test")
    sink.prepare()
    controls = Controls(Settings(0, strength=0.0, hud=False))  # strength 0: the picture itself comes out
    pipe = LivePipeline(parse_source(f"image:{tmp_path / 'q.png'}"), full_engine, sink, controls, (160, 120))
    run_for(pipe, 2.0)
    assert test_camera.opened[0].fps == 20.0 and sink.camera is None  # closed
    times = [t for t, _ in test_camera.frames]
    frame = test_camera.frames[-1][1]
    assert frame.shape == (90, 160, 3)
    # 4:3 into 16:9: bars of (160 - 120) / 2 = 20 px each side, black
    assert frame[:, :18].max() <= 8 and frame[:, -18:].max() <= 8
    for (y, x), rgb in {(20, 45): (255, 0, 0), (20, 115): (0, 255, 0), (70, 45): (0, 0, 255),
                        (70, 115): (255, 255, 255)}.items():
        assert np.abs(frame[y, x].astype(int) - rgb).max() <= 40, (y, x, frame[y, x])
    # the camera's own rate, whatever the inference rate
    gaps = np.diff(times)
    assert len(times) >= 15 and abs(np.median(gaps) - 0.05) < 0.01, np.median(gaps)


def test_virtual_camera_beside_file_output_gets_each_picture(tmp_path, test_camera, full_engine):
    """A secondary sink in the primary's (EGL) context: same picture as the file, at the camera's size."""
    from artem_vr.images import read_image
    from artem_vr.render.file import FileSink
    from artem_vr.render.virtualcam import VirtualCamSink

    write_image(tmp_path / "q.png", quadrants())
    cam = VirtualCamSink(size=(320, 240), fps=30.0, backend="artem-test")
    cam.prepare()
    controls = Controls(Settings(5, hud=False))
    pipe = LivePipeline(parse_source(f"image:{tmp_path / 'q.png'}", offline=True, frames=3), full_engine,
                        FileSink(tmp_path / "out"), controls, (160, 120), lockstep=True, outputs=[cam])
    pipe.run()
    written = read_image(sorted((tmp_path / "out").glob("*.png"))[-1])
    sent = test_camera.frames[-1][1]
    assert written.shape == sent.shape and psnr(written, sent) > 40


def test_no_virtual_camera_is_one_line_before_the_model_loads():
    if any(os.path.exists(f"/sys/devices/virtual/video4linux/video{i}") for i in range(64)):
        pytest.skip("this machine has a v4l2loopback device")
    t0 = time.perf_counter()
    proc = run_cli("--virtualcam", "--source", "demo", "--model", "full")
    line = assert_one_line_error(proc)
    assert "modprobe v4l2loopback exclusive_caps=1" in line or "OBS" in line
    assert time.perf_counter() - t0 < 20


@pytest.mark.parametrize("args,needle", [
    (["--output", "o.mp4", "--fullscreen"], "--fullscreen is for --window"),
    (["--window", "--vr-view", "fill"], "--vr-view is for the VR headset"),
    (["--output", "o.mp4", "--mirror"], "--mirror is for the VR headset"),
    (["--window", "--record", "r.png"], "use a video name"),
    (["--output", "o.mp4", "--stats", "/proc/nope/s.json"], "--stats"),
])
def test_inapplicable_options_are_refused(tmp_path, args, needle):
    proc = run_cli(*args, "--source", "demo", cwd=tmp_path)
    assert needle in assert_one_line_error(proc)
    assert not list(tmp_path.iterdir())


def test_stats_to_a_place_that_cannot_be_written_fails_before_the_run(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "s.json").mkdir()  # a folder where the file should go
    proc = run_cli("--output", tmp_path / "o.mp4", "--source", "demo", "--stats", folder / "s.json")
    assert "--stats" in assert_one_line_error(proc)
    assert not (tmp_path / "o.mp4").exists()


@needs_display
def test_record_beside_the_window_is_what_the_window_showed(tmp_path):
    """``--window --record``: the window (at the source's size, so 1:1) is grabbed from the X screen
    while it runs; the recording holds that picture and lasts as long as the run (SIGTERM ends it
    cleanly, as Esc would)."""
    import signal
    import subprocess
    import sys

    import av
    import mss

    write_image(tmp_path / "q.png", quadrants(320, 180))
    proc = subprocess.Popen([sys.executable, "-m", "artem_vr", "--window", "--source", f"image:{tmp_path / 'q.png'}",
                             "--record", str(tmp_path / "r.mp4"), "--size", "320x180", "--no-hud", "--style", "5",
                             "--model", "full", "--device", "cpu", "--infer-size", "160x90",
                             "--stats", str(tmp_path / "s.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shots, deadline = [], time.monotonic() + 60
    with mss.MSS() as screen:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.4)
            shot = np.asarray(screen.grab({"left": 0, "top": 0, "width": 320, "height": 180}))[:, :, 2::-1].copy()
            if shot.std() > 20:  # the stylized picture is up
                shots.append(shot)
            if len(shots) >= 4:
                break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and len(shots) >= 4, err
    assert "wrote" in out and "320x180" in out
    with av.open(str(tmp_path / "r.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
        length = float(container.duration / 1e6)
    run = __import__("json").loads((tmp_path / "s.json").read_text())["duration_s"]
    assert frames[0].shape == (180, 320, 3)
    assert 1.2 < length <= run and run - length < 8, (length, run)  # the run less model loading
    assert psnr(shots[-1], frames[-1]) > 28, psnr(shots[-1], frames[-1])


def test_virtualcam_alone_from_the_command_line(tmp_path, test_camera, capsys):
    """``artem-vr --virtualcam`` with no --window/--output: the camera is the only (headless) output."""
    from artem_vr.cli import main

    write_image(tmp_path / "q.png", quadrants())
    code = main(["--virtualcam", "--source", f"image:{tmp_path / 'q.png'}", "--model", "full", "--device", "cpu",
                 "--frames", "3", "--size", "320x180", "--stats", str(tmp_path / "s.json")])
    assert code == 0
    report = __import__("json").loads((tmp_path / "s.json").read_text())
    assert report["sink"].startswith("virtualcam:") and report["outputs"] == []
    assert test_camera.frames and test_camera.frames[-1][1].shape == (180, 320, 3)


def test_record_beside_a_file_output(tmp_path):
    from helpers.common import make_video

    video = make_video(tmp_path / "in.avi", frames=6, size=(96, 64))
    proc = run_cli("--output", tmp_path / "o.mp4", "--record", tmp_path / "r.mp4", "--source", f"video:{video}",
                   "--model", "full", "--device", "cpu", "--infer-size", "96x64")
    assert proc.returncode == 0, proc.stderr
    lines = sorted(line for line in proc.stdout.splitlines() if line.startswith("wrote "))
    assert len(lines) == 2 and all("(96x64, 6 frames" in line for line in lines), proc.stdout
    import av

    with av.open(str(tmp_path / "o.mp4")) as a, av.open(str(tmp_path / "r.mp4")) as b:
        fa = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        fb = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
    assert len(fa) == len(fb) == 6 and psnr(fa[3], fb[3]) > 35


@needs_display
def test_window_with_a_virtual_camera_beside_it(tmp_path):
    import json
    import subprocess
    import sys

    from helpers.common import ROOT

    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "window_virtualcam.py"), "--window",
                           "--virtualcam", "--source", "demo", "--frames", "20", "--model", "full", "--device", "cpu",
                           "--size", "320x180", "--stats", str(tmp_path / "s.json")],
                          capture_output=True, text=True, timeout=90, cwd=ROOT / "tests")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 0 and report["shape"] == [720, 1280, 3] and report["sent"] >= 5 and report["std"] > 10
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["sink"] == "window" and stats["outputs"] == ["virtualcam:/dev/video-test"]


def test_record_in_the_headsets_context(tmp_path):
    """--record beside VR (the OpenVR stand-in of test_vr): the video is the picture, upright, in colour order."""
    import av

    from artem_vr.render.record import RecordSink
    from test_vr import FakeOpenVR, make_sink, picture

    fake = FakeOpenVR()
    sink, comp, _ = make_sink(fake)
    record = RecordSink(tmp_path / "vr.mp4")
    record.open((80, 60), sink.ctx if getattr(sink, "ctx", None) is not None else comp.ctx)
    comp.upload(picture())
    try:
        for i in range(3):
            assert sink.present(comp)
            record.frame_time = i / 30
            record.present(comp)
        record.end_time = 0.5
    finally:
        record.close()
        comp.release()
        sink.close()
    with av.open(str(tmp_path / "vr.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert frames[0].shape == (60, 80, 3)
    top, bottom = frames[-1][10, 40].astype(int), frames[-1][50, 40].astype(int)
    assert top[0] > 180 and top[2] < 90 and bottom[2] > 180 and bottom[0] < 90
