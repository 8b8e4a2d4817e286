"""Desktop window through glfw: resizable, letterboxed, hotkeys, vsync with a frame cap.

Keys: left/right previous/next style, 0-9 pick a style (two digits typed quickly: 10-25), G the
style grid (arrows + Enter or a click pick, G or Esc close), ? the key list, , and . previous/next
painting of --style-dir, [ ] strength down/up, C colour preservation, T stabiliser, D / Shift+D
more / less source detail, H HUD, F fullscreen, Esc or Q quit.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Optional

from ..errors import DisplayError
from .base import Sink, Size


def check_display() -> None:
    """Fail fast, before the model loads, when there is no display to open a window on."""
    if os.name != "nt" and sys.platform != "darwin" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError("no display for --window (DISPLAY is not set); use --output PATH to run headless")


def create_gl_window(width: int, height: int, title: str, visible: bool = True, decorated: bool = True,
                     resizable: bool = True):
    """glfw init + an OpenGL 3.3 core window whose context is made current; DisplayError if not."""
    import glfw

    check_display()
    if not glfw.init():
        raise DisplayError("cannot open a window: glfw failed to initialise the display; "
                           "use --output PATH to run headless")
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
    glfw.window_hint(glfw.RESIZABLE, resizable)
    glfw.window_hint(glfw.VISIBLE, visible)
    glfw.window_hint(glfw.DECORATED, decorated)
    window = glfw.create_window(width, height, title, None, None)
    if not window:
        glfw.terminate()
        raise DisplayError("cannot create an OpenGL 3.3 window; update the GPU driver or use --output PATH")
    glfw.make_context_current(window)
    return window


def window_screen_rect(window):
    """``(x, y, w, h)`` of a glfw window on the desktop, its decorations included; None when it is
    minimized or gone. Main thread only."""
    import glfw

    if window is None or glfw.get_window_attrib(window, glfw.ICONIFIED):
        return None
    x, y = glfw.get_window_pos(window)
    w, h = glfw.get_window_size(window)
    left, top, right, bottom = glfw.get_window_frame_size(window)
    return x - left, y - top, w + left + right, h + top + bottom


DEFAULT_SIZE: Size = (1280, 720)
BESIDE_SHARE = 0.4     # a window beside a captured screen: this share of the monitor's width (16% of its area)
BESIDE_MARGIN = 16     # px from the monitor's edges (room for a window manager's border)


def _overlap(a, b) -> int:
    """Area shared by two ``(x, y, w, h)`` rectangles."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def place_beside(avoid, monitors, size: Optional[Size], content_size: Size):
    """Where a window should open so that it does not cover ``avoid`` (the captured screen area,
    ``(x, y, w, h)`` desktop pixels): ``(x, y, w, h)`` of its client area. ``monitors``: the work
    areas ``(x, y, w, h)``. On a monitor that shows none of ``avoid`` it opens centred there at
    ``size`` (default :data:`DEFAULT_SIZE`, shrunk to fit). Otherwise (one monitor) it opens at
    ``size`` or, without one, :data:`BESIDE_SHARE` of the monitor's width with ``content_size``'s
    aspect, in the corner where it covers least of ``avoid`` (bottom-right when all are alike),
    so most of the captured screen stays visible and live."""
    if not monitors:
        return None
    free = [m for m in monitors if _overlap(m, avoid) == 0]
    if free:
        mx, my, mw, mh = free[0]
        w, h = size or DEFAULT_SIZE
        scale = min(1.0, 0.9 * mw / w, 0.9 * mh / h)
        w, h = int(w * scale), int(h * scale)
        return mx + (mw - w) // 2, my + (mh - h) // 2, w, h
    mx, my, mw, mh = max(monitors, key=lambda m: _overlap(m, avoid))
    if size is None:
        cw, ch = content_size if content_size and min(content_size) > 0 else DEFAULT_SIZE
        w = int(mw * BESIDE_SHARE)
        h = int(w * ch / cw)
        if h > mh * BESIDE_SHARE:
            h = int(mh * BESIDE_SHARE)
            w = int(h * cw / ch)
    else:
        w, h = min(size[0], mw), min(size[1], mh)
    left, top = mx + BESIDE_MARGIN, my + BESIDE_MARGIN + 24  # room for a title bar
    right, bottom = mx + mw - w - BESIDE_MARGIN, my + mh - h - BESIDE_MARGIN
    corners = [(right, bottom), (left, bottom), (right, top), (left, top)]
    corners = [(max(mx, min(x, mx + mw - w)), max(my, min(y, my + mh - h))) for x, y in corners]  # on the monitor
    x, y = min(corners, key=lambda c: _overlap((c[0], c[1], w, h), avoid))  # min keeps the first of ties
    return x, y, w, h


