"""Video in, video out (issue 22): one named test per kind, inputs made with PyAV (no ffmpeg binary)."""
import json
import time

import numpy as np
import pytest

from artem_vr.errors import InputError
from artem_vr.stylize import classify, plan_jobs, run_stylize
from artem_vr.video import VideoReader, VideoWriter
from helpers.common import assert_one_line_error, run_cli
from helpers.media import InvertEngine, frame_at, make_av_video, video_streams

VFR_TIMES = [k * 0.04 for k in range(12)] + [0.44 + k * 0.2 for k in range(1, 6)]  # 40 ms, then 200 ms apart


def _stylize(jobs, notes=None):
    lines = []
    assert run_stylize(InvertEngine(), jobs, 0, 1.0, False, None, report=lines.append, notes=notes) == 0
    return lines


@pytest.mark.parametrize("suffix,codec", [(".mp4", "h264"), (".mkv", "h264"), (".mov", "h264"), (".avi", "h264"),
                                          (".webm", "vp9")])
def test_output_is_h264_in_the_container_named(tmp_path, suffix, codec):
    """Item 1: H.264 (VP9 in .webm) in the container the user names, yuv420p at even sizes."""
    out = tmp_path / f"o{suffix}"
    writer = VideoWriter(out, (96, 64), rate=25)
    for k in range(5):
        writer.write(frame_at(k), k / 25)
    writer.close()
    info = video_streams(out)
    assert info["video"] == (codec, 96, 64, "yuv420p") and info["frames"] == 5
    with VideoReader(out) as reader:
        got = [rgb for rgb, _ in reader]
    assert np.abs(got[3].astype(int) - frame_at(3)).mean() < 6  # the right picture, colours kept (BT.709 both ways)


def test_odd_sizes_are_written_exactly_and_reported_as_written(tmp_path):
    """Item 2: 97x65 in, 97x65 out (yuv444p), in ``stylize`` and in live ``--output`` whose --stats
    output_size is what the file holds."""
    src = make_av_video(tmp_path / "odd.mp4", [k / 25 for k in range(4)], size=(97, 65))
    lines = _stylize(plan_jobs([str(src)], str(tmp_path / "styled.mp4")))
    assert video_streams(tmp_path / "styled.mp4")["video"] == ("h264", 97, 65, "yuv444p")
    assert "(97x65, 4 frames)" in lines[0]
    stats = tmp_path / "s.json"
    proc = run_cli("--output", tmp_path / "live.mp4", "--source", f"video:{src}", "--model", "fast", "--stats", stats)
    assert proc.returncode == 0, proc.stderr
    assert video_streams(tmp_path / "live.mp4")["video"][1:3] == (97, 65)
    assert json.loads(stats.read_text())["output_size"] == [97, 65]


def test_audio_is_copied_or_one_line_says_it_was_not(tmp_path):
    """Item 3: the input's audio (AAC in .mp4, MP2 in .mpg) is remuxed into .mp4/.mkv outputs, cut at
    the video's end; .webm cannot hold AAC: a note says it was not copied."""
    src = make_av_video(tmp_path / "talk.mp4", [k / 25 for k in range(10)], audio="aac")
    mpg = make_av_video(tmp_path / "old.mpg", [k / 25 for k in range(10)], codec="mpeg2video", fmt="mpeg", audio="mp2")
    notes = []
    jobs = plan_jobs([str(src)], str(tmp_path / "a.mp4")) + plan_jobs([str(src)], str(tmp_path / "a.mkv")) \
        + plan_jobs([str(mpg)], str(tmp_path / "b.mkv")) + plan_jobs([str(src)], str(tmp_path / "a.webm"))
    _stylize(jobs, notes)
    assert video_streams(tmp_path / "a.mp4")["audio"] == "aac"
    assert video_streams(tmp_path / "a.mkv")["audio"] == "aac"
    assert video_streams(tmp_path / "b.mkv")["audio"] == "mp2"
    assert video_streams(tmp_path / "a.webm")["audio"] is None
    assert notes == ["audio not copied: .webm cannot hold aac audio without re-encoding; use .mkv or .mp4 to keep it"]
    import av

    with av.open(str(tmp_path / "a.mp4")) as c:
        a = c.streams.audio[0]
        end = max(float((p.pts + p.duration) * a.time_base) for p in c.demux(a) if p.pts is not None)
    assert abs(end - 0.4) < 0.07  # 10 frames at 25 fps (the tone was longer), within 3 AAC packets


