"""Files people actually have (issue 21): one named test per kind of fault, each with its own input.

Most tests drive ``artem_vr.stylize`` with a stand-in engine (255 - image), so pixels are exact and the
suite stays fast; the CLI is run where the exit code, stderr or a signal is the point.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from artem_vr.errors import InputError, UsageError
from artem_vr.images import fit_max_size, read_frames, read_image, read_image_alpha
from artem_vr.stylize import Job, check_memory, plan_jobs, run_stylize, stylize_one
from helpers.common import ROOT, assert_one_line_error, run_cli
from helpers.media import InvertEngine, make_av_video


def _stylize(jobs, notes=None, max_size=None):
    lines = []
    failures = run_stylize(InvertEngine(), jobs, 0, 1.0, False, max_size, report=lines.append, notes=notes)
    assert failures == 0
    return lines


RAMP16 = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (40, 1))


def _save_tiff_with_range(path, data, lo, hi):
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[340], info[341] = lo, hi  # SMinSampleValue, SMaxSampleValue
    Image.fromarray(data).save(path, tiffinfo=info)


@pytest.mark.parametrize("kind", ["png_I16", "tif_I16", "tif_I16B", "tif_int32_range", "tif_float01",
                                  "tif_float_range", "png_rgb16", "png_rgba16"])
def test_high_bit_depth_images_map_to_the_right_8bit_picture(tmp_path, kind):
    """Item 1: every sample format Pillow decodes -> v/257 (16-bit), the stated range, or [0,1]."""
    import cv2

    path = tmp_path / f"{kind}.{kind[:3]}"
    want = np.round(RAMP16 / 257.0)
    if kind == "png_I16" or kind == "tif_I16":
        Image.fromarray(RAMP16).save(path)
    elif kind == "tif_I16B":
        Image.frombytes("I;16B", (64, 40), RAMP16.astype(">u2").tobytes()).save(path)
    elif kind == "tif_int32_range":
        _save_tiff_with_range(path, RAMP16.astype(np.int32) * 3, 0, 3 * 65535)
    elif kind == "tif_float01":
        Image.fromarray((RAMP16 / 65535.0).astype(np.float32)).save(path)
    elif kind == "tif_float_range":
        _save_tiff_with_range(path, (RAMP16 / 65535.0 * 1000 - 200).astype(np.float32), -200.0, 800.0)
    else:  # 16-bit colour (+ alpha): Pillow keeps the high byte, within 1 of v/257
        planes = [RAMP16, RAMP16[:, ::-1], np.full_like(RAMP16, 30000)] + ([RAMP16] if "rgba" in kind else [])
        cv2.imwrite(str(path), np.dstack(planes[:3][::-1] + planes[3:]))
    rgb, alpha = read_image_alpha(path)
    assert rgb.shape == (40, 64, 3) and rgb.dtype == np.uint8
    if kind.startswith("png_rgb"):
        got = rgb[..., 0] if alpha is None else np.asarray(Image.open(path).convert("RGBA"))[..., 0]
        assert np.abs(got.astype(int) - want).max() <= 1
        assert np.abs(np.asarray(Image.open(path).convert("RGBA"))[..., 1].astype(int) - want[:, ::-1]).max() <= 1
        if "rgba" in kind:
            assert np.abs(alpha.astype(int) - want).max() <= 1
        return
    assert alpha is None and np.array_equal(rgb[..., 0], rgb[..., 2])
    assert np.abs(rgb[..., 0].astype(int) - want).max() <= 1, rgb[0, ::8, 0]


def test_high_bit_depth_through_stylize_and_image_source_at_strength_0(tmp_path):
    """Items 1 and 10: a 16-bit PNG at --strength 0 comes back as itself (not white), in ``stylize``
    and through ``--output --source image:`` (which gives exactly one frame)."""
    src = tmp_path / "gray16.png"
    Image.fromarray(np.tile(np.linspace(0, 65535, 320).astype(np.uint16), (200, 1))).save(src)
    want = np.round(np.linspace(0, 65535, 320) / 257.0)
    proc = run_cli("stylize", src, "-o", tmp_path / "out.png", "--strength", "0", "--model", "fast")
    assert proc.returncode == 0, proc.stderr
    got = read_image(tmp_path / "out.png")
    assert np.abs(got[100, :, 1].astype(int) - want).max() <= 2
    proc = run_cli("--output", tmp_path / "frames", "--source", f"image:{src}", "--strength", "0", "--model", "fast",
                   "--infer-size", "320x200")
    assert proc.returncode == 0, proc.stderr
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert len(frames) == 1
    assert np.abs(read_image(frames[0])[100, 8:-8, 1].astype(int) - want[8:-8]).mean() < 4


def _rgba_disc(mode="RGBA"):
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w]
    alpha = np.where((x - 32) ** 2 + (y - 24) ** 2 < 18 ** 2, 255, 0).astype(np.uint8)
    alpha[:, :4] = 128  # a half-transparent edge
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[...] = (200, 30, 30)
    if mode == "LA":
        return Image.fromarray(np.dstack([rgb[..., 0], alpha]), "LA"), alpha
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), alpha


def test_alpha_is_kept_in_png_webp_tiff_and_flattened_once_for_jpeg(tmp_path):
    """Item 2: the input's alpha comes back in PNG/WebP/TIFF; JPEG output flattens and says so once."""
    rgba, alpha = _rgba_disc()
    la, _ = _rgba_disc("LA")
    rgba.save(tmp_path / "logo.png")
    la.save(tmp_path / "grey.png")
    jobs = [Job(tmp_path / "logo.png", tmp_path / f"out/logo.{ext}", "image") for ext in ("png", "webp", "tif")]
    jobs.append(Job(tmp_path / "grey.png", tmp_path / "out/grey.png", "image"))
    jobs += [Job(tmp_path / n, tmp_path / f"out/{n}.jpg", "image") for n in ("logo.png", "grey.png")]
    notes = []
    _stylize(jobs, notes)
    for ext in ("png", "webp", "tif"):
        got = np.asarray(Image.open(tmp_path / f"out/logo.{ext}").convert("RGBA"))
        assert np.array_equal(got[..., 3], alpha), ext
    grey = np.asarray(Image.open(tmp_path / "out/grey.png").convert("RGBA"))
    assert np.array_equal(grey[..., 3], alpha)
    jpg = Image.open(tmp_path / "out/logo.png.jpg")
    assert jpg.mode == "RGB"
    # outside the disc the input is transparent: put on white, then inverted by the stand-in engine
    assert np.asarray(jpg)[2:8, 40:60].mean() < 20
    assert sum("transparency" in n for n in notes) == 1


