"""Frozen settings of a live run, built from the command line (see live.build_config)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

Size = Tuple[int, int]


@dataclass(frozen=True)
class LiveConfig:
    mode: str                      # "vr" | "window" | "file" | "virtualcam" (the camera alone, headless)
    output: Optional[str]
    source: str
    style: Union[int, str, object]  # an index, a spec string, or a PaintingStyle (paintings)
    model: str
    strength: float
    preserve_color: bool
    device: str
    infer_size: Optional[Union[Size, str]]  # WxH, "auto" (dynamic), None: auto for live sources, else fixed
    size: Optional[Size]           # window size / output size (None: default / source size)
    frames: Optional[int]
    stats: Optional[str]
    hud: bool
    sharpen: float
    fullscreen: bool
    vr_view: str                   # "fill" | "screen"
    mirror: bool
    vr_distance: float = 2.0       # metres to the floating screen
    vr_width: float = 2.4          # its width in metres
    vr_api: str = "auto"           # "auto" | "openxr" | "openvr" (--vr-api)
    vr_curve: float = 0.0          # degrees of arc of the screen view (--vr-curve; OpenXR cylinder layer)
    backend: str = "auto"          # "auto" | "torch" | "onnxruntime" | "openvino"
    precision: str = "auto"        # "auto" | "fp32" | "bf16" | "fp16" (inference/precision.py)
    budget_ms: Optional[float] = None   # --infer-size auto: ms per frame (None: the source's period)
    stabilize: bool = True         # the temporal stabiliser (--stabilize/--no-stabilize, hotkey T)
    detail: float = 0.0            # source detail added back by the guided upsampling (--detail, D/Shift+D)
    style_dir: Optional[Tuple[str, ...]] = None   # painting files cycled with , and . (--style-dir)
    record: Optional[str] = None   # --record FILE: a video of the run beside the primary output
    virtualcam: Optional[str] = None   # --virtualcam [DEVICE]: "" for the first free camera
