"""Built-in styles by name: parsing, blends, the file-vs-name rule, and the command line."""
import re

import numpy as np
import pytest

from artem_vr.errors import ArtemError, UsageError
from artem_vr.images import read_image, write_image
from artem_vr.inference.styles import (STYLE_NAMES, check_spec, describe, is_painting_spec, painting_parts, style_label,
                                       style_weights)
from helpers.common import assert_one_line_error, psnr, run_cli


def test_26_distinct_names_that_cannot_be_read_as_anything_else():
    assert len(STYLE_NAMES) == 26 == len(set(STYLE_NAMES))
    for name in STYLE_NAMES:
        assert name.isalpha() and name == name.lower() and 3 <= len(name) <= 12


def test_names_are_the_indices():
    assert np.array_equal(style_weights("starry"), style_weights(19))
    assert np.array_equal(style_weights("Starry "), style_weights(19))
    assert np.array_equal(style_weights("mosaic:0.5,pastel:0.5"), style_weights("15:0.5,0:0.5"))
    assert np.array_equal(style_weights("mosaic:1,3:3"), style_weights("15:0.25,3:0.75"))
    assert np.array_equal(style_weights({"delft": 2, 3: 2}), style_weights("24:0.5,3:0.5"))
    assert np.array_equal(style_weights([(3, 0.5), ("pastel", 0.5)]), style_weights("3:0.5,0:0.5"))
    assert describe(style_weights("mosaic:0.5,pastel:0.5")) == "pastel:0.50,mosaic:0.50"
    assert style_label(19) == style_label("starry") == "19 starry"


def test_a_mistyped_name_suggests_the_right_one():
    with pytest.raises(UsageError, match="did you mean 'starry'"):
        style_weights("stary")


def test_a_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "starry").write_bytes(b"x")
    assert not is_painting_spec("starry") and not is_painting_spec("starry:0.5,mosaic:0.5")
    assert is_painting_spec("./starry") and painting_parts("./starry") == [("./starry", 1.0)]
    assert is_painting_spec("starry.jpg")


def test_styles_lists_26_names():
    proc = run_cli("styles", "--model", "full")
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[1] for line in proc.stdout.splitlines()[1:27]]
    assert proc.stdout.startswith("26 styles")
    assert listed == list(STYLE_NAMES)


def test_stylize_and_live_take_names(tmp_path, full_engine):
    photo = read_image(__import__("artem_vr.resources", fromlist=["x"]).assets_dir() / "rocket.jpg")[::4, ::4]
    photo = np.ascontiguousarray(photo[: photo.shape[0] // 4 * 4, : photo.shape[1] // 4 * 4])
    write_image(tmp_path / "p.png", photo)
    proc = run_cli("stylize", tmp_path / "p.png", "-o", tmp_path / "s.png", "--style", "mosaic:0.5,pastel:0.5",
                   "--model", "full", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert psnr(read_image(tmp_path / "s.png"), full_engine.stylize(photo, "15:0.5,0:0.5")) > 40
    h, w = photo.shape[:2]
    proc = run_cli("--output", tmp_path / "live", "--source", f"image:{tmp_path / 'p.png'}", "--frames", "1",
                   "--style", "starry", "--model", "full", "--device", "cpu", "--infer-size", f"{w}x{h}",
                   "--no-stabilize", "--detail", "0")
    assert proc.returncode == 0, proc.stderr
    live = read_image(next((tmp_path / "live").glob("*.png")))
    assert psnr(live, full_engine.stylize(photo, 19)) > psnr(live, full_engine.stylize(photo, 3)) + 3
    assert "starry" in assert_one_line_error(run_cli("--output", tmp_path / "o.mp4", "--style", "stary"))


def test_each_part_of_a_blend_gets_its_own_diagnosis(tmp_path, monkeypatch):
    """A typo inside a blend is named as a typo, a bad weight as a bad weight, a missing painting as
    missing: what each part would get alone, not "blends built-in styles with paintings"."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "a.png", np.full((40, 40, 3), 90, np.uint8))
    cases = {
        "mosaic:0.5,pastle:0.5": "did you mean 'pastel'",
        "mosiac:0.5,pastel:0.5": "did you mean 'mosaic'",
        "mosaic:0.5,strary": "did you mean 'starry'",
        "mosaic:abc": "weight 'abc' is not a number",
        "a.png:x": "weight 'x' is not a number",
        "mosaic:0.5,pastel:": "no weight after 'pastel:'",
        "mosaic:0.5:0.5": "two weights",
        "mosaic pastel": "separate the parts of a blend with commas",
        "mosaic:-1,pastel": "weight -1 of 'mosaic'",
        "a.png:0.5,b.png:0.5": "file not found: b.png",
        "mosaic:0.5,b.png:0.5": "file not found: b.png",
        "starry.jpg": "the built-in style is --style starry",
        "mosaic:0.5,-3": "style index must be a whole number from 0 to 25, got -3",
        "25.5": "whole number",
    }
    for spec, message in cases.items():
        with pytest.raises(ArtemError, match=re.escape(message)):
            check_spec(spec)
        assert "different nets" not in str(pytest.raises(ArtemError, check_spec, spec).value)
    with pytest.raises(UsageError, match="different nets"):  # only sound parts are refused for the mix
        check_spec("mosaic:0.5,a.png:0.5")
    assert check_spec(r"mosaic:1,3:3") == [("mosaic", 1.0, True), ("3", 3.0, True)]
    line = assert_one_line_error(run_cli("stylize", "a.png", "--style", "mosaic:0.5,pastle:0.5", "--model", "fast",
                                         cwd=tmp_path))
    assert "did you mean 'pastel'" in line
    line = assert_one_line_error(run_cli("--output", "o.mp4", "--style", "mosaic:abc", cwd=tmp_path))
    assert "weight 'abc' is not a number" in line
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "a_styled.png").exists()