def test_max_size_keeps_the_aspect_of_thin_pictures():
    """Item 3: a 5000x40 strip under --max-size 800 keeps its aspect: 4000x32, and one line says why."""
    notes = []
    strip = np.zeros((40, 5000, 3), np.uint8)
    out = fit_max_size(strip, 800, notes)
    assert out.shape == (32, 4000, 3)
    assert len(notes) == 1 and "32 px" in notes[0]
    assert fit_max_size(np.zeros((600, 900, 3), np.uint8), 300).shape == (200, 300, 3)
    assert fit_max_size(np.zeros((20, 5000, 3), np.uint8), 800).shape == (20, 5000, 3)  # cannot shrink at all


def test_big_image_is_refused_in_one_line_under_a_memory_limit(tmp_path, monkeypatch, capsys):
    """Item 4: a 24 MP photo under ``ulimit -v 8000000`` is refused with a --max-size hint (exit 2), and
    an allocation failure inside the runtime is one line too."""
    import resource

    big = tmp_path / "dslr.jpg"
    Image.new("RGB", (6000, 4000), (90, 140, 200)).save(big, quality=80)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (8_000_000 * 1024, 8_000_000 * 1024))

    proc = subprocess.run([sys.executable, "-m", "artem_vr", "stylize", str(big), "-o", str(tmp_path / "o.png")],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit)
    line = assert_one_line_error(proc)
    assert "--max-size" in line and "memory" in line
    assert not (tmp_path / "o.png").exists()

    class Exhausted(InvertEngine):
        def stylize(self, image, *args):
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    with pytest.raises(InputError, match="not enough memory.*--max-size"):
        stylize_one(Exhausted(), np.zeros((64, 64, 3), np.uint8), 0, 1.0, False)
    check_memory(64, 64)  # small jobs pass
    from artem_vr import cli

    def live_run_out_of_memory(argv):  # e.g. the live worker at a huge --infer-size
        raise RuntimeError("Failed to allocate memory for requested buffer of size 1968128512")

    monkeypatch.setattr(cli, "dispatch", live_run_out_of_memory)
    assert cli.main(["--output", "x.mp4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of memory" in err[0]


def _anim_frames(n=6, size=(40, 32)):
    frames = []
    for k in range(n):
        a = np.full((size[1], size[0], 3), 40, np.uint8)
        a[8:24, 5 * k:5 * k + 10] = 255
        frames.append(Image.fromarray(a))
    return frames


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".png"])
def test_animated_images_keep_every_frame_and_delay(tmp_path, suffix):
    """Item 5: animated GIF, WebP and APNG come out with all frames and their delays, as the same kind
    of file (-o anim.gif is a file, not a folder) or, for a video name, a video with those times."""
    frames = _anim_frames()
    delays = [80, 80, 200, 80, 300, 120]
    src = tmp_path / f"anim{suffix}"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=delays, loop=0)
    jobs = plan_jobs([str(src)], str(tmp_path / f"out{suffix}"))
    assert jobs[0].kind == "animation"
    _stylize(jobs)
    out = tmp_path / f"out{suffix}"
    assert out.is_file()
    got = list(read_frames(out))
    assert len(got) == 6 and [round(d) for _, _, d in got] == delays
    src_frames = [rgb for rgb, _, _ in read_frames(src)]
    assert np.abs(got[3][0].astype(int) - (255 - src_frames[3])).mean() < 12  # the right frame, stylized
    if suffix == ".gif":
        from helpers.media import video_streams

        _stylize(plan_jobs([str(src)], str(tmp_path / "anim.mp4")))
        info = video_streams(tmp_path / "anim.mp4")
        assert info["frames"] == 6
        assert np.allclose(info["times"], np.cumsum([0] + delays[:-1]) / 1000.0, atol=0.002)


