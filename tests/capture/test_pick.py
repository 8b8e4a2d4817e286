"""--source screen:pick: the picker's logic, its real window under Xvfb driven by synthetic
mouse/key events, and the CLI printing the chosen region (issue 23)."""
import os

import numpy as np
import pytest

from artem_vr.capture.pick import MIN_SIDE, PickCancelled, RegionPicker

needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")


@pytest.fixture(autouse=True, scope="module")
def _hold_the_display():
    """An X server resets when its last client leaves, refusing connections for a moment: keep
    one open while these tests open and close windows."""
    if not os.environ.get("DISPLAY"):
        yield
        return
    import mss

    with mss.MSS():
        yield


def test_drag_gives_a_desktop_rectangle_in_any_direction_with_origin_and_hidpi_scale():
    p = RegionPicker((2560, 1440), origin=(1920, 0), window_size=(1280, 720))   # a 2x monitor, right of another
    p.press(300, 200)
    p.drag(100, 400)
    assert p.selection() == (200, 400, 400, 400) and not p.done
    assert p.release(100, 50) == (1920 + 200, 100, 400, 300) and p.done and not p.cancelled


def test_too_small_a_drag_asks_again_and_esc_cancels():
    p = RegionPicker((640, 360))
    p.press(10, 10)
    assert p.release(10 + MIN_SIDE - 1, 200) is None and p.too_small and not p.done
    p.press(700, 400)                                 # outside the screenshot: clamped to its corner
    assert p.release(600, 300) == (600, 300, 40, 60) and p.done
    p = RegionPicker((640, 360))
    p.press(-50, -50)
    assert p.release(100, 100) == (0, 0, 100, 100)
    q = RegionPicker((640, 360))
    q.cancel()
    assert q.done and q.result is None


def test_picker_picture_dims_outside_and_frames_the_selection():
    shot = np.full((100, 200, 3), 200, np.uint8)
    p = RegionPicker((200, 100))
    p.press(50, 20)
    p.drag(150, 80)
    out = p.draw(shot)
    assert (out[0, 0] == 80).all() and (out[50, 100] == 200).all()
    assert tuple(out[20, 100]) == (255, 220, 0) and tuple(out[50, 50]) == (255, 220, 0)


@needs_display
def test_picker_window_shows_the_frozen_screen_and_returns_the_dragged_region():
    import mss

    from artem_vr.capture.pick import grab_monitor, pick_region

    shot, origin = grab_monitor(1)
    seen = []
    steps = iter([lambda p: p.press(100, 50), lambda p: p.drag(300, 150), lambda p: None,
                  lambda p: seen.append(_grab_screen(mss)), lambda p: p.release(400, 250)])

    def feed(picker):
        next(steps, lambda p: None)(picker)

    assert pick_region(feed=feed, timeout=20) == (origin[0] + 100, origin[1] + 50, 300, 200)
    p = RegionPicker(shot.shape[1::-1])
    p.press(100, 50)
    p.drag(300, 150)
    expected = p.draw(shot).astype(int)
    got = seen[0].astype(int)
    below_hint = slice(60, None)
    assert np.abs(got[below_hint] - expected[below_hint]).mean() < 3


def _grab_screen(mss):
    with mss.MSS() as sct:
        shot = sct.grab(sct.monitors[1])
    return np.asarray(shot)[..., 2::-1].copy()


@needs_display
def test_esc_in_the_picker_cancels():
    import glfw  # noqa: F401  (the picker's window is real)

    from artem_vr.capture.pick import pick_region

    with pytest.raises(PickCancelled):
        pick_region(feed=lambda p: p.cancel(), timeout=20)


def test_cli_prints_the_picked_region_and_esc_is_exit_2(tmp_path, monkeypatch, capsys):
    import artem_vr.capture.pick as pick
    from artem_vr.cli import main

    def cancelled(*a, **k):
        raise PickCancelled("screen:pick cancelled: no region chosen")

    monkeypatch.setattr(pick, "pick_region", cancelled)
    assert main(["--output", str(tmp_path / "o"), "--source", "screen:pick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cancelled" in err[0]
    assert not (tmp_path / "o").exists()
    # a picked region is printed for reuse, then captured (here: a region off every desktop -> exit 2)
    monkeypatch.setattr(pick, "pick_region", lambda *a, **k: (90000, 90000, 64, 48))
    assert main(["--output", str(tmp_path / "o"), "--source", "screen:pick", "--model", "full",
                 "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    assert "--source screen:90000,90000,64,48" in out
    assert len(err.strip().splitlines()) == 1
