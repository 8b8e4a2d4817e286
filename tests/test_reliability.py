"""Faults a live app meets, each a boring event. Camera hardware cannot exist here, so cameras are
stand-ins with cv2.VideoCapture's contract (isOpened/read/set/release); a GPU cannot either, so
CUDA faults come from an engine stand-in raising torch's own CUDA exceptions."""
import threading
import time

import numpy as np
import pytest
import torch

from artem_vr.capture.base import CaptureStage
from artem_vr.capture.health import BLACK, FROZEN, LOST, FeedHealth
from artem_vr.capture.webcam import WebcamSource
from artem_vr.controls import Controls, Settings
from artem_vr.errors import CaptureError
from artem_vr.inference import worker as worker_module
from artem_vr.inference.worker import StyleWorker
from artem_vr.slots import LatestSlot


class Camera:
    """A camera that can be unplugged and plugged back: every open() gets a new capture object,
    which fails (not opened / read False) while unplugged, like OpenCV's V4L2 backend does."""

    def __init__(self):
        self.plugged = True
        self.opens = 0
        self.released = 0
        self.n = 0

    def factory(self, index, backend):
        self.opens += 1
        camera = self

        class Capture:
            def __init__(self):
                self.ok = camera.plugged

            def isOpened(self):
                return self.ok

            def set(self, *a):
                return True

            def read(self):
                if not (self.ok and camera.plugged):
                    return False, None
                camera.n += 1
                time.sleep(0.01)
                return True, np.full((48, 64, 3), camera.n % 200 + 20, np.uint8)

            def release(self):
                camera.released += 1

        return Capture()


def wait_for(cond, timeout):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_camera_unplugged_shows_banner_and_resumes_when_back():
    cam = Camera()
    slot = LatestSlot()
    stage = CaptureStage(WebcamSource(0, capture_factory=cam.factory), slot)
    stage.start()
    stage.wait_open(5)
    assert wait_for(lambda: slot.seq > 5, 2)
    cam.plugged = False
    assert wait_for(lambda: stage.status() == LOST, 1.0)  # banner within 0.5 s (+ polling)
    opens = cam.opens
    assert wait_for(lambda: cam.opens >= opens + 2, 2.0)  # it keeps retrying in the background...
    assert stage.alive and stage.error is None  # ...and the app does not exit
    seq = slot.seq
    cam.plugged = True
    t0 = time.perf_counter()
    assert wait_for(lambda: slot.seq > seq + 3 and stage.status() is None, 2.0)  # resumes within 2 s
    assert time.perf_counter() - t0 < 2.0 and stage.reconnects >= 1
    stage.stop()
    assert not stage.alive and cam.released >= cam.opens - 1  # every capture object released


def test_black_and_frozen_feed_banners_after_warm_up():
    now = [0.0]
    health = FeedHealth(clock=lambda: now[0])
    black = np.zeros((48, 64, 3), np.uint8)
    for i in range(40):  # 2 s of black at 20 fps, right from the start
        now[0] = i * 0.05
        health.observe(black + (i % 2))
    assert health.status() is None or now[0] < 1.0
    now[0] = 2.4
    health.observe(black)
    assert health.status() == BLACK  # within 2.5 s
    frozen = FeedHealth(clock=lambda: now[0])
    picture = np.random.default_rng(0).integers(30, 200, (48, 64, 3), dtype=np.uint8)
    for i in range(50):
        now[0] = 10 + i * 0.05
        frozen.observe(picture)
    assert frozen.status() == FROZEN and frozen.frozen_for() > 2.0


def test_camera_open_that_blocks_times_out_with_one_line():
    release = threading.Event()

    def hanging_factory(index, backend):
        release.wait(30)  # a driver that never answers
        raise AssertionError("unreachable in this test")

    stage = CaptureStage(WebcamSource(0, capture_factory=hanging_factory), LatestSlot())
    stage.start()
    t0 = time.perf_counter()
    with pytest.raises(CaptureError, match="did not open within 1 s") as info:
        stage.wait_open(1.0)
    assert time.perf_counter() - t0 < 1.5 and "--source demo" in str(info.value)
    release.set()


