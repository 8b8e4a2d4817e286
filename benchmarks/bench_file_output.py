"""Does a faster net make ``--output`` renders faster? (issue 22, item 7)

Renders one H.264 clip with ``artem-vr --output OUT.mp4 --source video:CLIP`` for each model, the models
alternating round by round (A, B, A, B ...) so a noisy machine slows them alike, and prints per model the
pipeline's own run time (``--stats`` duration_s, model loading excluded), frames per second, and the
p50 of each stage (capture = decode + RGB, inference, render = compositor + read-back + hand-off to the
encoder thread). The file pipeline runs at the inference rate when the fps is about 1000 / inference p50.

Then, once per model, the same render in a fresh process that samples every thread's CPU time
(``/proc/self/task``): CPU ms per frame by thread name, which other load on the machine does not
change. On N free cores a render cannot go faster than the process total / N per frame, nor than
its busiest thread.

    python benchmarks/bench_file_output.py [--size 640x360] [--frames 150] [--rounds 3] [--models fast,full]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def make_clip(path: Path, size, frames: int) -> Path:
    """A moving test pattern (PyAV, H.264 yuv420p, 30 fps)."""
    from helpers.media import make_av_video

    return make_av_video(path, [k / 30 for k in range(frames)], size=size)


def render(clip: Path, model: str, out_dir: Path, extra) -> dict:
    stats = out_dir / f"{model}.json"
    cmd = [sys.executable, "-m", "artem_vr", "--output", str(out_dir / f"{model}.mp4"), "--source", f"video:{clip}",
           "--model", model, "--stats", str(stats), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return json.loads(stats.read_text())


def profile_one(model: str, clip: str) -> None:
    """In this process: render ``clip`` with ``model`` and print JSON of CPU ms per frame by thread name."""
    import collections
    import os
    import threading
    import time

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does before torch loads
    from artem_vr import StyleEngine
    from artem_vr.capture.media import VideoSource
    from artem_vr.controls import Controls, Settings
    from artem_vr.live import CPU_INFER_BOX
    from artem_vr.pipeline import LivePipeline
    from artem_vr.render.file import FileSink

    engine = StyleEngine.load(model, device="cpu")
    source = VideoSource(clip, loop=False)
    tick, seen, stop = os.sysconf("SC_CLK_TCK"), {}, threading.Event()

    def snapshot():
        for tid in os.listdir("/proc/self/task"):
            try:
                name = open(f"/proc/self/task/{tid}/comm").read().strip()
                fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
                seen[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
            except OSError:
                pass

    def sample():
        while not stop.wait(0.1):
            snapshot()

    with tempfile.TemporaryDirectory() as tmp:
        pipe = LivePipeline(source, engine, FileSink(Path(tmp) / "o.mp4", media=source), Controls(Settings(0)),
                            CPU_INFER_BOX, upscale=False, lockstep=True)
        snapshot()
        before = dict(seen)  # threads' CPU time so far (imports, model loading): not counted
        monitor = threading.Thread(target=sample, daemon=True)
        started = time.process_time()
        monitor.start()
        stats = pipe.run()
        stop.set()
        monitor.join()
        total = time.process_time() - started
    frames = stats["frames_presented"]
    by_name = collections.defaultdict(float)
    for tid, (name, secs) in seen.items():
        by_name[name] += secs - before.get(tid, (name, 0.0))[1]
    print(json.dumps({"frames": frames, "process_ms": total / frames * 1000,
                      "threads_ms": {k: round(v / frames * 1000, 2) for k, v in by_name.items() if v > 0}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="fast,full")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("extra", nargs="*", help="more artem-vr options, after --")
    ap.add_argument("--profile-one", nargs=2, metavar=("MODEL", "CLIP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.profile_one:
        return profile_one(*args.profile_one)
    size = tuple(int(v) for v in args.size.split("x"))
    models = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp / "clip.mp4", size, args.frames)
        runs = {m: [] for m in models}
        for _ in range(args.rounds):
            for m in models:
                runs[m].append(render(clip, m, tmp, args.extra))
        cpu = {}
        for m in models:
            proc = subprocess.run([sys.executable, __file__, "--profile-one", m, str(clip)], capture_output=True,
                                  text=True, check=True)
            cpu[m] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {}
    print(f"{args.frames} frames {args.size} H.264 -> --output .mp4, {args.rounds} alternating rounds")
    print(f"{'model':10} {'run s':>7} {'fps':>6} {'capture':>8} {'infer':>7} {'render':>7}  (stage p50 ms)")
    for m, stats in runs.items():
        dur = statistics.median(s["duration_s"] for s in stats)
        fps = statistics.median(s["fps"]["present"] for s in stats)
        stage = {k: statistics.median(s["stage_ms"][k]["p50"] for s in stats) for k in ("capture", "inference",
                                                                                       "render")}
        rows[m] = {"duration_s": dur, "fps": fps, "stage_p50_ms": stage, "infer_size": stats[0]["infer_size"]}
        print(f"{m:10} {dur:7.2f} {fps:6.1f} {stage['capture']:8.1f} {stage['inference']:7.1f} {stage['render']:7.1f}")
    print("CPU ms per frame (process total; busiest threads by name):")
    for m in models:
        rows[m]["cpu_ms_per_frame"] = cpu[m]
        top = sorted(cpu[m]["threads_ms"].items(), key=lambda kv: -kv[1])[:5]
        print(f"{m:10} {cpu[m]['process_ms']:6.1f}   " + ", ".join(f"{k} {v:.1f}" for k, v in top))
    if len(models) == 2:
        a, b = models
        print(f"{a} is {rows[b]['duration_s'] / rows[a]['duration_s']:.2f}x faster than {b} (run time), "
              f"{cpu[b]['process_ms'] / cpu[a]['process_ms']:.2f}x by CPU time per frame")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