class WindowSink(Sink):
    """``size``: the window's client size, or None: :data:`DEFAULT_SIZE`, or beside a captured
    screen (see :func:`place_beside`; the pipeline sets :attr:`avoid` before ``open``)."""

    every_frame = False
    name = "window"

    def __init__(self, controls, size: Optional[Size] = DEFAULT_SIZE, fullscreen: bool = False,
                 max_fps: float = 0.0, visible: bool = True):
        self.controls = controls
        self.size_given = size is not None
        self.initial_size = tuple(size or DEFAULT_SIZE)
        self.avoid = None            # (x, y, w, h) of a captured screen area the window should leave visible
        self.start_fullscreen = fullscreen
        self.max_fps = max_fps       # 0: the monitor's refresh rate
        self.visible = visible
        self.window = None
        self.ctx = None
        self._screen = None
        self._saved = None           # windowed position/size while fullscreen
        self._last_swap = 0.0
        self._title = "artem-vr"
        self.size: Optional[Size] = None   # framebuffer size at the last present
        self._drawn = None                 # (compositor version, size, hud) on screen now

    # -- lifecycle --------------------------------------------------------------------------

    def prepare(self) -> None:
        check_display()

    def open(self, content_size: Size):
        import glfw
        import moderngl

        self.window = create_gl_window(*self.initial_size, self._title, visible=False)
        if self.avoid is not None:
            self._place_beside(content_size)
        if self.visible:
            glfw.show_window(self.window)
        glfw.swap_interval(1)
        glfw.set_key_callback(self.window, self._on_key)
        glfw.set_drop_callback(self.window, self._on_drop)
        glfw.set_mouse_button_callback(self.window, self._on_click)
        from .picker import StylePicker

        self.controls.picker = StylePicker(getattr(self.controls, "num_styles", 26))
        self.ctx = moderngl.create_context()
        self._screen = self.ctx.detect_framebuffer()
        if self.max_fps <= 0:
            mode = glfw.get_video_mode(glfw.get_primary_monitor())
            self.max_fps = float(mode.refresh_rate) if mode and mode.refresh_rate else 60.0
        if self.start_fullscreen:
            self.toggle_fullscreen()
        return self.ctx

    def _place_beside(self, content_size: Size) -> None:
        """Move (and, without an explicit size, shrink) the new window off the captured screen area."""
        import glfw

        monitors = [tuple(glfw.get_monitor_workarea(m)) for m in glfw.get_monitors() or ()]
        spot = place_beside(self.avoid, [m for m in monitors if m[2] > 0 and m[3] > 0],
                            self.initial_size if self.size_given else None, content_size)
        if spot is not None:
            x, y, w, h = spot
            glfw.set_window_size(self.window, w, h)
            glfw.set_window_pos(self.window, x, y)

    def close(self) -> None:
        if self.window is None:
            return
        import glfw

        glfw.destroy_window(self.window)
        self.window = None
        self.ctx = None
        glfw.terminate()

    # -- per frame --------------------------------------------------------------------------

    def screen_rects(self) -> list:
        """Where this window is on the desktop, for a screen source to leave out (no feedback loop)."""
        rect = window_screen_rect(self.window)
        return [rect] if rect else []

    def framebuffer_size(self) -> Size:
        import glfw

        return tuple(glfw.get_framebuffer_size(self.window))

    def present(self, compositor) -> bool:
        import glfw

        glfw.poll_events()
        if glfw.window_should_close(self.window) or self.controls.quit.is_set():
            return False
        if self.controls.fullscreen_requested:
            self.controls.fullscreen_requested = False
            self.toggle_fullscreen()
        size = self.size = self.framebuffer_size()
        self.drew = False
        if size[0] <= 0 or size[1] <= 0 or glfw.get_window_attrib(self.window, glfw.ICONIFIED):
            glfw.wait_events_timeout(0.05)  # minimized: nothing to draw, do not spin
            return True
        hud = True  # the pipeline clears the overlay when neither HUD nor a banner is up
        state = (compositor.version, size, hud)
        if state == self._drawn:
            # Same picture: the front buffer still shows it. Redrawing would only burn the CPU
            # time a software GL renderer shares with inference; wait for input or the next frame.
            glfw.wait_events_timeout(1.0 / self.max_fps)
            return True
        compositor.render(self._screen, size, flip_y=True, hud=hud)
        glfw.swap_buffers(self.window)
        self._drawn = state
        self.drew = True
        self._cap_rate()
        return True

    def _cap_rate(self) -> None:
        """vsync paces real displays; a virtual one (Xvfb) would spin, starving inference."""
        period = 1.0 / self.max_fps
        now = time.perf_counter()
        wait = self._last_swap + period - now
        if wait > 0:
            time.sleep(wait)
        self._last_swap = time.perf_counter()

    def title_info(self, text: str) -> None:
        import glfw

        title = f"artem-vr - {text}"
        if self.window is not None and title != self._title:
            self._title = title
            glfw.set_window_title(self.window, title)

    def toggle_fullscreen(self) -> None:
        import glfw

        if self._saved is None:
            monitor = glfw.get_window_monitor(self.window) or glfw.get_primary_monitor()
            mode = glfw.get_video_mode(monitor)
            self._saved = (*glfw.get_window_pos(self.window), *glfw.get_window_size(self.window))
            glfw.set_window_monitor(self.window, monitor, 0, 0, mode.size.width, mode.size.height, mode.refresh_rate)
        else:
            x, y, w, h = self._saved
            self._saved = None
            glfw.set_window_monitor(self.window, None, x, y, w, h, 0)

    # -- keys -------------------------------------------------------------------------------

    def _on_drop(self, window, paths) -> None:
        handle_drop(self.controls, list(paths))

    def _on_click(self, window, button, action, mods) -> None:
        import glfw

        picker = getattr(self.controls, "picker", None)
        if button != glfw.MOUSE_BUTTON_LEFT or action != glfw.PRESS or picker is None or not picker.open:
            return
        x, y = glfw.get_cursor_pos(window)  # window coordinates; the grid is laid out in framebuffer pixels
        (ww, wh), (fw, fh) = glfw.get_window_size(window), glfw.get_framebuffer_size(window)
        index = picker.cell_at(x * fw / max(ww, 1), y * fh / max(wh, 1), (fw, fh))
        if index is not None:
            self.controls.pick_style(index)
            picker.close()

    def _on_key(self, window, key, scancode, action, mods) -> None:
        import glfw

        if action not in (glfw.PRESS, glfw.REPEAT):
            return
        handle_key(self.controls, key, mods)


