"""Texture-keeping distillation losses (issue 18): let the student re-synthesise the teacher's
texture instead of forcing it onto the teacher's pixels, and keep its output still.

A student trained on pixel losses cannot put every brush stroke on the teacher's pixel, so it
averages them and looks smeared. These terms compare what a person sees instead:

- :func:`lowpass_l1`: layout and colour, L1 after a 4x area downsample (phase-free below 4 px).
- :class:`TextureStatistics`: mean and standard deviation of the features of a FIXED network (the teacher's own
  first three convs, without their style norms), student against teacher: texture statistics
  without position. Not the style predictor's embedding that measure B uses (the student must
  not learn the ruler).
- :func:`noise_ratio`: stability to sensor noise, ``student(x + n)`` against ``student(x)``,
  relative to the teacher's change on the same noise (trained as a hinge: only above a target).
- :func:`shifted_lowpass_l1`: stability to small motion, the student on a crop moved 1-3 px
  against the teacher's output moved alike, at low pass (Gupta et al. 2017).

Tensors: ``(B, 3, H, W) float in [0, 1]``; every loss returns a scalar tensor.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def lowpass(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H // factor, W // factor)``: area (mean) downsampling."""
    return F.avg_pool2d(x, factor)


def lowpass_l1(pred: torch.Tensor, target: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """L1 between the ``factor``-x area-downsampled images (layout and colour, not phase)."""
    return (lowpass(pred, factor) - lowpass(target, factor)).abs().mean()


def mean_std(features: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, 2C)``: each channel's spatial mean, then its standard deviation."""
    return torch.cat([features.mean((2, 3)), features.std((2, 3))], 1)


class TextureStatistics(nn.Module):
    """Texture-statistics loss on a fixed feature net: the teacher's three contracting convs
    (9x9 s1, 3x3 s2, 3x3 s2, reflection padding as in the teacher), each followed by a ReLU, norms
    left out (they carry the style, the student's job). Nothing here trains.

    ``forward(pred, target)``: two ``(B, 3, H, W)`` images -> scalar: for each of the three
    feature maps, the mean absolute difference of the per-channel means and standard deviations
    (``(B, 2C)``) relative to the mean magnitude of the target's, summed over the three (0 = the
    same statistics). ``target``'s features are taken without gradient. Mean/std rather than Gram
    matrices: the uncentred Gram of ReLU features is dominated by their means and told a texture
    moved 1-3 px from the same texture smeared by a 4x4 box only 0.8-3.5x apart (4 random
    textures), mean/std 2.5-7.5x (tests/training/test_losses.py).
    """

    def __init__(self, teacher: nn.Module):
        super().__init__()
        convs = [layer.conv for layer in teacher.contract]
        self.convs = nn.ModuleList()
        self.pads: List[int] = []
        for conv in convs:
            copy = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, bias=False)
            copy.weight.data.copy_(conv.weight.detach())
            self.convs.append(copy)
            self.pads.append(conv.kernel_size[0] // 2)
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for conv, pad in zip(self.convs, self.pads):
            x = F.relu(conv(F.pad(x, (pad,) * 4, mode="reflect")))
            out.append(x)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_stats = [mean_std(f) for f in self.features(target)]
        loss = pred.new_zeros(())
        for f, t in zip(self.features(pred), target_stats):
            loss = loss + (mean_std(f) - t).abs().mean() / t.abs().mean().clamp_min(1e-8)
        return loss


def noise_ratio(student: nn.Module, teacher: nn.Module, x: torch.Tensor, style: torch.Tensor,
                pred: torch.Tensor, target: torch.Tensor, sigma: float) -> torch.Tensor:
    """How much of the sensor noise the student passes on, relative to the teacher: ``x`` gets
    one draw of Gaussian noise of ``sigma`` (in [0, 1] units), and the mean squared change of the
    student's output (``pred = student(x, style)`` without noise) is divided by the teacher's
    (``target = teacher(x, style)``) on the same noisy input. 1 = as unsteady as the teacher;
    the bar asks for at most 0.5 (measured over frames, not in one draw)."""
    noisy = (x + torch.randn_like(x) * sigma).clamp(0, 1)
    with torch.no_grad():
        teacher_change = F.mse_loss(teacher(noisy, style), target)
    return F.mse_loss(student(noisy, style), pred) / teacher_change.clamp_min(1e-10)


def shift_crops(x: torch.Tensor, shift: int, axis: int, trim: int = 4) -> Tuple[torch.Tensor, torch.Tensor]:
    """Two views of ``x (B, C, H, W)`` ``trim`` px shorter along ``axis`` (3 = width, 2 = height):
    ``(x[:trim-less], x moved by shift)``; a multiple-of-4 size stays one when ``trim`` is 4."""
    if not 0 < shift <= trim:
        raise ValueError(f"shift must be 1..{trim}, got {shift}")
    n = x.shape[axis] - trim
    return x.narrow(axis, 0, n), x.narrow(axis, shift, n)


def shifted_lowpass_l1(student: nn.Module, x: torch.Tensor, style: torch.Tensor, target: torch.Tensor,
                       rng: np.random.Generator, factor: int = 4, margin: int = 8) -> torch.Tensor:
    """The student on ``x`` moved 1-3 px (random axis and amount from ``rng``) against the
    teacher's output ``target = teacher(x)`` moved alike, compared at low pass (``factor``-x area
    downsample) with ``margin`` px of border left out. ``x``'s sides: multiples of 4."""
    shift, axis = int(rng.integers(1, 4)), int(rng.choice((2, 3)))
    _, moved = shift_crops(x, shift, axis)
    _, moved_target = shift_crops(target, shift, axis)
    pred = student(moved, style)
    crop = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
    return lowpass_l1(pred[crop], moved_target[crop], factor)
