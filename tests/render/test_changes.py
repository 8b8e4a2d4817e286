"""Incremental redraws (issue 31): a recording's framebuffer redraws only what a new frame changed,
and must end up with exactly the pixels a full redraw gives, on real GL framebuffers."""
import numpy as np
import pytest

from artem_vr.render.changes import ChangeTracker, dirty_rects
from artem_vr.render.compositor import Compositor


def _target(gl, size):
    tex = gl.texture(size, 3)
    return tex, gl.framebuffer(color_attachments=[tex])


def _read(fbo, size):
    return np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(size[1], size[0], 3)


def test_no_change_no_rects_and_one_change_stays_near_its_place():
    changed = np.zeros((45, 80), bool)
    assert dirty_rects(changed, (0, 0, 640, 360), 1.0, (2, 1), flip_y=False) == []
    changed[40, 70] = True                                  # bottom-right of the stylized frame
    rects = dirty_rects(changed, (0, 0, 640, 360), 1.0, (2, 1), flip_y=False)
    assert len(rects) == 1
    x, y, w, h = rects[0]
    assert x <= 70 * 8 and x + w >= 71 * 8 and y <= 40 * 8 and y + h >= 41 * 8   # covers the pixel's block
    assert w * h < 0.1 * 640 * 360                          # and little else
    fx, fy, fw, fh = dirty_rects(changed, (0, 0, 640, 360), 1.0, (2, 1), flip_y=True)[0]
    assert (fx, fw, fh) == (x, w, h) and fy == 360 - (y + h)   # the same rows, counted from the bottom


def test_tracker_sees_guide_changes_in_the_cell_that_holds_them():
    t = ChangeTracker()
    rgb = np.zeros((18, 32, 3), np.uint8)
    guide = np.zeros((180, 320, 4), np.uint8)
    assert t.update(rgb, guide) is None                     # the first frame: everything
    guide2 = guide.copy()
    guide2[95, 203, 1] = 1                                  # one guide pixel, one level
    changed = t.update(rgb, guide2)
    assert changed.sum() == 1 and changed[9, 20]
    assert not t.update(rgb, guide2).any()
    assert t.update(np.zeros((20, 32, 3), np.uint8), guide2) is None   # a new size: everything


@pytest.mark.parametrize("flip_y", [False, True])
def test_incremental_redraw_gives_the_pixels_of_a_full_redraw(gl, flip_y, monkeypatch):
    import artem_vr.render.changes as changes

    redrawn = []
    real = changes.dirty_rects
    monkeypatch.setattr(changes, "dirty_rects", lambda *a, **k: redrawn.append(real(*a, **k)) or redrawn[-1])
    rng = np.random.default_rng(11)
    low, out = (80, 45), (640, 360)
    base = rng.integers(0, 256, (low[1] // 5, low[0] // 5, 3), dtype=np.uint8).repeat(5, 0).repeat(5, 1)
    guide = np.dstack([np.kron(rng.integers(0, 256, (36, 64), dtype=np.uint8), np.ones((5, 5), np.uint8))] * 3
                      + [np.full((180, 320), 255, np.uint8)])
    guide[20:60:6, 10:200] = (0, 0, 0, 255)                # text-like lines: the text mask comes on
    comp = Compositor(gl, detail=0.5)
    ref = Compositor(gl, detail=0.5)      # a compositor of its own, drawing everything every time
    tex_a, inc = _target(gl, out)
    tex_b, full = _target(gl, out)
    stylized = base.copy()
    for step in range(14):
        if step in (3, 9):                                  # nothing changes
            pass
        elif step == 6:                                     # everything changes
            stylized = rng.integers(0, 256, stylized.shape, dtype=np.uint8)
        else:
            y, x = rng.integers(0, 40), rng.integers(0, 70)
            stylized[y:y + 5, x:x + 9] = rng.integers(0, 256, 3, dtype=np.uint8)
            gy, gx = rng.integers(0, 170), rng.integers(0, 300)
            guide[gy:gy + 3, gx:gx + 17, :3] = 255 - guide[gy:gy + 3, gx:gx + 17, :3]
        comp.upload(stylized, guide=guide, guide_order="bgra")
        ref.upload(stylized, guide=guide, guide_order="bgra")
        assert comp.guided
        comp.render(inc, out, flip_y=flip_y, hud=False, incremental=True)
        ref.render(full, out, flip_y=flip_y, hud=False)
        a, b = _read(inc, out), _read(full, out)
        assert np.array_equal(a, b), (step, int((a != b).any(-1).sum()))
    # the small changes were redrawn in part (the first frame, the whole change and the frame
    # after the tracker started are drawn whole), the still frames not at all
    areas = [sum(w * h for _, _, w, h in rects) / (out[0] * out[1]) for rects in redrawn]
    assert len(areas) >= 10 and sorted(areas)[:2] == [0, 0] and np.median(areas) < 0.6, areas
    comp.detail = ref.detail = 0.0                          # a new look: drawn whole again
    comp.upload(stylized, guide=guide, guide_order="bgra")
    ref.upload(stylized, guide=guide, guide_order="bgra")
    comp.render(inc, out, flip_y=flip_y, hud=False, incremental=True)
    ref.render(full, out, flip_y=flip_y, hud=False)
    assert np.array_equal(_read(inc, out), _read(full, out))
    for obj in (inc, full, tex_a, tex_b):
        obj.release()
    comp.release()
    ref.release()
