"""How far can the full net be cut *without* training, and how fast can this CPU run it at all?

    python benchmarks/fast_limits.py [--json FILE] [--repeats N]

Reference measurements for issue #5's two goals (28 dB against the full net, 2.5x its speed), all
at 320x180 on the held-out photos and eval_fast.py's ten styles; PSNR is of the changed full net
against the unchanged one:

- weights rounded (fp16, bf16) or multiplied by 1 + N(0, sigma) noise: how sensitive the output is
  to small, unstructured changes of the weights;
- every conv of one layer group replaced by its best rank-r approximation (truncated SVD of the
  weight as a ``(C_out, C_in*k*k)`` matrix, i.e. a conv to r channels and a 1x1 conv back): how much
  of each group a structured cut may remove before retraining, with the conv MACs it would save;
- the whole net with its convs quantised to int8 by onnxruntime (static, per-channel weights, QDQ,
  calibrated on two training photos): PSNR and time against fp32, interleaved;
- onnxruntime's per-node profile of the full net: time in convs and in everything else, and the
  convs' GMAC/s, to compare with this CPU's fp32 FMA peak.
"""
from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in bench_inference.py: before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval_fast import STYLES, fit, psnr  # noqa: E402
from interleave import interleaved  # noqa: E402

from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.inference.generator import affine_table  # noqa: E402
from artem_vr.inference.onnx_backend import cpu_session, export_onnx  # noqa: E402
from artem_vr.training.data import HELD_OUT, load_photos  # noqa: E402

SIZE = (320, 180)
GROUPS = {"head 9x9 conv": ("contract.0",), "stride-2 convs": ("contract.1", "contract.2"), "residual trunk": ("res.",)}


