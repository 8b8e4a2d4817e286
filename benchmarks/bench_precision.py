"""Low precision on the CPU against issue 30's goals, each engine in its own process (engine_procs.py).

    python benchmarks/bench_precision.py [--rounds N] [--json FILE] [--quick]

- 320x180, the live path (``stylize_tensor``): the live default (``--model auto``, backend and
  precision auto) and every net in onnxruntime fp32, OpenVINO fp32 and OpenVINO bf16, interleaved
  in one run. Goals: the live default >= 4x the full net's onnxruntime fp32 (aim 6x); full bf16
  >= 2.5x full fp32; arbitrary bf16 >= 2.5x its fp32.
- 320x180 through the public API on a photo (``StyleEngine.stylize``, uint8 in and out):
  ``StyleEngine.load("auto", device="cpu")`` against ``load("full", device="cpu",
  backend="onnxruntime", precision="fp32")``, with A, B, C of the quality bar (held-out photos,
  artem_vr/training/quality.py) for the same pair.
- 640x360: the live default (goal >= 60 fps) beside the full net's fp32.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine_procs import paired_ratio, ratio, timed  # noqa: E402

NETS = ("fast", "balanced", "full", "arbitrary")
CANDIDATES = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"))
STYLES = (3, 9, 13, 21, 25)


def specs_320():
    specs = {"live default": {"model": "auto"}}
    for net in NETS:
        for backend, precision in CANDIDATES:
            specs[f"{net} {backend} {precision}"] = {"model": net, "backend": backend, "precision": precision}
    return specs


def looks_same(rounds_note: str) -> dict:
    """A, B, C of the live default against the full net (onnxruntime fp32) on the held-out photos
    at 320x180, through the engines that run them."""
    from artem_vr import StyleEngine
    from artem_vr.training import quality as q
    from artem_vr.training.data import HELD_OUT, load_photos
    from PIL import Image

    def fit(img):
        h, w = img.shape[:2]
        s = min(320 / w, 180 / h)
        return np.asarray(Image.fromarray(img).resize((round(w * s), round(h * s)), Image.LANCZOS))

    live = StyleEngine.load("auto", device="cpu")
    full = StyleEngine.load("full", device="cpu", backend="onnxruntime", precision="fp32")
    embedder = q.StyleEmbedder()
    photos = [fit(p) for p in load_photos(HELD_OUT)]
    rows, refs = [], []
    for s in STYLES:
        for p in photos:
            rows.append(q.compare(live.stylize(p, s), full.stylize(p, s), embedder))
        refs.append(np.mean([q.shifted_blurred_psnr(lambda x: full.stylize(x, s), p, q.SHIFT_PX) for p in photos]))
    mean = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
    emb = [float(np.mean([r["embedding"] for r in rows[i * len(photos):(i + 1) * len(photos)]]))
           for i in range(len(STYLES))]
    ref = round(float(np.mean(refs)), 3)
    return {"model": live.name, "backend": live.backend, "precision": live.precision, "styles": list(STYLES),
            "photos": list(HELD_OUT), "A_blurred_psnr": mean["blurred_psnr"], "A_reference": ref,
            "B_embedding_mean": mean["embedding"], "B_embedding_worst": round(max(emb), 4),
            "C_texture": mean["texture"],
            "pass": {"A": mean["blurred_psnr"] >= ref,
                     "B": mean["embedding"] <= q.BAR["embedding_mean"] and max(emb) <= q.BAR["embedding_worst"],
                     "C": mean["texture"] >= q.BAR["texture"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="10 rounds, no A/B/C")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "precision_cpu.json"))
    args = ap.parse_args()
    rounds = 10 if args.quick else args.rounds
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "rounds": rounds,
              "method": "each engine in its own process, interleaved round by round (benchmarks/engine_procs.py)"}

    r320 = timed(specs_320(), (320, 180), rounds)
    full32 = r320["full onnxruntime fp32"]["ms"]
    result["live_320x180"] = {k: {kk: vv for kk, vv in v.items() if kk != "ms"} for k, v in r320.items()}
    goals = {"live default vs full fp32 (>= 4x, aim 6x)": ratio(r320["live default"]["ms"], full32),
             "live default vs full fp32, paired by round": paired_ratio(r320["live default"]["ms"], full32)}
    for net in NETS:
        base = r320[f"{net} onnxruntime fp32"]["ms"]
        for backend, precision in CANDIDATES[1:]:
            key = f"{net} {backend} {precision}"
            result["live_320x180"][key]["speedup_vs_onnxruntime_fp32"] = ratio(r320[key]["ms"], base)
    goals["full bf16 vs full fp32 (>= 2.5x)"] = ratio(r320["full openvino bf16"]["ms"], full32)
    goals["full bf16 vs full fp32, paired by round"] = paired_ratio(r320["full openvino bf16"]["ms"], full32)
    goals["arbitrary bf16 vs its fp32 (>= 2.5x)"] = ratio(r320["arbitrary openvino bf16"]["ms"],
                                                          r320["arbitrary onnxruntime fp32"]["ms"])
    goals["arbitrary bf16 vs its fp32, paired by round"] = paired_ratio(r320["arbitrary openvino bf16"]["ms"],
                                                      r320["arbitrary onnxruntime fp32"]["ms"])

    api = timed({"auto": {"model": "auto"}, "full onnxruntime fp32": {"model": "full", "backend": "onnxruntime",
                                                                       "precision": "fp32"}},
                (320, 180), rounds, call="image")
    result["api_320x180_photo"] = {k: {kk: vv for kk, vv in v.items() if kk != "ms"} for k, v in api.items()}
    goals["StyleEngine.load('auto') vs full fp32 onnxruntime, stylize() on a photo (>= 4x)"] = ratio(
        api["auto"]["ms"], api["full onnxruntime fp32"]["ms"])
    goals["API auto vs full fp32, paired by round"] = paired_ratio(api["auto"]["ms"],
                                                                   api["full onnxruntime fp32"]["ms"])

    r640 = timed({"live default": {"model": "auto"},
                  "full onnxruntime fp32": {"model": "full", "backend": "onnxruntime", "precision": "fp32"}},
                 (640, 360), rounds)
    result["live_640x360"] = {k: {kk: vv for kk, vv in v.items() if kk != "ms"} for k, v in r640.items()}
    goals["live default at 640x360 fps (>= 60)"] = r640["live default"]["fps"]
    result["goals"] = goals
    result["load_average_1_5_15_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if not args.quick:
        result["looks_same_live_default_vs_full_fp32"] = looks_same(rounds)
    for section in ("live_320x180", "api_320x180_photo", "live_640x360"):
        print(f"\n{section}")
        for k, v in result[section].items():
            extra = f"  {v['speedup_vs_onnxruntime_fp32']:.2f}x" if v.get("speedup_vs_onnxruntime_fp32") else ""
            print(f"  {k:32s} {v.get('name', ''):9s} {v.get('backend', ''):12s} {v.get('precision', ''):5s} "
                  f"{v.get('ms_p50', float('nan')):8.2f} ms  p95 {v.get('ms_p95', float('nan')):8.2f}{extra}"
                  + (f"  ERROR {v['error']}" if "error" in v else ""))
    print("\ngoals")
    for k, v in goals.items():
        print(f"  {k}: {v}")
    if "looks_same_live_default_vs_full_fp32" in result:
        print("looks the same:", json.dumps(result["looks_same_live_default_vs_full_fp32"]["pass"]))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def machine() -> dict:
    import onnxruntime
    import torch

    from artem_vr.inference import openvino_backend as ovb
    from artem_vr.inference.precision import cpu_fingerprint

    return {"cpu": cpu_fingerprint(), "platform": platform.platform(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "openvino": ovb.version(),
            "openvino_capabilities": list(ovb.cpu_capabilities()),
            "load_average_1_5_15_at_start": [round(v, 2) for v in os.getloadavg()]}


if __name__ == "__main__":
    main()
