"""Fast (pruned) vs full net: size, CPU speed, quality on held-out photos, and the resolution study.

    python benchmarks/eval_fast.py [--fast FILE] [--json FILE] [--picture FILE] [--repeats N]

Quality: PSNR/SSIM of fast vs full at the same resolution, per style, on photos never used for
training (scikit-image's chelsea and coffee) and on held-out synthetic screens (another seed).
Speed: both nets interleaved in one run (fast, full, fast, full, ...), median ms, at 320x180 and
640x360, with each CPU backend (onnxruntime, the default, and torch); timed as in
bench_inference.py (each net runs twice back to back per round and the second run is timed).
Resolution study: with the full net at the photo's own resolution as the reference, how close are
(a) fast at the live size, upsampled, and (b) full at the live size, upsampled?
Two references for reading those numbers: the full net against itself with the photo moved by
1, 2 or 4 pixels (outputs realigned, 16-pixel margins left out), which shows how much of the
texture is tied to the net's stride-4 grid; and the CPU time (onnxruntime, interleaved) of the
whole full net, of its first three layers alone (everything up to the residual trunk), and of a
learned stem in front of the full net's own trunk and tail.
"""
from __future__ import annotations

import argparse
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

from interleave import interleaved  # noqa: E402

from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.training.data import HELD_OUT, load_photos, synthetic_screen  # noqa: E402

STYLES = (0, 3, 5, 7, 9, 11, 13, 17, 21, 25)


def psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def ssim(a, b) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def resize(img, size, method="lanczos"):
    from PIL import Image

    m = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC}[method]
    return np.asarray(Image.fromarray(img).resize(size, m))


def fit(img, box):
    h, w = img.shape[:2]
    s = min(box[0] / w, box[1] / h)
    return resize(img, (max(32, round(w * s)), max(32, round(h * s))))


def speed(fast, full, sizes, repeats, backend):
    rows = []
    for w, h in sizes:
        x = torch.rand(1, 3, h, w)
        times = interleaved({"fast": lambda: fast.stylize_tensor(x, 3), "full": lambda: full.stylize_tensor(x, 3)},
                            repeats)
        med = {k: float(np.median(v)) for k, v in times.items()}
        rows.append({"backend": backend, "width": w, "height": h, "fast_ms": round(med["fast"], 2), "full_ms": round(med["full"], 2),
                     "speedup": round(med["full"] / med["fast"], 2)})
    return rows


def quality(fast, full, images, box):
    per_style = []
    for s in STYLES:
        p, q = [], []
        for img in images.values():
            small = fit(img, box)
            a, b = fast.stylize(small, s), full.stylize(small, s)
            p.append(psnr(a, b))
            q.append(ssim(a, b))
        per_style.append({"style": s, "psnr": round(float(np.mean(p)), 2), "ssim": round(float(np.mean(q)), 4)})
    return per_style


def shift_reference(full, photos, box=(320, 180), shifts=(1, 2, 4), margin=16):
    """PSNR of the full net against itself on the same photo moved ``k`` pixels to the left."""
    rows = []
    for k in shifts:
        values = []
        for s in STYLES:
            for img in photos.values():
                small = fit(img, box)
                w = small.shape[1] - 8  # both crops the same size, a multiple of 4
                a = full.stylize(np.ascontiguousarray(small[:, :w]), s)
                b = full.stylize(np.ascontiguousarray(small[:, k:k + w]), s)
                values.append(psnr(a[margin:-margin, k + margin:-margin], b[margin:-margin, margin:-margin - k]))
        rows.append({"shift_px": k, "psnr": round(float(np.mean(values)), 2)})
    return rows


