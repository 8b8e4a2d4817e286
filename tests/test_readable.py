"""--detail end to end: its defaults per source, bad values, and the source frame reaching the
compositor as the guide of the upsampling (file output, EGL)."""
import numpy as np
import pytest

from artem_vr.images import read_image, write_image
from artem_vr.live import DEFAULT_DETAIL, build_config, live_parser
from helpers.common import assert_one_line_error, run_cli


def _config(*argv):
    return build_config(live_parser().parse_args(["--output", "o", *argv]))


def test_detail_defaults_follow_the_source_and_an_explicit_value_wins():
    assert _config("--source", "screen").detail == DEFAULT_DETAIL["screen"]
    assert _config("--source", "screen:10,10,200,100").detail == DEFAULT_DETAIL["screen"]
    for source in ("webcam", "demo", "webcam:1"):
        assert _config("--source", source).detail == DEFAULT_DETAIL["camera"]
    assert DEFAULT_DETAIL["camera"] < DEFAULT_DETAIL["screen"] and DEFAULT_DETAIL["camera"] == 0.0
    assert _config("--source", "screen", "--detail", "0").detail == 0.0
    assert _config("--source", "demo", "--detail", "1").detail == 1.0


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_detail_out_of_range_is_one_line(tmp_path, value):
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--detail", value, cwd=tmp_path)
    assert "--detail" in assert_one_line_error(proc)


def _text_page(size=(320, 180)):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (245, 245, 240))
    draw = ImageDraw.Draw(img)
    for i, y in enumerate(range(8, size[1] - 12, 14)):
        draw.text((8, y), f"line {i} the quick brown fox jumps over 13 lazy dogs", fill=(20, 20, 20))
    return np.asarray(img).copy()


def _fine_energy(rgb):
    y = rgb.astype(float) @ [0.299, 0.587, 0.114]
    return float(np.abs(np.diff(y, axis=1)).mean() + np.abs(np.diff(y, axis=0)).mean())


def test_file_output_is_upsampled_guided_by_the_source(tmp_path):
    """An 80x45 inference of a 320x180 page of 11-px text: with --detail 1 the written frame has the
    page's fine structure back (its letters), with --detail 0 far less of it; both keep the style."""
    page = _text_page()
    write_image(tmp_path / "page.png", page)
    outs = {}
    for detail in ("0", "1"):
        out = tmp_path / f"d{detail}"
        proc = run_cli("--output", out, "--source", f"image:{tmp_path / 'page.png'}", "--infer-size", "80x45",
                       "--frames", "1", "--model", "full", "--device", "cpu", "--style", "3", "--detail", detail,
                       "--no-stabilize")
        assert proc.returncode == 0, proc.stderr
        outs[detail] = read_image(sorted(out.glob("*.png"))[0])
        assert outs[detail].shape == page.shape
    page_e, e0, e1 = _fine_energy(page), _fine_energy(outs["0"]), _fine_energy(outs["1"])
    assert e1 > 1.5 * e0 and e1 > 0.5 * page_e
    # the letters are where the page has them: fine structure correlates with the page's
    y_page, y1 = (a.astype(float) @ [0.299, 0.587, 0.114] for a in (page, outs["1"]))
    row_page, row_1 = np.abs(np.diff(y_page, axis=1)), np.abs(np.diff(y1, axis=1))
    assert np.corrcoef(row_page.ravel(), row_1.ravel())[0, 1] > 0.5
    assert np.abs(outs["1"].astype(float) - page).mean() > 20   # not the page itself: still stylized