def test_variable_frame_rate_keeps_each_frame_time(tmp_path):
    """Item 4: 40 ms then 200 ms gaps come out with the same frame times, in ``stylize``."""
    src = make_av_video(tmp_path / "vfr.mp4", VFR_TIMES)
    _stylize(plan_jobs([str(src)], str(tmp_path / "out.mp4")))
    got = video_streams(tmp_path / "out.mp4")["times"]
    assert np.allclose(got, VFR_TIMES, atol=0.002)


def test_live_output_from_a_video_keeps_times_and_audio(tmp_path):
    """Items 3 and 4 in live ``--output --source video:`` (and --frames cuts the audio with the video)."""
    src = make_av_video(tmp_path / "vfr.mp4", VFR_TIMES, audio="aac")
    proc = run_cli("--output", tmp_path / "live.mkv", "--source", f"video:{src}", "--model", "fast")
    assert proc.returncode == 0, proc.stderr
    info = video_streams(tmp_path / "live.mkv")
    assert info["audio"] == "aac" and np.allclose(info["times"], VFR_TIMES, atol=0.002)


def test_live_recording_lasts_as_long_as_it_ran(tmp_path, full_engine):
    """Item 5: a live source recorded while inference is slow (about 4 fps here) gives a video as long
    as the recording (not frames stamped at 30 fps)."""
    from artem_vr.capture.base import Source
    from artem_vr.controls import Controls, Settings
    from artem_vr.pipeline import LivePipeline
    from artem_vr.render.file import FileSink

    class Camera(Source):  # a live feed: paced, not on demand
        name, rate = "camera", 30.0

        def __init__(self):
            self.k = 0

        def read(self):
            self.k += 1
            return frame_at(self.k, (128, 96)), "rgb"

    class Slow:
        def __init__(self, engine):
            self.engine, self.device, self.num_styles, self.name = engine, engine.device, 26, "slow"

        def weights(self, style):
            return self.engine.weights(style)

        def stylize_tensor(self, *args, **kwargs):
            time.sleep(0.25)
            return self.engine.stylize_tensor(*args, **kwargs)

    controls = Controls(Settings(0))
    out = tmp_path / "rec.mp4"
    pipe = LivePipeline(Camera(), Slow(full_engine), FileSink(out), controls, (128, 96))
    timer = __import__("threading").Timer(2.5, controls.quit.set)
    t0 = time.perf_counter()
    timer.start()
    stats = pipe.run()
    ran = time.perf_counter() - t0
    info = video_streams(out)
    import av

    with av.open(str(out)) as c:
        duration = float(c.duration / 1e6)
    assert 4 <= info["frames"] <= 14, info["frames"]
    assert abs(duration - ran) < 0.5, (duration, ran, stats["fps"])


@pytest.mark.parametrize("name,codec,fmt", [("clip.ts", "libx264", "mpegts"), ("clip.mpg", "mpeg2video", "mpeg"),
                                            ("clip.flv", "flv", "flv"), ("recording.dat", "libx264", "matroska")])
def test_containers_are_judged_by_content_not_suffix(tmp_path, name, codec, fmt):
    """Item 6: whatever has a video stream is a video (.ts, .mpg, .flv, even a .dat), in a file run and a
    folder run; an audio-only file is "no video stream", named in the folder run's skipped list."""
    src = make_av_video(tmp_path / name, [k / 25 for k in range(12)], codec=codec, fmt=fmt,
                        pix_fmt="yuv420p" if codec == "flv" else None)
    assert classify(src) == "video"
    _stylize(plan_jobs([str(src)], str(tmp_path / "out.mp4")))
    assert video_streams(tmp_path / "out.mp4")["frames"] == 12


