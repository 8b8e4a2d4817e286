"""Flicker and texture of the live path, with and without the stabiliser.

    python benchmarks/bench_flicker.py [--quick] [--json FILE] [--picture FILE.jpg]
                                       [--models full,balanced] [--styles 3,13,...]

Synthetic sequences with exact motion (artem_vr/training/flicker.py), made from the held-out photos
(chelsea, coffee) and a held-out synthetic desktop, at the live CPU inference size 320x180:
(1) a static camera with sensor noise of 0.5 and 2 grey levels, (2) pans of 0.5, 1, 2 and 3 px a
frame with noise of 2 grey levels, (3) a static desktop with one window dragged across it, no noise.
Each frame goes through the net (onnxruntime, as live on a CPU) and then through the worker's own
:class:`Stabilizer`; both outputs are measured:

- flicker: warping error (Lai et al. 2018), [0,1] units; ratio = stabilised / raw;
- texture kept: mean Sobel magnitude of the stabilised output over the raw one;
- for the desktop also the static part alone (pixels the window never touches);
- cost: the stabiliser's ms per frame at 320x180 and 640x360 (median), a still and a moving frame.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.inference.stabilize import Stabilizer  # noqa: E402
from artem_vr.training.data import HELD_OUT, load_photos, synthetic_screen  # noqa: E402
from artem_vr.training.flicker import (mean_frame_change, pan_sequence, static_sequence,  # noqa: E402
                                        texture_energy, warping_error, window_sequence)

STYLES = (0, 3, 5, 7, 9, 11, 13, 17, 21, 25)   # eval_fast's ten
QUICK_STYLES = (3, 13)
SIZE = (320, 180)


def fit(img, size):
    import cv2

    w, h = size
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    big = cv2.resize(img, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y:y + h, x:x + w])


def sequences(frames: int, quick: bool):
    photos = load_photos(HELD_OUT)
    rng = np.random.default_rng(4242)  # training screens use other seeds
    desktop = fit(synthetic_screen(rng, (640, 360)), SIZE)
    window = fit(synthetic_screen(np.random.default_rng(77), (320, 200)), (120, 80))
    out = []
    for i, photo in enumerate(photos[:1] if quick else photos):
        small = fit(photo, SIZE)
        for sigma in (0.5, 2.0):
            s = static_sequence(small, frames, sigma, seed=i)
            s.name = f"{HELD_OUT[i]}:{s.name}"
            out.append(("static", s))
        for speed in ((0.5, 0.0), (1.0, 0.0), (2.0, 1.0), (3.0, 0.0)):
            s = pan_sequence(photo, SIZE, frames, speed, sigma=2.0, seed=i)
            s.name = f"{HELD_OUT[i]}:{s.name}"
            out.append(("pan", s))
    s = window_sequence(desktop, window, frames, start=(20, 40), speed=(3, 1))
    s.name = f"desktop:{s.name}"
    out.append(("desktop", s))
    return out


def run_sequence(engine, seq, style, stabilizer):
    raw, stab = [], []
    stabilizer.reset()
    for frame in seq.frames:
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
        y = engine.stylize_tensor(x, style)
        raw.append((y[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())
        z = stabilizer(x, y)
        stab.append((z[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy())
    return raw, stab


def measure(raw, stab, seq):
    row = {"flicker_raw": warping_error(raw, seq.warps), "flicker_stab": warping_error(stab, seq.warps)}
    row["flicker_ratio"] = row["flicker_stab"] / max(row["flicker_raw"], 1e-12)
    row["texture_kept"] = texture_energy(stab) / max(texture_energy(raw), 1e-12)
    # what a viewer of the written frames sees change, real motion included (issue 19's CLI check)
    row["frame_change_ratio"] = mean_frame_change(stab) / max(mean_frame_change(raw), 1e-12)
    if seq.static is not None and not seq.static.all():
        a = warping_error(raw, seq.warps, region=seq.static)
        b = warping_error(stab, seq.warps, region=seq.static)
        row.update(static_part_raw=a, static_part_stab=b, static_part_ratio=b / max(a, 1e-12))
    return row


def cost(repeats: int = 30):
    """Median ms of one stabiliser step at 320x180 and 640x360: a still frame and a moving one."""
    photo = load_photos(HELD_OUT)[0]
    result = {}
    for size in ((320, 180), (640, 360)):
        for kind, seq in (("still", static_sequence(fit(photo, size), repeats + 1, 2.0)),
                          ("moving", pan_sequence(photo, size, repeats + 1, (2.0, 1.0), 2.0))):
            st = Stabilizer()
            ts = []
            for frame in seq.frames:
                x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
                y = x.flip(-1)  # any picture: the cost does not depend on the style
                t = time.perf_counter()
                st(x, y)
                ts.append((time.perf_counter() - t) * 1e3)
            result[f"{kind}_{size[0]}x{size[1]}_ms"] = round(float(np.median(ts[1:])), 3)
    return result


def picture(engine, seqs, style, path):
    """For each sequence: two output frames and |frame 6 warped back by the exact motion - frame 5|
    x4 (the warping error's map), raw (top) over stabilised."""
    import cv2
    from PIL import Image, ImageDraw

    blocks = []
    for seq in seqs:
        raw, stab = run_sequence(engine, seq, style, Stabilizer())
        rows = []
        for label, frames in (("raw", raw), ("stabilised", stab)):
            a, b = frames[5], frames[6]
            mx, my, valid = seq.warps[5]
            back = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            diff = np.clip(np.abs(back.astype(int) - a.astype(int)) * 4, 0, 255).astype(np.uint8)
            diff[~valid] = 0
            row = Image.fromarray(np.concatenate([a, b, diff], axis=1))
            ImageDraw.Draw(row).text((4, 4), f"{seq.name} {label}: frames 5, 6, warping error x4",
                                     fill=(255, 255, 255))
            rows.append(np.asarray(row))
        blocks.append(np.concatenate(rows, axis=0))
    Image.fromarray(np.concatenate(blocks, axis=0)).save(path, quality=88)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one photo, styles 3 and 13, 12 frames")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--picture", help="write a raw-vs-stabilised strip (JPEG) here")
    ap.add_argument("--models", default="full,balanced", help="nets to measure (default full,balanced)")
    ap.add_argument("--precision", default="auto", help="auto (as live: bf16 where the CPU has it), fp32 or bf16")
    ap.add_argument("--styles", help="comma-separated style indices (default: eval_fast's ten, quick: 3,13)")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a Stabilizer setting, e.g. carry=0.5 (tuning; repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the live worker does beside onnxruntime (inference/worker.py)
    styles = tuple(int(s) for s in args.styles.split(",")) if args.styles else (QUICK_STYLES if args.quick else STYLES)
    frames = args.frames or (12 if args.quick else 20)
    seqs = sequences(frames, args.quick)
    kwargs = {k: ({"true": True, "false": False}.get(v.lower(), v) if v.isalpha() else float(v)) for k, v in (p.split("=", 1) for p in args.param)}
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "torch": torch.__version__},
               "size": list(SIZE), "frames": frames, "styles": list(styles), "rows": []}
    for model in args.models.split(","):
        engine = StyleEngine.load(model, device="cpu", precision=args.precision)
        results.setdefault("engines", {})[model] = f"{engine.backend} {engine.precision}"
        for kind, seq in seqs:
            for style in styles:
                raw, stab = run_sequence(engine, seq, style, Stabilizer(**kwargs))
                row = {"model": model, "kind": kind, "sequence": seq.name, "style": style, **measure(raw, stab, seq)}
                results["rows"].append(row)
        if args.picture and model == args.models.split(",")[0]:
            picks = [s for k, s in seqs if s.name.endswith(("static_noise2", "pan2x1_noise2", "window3x1"))]
            picture(engine, picks, styles[0], args.picture)
    results["cost"] = cost()
    results["summary"] = summarise(results["rows"])
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


