"""VR output through OpenXR (pyopenxr, its loader bundled): the OpenXR backend of the VR sink.

Frame loop, one headset frame per ``present``: drain events (session states) -> ``xrWaitFrame``
(paces us at the headset's rate) -> ``xrBeginFrame`` -> views from ``xrLocateViews`` at the
predicted display time -> render -> ``xrEndFrame`` with the layers. The newest stylized picture is
re-used until the next one (inference runs on its own thread, as for every display sink).

Views as composition layers:

- ``fill``: a projection layer; the picture is letterboxed into the left eye's swapchain image
  and copied into the right eye's (the same picture in both eyes; a copy costs less than drawing:
  measured on llvmpipe, drawing it once and copying it into both eyes each frame was slower); its views
  are located in the world space at the predicted display time, so it stays head-locked. (Monado
  reprojects a projection layer submitted in VIEW space as if it were world-locked: measured, it
  drifted 18 px in 2 s.)
- ``screen``: the picture in its own swapchain, submitted as an ``XrCompositionLayerQuad`` in STAGE
  (else LOCAL) space, so the runtime samples it at display resolution; placed ``distance`` m ahead of
  the head at start and again when the runtime recentres (reference space change). With
  ``curve`` > 0 degrees and XR_KHR_composition_layer_cylinder offered: an
  ``XrCompositionLayerCylinderKHR`` of that arc, ``width`` m long.

Colour: swapchains are GL_SRGB8_ALPHA8 with GL_FRAMEBUFFER_SRGB off, so the bytes we write (the same
bytes the desktop window shows) are what the runtime displays. A linear GL_RGBA8 swapchain would be
sRGB-encoded again by the runtime (128 shows as 188 on Monado), so it is only a fallback, with a note.

Lifecycle: READY -> ``xrBeginSession``; SYNCHRONIZED/VISIBLE/FOCUSED keep submitting (losing focus
changes nothing); STOPPING -> ``xrEndSession`` and the run ends (exit 0) unless we asked for it;
EXITING ends the run; LOSS_PENDING or a lost instance: one line, exit 2. ``close`` (also after
Ctrl-C/SIGTERM) requests exit, keeps the frame loop going until STOPPING, ends and destroys the
session: within ``EXIT_TIMEOUT`` seconds, else the session is destroyed as it is.

GL: XR_KHR_opengl_enable with the context of a glfw window (hidden unless ``--mirror``): GLX on
Linux/X11, WGL on Windows. Diagnostics: ``ARTEM_VR_OPENXR_TRACE=FILE`` writes one JSON object per
state change and per frame; ``ARTEM_VR_OPENXR_DUMP=N`` also saves frame N's eye images (read back
before release) as ``FILE.left.png`` / ``FILE.right.png`` (``FILE.screen.png`` for the screen view).
"""
from __future__ import annotations

import ctypes
import os
import sys
import time
from collections import deque
from typing import Deque, List, Optional

import numpy as np

from ...errors import VrError
from ..base import Size
from .common import HeadsetSink, note, pose_matrix, screen_pose
from .openxr_runtime import (GL_EXT, HINT, _create_instance, _error_name, _handle,  # noqa: F401 (re-exported)
                             _restart_syscalls_after_signals, _runtime_label, _text, _Trace, _xr, runtime_active,
                             runtime_status)

GL_SRGB8_ALPHA8 = 0x8C43
GL_SRGB8 = 0x8C41
GL_RGBA8 = 0x8058
GL_FRAMEBUFFER_SRGB = 0x8DB9
FORMATS = (GL_SRGB8_ALPHA8, GL_SRGB8, GL_RGBA8)  # preference order (see the module docstring)
CYLINDER_EXT = "XR_KHR_composition_layer_cylinder"
TIMESPEC_EXT = "XR_KHR_convert_timespec_time"
WIN32_TIME_EXT = "XR_KHR_win32_convert_performance_counter_time"
EXIT_TIMEOUT = 1.5     # seconds close() waits for the runtime to stop the session
IDLE_SLEEP = 0.01      # seconds between event polls while the session is not running
MAX_SCREEN_SIDE = 2048  # the screen layer's swapchain: the picture's size, longest side capped
KEEP = 20000           # timing samples kept for --stats (the most recent)


