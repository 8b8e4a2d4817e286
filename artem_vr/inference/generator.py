"""The conditional-instance-norm style generator (Dumoulin et al. 2017) as plain nn.Modules.

Only the network lives here: no files, devices or images. Every width, the kernel sizes and the
number of residual blocks are constructor arguments so that pruned students are built from the
same code as the 26-style teacher.

Tensors: images are ``(B,3,H,W) float in [0,1]`` with H and W multiples of 4; style weights are
``(S,)`` or ``(B,S)`` (a weight per style; blends are just several non-zero weights).

Two style heads share the code: the 26-style net's norms take style *weights* through a table
(``style_head="table"``: gamma = weights @ table), Magenta's arbitrary-style transformer (Ghiasi
et al. 2017, ``style_head="linear"``) takes a 100-d style *vector* through a linear map with bias
(gamma = vector @ W + b), and its contracting convs carry a bias instead of a norm (its batch
norm folded in: ``contract_norm=False``).
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

    Fast students only: ``stem`` = ``(w0, w1)`` replaces the full-resolution 9x9 conv and the two
    stride-2 convs by a learned stride-2 stem (4x4 s2 -> ``w0``, 3x3 s2 -> ``w1``, 3x3 -> trunk width)
    that never touches a full-resolution feature map. ``polyphase`` computes the expanding convs at
    half their output resolution: a conv on a nearest-upsampled input, and a conv on a
    full-resolution map, are each exactly one conv on 2x2 phases at the lower resolution (the
    teacher's weights convert exactly, see ``to_polyphase``). ``res_padding``: ``"reflect"`` (the
    teacher's) or ``"zeros"`` for the residual convs; zeros lets the padding ride inside the conv
    instead of a separate pad pass over every trunk map (about 5% of a fast net's time on a CPU).

    ``style_head``: ``"table"`` (``num_styles`` style weights through a table) or ``"linear"``
    (a ``num_styles``-long style vector through a linear map with bias, Magenta's arbitrary net).
    ``contract_norm``: False gives the contracting convs a bias and no norm (the arbitrary net).
    """

    num_styles: int = 26
    contract: Tuple[int, int, int] = (32, 32, 32)
    res_inner: Tuple[int, ...] = (32, 32, 32, 32, 32, 32)
    expand: Tuple[int, int] = (8, 4)
    kernel_in: int = 9
    kernel_out: int = 9
    res_kernel: int = 3
    stem: Tuple[int, ...] = ()
    polyphase: bool = False
    res_padding: str = "reflect"
    style_head: str = "table"
    contract_norm: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "GeneratorConfig":
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("generator config must be a JSON object")
        allowed = {"num_styles", "contract", "res_inner", "expand", "kernel_in", "kernel_out", "res_kernel", "stem",
                   "polyphase", "res_padding", "style_head", "contract_norm"}
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        for key in ("contract", "res_inner", "expand", "stem"):
            if key in d:
                d[key] = tuple(int(v) for v in d[key])
        for key in ("polyphase", "contract_norm"):
            if key in d:
                d[key] = bool(d[key])
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def macs(self, width: int, height: int) -> int:
        """Multiply-accumulates of one forward pass at ``width`` x ``height`` (convs only)."""
        c0, c1, c2 = self.contract
        e0, e1 = self.expand
        k = self.res_kernel ** 2
        if self.stem:
            s0, s1 = self.stem
            head = 3 * s0 * 16 / 4 + s0 * s1 * 9 / 16 + s1 * c2 * 9 / 16
        else:
            head = (3 * c0 * self.kernel_in ** 2          # full resolution
                    + c0 * c1 * 9 / 4                    # stride 2
                    + c1 * c2 * 9 / 16)                  # stride 2 again: the trunk at 1/4 size
        trunk = sum(2 * c2 * r * k for r in self.res_inner) / 16
        if self.polyphase:  # each conv on 2x2 phases at half its output resolution
            kp = polyphase_kernel(self.kernel_out)
            tail = c2 * 4 * e0 * 9 / 16 + e0 * 4 * e1 * 9 / 4 + 4 * e1 * 12 * kp * kp / 4
        else:
            tail = (c2 * e0 * 9 / 4                       # after the first x2 upsampling
                    + e0 * e1 * 9                        # after the second, full resolution
                    + e1 * 3 * self.kernel_out ** 2)
        return int((head + trunk + tail) * width * height)

    def validate(self) -> None:
        if len(self.contract) != 3 or len(self.expand) != 2:
            raise ValueError("contract needs 3 widths and expand 2")
        widths = (*self.contract, *self.res_inner, *self.expand, self.num_styles)
        if any(int(w) < 1 or int(w) > 4096 for w in widths):
            raise ValueError("widths and style count must be between 1 and 4096")
        for k in (self.kernel_in, self.kernel_out, self.res_kernel):
            if k < 1 or k > 15 or k % 2 == 0:
                raise ValueError("kernel sizes must be odd and at most 15")
        if self.stem and (len(self.stem) != 2 or any(int(w) < 1 or int(w) > 4096 for w in self.stem)):
            raise ValueError("stem needs 2 widths between 1 and 4096")
        if self.res_padding not in ("reflect", "zeros"):
            raise ValueError(f"res_padding must be 'reflect' or 'zeros', got {self.res_padding!r}")
        if self.style_head not in ("table", "linear"):
            raise ValueError(f"style_head must be 'table' or 'linear', got {self.style_head!r}")
        if self.stem and not self.contract_norm:
            raise ValueError("contract_norm=False needs the contracting convs, not a stem")


