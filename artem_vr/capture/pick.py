"""``--source screen:pick``: a frozen screenshot shown full screen; the user drags the rectangle to
capture (Esc cancels). Like the region picker of the 2017 project. The chosen region is printed as
``screen:X,Y,W,H`` so it can be given again without picking.

:class:`RegionPicker` is the logic (window pixels -> desktop rectangle), testable without a
display; :func:`pick_region` runs it in a glfw window on the main thread, before the model loads.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np

from ..errors import CaptureError, UsageError

Rect = Tuple[int, int, int, int]
MIN_SIDE = 32   # as parse_source asks of screen:X,Y,W,H
HINT = "drag a rectangle to capture - Esc cancels"


class PickCancelled(UsageError):
    """The user pressed Esc (or closed the picker): exit 2, nothing started."""


class RegionPicker:
    """Turns mouse positions in the picker window into a desktop rectangle.

    ``shot_size``: the screenshot's (W, H) in desktop pixels; ``origin``: its top-left on the
    desktop; ``window_size``: the window's (W, H) in the units glfw reports cursor positions in
    (they differ on HiDPI screens: positions are scaled by shot/window)."""

    def __init__(self, shot_size, origin=(0, 0), window_size=None):
        self.shot_size = tuple(int(v) for v in shot_size)
        self.origin = tuple(int(v) for v in origin)
        window_size = window_size or self.shot_size
        self.scale = (self.shot_size[0] / window_size[0], self.shot_size[1] / window_size[1])
        self.start: Optional[Tuple[int, int]] = None
        self.end: Optional[Tuple[int, int]] = None
        self.result: Optional[Rect] = None
        self.cancelled = False
        self.too_small = False   # the last drag was under MIN_SIDE a side (the hint says so)
        self.version = 0         # bumped on every visible change

    def _to_shot(self, x: float, y: float) -> Tuple[int, int]:
        w, h = self.shot_size
        return (int(min(max(round(x * self.scale[0]), 0), w)), int(min(max(round(y * self.scale[1]), 0), h)))

    def press(self, x: float, y: float) -> None:
        self.start = self.end = self._to_shot(x, y)
        self.too_small = False
        self.version += 1

    def drag(self, x: float, y: float) -> None:
        if self.start is not None and self.result is None:
            self.end = self._to_shot(x, y)
            self.version += 1

    def release(self, x: float, y: float) -> Optional[Rect]:
        """Finish a drag: the rectangle in desktop pixels, or None when it is too small (try again)."""
        if self.start is None:
            return None
        self.end = self._to_shot(x, y)
        rect = self.selection()
        self.version += 1
        if rect[2] < MIN_SIDE or rect[3] < MIN_SIDE:
            self.start = self.end = None
            self.too_small = True
            return None
        self.result = (rect[0] + self.origin[0], rect[1] + self.origin[1], rect[2], rect[3])
        return self.result

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def done(self) -> bool:
        return self.cancelled or self.result is not None

    def selection(self) -> Rect:
        """The dragged rectangle in screenshot pixels ``(x, y, w, h)``; zeros before a drag."""
        if self.start is None or self.end is None:
            return 0, 0, 0, 0
        (x0, y0), (x1, y1) = self.start, self.end
        return min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)

    def draw(self, shot: np.ndarray) -> np.ndarray:
        """``shot (H,W,3) uint8`` -> the picture the picker shows: dimmed outside the selection,
        a 2-px yellow border around it."""
        out = (shot.astype(np.uint16) * 2 // 5).astype(np.uint8)
        x, y, w, h = self.selection()
        if w > 0 and h > 0:
            out[y:y + h, x:x + w] = shot[y:y + h, x:x + w]
            yellow = np.array([255, 220, 0], np.uint8)
            out[y:y + 2, x:x + w] = yellow
            out[max(y, y + h - 2):y + h, x:x + w] = yellow
            out[y:y + h, x:x + 2] = yellow
            out[y:y + h, max(x, x + w - 2):x + w] = yellow
        return out


def grab_monitor(monitor: int = 1):
    """``(rgb (H,W,3) uint8, (left, top))`` of mss monitor ``monitor``; CaptureError if impossible."""
    import mss

    try:
        with mss.MSS() as sct:
            monitors = sct.monitors
            if not 1 <= monitor < len(monitors):
                raise CaptureError(f"no monitor {monitor}; this desktop has {len(monitors) - 1}")
            area = monitors[monitor]
            shot = sct.grab(area)
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError(f"screen capture is not available ({' '.join(str(exc).split()) or type(exc).__name__}); "
                           "screen:pick needs an X display") from None
    bgra = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
    return np.ascontiguousarray(bgra[..., 2::-1]), (area["left"], area["top"])


def pick_region(monitor: int = 1, feed: Optional[Callable[[RegionPicker], None]] = None,
                timeout: Optional[float] = None) -> Rect:
    """Show monitor ``monitor`` frozen, full screen, and return the dragged rectangle ``(x, y, w, h)``
    in desktop pixels. Raises :class:`PickCancelled` on Esc / window close (or after ``timeout``
    seconds), DisplayError without a display. ``feed(picker)``, called every loop, lets tests
    drive the picker as a user would (the window, drawing and flow are the real ones)."""
    import time

    import glfw
    import moderngl

    from ..render.compositor import Compositor
    from ..render.hud import hud_image
    from ..render.window import create_gl_window

    shot, origin = grab_monitor(monitor)
    h, w = shot.shape[:2]
    window = create_gl_window(w, h, "artem-vr - pick the region", decorated=False, resizable=False)
    try:
        glfw.set_window_pos(window, *origin)
        picker = RegionPicker((w, h), origin, glfw.get_window_size(window))

        def on_button(win, button, action, mods):
            if button == glfw.MOUSE_BUTTON_LEFT:
                x, y = glfw.get_cursor_pos(win)
                picker.press(x, y) if action == glfw.PRESS else picker.release(x, y)

        glfw.set_mouse_button_callback(window, on_button)
        glfw.set_cursor_pos_callback(window, lambda win, x, y: picker.drag(x, y))
        glfw.set_key_callback(window, lambda win, key, sc, action, mods: picker.cancel()
                              if key == glfw.KEY_ESCAPE and action == glfw.PRESS else None)
        ctx = moderngl.create_context()
        screen = ctx.detect_framebuffer()
        comp = Compositor(ctx)
        drawn, hint = -1, None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not picker.done:
            glfw.wait_events_timeout(0.02)
            if feed is not None:
                feed(picker)
            if glfw.window_should_close(window) or (deadline is not None and time.monotonic() > deadline):
                picker.cancel()
                break
            if picker.version != drawn:
                comp.upload(picker.draw(shot))
                text = HINT + (f" (at least {MIN_SIDE}x{MIN_SIDE} px)" if picker.too_small else "")
                if text != hint:
                    comp.set_hud(hud_image([text]))
                    hint = text
                comp.render(screen, glfw.get_framebuffer_size(window), flip_y=True, hud=True)
                glfw.swap_buffers(window)
                drawn = picker.version
        comp.release()
    finally:
        glfw.destroy_window(window)
        glfw.terminate()
    if picker.result is None:
        raise PickCancelled("screen:pick cancelled: no region chosen")
    return picker.result
