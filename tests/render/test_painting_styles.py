"""Paintings as live styles: dropped files and --style-dir change the style off the display thread,
bad files put up a banner and keep the style, and the worker switches nets with the style's kind."""
import time

import glfw
import numpy as np
import pytest

from artem_vr.capture.base import Frame
from artem_vr.controls import Controls, Settings
from artem_vr.inference.styles import PaintingStyle
from artem_vr.inference.worker import StyleWorker
from artem_vr.render.window import handle_drop, handle_key
from artem_vr.slots import LatestSlot
from helpers.arbitrary_reference import lite_vector, make_painting, reference_uint8


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    d = tmp_path_factory.mktemp("art")
    (d / "notes.txt").write_text("no picture here")
    return {"a": make_painting(d / "a.png", (150, 120), 5), "b": make_painting(d / "b.jpg", (90, 160), 6),
            "notes": d / "notes.txt"}


def test_dropped_painting_becomes_the_style(art):
    c = Controls(Settings(style=4))
    v0 = c.settings.version
    assert handle_drop(c, [str(art["a"]), str(art["b"])]) == "painting"
    _wait(lambda: c.settings.version > v0)
    style = c.settings.style
    assert isinstance(style, PaintingStyle) and str(style) == "a.png"
    np.testing.assert_allclose(style.vector, lite_vector(art["a"]), atol=1e-6)
    handle_key(c, glfw.KEY_RIGHT)  # arrows go back to the built-in styles, from the last one
    assert c.settings.style == 5


def test_bad_dropped_file_keeps_the_style_and_shows_a_banner(art):
    c = Controls(Settings(style=7))
    v0 = c.settings.version
    c.request_painting(art["notes"]).join(10)
    assert c.settings.style == 7 and c.settings.version == v0
    assert "style not changed" in c.notice and "notes.txt" in c.notice


def test_style_dir_cycles_with_comma_and_period(art):
    c = Controls(Settings(style=0))
    handle_key(c, glfw.KEY_PERIOD)
    assert c.notice and "--style-dir" in c.notice  # nothing to cycle yet
    c.paintings = [str(art["a"]), str(art["b"])]
    for key, name in ((glfw.KEY_PERIOD, "a.png"), (glfw.KEY_PERIOD, "b.jpg"), (glfw.KEY_PERIOD, "a.png"),
                      (glfw.KEY_COMMA, "b.jpg")):
        v = c.settings.version
        handle_key(c, key)
        _wait(lambda: c.settings.version > v)
        assert str(c.settings.style) == name
    handle_key(c, glfw.KEY_3)
    assert c.settings.style == 3


def test_worker_switches_nets_with_the_style(_cache_dir, art):
    from skimage import data

    from artem_vr import StyleEngine

    # fp32 asked for by name: the arbitrary net the worker loads takes the same precision, so it matches
    # the float reference to a level (auto may pick bf16 on a CPU that has it, 7 levels away)
    full_engine = StyleEngine.load("full", device="cpu", precision="fp32")

    photo = np.ascontiguousarray(data.astronaut()[:96, :128])
    cap, out = LatestSlot(), LatestSlot()
    c = Controls(Settings(style=3, stabilize=False) if "stabilize" in Settings.__dataclass_fields__ else Settings(3))
    worker = StyleWorker(full_engine, cap, out, c, (128, 96))
    worker.start()
    try:
        cap.put(Frame(photo, "rgb", 0, time.perf_counter()))
        first = out.get(0, timeout=20)
        c.request_painting(art["a"]).join(10)
        second = out.get(first[0], timeout=60)  # the arbitrary net loads on the worker's thread
        c.pick_style(3)
        third = out.get(second[0], timeout=20)
    finally:
        worker.stop()
    assert first[1].style == "3 ribbons" and second[1].style == "a.png" and third[1].style == "3 ribbons"
    assert worker.engine is full_engine  # back on the same (kept) engine
    ref = reference_uint8(photo, lite_vector(art["a"]))
    assert np.abs(second[1].pixels.astype(int) - ref).max() <= 1
    assert np.array_equal(first[1].pixels, third[1].pixels)


def _wait(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@pytest.mark.skipif(not __import__("os").environ.get("DISPLAY"), reason="needs an X display (Xvfb)")
def test_window_drop_names_the_file_and_bad_drops_leave_the_style(art):
    import json
    import subprocess
    import sys

    from helpers.common import ROOT

    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "window_drop.py"), str(art["a"]),
                           str(art["notes"]), str(art["b"])], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rc"] == 0, proc.stderr
    assert "style a.png" in report["start"]
    assert "style a.png" in report["bad"] and "notes.txt" in report["notice"]  # style kept, banner up
    assert "style b.jpg" in report["dropped"] and "style not changed" not in report["dropped"]