def test_same_stem_inputs_get_distinct_outputs_and_reruns_skip_results(tmp_path):
    """Item 6: shot.jpg/shot.png and clip.mp4/clip.mov no longer overwrite each other; a second run on
    the folder skips the first run's results and says which files it skipped."""
    folder = tmp_path / "batch"
    folder.mkdir()
    Image.new("RGB", (64, 48), (220, 0, 0)).save(folder / "shot.jpg")
    Image.new("RGB", (64, 48), (0, 0, 220)).save(folder / "shot.png")
    make_av_video(folder / "clip.mp4", [0, 0.04, 0.08], size=(64, 48))
    make_av_video(folder / "clip.mov", [0, 0.04], size=(64, 48))
    (folder / "notes.txt").write_text("not media")
    notes = []
    jobs = plan_jobs([str(folder)], None, notes)
    dsts = [j.dst for j in jobs]
    assert len(set(dsts)) == 4
    lines = _stylize(jobs)
    for line in lines:  # every '->' line names a file that exists
        assert os.path.exists(line.split(" -> ")[1].split(" (")[0]), line
    red = read_image(folder / "shot_jpg_styled.png")
    blue = read_image(folder / "shot_png_styled.png")
    assert red[..., 1:].mean() > 200 and blue[..., :2].mean() > 200  # inverted red and blue, not one twice
    from helpers.media import video_streams

    assert video_streams(folder / "clip_mp4_styled.mp4")["frames"] == 3
    assert video_streams(folder / "clip_mov_styled.mp4")["frames"] == 2
    notes2 = []
    again = plan_jobs([str(folder)], None, notes2)
    assert sorted(j.src.name for j in again) == ["clip.mov", "clip.mp4", "shot.jpg", "shot.png"]
    assert len(notes2) == 1 and "4 earlier" not in notes2[0]
    assert all(d.name in notes2[0] for d in dsts) and "notes.txt" in notes2[0]


def test_unknown_output_suffix_is_refused_without_making_a_folder(tmp_path):
    """Item 7: ``-o out.jgp`` is one line, exit 2, and creates nothing."""
    src = tmp_path / "photo.png"
    Image.new("RGB", (64, 48)).save(src)
    with pytest.raises(UsageError, match="unknown suffix"):
        plan_jobs([str(src)], str(tmp_path / "out.jgp"))
    line = assert_one_line_error(run_cli("stylize", src, "-o", tmp_path / "out.jgp"))
    assert ".jgp" in line and not (tmp_path / "out.jgp").exists()
    # a folder whose name has a dot is asked for with a trailing slash
    assert plan_jobs([str(src)], f"{tmp_path / 'out.v2'}/")[0].dst == tmp_path / "out.v2" / "photo_styled.png"


def test_live_output_refuses_to_overwrite_its_own_source(tmp_path):
    """Item 8: ``--output clip.mp4 --source video:clip.mp4``, also through a symlink or a hard link."""
    from artem_vr.capture.media import VideoSource
    from artem_vr.render.file import FileSink

    clip = make_av_video(tmp_path / "clip.mp4", [0, 0.04], size=(64, 48))
    before = clip.read_bytes()
    (tmp_path / "link.mp4").symlink_to(clip)
    os.link(clip, tmp_path / "hard.mp4")
    source = VideoSource(clip, loop=False)
    for out in (clip, tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "sub" / ".." / "clip.mp4"):
        with pytest.raises(UsageError, match="source video itself"):
            FileSink(out, media=source)
    line = assert_one_line_error(run_cli("--output", tmp_path / "link.mp4", "--source", f"video:{clip}"))
    assert "itself" in line and clip.read_bytes() == before


