"""OpenXR outside the frame loop, for the OpenXR backend (``openxr.py``) and ``artem-vr doctor``:
finding the runtime (pyopenxr's bundled loader), creating the instance with one-line errors, the
runtime's one-line status, native GL handles for the session binding, signals that must not cut
the runtime's calls short, and the ``ARTEM_VR_OPENXR_TRACE`` diagnostics file."""
from __future__ import annotations

import ctypes
import json
import os
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from ...errors import VrError
from .openvr import native_stderr_captured

GL_EXT = "XR_KHR_opengl_enable"
HINT = "use --window to run in a desktop window"


def _xr():
    try:
        import xr
    except ImportError as exc:  # pragma: no cover - a dependency
        raise VrError(f"the pyopenxr package is missing or broken ({exc}); pip install pyopenxr, or {HINT}") from None
    return xr


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _error_name(exc) -> str:
    return type(exc).__name__.replace("Error", "") or "error"


def runtime_active() -> bool:
    """True when the OpenXR loader finds an active runtime (XR_RUNTIME_JSON, active_runtime.json,
    or Windows' registry). Cheap: loads the runtime's library, starts nothing."""
    try:
        import xr
    except ImportError:
        return False
    try:
        with native_stderr_captured(keep_on_success=False):
            xr.enumerate_instance_extension_properties()
        return True
    except Exception:
        return False


def runtime_json_problem() -> Optional[str]:
    """What is wrong with the runtime manifest ``XR_RUNTIME_JSON`` names (the loader then only says
    "runtime unavailable"), or None when it is unset or looks right: a missing file, a file that is no
    OpenXR manifest (JSON with ``runtime.library_path``), or a library path that does not exist
    (relative paths are taken from the manifest's folder, as the loader does)."""
    name = os.environ.get("XR_RUNTIME_JSON")
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_file():
        return f"XR_RUNTIME_JSON names {name}, which does not exist"
    try:
        library = json.loads(path.read_text(encoding="utf-8"))["runtime"]["library_path"]
        if not isinstance(library, str) or not library:
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        return f"XR_RUNTIME_JSON names {name}, which is not an OpenXR runtime manifest (no runtime.library_path)"
    if "/" in library or "\\" in library:  # a bare file name is searched for by the system instead
        lib = Path(library) if os.path.isabs(library) else path.parent / library
        if not lib.exists():
            return f"XR_RUNTIME_JSON names {name}, whose runtime library {lib} does not exist"
    return None


def _extensions(xr) -> List[str]:
    return [_text(e.extension_name) for e in xr.enumerate_instance_extension_properties()]


def _create_instance(xr, wanted: List[str]):
    """``(instance, enabled extensions)``; VrError (one line) when no runtime runs."""
    try:
        with native_stderr_captured(keep_on_success=False):
            offered = _extensions(xr)
            enabled = [e for e in wanted if e in offered]
            instance = xr.create_instance(xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(application_name="artem-vr", engine_name="artem-vr",
                                                    api_version=xr.Version(1, 0, 0)),
                enabled_extension_names=enabled))
    except xr.RuntimeUnavailableError:
        problem = runtime_json_problem()
        if problem:
            raise VrError(f"{problem}; fix or unset it, or {HINT}") from None
        raise VrError(f"no OpenXR runtime is installed or active (SteamVR, Meta Quest Link, Monado, WiVRn ...); "
                      f"{HINT}") from None
    except xr.RuntimeFailureError:
        raise VrError(f"the OpenXR runtime is installed but not running (start SteamVR / monado-service / your "
                      f"headset's app); {HINT}") from None
    except xr.XrException as exc:
        raise VrError(f"cannot start OpenXR: {_error_name(exc)} ({' '.join(str(exc).split())}); {HINT}") from None
    return instance, offered, enabled


def runtime_status() -> str:
    """One line for ``artem-vr doctor``: the runtime, its version, the system and its eye size.
    Connects to the runtime (a Monado service must be running) but starts no session."""
    xr = _xr()
    if not runtime_active():
        return "no OpenXR runtime active (SteamVR, Meta Quest Link, Monado, WiVRn set one); OpenXR unavailable"
    try:
        instance, offered, _ = _create_instance(xr, [])
    except VrError as exc:
        return str(exc).split(";")[0]
    try:
        props = xr.get_instance_properties(instance)
        runtime = _runtime_label(props)
        try:
            system = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        except xr.FormFactorUnavailableError:
            return f"{runtime}; no headset connected"
        sprops = xr.get_system_properties(instance, system)
        views = xr.enumerate_view_configuration_views(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
        gl = "OpenGL offered" if GL_EXT in offered else "no OpenGL (XR_KHR_opengl_enable missing): unusable here"
        return (f"{runtime}; {_text(sprops.system_name)}, eye {views[0].recommended_image_rect_width}x"
                f"{views[0].recommended_image_rect_height}; {gl}")
    finally:
        xr.destroy_instance(instance)


def _runtime_label(props) -> str:
    """``"Monado(XRT) by Collabora et al '25.0.0+dfsg-2'"`` + its version, unless the name has it already."""
    name, version = _text(props.runtime_name), _version(props.runtime_version)
    return name if version in name else f"{name} {version}"


def _version(v) -> str:
    v = int(v)
    return f"{v >> 48}.{(v >> 32) & 0xFFFF}.{v & 0xFFFFFFFF}"


class _Trace:
    """ARTEM_VR_OPENXR_TRACE: JSON lines of states and frames (a diagnostics aid; the tests read it)."""

    def __init__(self):
        path = os.environ.get("ARTEM_VR_OPENXR_TRACE")
        self.path = path
        self.file = open(path, "w", encoding="utf-8") if path else None
        dump = os.environ.get("ARTEM_VR_OPENXR_DUMP")
        self.dump_at = int(dump) if dump and dump.isdigit() else None
        self.dumped = False

    def write(self, **record) -> None:
        if self.file is not None:
            record["t"] = round(time.perf_counter(), 6)
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def save(self, label: str, rgba: np.ndarray) -> None:
        from PIL import Image

        final = f"{self.path}.{label}.png"
        partial = final + ".partial.png"
        Image.fromarray(rgba[::-1, :, :3].copy()).save(partial)  # GL rows are bottom-up
        os.replace(partial, final)
        self.dumped = label != "left"  # fill saves left, then right

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _handle(struct, field: str, value):
    """A native handle (an int from glfw/ctypes) as the ctypes type ``struct.field`` declares."""
    kind = dict(struct._fields_)[field]
    if isinstance(value, int) or value is None:
        value = ctypes.c_void_p(value)
    return ctypes.cast(value, kind) if issubclass(kind, (ctypes._Pointer, ctypes.c_void_p)) else kind(value.value)


def _restart_syscalls_after_signals() -> None:
    """Ctrl-C/SIGTERM must not cut the runtime's own calls short: Monado's client library reads its
    service's socket and takes an interrupted read (EINTR) as a lost session. With SA_RESTART the
    kernel resumes the read; Python still runs its handler (quit flag / KeyboardInterrupt) after it."""
    import signal
    import threading

    if not hasattr(signal, "siginterrupt") or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            signal.siginterrupt(sig, False)
