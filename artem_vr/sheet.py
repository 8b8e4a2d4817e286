"""Contact sheet: one photo in every style, labelled with its index, to help people choose."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .images import read_image
from .resources import assets_dir

DEFAULT_PHOTO = "astronaut.jpg"


def contact_sheet(engine, photo: Optional[np.ndarray] = None, tile: int = 192, columns: int = 7,
                  progress: bool = True) -> np.ndarray:
    """``(H,W,3) uint8``: the original then styles 0..N-1, each tile labelled."""
    from PIL import Image, ImageDraw, ImageFont
    from tqdm import tqdm

    if photo is None:
        photo = read_image(assets_dir() / DEFAULT_PHOTO)
    small = Image.fromarray(photo)
    small.thumbnail((tile, tile), Image.LANCZOS)
    base = np.asarray(small.convert("RGB"))
    th, tw = base.shape[:2]
    tiles = [("original", base)]
    for i in tqdm(engine.styles, desc="styles", unit="style", disable=None if progress else True):
        tiles.append((f"style {i}", engine.stylize(base, i)))
    pad, label = 8, 22
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + label + pad) + pad), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for n, (name, img) in enumerate(tiles):
        r, c = divmod(n, columns)
        x, y = pad + c * (tw + pad), pad + r * (th + label + pad)
        draw.text((x + 2, y + 2), name, fill=(235, 235, 235), font=font)
        sheet.paste(Image.fromarray(img), (x, y + label))
    return np.asarray(sheet)
