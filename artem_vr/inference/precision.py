"""Precision and CPU backend policy: what a CPU engine runs (fp32 | bf16; fp16 is CUDA's).

``auto`` on the CPU times the candidates briefly on first use and remembers the winner:
onnxruntime fp32, OpenVINO fp32, and OpenVINO bf16 where OpenVINO reports ``BF16`` in the CPU's
capabilities (AVX-512 BF16 or AMX). Each runs alone, in turn (never two thread pools spinning at
once), on a real photo at the size class's size; a bf16 candidate must also match the fp32 output
at >= ``MIN_PSNR`` dB, or it is out. The fastest left wins. The choice is kept in
``<user cache>/precision.json`` keyed by the CPU (model name and its vector flags), the onnxruntime
and OpenVINO versions, the exported graph (a hash of the weights), the size class and what was
asked, so a changed CPU, library or model measures again.

Measured on the development CPU (AMD EPYC Zen 4, 2 cores): bf16 through OpenVINO is 2-2.4x
onnxruntime fp32 for the full, balanced and arbitrary nets at 320x180, at 50-55 dB against fp32
(benchmarks/bench_precision.py, README "Performance").
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..errors import DeviceError, UsageError
from . import openvino_backend as ovb

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_BACKENDS = ("onnxruntime", "openvino", "torch")
MIN_PSNR = 45.0  # dB against the same net in fp32 (measured 50-55 for bf16)
# size classes: a requested size is measured at the class it falls in (by pixel count)
SIZE_CLASSES = ((320, 180), (640, 360))
RECORD_FILE = "precision.json"
WARMUP, TIMED, PASSES = 2, 3, 4
PROBE_STYLE = 25  # the live default style (tapestry): what the timing and the accuracy check run


@dataclass
class Choice:
    """What a CPU engine runs: ``backend``, ``precision``, the one-line ``why``, and the timings
    (``ms`` per candidate ``"backend/precision"``) and ``psnr`` (dB against fp32) behind it."""
    backend: str
    precision: str
    why: str
    ms: Dict[str, float] = field(default_factory=dict)
    psnr: Dict[str, float] = field(default_factory=dict)
    size: Tuple[int, int] = SIZE_CLASSES[0]
    cached: bool = False
    forward: Optional[Callable] = None  # the measured winner, ready to run (None: build it)


def check_request(device_type: str, backend: str, precision: str) -> None:
    """UsageError/DeviceError (one line, exit 2) for a precision that cannot run as asked."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    if device_type == "cuda":
        if precision == "bf16":
            raise UsageError("precision bf16 is for the CPU (through OpenVINO); on CUDA use fp16 or fp32")
        if backend in ("onnxruntime", "openvino"):
            raise UsageError(f"backend {backend} runs on the CPU; use device cpu (or backend torch)")
        return
    if precision == "fp16":
        raise UsageError("fp16 needs a CUDA device; on the CPU use precision bf16 (where the CPU has it), fp32 or auto")
    if precision == "bf16":
        if backend in ("torch", "onnxruntime"):
            raise UsageError(f"precision bf16 on the CPU runs through OpenVINO (backend openvino or auto): "
                             f"{'onnxruntime has no CPU bf16' if backend == 'onnxruntime' else 'torch CPU bf16 convs are slow'}")
        if not ovb.available():
            raise UsageError("precision bf16 needs OpenVINO: pip install openvino")
        if not ovb.offers_bf16():
            raise DeviceError(ovb.bf16_missing())


def size_class(size: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """``(W, H)`` -> the class it is measured at: 320x180 up to 1.5x its pixels, else 640x360."""
    if not size:
        return SIZE_CLASSES[0]
    px = size[0] * size[1]
    return SIZE_CLASSES[0] if px <= 1.5 * SIZE_CLASSES[0][0] * SIZE_CLASSES[0][1] else SIZE_CLASSES[1]


def cpu_fingerprint() -> str:
    """The CPU's model name, the vector flags that decide speed, and the cores this process may use."""
    name, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "avx_vnni")
                    flags = [f for f in value.split() if f in wanted]
                    break
    except OSError:
        pass
    return f"{name} [{' '.join(flags)}] x{ovb.default_threads()}"


def _versions() -> str:
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = "-"
    return f"ort={ort} ov={ovb.version() or '-'}"


def _record_path() -> Path:
    from .weights import cache_dir

    return cache_dir() / RECORD_FILE


