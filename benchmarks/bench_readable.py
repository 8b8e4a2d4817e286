"""Can you still read a stylized desktop? OCR character accuracy through the real compositor.

Synthetic desktops with known text (code in a dark editor, a light document, a web page with
small and large text in a light and a dark theme) at 1280x720 and 1920x1080 are stylized as the
live path does it (area-shrunk to the inference box, the live default net, strength 1), then
upsampled by the real compositor (EGL, offscreen) guided by the BGRA source at several ``--detail``
levels, and read by Tesseract (pytesseract). Reported per style and level:

- **chars**: characters of the known text that OCR read back (matching blocks of difflib's
  SequenceMatcher over whitespace-collapsed text, / characters of the text), next to the same for
  the unstylized source; **ratio** = stylized / source, pooled over the desktops of one size.
- **style**: style-embedding distance (``artem_vr.training.quality``: Magenta's style predictor)
  of the detailed picture to the plain stylized one (Catmull-Rom, no guide, no sharpening), so
  "readable" cannot mean "unstylized"; also to the guided picture at detail 0 (in the JSON).
- ``--glyphs``: the bound on that distance, "glyphs only": the plain picture with nothing but the
  source's glyph pixels pasted in (:func:`glyphs_pasted`), the least any readable overlay draws.

Goal (issue 23): at the live default for ``--source screen`` on the CPU (320x180 inference), the
1280x720 desktops (12-14 px text) read back at >= 85% of the source's characters for >= 8 of
eval_fast's 10 styles, style distance <= 0.10.

Needs ``apt-get install tesseract-ocr`` and ``pip install pytesseract`` (the test suite does not).
Every page is read at 2x (bicubic), Tesseract's page segmentation 3, for the source and the
stylized pictures alike. ``--picture FILE`` draws one desktop at detail 0 / default / 1.

    python benchmarks/bench_readable.py --quick            # the goal's configuration only
    python benchmarks/bench_readable.py --out benchmarks/results/readable.json
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

STYLES = (0, 3, 5, 7, 9, 11, 13, 17, 21, 25)   # eval_fast's
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
WORDS = ("the of and to in is that for it as with was on be by this are from or have an which not but "
         "window screen render frame style paint brush canvas colour light shadow motion sample value "
         "pixel texture network layer model device memory thread queue latency display monitor "
         "keyboard picture gallery museum evening morning river mountain garden letter number").split()
CODE = ["def render(frame, style=3):", "    out = engine.stylize(frame, style)", "    if out is None:",
        "        return frame", "    for i in range(16):", "        total += weights[i] * 0.25",
        "class Window(Sink):", "    every_frame = False", "    name = 'window'", "import numpy as np",
        "result = compose(a, b, mode='blend')", "    print(f'fps {fps:.1f} ms {ms:.2f}')",
        "while not quit.is_set():", "    size = (1280, 720)", "    return x + y * 2", "# keep the latest frame"]


def _font(name: str, size: int):
    from PIL import ImageFont

    path = FONT_DIR / name
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default(size=size)


def _paragraph(rng, font, width: int):
    """Lines of random words that fit ``width`` px."""
    words = list(rng.choice(WORDS, 400))
    lines, line = [], ""
    for word in words:
        cand = f"{line} {word}".strip()
        if font.getlength(cand) > width:
            lines.append(line)
            line = word
        else:
            line = cand
    return lines


def desktop(kind: str, size, seed: int = 0):
    """``(rgb (H,W,3) uint8, text str, lines)``: one synthetic desktop of ``kind`` (code-dark,
    document-light, web-light, web-dark) at ``size`` (W, H), its small text 13 px (DejaVu), headings
    24 px; ``lines``: ``[((x0, y0, x1, y1), text), ...]`` where each line of text was drawn."""
    from PIL import Image, ImageDraw

    w, h = size
    rng = np.random.default_rng(seed + zlib.crc32(kind.encode()) % 1000)  # str hash() changes per process
    dark = kind.endswith("dark")
    bg, ink = ((30, 32, 38), (215, 218, 222)) if dark else ((250, 250, 247), (25, 25, 28))
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    small, big = 13, 24
    texts = []
    boxes = []
    _text = draw.text

    def text_at(xy, line, **kw):  # draws and remembers where
        _text(xy, line, **kw)
        boxes.append((tuple(int(round(v)) for v in draw.textbbox(xy, line, font=kw["font"])), line))

    draw.text = text_at
    draw.rectangle((0, 0, w, 30), fill=(60, 63, 70) if dark else (222, 224, 228))  # title bar
    title = " ".join(rng.choice(WORDS, 4))
    draw.text((12, 8), title, fill=ink, font=_font("DejaVuSans.ttf", small))
    texts.append(title)
    y = 44
    if kind.startswith("code"):
        font = _font("DejaVuSansMono.ttf", small)
        draw.rectangle((0, 30, 46, h), fill=(40, 42, 50))
        n = 0
        while y < h - 20:
            line = CODE[int(rng.integers(len(CODE)))]
            _text((6, y), f"{n + 1:3d}", fill=(120, 125, 135), font=font)  # line numbers: not read
            draw.text((56, y), line, fill=ink if n % 3 else (120, 200, 255), font=font)
            texts.append(line)
            y += 19
            n += 1
    else:
        head = _font("DejaVuSans-Bold.ttf" if kind.startswith("web") else "DejaVuSerif-Bold.ttf", big)
        body = _font("DejaVuSans.ttf" if kind.startswith("web") else "DejaVuSerif.ttf", small)
        columns = [(60, w - 60)] if kind.startswith("document") else [(40, w * 0.62), (w * 0.66, w - 40)]
        for ci, (x0, x1) in enumerate(columns):
            y = 52
            if kind.startswith("web") and ci == 1:
                draw.rectangle((x0 - 10, 40, x1 + 10, h - 10), fill=(45, 48, 56) if dark else (236, 240, 246))
            lines = _paragraph(rng, body, int(x1 - x0))
            li = 0
            while y < h - 50:
                heading = " ".join(rng.choice(WORDS, 3)).capitalize()
                draw.text((x0, y), heading, fill=(230, 120, 60) if kind.startswith("web") else ink, font=head)
                texts.append(heading)
                y += 36
                for _ in range(int(rng.integers(4, 8))):
                    if y > h - 30:
                        break
                    draw.text((x0, y), lines[li % len(lines)], fill=ink, font=body)
                    texts.append(lines[li % len(lines)])
                    li += 1
                    y += 19
                y += 14
    return np.asarray(img).copy(), "\n".join(texts), boxes


def normalise(text: str) -> str:
    return " ".join(text.split())


def chars_read(ocr: str, truth: str) -> float:
    """Fraction of ``truth``'s characters (whitespace collapsed) found, in order, in ``ocr``."""
    a, b = normalise(truth), normalise(ocr)
    if not a:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(a)


