"""Training images with no download: scikit-image's sample photos plus synthetic screen-like
pictures (windows, text, buttons, gradients), since live sources are webcams and desktops.

``HELD_OUT`` photos are never used for training; evaluation reports on them.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

TRAIN_PHOTOS = ("astronaut", "rocket", "stereo_motorcycle", "hubble_deep_field", "immunohistochemistry",
                "retina", "camera", "moon", "page", "text", "coins", "brick", "grass", "gravel", "clock",
                "logo", "colorwheel")
HELD_OUT = ("chelsea", "coffee")  # (skimage's "cat" is chelsea too: never add it to training)
WORDS = ("file edit view window help settings open save export style camera screen render frame "
         "latency inference pruned network paint brush colour light shadow canvas gallery").split()


def _skimage_photo(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    if img.shape[2] == 4:  # RGBA logo: put it on white
        alpha = img[..., 3:4].astype(np.float32) / 255
        img = (img[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8) if img.max() <= 1 else img.astype(np.uint8)
    return np.ascontiguousarray(img[..., :3])


def load_photos(names: Sequence[str]) -> List[np.ndarray]:
    try:
        return [_skimage_photo(n) for n in names]
    except ImportError:
        from ..errors import UsageError

        raise UsageError("artem-vr distill needs scikit-image for its training photos: "
                         "pip install 'artem-vr[train]'") from None


def synthetic_screen(rng: np.random.Generator, size=(640, 400)) -> np.ndarray:
    """A desktop-like picture: gradient wallpaper, overlapping windows with title bars, lines of
    text, buttons and a few icons. ``(h, w, 3) uint8``."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, h)[:, None, None]
    wall = (top * (1 - ramp) + bottom * ramp).astype(np.uint8).repeat(w, axis=1)
    img = Image.fromarray(wall)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=int(rng.integers(11, 22)))
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(0, w * 0.6)), int(rng.integers(0, h * 0.6))
        x1, y1 = int(x0 + rng.integers(w * 0.25, w * 0.7)), int(y0 + rng.integers(h * 0.25, h * 0.7))
        light = rng.random() < 0.6
        body = tuple(int(v) for v in (rng.integers(225, 256, 3) if light else rng.integers(20, 60, 3)))
        ink = (20, 20, 20) if light else (230, 230, 230)
        draw.rectangle((x0, y0, x1, y1), fill=body, outline=(90, 90, 90))
        draw.rectangle((x0, y0, x1, y0 + 22), fill=tuple(int(v) for v in rng.integers(40, 200, 3)))
        draw.text((x0 + 8, y0 + 4), " ".join(rng.choice(WORDS, 2)), fill=(255, 255, 255), font=font)
        y = y0 + 30
        while y < y1 - 20:
            draw.text((x0 + 10, y), " ".join(rng.choice(WORDS, int(rng.integers(3, 9)))), fill=ink, font=font)
            y += int(font.size * 1.5)
        for _ in range(int(rng.integers(0, 3))):
            bx, by = int(rng.integers(x0 + 5, max(x0 + 6, x1 - 70))), int(rng.integers(y0 + 30, max(y0 + 31, y1 - 25)))
            draw.rounded_rectangle((bx, by, bx + 64, by + 22), 5, fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for _ in range(int(rng.integers(3, 8))):  # desktop icons
        ix, iy = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        draw.ellipse((ix, iy, ix + 32, iy + 32), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return np.asarray(img)


class PatchSampler:
    """Random low-resolution training patches, as the live inference size sees the world:
    a random 20-100% crop of a picture, shrunk to ``size``, flipped and colour-jittered.

    The pictures live on ``device``: on a GPU the crops and jitter run there (on the CPU they cost
    about 1.5 ms a sample, more than a GPU training step). The random draws come from one numpy
    generator, so a seed gives the same patches on every device (up to float rounding).
    """

    def __init__(self, photos: List[np.ndarray], screens: List[np.ndarray], seed: int = 0,
                 screen_fraction: float = 0.3, device="cpu"):
        def tensor(img: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.array(img)).to(device).permute(2, 0, 1).float() / 255

        self.photos = [tensor(p) for p in photos]
        self.screens = [tensor(s) for s in screens]
        self.rng = np.random.default_rng(seed)
        self.screen_fraction = screen_fraction

    def _crop(self, img: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        _, h, w = img.shape
        tw, th = size
        aspect = tw / th * float(np.exp(self.rng.uniform(-0.2, 0.2)))
        area = self.rng.uniform(0.2, 1.0) * h * w
        ch = int(min(h, max(16, round(np.sqrt(area / aspect)))))
        cw = int(min(w, max(16, round(ch * aspect))))
        y, x = int(self.rng.integers(0, h - ch + 1)), int(self.rng.integers(0, w - cw + 1))
        patch = img[:, y:y + ch, x:x + cw][None]
        return F.interpolate(patch, size=(th, tw), mode="bilinear", antialias=True, align_corners=False)[0]

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        if self.rng.random() < 0.5:
            x = x.flip(-1)
        brightness = self.rng.uniform(0.75, 1.25)
        contrast = self.rng.uniform(0.75, 1.25)
        saturation = self.rng.uniform(0.6, 1.4)
        grey = x.mean(0, keepdim=True)
        x = grey + (x - grey) * saturation
        x = (x - x.mean()) * contrast + x.mean()
        return (x * brightness).clamp(0, 1)

    def batch(self, n: int, size: Tuple[int, int]) -> torch.Tensor:
        out = []
        for _ in range(n):
            pool = self.screens if self.screens and self.rng.random() < self.screen_fraction else self.photos
            out.append(self._jitter(self._crop(pool[int(self.rng.integers(len(pool)))], size)))
        return torch.stack(out)

    def styles(self, n: int, allowed: Sequence[int], num_styles: int) -> torch.Tensor:
        """One style per sample; 30% are two-style blends so blends are learned too."""
        w = torch.zeros(n, num_styles)
        for i in range(n):
            a = int(self.rng.choice(allowed))
            if len(allowed) > 1 and self.rng.random() < 0.3:
                b = int(self.rng.choice([s for s in allowed if s != a]))
                t = float(self.rng.uniform(0.2, 0.8))
                w[i, a], w[i, b] = t, 1 - t
            else:
                w[i, a] = 1.0
        return w
