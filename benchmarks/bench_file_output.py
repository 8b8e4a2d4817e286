"""Does a faster net make ``--output`` renders faster? (issue 22, item 7)

Renders one H.264 clip with ``artem-vr --output OUT.mp4 --source video:CLIP`` for each model, the models
alternating round by round (A, B, A, B ...) so a noisy machine slows them alike, and prints per model the
pipeline's own run time (``--stats`` duration_s, model loading excluded), frames per second, and the
p50 of each stage (capture = decode + RGB, inference, render = compositor + read-back + hand-off to the
encoder thread). The file pipeline runs at the inference rate when the fps is about 1000 / inference p50.

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="fast,full")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("extra", nargs="*", help="more artem-vr options, after --")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    models = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp / "clip.mp4", size, args.frames)
        runs = {m: [] for m in models}
        for _ in range(args.rounds):
            for m in models:
                runs[m].append(render(clip, m, tmp, args.extra))
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
    if len(models) == 2:
        a, b = models
        print(f"{a} is {rows[b]['duration_s'] / rows[a]['duration_s']:.2f}x faster than {b} (run time)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
