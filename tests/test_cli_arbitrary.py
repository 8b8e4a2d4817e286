"""Any painting as a style from the command line: `stylize --style PAINTING`, blends, the live file
mode, and bad style files refused with one line before any model loads."""
import numpy as np
import pytest
from PIL import Image

from artem_vr.images import read_image
from helpers.arbitrary_reference import lite_vector, make_painting, reference_uint8
from helpers.common import assert_one_line_error, psnr, run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from skimage import data

    d = tmp_path_factory.mktemp("arbitrary")
    photo = d / "photo.png"
    Image.fromarray(data.rocket()[60:261, 150:453]).save(photo)  # 303x201: odd, not a multiple of 4
    return {"photo": photo, "a": make_painting(d / "a.png", (180, 140), 3),
            "b": make_painting(d / "b.jpg", (120, 200), 4), "dir": d}


def test_stylize_with_a_painting_equals_the_float_reference(files, tmp_path):
    out = tmp_path / "out.png"
    proc = run_cli("stylize", files["photo"], "--style", files["a"], "-o", out, "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    photo, got = read_image(files["photo"]), read_image(out)
    assert got.shape == photo.shape
    assert psnr(got, reference_uint8(photo, lite_vector(files["a"]))) >= 40


def test_two_painting_blend(files, tmp_path):
    out = tmp_path / "blend.png"
    proc = run_cli("stylize", files["photo"], "--style", f"{files['a']}:0.7,{files['b']}:0.3", "-o", out)
    assert proc.returncode == 0, proc.stderr
    vector = 0.7 * lite_vector(files["a"]) + 0.3 * lite_vector(files["b"])
    got, photo = read_image(out), read_image(files["photo"])
    assert psnr(got, reference_uint8(photo, vector)) >= 40
    assert psnr(got, reference_uint8(photo, lite_vector(files["a"]))) < 40  # really a blend


def test_live_file_mode_with_a_painting(files, tmp_path):
    out = tmp_path / "frames"
    proc = run_cli("--output", out, "--source", f"image:{files['photo']}", "--frames", "2", "--style", files["a"],
                   "--infer-size", "303x201", "--sharpen", "0", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    frames = sorted(out.glob("*.png"))
    assert len(frames) == 2, (frames, proc.stderr)
    ref = reference_uint8(read_image(files["photo"]), lite_vector(files["a"]))
    for frame in frames:
        assert psnr(read_image(frame), ref) >= 35


@pytest.mark.parametrize("make,needle", [
    (lambda d, f: str(d / "missing.png"), "not found"),
    (lambda d, f: (d / "notes.txt").write_text("a note") and str(d / "notes.txt"), "not an image"),
    (lambda d, f: (d / "cut.png").write_bytes(f["a"].read_bytes()[:2000]) and str(d / "cut.png"), "cut.png"),
    (lambda d, f: f"{f['a']}:0.5,3:0.5", "different nets"),
])
def test_bad_style_files_exit_2_before_the_model_loads(files, tmp_path, make, needle):
    spec = make(tmp_path, files)
    env = {"ARTEM_VR_CACHE": str(tmp_path / "cache")}
    proc = run_cli("stylize", files["photo"], "-o", tmp_path / "x.png", "--style", spec, env=env)
    assert needle in assert_one_line_error(proc)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "x.png").exists()  # no model was loaded


def test_bad_style_file_in_live_mode(files, tmp_path):
    cut = tmp_path / "cut.png"
    cut.write_bytes(files["a"].read_bytes()[:2000])
    proc = run_cli("--output", tmp_path / "o", "--source", f"image:{files['photo']}", "--frames", "1",
                   "--style", cut, env={"ARTEM_VR_CACHE": str(tmp_path / "cache")})
    assert "cut.png" in assert_one_line_error(proc)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o").exists()


def test_painting_with_a_built_in_model_is_refused(files, tmp_path):
    proc = run_cli("stylize", files["photo"], "--style", files["a"], "--model", "full", "-o", tmp_path / "x.png")
    assert "--model arbitrary" in assert_one_line_error(proc)
    assert np.asarray(Image.open(files["a"])).size  # the painting is untouched and still readable


def test_styles_sheet_renders_paintings(files, tmp_path):
    """With --model arbitrary only the paintings: the photo, then each painting's thumbnail beside
    the photo in its style (8 columns, so a pair never splits over two rows)."""
    folder = tmp_path / "paintings"
    folder.mkdir()
    for key in ("a", "b"):
        (folder / files[key].name).write_bytes(files[key].read_bytes())
    (folder / "readme.md").write_text("not a painting: skipped by its suffix")
    sheet_path = tmp_path / "sheet.png"
    proc = run_cli("styles", "--sheet", sheet_path, "--style-dir", folder, "--model", "arbitrary", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    sheet = read_image(sheet_path)
    pad, label, tile = 8, 22, 192
    assert sheet.shape[1] == 8 * (tile + pad) + pad and sheet.shape[0] > 2 * (tile + label)
    y = pad + (sheet.shape[0] - pad) // 2 + label  # second row, below its labels
    row = sheet[y + 60:y + 130]  # the middle band: the thumbnail is letterboxed
    thumb_a, styled_a = (row[:, pad + i * (tile + pad):pad + i * (tile + pad) + tile] for i in (0, 1))
    painting = read_image(files["a"])
    assert np.abs(thumb_a.reshape(-1, 3).mean(0) - painting.reshape(-1, 3).mean(0)).max() < 25
    assert styled_a.std() > 10 and not np.array_equal(thumb_a, styled_a)
    proc = run_cli("styles", "--style-dir", folder)
    assert "--sheet" in assert_one_line_error(proc)
