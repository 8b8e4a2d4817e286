"""No feedback loop: a screen source leaves out our own window's area (issue 23). The masking logic
on synthetic grabs, then the real thing under Xvfb: the window on the captured screen, checked
from a screenshot of the window."""
import os
import subprocess
import sys

import numpy as np
import pytest

from artem_vr.capture.screen import EXCLUDE_MARGIN, ScreenSource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _grab(value, size=(64, 48)):
    return np.full((size[1], size[0], 4), value, np.uint8)


def test_excluded_rect_shows_what_was_there_before_and_only_there():
    src = ScreenSource()
    src._area = {"left": 100, "top": 50, "width": 64, "height": 48}   # the captured part of the desktop
    before = np.arange(48 * 64 * 4, dtype=np.uint32).astype(np.uint8).reshape(48, 64, 4)
    src.exclude([(110, 60, 20, 10)], before=before)                    # desktop coordinates
    out = src._mask(_grab(200))
    m = EXCLUDE_MARGIN
    y0, y1, x0, x1 = 10 - m, 20 + m, 10 - m, 30 + m
    assert np.array_equal(out[y0:y1, x0:x1], before[y0:y1, x0:x1])
    rest = np.ones(out.shape[:2], bool)
    rest[y0:y1, x0:x1] = False
    assert (out[rest] == 200).all()
    assert src.masked and "covers" in src.notice
    again = src._mask(_grab(90))                                        # the window's area stays as it was
    assert np.array_equal(again[y0:y1, x0:x1], before[y0:y1, x0:x1]) and (again[rest] == 90).all()
    src.exclude([])                                                     # window gone: the live screen
    assert (src._mask(_grab(70)) == 70).all() and not src.masked and src.notice is None


def test_window_outside_the_captured_area_changes_nothing_and_no_fill_is_dark_grey():
    src = ScreenSource(region=(0, 0, 64, 48))
    src._area = {"left": 0, "top": 0, "width": 64, "height": 48}
    src.exclude([(500, 500, 100, 100)])
    assert (src._mask(_grab(33)) == 33).all() and not src.masked
    src._fill = None
    src.exclude([(-10, -10, 20, 20)])
    out = src._mask(_grab(33))
    assert (out[:10 + EXCLUDE_MARGIN, :10 + EXCLUDE_MARGIN, :3] == 40).all() and out[30, 30, 0] == 33


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")
def test_window_on_the_captured_screen_shows_no_nested_copy_of_itself(tmp_path):
    """A 1280x720 picture fills the (virtual) screen; artem-vr's 640x360 window opens on top of it
    and shows the whole screen (an engine that returns its input). The window's own area must show
    the picture that was there, not the window (which, unmasked, would show a half-size copy of
    itself in its top-left quarter). Run in a process of its own (helpers/window_probes.py)."""
    import cv2

    from artem_vr.images import read_image, write_image

    picture = cv2.resize(read_image(os.path.join(ROOT, "artem_vr", "assets", "rocket.jpg")), (1280, 720))
    picture[::40] = (255, 255, 0)   # grid lines: a copy at another scale cannot line up with them
    picture[:, ::40] = (255, 255, 0)
    write_image(tmp_path / "desk.png", picture)
    shower = subprocess.Popen([sys.executable, "-m", "helpers.show_picture", str(tmp_path / "desk.png")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=os.path.join(ROOT, "tests"))
    try:
        assert shower.stdout.readline().split()[:1] == ["ready"]
        probe = subprocess.run([sys.executable, "-m", "helpers.window_probes", "feedback", str(tmp_path / "r.npz")],
                               cwd=os.path.join(ROOT, "tests"), capture_output=True, text=True, timeout=120)
    finally:
        shower.stdin.close()
        shower.wait(10)
    assert probe.returncode == 0, probe.stderr
    r = np.load(tmp_path / "r.npz")
    x, y, last = int(r["x"]), int(r["y"]), r["last"]
    assert last.shape == (360, 640, 3) and int(r["frames"]) == 12
    expected = cv2.resize(picture, (640, 360), interpolation=cv2.INTER_AREA).astype(float)
    # the window's own area on the screen, as the window shows it (half size)
    region = (slice(y // 2, y // 2 + 180), slice(x // 2, x // 2 + 320))
    err = np.abs(last[region].astype(float) - expected[region]).mean()
    assert err < 12, err
    assert bool(r["masked"])   # and the HUD said so (the banner is the source's notice)
