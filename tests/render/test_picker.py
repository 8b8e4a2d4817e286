"""The window's style grid (G), two-digit style keys, and the key list (? and a session's first seconds)."""
import time

import glfw
import numpy as np

from artem_vr.capture import parse_source
from artem_vr.capture.base import Frame
from artem_vr.controls import Controls, Settings
from artem_vr.images import read_image, write_image
from artem_vr.pipeline import LivePipeline
from artem_vr.render.file import FileSink
from artem_vr.render.picker import THUMB_BOX, StylePicker
from artem_vr.render.window import handle_key
from helpers.common import psnr


def test_two_digits_typed_quickly_reach_styles_10_to_25():
    c = Controls(Settings(0))
    t = 100.0
    assert c.type_digit(1, now=t).style == 1
    assert c.type_digit(5, now=t + 0.3).style == 15
    assert c.type_digit(2, now=t + 0.5).style == 2       # a third digit starts again
    assert c.type_digit(5, now=t + 2.0).style == 5       # too slow: style 5, not 25
    c.type_digit(3, now=t + 5.0)
    assert c.type_digit(0, now=t + 5.1).style == 0       # 30 is no style: 0
    c.type_digit(2, now=t + 9.0)
    assert c.type_digit(5, now=t + 9.2).style == 25
    handle_key(c, glfw.KEY_1), handle_key(c, glfw.KEY_9)
    assert c.settings.style == 19


def test_grid_keys_move_pick_and_close_without_quitting():
    c = Controls(Settings(3))
    c.picker = StylePicker(26)
    assert handle_key(c, glfw.KEY_G) == "style grid" and c.picker.open and c.picker.selected == 3
    handle_key(c, glfw.KEY_RIGHT), handle_key(c, glfw.KEY_DOWN), handle_key(c, glfw.KEY_DOWN)
    assert c.picker.selected == 3 + 1 + 12 and c.settings.style == 3  # moving does not change the style
    handle_key(c, glfw.KEY_ENTER)
    assert c.settings.style == 16 and not c.picker.open
    handle_key(c, glfw.KEY_G)
    for _ in range(10):
        handle_key(c, glfw.KEY_DOWN)
    assert c.picker.selected == 25  # clamped to the last style
    assert handle_key(c, glfw.KEY_ESCAPE) == "grid close" and not c.quit.is_set() and c.settings.style == 16
    assert handle_key(c, glfw.KEY_SLASH, glfw.MOD_SHIFT) == "keys" and c.show_keys
    handle_key(c, glfw.KEY_ESCAPE)
    assert c.quit.is_set()


def test_grid_layout_and_clicks():
    p = StylePicker(26)
    p.toggle(7)
    size = (960, 540)
    cw, ch = 960 / 6, 540 / 5
    for i in (0, 7, 25):
        r, col = divmod(i, 6)
        assert p.cell_at((col + 0.5) * cw, (r + 0.5) * ch, size) == i
    assert p.cell_at(5.5 * cw, 4.5 * ch, size) is None and p.cell_at(-1, 5, size) is None
    img = p.image(size)
    assert img.shape == (540, 960, 4)
    frame = img[int(ch) + 2, int(cw) + 10:int(2 * cw) - 10, :3]  # the selected cell's (7) top edge
    assert (frame[:, 0] > 200).all() and (frame[:, 2] < 100).all()  # the yellow frame


def test_thumbnails_are_the_styles_at_thumbnail_size(full_engine):
    rng = np.random.default_rng(1)
    pixels = np.repeat(np.repeat(rng.integers(0, 255, (45, 80, 3), dtype=np.uint8), 4, 0), 4, 1)  # 320x180
    p = StylePicker(26)
    p.toggle(0)
    t0 = time.perf_counter()
    p.render_some(full_engine, Frame(pixels, "rgb", 0, 0.0), count=3)
    assert sorted(p._thumbs) == [0, 1, 2]
    assert p._thumbs[2].shape == (THUMB_BOX[1], THUMB_BOX[0], 3)
    import cv2

    small = cv2.resize(pixels, THUMB_BOX, interpolation=cv2.INTER_AREA)
    assert psnr(p._thumbs[2], full_engine.stylize(small, 2)) > 30
    assert time.perf_counter() - t0 < 5


def _panel_rows(path):
    """Rows at the top-left whose pixels are darkened by the HUD panel (over a white picture)."""
    img = read_image(path)
    return int((img[:, 4, :].mean(axis=1) < 150).sum())


def test_key_list_shows_in_a_window_sessions_first_seconds_and_with_question_mark(tmp_path, full_engine):
    white = np.full((360, 640, 3), 255, np.uint8)
    write_image(tmp_path / "w.png", white)
    rows = {}
    for name, keys in (("window", False), ("file", False), ("file", True)):
        controls = Controls(Settings(0, strength=0.0, hud=True))
        controls.show_keys = keys
        sink = FileSink(tmp_path / f"{name}{keys}", hud=True)
        sink.name = name
        pipe = LivePipeline(parse_source(f"image:{tmp_path / 'w.png'}", offline=True, frames=2), full_engine, sink,
                            controls, (160, 90), lockstep=True)
        pipe.run()
        rows[name, keys] = _panel_rows(sorted((tmp_path / f"{name}{keys}").glob("*.png"))[-1])
    assert rows["window", False] > rows["file", False] + 100  # 8 more lines
    assert abs(rows["file", True] - rows["window", False]) <= 2


def test_grid_overlay_fills_in_while_the_picture_runs(tmp_path, full_engine):
    controls = Controls(Settings(0, hud=True))
    controls.picker = StylePicker(26)
    controls.picker.toggle(0)
    sink = FileSink(tmp_path / "g", size=(480, 270), hud=True)
    pipe = LivePipeline(parse_source("demo", offline=True, frames=4), full_engine, sink, controls, (160, 90),
                        lockstep=True, frames=4)
    pipe.run()
    assert len(controls.picker._thumbs) >= 8  # a few per frame
    last = read_image(sorted((tmp_path / "g").glob("*.png"))[-1])
    # the empty end of the last row is the grid's dark background, not the picture
    assert last[240:262, 300:470].mean() < 40


@__import__("pytest").mark.skipif(not __import__("os").environ.get("DISPLAY"), reason="needs an X display (Xvfb)")
def test_a_click_on_the_grid_in_a_real_window_picks_that_style():
    import json
    import subprocess
    import sys

    from helpers.common import ROOT

    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "window_click.py"), "19"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT / "tests")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"style": 19, "open": False}
