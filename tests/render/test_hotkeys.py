"""Window hotkeys change the live settings (the glfw key codes the window callback receives)."""
import glfw

from artem_vr.controls import Controls, Settings
from artem_vr.render.window import handle_key


def test_hotkeys_change_state():
    c = Controls(Settings(style="3:0.3,12:0.7", strength=0.5))
    v0 = c.settings.version
    handle_key(c, glfw.KEY_RIGHT)
    assert c.settings.style == 13  # from the blend's heaviest style
    handle_key(c, glfw.KEY_LEFT)
    handle_key(c, glfw.KEY_LEFT)
    assert c.settings.style == 11
    handle_key(c, glfw.KEY_7)
    assert c.settings.style == 7
    handle_key(c, glfw.KEY_RIGHT_BRACKET)
    assert c.settings.strength == 0.6
    for _ in range(9):
        handle_key(c, glfw.KEY_LEFT_BRACKET)
    assert c.settings.strength == 0.0
    handle_key(c, glfw.KEY_C)
    assert c.settings.preserve_color
    handle_key(c, glfw.KEY_H)
    assert c.settings.hud is False
    assert c.settings.stabilize is True
    assert handle_key(c, glfw.KEY_T) == "stabilize" and c.settings.stabilize is False
    handle_key(c, glfw.KEY_T)
    assert c.settings.stabilize is True
    handle_key(c, glfw.KEY_F)
    assert c.fullscreen_requested
    assert c.settings.version > v0
    assert not c.quit.is_set()
    handle_key(c, glfw.KEY_ESCAPE)
    assert c.quit.is_set()


def test_d_and_shift_d_change_the_detail_in_quarters_within_0_and_1():
    c = Controls(Settings(style=3, detail=0.75))
    assert handle_key(c, glfw.KEY_D) == "more detail" and c.settings.detail == 1.0
    handle_key(c, glfw.KEY_D)
    assert c.settings.detail == 1.0  # clamped
    for expected in (0.75, 0.5, 0.25, 0.0, 0.0):
        assert handle_key(c, glfw.KEY_D, glfw.MOD_SHIFT) == "less detail"
        assert c.settings.detail == expected


def test_style_wraps_around_and_q_quits():
    c = Controls(Settings(style=25))
    handle_key(c, glfw.KEY_RIGHT)
    assert c.settings.style == 0
    handle_key(c, glfw.KEY_LEFT)
    assert c.settings.style == 25
    assert handle_key(c, glfw.KEY_Z) is None
    handle_key(c, glfw.KEY_Q)
    assert c.quit.is_set()
