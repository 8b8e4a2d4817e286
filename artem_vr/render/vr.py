"""VR output through OpenVR (pyopenvr): every headset frame, both eyes, the latest stylized picture.

Frame order (pyopenvr's hellovr): poll events -> ``waitGetPoses`` (paces us at the headset's
rate) -> render left, ``submit(Eye_Left)`` -> render right, ``submit(Eye_Right)`` -> flush.
Views: ``fill`` letterboxes the picture into each eye (a stylized passthrough); ``screen`` puts a
world-locked screen ahead of the user, drawn with each eye's projection and eye-to-head matrices
and the headset pose. The first submits may raise DoNotHaveFocus; other submit errors are
reported once and the loop goes on. ``close`` always ends in ``openvr.shutdown()``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Optional

import numpy as np

from ..errors import VrError
from . import vrmath
from .base import Sink, Size, headless_context

NEAR, FAR = 0.05, 100.0
FADE_AFTER = 10      # submits without a new stylized frame before fading towards the grid
FADE_SUBMITS = 90    # ... and how many more until fully faded (about a second at 90 Hz)


def _openvr():
    try:
        import openvr
    except ImportError as exc:  # pragma: no cover - a dependency
        raise VrError(f"the openvr package is missing or broken ({exc}); pip install openvr, or use --window") from None
    return openvr


def _init_error_text(ovr, exc) -> str:
    code = getattr(exc, "error_value", None)
    try:
        text = ovr.getVRInitErrorAsEnglishDescription(code) if code is not None else ""
        text = text.decode() if isinstance(text, bytes) else text
    except Exception:
        text = ""
    return " ".join((text or str(exc) or type(exc).__name__).split())


@contextmanager
def native_stderr_captured(keep_on_success: bool = True):
    """The OpenVR client library writes diagnostics straight to fd 2 ("Unable to read VR Path
    Registry ..."). Capture them so a failure prints our one line only; replay them on success."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (some GUI launchers): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as buf:
        sys.stderr.flush()
        os.dup2(buf.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if ok and keep_on_success:
                buf.seek(0)
                sys.stderr.write(buf.read().decode(errors="replace"))


def runtime_status(ovr=None) -> str:
    """One line for ``artem-vr doctor``; never starts the runtime."""
    ovr = ovr or _openvr()
    with native_stderr_captured(keep_on_success=False):
        installed = ovr.isRuntimeInstalled()
        present = installed and ovr.isHmdPresent()
    if not installed:
        return "no OpenVR runtime installed (SteamVR); VR mode unavailable, use --window"
    return "OpenVR runtime installed; headset " + ("present" if present else "not detected")


class VrSink(Sink):
    every_frame = False
    name = "vr"

    def __init__(self, controls, view: str = "fill", mirror: bool = False, distance: float = 2.0,
                 width: float = 2.4, context: str = "auto", openvr_module=None):
        if view not in ("fill", "screen"):
            raise VrError(f"unknown VR view {view!r}; use fill or screen")
        self.controls = controls
        self.view = view
        self.mirror = mirror
        self.distance = distance
        self.width = width
        self.context_kind = context
        self.ovr = openvr_module
        self.system = self.vr_compositor = None
        self.ctx = None
        self.eye_size: Optional[Size] = None
        self.size: Optional[Size] = None
        self.eyes = {}
        self.screen_model: Optional[np.ndarray] = None
        self.recenter_requested = True
        self.submits = 0
        self._window = None
        self._reported = set()
        self._last_version = -1
        self._missed = 0
        self._initialised = False

    # -- lifecycle --------------------------------------------------------------------------

    def prepare(self) -> None:
        """``openvr.init``: fails with one line (and a --window hint) before the model loads."""
        ovr = self.ovr = self.ovr or _openvr()
        try:
            with native_stderr_captured():
                self.system = ovr.init(ovr.VRApplication_Scene)
        except ovr.error_code.InitError as exc:
            raise VrError(f"cannot start VR: {_init_error_text(ovr, exc)} (is SteamVR installed and a headset "
                          "connected?); use --window to run in a desktop window") from None
        self._initialised = True
        self.vr_compositor = ovr.VRCompositor()
        w, h = self.system.getRecommendedRenderTargetSize()
        self.eye_size = self.size = (int(w), int(h))

    def open(self, content_size: Size):
        if not self._initialised:
            self.prepare()
        self.ctx = self._make_context()
        ovr = self.ovr
        for eye, label in ((ovr.Eye_Left, "left"), (ovr.Eye_Right, "right")):
            tex = self.ctx.texture(self.eye_size, 4)
            fbo = self.ctx.framebuffer(color_attachments=[tex])
            vr_tex = ovr.Texture_t()
            vr_tex.handle = tex.glo
            vr_tex.eType = ovr.TextureType_OpenGL
            vr_tex.eColorSpace = ovr.ColorSpace_Gamma
            eye_to_head = vrmath.mat34_to_44(self.system.getEyeToHeadTransform(eye))
            projection = vrmath.mat44(self.system.getProjectionMatrix(eye, NEAR, FAR))
            self.eyes[label] = {"eye": eye, "texture": tex, "fbo": fbo, "vr_texture": vr_tex,
                                "eye_to_head": eye_to_head, "projection": projection}
        self.poses = (ovr.TrackedDevicePose_t * ovr.k_unMaxTrackedDeviceCount)()
        return self.ctx

    def screen_rects(self) -> list:
        """The mirror window's place on the desktop, for a screen source to leave out."""
        from .window import window_screen_rect

        rect = window_screen_rect(self._window) if self.mirror else None
        return [rect] if rect else []

    def _make_context(self):
        """A GL context for the eye textures: the mirror window's, or a headless one."""
        if self.mirror or self.context_kind == "window":
            import glfw
            import moderngl

            from .window import create_gl_window

            self._window = create_gl_window(960, 540, "artem-vr - VR mirror (left eye)", visible=self.mirror)
            glfw.swap_interval(0)  # waitGetPoses paces the loop, not the monitor
            return moderngl.create_context()
        return headless_context()

    def close(self) -> None:
        for eye in self.eyes.values():
            eye["fbo"].release()
            eye["texture"].release()
        self.eyes = {}
        if self._window is not None:
            import glfw

            glfw.destroy_window(self._window)
            glfw.terminate()
            self._window = None
        elif self.ctx is not None:
            self.ctx.release()
        self.ctx = None
        if self._initialised:
            self._initialised = False
            self.ovr.shutdown()

    # -- per frame --------------------------------------------------------------------------

    def present(self, compositor) -> bool:
        ovr = self.ovr
        if not self._poll_events():
            return False
        if self.controls.quit.is_set():
            return False
        try:
            self.vr_compositor.waitGetPoses(self.poses, None)
        except ovr.error_code.CompositorError as exc:
            self._report(exc)
        hmd = self.poses[ovr.k_unTrackedDeviceIndex_Hmd]
        hmd_pose = vrmath.mat34_to_44(hmd.mDeviceToAbsoluteTracking) if hmd.bPoseIsValid else np.eye(4)
        self._update_fade(compositor)
        if self.view == "screen" and compositor.texture is not None and (
                self.recenter_requested or self.screen_model is None) and hmd.bPoseIsValid:
            w, h = compositor.texture.size
            self.screen_model = vrmath.screen_model(hmd_pose, self.distance, self.width, w / h)
            self.recenter_requested = False
        for label in ("left", "right"):
            eye = self.eyes[label]
            self._render_eye(compositor, eye, hmd_pose)
            try:
                self.vr_compositor.submit(eye["eye"], eye["vr_texture"])
            except ovr.error_code.CompositorError as exc:
                self._report(exc)
        self.ctx.finish()  # hand both eyes to the runtime now, not when the command buffer fills
        self.submits += 1
        self._mirror(compositor)
        return True

    def _render_eye(self, compositor, eye, hmd_pose) -> None:
        if self.view == "fill" or self.screen_model is None:
            compositor.render(eye["fbo"], self.eye_size, flip_y=True, hud=False)
            return
        view = vrmath.eye_view(hmd_pose, eye["eye_to_head"])
        mvp = eye["projection"] @ view @ self.screen_model
        compositor.render_world(eye["fbo"], self.eye_size, vrmath.gl_matrix(mvp))

    def _update_fade(self, compositor) -> None:
        if compositor.version != self._last_version:
            self._last_version = compositor.version
            self._missed = 0
        else:
            self._missed += 1
        over = self._missed - FADE_AFTER
        compositor.fade = 0.0 if over <= 0 else min(1.0, over / FADE_SUBMITS)

    def _poll_events(self) -> bool:
        """Drain the event queue; False once the runtime asked us to quit (acknowledged)."""
        ovr = self.ovr
        event = ovr.VREvent_t()
        while self.system.pollNextEvent(event):
            kind = event.eventType
            if kind == ovr.VREvent_Quit:
                self.system.acknowledgeQuit_Exiting()
                return False
            if kind == getattr(ovr, "VREvent_SeatedZeroPoseReset", None):
                self.recenter_requested = True
            # standby, headset taken off, dashboard: keep running and keep submitting
        return True

    def _report(self, exc) -> None:
        name = type(exc).__name__
        if name == "CompositorError_DoNotHaveFocus" or name in self._reported:
            return
        self._reported.add(name)
        print(f"artem-vr: warning: VR compositor: {name} (reported once; continuing)", file=sys.stderr)

    def _mirror(self, compositor) -> None:
        if self._window is None or not self.mirror:
            return
        import glfw

        glfw.poll_events()
        if glfw.window_should_close(self._window):
            self.controls.quit.set()
        size = glfw.get_framebuffer_size(self._window)
        if size[0] > 0 and size[1] > 0:
            compositor.draw_texture(self.eyes["left"]["texture"], self.ctx.detect_framebuffer(), size)
            glfw.swap_buffers(self._window)
