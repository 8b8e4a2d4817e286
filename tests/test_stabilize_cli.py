"""The stabiliser as a user meets it: ``--output frames/ --source video:IN`` with and without
``--no-stabilize`` on a photo held still under sensor noise, then a hard cut (issue 19's check)."""
import glob

import numpy as np
import pytest

from helpers.common import ROOT, run_cli
from artem_vr.training.flicker import mean_frame_change, texture_energy


def write_noisy_video(path, size=(128, 96), still=9, after_cut=3):
    import cv2
    from skimage import data

    a = cv2.resize(data.astronaut(), size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(data.coffee(), size, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(5)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, size)
    for i in range(still + after_cut):
        base = a if i < still else b
        frame = np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8)
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return still


def frames_of(folder):
    from PIL import Image

    return [np.asarray(Image.open(f).convert("RGB")) for f in sorted(glob.glob(f"{folder}/*.png"))]


@pytest.mark.parametrize("style", ["3", "13"])
def test_still_noisy_video_holds_still_and_a_cut_shows_at_once(tmp_path, style):
    video = tmp_path / "still.avi"
    cut = write_noisy_video(video)
    runs = {}
    for flag in ("--stabilize", "--no-stabilize"):
        out = tmp_path / flag.strip("-")
        proc = run_cli("--output", out, "--source", f"video:{video}", "--infer-size", "128x96", "--sharpen", "0",
                       "--style", style, flag, timeout=180)
        assert proc.returncode == 0, proc.stderr
        runs[flag] = frames_of(out)
    steady, raw = runs["--stabilize"], runs["--no-stabilize"]
    assert len(steady) == len(raw) == cut + 3
    still_s, still_r = steady[:cut], raw[:cut]
    assert mean_frame_change(still_r) > 0  # the net alone shimmers on noise
    assert mean_frame_change(still_s) <= 0.3 * mean_frame_change(still_r)
    assert texture_energy(still_s) >= 0.9 * texture_energy(still_r)
    # the first frame after the cut is the new scene's own stylization, with no ghost of the old one
    assert np.abs(steady[cut].astype(int) - raw[cut].astype(int)).max() <= 1


def test_stylize_of_a_video_takes_the_same_flag(tmp_path):
    """``artem-vr stylize clip.mp4`` stabilises by default; ``--no-stabilize`` gives the net's raw frames."""
    import cv2
    from skimage import data

    from artem_vr.video import VideoReader, VideoWriter

    a = cv2.resize(data.astronaut(), (128, 96), interpolation=cv2.INTER_AREA)
    b = cv2.resize(data.coffee(), (128, 96), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(9)
    clip = tmp_path / "clip.mp4"
    writer = VideoWriter(clip, (128, 96), rate=10, crf=0)
    for k in range(10):
        base = a if k < 7 else b
        writer.write(np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8), k / 10)
    writer.close()
    got = {}
    for flag in ("--stabilize", "--no-stabilize"):
        out = tmp_path / f"{flag.strip('-')}.mp4"
        proc = run_cli("stylize", clip, "-o", out, "--style", "3", flag, "--crf", "0", timeout=180)
        assert proc.returncode == 0, proc.stderr
        with VideoReader(out) as reader:
            got[flag] = [rgb for rgb, _ in reader]
    steady, raw = got["--stabilize"], got["--no-stabilize"]
    assert len(steady) == len(raw) == 10
    assert mean_frame_change(steady[:7]) <= 0.3 * mean_frame_change(raw[:7])
    assert texture_energy(steady[:7]) >= 0.9 * texture_energy(raw[:7])
    assert np.abs(steady[7].astype(int) - raw[7].astype(int)).mean() < 2  # the cut shows at once
