"""artem-vr: live neural style transfer for VR, a desktop window, or files.

Importing the package loads no model, opens no window and imports no GL (nor torch): the names below
are resolved on first access.

- ``StyleEngine``: ``StyleEngine.load(name, device=...)`` then ``engine.stylize(image, style=...)``
  (``(H,W,3) uint8`` RGB in and out).
- ``read_image(path) -> (H,W,3) uint8`` RGB and ``write_image(path, image)`` (atomic).
- ``STYLE_NAMES``: the 26 built-in styles' names by index; ``SAMPLE_PHOTO``: a bundled photo's path.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["StyleEngine", "read_image", "write_image", "STYLE_NAMES", "SAMPLE_PHOTO", "ArtemError",
           "__version__"]

from .errors import ArtemError


def __getattr__(name: str):
    if name == "StyleEngine":
        from .inference.engine import StyleEngine

        return StyleEngine
    if name in ("read_image", "write_image"):
        from . import images

        return getattr(images, name)
    if name == "STYLE_NAMES":
        from .inference.styles import STYLE_NAMES

        return STYLE_NAMES
    if name == "SAMPLE_PHOTO":
        from .resources import assets_dir

        return str(assets_dir() / "astronaut.jpg")
    raise AttributeError(f"module 'artem_vr' has no attribute {name!r}")