def handle_drop(controls, paths) -> Optional[str]:
    """Files dropped onto the window: the first one becomes the style (read and encoded off this
    thread by ``controls.request_painting``; a file that is no usable image puts up a banner)."""
    if not paths:
        return None
    controls.request_painting(paths[0])
    return "painting"


def handle_key(controls, key: int, mods: int = 0) -> Optional[str]:
    """Apply one glfw key code (with glfw modifier bits ``mods``) to ``controls``; returns what it
    did (for tests and logs)."""
    import glfw

    picker = getattr(controls, "picker", None)
    if picker is not None and picker.open:
        done = handle_picker_key(controls, picker, key)
        if done:
            return done
    if key in (glfw.KEY_ESCAPE, glfw.KEY_Q):
        controls.quit.set()
        return "quit"
    if key == glfw.KEY_G and picker is not None:
        picker.toggle(controls.current_index())
        return "style grid"
    if key == glfw.KEY_SLASH and mods & glfw.MOD_SHIFT:  # ? on US-style layouts
        controls.toggle_keys()
        return "keys"
    if key == glfw.KEY_RIGHT:
        controls.step_style(+1)
        return "next style"
    if key == glfw.KEY_LEFT:
        controls.step_style(-1)
        return "previous style"
    if glfw.KEY_0 <= key <= glfw.KEY_9:
        controls.type_digit(key - glfw.KEY_0)
        return "pick style"
    if key == glfw.KEY_RIGHT_BRACKET:
        controls.change_strength(+0.1)
        return "stronger"
    if key == glfw.KEY_LEFT_BRACKET:
        controls.change_strength(-0.1)
        return "weaker"
    if key == glfw.KEY_C:
        controls.toggle_color()
        return "colour"
    if key == glfw.KEY_H:
        controls.toggle_hud()
        return "hud"
    if key == glfw.KEY_T:
        controls.toggle_stabilize()
        return "stabilize"
    if key == glfw.KEY_D:
        less = bool(mods & glfw.MOD_SHIFT)
        controls.change_detail(-0.25 if less else +0.25)
        return "less detail" if less else "more detail"
    if key in (glfw.KEY_COMMA, glfw.KEY_PERIOD):
        controls.cycle_painting(+1 if key == glfw.KEY_PERIOD else -1)
        return "painting"
    if key == glfw.KEY_F:
        controls.fullscreen_requested = True
        return "fullscreen"
    return None


def handle_picker_key(controls, picker, key: int) -> Optional[str]:
    """Keys while the style grid is up: arrows move, Enter picks and closes, G or Esc closes;
    anything else falls through to the usual keys."""
    import glfw

    moves = {glfw.KEY_LEFT: (-1, 0), glfw.KEY_RIGHT: (1, 0), glfw.KEY_UP: (0, -1), glfw.KEY_DOWN: (0, 1)}
    if key in moves:
        picker.move(*moves[key])
        return "grid move"
    if key in (glfw.KEY_ENTER, glfw.KEY_KP_ENTER):
        controls.pick_style(picker.selected)
        picker.close()
        return "grid pick"
    if key in (glfw.KEY_ESCAPE, glfw.KEY_G):
        picker.close()
        return "grid close"
    return None
