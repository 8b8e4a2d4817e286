"""--source screen:pick: the picker's logic, its real window under Xvfb driven by synthetic
mouse/key events, and the CLI printing the chosen region (issue 23)."""
import os

import numpy as np
import pytest

from artem_vr.capture.pick import MIN_SIDE, PickCancelled, RegionPicker

needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (Xvfb)")


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
def test_picker_window_shows_the_frozen_screen_returns_the_dragged_region_and_esc_cancels(tmp_path):
    """The real window, driven by synthetic events in a process of its own (helpers/window_probes.py)."""
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-m", "helpers.window_probes", "pick", str(tmp_path / "p.npz")],
                           cwd=os.path.join(os.path.dirname(os.path.dirname(__file__))), capture_output=True,
                           text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    r = np.load(tmp_path / "p.npz")
    ox, oy = r["origin"]
    assert tuple(r["rect"]) == (ox + 100, oy + 50, 300, 200)
    assert bool(r["cancelled"])
    shot = r["shot"]
    p = RegionPicker(shot.shape[1::-1])
    p.press(100, 50)
    p.drag(300, 150)
    expected = p.draw(shot).astype(int)
    below_hint = slice(60, None)
    assert np.abs(r["seen"][below_hint].astype(int) - expected[below_hint]).mean() < 3


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