class OpenXRSink(HeadsetSink):
    """The VR sink through OpenXR. ``prepare`` (before the model loads) creates the instance and finds
    the headset: VrError with one line when there is no runtime, no headset or no OpenGL in it."""

    api = "openxr"

    def __init__(self, controls, view: str = "fill", mirror: bool = False, distance: float = 2.0,
                 width: float = 2.4, curve: float = 0.0):
        super().__init__(controls, view=view, mirror=mirror, distance=distance, width=width, curve=curve)
        self.xr = None
        self.instance = self.system = self.session = None
        self.world_space = self.view_space = None
        self.world_space_type = None
        self.runtime = self.system_name = ""
        self.extensions: List[str] = []
        self.state = None
        self.states: List[str] = []
        self.running = False
        self.exit_requested = False
        self.stop_reason: Optional[str] = None
        self.eyes: List[dict] = []
        self.screen: Optional[dict] = None
        self.swapchain_format = None
        self.screen_pose = None
        self.frames_waited = 0
        self.frames_submitted = 0
        self.render_ms: Deque[float] = deque(maxlen=KEEP)  # picture at eye/layer size, glFinish incl.
        self.copy_ms: Deque[float] = deque(maxlen=KEEP)    # fill: left eye copied to right, glFinish incl.
        self.display_ahead_ms: Deque[float] = deque(maxlen=KEEP)
        self.frame_period_ms: Deque[float] = deque(maxlen=KEEP)
        self._submit_times: Deque[float] = deque(maxlen=KEEP)
        self.pictures_drawn = 0
        self._last_display_time = None
        self._screen_drawn = (-1, -1.0)
        self._mirror_texture = None
        self._binding = None
        self._layer_refs = []
        self._trace = _Trace()
        self.refresh_hz = None
        self.drew = False

    # -- lifecycle --------------------------------------------------------------------------

    def prepare(self) -> None:
        xr = self.xr = self.xr or _xr()
        wanted = [GL_EXT, CYLINDER_EXT, TIMESPEC_EXT if sys.platform != "win32" else WIN32_TIME_EXT]
        self.instance, offered, self.extensions = _create_instance(xr, wanted)
        try:
            props = xr.get_instance_properties(self.instance)
            self.runtime = _runtime_label(props)
            if GL_EXT not in offered:
                raise VrError(f"the OpenXR runtime {self.runtime} offers no OpenGL (XR_KHR_opengl_enable), which "
                              f"artem-vr draws with; try SteamVR or Meta Quest Link's runtime, or {HINT}")
            if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
                raise VrError("OpenXR through OpenGL needs an X display here (DISPLAY is unset; XWayland counts); "
                              f"run it from your desktop session, or {HINT}")
            try:
                self.system = xr.get_system(self.instance,
                                            xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            except xr.FormFactorUnavailableError:
                raise VrError(f"no headset: the OpenXR runtime {self.runtime} finds none connected (plug it in and "
                              f"switch it on); {HINT}") from None
            self.system_name = _text(xr.get_system_properties(self.instance, self.system).system_name)
            views = xr.enumerate_view_configuration_views(self.instance, self.system,
                                                          xr.ViewConfigurationType.PRIMARY_STEREO)
            self.eye_size = self.size = (int(views[0].recommended_image_rect_width),
                                         int(views[0].recommended_image_rect_height))
            if self.view == "screen" and self.curve > 0 and CYLINDER_EXT not in self.extensions:
                note(f"the OpenXR runtime {self.runtime} cannot curve a layer ({CYLINDER_EXT}); the screen stays flat")
        except VrError:
            self._destroy()
            raise
        except xr.XrException as exc:
            self._destroy()
            raise VrError(f"cannot start OpenXR on {self.runtime}: {_error_name(exc)}; {HINT}") from None

    def open(self, content_size: Size):
        if self.instance is None:
            self.prepare()
        xr = self.xr
        _restart_syscalls_after_signals()
        self.ctx = self._window_context(self.mirror, "artem-vr - VR mirror")
        self._srgb_write_off()
        try:
            xr.get_opengl_graphics_requirements_khr(self.instance, self.system)  # required before the session
            self._binding = self._graphics_binding()
            self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
                system_id=self.system, next=ctypes.cast(ctypes.pointer(self._binding), ctypes.c_void_p)))
            self._make_current()
            spaces = list(xr.enumerate_reference_spaces(self.session))
            stage = xr.ReferenceSpaceType.STAGE
            self.world_space_type = stage if stage in spaces or stage.value in spaces else xr.ReferenceSpaceType.LOCAL
            self.world_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
                reference_space_type=self.world_space_type))
            self.view_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType.VIEW))
            formats = list(xr.enumerate_swapchain_formats(self.session))
            self.swapchain_format = next((f for f in FORMATS if f in formats), None)
            if self.swapchain_format is None:
                raise VrError(f"the OpenXR runtime {self.runtime} offers no 8-bit RGBA swapchain format "
                              f"(offered: {', '.join(hex(f) for f in formats)}); {HINT}")
            if self.swapchain_format == GL_RGBA8:
                note("the OpenXR runtime offers no sRGB swapchain; colours may look brighter in the headset")
            if self.view == "fill":
                self.eyes = [self._swapchain(self.eye_size) for _ in range(2)]
            else:
                w, h = content_size
                scale = min(1.0, MAX_SCREEN_SIDE / max(w, h))
                self.screen = self._swapchain((max(2, int(w * scale)), max(2, int(h * scale))))
            self._make_current()
        except xr.XrException as exc:
            raise VrError(f"cannot start the OpenXR session on {self.runtime}: {_error_name(exc)}; {HINT}") from None
        self._trace.write(event="open", runtime=self.runtime, system=self.system_name, eye=list(self.eye_size),
                          view=self.view, format=hex(self.swapchain_format),
                          space=self.world_space_type.name, extensions=self.extensions)
        return self.ctx

    def _srgb_write_off(self) -> None:
        """GL_FRAMEBUFFER_SRGB off (the default in glfw/GLX contexts; made sure of): we write the
        window's bytes into the sRGB swapchain unconverted."""
        try:
            from OpenGL import GL

            GL.glDisable(GL_FRAMEBUFFER_SRGB)
        except Exception:  # pragma: no cover - PyOpenGL comes with pyopenxr; the default is off anyway
            pass

    def _graphics_binding(self):
        """XR_KHR_opengl_enable's binding for the glfw window's context: WGL on Windows, GLX (Xlib)
        on Linux. Handles are cast to the pointer types pyopenxr declares for them."""
        import glfw

        xr = self.xr
        if sys.platform == "win32":  # pragma: no cover - not run here
            cls = xr.GraphicsBindingOpenGLWin32KHR
            hwnd = glfw.get_win32_window(self._window)
            return cls(h_dc=_handle(cls, "h_dc", ctypes.windll.user32.GetDC(hwnd)),
                       h_glrc=_handle(cls, "h_glrc", glfw.get_wgl_context(self._window)))
        if not hasattr(glfw, "get_glx_context"):
            raise VrError(f"OpenXR needs an X11 (GLX) OpenGL context on Linux and glfw has none here; {HINT}")
        cls = xr.GraphicsBindingOpenGLXlibKHR
        return cls(x_display=_handle(cls, "x_display", glfw.get_x11_display()),
                   glx_drawable=int(glfw.get_glx_window(self._window)),
                   glx_context=_handle(cls, "glx_context", glfw.get_glx_context(self._window)))

    def _make_current(self) -> None:
        """Some runtimes leave another GL context current after their calls (SteamVR on Linux)."""
        import glfw

        if self._window is not None and glfw.get_current_context() != self._window:
            glfw.make_context_current(self._window)

    def _swapchain(self, size: Size) -> dict:
        xr = self.xr
        w, h = size
        chain = xr.create_swapchain(self.session, xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
            format=self.swapchain_format, sample_count=1, width=w, height=h, face_count=1, array_size=1,
            mip_count=1))
        images = xr.enumerate_swapchain_images(chain, xr.SwapchainImageOpenGLKHR)
        textures = [self.ctx.external_texture(int(img.image), (w, h), 4, 0, "f1") for img in images]
        fbos = [self.ctx.framebuffer(color_attachments=[t]) for t in textures]
        return {"swapchain": chain, "size": (w, h), "textures": textures, "fbos": fbos}

    def close(self) -> None:
        if self.session is not None:
            self._end_session()
        for chain in [*self.eyes, *([self.screen] if self.screen else [])]:
            for fbo in chain["fbos"]:
                fbo.release()
            try:
                self.xr.destroy_swapchain(chain["swapchain"])
            except Exception:
                pass
        self.eyes, self.screen = [], None
        if self._mirror_texture is not None:
            self._mirror_texture.release()
            self._mirror_texture = None

        self._destroy()
        if not self._close_window() and self.ctx is not None:
            self.ctx.release()
        self.ctx = None
        self._trace.write(event="closed", stop=self.stop_reason)
        self._trace.close()

    def _end_session(self) -> None:
        """Request exit, keep the frame loop turning until STOPPING, end: within EXIT_TIMEOUT s."""
        xr = self.xr
        deadline = time.perf_counter() + EXIT_TIMEOUT
        try:
            if self.running and not self.exit_requested:
                self.exit_requested = True
                xr.request_exit_session(self.session)
                self._trace.write(event="request_exit")
            while self.running and time.perf_counter() < deadline:
                self._poll_events()
                if self.running:
                    self._empty_frame()
            if self.running:  # the runtime never said STOPPING: end it ourselves
                self.running = False
                xr.end_session(self.session)
            while self.state not in ("EXITING", "IDLE", "LOSS_PENDING") and time.perf_counter() < deadline:
                self._poll_events()
                time.sleep(0.005)
        except Exception as exc:  # leaving: whatever the runtime says now, destroy what we made
            self._trace.write(event="exit_error", error=type(exc).__name__)
        self.running = False

    def _empty_frame(self) -> None:
        xr = self.xr
        state = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        xr.end_frame(self.session, xr.FrameEndInfo(display_time=state.predicted_display_time,
                                                   environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE))

    def _destroy(self) -> None:
        xr = self.xr
        for name in ("world_space", "view_space"):
            space = getattr(self, name)
            if space is not None:
                try:
                    xr.destroy_space(space)
                except Exception:
                    pass
                setattr(self, name, None)
        if self.session is not None:
            try:
                xr.destroy_session(self.session)
            except Exception:
                pass
            self.session = None
            self._trace.write(event="session_destroyed")
        if self.instance is not None:
            try:
                xr.destroy_instance(self.instance)
            except Exception:
                pass
            self.instance = None

    # -- events -----------------------------------------------------------------------------

    def _poll_events(self) -> bool:
        """Drain the event queue, acting on session states; False once the run must end."""
        xr = self.xr
        keep = True
        while True:
            try:
                buffer = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                break
            except xr.InstanceLostError:
                raise VrError(f"the OpenXR runtime {self.runtime} went away (instance lost)") from None
            kind = xr.StructureType(buffer.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                event = ctypes.cast(ctypes.byref(buffer), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                keep = self._on_state(xr.SessionState(event.state)) and keep
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.stop_reason = "instance_loss"
                raise VrError(f"the OpenXR runtime {self.runtime} is going away (instance loss pending)")
            elif kind == xr.StructureType.EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING:
                event = ctypes.cast(ctypes.byref(buffer),
                                    ctypes.POINTER(xr.EventDataReferenceSpaceChangePending)).contents
                self._trace.write(event="recentre", space=int(event.reference_space_type))
                self.recenter_requested = True
        return keep

    def _on_state(self, state) -> bool:
        xr = self.xr
        self.state = state.name
        self.states.append(state.name)
        self._trace.write(event="state", state=state.name)
        if state == xr.SessionState.READY:
            xr.begin_session(self.session, xr.SessionBeginInfo(
                primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO))
            self.running = True
            self._make_current()
        elif state == xr.SessionState.STOPPING:
            xr.end_session(self.session)
            self.running = False
            if not self.exit_requested:  # the runtime (its user) asked us to stop: end the run, exit 0
                self.stop_reason = "runtime"
                return False
        elif state == xr.SessionState.EXITING:
            self.stop_reason = self.stop_reason or "exiting"
            return False
        elif state == xr.SessionState.LOSS_PENDING:
            self.stop_reason = "loss"
            self.running = False
            raise VrError(f"the OpenXR runtime {self.runtime} lost the headset (session loss pending)")
        return True

    # -- per frame --------------------------------------------------------------------------

    def present(self, compositor) -> bool:
        xr = self.xr
        try:
            return self._present(compositor)
        except (xr.SessionLostError, xr.InstanceLostError) as exc:
            self.stop_reason = "lost"
            raise VrError(f"the OpenXR runtime {self.runtime} lost the session ({_error_name(exc)}): it quit or "
                          "the headset went away") from None
        except xr.XrException as exc:
            raise VrError(f"the OpenXR runtime {self.runtime} failed: {_error_name(exc)} "
                          f"({' '.join(str(exc).split())})") from None

    def _present(self, compositor) -> bool:
        xr = self.xr
        self.drew = False
        if not self._poll_events() or self.controls.quit.is_set():
            return False
        if not self.running:  # IDLE/READY not yet reached: nothing to pace us, do not spin
            time.sleep(IDLE_SLEEP)
            return True
        frame = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        self._make_current()
        self.frames_waited += 1
        self._update_fade(compositor)
        layers = []
        if frame.should_render and compositor.texture is not None:
            layers = self._render(compositor, frame.predicted_display_time)
        xr.end_frame(self.session, xr.FrameEndInfo(
            display_time=frame.predicted_display_time,
            environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
            layers=[ctypes.pointer(layer) for layer in layers] or None))
        self._make_current()
        now = time.perf_counter()
        ahead = self._ms_until(frame.predicted_display_time, now)
        if layers:
            self.drew = True
            self.frames_submitted += 1
            self.submits += 1
            self._submit_times.append(now)
            if ahead is not None:
                self.display_ahead_ms.append(ahead)
        if self._last_display_time is not None:
            self.frame_period_ms.append((frame.predicted_display_time - self._last_display_time) / 1e6)
        self._last_display_time = frame.predicted_display_time
        self._trace.write(event="frame", n=self.frames_waited, should_render=bool(frame.should_render),
                          layers=[type(layer).__name__ for layer in layers],
                          views=[int(getattr(layer, "view_count", 1)) for layer in layers],
                          display_time=int(frame.predicted_display_time), ahead_ms=ahead,
                          head=self._head_trace)
        self._show_mirror(compositor, self._mirror_texture)
        return True

    def _render(self, compositor, display_time) -> list:
        xr = self.xr
        dump = (self._trace.dump_at is not None and not self._trace.dumped
                and self.frames_submitted + 1 >= self._trace.dump_at)
        head = self._head_pose(display_time)
        self._head_trace = None if head is None else [round(float(v), 5) for v in (*head[:3, 3], _yaw(head))]
        if self.view == "fill":
            # views in the world space at the predicted display time: the runtime's reprojection then
            # only corrects its prediction error, so the picture stays head-locked
            view_state, views = xr.locate_views(self.session, xr.ViewLocateInfo(
                view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO, display_time=display_time,
                space=self.world_space))
            left, right = self.eyes
            fbos = [self._acquire(left), self._acquire(right)]
            t0 = time.perf_counter()
            compositor.render(fbos[0], left["size"], flip_y=True, hud=False)
            self.ctx.finish()
            t1 = time.perf_counter()
            self.ctx.copy_framebuffer(fbos[1], fbos[0])  # the same picture in both eyes, bytes as they are
            self.ctx.finish()
            self.render_ms.append((t1 - t0) * 1000.0)
            self.copy_ms.append((time.perf_counter() - t1) * 1000.0)
            self.pictures_drawn += 1
            if dump:
                self._trace.save("left", self._read(fbos[0], left["size"]))
                self._trace.save("right", self._read(fbos[1], right["size"]))
            if self.mirror:
                self._copy_to_mirror(fbos[0], left["size"])
            self._release(left)
            self._release(right)
            projection_views = []
            for eye, view in zip(self.eyes, views):
                w, h = eye["size"]
                projection_views.append(xr.CompositionLayerProjectionView(
                    pose=view.pose, fov=view.fov,
                    sub_image=xr.SwapchainSubImage(swapchain=eye["swapchain"], image_rect=xr.Rect2Di(
                        offset=xr.Offset2Di(0, 0), extent=xr.Extent2Di(w, h)))))
            layer = xr.CompositionLayerProjection(space=self.world_space, views=projection_views)
            self._layer_refs = [layer, projection_views]
            return [layer]
        return self._screen_layer(compositor, head, dump)

    def _screen_layer(self, compositor, head, dump: bool) -> list:
        xr = self.xr
        screen = self.screen
        w, h = screen["size"]
        drawn = (compositor.version, compositor.fade)
        if drawn != self._screen_drawn:  # the layer keeps showing the last released image otherwise
            fbo = self._acquire(screen)
            t0 = time.perf_counter()
            compositor.render(fbo, (w, h), flip_y=True, hud=False, rect=(0, 0, w, h))
            self.ctx.finish()
            self.render_ms.append((time.perf_counter() - t0) * 1000.0)
            self.pictures_drawn += 1
            if dump:
                self._trace.save("screen", self._read(fbo, (w, h)))
            if self.mirror:
                self._copy_to_mirror(fbo, (w, h))
            self._release(screen)
            self._screen_drawn = drawn
        if self.screen_pose is None or (self.recenter_requested and head is not None):
            if head is None:
                return []  # no head pose yet: nowhere to put the screen
            curve = self.curve if CYLINDER_EXT in self.extensions else 0.0
            self.screen_pose = screen_pose(head, self.distance, curve, self.width)
            self.recenter_requested = False
            self._trace.write(event="placed", position=list(self.screen_pose[0]), yaw=self.screen_pose[2])
        position, orientation, _ = self.screen_pose
        pose = xr.Posef(orientation=xr.Quaternionf(*orientation), position=xr.Vector3f(*position))
        sub_image = xr.SwapchainSubImage(swapchain=screen["swapchain"], image_rect=xr.Rect2Di(
            offset=xr.Offset2Di(0, 0), extent=xr.Extent2Di(w, h)))
        if self.curve > 0 and CYLINDER_EXT in self.extensions:
            angle = float(np.radians(self.curve))
            layer = xr.CompositionLayerCylinderKHR(space=self.world_space, sub_image=sub_image, pose=pose,
                                                   radius=self.width / angle, central_angle=angle,
                                                   aspect_ratio=w / h)
        else:
            layer = xr.CompositionLayerQuad(space=self.world_space, sub_image=sub_image, pose=pose,
                                            size=xr.Extent2Df(self.width, self.width * h / w))
        self._layer_refs = [layer, sub_image]
        return [layer]

    def _head_pose(self, display_time) -> Optional[np.ndarray]:
        """The head (VIEW space) in the world space at ``display_time``; None while not tracked."""
        xr = self.xr
        location = xr.locate_space(self.view_space, self.world_space, display_time)
        valid = xr.SpaceLocationFlags.POSITION_VALID_BIT | xr.SpaceLocationFlags.ORIENTATION_VALID_BIT
        if (int(location.location_flags) & int(valid)) != int(valid):
            return None
        return pose_matrix(location.pose.orientation, location.pose.position)

    def _acquire(self, chain):
        xr = self.xr
        index = xr.acquire_swapchain_image(chain["swapchain"], xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(chain["swapchain"], xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        self._make_current()
        return chain["fbos"][index]

    def _release(self, chain) -> None:
        self.xr.release_swapchain_image(chain["swapchain"], self.xr.SwapchainImageReleaseInfo())
        self._make_current()

    @staticmethod
    def _read(fbo, size) -> np.ndarray:
        w, h = size
        return np.frombuffer(fbo.read(components=4, alignment=1), np.uint8).reshape(h, w, 4)

    def _copy_to_mirror(self, fbo, size) -> None:
        if self._mirror_texture is None or self._mirror_texture.size != tuple(size):
            if self._mirror_texture is not None:
                self._mirror_texture.release()
            self._mirror_texture = self.ctx.texture(tuple(size), 4)
        self.ctx.copy_framebuffer(self._mirror_texture, fbo)

    def _ms_until(self, xr_time, now: float) -> Optional[float]:
        """Milliseconds from ``now`` (perf_counter) to an XrTime, through the runtime's clock
        conversion (XR_KHR_convert_timespec_time: CLOCK_MONOTONIC, perf_counter's clock on Linux)."""
        if TIMESPEC_EXT not in self.extensions or sys.platform != "linux":
            return None
        try:
            ts = self.xr.convert_time_to_timespec_time_khr(self.instance, xr_time)
        except Exception:
            return None
        mono = time.clock_gettime(time.CLOCK_MONOTONIC)
        shift = time.perf_counter() - now  # time spent since `now`
        return (ts.tv_sec + ts.tv_nsec / 1e9 - (mono - shift)) * 1000.0

    _head_trace = None

    # -- report -----------------------------------------------------------------------------

    def vr_stats(self) -> dict:
        """For --stats: the API, runtime, frames and the headset's own timing."""
        from ...stats import percentiles

        times = self._submit_times  # the most recent KEEP submits
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        return {"vr_api": "openxr", "vr": {
            "runtime": self.runtime, "system": self.system_name, "eye_size": list(self.eye_size or ()),
            "view": self.view, "layer": ("projection" if self.view == "fill" else
                                         "cylinder" if self.curve > 0 and CYLINDER_EXT in self.extensions else "quad"),
            "swapchain_format": hex(self.swapchain_format) if self.swapchain_format else None,
            "frames_waited": self.frames_waited, "frames_submitted": self.frames_submitted,
            "headset_fps": round(fps, 2),
            "render_ms_per_image": percentiles(self.render_ms),
            "copy_ms_right_eye": percentiles(self.copy_ms),
            "pictures_drawn": self.pictures_drawn,
            "display_ahead_ms": percentiles(self.display_ahead_ms),
            "frame_period_ms": percentiles(self.frame_period_ms),
            "states": self.states, "stop": self.stop_reason}}


def _yaw(pose: np.ndarray) -> float:
    from .. import vrmath

    return vrmath.head_yaw(pose)