class PackedStyle:
    """Every norm's style affine for one style vector, computed up front: ``packed (B, N)`` is
    ``style @ table + bias`` with ``table, offsets = affine_table(model)`` and ``bias =
    affine_bias(model)``. A generator called with a
    PackedStyle instead of style weights slices each norm's gamma and beta out of it, so an exported
    graph takes the packed row as its input and runs no per-layer matmul on every frame."""

    def __init__(self, packed: torch.Tensor, offsets: dict):
        self.packed = packed
        self.offsets = offsets

    def take(self, norm: nn.Module) -> Tuple[torch.Tensor, torch.Tensor]:
        start, width = self.offsets[id(norm)]
        return self.packed[:, start:start + width], self.packed[:, start + width:start + 2 * width]


def _affine(norm: nn.Module, style) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(gamma, beta)`` ``(B, C)`` of a conditional norm for style weights or a style vector
    ``(B, S)``, or a PackedStyle."""
    if isinstance(style, PackedStyle):
        return style.take(norm)
    gamma, beta = style @ norm.gamma.to(style.dtype), style @ norm.beta.to(style.dtype)
    if norm.gamma_bias is not None:  # the linear style head
        gamma, beta = gamma + norm.gamma_bias.to(style.dtype), beta + norm.beta_bias.to(style.dtype)
    return gamma, beta


def _style_params(norm: nn.Module, num_styles: int, width: int, bias: bool) -> None:
    """The style head's parameters: a table (weights sum to 1, so each row starts as the identity
    affine) or a linear map with bias (starts as the identity affine for any vector)."""
    norm.gamma = nn.Parameter(torch.full((num_styles, width), 0.0 if bias else 1.0))
    norm.beta = nn.Parameter(torch.zeros(num_styles, width))
    norm.gamma_bias = nn.Parameter(torch.ones(width)) if bias else None
    norm.beta_bias = nn.Parameter(torch.zeros(width)) if bias else None


def affine_table(model: nn.Module) -> Tuple[torch.Tensor, dict]:
    """``(table (S, N), offsets)``: every conditional norm's gamma then beta columns side by side, and
    each norm's ``(start column, width)`` keyed by ``id(norm)``; see PackedStyle."""
    columns, offsets, start = [], {}, 0
    for module in model.modules():
        if isinstance(module, (CondInstanceNorm, PhaseNorm)):
            width = module.gamma.shape[1]
            offsets[id(module)] = (start, width)
            columns += [module.gamma.detach(), module.beta.detach()]
            start += 2 * width
    return torch.cat(columns, 1), offsets