def to_uint8(y: torch.Tensor) -> np.ndarray:
    return (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


class Bench:
    def __init__(self, generator, photos):
        self.generator = generator
        self.inputs = [torch.from_numpy(p.transpose(2, 0, 1)[None].astype(np.float32) / 255) for p in photos]
        self.reference = {(s, i): self.run(generator, s, x) for s in STYLES for i, x in enumerate(self.inputs)}

    def run(self, generator, style, x):
        weights = torch.zeros(1, generator.num_styles)
        weights[0, style] = 1
        with torch.no_grad():
            return to_uint8(generator(x, weights))

    def psnr(self, generator) -> float:
        return round(float(np.mean([psnr(self.run(generator, s, x), self.reference[(s, i)])
                                    for s in STYLES for i, x in enumerate(self.inputs)])), 2)


def perturbed(generator, kind: str, sigma: float = 0.0):
    g = copy.deepcopy(generator)
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in g.parameters():
            if p.dim() != 4:
                continue
            if kind == "fp16":
                p.copy_(p.half().float())
            elif kind == "bf16":
                p.copy_(p.bfloat16().float())
            else:
                p.mul_(1 + sigma * torch.randn(p.shape, generator=rng))
    return g


def low_rank(generator, prefixes, rank: int):
    """``(generator with those convs at rank r, conv MACs per pixel saved)``."""
    g = copy.deepcopy(generator)
    saved = 0.0
    scale = {"contract.0": 1, "contract.1": 1 / 4, "contract.2": 1 / 16, "res.": 1 / 16}
    with torch.no_grad():
        for name, module in g.named_modules():
            if not isinstance(module, torch.nn.Conv2d) or not name.startswith(prefixes):
                continue
            w = module.weight
            cout, fan_in = w.shape[0], w[0].numel()
            if rank >= cout:
                continue
            u, s, vt = torch.linalg.svd(w.reshape(cout, fan_in), full_matrices=False)
            w.copy_(((u[:, :rank] * s[:rank]) @ vt[:rank]).reshape(w.shape))
            per_px = next(v for k, v in scale.items() if name.startswith(k))
            saved += (cout * fan_in - rank * (fan_in + cout)) * per_px
    return g, saved


def int8_reference(generator, photos, repeats):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    import skimage.data

    table = affine_table(generator)[0].numpy()

    def feed(img, style):
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32) / 255)
        return {"image": x, "affine": (np.eye(generator.num_styles, dtype=np.float32)[style:style + 1] @ table)}

    calibration = [fit(getattr(skimage.data, n)(), SIZE) for n in ("astronaut", "rocket")]  # training photos

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([feed(img, s) for img in calibration for s in (0, 3, 9, 13, 21)])

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre, int8 = (str(Path(tmp) / n) for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        Path(fp32).write_bytes(export_onnx(generator))
        quant_pre_process(fp32, pre)
        quantize_static(pre, int8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
        sessions = {"fp32": cpu_session(fp32), "int8": cpu_session(int8)}
        values = []
        for s in STYLES:
            for img in photos:
                f = feed(img, s)
                a, b = (np.clip(sessions[k].run(None, f)[0][0].transpose(1, 2, 0), 0, 1) for k in ("fp32", "int8"))
                values.append(psnr((a * 255 + 0.5).astype(np.uint8), (b * 255 + 0.5).astype(np.uint8)))
        f = feed(photos[0], 3)
        times = interleaved({k: (lambda s=sess: s.run(None, f)) for k, sess in sessions.items()}, repeats, warmup=2)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"psnr": round(float(np.mean(values)), 2), "fp32_ms": round(med["fp32"], 2), "int8_ms": round(med["int8"], 2),
            "speedup": round(med["fp32"] / med["int8"], 2)}


def node_profile(generator, runs: int = 30):
    """Median per-node kernel time of the full net in onnxruntime, split into convs and the rest."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "profile")
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
        sess = ort.InferenceSession(export_onnx(generator), opts, providers=["CPUExecutionProvider"])
        table = affine_table(generator)[0].numpy()
        feed = {"image": np.random.default_rng(0).random((1, 3, SIZE[1], SIZE[0]), dtype=np.float32),
                "affine": np.eye(generator.num_styles, dtype=np.float32)[3:4] @ table}
        for _ in range(runs):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_node = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[(e["name"][:-len("_kernel_time")], e["args"].get("op_name", ""))].append(e["dur"])
    conv_ms = other_ms = 0.0
    for (_, op), durations in per_node.items():
        ms = float(np.median(durations[5:])) / 1000
        if "Conv" in op:
            conv_ms += ms
        else:
            other_ms += ms
    gmacs = generator.config.macs(*SIZE) / 1e9
    return {"conv_ms": round(conv_ms, 2), "other_ms": round(other_ms, 2), "conv_gmacs": round(gmacs, 3),
            "conv_gmac_per_s": round(gmacs / conv_ms * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    full = StyleEngine.load("full", device="cpu", backend="torch").generator.float().cpu().eval()
    photos = [fit(p, SIZE) for p in load_photos(HELD_OUT)]
    bench = Bench(full, photos)
    total = full.config.macs(*SIZE) / (SIZE[0] * SIZE[1])
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__}, "size": list(SIZE), "styles": list(STYLES)}

    result["weights_perturbed"] = [{"change": kind, "psnr": bench.psnr(perturbed(full, kind))} for kind in ("fp16", "bf16")]
    result["weights_perturbed"] += [{"change": f"x(1+N(0,{s}))", "psnr": bench.psnr(perturbed(full, "noise", s))}
                                    for s in (0.003, 0.01, 0.03)]
    result["low_rank"] = []
    for group, prefixes in GROUPS.items():
        for rank in (24, 16, 12, 8):
            g, saved = low_rank(full, prefixes, rank)
            result["low_rank"].append({"group": group, "rank": rank, "psnr": bench.psnr(g),
                                       "macs_saved": round(saved / total, 3)})
    result["int8_onnxruntime"] = int8_reference(full, photos, args.repeats)
    result["profile_onnxruntime"] = node_profile(full)

    print(f"full net vs itself changed, {SIZE[0]}x{SIZE[1]}, held-out photos, {len(STYLES)} styles (PSNR)")
    for r in result["weights_perturbed"]:
        print(f"  weights {r['change']:<16} {r['psnr']:6.2f} dB")
    for r in result["low_rank"]:
        print(f"  {r['group']:<15} rank {r['rank']:>2}  {r['psnr']:6.2f} dB   saves {r['macs_saved']:.0%} of the MACs")
    q = result["int8_onnxruntime"]
    print(f"  int8 convs (onnxruntime QDQ)  {q['psnr']:6.2f} dB   {q['int8_ms']} ms vs fp32 {q['fp32_ms']} ms (x{q['speedup']})")
    p = result["profile_onnxruntime"]
    print(f"\nonnxruntime profile: convs {p['conv_ms']} ms ({p['conv_gmacs']} GMAC, {p['conv_gmac_per_s']} GMAC/s), "
          f"everything else {p['other_ms']} ms")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
