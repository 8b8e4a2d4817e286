"""Students against issue 18's bar, "looks the same as the full net and holds still".

    python benchmarks/eval_fast.py [--nets fast balanced] [--candidate FILE ...] [--json FILE]
                                   [--record] [--picture FILE] [--repeats N] [--quick]

For each net (the shipped ``fast`` and ``balanced``, and any candidate file), through
``StyleEngine.load(net, device="cpu").stylize`` at 320x180 (the photo fitted into that box; the
backend and precision the CPU's auto picks, e.g. OpenVINO bf16: what ``--model auto`` would run),
the ten styles below, against the full net in onnxruntime fp32 (measures in
``artem_vr/training/quality.py``, 16-px margins dropped):

- A: PSNR after a sigma-2 blur, mean over styles and pictures; passes at or above the full net
  against itself with the photo moved 2 px (same pictures and styles, realigned).
- B: relative distance of style embeddings; passes at mean <= 0.05 and worst style <= 0.08.
- C: Sobel texture ratio; passes at >= 0.90.
- steadiness: mean squared frame-to-frame change over 10 noisy frames (sigma 2 grey levels) of
  each held-out photo, over the full net's; passes at <= 1.0 on average and for styles 3 and 13
  (<= 0.5 before issue 30, when the stabiliser did not yet hold still scenes).
- speed: at 320x180, each net through its own backend and precision against the full net in
  onnxruntime fp32, each engine in a process of its own, interleaved round by round
  (benchmarks/engine_procs.py: two spinning thread pools in one process slow each other);
  passes at >= 2.5x.
- PSNR against the full net: information only.

The bar is judged on the held-out photos (scikit-image's chelsea and coffee, never used for
training); held-out synthetic screens (seed 999; training screens use other seeds) are reported
beside it. ``--record`` writes each shipped net's verdict with its file's SHA-256 to
``models/quality_bar.json``, which ``--model auto`` reads (artem_vr/inference/quality_bar.py).
Earlier versions of this script measured pixel PSNR/SSIM, a resolution study and the CPU time of
the full net's head (README, benchmarks/results/eval_fast_cpu*.json; git history before issue 18).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in bench_inference.py: before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.training import quality as q  # noqa: E402
from artem_vr.training.data import HELD_OUT, load_photos, synthetic_screen  # noqa: E402

STYLES = (0, 3, 5, 7, 9, 11, 13, 17, 21, 25)
STEADY_STYLES = (3, 13)  # the bar's steadiness must hold for these styles at least
BOX = (320, 180)


def psnr(a, b) -> float:
    return q.psnr(a, b)


def resize(img, size, method="lanczos"):
    from PIL import Image

    m = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC}[method]
    return np.asarray(Image.fromarray(img).resize(size, m))


def fit(img, box):
    h, w = img.shape[:2]
    s = min(box[0] / w, box[1] / h)
    return resize(img, (max(32, round(w * s)), max(32, round(h * s))))


def references(full, pictures, styles):
    """Per picture set: the full net's outputs and its 2-px-shift blurred PSNR, per style."""
    out = {}
    for s in styles:
        out[s] = {"teacher": {k: full.stylize(img, s) for k, img in pictures.items()},
                  "shift2": float(np.mean([q.shifted_blurred_psnr(lambda x: full.stylize(x, s), img, q.SHIFT_PX)
                                           for img in pictures.values()]))}
    return out


def looks(engine, pictures, refs, embedder):
    """A, B, C and PSNR per style (means over ``pictures``) and their overall means."""
    rows = []
    for s, ref in refs.items():
        m = [q.compare(engine.stylize(img, s), ref["teacher"][k], embedder) for k, img in pictures.items()]
        rows.append({"style": s, **{key: round(float(np.mean([r[key] for r in m])), 4) for key in m[0]},
                     "shift2_reference": round(ref["shift2"], 3)})
    mean = {key: round(float(np.mean([r[key] for r in rows])), 4)
            for key in ("blurred_psnr", "embedding", "texture", "psnr", "shift2_reference")}
    worst = max(rows, key=lambda r: r["embedding"])
    verdict = {"A": mean["blurred_psnr"] >= mean["shift2_reference"],
               "B": mean["embedding"] <= q.BAR["embedding_mean"] and worst["embedding"] <= q.BAR["embedding_worst"],
               "C": mean["texture"] >= q.BAR["texture"]}
    return {"per_style": rows, "mean": mean, "worst_style_embedding": {"style": worst["style"],
                                                                       "embedding": worst["embedding"]},
            "pass": verdict}


def steadiness(engine, photos, styles, frames):
    """Per style: mean over photos of quality.steadiness (same noise seeds for every net)."""
    return {s: float(np.mean([q.steadiness(lambda x: engine.stylize(x, s), p, frames=frames, seed=i)
                              for i, p in enumerate(photos.values())])) for s in styles}