def head_time(full_engine, repeats, size=(320, 180)):
    """Median ms, onnxruntime, interleaved, of (a) the whole full net, (b) its contracting layers
    alone (to the trunk's input): no net that computes them can be faster than this, and (c) the
    fast net's learned stem (24, 48) in front of the full net's own trunk and tail (its expanding
    convs rewritten exactly at half resolution): the fastest net that keeps all of the full net
    after its head. Timing only, so (c) runs with untrained stem weights."""
    import io
    import warnings
    from dataclasses import replace

    from artem_vr.inference.generator import PackedStyle, StyleGenerator, affine_table
    from artem_vr.inference.onnx_backend import cpu_session, export_onnx

    generator = full_engine.generator.float().cpu().eval()
    table, offsets = affine_table(generator)

    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.generator = generator

        def forward(self, x, affine):
            return self.generator.features(x, PackedStyle(affine, offsets))

    affine = (torch.eye(generator.num_styles)[3:4] @ table).numpy()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Head(), (torch.rand(1, 3, 64, 64), torch.from_numpy(affine)), buf,
                          input_names=["image", "affine"], output_names=["features"],
                          dynamic_axes={"image": {2: "height", 3: "width"}}, opset_version=17, dynamo=False)

    stem_and_full_rest = StyleGenerator(replace(generator.config, stem=(24, 48), polyphase=True)).eval()
    sessions = {"head": cpu_session(buf.getvalue()), "full": cpu_session(export_onnx(generator)),
                "stem": cpu_session(export_onnx(stem_and_full_rest))}
    image = np.random.default_rng(0).random((1, 3, size[1], size[0]), dtype=np.float32)
    feeds = {"head": {"image": image, "affine": affine}, "full": {"image": image, "affine": affine},
             "stem": {"image": image, "affine": (torch.eye(generator.num_styles)[3:4]
                                                 @ affine_table(stem_and_full_rest)[0]).numpy()}}
    times = interleaved({name: (lambda s=sess, f=feeds[name]: s.run(None, f)) for name, sess in sessions.items()},
                        repeats, warmup=2)
    med = {name: float(np.median(v)) for name, v in times.items()}
    return {"width": size[0], "height": size[1], "head_ms": round(med["head"], 2), "full_ms": round(med["full"], 2),
            "head_share": round(med["head"] / med["full"], 3), "budget_2_5x_ms": round(med["full"] / 2.5, 2),
            "stem_and_full_trunk_tail_ms": round(med["stem"], 2),
            "stem_and_full_trunk_tail_speedup": round(med["full"] / med["stem"], 2)}


def resolution_study(fast, full, photos, box=(320, 180)):
    rows = []
    for s in (3, 9, 13, 21):
        r = {"style": s, "fast_low_up": [], "full_low_up": []}
        for img in photos.values():
            ref = full.stylize(img, s)
            small = fit(img, box)
            up = lambda x: resize(x, (img.shape[1], img.shape[0]), "bicubic")  # noqa: E731
            r["fast_low_up"].append(psnr(up(fast.stylize(small, s)), ref))
            r["full_low_up"].append(psnr(up(full.stylize(small, s)), ref))
        rows.append({"style": s, "fast_low_res_upsampled_psnr": round(float(np.mean(r["fast_low_up"])), 2),
                     "full_low_res_upsampled_psnr": round(float(np.mean(r["full_low_up"])), 2)})
    return rows


