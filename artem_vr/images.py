"""Image files in and out: every sample format Pillow decodes mapped to 8-bit RGB (+ alpha), multi-frame
images (GIF, WebP, APNG) as frame sequences with their delays, atomic writes, and a pixel cap so that
decompression bombs are refused before any pixel is decoded.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

from .errors import InputError, UsageError, path_error

MAX_PIXELS = 80_000_000  # ~9000x9000; the header is checked before any pixel is decoded
MIN_SIDE = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff", ".gif"}  # outputs that keep transparency
ANIMATION_SUFFIXES = {".gif", ".webp", ".png"}  # outputs that can hold several frames with delays
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF",
            ".tiff": "TIFF", ".gif": "GIF"}
_TIFF_SMIN, _TIFF_SMAX = 340, 341  # SMinSampleValue / SMaxSampleValue: the range the file says


class NotAnImage(InputError):
    """Pillow does not recognise the file (it may still be a video)."""


@contextlib.contextmanager
def _opened(path, max_pixels: int = MAX_PIXELS):
    """Pillow image of ``path`` (lazy: pixels not decoded), every failure as one :class:`InputError`."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise InputError(f"{path} is {w}x{h}, over the {max_pixels // 1_000_000} MP limit; "
                                     "downscale it first")
                yield img
    except InputError:
        raise
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise path_error(exc, path, "an image") from None
    except UnidentifiedImageError:
        raise NotAnImage(f"{path} is not an image artem-vr can read "
                         f"({_why_unreadable(path) or 'PNG, JPEG, BMP, WebP, TIFF, GIF'})") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InputError(f"{path} is too large to decode safely (decompression bomb?)") from None
    except MemoryError:
        raise InputError(f"not enough memory to decode {path}; downscale it first") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"cannot decode {path}: {exc}") from None


