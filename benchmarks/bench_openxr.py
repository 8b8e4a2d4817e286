"""The headset path through OpenXR on Monado's simulated headset (issue 29's goals).

Starts an Xvfb and ``monado-service`` (simulated HMD, compositor in an X window), then runs
``artem-vr --vr-api openxr --source demo --stats`` for ``--seconds`` per view, the views alternating
round by round, and reports from ``--stats``:

- headset frames presented per second (xrWaitFrame pacing) against inference frames per second;
- per-image render cost (compositor into a swapchain image, glFinish included: one eye for ``fill``,
  the screen's picture for ``screen``);
- ``display_ahead_ms``: from the end of xrEndFrame to the frame's predicted display time (the
  runtime's clock converted with XR_KHR_convert_timespec_time);
- capture-to-photon, as far as the runtime lets us say: the pipeline's capture -> end of the first
  present of that frame (``latency_ms``), plus ``display_ahead_ms``, plus half a headset frame (a
  new picture waits on average that long for the next xrWaitFrame).

Needs Monado: run it where ``monado-service`` is, e.g. ``bash .ci/monado_env.sh run python
benchmarks/bench_openxr.py``. Writes ``benchmarks/results/openxr_monado.json``.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def run_once(monado, view: str, seconds: float, out: Path, extra) -> dict:
    stats = out / f"{view}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "artem_vr", "--vr-api", "openxr", "--source", "demo", "--vr-view", view,
           "--stats", str(stats), *extra]
    proc = subprocess.Popen(cmd, env=monado.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.terminate()  # SIGTERM: a clean end of the session (exit 143), stats written
    _, err = proc.communicate(timeout=60)
    if not stats.exists():
        raise SystemExit(f"artem-vr failed ({proc.returncode}): {err.strip()[-500:]}")
    return json.loads(stats.read_text())


def len_or_none(run):
    return run["vr"].get("pictures_drawn")


def summary(runs) -> dict:
    def med(get):
        values = [v for v in (get(r) for r in runs) if v is not None]
        return round(statistics.median(values), 2) if values else None

    period = med(lambda r: r["vr"]["frame_period_ms"]["p50"])
    latency = med(lambda r: r["latency_ms"]["p50"])
    ahead = med(lambda r: r["vr"]["display_ahead_ms"]["p50"])
    return {
        "runs": len(runs),
        "headset_fps": med(lambda r: r["vr"]["headset_fps"]),
        "present_fps": med(lambda r: r["fps"]["present"]),
        "inference_fps": med(lambda r: r["fps"]["inference"]),
        "infer_size_median": runs[0]["infer_size_over_run"].get("median"),
        "frames_submitted": [r["vr"]["frames_submitted"] for r in runs],
        "render_ms_per_image_p50": med(lambda r: r["vr"]["render_ms_per_image"]["p50"]),
        "render_ms_per_image_p95": med(lambda r: r["vr"]["render_ms_per_image"]["p95"]),
        "pictures_drawn": [len_or_none(r) for r in runs],
        "copy_ms_right_eye_p50": med(lambda r: r["vr"].get("copy_ms_right_eye", {}).get("p50")),
        "frame_period_ms_p50": period,
        "capture_to_present_end_ms_p50": latency,
        "display_ahead_ms_p50": ahead,
        "capture_to_photon_ms_p50_estimate": (round(latency + ahead + period / 2, 1)
                                              if None not in (latency, ahead, period) else None),
        "eye_size": runs[0]["vr"]["eye_size"],
        "runtime": runs[0]["vr"]["runtime"],
        "system": runs[0]["vr"]["system"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--model", default="fast")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "openxr_monado.json"))
    args = ap.parse_args()
    from helpers.openxr_monado import Monado, monado_missing, start_xvfb

    why = monado_missing()
    if why:
        raise SystemExit(why)
    xvfb, display = start_xvfb()
    results = {"fill": [], "screen": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for _ in range(args.rounds):
                for view in results:
                    monado = Monado(display, tmp).start()
                    try:
                        results[view].append(run_once(monado, view, args.seconds, tmp, ["--model", args.model]))
                    finally:
                        monado.stop()
    finally:
        xvfb.terminate()
        xvfb.wait(10)
    report = {
        "what": "artem-vr --vr-api openxr --source demo on Monado's simulated headset (compositor window on Xvfb, "
                "software GL: llvmpipe/lavapipe), views alternating round by round",
        "command": f"python benchmarks/bench_openxr.py --seconds {args.seconds:g} --rounds {args.rounds} "
                   f"--model {args.model}",
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, no GPU",
        "model": args.model,
        "views": {view: summary(runs) for view, runs in results.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
