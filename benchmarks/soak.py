"""Long-run check: the headless live pipeline at full rate, sampling resources as it goes.

    python benchmarks/soak.py --minutes N [--json FILE] [--model fast|full]

Every few seconds it records RSS, the thread count, open file descriptors and the compositor's
GL object count. After a warm-up (the first fifth of the run, at least 30 s) RSS may grow by
less than 20 MB and the other counts must stay constant; otherwise it exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from artem_vr.capture.demo import DemoSource  # noqa: E402
from artem_vr.controls import Controls, Settings  # noqa: E402
from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.pipeline import LivePipeline  # noqa: E402
from artem_vr.render.base import OffscreenTarget, Sink  # noqa: E402

RSS_GROWTH_LIMIT_MB = 20.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class OffscreenDisplay(Sink):
    """Presents into an EGL framebuffer (and reads it back, as a display's scan-out would)."""

    name = "offscreen"

    def __init__(self, size=(640, 360)):
        self.size = size

    def open(self, content_size):
        self.target = OffscreenTarget(self.size)
        return self.target.ctx

    def present(self, compositor) -> bool:
        compositor.render(self.target.fbo, self.size, flip_y=False, hud=True)
        self.target.read()
        time.sleep(1 / 120)
        return True

    def close(self):
        if getattr(self, "target", None) is not None:
            self.target.release()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--json")
    ap.add_argument("--model", default="full", help="fast, full or a .safetensors file (default full)")
    ap.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    args = ap.parse_args()

    engine = StyleEngine.load(args.model, device="cpu")
    pipe = LivePipeline(DemoSource(size=(640, 360), fps=30), engine, OffscreenDisplay(),
                        Controls(Settings(5, hud=True)), (320, 180), model_name=engine.name)
    samples = []
    done = threading.Event()
    runner = threading.Thread(target=lambda: (pipe.run(), done.set()), daemon=True)
    t0 = time.perf_counter()
    runner.start()
    seconds = args.minutes * 60
    while time.perf_counter() - t0 < seconds and not done.is_set():
        time.sleep(args.interval)
        comp = pipe.compositor
        samples.append({"t": round(time.perf_counter() - t0, 1), "rss_mb": round(rss_mb(), 1),
                        "threads": threading.active_count(), "open_files": len(os.listdir("/proc/self/fd")),
                        "gl_objects": comp.gl_object_count if comp is not None else None,
                        "frames_presented": pipe.presented, "frames_inferred": pipe.worker.stats.count})
        s = samples[-1]
        print(f"{s['t']:7.1f} s  RSS {s['rss_mb']:7.1f} MB  threads {s['threads']}  files {s['open_files']}  "
              f"GL {s['gl_objects']}  presented {s['frames_presented']}  inferred {s['frames_inferred']}", flush=True)
    pipe.controls.quit.set()
    runner.join(10)
    warm = [s for s in samples if s["t"] >= max(30.0, seconds / 5)]
    problems = []
    if pipe.capture.error or pipe.worker.error:
        problems.append(f"a stage failed: {pipe.capture.error or pipe.worker.error}")
    if len(warm) >= 2:
        growth = max(s["rss_mb"] for s in warm) - warm[0]["rss_mb"]
        if growth >= RSS_GROWTH_LIMIT_MB:
            problems.append(f"RSS grew {growth:.1f} MB after warm-up (limit {RSS_GROWTH_LIMIT_MB})")
        for key in ("threads", "open_files", "gl_objects"):
            if len({s[key] for s in warm}) != 1:
                problems.append(f"{key} changed after warm-up: {sorted({s[key] for s in warm})}")
    else:
        problems.append("run too short to judge (need two samples after warm-up)")
    result = {"minutes": args.minutes, "model": engine.name, "samples": samples, "problems": problems,
              "rss_growth_after_warmup_mb": round(max(s["rss_mb"] for s in warm) - warm[0]["rss_mb"], 1) if warm else None,
              "fps_inference": round(pipe.worker.stats.run_fps(), 1), "fps_present": round(pipe.present_stats.run_fps(), 1)}
    print("OK" if not problems else "FAILED: " + "; ".join(problems))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