def affine_bias(model: nn.Module) -> torch.Tensor:
    """``(N,)``: the constant part of every norm's packed affine, in ``affine_table``'s column order
    (zeros for a table head, the linear head's biases otherwise)."""
    parts = []
    for module in model.modules():
        if isinstance(module, (CondInstanceNorm, PhaseNorm)):
            if module.gamma_bias is None:
                parts.append(torch.zeros(2 * module.gamma.shape[1]))
            else:
                parts += [module.gamma_bias.detach().float().cpu(), module.beta_bias.detach().float().cpu()]
    return torch.cat(parts)


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift come from the style.

    ``gamma``/``beta``: ``(S, C)``; with ``bias`` (the linear style head) also ``gamma_bias``/
    ``beta_bias`` ``(C,)``. Forward: ``x (B,C,H,W)``, ``style (B,S)`` -> ``(B,C,H,W)``.
    """

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5, bias: bool = False):
        super().__init__()
        self.eps = eps
        _style_params(self, num_styles, channels, bias)

    def forward(self, x: torch.Tensor, style) -> torch.Tensor:
        gamma, beta = (t.to(x.dtype) for t in _affine(self, style))
        if gamma.shape[0] == 1:
            # one style vector: the affine rides inside the norm kernel (saves two full passes)
            return F.instance_norm(x, weight=gamma[0], bias=beta[0], eps=self.eps)
        x = F.instance_norm(x, eps=self.eps)
        return x * gamma[:, :, None, None] + beta[:, :, None, None]


class ConvLayer(nn.Module):
    """Reflection pad + conv (no bias: the norm's beta is the bias) + conditional instance norm.

    ``upsample`` > 1 first enlarges the input with nearest neighbour (no transposed convs, so no
    checkerboard artefacts). ``norm=False``: a conv with a bias and no norm. ``bias``: the norm's
    linear style head (see CondInstanceNorm).
    """

    def __init__(self, cin: int, cout: int, kernel: int, num_styles: int, stride: int = 1, upsample: int = 1,
                 padding: str = "reflect", norm: bool = True, bias: bool = False):
        super().__init__()
        self.upsample = upsample
        self.stride = stride
        zeros = padding == "zeros"  # zero padding is done by the conv itself
        self.pad = 0 if zeros else kernel // 2
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2 if zeros else 0, bias=not norm)
        self.norm = CondInstanceNorm(cout, num_styles, bias=bias) if norm else None

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        x = self.conv(x)
        return x if self.norm is None else self.norm(x, style)


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))``: the inner width may differ from the trunk's."""

    def __init__(self, channels: int, inner: int, kernel: int, num_styles: int, padding: str = "reflect",
                 bias: bool = False):
        super().__init__()
        # indices 0/1 as attribute names keep parameter names equal to the teacher's ONNX names
        self.add_module("0", ConvLayer(channels, inner, kernel, num_styles, padding=padding, bias=bias))
        self.add_module("1", ConvLayer(inner, channels, kernel, num_styles, padding=padding, bias=bias))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        first, second = self._modules["0"], self._modules["1"]
        return x + second(F.relu(first(x, style)), style)


def polyphase_kernel(kernel: int) -> int:
    """Kernel size at half resolution of a ``kernel`` conv on a full-resolution map (9 -> 5)."""
    return 2 * ((kernel // 2 + 1) // 2) + 1


def _rows(x: torch.Tensor, dim: int, indices) -> torch.Tensor:
    """Single rows (negative = from the end) of ``x`` along ``dim``, concatenated: static slices."""
    parts = []
    for i in indices:
        idx = [slice(None)] * x.dim()
        idx[dim] = slice(i, i + 1 if i != -1 else None)
        parts.append(x[tuple(idx)])
    return torch.cat(parts, dim)


def phase_masks(channels: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(1,C,1,1)`` masks: 1 where a 2x2-phase channel holds odd rows, and where it holds odd columns."""
    rows = torch.tensor([float((c % 4) // 2) for c in range(channels)]).view(1, channels, 1, 1)
    cols = torch.tensor([float(c % 2) for c in range(channels)]).view(1, channels, 1, 1)
    return rows, cols


def polyphase_reflect_pad(x: torch.Tensor, p: int, masks=None) -> torch.Tensor:
    """``x``: 2x2 phases of a map (channel ``c*4 + 2*row_phase + col_phase``). Returns the phases of
    that map reflect-padded by ``2p`` pixels, padded by ``p`` here: row phase 0 pads by reflection,
    phase 1 symmetrically at the top (mirrored at the bottom). Static slices only (ONNX friendly).
    ``masks``: ``phase_masks(C)`` made once by the caller (else made here)."""
    masks = phase_masks(x.shape[1]) if masks is None else masks
    for dim, odd in zip((2, 3), masks):
        odd = odd.to(dtype=x.dtype, device=x.device)
        reflect_top = _rows(x, dim, range(p, 0, -1))
        symmetric_top = _rows(x, dim, range(p - 1, -1, -1))
        symmetric_bottom = _rows(x, dim, [-1 - j for j in range(p)])
        reflect_bottom = _rows(x, dim, [-2 - j for j in range(p)])
        top = reflect_top + (symmetric_top - reflect_top) * odd
        bottom = symmetric_bottom + (reflect_bottom - symmetric_bottom) * odd
        x = torch.cat([top, x, bottom], dim)
    return x


class PhaseNorm(nn.Module):
    """Conditional instance norm of a map held as 2x2 phases: statistics over each channel's four
    phases together (a group norm), then a per-phase style affine ``gamma``/``beta`` ``(S, 4C)``."""

    def __init__(self, channels: int, num_styles: int, eps: float = 1e-5, bias: bool = False):
        super().__init__()
        self.channels = channels
        self.eps = eps
        _style_params(self, num_styles, channels * 4, bias)

    # True while exporting a graph (onnx_backend.export_onnx): the statistics are then taken per
    # phase channel and averaged over each group's four phases on (B, 4C, 1, 1) tensors, so the
    # graph never reshapes the map itself; group_norm's reshape made OpenVINO reorder each
    # expanding layer's map to a plain layout and back (balanced, bf16, 320x180, 2 cores: 4.38 ->
    # 4.27 ms a frame). Equal to group_norm: the four phases hold equally many pixels.
    graph_form = False

    def forward(self, x: torch.Tensor, style) -> torch.Tensor:
        gamma, beta = (t.to(x.dtype) for t in _affine(self, style))
        if self.graph_form:
            b, c4 = x.shape[:2]
            group = lambda t: t.reshape(b, c4 // 4, 4).mean(-1, keepdim=True).expand(b, c4 // 4, 4) \
                .reshape(b, c4, 1, 1)  # noqa: E731  (each channel's mean over its group's four phases)
            d = x - group(x.mean((2, 3), keepdim=True))
            scale = torch.rsqrt(group((d * d).mean((2, 3), keepdim=True)) + self.eps)
            return d * (scale * gamma[:, :, None, None]) + beta[:, :, None, None]
        x = F.group_norm(x, self.channels, eps=self.eps)
        return x * gamma[:, :, None, None] + beta[:, :, None, None]


class PhaseConv(nn.Module):
    """A conv whose output is kept as 2x2 phases (``4 * cout`` channels at the input resolution).

    ``upsample=True``: the conv of a nearest-x2-upsampled, reflect-padded input (3x3 kernel, the
    input padded by replication). ``upsample=False``: a ``kernel`` conv on the full-resolution map
    the input's phases hold (the input is 2x2 phases too), reflect-padded like the original.
    """

    def __init__(self, cin: int, cout: int, kernel: int, num_styles: int, upsample: bool, bias: bool = False):
        super().__init__()
        self.upsample = upsample
        self.kernel = kernel
        if upsample:
            self.conv = nn.Conv2d(cin, cout * 4, 3, bias=False)
        else:
            self.conv = nn.Conv2d(cin * 4, cout * 4, polyphase_kernel(kernel), bias=False)
            rows, cols = phase_masks(cin * 4)  # built once, moved with the module, not saved
            self.register_buffer("odd_rows", rows, persistent=False)
            self.register_buffer("odd_cols", cols, persistent=False)
        self.norm = PhaseNorm(cout, num_styles, bias=bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        else:
            x = polyphase_reflect_pad(x, polyphase_kernel(self.kernel) // 2, (self.odd_rows, self.odd_cols))
        return self.norm(self.conv(x), style)


class StemLayer(nn.Module):
    """Zero-padded conv (any stride) + conditional instance norm: the learned stem of fast nets."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, num_styles: int, bias: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.norm = CondInstanceNorm(cout, num_styles, bias=bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x), style)


class StyleGenerator(nn.Module):
    """Contract (k9 s1, k3 s2, k3 s2) -> residual blocks -> expand (up2 k3, up2 k3, k9) -> sigmoid.

    Forward: ``x (B,3,H,W) float in [0,1]``, H and W multiples of 4; ``style (S,)`` or ``(B,S)``
    (or a PackedStyle) -> ``(B,3,H,W) float in [0,1]``.
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        config.validate()
        self.config = config
        s = config.num_styles
        c0, c1, c2 = config.contract
        e0, e1 = config.expand
        b = config.style_head == "linear"
        if config.stem:
            s0, s1 = config.stem
            self.stem = nn.ModuleList([StemLayer(3, s0, 4, 2, s, b), StemLayer(s0, s1, 3, 2, s, b),
                                       StemLayer(s1, c2, 3, 1, s, b)])
        else:
            n = config.contract_norm
            self.contract = nn.ModuleList([
                ConvLayer(3, c0, config.kernel_in, s, norm=n, bias=b),
                ConvLayer(c0, c1, 3, s, stride=2, norm=n, bias=b),
                ConvLayer(c1, c2, 3, s, stride=2, norm=n, bias=b),
            ])
        self.res = nn.ModuleList([ResidualBlock(c2, r, config.res_kernel, s, config.res_padding, bias=b)
                                  for r in config.res_inner])
        if config.polyphase:
            self.expand = nn.ModuleList([
                PhaseConv(c2, e0, 3, s, upsample=True, bias=b),
                PhaseConv(e0, e1, 3, s, upsample=True, bias=b),
                PhaseConv(e1, 3, config.kernel_out, s, upsample=False, bias=b),
            ])
        else:
            self.expand = nn.ModuleList([
                ConvLayer(c2, e0, 3, s, upsample=2, bias=b),
                ConvLayer(e0, e1, 3, s, upsample=2, bias=b),
                ConvLayer(e1, 3, config.kernel_out, s, bias=b),
            ])

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def forward(self, x: torch.Tensor, style, phases: bool = False) -> torch.Tensor:
        """``phases`` (polyphase nets only): return the output's 2x2 phases ``(B,12,H/2,W/2)``
        (channel ``c*4 + 2*row_phase + col_phase``), leaving the last pixel shuffle to the caller."""
        if isinstance(style, torch.Tensor):
            if style.dim() == 1:
                style = style.unsqueeze(0)
            if style.shape[0] == 1 and x.shape[0] > 1:
                style = style.expand(x.shape[0], -1)
        x = self.features(x, style)
        for block in self.res:
            x = block(x, style)
        if self.config.polyphase:  # quarter -> (phases) -> half -> (phases) -> full resolution
            x = F.pixel_shuffle(F.relu(self.expand[0](x, style)), 2)
            x = F.relu(self.expand[1](x, style))
            out = torch.sigmoid(self.expand[2](x, style))
            return out if phases else F.pixel_shuffle(out, 2)
        if phases:
            raise ValueError("phases=True needs a polyphase generator")
        x = F.relu(self.expand[0](x, style))
        x = F.relu(self.expand[1](x, style))
        return torch.sigmoid(self.expand[2](x, style))

    def features(self, x: torch.Tensor, style) -> torch.Tensor:
        """The trunk's input: ``(B,3,H,W)``, ``style (B,S)`` -> ``(B,C,H/4,W/4)``."""
        for layer in (self.stem if self.config.stem else self.contract):
            x = F.relu(layer(x, style))
        return x


def _phase_weights_upsample(weight: torch.Tensor) -> torch.Tensor:
    """``(cout, cin, 3, 3)`` applied after nearest-x2 upsampling -> ``(4*cout, cin, 3, 3)`` on the
    low-resolution input, output channel ``c*4 + 2*a + b`` for output pixel phase ``(a, b)``."""
    cout, cin = weight.shape[:2]
    out = torch.zeros(cout, 2, 2, cin, 3, 3, dtype=weight.dtype)
    # output phase a reads upsampled rows 2i+a-1..2i+a+1, i.e. low-resolution rows i + reach[a][d]
    reach = ((-1, 0, 0), (0, 0, 1))
    for a in (0, 1):
        for b in (0, 1):
            for dy in range(3):
                for dx in range(3):
                    out[:, a, b, :, reach[a][dy] + 1, reach[b][dx] + 1] += weight[:, :, dy, dx]
    return out.reshape(cout * 4, cin, 3, 3)


def _phase_weights_full(weight: torch.Tensor) -> torch.Tensor:
    """``(cout, cin, k, k)`` on a full-resolution map -> the conv from its 2x2 phases to the output's
    2x2 phases: ``(4*cout, 4*cin, K, K)`` with ``K = polyphase_kernel(k)``."""
    cout, cin, k, _ = weight.shape
    r, big = k // 2, polyphase_kernel(k)
    half = big // 2
    out = torch.zeros(cout, 2, 2, cin, 2, 2, big, big, dtype=weight.dtype)
    for a in (0, 1):
        for b in (0, 1):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    my, mx = a + dy, b + dx
                    out[:, a, b, :, my % 2, mx % 2, my // 2 + half, mx // 2 + half] += weight[:, :, dy + r, dx + r]
    return out.reshape(cout * 4, cin * 4, big, big)


@torch.no_grad()
def to_polyphase(model: StyleGenerator) -> StyleGenerator:
    """The same function with ``polyphase=True``: the expanding convs are rewritten exactly (to float
    rounding) as convs on 2x2 phases at half their output resolution."""
    if model.config.polyphase:
        return model
    cfg = model.config
    out = StyleGenerator(GeneratorConfig(**{**asdict(cfg), "polyphase": True}))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("expand.")}
    for i, layer in enumerate(model.expand):
        w = layer.conv.weight
        state[f"expand.{i}.conv.weight"] = _phase_weights_upsample(w) if i < 2 else _phase_weights_full(w)
        for name in ("gamma", "beta", "gamma_bias", "beta_bias"):
            if getattr(layer.norm, name) is not None:
                state[f"expand.{i}.norm.{name}"] = getattr(layer.norm, name).repeat_interleave(4, dim=-1)
    out.load_state_dict(state)
    return out.to(next(model.parameters()).device).train(model.training)
