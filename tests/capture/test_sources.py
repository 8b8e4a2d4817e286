"""Each capture source for real (video, image, demo, screen under Xvfb); the webcam through a
stand-in for cv2.VideoCapture, since no camera exists on test machines."""
import os
import time

import numpy as np
import pytest

from artem_vr.capture import CaptureStage, parse_source
from artem_vr.capture.demo import DemoSource
from artem_vr.capture.media import ImageSource, VideoSource
from artem_vr.capture.webcam import WebcamSource
from artem_vr.errors import CaptureError, InputError, UsageError
from artem_vr.slots import LatestSlot
from helpers.common import make_video


def run_stage(source, seconds=0.5, lockstep=False):
    slot = LatestSlot()
    stage = CaptureStage(source, slot, lockstep=lockstep)
    stage.start()
    stage.wait_open(5)
    time.sleep(seconds)
    stage.stop()
    assert not stage.alive
    return stage, slot


def test_video_source_paces_at_its_fps_and_loops(tmp_path):
    source = VideoSource(make_video(tmp_path / "v.avi", frames=4, fps=20), loop=True)
    stage, slot = run_stage(source, seconds=0.6)
    assert source.rate == pytest.approx(20)
    assert 8 <= stage.frames <= 15  # ~12 at 20 fps: paced, and past the 4 frames by looping
    seq, frame = slot.latest()
    assert frame.order == "rgb" and frame.pixels.shape == (48, 64, 3)


def test_video_source_lockstep_delivers_every_frame_once_then_ends(tmp_path):
    source = VideoSource(make_video(tmp_path / "v.avi", frames=6), loop=False)
    slot = LatestSlot()
    stage = CaptureStage(source, slot, lockstep=True)
    stage.start()
    seen, last = [], 0
    while True:
        got = slot.get(after=last, timeout=2)
        if got is None:
            break
        last, frame = got
        seen.append(frame.index)
        if stage.ended.is_set() and slot.seq == last:
            break
    stage.stop()
    assert seen == list(range(6)) and slot.dropped == 0


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        VideoSource(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="is a folder"):
        VideoSource(tmp_path)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="not an image or video"):  # probed before any thread starts
        VideoSource(bad)
    with pytest.raises(InputError):
        ImageSource(bad)


def test_image_source_repeats_the_picture(tmp_path):
    from PIL import Image

    img = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "i.png")
    stage, slot = run_stage(ImageSource(tmp_path / "i.png", fps=50), seconds=0.3)
    assert stage.frames >= 5
    frame = slot.latest()[1]
    assert frame.order == "rgb" and np.array_equal(frame.pixels, img)


def test_demo_source_moves():
    stage, slot = run_stage(DemoSource(size=(160, 90), fps=30), seconds=0.3)
    first = DemoSource(size=(160, 90)).read()[0]
    last = slot.latest()[1].pixels
    assert last.shape == (90, 160, 3) and stage.frames >= 5
    assert np.abs(first.astype(int) - last).mean() > 1  # the scene is animated


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")
def test_screen_source_grabs_bgra_without_copies():
    stage, slot = run_stage(parse_source("screen:0,0,64,48"), seconds=0.2)
    frame = slot.latest()[1]
    assert frame.order == "bgra" and frame.pixels.shape == (48, 64, 4)
    assert not frame.pixels.flags.owndata  # a view on mss's buffer, no per-frame numpy copy


def test_screen_source_without_display_says_what_to_do(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    stage = CaptureStage(parse_source("screen"), LatestSlot())
    stage.start()
    with pytest.raises(CaptureError, match="--source webcam or --source demo"):
        stage.wait_open(5)


class FakeVideoCapture:
    """Stand-in for cv2.VideoCapture (no camera here): isOpened/read/set/release as OpenCV has
    them; ``frames`` None means the device does not exist, [] means it opens but never delivers."""

    def __init__(self, frames):
        self.frames = None if frames is None else list(frames)
        self.props = {}
        self.released = False

    def isOpened(self):
        return self.frames is not None and not self.released

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def read(self):
        if not self.frames:
            return False, None
        return True, self.frames.pop(0)

    def release(self):
        self.released = True


def test_webcam_source_asks_for_one_buffer_and_mjpg():
    import cv2

    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(100)]
    fake = FakeVideoCapture(frames)
    stage, slot = run_stage(WebcamSource(0, capture_factory=lambda i, b: fake), seconds=0.1)
    assert fake.props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert fake.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert slot.latest()[1].order == "bgr"
    assert fake.released  # released on stop, so the camera can be reopened at once


@pytest.mark.parametrize("frames,needle", [(None, "no webcam at index 3"), ([], "gives no frames")])
def test_webcam_errors_are_actionable(frames, needle):
    stage = CaptureStage(WebcamSource(3, capture_factory=lambda i, b: FakeVideoCapture(frames)), LatestSlot())
    stage.start()
    with pytest.raises(CaptureError, match=needle) as info:
        stage.wait_open(5)
    assert "--source demo" in str(info.value)


def test_source_specs():
    assert parse_source("webcam:2").index == 2
    assert parse_source("screen:2").monitor == 2
    assert parse_source("screen:10,20,300,200").region == (10, 20, 300, 200)
    assert parse_source("demo").name == "demo"
    for bad in ("webcam:x", "screen:1,2,3", "screen:0,0,10,10", "video:", "telescope", "webcam:-1"):
        with pytest.raises(UsageError):
            parse_source(bad)