def _read_records() -> dict:
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_record(key: str, entry: dict) -> None:
    path = _record_path()
    data = _read_records()
    data[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only cache: measure again next time
        pass


def probe_picture(size: Tuple[int, int]) -> torch.Tensor:
    """The bundled astronaut photo at ``size`` (W,H), ``(1,3,H,W) float [0,1]``: what the timing and
    the accuracy check run on."""
    from PIL import Image

    from ..resources import assets_dir

    img = Image.open(assets_dir() / "astronaut.jpg").convert("RGB").resize(size, Image.BILINEAR)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)[None].float() / 255.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in ``[0,1]`` (clamped, peak 1; 99 when equal)."""
    mse = float(((a.float().clamp(0, 1) - b.float().clamp(0, 1)) ** 2).mean())
    return 99.0 if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def _build(net, backend: str, precision: str):
    if backend == "onnxruntime":
        from .onnx_backend import OnnxRuntimeGenerator

        return OnnxRuntimeGenerator(net)
    return ovb.OpenVinoGenerator(net, precision)


def _time(candidates: Dict[str, Callable], x: torch.Tensor, style: torch.Tensor) -> Dict[str, float]:
    """ms per candidate: each runs alone in blocks (warm-up, timed runs), in turn, ``PASSES`` times;
    the 20th percentile of its timed runs, so that other work on a busy machine, which only ever
    adds time, decides less."""
    times: Dict[str, List[float]] = {k: [] for k in candidates}
    for _ in range(PASSES):
        for name, fn in candidates.items():
            for _ in range(WARMUP):
                fn(x, style)
            for _ in range(TIMED):
                t = time.perf_counter()
                fn(x, style)
                times[name].append((time.perf_counter() - t) * 1000.0)
            time.sleep(0.03)  # let this engine's threads go idle before the next one runs
    return {k: float(np.percentile(v, 20)) for k, v in times.items()}


def choose(net, backend: str = "auto", precision: str = "auto",
           size: Optional[Tuple[int, int]] = None) -> Choice:
    """The CPU backend and precision for ``net`` (a StyleGenerator; polyphase where the CPU graph is),
    given what was asked (``backend``: auto | onnxruntime | openvino | torch; ``precision``: auto |
    fp32 | bf16) and the inference ``size`` (W,H) it will mostly run at. Call ``check_request`` first."""
    if backend == "torch":
        return Choice("torch", "fp32", "asked for torch (fp32 on the CPU)")
    if backend == "onnxruntime":
        return Choice("onnxruntime", "fp32", "asked for onnxruntime (fp32 only on the CPU)")
    options: List[Tuple[str, str]] = []
    if backend == "auto" and precision in ("auto", "fp32"):
        options.append(("onnxruntime", "fp32"))
    if ovb.available():
        if precision in ("auto", "fp32"):
            options.append(("openvino", "fp32"))
        if precision in ("auto", "bf16") and ovb.offers_bf16():
            options.append(("openvino", "bf16"))
    if not options:  # asked for openvino without it installed: its own error
        return Choice("openvino", "fp32", "", forward=_build(net, "openvino", "fp32"))
    if len(options) == 1:
        b, p = options[0]
        if not ovb.available():
            why = f"{b} {p}: OpenVINO is not installed"
        elif backend == "openvino" and precision != "auto":
            why = f"asked for openvino {p}"
        elif backend == "openvino":
            why = f"asked for openvino; {p}, the one precision it has on this CPU"
        else:
            why = f"asked for {p}: {b} is the one backend that runs it on this CPU"
        return Choice(b, p, why)

    from .onnx_backend import _weights_digest

    measure = size_class(size)
    key = " | ".join([cpu_fingerprint(), _versions(), _weights_digest(net), f"{measure[0]}x{measure[1]}",
                      f"{backend}/{precision}"])
    entry = _read_records().get(key)
    if isinstance(entry, dict) and (entry.get("backend"), entry.get("precision")) in options:
        return Choice(entry["backend"], entry["precision"], entry.get("why", ""), entry.get("ms", {}),
                      entry.get("psnr", {}), measure, cached=True)
    return _measure(net, options, measure, key)


def _measure(net, options, measure, key) -> Choice:
    x = probe_picture(measure)
    styles = getattr(net, "num_styles", 0) or net.config.num_styles
    style = torch.zeros(styles)
    style[min(PROBE_STYLE, styles - 1)] = 1.0
    if net.config.style_head == "linear":  # the arbitrary net: a fixed style vector
        style = torch.from_numpy(np.random.default_rng(0).normal(size=styles).astype(np.float32))
    built, failed = {}, {}
    for b, p in options:
        try:
            built[f"{b}/{p}"] = _build(net, b, p)
        except Exception as exc:  # a backend that cannot run here is no candidate
            failed[f"{b}/{p}"] = " ".join(str(exc).split())[:120] or type(exc).__name__
    for fn in built.values():  # time the size's own compilation, not the dynamic stand-in
        if hasattr(fn, "prepare"):
            fn.prepare([tuple(x.shape[-2:])], wait=True)
    ms = _time(built, x, style)
    reference = next((fn for name, fn in built.items() if name.endswith("/fp32")), None)
    ref_out = reference(x, style) if reference is not None else None
    scores = {name: round(psnr(fn(x, style), ref_out), 1) for name, fn in built.items()
              if ref_out is not None and not name.endswith("/fp32")}
    passing = [n for n in built if scores.get(n, 99.0) >= MIN_PSNR]
    best = min(passing, key=lambda n: ms[n])
    backend, precision = best.split("/")
    why = (f"fastest at {measure[0]}x{measure[1]}: " + ", ".join(f"{n} {ms[n]:.1f} ms" for n in sorted(ms, key=ms.get))
           + (f"; bf16 vs fp32 {scores[best]:.1f} dB" if best in scores else "")
           + "".join(f"; {n} out: {scores[n]:.1f} dB < {MIN_PSNR:g}" for n in built if n not in passing)
           + "".join(f"; {n} failed: {why}" for n, why in failed.items()))
    for name in list(built):  # drop the losers now: no idle session's threads beside the winner
        if name != best:
            del built[name]
    entry = {"backend": backend, "precision": precision, "why": why, "ms": {k: round(v, 2) for k, v in ms.items()},
             "psnr": scores, "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    _write_record(key, entry)
    return Choice(backend, precision, why, entry["ms"], scores, measure, forward=built[best])
