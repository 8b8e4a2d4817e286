"""artem-vr through OpenXR against a real runtime: Monado's simulated headset (see conftest.py).

Each test runs the whole ``artem-vr`` command line, as a user would, with ``--vr-api openxr``.
``ARTEM_VR_OPENXR_TRACE`` makes the sink write its session states and frames as JSON lines and
``ARTEM_VR_OPENXR_DUMP`` saves one frame's eye images as read back before release; the
runtime's own output is read from its compositor window on Xvfb (left eye | right eye).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.openxr_monado import WINDOW, screenshot
from helpers.openxr_monado import wait_for as _wait

ARGS = ["--vr-api", "openxr", "--model", "fast", "--infer-size", "320x180", "--no-stabilize"]
STATES_START = ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    """A picture of four coloured blocks and a grey ramp, 640x360, and its stylized reference as
    ``artem-vr --output`` makes it (the same net, size and settings as the headset runs)."""
    folder = tmp_path_factory.mktemp("openxr-picture")
    h, w = 360, 640
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:h // 2, :w // 2] = (200, 40, 40)
    rgb[:h // 2, w // 2:] = (40, 180, 60)
    rgb[h // 2:, :w // 2] = (50, 70, 200)
    rgb[h // 2:, w // 2:] = (230, 210, 60)
    rgb[h // 2 - 20:h // 2 + 20] = np.linspace(0, 255, w)[None, :, None].astype(np.uint8)
    path = folder / "blocks.png"
    Image.fromarray(rgb).save(path)
    proc = cli("--source", f"image:{path}", "--output", folder / "ref", "--frames", "1", *ARGS[2:], env={})
    assert proc.returncode == 0, proc.stderr
    reference = np.asarray(Image.open(folder / "ref" / "frame_000000.png").convert("RGB"))
    return path, reference


def cli(*args, env, timeout=180):
    return subprocess.run([sys.executable, "-m", "artem_vr", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})


@contextmanager
def cli_running(*args, env):
    """``artem-vr ARGS`` started in the background; killed on the way out if the test left it running."""
    proc = subprocess.Popen([sys.executable, "-m", "artem_vr", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def trace(path: Path) -> list:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def frames(records: list) -> list:
    return [r for r in records if r["event"] == "frame"]


def states(records: list) -> list:
    return [r["state"] for r in records if r["event"] == "state"]


def small(rgb: np.ndarray, size=(64, 36)) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR), dtype=np.float64)


def picture_rect(rgb: np.ndarray, floor: int = 12):
    """``(x0, y0, x1, y1)`` of what is brighter than the black around it."""
    mask = rgb.max(axis=2) > floor
    ys, xs = np.nonzero(mask)
    assert len(xs), "nothing drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def find_in_window(half: np.ndarray, reference: np.ndarray):
    """Where the middle of ``reference`` shows in one half of the runtime's window, whose lens
    correction bends and crops the eye image: ``(correlation, mean abs difference, colour shift)``
    of the best match of the reference's central 40% over a few scales (cv2.matchTemplate)."""
    import cv2

    x0, y0, x1, y1 = picture_rect(half)
    blurred = cv2.GaussianBlur(half, (0, 0), 1.5)  # the lens correction resamples: compare at a coarser scale
    column = half[:, (x0 + x1) // 2].max(axis=1) > 12
    tall = int(column.sum())  # the picture's height at its middle column: the least bent
    h, w = reference.shape[:2]
    best = None
    for scale in np.linspace(0.9, 1.1, 9) * tall / h:
        size = (max(8, int(w * scale)), max(8, int(h * scale)))
        ref = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
        cy, cx, ch, cw = size[1] // 2, size[0] // 2, int(size[1] * 0.2), int(size[0] * 0.2)
        template = cv2.GaussianBlur(ref, (0, 0), 1.5)[cy - ch:cy + ch, cx - cw:cx + cw]
        if template.shape[0] >= half.shape[0] or template.shape[1] >= half.shape[1]:
            continue
        scores = cv2.matchTemplate(blurred, template, cv2.TM_CCOEFF_NORMED)
        _, score, _, (mx, my) = cv2.minMaxLoc(scores)
        if best is None or score > best[0]:
            seen = blurred[my:my + template.shape[0], mx:mx + template.shape[1]].astype(np.float64)
            best = (score, float(np.abs(seen - template).mean()),
                    float(np.abs(seen.mean(axis=(0, 1)) - template.mean(axis=(0, 1))).max()))
    assert best is not None, "the picture is too small to find"
    return best


def crop(rgb, rect):
    x0, y0, x1, y1 = rect
    return rgb[y0:y1, x0:x1]


def shots_while_running(proc, monado, trace_path, count, gap, after_frames=40):
    """``count`` screenshots of the runtime's window ``gap`` s apart, once ``after_frames`` frames
    carried layers; with the head yaw the runtime reported nearest each."""
    _wait(lambda: proc.poll() is not None or sum(1 for f in frames(trace(trace_path)) if f["layers"]) >= after_frames,
          120, "frames with layers")
    assert proc.poll() is None, proc.communicate()[1]
    shots = []
    for k in range(count):
        shots.append((screenshot(monado.env["DISPLAY"]), frames(trace(trace_path))[-1]["head"]))
        Image.fromarray(shots[-1][0]).save(trace_path.parent / f"window{k}.png")  # kept for a failing run
        time.sleep(gap)
    return shots


def test_fill_view_through_the_runtime(monado, picture, tmp_path):
    """States start to clean exit; a projection layer every rendered frame; each eye's image (read back
    before release) and the runtime's composited window both show the stylized picture, right colours;
    head-locked: it stays put in the window while the simulated head moves; --stats: openxr, >= 100 frames."""
    path, reference = picture
    trace_path = tmp_path / "trace.jsonl"
    stats_path = tmp_path / "stats.json"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path), "ARTEM_VR_OPENXR_DUMP": "30"}
    with cli_running("--source", f"image:{path}", "--vr-view", "fill", "--frames", "200", "--stats", stats_path,
                     *ARGS, env=env) as proc:
        shots = shots_while_running(proc, monado, trace_path, count=4, gap=0.6)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    records = trace(trace_path)
    opened = next(r for r in records if r["event"] == "open")
    assert opened["format"] == hex(0x8C43) and opened["space"] in ("STAGE", "LOCAL")
    seq = states(records)
    assert seq[:5] == STATES_START, seq
    assert seq[-1] == "EXITING" and "STOPPING" in seq, seq
    assert any(r["event"] == "request_exit" for r in records)
    rendered = [f for f in frames(records) if f["should_render"]]
    assert len(rendered) >= 150
    assert all(f["layers"] == ["CompositionLayerProjection"] and f["views"] == [2] for f in rendered[1:])

    stats = json.loads(stats_path.read_text())
    assert stats["vr_api"] == "openxr" and stats["sink"] == "vr"
    assert stats["frames_presented"] >= 100 and stats["vr"]["frames_submitted"] >= 100
    assert stats["vr"]["runtime"].startswith("Monado") and stats["vr"]["layer"] == "projection"

    eyes = [np.asarray(Image.open(f"{trace_path}.{side}.png")) for side in ("left", "right")]
    assert eyes[0].shape == eyes[1].shape and eyes[0].shape[1] > 400
    # each eye: the stylized picture letterboxed, as the window sink would show it
    for eye in eyes:
        rect = picture_rect(eye)
        w, h = rect[2] - rect[0], rect[3] - rect[1]
        assert abs(w / h - 16 / 9) < 0.03, rect
        assert np.abs(small(crop(eye, rect)) - small(reference)).mean() < 6.0
    assert np.array_equal(eyes[0], eyes[1])
    # the runtime's composited output: left eye in the left half, right eye in the right half
    for shot, _ in shots:
        for half in (shot[:, :WINDOW[0] // 2], shot[:, WINDOW[0] // 2:]):
            score, mad, shift = find_in_window(half, reference)
            # colours: no second sRGB encode (128 would show as 188)
            assert score > 0.8 and mad < 25 and shift < 6, (score, mad, shift)
    # head-locked: the picture does not move in the window, though the simulated head does
    rects = np.array([picture_rect(shot[:, :WINDOW[0] // 2]) for shot, _ in shots])
    assert np.ptp(rects, axis=0).max() <= 2, rects  # the world-locked screen moves 40-65 px over such a run
    yaws = [head[3] for _, head in shots if head]
    positions = np.array([head[:3] for _, head in shots if head])
    assert np.ptp(yaws) > 0.005 or np.ptp(positions, axis=0).max() > 0.005, "the simulated head did not move"


def test_screen_view_is_world_locked_and_curves(monado, picture, tmp_path):
    """--vr-view screen: a quad layer in STAGE/LOCAL space; it moves in the runtime's window as the
    simulated head moves (left eye's copy further right than the right eye's)."""
    path, reference = picture
    trace_path = tmp_path / "trace.jsonl"
    stats_path = tmp_path / "stats.json"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path), "ARTEM_VR_OPENXR_DUMP": "5"}
    with cli_running("--source", f"image:{path}", "--vr-view", "screen", "--stats", stats_path, *ARGS, env=env) as proc:
        shots = shots_while_running(proc, monado, trace_path, count=6, gap=0.6)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    records = trace(trace_path)
    assert [f["layers"] for f in frames(records) if f["layers"]][-1] == ["CompositionLayerQuad"]
    assert states(records)[-1] == "EXITING"
    screen = np.asarray(Image.open(f"{trace_path}.screen.png"))[:, :, :3]
    assert np.abs(small(screen) - small(reference)).mean() < 6.0
    lefts = [picture_rect(shot[:, :WINDOW[0] // 2]) for shot, _ in shots]
    rights = [picture_rect(shot[:, WINDOW[0] // 2:]) for shot, _ in shots]
    xs = [r[0] for r in lefts]
    assert max(xs) - min(xs) >= 5, lefts  # world-locked: moves against the moving head
    for left, right, (shot, _) in zip(lefts, rights, shots):
        assert right[0] < left[0]  # disparity of a screen 2 m ahead
        score, mad, shift = find_in_window(shot[:, :WINDOW[0] // 2], reference)
        assert score > 0.8 and mad < 25 and shift < 6, (score, mad, shift)


def test_curved_screen_is_a_cylinder_layer(monado, picture, tmp_path):
    path, _ = picture
    trace_path = tmp_path / "trace.jsonl"
    stats_path = tmp_path / "stats.json"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path)}
    with cli_running("--source", f"image:{path}", "--vr-view", "screen", "--vr-curve", "90", "--vr-distance", "1.2",
                     "--frames", "60", "--stats", stats_path, *ARGS, env=env) as proc:
        shot, _ = shots_while_running(proc, monado, trace_path, count=1, gap=0)[0]
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(stats_path.read_text())["vr"]["layer"] == "cylinder"
    assert [f["layers"] for f in frames(trace(trace_path)) if f["layers"]][-1] == ["CompositionLayerCylinderKHR"]
    half = shot[:, :WINDOW[0] // 2]
    x0, y0, x1, y1 = picture_rect(half)
    heights = [(half[:, x].max(axis=1) > 12).sum() for x in (x0 + 3, (x0 + x1) // 2, x1 - 4)]
    assert min(heights[0], heights[2]) > heights[1] + 3, heights  # a curved panel: taller at its edges


def test_sigterm_ends_the_session_properly(monado, picture, tmp_path):
    """--vr-api auto (the default) takes the active OpenXR runtime; SIGTERM: request exit, STOPPING,
    end, EXITING, destroy; exit 143."""
    path, _ = picture
    trace_path = tmp_path / "trace.jsonl"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path)}
    with cli_running("--source", f"image:{path}", *ARGS[2:], env=env) as proc:
        _wait(lambda: proc.poll() is not None or "FOCUSED" in states(trace(trace_path)), 120, "FOCUSED")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    records = trace(trace_path)
    events = [r.get("state", r["event"]) for r in records if r["event"] in ("state", "request_exit",
                                                                            "session_destroyed", "closed")]
    tail = events[events.index("request_exit"):]
    assert tail[-3:] == ["EXITING", "session_destroyed", "closed"] and "STOPPING" in tail, events


def test_no_runtime_running_is_one_line_and_exit_2(xdisplay, picture, tmp_path):
    """Monado configured (active_runtime.json) but its service not running: one line, exit 2, no model load."""
    path, _ = picture
    runtime_dir = tmp_path / "xr"
    runtime_dir.mkdir(mode=0o700)
    proc = cli("--source", f"image:{path}", "--vr-api", "openxr", "--model", "full",
               env={"DISPLAY": xdisplay, "XDG_RUNTIME_DIR": str(runtime_dir), "ARTEM_VR_CACHE": str(tmp_path / "c")},
               timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("artem-vr: error: "), proc.stderr
    assert "not running" in lines[0] and "--window" in lines[0]
    assert not (tmp_path / "c").exists()  # the teacher was never fetched or converted: no model loaded


def test_recentre_places_the_screen_again(monado, picture, tmp_path):
    """The runtime recentres (``monado-ctl -c``: a reference space change): the screen is placed again
    ahead of where the head is now."""
    path, _ = picture
    trace_path = tmp_path / "trace.jsonl"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path)}
    with cli_running("--source", f"image:{path}", "--vr-view", "screen", *ARGS, env=env) as proc:
        _wait(lambda: proc.poll() is not None or any(r["event"] == "placed" for r in trace(trace_path)), 120,
              "the screen placed")
        subprocess.run(["monado-ctl", "-c"], env=monado.env, capture_output=True, timeout=20, check=True)
        _wait(lambda: proc.poll() is not None or sum(r["event"] == "placed" for r in trace(trace_path)) >= 2, 30,
              "the screen placed again")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    events = [r["event"] for r in trace(trace_path) if r["event"] in ("placed", "recentre")]
    assert events[:3] == ["placed", "recentre", "placed"], events


def test_runtime_going_away_ends_the_run_with_one_line(monado, picture, tmp_path):
    """The service quits under a running session (instance lost): the loop ends, our one error line
    comes last, exit 2, no traceback."""
    path, _ = picture
    trace_path = tmp_path / "trace.jsonl"
    env = {**monado.env, "ARTEM_VR_OPENXR_TRACE": str(trace_path)}
    with cli_running("--source", f"image:{path}", *ARGS, env=env) as proc:
        _wait(lambda: proc.poll() is not None or len(frames(trace(trace_path))) >= 10, 120, "frames")
        monado.proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("artem-vr: error: the OpenXR runtime") and "lost" in lines[-1], err
    assert [r["event"] for r in trace(trace_path)][-2:] == ["session_destroyed", "closed"]


def test_a_stop_the_sink_did_not_ask_for_ends_the_loop(monado, monkeypatch):
    """STOPPING that the sink did not request (the runtime's, or its user's): the session is ended and
    ``present`` returns False, so the run ends with exit 0. Monado's tools cannot ask a client to stop
    (monado-ctl recentres, focuses, sets the primary client, toggles input), so the request is made here
    behind the sink's back; the state sequence that follows is the runtime's own."""
    import xr

    from artem_vr.controls import Controls, Settings
    from artem_vr.render.compositor import Compositor
    from artem_vr.render.vr.openxr import OpenXRSink

    for key in ("DISPLAY", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(key, monado.env[key])
    sink = OpenXRSink(Controls(Settings(0)), view="fill")
    sink.prepare()
    ctx = sink.open((64, 36))
    compositor = Compositor(ctx)
    compositor.upload(np.full((36, 64, 3), 128, np.uint8))
    try:
        turns = 0
        while sink.frames_submitted < 5 and turns < 500:
            assert sink.present(compositor)
            turns += 1
        assert sink.frames_submitted == 5 and sink.state == "FOCUSED"
        xr.request_exit_session(sink.session)  # not through the sink: it did not ask
        while turns < 1000 and sink.present(compositor):
            turns += 1
        assert sink.stop_reason == "runtime" and not sink.running
        after = sink.states[sink.states.index("FOCUSED") + 1:]
        assert after[:3] == ["VISIBLE", "SYNCHRONIZED", "STOPPING"], sink.states
    finally:
        compositor.release()
        sink.close()
    assert sink.session is None and sink.instance is None


def test_no_x_display_is_one_line_and_exit_2(monado, picture, tmp_path):
    """The runtime runs but there is no X display for the GL context: one line, before a model loads."""
    path, _ = picture
    env = {k: v for k, v in monado.env.items() if k != "DISPLAY"}
    proc = subprocess.run([sys.executable, "-m", "artem_vr", "--source", f"image:{path}", "--vr-api", "openxr",
                           "--model", "full"], capture_output=True, text=True, timeout=60,
                          env={**env, "ARTEM_VR_CACHE": str(tmp_path / "c")})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "X display" in lines[0] and "--window" in lines[0], proc.stderr
    assert not (tmp_path / "c").exists()