def test_interrupted_stylize_leaves_no_partial_file(tmp_path):
    """Item 9: SIGTERM while a video is written: exit 143, nothing under the final name, no temp file."""
    clip = make_av_video(tmp_path / "clip.mp4", [k / 25 for k in range(400)], size=(320, 180))
    out = tmp_path / "out" / "styled.mp4"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "artem_vr", "stylize", str(clip), "-o", str(out), "--model", "fast"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "out").glob(".*partial*")):
        time.sleep(0.05)
    assert list((tmp_path / "out").glob(".*partial*")), "no temporary file appeared"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []


def test_a_signal_while_the_video_writer_sets_up_leaves_no_temporary_file(tmp_path, monkeypatch):
    """SIGTERM (raised as Terminated) can land after the container file exists (start_encoding
    wrote its header) but before the caller holds the writer to abort it: the constructor removes
    the file itself and re-raises. (A CI run once left ``.styled.PID.partial.mp4`` this way.)"""
    import threading

    from artem_vr.errors import Terminated
    from artem_vr.video import VideoWriter

    def interrupted(*args, **kwargs):
        raise Terminated()

    monkeypatch.setattr(threading.Thread, "start", interrupted)
    with pytest.raises(Terminated):
        VideoWriter(tmp_path / "out.mp4", (64, 48))
    assert list(tmp_path.iterdir()) == []


def test_atomic_image_write_is_removed_on_interrupt(tmp_path, monkeypatch):
    """Item 9, images: Ctrl-C during the PNG encode leaves neither a truncated PNG nor a temp file."""
    from PIL import Image as PILImage

    from artem_vr.images import write_image

    def interrupted_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(PILImage.Image, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_unreadable_user_paths_are_one_line(tmp_path, monkeypatch, capsys):
    """Item 11: a folder or file we may not read/enter gives one line and exit 2, never a traceback.
    (Tests run as root, which reads everything, so the permission errors are injected.)"""
    from pathlib import Path

    from artem_vr import cli

    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"x")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(InputError, match="cannot read folder .*locked.*ermission denied"):
        plan_jobs([str(folder)], None)

    def open_denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(args[0]))

    monkeypatch.setattr("PIL.Image.open", open_denied)
    with pytest.raises(InputError, match="permission denied"):
        read_image(folder / "a.png")
    monkeypatch.setattr(cli, "dispatch", lambda argv: open_denied(str(folder / "out.png")))
    assert cli.main(["stylize", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Permission denied" in err[0]


def test_third_party_messages_stay_out_of_stderr(tmp_path):
    """Item 12: OpenCV's camera warnings (and GLFW's) do not leak before our one line."""
    line = assert_one_line_error(run_cli("--source", "webcam:9", "--output", tmp_path / "o.mp4", "--model", "fast"))
    assert "webcam" in line
    broken = tmp_path / "broken.mp4"
    make_av_video(tmp_path / "whole.mp4", [0, 0.04, 0.08], size=(64, 48))
    broken.write_bytes((tmp_path / "whole.mp4").read_bytes()[:600])  # no moov atom
    line = assert_one_line_error(run_cli("stylize", broken, "--model", "fast"))
    assert "broken.mp4" in line


def test_messages_name_the_real_problem(tmp_path, capsys):
    """Item 13: image in/video out, a folder as video source, a float colour TIFF, a command typo."""
    from artem_vr import cli
    from artem_vr.capture import parse_source

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48)).save(photo)
    with pytest.raises(UsageError, match="photo.png is an image but -o .*out.mp4 names a video"):
        plan_jobs([str(photo)], str(tmp_path / "out.mp4"))
    with pytest.raises(InputError, match="is a folder"):
        parse_source(f"video:{tmp_path}", offline=True)
    rgbf = tmp_path / "float.tif"
    import cv2

    cv2.imwrite(str(rgbf), np.zeros((8, 8, 3), np.float32))
    with pytest.raises(InputError, match="floating-point colour"):
        plan_jobs([str(rgbf)], None)
    assert cli.main(["stylise", "photo.png"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'stylize'" in err and len(err.strip().splitlines()) == 1
    from artem_vr.errors import ModelError
    from artem_vr.inference.engine import resolve_model_path

    with pytest.raises(ModelError, match="unknown model 'medium'; use fast, balanced, full"):
        resolve_model_path("medium")
    with pytest.raises(ModelError, match=r"unknown model 'fastt' \(did you mean fast\?\); use fast"):
        resolve_model_path("fastt")