def ocr(rgb: np.ndarray) -> str:
    """The whole page, as a screenshot would be read (Tesseract's own layout analysis)."""
    import cv2
    import pytesseract

    big = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return pytesseract.image_to_string(big, config="--psm 3")


def ocr_lines(rgb: np.ndarray, lines) -> str:
    """Each known line of text on its own (a 4-px margin, 2x, one text line): legibility without
    Tesseract's page layout analysis, which a painted background confuses more than a reader."""
    import cv2
    import pytesseract

    h, w = rgb.shape[:2]
    out = []
    for (x0, y0, x1, y1), _ in lines:
        crop = rgb[max(0, y0 - 4):min(h, y1 + 4), max(0, x0 - 4):min(w, x1 + 4)]
        big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        out.append(pytesseract.image_to_string(big, config="--psm 7").strip())
    return "\n".join(out)


class Stylizer:
    """The live path's inference (``StyleWorker``'s resize, the live default net) plus the compositor."""

    def __init__(self, model: str = "auto", radius=None):
        from artem_vr.inference.engine import StyleEngine

        self.engine = StyleEngine.load(model, device="cpu")
        self.target = None
        self.radius = radius  # the guided window; None: the renderer's default

    def infer(self, rgb: np.ndarray, style: int, box) -> np.ndarray:
        from artem_vr.inference.engine import to_uint8
        from artem_vr.inference.worker import fit_inside, frame_to_tensor

        size = fit_inside((rgb.shape[1], rgb.shape[0]), box)
        x = frame_to_tensor(rgb, "rgb", self.engine.device, size)
        return to_uint8(self.engine.stylize_tensor(x, self.engine.weights(style)))[0]

    def compose(self, low: np.ndarray, source: np.ndarray, detail, sharpen: float = 0.0) -> np.ndarray:
        """``detail`` None: Catmull-Rom without a guide (the plain stylized picture)."""
        from artem_vr.render.base import OffscreenTarget
        from artem_vr.render.compositor import Compositor

        size = (source.shape[1], source.shape[0])
        if self.target is None or self.target.size != size:
            if self.target is not None:
                self.target.release()
            self.target = OffscreenTarget(size)
        comp = Compositor(self.target.ctx, sharpen=sharpen, detail=detail or 0.0)
        if self.radius is not None:
            comp.guided_radius = self.radius
        bgra = np.concatenate([source[..., ::-1], np.full(source.shape[:2] + (1,), 255, np.uint8)], -1)
        comp.upload(low, guide=None if detail is None else bgra, guide_order="bgra")
        comp.render(self.target.fbo, size, flip_y=False, hud=False)
        out = self.target.read().copy()
        comp.release()
        return out


