"""The whole live pipeline, headless: a synthetic source at a fixed rate -> worker -> compositor
-> an offscreen (EGL) display that presents at 60 Hz.

    python benchmarks/bench_pipeline.py [--quick] [--json FILE] [--seconds S] [--model fast|full]
                                        [--infer-size auto]

Each captured frame carries its number in its pixels: 9 large black/white cells across the top
(8 bits and a parity bit). The run uses strength 0.5: the network still runs in full, and the
output is blended 50/50 with the input, so the stamp keeps enough contrast to be read back. The display reads its framebuffer back, decodes the number
and looks up when that frame was captured: capture->display latency measured from the pixels,
not from the pipeline's own bookkeeping (which is reported beside it). A second run makes
inference artificially slower than capture (2x the frame period) to show latency stays flat; one
more runs with the stabiliser off, to show what it costs the live path (the source pans 3 px a
frame, so every frame is a moving one: the stabiliser's dearest case).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

# as `artem-vr` does for its onnxruntime default (cli.quiet_torch_threads), before torch loads
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from artem_vr.capture.base import Source  # noqa: E402
from artem_vr.controls import Controls, Settings  # noqa: E402
from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.pipeline import LivePipeline  # noqa: E402
from artem_vr.render.base import OffscreenTarget, Sink  # noqa: E402

BITS = 8          # frame number modulo 256 (8.5 s at 30 fps: far more than any latency)
CELLS = BITS + 1  # + an even-parity cell, so a misread stamp is rejected, not mis-timed
STAMP_ROWS = 0.4  # top 40% of the frame carries the number


class StampedSource(Source):
    """Frames of a moving gradient with the frame number in big cells; remembers capture times."""

    name = "stamped"

    def __init__(self, size=(320, 180), fps=30.0):
        self.size, self.rate = size, fps
        self.n = 0
        self.t_capture = {}
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w]
        self.base = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 128)], -1).astype(np.uint8)

    def read(self):
        frame = np.roll(self.base, self.n * 3, axis=1).copy()
        w, h = self.size
        cell, rows = w // CELLS, int(h * STAMP_ROWS)
        code = self.n % (1 << BITS)
        bits = [code >> (BITS - 1 - b) & 1 for b in range(BITS)]
        for b, bit in enumerate(bits + [sum(bits) % 2]):
            frame[:rows, b * cell:(b + 1) * cell] = 255 if bit else 0
        self.t_capture[code] = time.perf_counter()
        self.n += 1
        return frame, "rgb"


def decode(pixels: np.ndarray):
    """The frame number in a (stylized) picture, or None when the parity check fails."""
    h, w = pixels.shape[:2]
    cell, rows = w // CELLS, int(h * STAMP_ROWS)
    lum = pixels[:rows, : cell * CELLS].mean(axis=2)
    levels = [float(np.median(lum[rows // 4: 3 * rows // 4, b * cell + cell // 4: (b + 1) * cell - cell // 4]))
              for b in range(CELLS)]
    mid = (max(levels) + min(levels)) / 2
    bits = [int(v > mid) for v in levels]
    if sum(bits[:BITS]) % 2 != bits[BITS]:
        return None
    return sum(bit << (BITS - 1 - b) for b, bit in enumerate(bits[:BITS]))


class ReadbackDisplay(Sink):
    """An offscreen 'display' at ``rate`` Hz that reads every presented picture back."""

    name = "readback"
    every_frame = False

    def __init__(self, source: StampedSource, size=(320, 180), rate=60.0):
        self.source, self.size, self.rate = source, size, rate
        self.latencies, self.decoded, self.failed = [], set(), 0
        self.latency_times = []  # when each latency was measured (perf_counter s)
        self._last_code, self._next = None, 0.0
        self._drawn, self.drew = None, False  # the compositor version on screen

    def open(self, content_size):
        self.target = OffscreenTarget(self.size)
        return self.target.ctx

    def present(self, compositor) -> bool:
        now = time.perf_counter()
        if now < self._next:
            time.sleep(self._next - now)
        self._next = max(self._next + 1 / self.rate, time.perf_counter())
        if compositor.texture is not None and compositor.version == self._drawn:
            # the same picture: the window (render/window.py) redraws nothing then, and neither does
            # this display (redrawing and reading back every tick took a core of software GL)
            self.drew = False
            return True
        self._drawn, self.drew = compositor.version, True
        compositor.render(self.target.fbo, self.size, flip_y=False, hud=False)
        pixels = self.target.read()
        t = time.perf_counter()
        if compositor.texture is None:
            return True
        code = decode(pixels)
        if code is None:
            self.failed += 1
        elif code != self._last_code:  # a new picture reached the display
            captured = self.source.t_capture.get(code)
            last = self.source.t_capture.get(self._last_code, 0.0)
            # a true new frame was captured recently and after the one shown before
            if captured is not None and captured > last and t - captured < 2.0:
                self._last_code = code
                self.latencies.append((t - captured) * 1000)
                self.latency_times.append(t)
                self.decoded.add(code)
            else:
                self.failed += 1
        return True

    def close(self):
        if getattr(self, "target", None) is not None:
            self.target.release()


class SlowedEngine:
    """The engine with a sleep added so inference takes at least ``min_ms``."""

    def __init__(self, engine, min_ms):
        self.engine, self.min_ms = engine, min_ms
        self.device, self.num_styles, self.name = engine.device, engine.num_styles, engine.name

    def weights(self, style):
        return self.engine.weights(style)

    def stylize_tensor(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self.engine.stylize_tensor(*args, **kwargs)
        rest = self.min_ms / 1000 - (time.perf_counter() - t0)
        if rest > 0:
            time.sleep(rest)
        return out


def run(engine, seconds, fps, size, slow_ms=None, stabilize=True):
    source = StampedSource(size, fps)
    display = ReadbackDisplay(source, size)
    eng = SlowedEngine(engine, slow_ms) if slow_ms else engine
    # strength 0.5: the same network work, half the input mixed back in so the stamp stays legible
    pipe = LivePipeline(source, eng, display, Controls(Settings(0, strength=0.5, hud=False,
                                                                          stabilize=stabilize)), size,
                        model_name=engine.name)
    cpu0, t0 = os.times(), time.perf_counter()
    stopper = threading.Timer(seconds, pipe.controls.quit.set)
    stopper.start()
    stats = pipe.run()
    stopper.cancel()
    wall, cpu1 = time.perf_counter() - t0, os.times()
    lat = np.array(display.latencies)
    half = len(lat) // 2
    return {
        "inference_slowed_to_ms": slow_ms,
        "stabilize": stabilize,
        "stabilizer_ms": stats["stabilize"]["ms"],
        "capture_fps": stats["fps"]["capture"], "inference_fps": stats["fps"]["inference"],
        "display_fps": stats["fps"]["present"],
        "latency_ms_from_pixels": {"p50": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
                                   "p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
                                   "first_half_p50": round(float(np.median(lat[:half])), 1) if half else None,
                                   "second_half_p50": round(float(np.median(lat[half:])), 1) if half else None},
        "latency_ms_pipeline": stats["latency_ms"],
        "inference_ms": stats["stage_ms"]["inference"],
        "frames_captured": stats["frames_captured"], "frames_dropped": stats["frames_dropped"],
        "stamps_decoded": len(display.decoded), "stamps_failed": display.failed,
        "cpu_percent": round(100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "frame_period_ms": round(1000 / fps, 1),
    }


def run_auto(engine, seconds, fps, size=(640, 360), screen=False):
    """``--infer-size auto`` with a second process burning one core from half time on: the box
    chosen, inference fps and latency (from the pixels) in each half, and how soon the box came down."""
    import subprocess

    from artem_vr.inference.resolution import DynamicResolution
    from artem_vr.live import AUTO_CPU

    floor, ceiling, start = AUTO_CPU
    source = StampedSource(size, fps)
    display = ReadbackDisplay(source, size)
    ctrl = DynamicResolution(floor, ceiling, None, start=start)
    pipe = LivePipeline(source, engine, display, Controls(Settings(0, strength=0.5, hud=False)), start,
                        upscale=False, model_name=engine.name, resolution=ctrl,
                        # as artem-vr does on software GL: the guided pass for a screen, Catmull-Rom for a camera
                        guided_on_software=screen)
    samples, hog = [], []

    def sample():
        while not pipe.controls.quit.is_set():
            samples.append((time.perf_counter(), ctrl.box, pipe.worker.stats.count))
            time.sleep(0.1)

    def steal():
        hog.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        hog.append(time.perf_counter())

    timers = [threading.Timer(seconds, pipe.controls.quit.set), threading.Timer(seconds / 2, steal)]
    for t in timers:
        t.start()
    threading.Thread(target=sample, daemon=True).start()
    try:
        stats = pipe.run()
    finally:
        for t in timers:
            t.cancel()
        if hog:
            hog[0].kill()
            hog[0].wait()
    t_steal = hog[1]
    px = lambda b: b[0] * b[1]  # noqa: E731

    def half(lo, hi):
        part = [(t, b, n) for t, b, n in samples if lo <= t < hi]
        lat = [ms for t, ms in zip(display.latency_times, display.latencies) if lo + 1.0 <= t < hi]
        boxes = sorted((b for _, b, _ in part), key=px)
        return {"box_median": list(boxes[len(boxes) // 2]) if boxes else None,
                "inference_fps": round((part[-1][2] - part[0][2]) / (part[-1][0] - part[0][0]), 2) if len(part) > 1 else None,
                "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None}

    before = [b for t, b, _ in samples if t < t_steal][-1]
    down = [t for t, b, _ in samples if t >= t_steal and px(b) < px(before)]
    return {"source": f"{'screen' if screen else 'camera'}-like {size[0]}x{size[1]} at {fps:g} fps", "budget_ms": round(ctrl.budget_ms() or 0, 2),
            "before": half(samples[0][0] + seconds / 4, t_steal), "after": half(t_steal + 3.0, samples[-1][0]),
            "box_before_steal": list(before), "seconds_to_go_down": round(down[0] - t_steal, 2) if down else None,
            "changes": ctrl.changes, "infer_size_over_run": stats["infer_size_over_run"]}


def compositor_cost(repeats: int = 30, low=(320, 180), outputs=((1280, 720), (1920, 1080))) -> list:
    """GL time of one new picture at each output size (upload, upsampling, glFinish), through the
    context's GL (EGL: llvmpipe on a CPU, the GPU elsewhere): Catmull-Rom + sharpen (no guide)
    against the guided upsampling with the BGRA source (guide_down + guided passes)."""
    from artem_vr.render.compositor import Compositor

    rng = np.random.default_rng(0)
    stylized = rng.integers(0, 256, (low[1], low[0], 3), dtype=np.uint8)
    rows = []
    for size in outputs:
        target = OffscreenTarget(size)
        source = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
        row = {"output": list(size), "stylized": list(low)}
        for label, guide, detail in (("catmull_rom", None, 0.0), ("guided", source, 0.75)):
            comp = Compositor(target.ctx, sharpen=0.3, detail=detail)
            times = []
            for i in range(repeats + 3):
                t0 = time.perf_counter()
                comp.upload(stylized, guide=guide, guide_order="bgra")
                comp.render(target.fbo, size, flip_y=False, hud=False)
                target.ctx.finish()
                if i >= 3:  # the first ones compile and allocate
                    times.append((time.perf_counter() - t0) * 1000.0)
            comp.release()
            row[f"{label}_ms"] = round(float(np.median(times)), 2)
        target.release()
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 s per run instead of 30")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--json")
    ap.add_argument("--model", default="full", help="fast, full or a .safetensors file (default full)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--infer-size", default="320x180",
                    help="320x180 (the fixed-size runs) or auto: a dynamic-resolution run with a second process "
                         "burning one core from half time on")
    ap.add_argument("--source-size", default="640x360", help="auto: the source's frame size (default 640x360)")
    ap.add_argument("--screen", action="store_true", help="auto: a screen source (guided upsampling on software GL)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--compositor", action="store_true",
                    help="only the compositor's cost per new picture: Catmull-Rom vs guided upsampling")
    args = ap.parse_args()
    if args.compositor:
        rows = compositor_cost()
        gl = OffscreenTarget((8, 8))
        renderer = gl.ctx.info.get("GL_RENDERER", "?")
        gl.release()
        print(f"compositor, {renderer}: ms per new picture (upload + upsample + finish), 320x180 stylized")
        for r in rows:
            print(f"  {r['output'][0]}x{r['output'][1]}: Catmull-Rom + sharpen {r['catmull_rom_ms']} ms, "
                  f"guided + detail {r['guided_ms']} ms")
        if args.json:
            Path(args.json).write_text(json.dumps({"renderer": renderer, "compositor": rows}, indent=2) + "\n")
        return
    if args.infer_size == "auto":
        seconds = args.seconds or (20 if args.quick else 40)
        engine = StyleEngine.load(args.model, device=args.device, backend=args.backend, precision=args.precision)
        w, h = (int(v) for v in args.source_size.split("x"))
        row = run_auto(engine, seconds, args.fps, (w, h), screen=args.screen)
        print(f"model {engine.name} ({engine.backend} {engine.precision}), --infer-size auto, {row['source']}, "
              f"budget {row['budget_ms']} ms, "
              f"a core taken at {seconds / 2:.0f} s")
        for key in ("before", "after"):
            r = row[key]
            print(f"  {key:6s}: box {r['box_median']}, inference {r['inference_fps']} fps, latency p50 "
                  f"{r['latency_ms_p50']} ms p95 {r['latency_ms_p95']} ms")
        print(f"  went down {row['seconds_to_go_down']} s after the core was taken; {row['changes']} changes")
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({"machine": {"platform": platform.platform(),
                                                               "cpu_count": os.cpu_count()},
                                                   "model": engine.name, "backend": engine.backend,
                                                   "precision": engine.precision, "auto": row}, indent=2) + "\n")
        return
    seconds = args.seconds or (10 if args.quick else 30)
    engine = StyleEngine.load(args.model, device=args.device)
    size = (320, 180)
    rows = [run(engine, seconds, args.fps, size), run(engine, seconds, args.fps, size, stabilize=False)]
    rows.append(run(engine, seconds, args.fps, size, slow_ms=2 * 1000 / args.fps))
    print(f"model {engine.name} on {engine.device}, source {args.fps:.0f} fps {size[0]}x{size[1]}, display 60 Hz, "
          f"{seconds:.0f} s per run")
    for r in rows:
        lat = r["latency_ms_from_pixels"]
        print(f"  inference {'normal' if not r['inference_slowed_to_ms'] else 'slowed to %.0f ms' % r['inference_slowed_to_ms']:>18}"
              f"{', stabiliser on ' if r['stabilize'] else ', stabiliser off'}: "
              f"display {r['display_fps']:5.1f} fps, inference {r['inference_fps']:5.1f} fps, latency p50 {lat['p50']} ms "
              f"p95 {lat['p95']} ms (1st half {lat['first_half_p50']}, 2nd half {lat['second_half_p50']}), dropped "
              f"{r['frames_dropped']}, CPU {r['cpu_percent']}%, peak RSS {r['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        out = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
               "model": engine.name, "device": str(engine.device), "runs": rows}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
