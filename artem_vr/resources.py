"""Find shipped resources (shaders/, models/) in a source checkout or an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # installed wheel: shipped inside the package; checkout: top-level folder beside the package
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    return _PKG.parent / name


def shaders_dir() -> Path:
    return _find("shaders")


def models_dir() -> Path:
    return _find("models")


def assets_dir() -> Path:
    return _PKG / "assets"


def shader_source(name: str) -> str:
    """Text of ``shaders/<name>`` (e.g. ``"upsample.frag"``)."""
    path = shaders_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"shader {name} not found in {shaders_dir()}; the install is incomplete") from None
