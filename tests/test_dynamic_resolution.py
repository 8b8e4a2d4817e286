"""``--infer-size auto`` in the live pipeline: a stand-in engine whose time grows with the pixel count
(like a conv net's, but quick and predictable) shows the worker climbing to the largest size the budget
allows, and coming down when the load doubles; the CLI's budget options and their errors."""
import threading
import time

import numpy as np
import pytest
import torch

from artem_vr.capture.base import Source
from artem_vr.controls import Controls, Settings
from artem_vr.inference.resolution import DynamicResolution
from artem_vr.pipeline import LivePipeline
from artem_vr.render.base import Sink, headless_context
from helpers.common import assert_one_line_error, run_cli


class LiveFrames(Source):
    """A 30 fps live source (not on demand): a 1280x720 gradient that moves."""

    name = "live-test"
    rate = 30.0

    def __init__(self):
        yy, xx = np.mgrid[0:720, 0:1280]
        self.base = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
        self.n = 0

    def read(self):
        self.n += 1
        return np.roll(self.base, self.n * 2, axis=1), "rgb"


class PixelCostEngine:
    """Returns the input; takes ``ms_per_mpx`` ms per megapixel (x ``load``), like a net would."""

    def __init__(self, ms_per_mpx):
        self.ms_per_mpx, self.load = ms_per_mpx, 1.0
        self.device, self.num_styles, self.name, self.graphed = torch.device("cpu"), 26, "pixel-cost", None

    def weights(self, style):
        return torch.zeros(26)

    def stylize_tensor(self, x, *args, **kwargs):
        time.sleep(self.ms_per_mpx * self.load * x.shape[-1] * x.shape[-2] / 1e9)
        return x.clone()


class Display60(Sink):
    """A display that presents at 60 Hz and shows nothing (no read-back: the test measures inference)."""

    name = "display"

    def open(self, content_size):
        self.ctx = headless_context()
        return self.ctx

    def present(self, compositor) -> bool:
        time.sleep(1 / 60)
        return True

    def close(self) -> None:
        if getattr(self, "ctx", None) is not None:
            self.ctx.release()
            self.ctx = None


def run_pipeline(tmp_path, engine, seconds, budget=None, at=None):
    ctrl = DynamicResolution((192, 108), (960, 540), budget, start=(320, 180))
    controls = Controls(Settings(0, stabilize=False))
    pipe = LivePipeline(LiveFrames(), engine, Display60(), controls, (320, 180), upscale=False,
                        resolution=ctrl)
    timers = [threading.Timer(seconds, controls.quit.set)] + [threading.Timer(t, fn) for t, fn in (at or [])]
    for t in timers:
        t.start()
    try:
        return pipe, pipe.run()
    finally:
        for t in timers:
            t.cancel()


def test_auto_climbs_above_the_default_box_when_the_budget_allows(tmp_path):
    # 300 ms per megapixel against a 300 ms budget (slow on purpose, so that a busy test machine's
    # overhead stays small beside it): 320x180 takes 17 ms, 960x540 (the ceiling) 156 ms
    pipe, stats = run_pipeline(tmp_path, PixelCostEngine(300.0), 6.0, budget=300.0)
    report = stats["infer_size_over_run"]
    assert report["mode"] == "auto" and report["budget_ms"] == 300.0
    assert report["max"][0] * report["max"][1] > 320 * 180 * 1.5 and report["changes"] >= 1
    assert report["changes"] >= 2 and stats["infer_size"] == list(pipe.worker.resolution.box)


def test_auto_comes_down_when_another_load_arrives(tmp_path):
    engine = PixelCostEngine(300.0)

    def heavier():
        engine.load = 4.0

    pipe, stats = run_pipeline(tmp_path, engine, 9.0, budget=300.0, at=[(5.0, heavier)])
    report = stats["infer_size_over_run"]
    w, h = stats["infer_size"]
    assert w * h < report["max"][0] * report["max"][1]         # came down from the top...
    assert 300.0 * 4 * w * h / 1e6 <= 300.0                     # ...to a size within the budget


def test_default_budget_is_the_source_frame_period(tmp_path):
    pipe, stats = run_pipeline(tmp_path, PixelCostEngine(1.0), 1.5)
    assert abs(stats["infer_size_over_run"]["budget_ms"] - 1000 / 30) < 0.1


def test_budget_options_and_their_errors(tmp_path):
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--infer-size", "320x180", "--budget-ms", "20")
    assert "--infer-size auto" in assert_one_line_error(proc)
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--target-fps", "0")
    assert "--target-fps" in assert_one_line_error(proc)
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--infer-size", "big")
    assert "WxH" in assert_one_line_error(proc)
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--budget-ms", "20")  # offline: fixed size
    assert "--infer-size auto" in assert_one_line_error(proc)


def test_explicit_auto_on_an_offline_render_runs(tmp_path):
    import json

    stats = tmp_path / "s.json"
    proc = run_cli("--output", tmp_path / "o", "--source", "demo", "--infer-size", "auto", "--target-fps", "50",
                   "--frames", "6", "--model", "fast", "--device", "cpu", "--stats", stats, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(stats.read_text())["infer_size_over_run"]
    assert report["mode"] == "auto" and report["budget_ms"] == 20.0


def test_hud_shows_the_auto_size_range():
    from artem_vr.render.hud import hud_lines

    lines = hud_lines(Settings(3), 30, 1, 20, 30, 60, 50, "cpu", (448, 252),
                      auto="auto 192x108-640x360, 3 changes")
    assert "448x252 (auto 192x108-640x360, 3 changes)" in lines[2]
    assert "320x180 (auto)" in hud_lines(Settings(3), 30, 1, 20, 30, 60, 50, "cpu", (320, 180), auto=True)[2]


def test_vr_budget_is_half_a_headset_frame_on_cuda_and_the_source_period_on_the_cpu():
    # On the CPU the net does not share the GPU that draws the eyes: half a 90 Hz frame (5.6 ms) pinned
    # the OpenXR run on Monado at the 192x108 floor. On CUDA it gets half of each headset frame.
    from types import SimpleNamespace

    import torch

    from artem_vr.live import dynamic_resolution

    config = SimpleNamespace(infer_size="auto", budget_ms=None, mode="vr")
    sink = SimpleNamespace(refresh_hz=120.0)
    assert dynamic_resolution(config, torch.device("cpu"), False, sink).budget_ms() is None
    assert dynamic_resolution(config, torch.device("cuda"), False, sink).budget_ms() == pytest.approx(1000 / 240)
    config.budget_ms = 20.0
    assert dynamic_resolution(config, torch.device("cpu"), False, sink).budget_ms() == 20.0
