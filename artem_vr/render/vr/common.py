"""What the two VR backends share: the sink's shape (options, fade to the grid, the mirror window)
and the screen view's placement. One file per API beside it: ``openxr.py``, ``openvr.py``."""
from __future__ import annotations

import sys
from typing import Optional

import numpy as np

from ..base import Sink, Size

NEAR, FAR = 0.05, 100.0
FADE_AFTER = 10      # headset frames without a new stylized frame before fading towards the grid
FADE_SUBMITS = 90    # ... and how many more until fully faded (about a second at 90 Hz)
VIEWS = ("fill", "screen")


class HeadsetSink(Sink):
    """The VR sink's shape, whichever API drives the headset.

    ``view``: ``fill`` (the picture letterboxed into each eye, head-locked) or ``screen`` (a
    world-locked screen ``width`` m wide, ``distance`` m ahead, placed at start and when the runtime
    recentres; ``curve`` degrees of arc when the API can curve it, 0 = flat). ``mirror``: also show
    what the headset gets in a desktop window. A backend implements ``prepare``/``open``/``present``/
    ``close`` and calls :meth:`_update_fade` once per headset frame and :meth:`_show_mirror`.
    """

    every_frame = False
    name = "vr"
    api = "none"

    def __init__(self, controls, view: str = "fill", mirror: bool = False, distance: float = 2.0,
                 width: float = 2.4, curve: float = 0.0):
        from ...errors import VrError

        if view not in VIEWS:
            raise VrError(f"unknown VR view {view!r}; use fill or screen")
        self.controls = controls
        self.view = view
        self.mirror = mirror
        self.distance = float(distance)
        self.width = float(width)
        self.curve = float(curve)
        self.ctx = None
        self.eye_size: Optional[Size] = None
        self.size: Optional[Size] = None
        self.recenter_requested = True
        self.submits = 0
        self._window = None
        self._last_version = -1
        self._missed = 0

    def vr_stats(self) -> dict:
        """What --stats reports about the headset (a backend adds its own)."""
        return {"vr_api": self.api}

    # -- shared per-frame pieces -----------------------------------------------------------

    def _update_fade(self, compositor) -> None:
        """Fade towards the grid when the source stalls: counted in headset frames since the
        compositor's picture last changed."""
        if compositor.version != self._last_version:
            self._last_version = compositor.version
            self._missed = 0
        else:
            self._missed += 1
        over = self._missed - FADE_AFTER
        compositor.fade = 0.0 if over <= 0 else min(1.0, over / FADE_SUBMITS)

    def screen_rects(self) -> list:
        """The mirror window's place on the desktop, for a screen source to leave out."""
        from ..window import window_screen_rect

        rect = window_screen_rect(self._window) if self.mirror and self._window is not None else None
        return [rect] if rect else []

    def _window_context(self, visible: bool, title: str = "artem-vr - VR mirror"):
        """A glfw window's GL context (shown for --mirror, hidden otherwise) adopted by moderngl."""
        import glfw
        import moderngl

        from ..window import create_gl_window

        self._window = create_gl_window(960, 540, title, visible=visible)
        glfw.swap_interval(0)  # the headset paces the loop, not the monitor
        return moderngl.create_context()

    def _close_window(self) -> bool:
        """Destroys the mirror/context window; True if there was one (its context went with it)."""
        if self._window is None:
            return False
        import glfw

        glfw.destroy_window(self._window)
        glfw.terminate()
        self._window = None
        return True

    def _show_mirror(self, compositor, texture) -> None:
        """Draws ``texture`` (what the headset got: an eye, or the screen's picture) letterboxed
        into the mirror window; closing that window ends the run."""
        if self._window is None or not self.mirror or texture is None:
            return
        import glfw

        glfw.poll_events()
        if glfw.window_should_close(self._window):
            self.controls.quit.set()
        size = glfw.get_framebuffer_size(self._window)
        if size[0] > 0 and size[1] > 0:
            compositor.draw_texture(texture, self.ctx.detect_framebuffer(), size)
            glfw.swap_buffers(self._window)


def warn(text: str) -> None:
    print(f"artem-vr: warning: {text}", file=sys.stderr)


def note(text: str) -> None:
    print(f"artem-vr: note: {text}", file=sys.stderr)


def quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """4x4 rotation of a unit quaternion (OpenXR's ``XrQuaternionf`` order x, y, z, w)."""
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n if n > 0 else 0.0
    return np.array([
        [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w), 0],
        [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w), 0],
        [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y), 0],
        [0, 0, 0, 1]], dtype=np.float64)


def pose_matrix(orientation, position) -> np.ndarray:
    """An ``XrPosef``'s parts (``.x .y .z .w`` / ``.x .y .z``, or sequences) -> 4x4 pose (local -> space)."""
    q = [float(getattr(orientation, k)) for k in "xyzw"] if hasattr(orientation, "w") else list(map(float, orientation))
    p = [float(getattr(position, k)) for k in "xyz"] if hasattr(position, "x") else list(map(float, position))
    out = quaternion_matrix(*q)
    out[:3, 3] = p
    return out


def yaw_quaternion(yaw: float):
    """``(x, y, z, w)`` of a rotation by ``yaw`` radians about +y."""
    return (0.0, float(np.sin(yaw / 2)), 0.0, float(np.cos(yaw / 2)))


def screen_pose(hmd_pose: np.ndarray, distance: float, curve_deg: float = 0.0, width: float = 0.0):
    """Where the world-locked screen goes: ``(position xyz, orientation xyzw, yaw)`` ``distance`` m
    ahead of the head at eye height, upright, turned to face it (yaw only; pitch and roll ignored).
    For a cylinder (``curve_deg`` > 0) the pose is the cylinder's centre: ``radius`` =
    ``width / angle`` behind the screen's middle, so the panel's middle is still ``distance`` ahead."""
    from .. import vrmath

    yaw = vrmath.head_yaw(hmd_pose)
    rot = vrmath.yaw_rotation(yaw)[:3, :3]
    ahead = distance
    if curve_deg > 0 and width > 0:
        ahead = distance - width / np.radians(curve_deg)
    centre = hmd_pose[:3, 3] + rot @ np.array([0.0, 0.0, -ahead])
    return tuple(float(v) for v in centre), yaw_quaternion(yaw), yaw
