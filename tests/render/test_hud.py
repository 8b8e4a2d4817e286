"""The HUD reads on any picture, and names in any of Latin, Greek and Cyrillic show as letters,
not boxes (issue 31): contrast measured on pixels read back from a GL framebuffer; glyphs compared
with the font's .notdef box."""
import numpy as np
import pytest

from artem_vr.render.compositor import Compositor
from artem_vr.render.hud import PLATE, PLATE_ALPHA, TEXT, fit_text, hud_image, text_font

NAMES = ["peinture à l'huile", "Ποσειδών", "Кандинский", "Ærø Łódź Straße", "Ёжик Ψυχή"]


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2 relative luminance of sRGB ``(..., 3) uint8``."""
    c = rgb.astype(float) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def _busy(h, w):
    """White paper with black text and bright colour blocks: the hardest background there is."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1))
    draw = ImageDraw.Draw(img)
    for y in range(0, h, 14):
        draw.rectangle([0, y, w, y + 6], fill=(255, 255, 255))
        draw.text((3 * (y % 5), y - 4), "The quick brown fox jumps over the lazy dog 0123456789 " * 3,
                  fill=(0, 0, 0), font=text_font(12))
    return np.asarray(img)


@pytest.mark.parametrize("picture", ["white", "busy", "black"])
def test_hud_text_stands_out_of_its_plate_on_any_picture(gl, picture):
    lines = ["style 25 tapestry   strength 1.0   colour style   stabilize on   detail 0.00",
             "capture     30.0 fps     1.2 ms", "inference   29.1 fps    15.1 ms  cpu 320x180 (auto)",
             "style Кандинский · Ποσειδών · peinture à l'huile"]
    hud = hud_image(lines)
    h, w = hud.shape[:2]
    size = (w + 20, h + 20)
    under = {"white": np.full((size[1], size[0], 3), 255, np.uint8), "black": np.zeros((size[1], size[0], 3), np.uint8),
             "busy": _busy(size[1], size[0])}[picture]
    comp = Compositor(gl)
    comp.upload(under)
    comp.set_hud(hud)
    tex = gl.texture(size, 3)
    fbo = gl.framebuffer(color_attachments=[tex])
    comp.render(fbo, size, flip_y=False, hud=True)
    out = np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(size[1], size[0], 3)[:h, :w]
    fbo.release()
    tex.release()
    comp.release()
    # the HUD's own pixels say which are letter cores and which plain plate (not text, not outline)
    text = (hud[..., :3] == TEXT).all(-1) & (hud[..., 3] == 255)
    plate = (hud[..., :3] == PLATE).all(-1) & (hud[..., 3] == PLATE_ALPHA)
    assert text.sum() > 500 and plate.sum() > 0.5 * h * w
    letters, ground = _luminance(out[text]), _luminance(out[plate])
    darkest_letter, lightest_plate = np.percentile(letters, 1), np.percentile(ground, 99)
    contrast = (darkest_letter + 0.05) / (lightest_plate + 0.05)
    assert contrast >= 7.0, contrast            # WCAG AAA for body text (the old 170/255 plate: 6.0 on white)
    # what is behind barely shows: the plate's pixels stay within 24 grey levels of each other
    spread = np.ptp(out[plate].astype(int).max(-1))
    assert spread <= 24, spread


def _glyph(font, ch: str) -> np.ndarray:
    mask = font.getmask(ch)
    return np.asarray(mask, np.uint8).reshape(mask.size[1], mask.size[0])


def test_latin_greek_and_cyrillic_names_are_letters_not_boxes():
    font = text_font(20)
    notdef = _glyph(font, "\uE000")   # a private-use code point no font maps: the .notdef box
    assert notdef.any()
    for name in NAMES:
        for ch in name.replace(" ", ""):
            glyph = _glyph(font, ch)
            assert glyph.any(), ch
            assert glyph.shape != notdef.shape or not np.array_equal(glyph, notdef), f"{ch!r} of {name!r} is a box"


def test_names_are_cut_to_fit_a_label():
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = text_font(13)
    cut = fit_text(draw, "in peinture à l'huile très ancienne.png", font, 120)
    assert cut.endswith("…") and draw.textlength(cut, font=font) <= 120
    assert fit_text(draw, "Ποσειδών", font, 120) == "Ποσειδών"


def test_styles_sheet_labels_a_painting_in_our_font():
    """``styles --sheet`` with a painting named in Greek: its label is drawn in our font (letters)."""
    from PIL import Image, ImageDraw

    from artem_vr.sheet import contact_sheet

    class Engine:  # no net: every style returns the photo as it is
        styles = []

        def for_style(self, style):
            return self

        def stylize(self, image, style=None):
            return image

    photo = np.full((96, 128, 3), 90, np.uint8)
    name = "Ποσειδών.png"
    sheet = contact_sheet(Engine(), photo, tile=128, columns=2, progress=False,
                          paintings=[(name, np.full((50, 50, 3), 200, np.uint8), None)])
    pad, label = 8, 22
    th, tw = 96, 128
    y = pad + 1 * (th + label + pad)          # the paintings' row (the photo alone fills row 0)
    strip = sheet[y:y + label, pad:pad + tw]
    expected = Image.new("RGB", (tw, label), (24, 24, 28))
    ImageDraw.Draw(expected).text((2, 3), name, fill=(235, 235, 235), font=text_font(13))
    assert np.array_equal(strip, np.asarray(expected))


@pytest.mark.skipif(not __import__("os").environ.get("DISPLAY") or not __import__("shutil").which("xprop"),
                    reason="needs an X display (Xvfb) and xprop")
def test_window_title_carries_names_outside_ascii_as_written():
    """The title bar is drawn by the window manager in its own font; what we hand it must be the
    name itself, in UTF-8 (_NET_WM_NAME) and in the legacy WM_NAME. A window of its own process."""
    import subprocess
    import sys

    title = "artem-vr - style peinture à l'huile.png - Ποσειδών - Кандинский - 12.0 fps"
    code = ("import glfw, subprocess, sys, time\n"
            "from artem_vr.render.window import WindowSink\n"
            "from artem_vr.controls import Controls, Settings\n"
            "sink = WindowSink(Controls(Settings(0)), size=(160, 90))\n"
            "sink.open((160, 90))\n"
            "sink.title_info(sys.argv[1].split(' - ', 1)[1])\n"
            "glfw.poll_events(); time.sleep(0.2); glfw.poll_events()\n"
            "wid = subprocess.run(['xdotool', 'search', '--name', '^artem-vr - style'], capture_output=True, text=True).stdout.split()[0]\n"
            "print(subprocess.run(['xprop', '-id', wid, 'WM_NAME', '_NET_WM_NAME'], capture_output=True, text=True).stdout)\n"
            "sink.close()\n")
    out = subprocess.run([sys.executable, "-c", code, title], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    props = dict(line.split(" = ", 1) for line in out.stdout.strip().splitlines())
    assert props["_NET_WM_NAME(UTF8_STRING)"].replace("\\'", "'") == f'"{title}"'
    assert props["WM_NAME(COMPOUND_TEXT)"].replace("\\'", "'") == f'"{title}"'