def test_audio_only_file_says_no_video_stream(tmp_path):
    import av

    song = tmp_path / "song.m4a"
    with av.open(str(song), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(InputError, match="song.m4a has no video stream"):
        classify(song)
    line = assert_one_line_error(run_cli("stylize", song))
    assert "no video stream" in line
    make_av_video(tmp_path / "clip.ts", [k / 25 for k in range(12)], fmt="mpegts")
    notes = []
    jobs = plan_jobs([str(tmp_path)], None, notes)
    assert [j.src.name for j in jobs] == ["clip.ts"]
    assert "song.m4a (no video stream)" in notes[0]


def test_file_render_runs_at_the_inference_rate(tmp_path, full_engine):
    """Item 7: lock-step hand-offs cost no waiting: with inference taking 20 ms a frame (slept, so the
    machine's load does not matter), a 40-frame --output render runs near 50 fps, not at the ~10 fps
    that a hand-off waking only at its 0.1 s poll gave."""
    from artem_vr.capture.base import Source
    from artem_vr.controls import Controls, Settings
    from artem_vr.pipeline import LivePipeline
    from artem_vr.render.file import FileSink

    class Clip(Source):  # a file: frames on demand, 40 of them
        name, rate, on_demand = "clip", 25.0, True

        def __init__(self):
            self.k = 0

        def read(self):
            self.k += 1
            return (frame_at(self.k, (128, 96)), "rgb") if self.k <= 40 else None

    class Timed:
        def __init__(self, engine):
            self.engine, self.device, self.num_styles, self.name = engine, engine.device, 26, "timed"

        def weights(self, style):
            return self.engine.weights(style)

        def stylize_tensor(self, x, *args, **kwargs):
            time.sleep(0.02)
            return x

    pipe = LivePipeline(Clip(), Timed(full_engine), FileSink(tmp_path / "o.mp4"), Controls(Settings(0)), (128, 96),
                        lockstep=True)
    stats = pipe.run()
    assert stats["frames_presented"] == 40 and stats["frames_dropped"] == 0
    assert stats["fps"]["present"] > 25, stats["fps"]


def test_missing_encoder_or_unwritable_place_is_one_line(tmp_path, monkeypatch):
    """Requirements: a codec this FFmpeg lacks, or a place that cannot hold the file: an InputError
    (one line, exit 2 in the CLI), and no file or temporary file left behind."""
    import artem_vr.video as video

    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(InputError, match="cannot write"):
        VideoWriter(blocker / "out.mp4", (64, 48))
    monkeypatch.setitem(video.CONTAINERS, ".mp4", ("mp4", "libnotacodec"))
    with pytest.raises(InputError, match="no libnotacodec encoder"):
        VideoWriter(tmp_path / "out.mp4", (64, 48))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_recording_stopped_with_ctrl_c_is_kept_whole(tmp_path):
    """Item 5 / issue 21 item 9: Ctrl-C is how a recording ends; the file is finished (playable, under
    its final name) and no temporary file is left. (``stylize`` instead removes an unfinished output.)"""
    import os
    import signal
    import subprocess
    import sys

    from helpers.common import ROOT

    out = tmp_path / "rec.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "artem_vr", "--output", str(out), "--source", "demo",
                             "--model", "fast", "--size", "160x96"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    deadline = time.time() + 60
    partial = []
    while time.time() < deadline and not (partial and partial[0].stat().st_size > 2000):
        time.sleep(0.05)  # until encoded frames (not just the header) are in its temporary file
        partial = list(tmp_path.glob(".rec*partial*"))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["rec.mp4"]
    assert video_streams(out)["frames"] >= 2