def side_by_side(fast, full, photo, path, styles=(3, 9, 13, 21), name="fast"):
    from PIL import Image, ImageDraw, ImageFont

    small = fit(photo, (320, 180))
    h, w = small.shape[:2]
    font = ImageFont.load_default(size=14)
    sheet = Image.new("RGB", (3 * w + 4 * 6, len(styles) * (h + 22) + 6), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    for r, s in enumerate(styles):
        y = 6 + r * (h + 22)
        for c, (label, img) in enumerate((("input", small), (f"full, style {s}", full.stylize(small, s)),
                                          (f"{name}, style {s}", fast.stylize(small, s)))):
            x = 6 + c * (w + 6)
            draw.text((x, y), label, fill=(235, 235, 235), font=font)
            sheet.paste(Image.fromarray(img), (x, y + 18))
    sheet.save(path, quality=88)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", default=str(ROOT / "models" / "fast.safetensors"))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--picture", help="write a full-vs-fast side-by-side JPEG here")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    fast = StyleEngine.load(args.fast, device="cpu")
    full = StyleEngine.load("full", device="cpu")
    photos = dict(zip(HELD_OUT, load_photos(HELD_OUT)))
    rng = np.random.default_rng(999)  # training screens use other seeds
    screens = {f"screen{i}": synthetic_screen(rng) for i in range(2)}
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__},
        "params": {"fast": sum(p.numel() for p in fast.generator.parameters()),
                   "full": sum(p.numel() for p in full.generator.parameters())},
        "gmacs_320x180": {"fast": round(fast.config.macs(320, 180) / 1e9, 3),
                          "full": round(full.config.macs(320, 180) / 1e9, 3)},
        "fast_config": json.loads(fast.config.to_json()),
        "speed_cpu": [row for backend in ("onnxruntime", "torch")
                      for row in speed(StyleEngine.load(args.fast, device="cpu", backend=backend),
                                       StyleEngine.load("full", device="cpu", backend=backend),
                                       [(320, 180), (640, 360)], args.repeats, backend)],
        "quality_photos_320x180": quality(fast, full, photos, (320, 180)),
        "quality_photos_640x360": quality(fast, full, photos, (640, 360)),
        "quality_screens_320x180": quality(fast, full, screens, (320, 180)),
        "resolution_study": resolution_study(fast, full, photos),
        "reference_full_vs_shifted_full_320x180": shift_reference(full, photos),
        "reference_full_head_cpu": head_time(full, args.repeats),
    }
    for key in ("quality_photos_320x180", "quality_photos_640x360", "quality_screens_320x180"):
        rows = result[key]
        result[key + "_mean"] = {"psnr": round(float(np.mean([r["psnr"] for r in rows])), 2),
                                 "ssim": round(float(np.mean([r["ssim"] for r in rows])), 4)}
    print(f"params      fast {result['params']['fast']:>8,}   full {result['params']['full']:>8,}")
    print(f"GMACs 320x180  fast {result['gmacs_320x180']['fast']}   full {result['gmacs_320x180']['full']}")
    print("\nCPU speed (median ms, interleaved)")
    for r in result["speed_cpu"]:
        print(f"  {r['backend']:<12} {r['width']}x{r['height']:<5} fast {r['fast_ms']:7.2f}   full {r['full_ms']:7.2f}   x{r['speedup']}")
    for key in ("quality_photos_320x180", "quality_photos_640x360", "quality_screens_320x180"):
        print(f"\n{key} (fast vs full, same resolution)")
        for r in result[key]:
            print(f"  style {r['style']:>2}  PSNR {r['psnr']:6.2f} dB  SSIM {r['ssim']:.4f}")
        m = result[key + "_mean"]
        print(f"  mean      PSNR {m['psnr']:6.2f} dB  SSIM {m['ssim']:.4f}")
    print("\nresolution study: PSNR vs the full net at the photo's own resolution")
    for r in result["resolution_study"]:
        print(f"  style {r['style']:>2}  fast@320x180 up {r['fast_low_res_upsampled_psnr']:6.2f} dB   "
              f"full@320x180 up {r['full_low_res_upsampled_psnr']:6.2f} dB")
    print("\nreference: the full net against itself, photo moved k pixels (320x180)")
    for r in result["reference_full_vs_shifted_full_320x180"]:
        print(f"  {r['shift_px']} px  PSNR {r['psnr']:6.2f} dB")
    h = result["reference_full_head_cpu"]
    print(f"\nreference: the full net's layers before the trunk alone, onnxruntime {h['width']}x{h['height']}: "
          f"{h['head_ms']} ms of the whole net's {h['full_ms']} ms ({h['head_share']:.0%}); 2.5x is {h['budget_2_5x_ms']} ms")
    print(f"reference: a learned stem in front of the full net's own trunk and tail: {h['stem_and_full_trunk_tail_ms']} ms "
          f"(x{h['stem_and_full_trunk_tail_speedup']})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.picture:
        side_by_side(fast, full, photos["coffee"], args.picture, name=Path(args.fast).stem)


if __name__ == "__main__":
    main()
