"""An onnxruntime CPU backend for our own generator modules.

The module is exported once (legacy TorchScript exporter, dynamic height/width) into the user
cache, keyed by the weights' hash, and run by an onnxruntime session. The ONNX file is ours,
made from our safetensors weights; nothing external is loaded.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import UsageError
from .generator import StyleGenerator
from .weights import cache_dir


def _weights_digest(generator: StyleGenerator) -> str:
    h = hashlib.sha256(generator.config.to_json().encode())
    for name, tensor in sorted(generator.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def export_onnx(generator: StyleGenerator) -> bytes:
    """ONNX bytes of ``generator`` (fp32): inputs ``image (1,3,H,W)``, ``style (1,S)``."""
    model = generator.float().cpu().eval()
    x = torch.rand(1, 3, 64, 64)
    s = torch.full((1, generator.num_styles), 1.0 / generator.num_styles)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x, s), buf, input_names=["image", "style"], output_names=["stylized"],
                          dynamic_axes={"image": {2: "height", 3: "width"}, "stylized": {2: "height", 3: "width"}},
                          opset_version=17, dynamo=False)
    return buf.getvalue()


class OnnxRuntimeGenerator:
    """Callable like a StyleGenerator on CPU tensors: ``(x (1,3,H,W), style (S,)|(1,S)) -> (1,3,H,W)``."""

    def __init__(self, generator: StyleGenerator, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UsageError("--backend onnxruntime needs onnxruntime: pip install onnxruntime") from None
        path = cache_dir() / f"onnx-{_weights_digest(generator)}.onnx"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(export_onnx(generator))
            os.replace(tmp, path)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # idle threads must sleep, not spin: capture, GL and the display share these cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.config = generator.config
        self.num_styles = generator.num_styles

    def __call__(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        style = style.reshape(1, -1) if style.dim() == 1 else style
        outs = [self.session.run(None, {"image": x[i:i + 1].float().contiguous().numpy(),
                                        "style": style[min(i, style.shape[0] - 1)][None].float().numpy()})[0]
                for i in range(x.shape[0])]
        return torch.from_numpy(outs[0] if len(outs) == 1 else np.concatenate(outs))