def glyphs_pasted(plain: np.ndarray, source: np.ndarray, threshold: float = 24.0) -> np.ndarray:
    """The least a readable overlay can change: ``plain`` (H,W,3) uint8 with only the source's glyph
    pixels (|luminance - its 7x7 box mean| > ``threshold`` grey levels, i.e. text strokes and thin
    lines) replaced by the source's own colour; every other pixel keeps the stylized painting. Its
    style distance to ``plain`` is what drawing the text at all costs on the style ruler."""
    import cv2

    y = source.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    glyph = np.abs(y - cv2.blur(y, (7, 7))) > threshold
    out = plain.copy()
    out[glyph] = source[glyph]
    return out


def run(args) -> dict:
    from artem_vr.live import DEFAULT_DETAIL
    from artem_vr.training.quality import StyleEmbedder, embedding_distance

    stylizer = Stylizer(args.model)
    embedder = StyleEmbedder()
    details = sorted({float(d) for d in args.details} | {DEFAULT_DETAIL["screen"]})
    rows, pages = [], {}
    for size in args.sizes:
        for kind in args.desktops:
            rgb, truth, lines = desktop(kind, size)
            src = (chars_read(ocr(rgb), truth), float("nan") if args.no_lines else chars_read(ocr_lines(rgb, lines), truth))
            pages[(size, kind)] = (rgb, truth, lines, src)
            print(f"{size[0]}x{size[1]} {kind:15s} source reads {src[0]:.3f} (page) {src[1]:.3f} (lines) "
                  f"of {len(normalise(truth))} chars", flush=True)
    for box in args.infer:
        for style in args.styles:
            for (size, kind), (rgb, truth, lines, src) in pages.items():
                t0 = time.perf_counter()
                low = stylizer.infer(rgb, style, box)
                plain = stylizer.compose(low, rgb, None)
                guided0 = embedder.embed(stylizer.compose(low, rgb, 0.0))
                plain_e = embedder.embed(plain)
                found = []
                for d in [*details, None, "glyphs"]:
                    if (d is None and args.no_plain) or (d == "glyphs" and not args.glyphs):
                        continue
                    pic = (plain if d is None else glyphs_pasted(plain, rgb) if d == "glyphs"
                           else stylizer.compose(low, rgb, d))
                    e = embedder.embed(pic)
                    row = {"size": list(size), "desktop": kind, "infer": list(box), "style": style, "detail": d,
                           "chars": round(chars_read(ocr(pic), truth), 4), "source_chars": round(src[0], 4),
                           "line_chars": None if args.no_lines else round(chars_read(ocr_lines(pic, lines), truth), 4),
                           "source_line_chars": None if args.no_lines else round(src[1], 4),
                           "style_distance": round(embedding_distance(e, plain_e), 4),
                           "style_distance_to_detail0": round(embedding_distance(e, guided0), 4)}
                    rows.append(row)
                    found.append(f"d{d}: page {row['chars']:.2f} lines {row['line_chars'] or float('nan'):.2f} "
                                 f"style {row['style_distance']:.3f}")
                print(f"infer {box[0]}x{box[1]} style {style:2d} {size[0]}x{size[1]} {kind:15s} " + "; ".join(found)
                      + f" ({time.perf_counter() - t0:.1f} s)", flush=True)
    return {"rows": rows, "details": details, "default_detail": DEFAULT_DETAIL["screen"], "model": stylizer.engine.name}