class CudaEngineStandIn:
    """An engine that claims a CUDA device and fails like one: ``failures`` lists what each call
    raises (None = succeed by running the real CPU engine)."""

    def __init__(self, cpu_engine, failures):
        self.cpu_engine, self.failures = cpu_engine, list(failures)
        from artem_vr.inference.cuda_graph import GraphedForward

        self.device, self.num_styles, self.name = torch.device("cuda"), 26, "stand-in"
        self.sizes = []
        # like a CUDA engine's: one captured graph held for the live size (a placeholder here)
        self.graphed = GraphedForward(None, torch.float16, torch.channels_last)
        self.graphed.graphs[(1, 3, 240, 320)] = object()

    def stylize_tensor(self, x, *args, **kwargs):
        self.sizes.append(tuple(x.shape[-2:]))
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return self.cpu_engine.stylize_tensor(x.cpu(), *args, **kwargs)

    def weights(self, style):
        return self.cpu_engine.weights(style)  # (a real CUDA engine puts them on its GPU)

    def on_cpu(self):
        return self.cpu_engine


def run_worker(engine, frames=12):
    cap, out = LatestSlot(), LatestSlot()
    worker = StyleWorker(engine, cap, out, Controls(Settings(0)), (320, 240))
    worker.start()
    results = []
    for i in range(frames):
        from artem_vr.capture.base import Frame

        cap.put(Frame(np.full((240, 320, 3), 40 + i, np.uint8), "rgb", i, time.perf_counter()))
        got = out.get(after=out.seq, timeout=5)
        if got:
            results.append(got[1])
    worker.stop()
    return worker, results


def test_cuda_out_of_memory_lowers_size_then_falls_back_to_cpu(full_engine, monkeypatch):
    real = worker_module.frame_to_tensor
    monkeypatch.setattr(worker_module, "frame_to_tensor", lambda p, o, d, s: real(p, o, torch.device("cpu"), s))
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    engine = CudaEngineStandIn(full_engine, [oom, None, oom, oom, oom, oom])
    worker, results = run_worker(engine)
    assert worker.error is None and len(results) >= 5  # frames flow again
    assert engine.sizes[1][0] < engine.sizes[0][0]  # the first OOM lowered the inference size
    assert not engine.graphed.graphs  # and dropped the graph captured for the old size
    assert worker.device.type == "cpu" and "CPU" in worker.notice  # repeated OOM: on the CPU now
    assert len(engine.sizes) <= 6  # no endless error loop on the failing device


def test_cuda_error_in_worker_falls_back_to_cpu_at_once(full_engine, monkeypatch):
    real = worker_module.frame_to_tensor
    monkeypatch.setattr(worker_module, "frame_to_tensor", lambda p, o, d, s: real(p, o, torch.device("cpu"), s))
    engine = CudaEngineStandIn(full_engine, [RuntimeError("CUDA error: an illegal memory access was encountered")])
    worker, results = run_worker(engine, frames=4)
    assert worker.error is None and worker.device.type == "cpu" and len(results) >= 3
    assert worker.notice == "CUDA error: running on the CPU now"


def test_real_bug_in_worker_is_not_swallowed(full_engine, monkeypatch):
    real = worker_module.frame_to_tensor
    monkeypatch.setattr(worker_module, "frame_to_tensor", lambda p, o, d, s: real(p, o, torch.device("cpu"), s))
    engine = CudaEngineStandIn(full_engine, [ValueError("a bug")])
    worker, _ = run_worker(engine, frames=1)
    assert isinstance(worker.error, ValueError)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_live_worker_on_cuda_replays_one_captured_graph():
    """The live path on a real GPU: the worker's frames go through one captured CUDA graph (its
    own stream), and the pictures it hands on match the eager engine's."""
    from artem_vr.inference.engine import StyleEngine
    from helpers.common import psnr

    engine = StyleEngine.load("fast", device="cuda")
    worker, results = run_worker(engine, frames=8)
    assert worker.error is None and worker.device.type == "cuda" and len(results) >= 6
    assert len(engine.graphed.graphs) == 1 and engine.graphed.enabled
    eager = StyleEngine.load("fast", device="cuda", cuda_graphs=False)
    last = results[-1]
    frame = np.full((240, 320, 3), 40 + last.index, np.uint8)
    assert psnr(last.pixels, eager.stylize(frame, 0)) >= 40
