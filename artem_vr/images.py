"""Image files in and out, with a pixel cap so that decompression bombs are refused cheaply."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_PIXELS = 80_000_000  # ~9000x9000; the header is checked before any pixel is decoded
MIN_SIDE = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """``(H,W,3) uint8`` RGB from an image file; EXIF rotation applied, alpha put on white."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise InputError(f"{path} is {w}x{h}, over the {max_pixels // 1_000_000} MP limit; "
                                     "downscale it first")
                img = ImageOps.exif_transpose(img)
                img.load()
                return _to_rgb(img)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path} is not an image artem-vr can read (PNG, JPEG, BMP, WebP, TIFF)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InputError(f"{path} is too large to decode safely (decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"cannot decode {path}: {exc}") from None


def _to_rgb(img) -> np.ndarray:
    from PIL import Image

    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def write_image(path, image: np.ndarray) -> None:
    from PIL import Image

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot write {path}: {exc}") from None


def fit_max_size(image: np.ndarray, max_size) -> np.ndarray:
    """Downscale (Lanczos) so the longer side is at most ``max_size``; never upscales."""
    from PIL import Image

    h, w = image.shape[:2]
    if not max_size or max(w, h) <= max_size:
        return image
    scale = max_size / max(w, h)
    size = (max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))
