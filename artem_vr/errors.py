"""Errors a user can act on. The CLI prints ``str(exc)`` on one line and exits 2."""
from __future__ import annotations


class ArtemError(Exception):
    """Base for every error caused by the user's input or environment (exit code 2)."""


class UsageError(ArtemError):
    """A bad argument: style index, size, device name, strength..."""


class InputError(ArtemError):
    """An input file that is missing, unreadable, too large or not an image/video."""


class ModelError(ArtemError):
    """A model file that is missing, not safetensors, or does not fit the architecture."""


class DeviceError(ArtemError):
    """A compute device that was asked for but is not there (e.g. CUDA)."""


class CaptureError(ArtemError):
    """A capture source that cannot be opened or stopped delivering frames."""


class DisplayError(ArtemError):
    """No display, no GL context, or a window that cannot be created."""


class VrError(ArtemError):
    """No OpenVR runtime, no headset, or the runtime refused us."""


class Terminated(KeyboardInterrupt):
    """SIGTERM turned into an exception (exit code 143), so cleanup runs as for Ctrl-C."""


def path_error(exc: OSError, path, kind: str) -> "InputError":
    """One line for a file the user named that cannot be opened: missing, a folder (``kind``: what
    it should have been, e.g. "an image"), or not readable."""
    if isinstance(exc, FileNotFoundError):
        return InputError(f"file not found: {path}")
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{path} is a folder, not {kind}")
    if isinstance(exc, PermissionError):
        return InputError(f"cannot read {path}: permission denied")
    return InputError(f"cannot read {path}: {exc.strerror or exc}")