def summarise(result: dict) -> dict:
    """Per (size, infer, detail, style): pooled ratios stylized/source characters (page OCR, line
    OCR), worst style distance; the goal's verdict for 1280x720 at 320x180 and the default detail."""
    groups = {}
    for r in result["rows"]:
        key = (tuple(r["size"]), tuple(r["infer"]), r["detail"], r["style"])
        g = groups.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
        g[0] += r["chars"]
        g[1] += r["source_chars"]
        g[2] += float("nan") if r["line_chars"] is None else r["line_chars"]
        g[3] += float("nan") if r["source_line_chars"] is None else r["source_line_chars"]
        g[4] = max(g[4], r["style_distance"])
    table = {}
    for (size, box, detail, style), (acc, src, lacc, lsrc, dist) in groups.items():
        table.setdefault((size, box, detail), {})[style] = (acc / max(src, 1e-9), lacc / max(lsrc, 1e-9), dist)
    lines = [f"model {result['model']}; page / lines = characters OCR reads (whole page / line by line) over "
             "what it reads in the source; style = worst style distance to the plain stylized picture"]
    verdict = {}
    for (size, box, detail), per in sorted(table.items(), key=lambda kv: (
            kv[0][0], kv[0][1], -1 if kv[0][2] is None else 2 if kv[0][2] == "glyphs" else kv[0][2])):
        label = "plain" if detail is None else "glyphs only" if detail == "glyphs" else f"detail {detail:g}"
        page_ok = [s for s, (pr, lr, dist) in per.items() if pr >= 0.85 and dist <= 0.10]
        line_ok = [s for s, (pr, lr, dist) in per.items() if lr >= 0.85]
        lines.append(f"{size[0]}x{size[1]} infer {box[0]}x{box[1]} {label:11s} "
                     + " ".join(f"{s}:{pr:.2f}/{lr:.2f}/{dist:.2f}" for s, (pr, lr, dist) in sorted(per.items()))
                     + f"  -> page >= 0.85 and style <= 0.10: {len(page_ok)}/{len(per)}; lines >= 0.85: "
                       f"{len(line_ok)}/{len(per)}")
        if size == (1280, 720) and box == (320, 180) and detail == result["default_detail"]:
            verdict = {"styles_passing_goal": len(page_ok), "styles_lines_readable": len(line_ok),
                       "styles": len(per), "goal_met": len(page_ok) >= 8}
    return {"lines": lines, "verdict": verdict}


