"""Contact sheet: one photo in every style, labelled with its index and name, to help people choose; paintings
(``styles --style-dir``) follow, each as its thumbnail beside the photo in its style."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .images import read_image
from .inference.styles import style_name
from .resources import assets_dir

DEFAULT_PHOTO = "astronaut.jpg"


def contact_sheet(engine, photo: Optional[np.ndarray] = None, tile: int = 192, columns: int = 7,
                  progress: bool = True, paintings: Sequence = ()) -> np.ndarray:
    """``(H,W,3) uint8``: the original then styles 0..N-1, each tile labelled. ``paintings``:
    ``(name, painting (h,w,3) uint8, style)`` triples (style a PaintingStyle), each shown as the
    painting's thumbnail and the photo in that style, on rows of their own (the arbitrary net,
    reached through ``engine.for_style``)."""
    from PIL import Image, ImageDraw
    from tqdm import tqdm

    from .render.hud import fit_text, text_font

    if photo is None:
        photo = read_image(assets_dir() / DEFAULT_PHOTO)
    small = Image.fromarray(photo)
    small.thumbnail((tile, tile), Image.LANCZOS)
    base = np.asarray(small.convert("RGB"))
    th, tw = base.shape[:2]
    tiles = [("original", base)]
    for i in tqdm(engine.styles, desc="styles", unit="style", disable=None if progress else True):
        tiles.append((f"{i} {style_name(i)}", engine.stylize(base, i)))
    if paintings:
        columns += columns % 2  # a painting and its result side by side, never split over two rows
        tiles += [("", None)] * (-len(tiles) % columns)
        for name, painting, style in tqdm(paintings, desc="paintings", unit="painting",
                                          disable=None if progress else True):
            styled = engine.for_style(style).stylize(base, style)
            tiles += [(name, _fit_tile(painting, tw, th)), (f"in {name}", styled)]
    pad, label = 8, 22
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + label + pad) + pad), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = text_font(13)  # covers Latin, Greek and Cyrillic names (Pillow's own font draws boxes)
    for n, (name, img) in enumerate(tiles):
        if img is None:
            continue
        r, c = divmod(n, columns)
        x, y = pad + c * (tw + pad), pad + r * (th + label + pad)
        draw.text((x + 2, y + 3), fit_text(draw, name, font, tw - 4), fill=(235, 235, 235), font=font)
        sheet.paste(Image.fromarray(img), (x, y + label))
    return np.asarray(sheet)


def _fit_tile(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled (Lanczos, aspect kept) and centred on a dark ``(height, width, 3)`` tile."""
    from PIL import Image

    small = Image.fromarray(image)
    small.thumbnail((width, height), Image.LANCZOS)
    canvas = Image.new("RGB", (width, height), (24, 24, 28))
    canvas.paste(small, ((width - small.width) // 2, (height - small.height) // 2))
    return np.asarray(canvas)
