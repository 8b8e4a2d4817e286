"""The VR sink: one shape (``common.py``: options, placement, fade, mirror), two backends, one file
per API: ``openxr.py`` (OpenXR through pyopenxr: SteamVR, Meta's PC runtime, Monado, WiVRn, ...) and
``openvr.py`` (OpenVR through pyopenvr: SteamVR). :func:`make_vr_sink` picks one for ``--vr-api``."""
from __future__ import annotations

from .common import FADE_AFTER, FADE_SUBMITS, HeadsetSink  # noqa: F401
from .openvr import OpenVRSink, VrSink, native_stderr_captured, runtime_status  # noqa: F401

APIS = ("auto", "openxr", "openvr")


def make_vr_sink(controls, api: str = "auto", **options) -> HeadsetSink:
    """A VR sink for ``api``: ``openxr``, ``openvr``, or ``auto`` (OpenXR when an OpenXR runtime is
    active, else OpenVR; decided in ``prepare``, before the model loads). ``options``: view, mirror,
    distance, width, curve (see :class:`HeadsetSink`)."""
    from ...errors import VrError

    if api not in APIS:
        raise VrError(f"unknown VR API {api!r}; use {', '.join(APIS)}")
    if api == "openvr":
        return OpenVRSink(controls, **options)
    from .openxr import OpenXRSink, runtime_active

    if api == "auto" and not runtime_active():
        sink = OpenVRSink(controls, **options)
        sink.after_openxr = True
        return sink
    return OpenXRSink(controls, **options)
