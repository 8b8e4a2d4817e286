"""An onnxruntime CPU backend for our own generator modules.

The module is exported once (legacy TorchScript exporter, dynamic height/width) into the user
cache, keyed by the weights' hash, and run by an onnxruntime session. The ONNX file is ours,
made from our safetensors weights; nothing external is loaded.

Two things are left out of the graph because they are cheaper outside it (measured with
onnxruntime 1.31 on 2 cores, fast net at 320x180): every norm's style affine is computed once per
style vector as one packed row (a numpy matmul) instead of ~50 small matmuls in every frame
(0.2 ms), and a polyphase net returns its output's 2x2 phases, shuffled into pixels by torch
(onnxruntime's DepthToSpace node and the layout reorders around it cost 0.6 ms more a frame).
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..errors import UsageError
from .generator import PackedStyle, PhaseNorm, StyleGenerator, affine_bias, affine_table
from .weights import cache_dir

# bump when the exported graph changes shape (inputs/outputs), so stale cached files are not reused
GRAPH_VERSION = "packed-affine-phases-2"  # 2: PhaseNorm.graph_form


def _weights_digest(generator: StyleGenerator) -> str:
    h = hashlib.sha256((GRAPH_VERSION + generator.config.to_json()).encode())
    for name, tensor in sorted(generator.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class _PackedGraph(torch.nn.Module):
    """What is exported: ``(image (1,3,H,W), affine (1,N)) -> stylized``, where ``affine`` is
    ``style @ table + bias`` (``affine_table``, ``affine_bias``) and ``stylized`` is ``(1,3,H,W)``, or
    ``(1,12,H/2,W/2)`` 2x2 phases for a polyphase net."""

    def __init__(self, generator: StyleGenerator):
        super().__init__()
        self.generator = generator
        table, self.offsets = affine_table(generator)
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
        return self.generator(x, PackedStyle(affine, self.offsets), phases=self.generator.config.polyphase)


def export_onnx(generator: StyleGenerator) -> bytes:
    """ONNX bytes of ``generator`` (fp32): inputs ``image (1,3,H,W)`` and ``affine (1,N)``, output as
    ``_PackedGraph``."""
    model = _PackedGraph(generator.float().cpu().eval())
    x = torch.rand(1, 3, 64, 64)
    affine = torch.full((1, generator.num_styles), 1.0 / generator.num_styles) @ model.table
    buf = io.BytesIO()
    with warnings.catch_warnings(), _graph_form(generator):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x, affine), buf, input_names=["image", "affine"], output_names=["stylized"],
                          dynamic_axes={"image": {2: "height", 3: "width"}, "stylized": {2: "height", 3: "width"}},
                          opset_version=17, dynamo=False)
    return buf.getvalue()


@contextmanager
def _graph_form(generator: StyleGenerator):
    """Phase norms in their graph form (``PhaseNorm.graph_form``) while the graph is traced."""
    norms = [m for m in generator.modules() if isinstance(m, PhaseNorm)]
    for m in norms:
        m.graph_form = True
    try:
        yield
    finally:
        for m in norms:
            m.graph_form = False


def graph_file(generator: StyleGenerator) -> Path:
    """The exported graph of ``generator`` (``export_onnx``) in the user cache, written once per
    weights (atomically) and shared by every CPU backend: onnxruntime runs it, OpenVINO reads it."""
    path = cache_dir() / f"onnx-{_weights_digest(generator)}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(export_onnx(generator))
        os.replace(tmp, path)
    return Path(path)


def cpu_session(model, threads: int = 0):
    """An onnxruntime CPU session for ``model`` (a path or ONNX bytes), set up for live use."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # The worker threads spin between the ~180 nodes of one run (waking a sleeping thread for
    # every node cost about a quarter of a fast-net frame) but stop spinning when the run
    # returns: capture, GL and the display share these cores. Measured on 2 cores, fast net,
    # 320x180: 7.5 ms a run back to back against 10.3 ms without spinning; with a 20 ms pause
    # between runs 0.66 cores busy, against 0.61 without spinning and 1.35 with plain spinning.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


class OnnxRuntimeGenerator:
    """Callable like a StyleGenerator on CPU tensors: ``(x (1,3,H,W), style (S,)|(1,S)) -> (1,3,H,W)``."""

    def __init__(self, generator: StyleGenerator, threads: int = 0):
        try:
            import onnxruntime  # noqa: F401  (missing: a clear error here, not in cpu_session)
        except ImportError:
            raise UsageError("--backend onnxruntime needs onnxruntime: pip install onnxruntime") from None
        path = graph_file(generator)
        self.path = path
        self.session = cpu_session(str(path), threads)
        self.config = generator.config
        self.num_styles = generator.num_styles
        self.table = affine_table(generator)[0].float().cpu().numpy()
        self.bias = affine_bias(generator).numpy()  # the arbitrary net's linear head; zeros for a table
        self._affine = (b"", None)  # (style weights' bytes, their packed affine): styles change rarely

    def _packed_affine(self, style: torch.Tensor) -> np.ndarray:
        style = style.reshape(1, -1) if style.dim() == 1 else style
        weights = style.float().cpu().numpy()
        key = weights.tobytes()
        if key != self._affine[0]:
            self._affine = (key, weights @ self.table + self.bias)  # (B, N): every norm's gamma and beta
        return self._affine[1]

    def stylize_uint8(self, image: np.ndarray, style: torch.Tensor) -> np.ndarray:
        """``image (H,W,3) uint8`` RGB, any size, ``style (S,)`` -> ``(H,W,3) uint8``: the same bytes as
        ``engine.to_uint8(self(x / 255, style))``, every step around the net in numpy. numpy runs on
        the calling thread, where torch's ops wake its OpenMP threads, which then spin and take the
        cores from the next run of any engine in the process (a script timing two engines
        side by side: the full net 27 -> 20 ms a 320x180 picture, measured)."""
        h, w = image.shape[:2]
        ph, pw = (-h) % 4, (-w) % 4
        x = image.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)
        if ph or pw:  # reflection, as StyleEngine.stylize_tensor pads
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
        out = self.session.run(None, {"image": x, "affine": self._packed_affine(style)[:1]})[0]
        if self.config.polyphase:  # (1, 12, h/2, w/2) phases -> (1, 3, h, w)
            b, c4, hh, ww = out.shape
            out = out.reshape(b, c4 // 4, 2, 2, hh, ww).transpose(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * hh, 2 * ww)
        out = np.clip(out[0, :, :h, :w], 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)
        return out.transpose(1, 2, 0).astype(np.uint8)

    def __call__(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        affine = self._packed_affine(style)
        outs = [self.session.run(None, {"image": x[i:i + 1].float().contiguous().numpy(),
                                        "affine": affine[min(i, affine.shape[0] - 1)][None]})[0]
                for i in range(x.shape[0])]
        out = torch.from_numpy(outs[0] if len(outs) == 1 else np.concatenate(outs))
        return depth_to_space(out) if self.config.polyphase else out


def depth_to_space(phases: torch.Tensor) -> torch.Tensor:
    """``(B, 4C, h, w)`` 2x2 phases -> ``(B, C, 2h, 2w)``, the same as ``F.pixel_shuffle(phases, 2)``
    in one strided copy (0.15 ms at 320x180 against pixel_shuffle's 0.35 ms)."""
    b, c4, h, w = phases.shape
    c = c4 // 4
    return phases.view(b, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c, 2 * h, 2 * w)
