"""``--virtualcam [DEVICE]``: the stylized picture as a camera for Zoom, Meet, OBS, through pyvirtualcam.

pyvirtualcam drives v4l2loopback on Linux and OBS's virtual camera on Windows and macOS. A camera
has a fixed size and rate that the apps reading it expect, whatever the inference rate: the picture
is letterboxed into ``size`` by the compositor and read back (RGB, top row first) only when it
changed; a sender thread of this sink sends the newest one at ``fps``, repeating it between
inferences (pyvirtualcam's ``sleep_until_next_frame`` paces it).

Beside a window or headset it is a secondary sink in the primary's GL context. Alone
(``artem-vr --virtualcam`` without ``--window``/``--output``) it is the primary: a headless EGL context,
no window.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional

from ..errors import DisplayError
from .base import FramebufferTarget, Sink, Size, headless_context

DEFAULT_SIZE = (1280, 720)
DEFAULT_FPS = 30.0


def install_hint() -> str:
    """What to install for a virtual camera on this system (one line)."""
    if sys.platform.startswith("linux"):
        return ("load the v4l2loopback module: sudo modprobe v4l2loopback exclusive_caps=1 "
                "(Debian/Ubuntu: sudo apt install v4l2loopback-dkms)")
    return "install OBS Studio (28 or later) and start its Virtual Camera once"


class VirtualCamSink(Sink):
    """``device``: the camera to use (``/dev/videoN`` on Linux, a camera name elsewhere; None: the first
    free one). ``size``: (w, h) of the camera; ``fps``: its frame rate. ``backend``: a pyvirtualcam
    backend name (None: every registered one is tried). ``prepare`` opens the camera (before the model
    loads) and raises :class:`DisplayError` naming what to install when there is none."""

    every_frame = False

    def __init__(self, device: Optional[str] = None, size: Size = DEFAULT_SIZE, fps: float = DEFAULT_FPS,
                 hud: bool = False, backend: Optional[str] = None):
        self.device = device or None
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.hud = hud
        self.backend = backend
        self.name = f"virtualcam:{self.device or 'auto'}"
        self.camera = None
        self.target = None
        self.drew = False
        self.frame_time: Optional[float] = None
        self.sent = 0
        self._own_ctx = None
        self._version = None
        self._latest = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.error: Optional[BaseException] = None

    # -- lifecycle --------------------------------------------------------------------------

    def prepare(self) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise DisplayError("--virtualcam needs pyvirtualcam: pip install pyvirtualcam; then "
                               + install_hint()) from None
        w, h = self.size
        try:
            self.camera = pyvirtualcam.Camera(w, h, self.fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                              device=self.device, backend=self.backend)
        except Exception as exc:
            detail = " ".join(str(exc).split())
            # pyvirtualcam's own advice ("Did you run 'modprobe v4l2loopback'?") would repeat ours
            detail = detail.split(" Did you ")[0].split(" Is ")[0].rstrip(".")
            where = f" {self.device}" if self.device else ""
            raise DisplayError(f"no virtual camera{where} ({detail[:120]}); {install_hint()}") from None
        self.name = f"virtualcam:{self.camera.device}"

    def open(self, content_size: Size, ctx=None):
        if self.camera is None:
            self.prepare()
        if ctx is None:  # alone: a headless context of our own
            ctx = self._own_ctx = headless_context()
        self.target = FramebufferTarget(ctx, self.size)
        self._thread = threading.Thread(target=self._send_loop, name="virtualcam", daemon=True)
        self._thread.start()
        return ctx

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self.camera is not None:
            self.camera.close()
            self.camera = None
        if self.target is not None:
            self.target.release()
            self.target = None
        if self._own_ctx is not None:
            self._own_ctx.release()
            self._own_ctx = None

    # -- per frame --------------------------------------------------------------------------

    def present(self, compositor) -> bool:
        """Read the picture back when it changed; alone, also wait a fraction of a camera frame so
        the main loop does not spin."""
        if self.error is not None:
            raise self.error
        self.drew = compositor.texture is not None and compositor.version != self._version
        if self.drew:
            compositor.render(self.target.fbo, self.size, flip_y=False, hud=self.hud)
            rgb = self.target.read().copy()
            with self._lock:
                self._latest = rgb
            self._version = compositor.version
        if self._own_ctx is not None:
            time.sleep(0.25 / self.fps)
        return True

    def _send_loop(self) -> None:
        """Send the newest picture every 1/fps s (repeated until a newer one comes)."""
        try:
            while not self._stop.is_set():
                with self._lock:
                    rgb = self._latest
                if rgb is None:
                    time.sleep(1.0 / self.fps)
                    continue
                self.camera.send(rgb)
                self.sent += 1
                self.camera.sleep_until_next_frame()
        except BaseException as exc:  # the main loop raises it at the next present
            self.error = DisplayError(f"virtual camera {self.name} stopped: {' '.join(str(exc).split())}")

    def title_info(self, text: str) -> None:
        pass