def speed(engines, full, repeats):
    from engine_procs import timed

    specs = {"full": {"model": "full", "backend": full.backend, "precision": full.precision}}
    specs.update({name: {"model": name, "backend": e.backend, "precision": e.precision} for name, e in engines.items()})
    res = timed(specs, BOX, repeats)
    med = {k: float(np.median(v["ms"])) for k, v in res.items()}
    return {name: {"ms": round(med[name], 2), "full_ms": round(med["full"], 2), "speedup": round(med["full"] / med[name], 2),
                   "backend": engines[name].backend, "precision": engines[name].precision} for name in engines}


def judge(photos_look, steady, full_steady, speed_row) -> dict:
    ratio = {s: steady[s] / max(full_steady[s], 1e-12) for s in steady}
    mean_ratio = float(np.mean(list(steady.values())) / max(np.mean(list(full_steady.values())), 1e-12))
    steady_pass = mean_ratio <= q.BAR["steadiness"] and all(ratio[s] <= q.BAR["steadiness"] for s in STEADY_STYLES
                                                            if s in ratio)
    looks_same = all(photos_look["pass"].values())
    return {"A_blurred_psnr": photos_look["mean"]["blurred_psnr"], "A_reference": photos_look["mean"]["shift2_reference"],
            "B_embedding_mean": photos_look["mean"]["embedding"],
            "B_embedding_worst": photos_look["worst_style_embedding"]["embedding"],
            "C_texture": photos_look["mean"]["texture"], "psnr": photos_look["mean"]["psnr"],
            "steadiness_vs_full": round(mean_ratio, 3),
            "steadiness_vs_full_per_style": {str(s): round(r, 3) for s, r in ratio.items()},
            "speedup": speed_row["speedup"], "ms": speed_row["ms"], "full_ms": speed_row["full_ms"],
            "backend": speed_row["backend"], "precision": speed_row["precision"],
            "pass": {**photos_look["pass"], "steadiness": steady_pass, "speed": speed_row["speedup"] >= q.BAR["speedup"]},
            "looks_same": looks_same,
            "passes": looks_same and steady_pass and speed_row["speedup"] >= q.BAR["speedup"]}


def side_by_side(engines, full, photo, path, styles=(3, 9, 13, 21)):
    """Input, full, full on the photo moved 1 px (realigned), then each net, one row per style."""
    from PIL import Image, ImageDraw, ImageFont

    small = fit(photo, BOX)
    w = small.shape[1] - 8
    base = np.ascontiguousarray(small[:, :w])
    moved_in = np.ascontiguousarray(small[:, 1:1 + w])
    h = small.shape[0]
    cols = 3 + len(engines)
    font = ImageFont.load_default(size=14)
    sheet = Image.new("RGB", (cols * (w + 6) + 6, len(styles) * (h + 22) + 6), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    for r, s in enumerate(styles):
        y = 6 + r * (h + 22)
        moved = full.stylize(moved_in, s)
        moved = np.concatenate([moved[:, :1], moved[:, :-1]], 1)  # realigned: column x shows input column x
        tiles = [("input", base), (f"full, style {s}", full.stylize(base, s)), ("full, photo moved 1 px", moved)]
        tiles += [(f"{Path(name).stem}, style {s}", e.stylize(base, s)) for name, e in engines.items()]
        for c, (label, img) in enumerate(tiles):
            x = 6 + c * (w + 6)
            draw.text((x, y), label, fill=(235, 235, 235), font=font)
            sheet.paste(Image.fromarray(img), (x, y + 18))
    sheet.save(path, quality=85)


def write_record(path: Path, result: dict, shipped) -> None:
    from artem_vr.inference.quality_bar import file_sha256

    old = json.loads(path.read_text()) if path.is_file() else {}
    nets = old.get("nets", {}) if isinstance(old.get("nets"), dict) else {}
    for name in shipped:
        r = result["nets"][name]
        nets[name] = {"sha256": file_sha256(Path(r["file"])), "device": "cpu", "measured": result["date"],
                      **{k: r[k] for k in ("looks_same", "passes", "pass", "A_blurred_psnr", "A_reference",
                                           "B_embedding_mean", "B_embedding_worst", "C_texture",
                                           "steadiness_vs_full", "speedup", "backend", "precision")}}
    data = {"about": "issue 18's bar per shipped net, written by benchmarks/eval_fast.py --record; read by "
                     "--model auto (artem_vr/inference/quality_bar.py), which trusts an entry only while the "
                     "model file's SHA-256 matches", "bar": q.BAR, "nets": nets}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="*", default=["fast", "balanced"], help="shipped nets (default fast balanced)")
    ap.add_argument("--candidate", nargs="*", default=[], help="other .safetensors files to judge")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--record", action="store_true", help="write the shipped nets' verdicts to models/quality_bar.json")
    ap.add_argument("--picture", help="write a side-by-side JPEG (input, full, full moved 1 px, each net) here")
    ap.add_argument("--repeats", type=int, default=15, help="timing rounds (default 15)")
    ap.add_argument("--quick", action="store_true", help="4 styles, 5 noisy frames, 7 timing rounds")
    args = ap.parse_args()

    styles = (3, 9, 13, 21) if args.quick else STYLES
    frames = 5 if args.quick else q.STEADY_FRAMES
    repeats = 7 if args.quick else args.repeats
    names = list(args.nets) + [str(c) for c in args.candidate]
    engines = {n: StyleEngine.load(n, device="cpu") for n in names}
    full = StyleEngine.load("full", device="cpu", backend="onnxruntime", precision="fp32")
    embedder = q.StyleEmbedder()
    photos = {k: fit(img, BOX) for k, img in zip(HELD_OUT, load_photos(HELD_OUT))}
    rng = np.random.default_rng(999)  # training screens use other seeds
    screens = {f"screen{i}": fit(synthetic_screen(rng), BOX) for i in range(2)}

    speeds = speed(engines, full, repeats)
    photo_refs, screen_refs = references(full, photos, styles), references(full, screens, styles)
    full_steady = steadiness(full, photos, styles, frames)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__},
              "conditions": {"size": list(BOX), "styles": list(styles), "photos": list(photos),
                             "screens": "2 synthetic, seed 999", "noisy_frames": frames, "timing_rounds": repeats,
                             "bar": q.BAR},
              "full_steadiness": {str(s): v for s, v in full_steady.items()}, "nets": {}}
    for name, engine in engines.items():
        photos_look = looks(engine, photos, photo_refs, embedder)
        row = judge(photos_look, steadiness(engine, photos, styles, frames), full_steady, speeds[name])
        row.update(file=_model_file(name), params=sum(
            p.numel() for p in engine.generator.parameters()), photos=photos_look,
            screens=looks(engine, screens, screen_refs, embedder))
        result["nets"][name] = row
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.record:
        from artem_vr.resources import models_dir

        write_record(models_dir() / "quality_bar.json", result, [n for n in args.nets if n in ("fast", "balanced")])
    if args.picture:
        side_by_side(engines, full, load_photos(["coffee"])[0], args.picture)