def _why_unreadable(path: Path) -> str:
    """A precise reason for TIFFs Pillow cannot decode (e.g. floating-point colour), else ''."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return ""
    if head[:2] in (b"II", b"MM"):
        return "a TIFF whose sample format Pillow cannot decode, e.g. floating-point colour; " \
               "save it as 8- or 16-bit integer TIFF or PNG"
    return ""


def read_image(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """``(H,W,3) uint8`` RGB from an image file; EXIF rotation applied, alpha put on white.

    Raises :class:`InputError` (missing, unreadable, not an image, over ``max_pixels``)."""
    return read_image_alpha(path, max_pixels)[0]


def read_image_alpha(path, max_pixels: int = MAX_PIXELS) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """``(rgb (H,W,3) uint8 with alpha put on white, alpha (H,W) uint8 or None when opaque)``.

    Multi-frame files give their first frame. Raises :class:`InputError`."""
    from PIL import ImageOps

    with _opened(path, max_pixels) as img:
        hints = _sample_hints(img)  # read before the transpose, whose copy forgets format and tags
        img = ImageOps.exif_transpose(img)
        img.load()
        return to_rgb8(img, hints)


def frame_count(path) -> int:
    """Frames in an image file (1 for stills; >1 for animated GIF/WebP/APNG). Raises :class:`NotAnImage`
    when Pillow does not recognise it, :class:`InputError` (missing, unreadable, too large)."""
    with _opened(path) as img:
        if img.format == "TIFF":  # multi-page TIFFs are documents, not animations: first page
            return 1
        return int(getattr(img, "n_frames", 1) or 1)


def read_frames(path) -> Iterator[Tuple[np.ndarray, Optional[np.ndarray], float]]:
    """Each frame of a multi-frame image as ``(rgb (H,W,3) uint8, alpha (H,W) uint8 | None, delay in ms)``,
    composited as a viewer shows it (GIF disposal handled by Pillow). Raises :class:`InputError`."""
    from PIL import ImageSequence

    with _opened(path) as img:
        try:
            for frame in ImageSequence.Iterator(img):
                frame.load()  # WebP sets the frame's duration only once it is decoded
                delay = float(frame.info.get("duration", 100) or 100)
                rgb, alpha = to_rgb8(frame.convert("RGBA") if frame.mode == "P" else frame)
                yield rgb, alpha, delay
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(f"cannot decode {path}: {exc}") from None


def _sample_hints(img) -> tuple:
    return img.format, _rawmode(img), _stated_range(img)


def to_rgb8(img, hints: Optional[tuple] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """A Pillow image of any mode -> ``(rgb (H,W,3) uint8 on white, alpha (H,W) uint8 or None)``.

    Integer samples are scaled from their full range (16-bit: v/257, 32-bit: v/(2^32-1)), floats from
    the range the file states (TIFF SMin/SMaxSampleValue) or [0, 1]; out-of-range values are clipped."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "I;16S", "F") or img.mode.startswith("I;"):
        grey = _scale_to_8bit(img, hints or _sample_hints(img))
        return np.repeat(grey[:, :, None], 3, axis=2), None
    if img.mode == "P" and "transparency" not in img.info:
        img = img.convert("RGB")
    if img.mode in ("RGBA", "LA", "P", "PA", "La", "RGBa") or (img.mode == "L" and "transparency" in img.info) \
            or (img.mode == "RGB" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        alpha = rgba[:, :, 3].copy()
        rgb = rgba[:, :, :3].astype(np.float32)
        a = alpha[:, :, None].astype(np.float32) / 255.0
        flat = np.clip(rgb * a + 255.0 * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
        return flat, (None if alpha.min() == 255 else alpha)
    if img.mode in ("LAB", "HSV"):
        img = Image.fromarray(np.asarray(img.convert("RGB")))  # Pillow converts these through RGB
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), None


def _scale_to_8bit(img, hints: tuple) -> np.ndarray:
    fmt, rawmode, (lo, hi) = hints
    raw = np.asarray(img)
    if lo is None:
        lo = 0.0
        if raw.dtype.kind == "f":
            hi = 1.0
        elif raw.dtype.itemsize <= 2:
            hi = float(np.iinfo(raw.dtype).max)
        elif fmt != "TIFF":
            hi = 65535.0  # older Pillow reads 16-bit PNG/PGM as 32-bit mode I: the file holds 16 bits
        else:
            hi = float(2 ** 31 - 1) if rawmode.endswith("S") else float(2 ** 32 - 1)
    scaled = (raw.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(scaled) + 0.5, 0, 255).astype(np.uint8)


def _stated_range(img):
    tags = getattr(img, "tag_v2", None)
    if not tags or _TIFF_SMIN not in tags or _TIFF_SMAX not in tags:
        return None, None
    lo, hi = tags[_TIFF_SMIN], tags[_TIFF_SMAX]
    lo = lo[0] if isinstance(lo, tuple) else lo
    hi = hi[0] if isinstance(hi, tuple) else hi
    return (float(lo), float(hi)) if float(hi) > float(lo) else (None, None)


def _rawmode(img) -> str:
    try:
        args = img.tile[0].args if img.tile else None
    except (AttributeError, IndexError):
        return img.mode
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else img.mode


@contextlib.contextmanager
def atomic_output(path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block ends normally, remove
    it on any error, Ctrl-C or SIGTERM, so nothing half-written ever carries the final name.

    Raises :class:`InputError` when the folder cannot be made or written."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:  # the user's name in the message, never our temporary one
        remove_quietly(tmp)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        remove_quietly(tmp)
        raise


def remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there; a folder that refuses it (read-only) is no new error."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def check_writable(path, what: str = "") -> None:
    """Before any work: an :class:`InputError` naming ``path`` (a file to write, or a folder to fill)
    when the nearest folder of it that exists cannot be written (permission, read-only file system)."""
    folder = Path(path).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        folder = folder.parent
    if os.access(folder, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    reason = "read-only file system" if read_only else f"no permission to write in {folder}"
    raise InputError(f"cannot write {what}{path}: {reason}")


def image_format(path) -> str:
    """Pillow format name for an output suffix; :class:`UsageError` for suffixes we cannot write."""
    fmt = _FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown image suffix; use one of {', '.join(sorted(_FORMATS))}")
    return fmt


def write_image(path, image: np.ndarray, alpha: Optional[np.ndarray] = None) -> None:
    """Write ``(H,W,3) uint8`` RGB (+ ``(H,W) uint8`` alpha, kept where the format can hold it, else
    dropped: flatten first) atomically. Raises :class:`InputError` / :class:`UsageError`."""
    from PIL import Image

    path = Path(path)
    fmt = image_format(path)
    keep_alpha = alpha is not None and path.suffix.lower() in ALPHA_SUFFIXES
    pic = Image.fromarray(np.dstack([image, alpha]) if keep_alpha else image, "RGBA" if keep_alpha else "RGB")
    with atomic_output(path) as tmp:
        try:
            pic.save(tmp, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
        except (ValueError, MemoryError) as exc:
            raise InputError(f"cannot write {path}: {exc}") from None


def write_animation(path, frames: List[np.ndarray], delays_ms: List[float],
                    alphas: Optional[List[Optional[np.ndarray]]] = None) -> None:
    """Write RGB frames ``(H,W,3) uint8`` with per-frame delays (ms) as an animated GIF/WebP/APNG
    (by suffix), alpha kept when given, looping forever. Atomic. Raises :class:`InputError`."""
    from PIL import Image

    path = Path(path)
    fmt = image_format(path)
    use_alpha = alphas is not None and any(a is not None for a in alphas)
    pics = []
    for i, rgb in enumerate(frames):
        a = alphas[i] if use_alpha else None
        if use_alpha:
            a = a if a is not None else np.full(rgb.shape[:2], 255, np.uint8)
            pics.append(Image.fromarray(np.dstack([rgb, a]), "RGBA"))
        else:
            pics.append(Image.fromarray(rgb, "RGB"))
    durations = [max(10, int(round(d))) for d in delays_ms]
    extra = {"lossless": False, "quality": 90} if fmt == "WEBP" else {}
    if fmt == "GIF":
        extra["disposal"] = 2
    with atomic_output(path) as tmp:
        try:
            pics[0].save(tmp, format=fmt, save_all=True, append_images=pics[1:], duration=durations, loop=0, **extra)
        except (ValueError, MemoryError) as exc:
            raise InputError(f"cannot write {path}: {exc}") from None


def fit_max_size(image: np.ndarray, max_size, notes: Optional[list] = None) -> np.ndarray:
    """Downscale (Lanczos) so the longer side is at most ``max_size``, aspect kept; never upscales.

    A thin picture is scaled only as far as its short side stays >= 32 px; then a line saying so is
    appended to ``notes``. Works on ``(H,W,3)`` and ``(H,W)`` uint8."""
    h, w = image.shape[:2]
    size = scaled_size((w, h), max_size)
    if size == (w, h):
        return image
    line = f"--max-size {max_size}: {w}x{h} scaled to {size[0]}x{size[1]} only, so that its short side keeps " \
        f"{MIN_SIDE} px"
    if notes is not None and max(size) > max_size and line not in notes:  # once, not once per video frame
        notes.append(line)
    return resize(image, size)


def scaled_size(size: Tuple[int, int], max_size) -> Tuple[int, int]:
    """``(w, h)`` after :func:`fit_max_size` (aspect kept, short side not below 32 px unless it was)."""
    w, h = size
    if not max_size or max(w, h) <= max_size:
        return w, h
    scale = max_size / max(w, h)
    if min(w, h) * scale < MIN_SIDE:
        scale = min(1.0, MIN_SIDE / min(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def resize(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Lanczos resize of ``(H,W,3)``/``(H,W)`` uint8 to ``size`` = (w, h)."""
    from PIL import Image

    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.array(Image.fromarray(image).resize(tuple(size), Image.LANCZOS))  # writable, for torch