def summarise(rows):
    out = {}
    for model in sorted({r["model"] for r in rows}):
        for seq in sorted({r["sequence"] for r in rows}):
            sel = [r for r in rows if r["model"] == model and r["sequence"] == seq]
            if not sel:
                continue
            entry = {"kind": sel[0]["kind"],
                     "flicker_ratio_mean": float(np.mean([r["flicker_ratio"] for r in sel])),
                     "flicker_ratio_worst": float(np.max([r["flicker_ratio"] for r in sel])),
                     "texture_kept_mean": float(np.mean([r["texture_kept"] for r in sel])),
                     "texture_kept_worst": float(np.min([r["texture_kept"] for r in sel])),
                     "flicker_raw_mean": float(np.mean([r["flicker_raw"] for r in sel])),
                     "frame_change_ratio_mean": float(np.mean([r["frame_change_ratio"] for r in sel]))}
            if "static_part_ratio" in sel[0]:
                entry["static_part_ratio_worst"] = float(np.max([r["static_part_ratio"] for r in sel]))
            out[f"{model}/{seq}"] = entry
    return out


def print_table(results):
    print(f"{'model/sequence':40s} {'raw flicker':>12s} {'ratio mean':>10s} {'worst':>7s} "
          f"{'texture':>8s} {'worst':>7s} {'static part':>11s} {'change':>7s}")
    for key, e in results["summary"].items():
        sp = f"{e['static_part_ratio_worst']:.3f}" if "static_part_ratio_worst" in e else "-"
        print(f"{key:40s} {e['flicker_raw_mean']:12.2e} {e['flicker_ratio_mean']:10.3f} {e['flicker_ratio_worst']:7.3f} "
              f"{e['texture_kept_mean']:8.3f} {e['texture_kept_worst']:7.3f} {sp:>11s} {e['frame_change_ratio_mean']:7.3f}")
    print("stabiliser cost (ms, median):", results["cost"])


if __name__ == "__main__":
    main()
