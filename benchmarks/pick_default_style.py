"""Which built-in style makes the most unmistakable first picture? Every style on a photo of a person
(a webcam's usual subject) at the sheet's scale, the same person as the demo scene shows her at the
live CPU inference size (320x180: strokes are large against a face there), and a synthetic desktop,
measured as people see it:

- ``change``: mean CIELAB distance between the photo and its stylized version, both blurred (sigma 3),
  so it counts palette and brush-scale change, not pixel noise (higher = the style is obvious);
- ``texture``: Sobel energy of the result over the source's (higher = visible strokes);
- ``content``: correlation of the blurred luminance edges (sigma 2) of source and result (higher =
  the scene is still recognisable);
- ``face``: the same at sigma 1 inside the face of the 320x180 demo frame (75x85 px: eyes, mouth),
  where large strokes hurt first.

Rule: among the styles with content >= 0.6 on every picture and face >= 0.5, the largest
change x texture (texture counted up to 2x).

The face measure was added after looking: at 320x180 the top scorers by change x texture (lime,
starry) turn the demo's face into a mask or lose it, which the sigma-2 edge correlation over the
whole frame does not see. The rule then picks tapestry (25), which is what we saw too.

Usage: python benchmarks/pick_default_style.py   (the full net on the CPU, ~30 s)
"""
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.color import rgb2lab

from artem_vr import StyleEngine
from artem_vr.images import read_image
from artem_vr.inference.styles import style_name
from artem_vr.resources import assets_dir


def desktop(w=480, h=270):
    img = Image.new("RGB", (w, h), (58, 110, 165))
    d = ImageDraw.Draw(img)
    d.rectangle([40, 30, 330, 230], fill=(245, 245, 245), outline=(30, 30, 30))
    d.rectangle([40, 30, 330, 48], fill=(60, 60, 70))
    for i in range(9):
        d.text((52, 58 + i * 18), f"Quarterly report line {i}: revenue up {3 * i}%", fill=(20, 20, 20))
    for i, c in enumerate([(220, 60, 50), (240, 200, 40), (60, 170, 90), (120, 80, 200)]):
        d.rectangle([360, 40 + i * 50, 400, 80 + i * 50], fill=c)
    return np.asarray(img)


def edges_at(img, sigma):
    y = ndimage.gaussian_filter(img.astype(float).mean(axis=2), sigma)
    return np.hypot(ndimage.sobel(y, 0), ndimage.sobel(y, 1))


def scores(src, out):
    lab_s = rgb2lab(ndimage.gaussian_filter(src.astype(float) / 255, (3, 3, 0)))
    lab_o = rgb2lab(ndimage.gaussian_filter(out.astype(float) / 255, (3, 3, 0)))
    change = float(np.linalg.norm(lab_s - lab_o, axis=2).mean())

    def edges(img, sigma):
        y = ndimage.gaussian_filter(img.astype(float).mean(axis=2), sigma)
        return np.hypot(ndimage.sobel(y, 0), ndimage.sobel(y, 1))

    texture = float(edges(out, 0.5).mean() / max(edges(src, 0.5).mean(), 1e-6))
    content = float(np.corrcoef(edges(src, 2).ravel(), edges(out, 2).ravel())[0, 1])
    return change, texture, content


def main():
    engine = StyleEngine.load("full", device="cpu")
    photo = np.asarray(Image.fromarray(read_image(assets_dir() / "astronaut.jpg")).resize((320, 320)))
    from artem_vr.capture.demo import demo_frame

    pictures = {"photo": photo, "demo 320x180": demo_frame(read_image(assets_dir() / "astronaut.jpg"), 12.0, (320, 180)),
                "desktop": desktop()}
    rows = []
    demo, face = pictures["demo 320x180"], (slice(5, 90), slice(90, 165))
    for i in engine.styles:
        per = [scores(pic, engine.stylize(pic, i)) for pic in pictures.values()]
        change, texture, content = (float(np.mean(v)) for v in zip(*per))
        a, b = (edges_at(img, 1.0)[face] for img in (demo, engine.stylize(demo, i)))
        rows.append((i, change, texture, content, min(p[2] for p in per), float(np.corrcoef(a.ravel(), b.ravel())[0, 1])))
    print(f"{'style':>16} {'change':>7} {'texture':>8} {'content':>8} {'min content':>12} {'face':>6}")
    for i, change, texture, content, worst, face_c in sorted(rows, key=lambda r: -r[1]):
        print(f"{i:>3} {style_name(i):>12} {change:7.1f} {texture:8.2f} {content:8.2f} {worst:12.2f} {face_c:6.2f}")
    ok = [r for r in rows if r[4] >= 0.6 and r[5] >= 0.5]
    best = max(ok, key=lambda r: r[1] * min(r[2], 2.0))
    print(f"pick: {best[0]} {style_name(best[0])} (largest change x texture among styles with content >= 0.6 "
          "on every picture and face >= 0.5)")


if __name__ == "__main__":
    main()