def picture(path: str, model: str, style: int, kind: str = "code-dark") -> None:
    """One 1280x720 desktop's 480x270 crop at detail 0, 0.5, the screen default and 1, side by side."""
    from PIL import Image, ImageDraw

    from artem_vr.images import write_image
    from artem_vr.live import DEFAULT_DETAIL

    stylizer = Stylizer(model)
    rgb, _, _ = desktop(kind, (1280, 720))
    low = stylizer.infer(rgb, style, (320, 180))
    crops = []
    for d in sorted({0.0, 0.5, DEFAULT_DETAIL["screen"], 1.0}):
        tile = Image.fromarray(stylizer.compose(low, rgb, d)[30:300, 0:480])
        label = f"--detail {d:g}" + (" (default)" if d == DEFAULT_DETAIL["screen"] else "")
        ImageDraw.Draw(tile).text((8, 250), label, fill=(255, 255, 0))
        crops.append(np.asarray(tile))
    write_image(path, np.concatenate(crops, 1))


def camera_edges(model: str, styles, picture_path=None, radius=None) -> list:
    """Webcam-like photos (the bundled astronaut and rocket, 1280x720) at the camera default, the
    guided picture against the Catmull-Rom + sharpen 0.3 path (before issue 23): **edge sharpness**
    = the output's mean Sobel magnitude (luminance) on the photo's strongest 5% edge pixels over its
    mean Sobel magnitude on all pixels (> 1: the picture's edges sit where the photo's are).
    ``picture_path``: a 2x crop of photo / Catmull-Rom / guided side by side, to look for halos."""
    import cv2

    from artem_vr.images import read_image, write_image
    from artem_vr.live import DEFAULT_DETAIL

    def grad(img):
        y = np.asarray(img, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))

    def sharpness(out, edges):
        g = grad(out)
        return float(g[edges].mean() / g.mean())

    stylizer = Stylizer(model, radius)
    rows = []
    root = Path(__file__).resolve().parents[1] / "artem_vr" / "assets"
    for name in ("astronaut.jpg", "rocket.jpg"):
        photo = cv2.resize(read_image(root / name), (1280, 720), interpolation=cv2.INTER_AREA)
        g = grad(photo)
        edges = g >= np.quantile(g, 0.95)
        for style in styles:
            low = stylizer.infer(photo, style, (320, 180))
            today = stylizer.compose(low, photo, None, sharpen=0.3)
            guided = stylizer.compose(low, photo, DEFAULT_DETAIL["camera"])
            rows.append({"photo": name, "style": style, "edge_sharpness_catmull_rom": round(sharpness(today, edges), 2),
                         "edge_sharpness_guided": round(sharpness(guided, edges), 2),
                         "edge_sharpness_photo": round(sharpness(photo, edges), 2)})
            print(f"camera {name} style {style}: edge sharpness Catmull-Rom+sharpen "
                  f"{rows[-1]['edge_sharpness_catmull_rom']}, guided detail {DEFAULT_DETAIL['camera']:g} "
                  f"{rows[-1]['edge_sharpness_guided']} (photo {rows[-1]['edge_sharpness_photo']})", flush=True)
            if picture_path and name == "astronaut.jpg" and style == styles[0]:
                crop = (slice(120, 300), slice(520, 760))
                tiles = [cv2.resize(img[crop], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
                         for img in (photo, today, guided)]
                write_image(picture_path, np.concatenate(tiles, 1))
    return rows


def words(text: str) -> list:
    return [w for w in (t.strip(".,:;()[]'\"") for t in text.split()) if len(w) >= 2]


def screen_check(desktops, styles, size=(1280, 720)) -> list:
    """The issue's own check, under an X display (Xvfb) of ``size``: each desktop shown full screen,
    ``artem-vr --source screen --output DIR --frames 5 --style S`` at its defaults, then the share of
    the words OCR finds in the desktop that it also finds in the last frame written."""
    import subprocess
    import tempfile
    from collections import Counter

    from artem_vr.images import read_image, write_image

    root = Path(__file__).resolve().parents[1]
    rows = []
    for kind in desktops:
        rgb, _, _ = desktop(kind, size)
        want = Counter(words(ocr(rgb)))
        with tempfile.TemporaryDirectory() as tmp:
            write_image(Path(tmp) / "desk.png", rgb)
            shower = subprocess.Popen([sys.executable, "-m", "helpers.show_picture", str(Path(tmp) / "desk.png")],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root / "tests")
            try:
                shower.stdout.readline()
                for style in styles:
                    out = Path(tmp) / f"o{style}"
                    proc = subprocess.run([sys.executable, "-m", "artem_vr", "--source", "screen", "--output", str(out),
                                           "--frames", "5", "--style", str(style)], capture_output=True, text=True)
                    if proc.returncode != 0:
                        raise RuntimeError(proc.stderr.strip())
                    got = Counter(words(ocr(read_image(sorted(out.glob("*.png"))[-1]))))
                    share = sum((want & got).values()) / max(1, sum(want.values()))
                    rows.append({"desktop": kind, "style": style, "words_found": round(share, 3),
                                 "source_words": sum(want.values())})
                    print(f"screen check {kind:15s} style {style:2d}: {share:.2f} of the desktop's "
                          f"{sum(want.values())} OCR words", flush=True)
            finally:
                shower.stdin.close()
                shower.wait(10)
    return rows


def main() -> int:
    from artem_vr.cli import parse_size

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--desktops", default="code-dark,document-light,web-light,web-dark")
    p.add_argument("--styles", default=",".join(map(str, STYLES)))
    p.add_argument("--infer", default="320x180,640x360")
    p.add_argument("--details", default="0,1")
    p.add_argument("--no-plain", action="store_true", help="skip OCR of the plain (Catmull-Rom) pictures")
    p.add_argument("--no-lines", action="store_true", help="skip the line-by-line OCR (the slow part)")
    p.add_argument("--glyphs", action="store_true",
                   help="also the bound: the plain picture with only the source's glyph pixels pasted in")
    p.add_argument("--model", default="auto")
    p.add_argument("--quick", action="store_true", help="only 1280x720 at 320x180 (the goal)")
    p.add_argument("--out", help="write the rows and the summary as JSON")
    p.add_argument("--picture", help="also draw one desktop at detail 0 / default / 1 into this image")
    p.add_argument("--picture-style", type=int, default=3)
    p.add_argument("--camera", action="store_true", help="only the webcam-like photos' edge sharpness")
    p.add_argument("--screen-check", action="store_true",
                   help="only the issue's check under an X display (xvfb-run -s '-screen 0 1280x720x24'): "
                        "each desktop full screen, artem-vr --source screen --output at its defaults, OCR words")
    p.add_argument("--camera-picture", help="with --camera: a 2x crop of photo / today / guided")
    p.add_argument("--guided-radius", type=float,
                   help="with --camera: the guided window's radius (default: the renderer's; 1 on software GL, 2 on a GPU)")
    args = p.parse_args()
    args.sizes = [parse_size(s) for s in args.sizes.split(",")]
    args.infer = [parse_size(s) for s in args.infer.split(",")]
    args.desktops = args.desktops.split(",")
    args.styles = [int(s) for s in args.styles.split(",")]
    args.details = args.details.split(",")
    if args.quick:
        args.sizes, args.infer = [(1280, 720)], [(320, 180)]
    torch_threads = int(os.environ.get("ARTEM_BENCH_THREADS", "2"))
    import torch

    torch.set_num_threads(torch_threads)
    if args.screen_check:
        rows = screen_check(args.desktops, args.styles)
        if args.out:
            Path(args.out).write_text(json.dumps({"screen_check": rows}, indent=1) + "\n")
        return 0
    if args.camera:
        rows = camera_edges(args.model, args.styles[:4], args.camera_picture, args.guided_radius)
        if args.out:
            Path(args.out).write_text(json.dumps({"camera": rows}, indent=1) + "\n")
        return 0
    if args.picture:
        picture(args.picture, args.model, args.picture_style)
        print(f"wrote {args.picture}")
    result = run(args)
    summary = summarise(result)
    print("\n".join(summary["lines"]))
    print(f"goal: {summary['verdict']}")
    if args.out:
        Path(args.out).write_text(json.dumps({**result, "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
