"""The conditional-instance-norm style generator (Dumoulin et al. 2017) as plain nn.Modules.

Only the network lives here: no files, devices or images. Every width, the kernel sizes and the
number of residual blocks are constructor arguments so that pruned students are built from the
same code as the 26-style teacher.

Tensors: images are ``(B,3,H,W) float in [0,1]`` with H and W multiples of 4; style weights are
``(S,)`` or ``(B,S)`` (a weight per style; blends are just several non-zero weights).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

ARCH = "cin-generator-v1"


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a generator. The teacher is ``GeneratorConfig()``.

    ``contract``: output channels of the three contracting convs (the last is the trunk width that
    the residual skips carry). ``res_inner``: inner width of each residual block (its length is the
    number of blocks). ``expand``: output channels of the two upsampling convs.
    """

    num_styles: int = 26
    contract: Tuple[int, int, int] = (32, 32, 32)
    res_inner: Tuple[int, ...] = (32, 32, 32, 32, 32, 32)
    expand: Tuple[int, int] = (8, 4)
    kernel_in: int = 9
    kernel_out: int = 9
    res_kernel: int = 3

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "GeneratorConfig":
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("generator config must be a JSON object")
        allowed = {"num_styles", "contract", "res_inner", "expand", "kernel_in", "kernel_out", "res_kernel"}
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        for key in ("contract", "res_inner", "expand"):
            if key in d:
                d[key] = tuple(int(v) for v in d[key])
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def macs(self, width: int, height: int) -> int:
        """Multiply-accumulates of one forward pass at ``width`` x ``height`` (convs only)."""
        c0, c1, c2 = self.contract
        e0, e1 = self.expand
        k = self.res_kernel ** 2
        per_pixel = (3 * c0 * self.kernel_in ** 2          # full resolution
                     + c0 * c1 * 9 / 4                    # stride 2
                     + c1 * c2 * 9 / 16                   # stride 2 again: the trunk at 1/4 size
                     + sum(2 * c2 * r * k for r in self.res_inner) / 16
                     + c2 * e0 * 9 / 4                    # after the first x2 upsampling
                     + e0 * e1 * 9                        # after the second, full resolution
                     + e1 * 3 * self.kernel_out ** 2)
        return int(per_pixel * width * height)

    def validate(self) -> None:
        if len(self.contract) != 3 or len(self.expand) != 2:
            raise ValueError("contract needs 3 widths and expand 2")
        widths = (*self.contract, *self.res_inner, *self.expand, self.num_styles)
        if any(int(w) < 1 or int(w) > 4096 for w in widths):
            raise ValueError("widths and style count must be between 1 and 4096")
        for k in (self.kernel_in, self.kernel_out, self.res_kernel):
            if k < 1 or k > 15 or k % 2 == 0:
                raise ValueError("kernel sizes must be odd and at most 15")


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are a style-weighted mix of per-style rows.

    ``gamma``/``beta``: ``(S, C)``. Forward: ``x (B,C,H,W)``, ``style (B,S)`` -> ``(B,C,H,W)``.
    """

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma = (style @ self.gamma.to(style.dtype)).to(x.dtype)
        beta = (style @ self.beta.to(style.dtype)).to(x.dtype)
        if gamma.shape[0] == 1:
            # one style vector: the affine rides inside the norm kernel (saves two full passes)
            return F.instance_norm(x, weight=gamma[0], bias=beta[0], eps=self.eps)
        x = F.instance_norm(x, eps=self.eps)
        return x * gamma[:, :, None, None] + beta[:, :, None, None]


class ConvLayer(nn.Module):
    """Reflection pad + conv (no bias: the norm's beta is the bias) + conditional instance norm.

    ``upsample`` > 1 first enlarges the input with nearest neighbour (no transposed convs, so no
    checkerboard artefacts).
    """

    def __init__(self, cin: int, cout: int, kernel: int, num_styles: int, stride: int = 1, upsample: int = 1):
        super().__init__()
        self.upsample = upsample
        self.stride = stride
        self.pad = kernel // 2
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, bias=False)
        self.norm = CondInstanceNorm(cout, num_styles)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return self.norm(self.conv(x), style)


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))``: the inner width may differ from the trunk's."""

    def __init__(self, channels: int, inner: int, kernel: int, num_styles: int):
        super().__init__()
        # indices 0/1 as attribute names keep parameter names equal to the teacher's ONNX names
        self.add_module("0", ConvLayer(channels, inner, kernel, num_styles))
        self.add_module("1", ConvLayer(inner, channels, kernel, num_styles))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        first, second = self._modules["0"], self._modules["1"]
        return x + second(F.relu(first(x, style)), style)


class StyleGenerator(nn.Module):
    """Contract (k9 s1, k3 s2, k3 s2) -> residual blocks -> expand (up2 k3, up2 k3, k9) -> sigmoid.

    Forward: ``x (B,3,H,W) float in [0,1]``, H and W multiples of 4; ``style (S,)`` or ``(B,S)``
    -> ``(B,3,H,W) float in [0,1]``.
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        config.validate()
        self.config = config
        s = config.num_styles
        c0, c1, c2 = config.contract
        e0, e1 = config.expand
        self.contract = nn.ModuleList([
            ConvLayer(3, c0, config.kernel_in, s),
            ConvLayer(c0, c1, 3, s, stride=2),
            ConvLayer(c1, c2, 3, s, stride=2),
        ])
        self.res = nn.ModuleList([ResidualBlock(c2, r, config.res_kernel, s) for r in config.res_inner])
        self.expand = nn.ModuleList([
            ConvLayer(c2, e0, 3, s, upsample=2),
            ConvLayer(e0, e1, 3, s, upsample=2),
            ConvLayer(e1, 3, config.kernel_out, s),
        ])

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if style.dim() == 1:
            style = style.unsqueeze(0)
        if style.shape[0] == 1 and x.shape[0] > 1:
            style = style.expand(x.shape[0], -1)
        for layer in self.contract:
            x = F.relu(layer(x, style))
        for block in self.res:
            x = block(x, style)
        x = F.relu(self.expand[0](x, style))
        x = F.relu(self.expand[1](x, style))
        return torch.sigmoid(self.expand[2](x, style))
