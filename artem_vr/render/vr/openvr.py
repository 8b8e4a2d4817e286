"""VR output through OpenVR (pyopenvr): every headset frame, both eyes, the latest stylized picture.
The OpenVR backend of the VR sink (``--vr-api openvr``; the shared shape is in ``common.py``).

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

from ...errors import VrError
from .. import vrmath
from ..base import Size, headless_context  # noqa: F401 (Size: annotations)
from .common import FADE_AFTER, FADE_SUBMITS, FAR, NEAR, HeadsetSink  # noqa: F401 (re-exported)


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
        return "no OpenVR runtime installed (SteamVR); OpenVR unavailable"
    return "OpenVR runtime installed; headset " + ("present" if present else "not detected")


class OpenVRSink(HeadsetSink):
    api = "openvr"

    def __init__(self, controls, view: str = "fill", mirror: bool = False, distance: float = 2.0,
                 width: float = 2.4, context: str = "auto", openvr_module=None, curve: float = 0.0):
        super().__init__(controls, view=view, mirror=mirror, distance=distance, width=width, curve=curve)
        self.context_kind = context
        self.ovr = openvr_module
        self.system = self.vr_compositor = None
        self.eyes = {}
        self.screen_model: Optional[np.ndarray] = None
        self._reported = set()
        self._initialised = False
        self.after_openxr = False  # --vr-api auto found no OpenXR runtime (said in the error)

    # -- lifecycle --------------------------------------------------------------------------

    def prepare(self) -> None:
        """``openvr.init``: fails with one line (and a --window hint) before the model loads."""
        ovr = self.ovr = self.ovr or _openvr()
        try:
            with native_stderr_captured():
                self.system = ovr.init(ovr.VRApplication_Scene)
        except ovr.error_code.InitError as exc:
            first = "cannot start VR"
            if self.after_openxr:
                from .openxr_runtime import runtime_json_problem  # (it imports this module)

                first = f"{runtime_json_problem() or 'no OpenXR runtime is active'} and OpenVR cannot start"
            raise VrError(f"{first}: {_init_error_text(ovr, exc)} (is SteamVR or another VR runtime installed and a "
                          "headset connected?); use --window to run in a desktop window") from None
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

    def _make_context(self):
        """A GL context for the eye textures: the mirror window's, or a headless one."""
        if self.mirror or self.context_kind == "window":
            return self._window_context(self.mirror, "artem-vr - VR mirror (left eye)")
        return headless_context()

    def close(self) -> None:
        for eye in self.eyes.values():
            eye["fbo"].release()
            eye["texture"].release()
        self.eyes = {}
        if not self._close_window() and self.ctx is not None:
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
        self._show_mirror(compositor, self.eyes["left"]["texture"])


VrSink = OpenVRSink  # the name tests and older code use
