"""artem-vr: live neural style transfer for VR, a desktop window, or files.

Importing the package loads no model, opens no window and imports no GL: ``StyleEngine`` is
resolved on first access.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["StyleEngine", "ArtemError", "__version__"]

from .errors import ArtemError


def __getattr__(name: str):
    if name == "StyleEngine":
        from .inference.engine import StyleEngine

        return StyleEngine
    raise AttributeError(f"module 'artem_vr' has no attribute {name!r}")