def _model_file(name: str) -> str:
    from artem_vr.inference.engine import resolve_model_path

    return str(resolve_model_path(name))


def print_table(result: dict) -> None:
    def mark(ok):
        return "ok" if ok else "NO"

    print(f"bar: A >= full moved {q.SHIFT_PX} px, B <= {q.BAR['embedding_mean']} (worst style "
          f"{q.BAR['embedding_worst']}), C >= {q.BAR['texture']}, steadiness <= {q.BAR['steadiness']}x full, "
          f"speed >= {q.BAR['speedup']}x   ({result['conditions']['size'][0]}x{result['conditions']['size'][1]}, "
          f"held-out photos)")
    print(f"{'net':<28} {'A dB (ref)':>14} {'B mean/worst':>14} {'C':>6} {'steady':>7} {'speed':>6} {'PSNR':>6}  verdict")
    for name, r in result["nets"].items():
        p = r["pass"]
        print(f"{Path(name).name[:28]:<28} {r['A_blurred_psnr']:6.2f} ({r['A_reference']:5.2f}) "
              f"{r['B_embedding_mean']:6.3f}/{r['B_embedding_worst']:.3f} {r['C_texture']:6.3f} "
              f"{r['steadiness_vs_full']:6.2f}x {r['speedup']:5.2f}x {r['psnr']:6.2f}  "
              f"A {mark(p['A'])} B {mark(p['B'])} C {mark(p['C'])} steady {mark(p['steadiness'])} "
              f"speed {mark(p['speed'])} -> {'PASSES' if r['passes'] else 'fails'}")
    for name, r in result["nets"].items():
        print(f"\n{Path(name).name}: per style (photos | screens)   A dB  ref   B      C      steady  PSNR")
        steady = r["steadiness_vs_full_per_style"]
        for a, b in zip(r["photos"]["per_style"], r["screens"]["per_style"]):
            print(f"  style {a['style']:>2}  photos  {a['blurred_psnr']:6.2f} {a['shift2_reference']:5.2f} "
                  f"{a['embedding']:6.3f} {a['texture']:6.3f} {steady[str(a['style'])]:6.2f}x {a['psnr']:6.2f}"
                  f"   | screens {b['blurred_psnr']:6.2f} {b['shift2_reference']:5.2f} {b['embedding']:6.3f} "
                  f"{b['texture']:6.3f} {b['psnr']:6.2f}")
        m = r["screens"]["mean"]
        print(f"  screens mean: A {m['blurred_psnr']:.2f} (ref {m['shift2_reference']:.2f}) B {m['embedding']:.3f} "
              f"C {m['texture']:.3f} -> A {mark(r['screens']['pass']['A'])} B {mark(r['screens']['pass']['B'])} "
              f"C {mark(r['screens']['pass']['C'])}")


if __name__ == "__main__":
    main()
