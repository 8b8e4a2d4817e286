"""bf16 against fp32 for every net, style and picture, beside how far fp32 moves by itself.

    python benchmarks/bf16_accuracy.py [--nets fast,balanced,full,arbitrary] [--json FILE]

Issue 30 asks each net in bf16 to stay >= 45 dB from its own fp32, per style. This measures it on
12 scikit-image photos and a synthetic screen at 320x180 (fitted, aspect kept), every built-in style
(the arbitrary net: four photos taken as paintings), two ways:

- ``live``: the float path the live worker runs (``stylize_tensor`` on the area-resized picture);
- ``api``: bytes in and out (``StyleEngine.stylize`` on the picture rounded to 8 bits).

Beside each, a yardstick of the fp32 net's own sensitivity: fp32 on the resized picture against
fp32 on the same picture stored in 8 bits (at most half a level per pixel changed). Where bf16
misses 45 dB, the yardstick says whether bf16 moved the picture more than storing the input as an
8-bit PNG does, and measure A (blurred PSNR, artem_vr/training/quality.py) says whether a person
would see it. Writes a table and JSON (default benchmarks/results/bf16_accuracy_cpu.json).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHOTOS = ("astronaut", "rocket", "coffee", "chelsea", "hubble_deep_field", "immunohistochemistry",
          "stereo_motorcycle", "camera", "coins", "retina", "colorwheel")
PAINTINGS = ("astronaut", "rocket", "coffee", "chelsea")
BAR_DB = 45.0


def pictures() -> dict:
    """name -> ``(1,3,h,w)`` float in [0,1], fitted into 320x180 by area resizing (not rounded)."""
    from skimage import data

    from artem_vr.training.data import synthetic_screen

    def fit(img):
        img = img[0] if isinstance(img, tuple) else img
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        t = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255.0
        h, w = img.shape[:2]
        s = min(320 / w, 180 / h)
        return torch.nn.functional.interpolate(t, size=(round(h * s), round(w * s)), mode="area")

    pics = {name: fit(getattr(data, name)()) for name in PHOTOS}
    pics["screen"] = fit(synthetic_screen(np.random.default_rng(999)))
    return pics


def measure(net: str, pics: dict) -> dict:
    from skimage import data

    from artem_vr import StyleEngine
    from artem_vr.inference.engine import to_uint8
    from artem_vr.inference.precision import psnr
    from artem_vr.training import quality as q

    fp32 = StyleEngine.load(net, device="cpu", backend="onnxruntime", precision="fp32")
    bf16 = StyleEngine.load(net, device="cpu", backend="openvino", precision="bf16")
    if net == "arbitrary":
        styles = {name: bf16.style_vector(getattr(data, name)()) for name in PAINTINGS}
    else:
        styles = {str(s): s for s in range(fp32.num_styles)}
    cases = []
    for label, style in styles.items():
        w = fp32.weights(style)
        for name, x in pics.items():
            x8 = torch.round(x * 255.0) / 255.0
            ref = fp32.stylize_tensor(x, w)
            u8 = to_uint8(x8)[0]
            ref_api = fp32.stylize(u8, style)
            api = bf16.stylize(u8, style)
            cases.append({"style": label, "picture": name,
                          "live_db": round(psnr(bf16.stylize_tensor(x, w), ref), 2),
                          "api_db": round(q.psnr(api, ref_api), 2),
                          "yardstick_db": round(psnr(fp32.stylize_tensor(x8, w), ref), 2),
                          "api_blurred_db": round(q.blurred_psnr(api, ref_api), 2)})
    live = np.array([c["live_db"] for c in cases])
    api = np.array([c["api_db"] for c in cases])
    yard = np.array([c["yardstick_db"] for c in cases])
    worst = min(cases, key=lambda c: min(c["live_db"], c["api_db"]))
    below = [c for c in cases if min(c["live_db"], c["api_db"]) < BAR_DB]
    return {"cases": len(cases),
            "live_median_db": round(float(np.median(live)), 2), "api_median_db": round(float(np.median(api)), 2),
            "yardstick_median_db": round(float(np.median(yard)), 2),
            "below_45_live": int((live < BAR_DB).sum()), "below_45_api": int((api < BAR_DB).sum()),
            "below_45_and_below_yardstick_minus_3": sum(
                1 for c in below if min(c["live_db"], c["api_db"]) < c["yardstick_db"] - 3.0),
            "min_api_blurred_db": round(min(c["api_blurred_db"] for c in cases), 2),
            "worst": worst, "below_45": below}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="fast,balanced,full,arbitrary")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bf16_accuracy_cpu.json"))
    args = ap.parse_args()
    from artem_vr.inference import openvino_backend as ovb

    if not ovb.offers_bf16():
        sys.exit("this CPU has no bf16 (OpenVINO reports no BF16 capability)")
    torch.set_num_threads(1)  # as the live worker does beside OpenVINO
    pics = pictures()
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "openvino": ovb.version(), "size": "320x180 (fitted)", "pictures": list(pics), "nets": {}}
    print(f"{'net':10s} {'cases':>5s} {'live med':>8s} {'api med':>8s} {'yard med':>8s} {'<45 live':>8s} "
          f"{'<45 api':>8s} {'<yard-3':>7s} {'min A':>6s}  worst (style, picture: live/api/yardstick dB)")
    for net in args.nets.split(","):
        r = measure(net, pics)
        result["nets"][net] = r
        w = r["worst"]
        print(f"{net:10s} {r['cases']:5d} {r['live_median_db']:8.1f} {r['api_median_db']:8.1f} "
              f"{r['yardstick_median_db']:8.1f} {r['below_45_live']:8d} {r['below_45_api']:8d} "
              f"{r['below_45_and_below_yardstick_minus_3']:7d} {r['min_api_blurred_db']:6.1f}  "
              f"{w['style']}, {w['picture']}: {w['live_db']}/{w['api_db']}/{w['yardstick_db']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
