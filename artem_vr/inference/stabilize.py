"""Temporal stabiliser: unchanged regions keep their stylized pixels, moving ones follow the motion.

A feed-forward style net re-synthesises its texture from scratch on every frame, so camera noise of
a grey level or two, or a small window moving elsewhere on a desktop (instance-norm statistics and
the receptive field couple regions), makes the strokes of a still scene boil. The stabiliser sits
between the generator and the output slot (the worker owns one; ``stylize`` of a video uses the
same class) and, per frame:

1. **Hold.** The new input frame, area-averaged over ``cell`` x ``cell`` blocks, is compared with a
   *reference*: the input that produced each held output pixel (not just the previous frame, or
   slow drift and lighting changes would never refresh). Blocks whose largest channel difference
   stays under ``hold_threshold`` (well above averaged sensor noise) keep the previous output
   exactly; the changed mask grows by one block into blocks whose input changed a little, and is
   feathered, so no seams show.
2. **Keep the look current.** Instance norm and the receptive field couple regions: when something
   large changes, what the net paints over still input shifts too. Held colours that drifted more
   than ``stale_threshold`` from the new output (means over 16 px squares) glide towards it by
   ``recolour_rate`` a frame; blocks drifted ``repaint_at`` times as far (a dragged window's flat
   inside) are painted anew like moving ones.
3. **Carry.** Where the scene changed, the previous output is warped to the new frame by optical
   flow (OpenCV's DIS, ultrafast preset, on the luma of the input at most ``flow_width`` wide) and
   blended with the new output where the flow is trusted: the warped previous *input* must match the
   new one (warp residual under ``trust_threshold``), and the area must have texture for the flow to
   hold on to (``flat_gradient``). Through camera noise only the strokes are carried (weight
   ``carry``), colour and light come from the new output, so nothing trails; where the warp is exact
   to a grey level (a screen) strokes and colour are carried with ``carry_exact``. The blend's local
   texture energy is brought back to the new output's (``texture_gain``): averaging two syntheses
   of a texture that do not line up stroke for stroke would flatten it.
4. **Cut.** When most blocks changed and the flow explains few of them, the new output is taken
   whole (a scene cut shows at once, with no ghost of the old picture).

Everything but the flow runs in torch on the frames' own device (the CUDA path makes no round trip
through the CPU for the hold); the flow needs one small uint8 luma download per moving frame.
Measured on 2 CPU cores (benchmarks/bench_flicker.py, README): see the README's flicker section.

Sources: Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018 (warping error, the
measure we tune against); Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)


# CPU tensors take OpenCV's routines (faster there); others, and every tensor when this is False
# (the tests run the GPU path's torch code on the CPU that way), take torch's
OPENCV_ON_CPU = True


def _opencv(x: torch.Tensor) -> bool:
    return OPENCV_ON_CPU and x.device.type == "cpu"


def _down(x: torch.Tensor, size) -> torch.Tensor:
    """``(1,C,H,W)`` -> ``(1,C,h,w)`` area averages. On the CPU through OpenCV, plane by plane:
    5x faster there than torch's pooling for these small pictures (measured, 1 thread)."""
    if not _opencv(x):
        return F.adaptive_avg_pool2d(x, tuple(size))
    return _planes(x, size, 3)  # cv2.INTER_AREA


def _up(x: torch.Tensor, size) -> torch.Tensor:
    """``(1,C,h,w)`` -> ``(1,C,H,W)`` bilinear, pixel centres aligned (align_corners=False)."""
    if not _opencv(x):
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
    return _planes(x, size, 1)  # cv2.INTER_LINEAR


def _planes(x: torch.Tensor, size, interpolation: int) -> torch.Tensor:
    import cv2

    h, w = int(size[0]), int(size[1])
    planes = x[0].float().contiguous().numpy()
    out = np.stack([cv2.resize(p, (w, h), interpolation=interpolation) for p in planes])
    return torch.from_numpy(out)[None]


@dataclass
class StabilizerStep:
    """What the last frame did: fractions of the frame's pixels, and the time taken."""
    held: float = 0.0       # blocks that kept the previous output
    carried: float = 0.0    # mean blend weight of the warped previous output over the frame
    cut: bool = False       # the new output was taken whole (first frame, cut, size change, reset)
    flow: bool = False      # optical flow was computed
    ms: float = 0.0


class Stabilizer:
    """Stateful per-stream stabiliser; call :meth:`reset` on cuts you know of and on style changes.

    ``__call__(source, stylized)``: ``source`` the net's input and ``stylized`` its output, both
    ``(1,3,H,W)`` float in [0,1] on one device -> the stabilised output, same shape and device.
    ``apply`` does the same on ``(H,W,3) uint8`` RGB arrays. A change of size starts afresh.

    Thresholds are in [0,1] units (a grey level is 1/255): ``hold_threshold`` 6/255 on block means
    sits 8 sigma above sensor noise of 2 grey levels averaged over a 4x4 block (0.7 grey levels for
    the difference of two noisy frames) and below the change a moving edge makes. The defaults were
    tuned with benchmarks/bench_flicker.py (warping error and texture on photos with noise and
    pans, and on desktops with a dragged window) and by looking at the frames.
    """

    def __init__(self, cell: int = 4, hold_threshold: float = 6 / 255, trust_threshold=(3 / 255, 12 / 255),
                 carry: float = 0.6, texture_gain: float = 0.5, cut_fraction: float = 0.6,
                 flow_width: int = 320, still_motion: float = 0.25, moving_fraction: float = 0.35,
                 stale_threshold: float = 20 / 255, recolour_rate: float = 0.3, repaint_at: float = 2.5,
                 carry_exact: float = 0.85, flat_gradient: float = 4 / 255):
        if cell < 1 or not 0.0 <= carry < 1.0 or not 0.0 < cut_fraction <= 1.0:
            raise ValueError("cell >= 1, 0 <= carry < 1 and 0 < cut_fraction <= 1")
        self.cell = cell
        self.hold_threshold = hold_threshold
        self.trust_threshold = trust_threshold
        self.carry = carry
        self.cut_fraction = cut_fraction
        self.flow_width = flow_width
        self.still_motion = still_motion
        self.moving_fraction = moving_fraction
        self.stale_threshold = stale_threshold
        self.recolour_rate = recolour_rate
        self.repaint_at = repaint_at
        self.carry_exact = carry_exact
        self.flat_gradient = flat_gradient
        self.texture_gain = texture_gain
        self.last = StabilizerStep()
        self._dis = None
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame's output is taken whole."""
        self._held: Optional[torch.Tensor] = None     # (1,3,H,W) previous stabilised output
        self._ref: Optional[torch.Tensor] = None      # (1,3,h,w) block means of the input behind it
        self._prev: Optional[torch.Tensor] = None     # (1,3,H,W) previous input
        self._prev_luma: Optional[np.ndarray] = None  # (Hf,Wf) uint8, the flow's previous frame
        self._grid: Optional[np.ndarray] = None       # (h,w,2) pixel coordinates at the flow size

    # -- numpy convenience (stylize of a video) -------------------------------------------------

    def apply(self, source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """``(H,W,3) uint8`` RGB input and stylized frame -> ``(H,W,3) uint8`` stabilised."""
        def to_t(a):
            return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float().div_(255.0)

        out = self(to_t(source), to_t(stylized))
        return (out[0].permute(1, 2, 0) * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8).numpy()

    # -- the step --------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(self, source: torch.Tensor, stylized: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        source = source.float()
        stylized = stylized.float()
        blocks = self._blocks(source)
        if self._held is None or self._held.shape != stylized.shape or self._held.device != stylized.device:
            return self._take_whole(source, stylized, blocks, t0)
        diff = (blocks - self._ref).abs().amax(dim=1, keepdim=True)          # (1,1,h,w)
        changed = diff > self.hold_threshold
        step = StabilizerStep()
        if not bool(changed.any()):
            self._prev, self._prev_luma = source, None
            self.last = StabilizerStep(held=1.0, ms=(time.perf_counter() - t0) * 1e3)
            return self._held
        # dilate by one block: the block beside a moving edge sees the edge's blur too (if its
        # input changed at all: on a screen the still block beside a moving window stays held)
        near = F.max_pool2d(changed.float(), 3, stride=1, padding=1)
        changed = torch.maximum(changed.float(), near * (diff > self.hold_threshold * self.moving_fraction).float())
        warped_out, trust, motion, exact = self._carry(source)
        step.flow = True
        # a block whose input barely changed but that moves (a slow pan over a smooth area) is
        # carried along, not held: holding it would make it lag and then jump
        # (the input must have changed a little too: flow leaks into flat, still surroundings)
        moving = (_down(motion, blocks.shape[-2:]) > self.still_motion) & (
            diff > self.hold_threshold * self.moving_fraction)
        refresh = torch.maximum(changed, moving.float())
        stale = self._drift(stylized, blocks.shape[-2:]) if self.stale_threshold else None
        repaint = None
        if stale is not None:  # far from what the net now paints there: repaint (a window's flat inside)
            repaint = (stale >= self.repaint_at).float() * (1.0 - refresh)
            refresh = torch.maximum(refresh, repaint)
        untrusted = _down(1.0 - trust, blocks.shape[-2:]) > 0.5
        if float((refresh.bool() & untrusted).float().mean()) > self.cut_fraction:
            return self._take_whole(source, stylized, blocks, t0, flow=True)
        hold = self._feather(1.0 - refresh, stylized.shape[-2:])             # (1,1,H,W)
        # an exact warp (a screen's rigid motion) carries more of the old strokes, and their colour
        weight = trust * (self.carry + (self.carry_exact - self.carry) * exact)
        weight_low = weight * exact
        if repaint is not None and bool(repaint.any()):
            # a block repainted because it no longer looks like what the net paints there (a moving
            # window's flat inside) takes the new colours and shapes and most of the new strokes
            fresh = _up(repaint, weight.shape[-2:])
            weight = weight - fresh * (weight - weight.clamp(max=self.carry))
            weight_low = weight_low * (1.0 - fresh)
        moved = self._blend(stylized, warped_out, weight, weight_low)
        held = self._held
        if stale is not None and bool((stale > 0).any()):
            # drifted a little (the whole picture's look shifts with a large change: instance norm):
            # the held strokes stay, their colour glides to the new one by a fraction per frame
            soft = _up(stale.clamp(0.0, 1.0) * self.recolour_rate, stylized.shape[-2:])
            held = held + soft * self._lowpass(stylized - held)
        out = moved + hold * (held - moved)
        self._ref = torch.where(refresh.bool(), blocks, self._ref)
        self._held, self._prev = out, source
        step.held = 1.0 - float(refresh.mean())
        step.carried = float(_down(weight, blocks.shape[-2:]).mul_(refresh).mean())
        step.ms = (time.perf_counter() - t0) * 1e3
        self.last = step
        return out

    def _drift(self, stylized: torch.Tensor, grid) -> torch.Tensor:
        """How far the held colours drifted from what the net now paints: ``(1,1,h,w)`` on the block
        grid in units of ``stale_threshold`` above it (0 below it, 1 at twice it). Judged on means over
        ``4 * cell`` px squares, where the strokes' own re-synthesis averages out."""
        h, w = stylized.shape[-2:]
        k = self.cell * 4
        coarse = (-(-h // k), -(-w // k))
        drift = (_down(stylized, coarse) - _down(self._held, coarse)).abs().amax(dim=1, keepdim=True)
        lo = self.stale_threshold
        return F.interpolate(((drift - lo) / lo).clamp_(min=0.0), size=tuple(grid), mode="nearest")

    def _lowpass(self, x: torch.Tensor) -> torch.Tensor:
        k = self.cell * 2
        h, w = x.shape[-2:]
        return _up(_down(x, (-(-h // k), -(-w // k))), (h, w))

    def _blend(self, stylized: torch.Tensor, warped: torch.Tensor, weight: torch.Tensor,
               weight_low: torch.Tensor) -> torch.Tensor:
        """The new output with ``weight`` ``(1,1,H,W)`` of the warped previous one's texture and
        ``weight_low`` of its colour and light (the low-pass).

        The low-pass is carried only where the warp is exact (a screen): through camera noise a
        lighting change or a lagging warp would leave a trail, so there colour and light come from
        the new output and only the texture is carried. Averaging two syntheses of
        a texture that do not line up stroke for stroke flattens it, so the blend's local detail
        energy is brought back up to the new output's (at most ``1 + texture_gain``)."""
        change = warped - stylized
        base, change_low = self._lowpass(torch.cat([stylized, change], dim=1)).split(3, dim=1)
        fresh = stylized - base
        detail = fresh + weight * (change - change_low)
        base = base + weight_low * change_low
        if self.texture_gain > 0:
            k = self.cell * 2
            h, w = fresh.shape[-2:]
            grid = (-(-h // k), -(-w // k))
            want = _down(fresh[:, 1:2].abs(), grid)  # green: most of the luma, a third of the work
            have = _down(detail[:, 1:2].abs(), grid)
            gain = (want / have.clamp_min(1e-4)).clamp_(1.0, 1.0 + self.texture_gain)
            detail = detail * _up(gain, (h, w))
        return base + detail

    def _take_whole(self, source, stylized, blocks, t0, flow: bool = False) -> torch.Tensor:
        self._held, self._ref, self._prev = stylized, blocks, source
        if not flow:
            self._prev_luma = None
        self.last = StabilizerStep(cut=True, flow=flow, ms=(time.perf_counter() - t0) * 1e3)
        return stylized

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        """``(1,3,H,W)`` -> ``(1,3,ceil(H/cell),ceil(W/cell))`` block means."""
        h, w = x.shape[-2:]
        return _down(x, (-(-h // self.cell), -(-w // self.cell)))

    def _feather(self, mask: torch.Tensor, size) -> torch.Tensor:
        """Block mask -> soft full-size mask (3x3 block blur, bilinear up): edges fade over ~2 blocks."""
        soft = F.avg_pool2d(mask, 3, stride=1, padding=1, count_include_pad=False)
        soft = torch.minimum(soft, mask)  # fade inwards only: a changed block never keeps old pixels
        return _up(soft, tuple(size))

    def _luma_u8(self, x: torch.Tensor) -> np.ndarray:
        """``(1,3,H,W)`` -> ``(h,w) uint8`` luma, at most ``flow_width`` wide."""
        h, w = x.shape[-2:]
        if w > self.flow_width:
            x = _down(x, (max(8, round(h * self.flow_width / w)), self.flow_width))
        y = LUMA[0] * x[:, 0] + LUMA[1] * x[:, 1] + LUMA[2] * x[:, 2]
        return (y[0] * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8).cpu().numpy()

    def _carry(self, source: torch.Tensor):
        """The previous output warped onto the new frame by backward optical flow, where to trust
        it, and how far each pixel moved: ``(1,3,H,W)``, ``(1,1,H,W)`` in [0,1], ``(1,1,H,W)`` px.

        Trust is judged on luma at the flow's resolution: the previous frame warped by the flow
        against the new one, the signed difference averaged over 3x3 pixels (noise of two grey
        levels averages to under one; a misplaced edge or new content does not cancel out)."""
        import cv2

        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        luma = self._luma_u8(source)
        prev = self._prev_luma if self._prev_luma is not None else self._luma_u8(self._prev)
        self._prev_luma = luma
        flow = self._dis.calc(luma, prev, None)               # luma(p) ~ prev(p + flow(p))
        fh, fw = luma.shape
        if self._grid is None or self._grid.shape[:2] != (fh, fw):
            xs, ys = np.meshgrid(np.arange(fw, dtype=np.float32), np.arange(fh, dtype=np.float32))
            self._grid = np.stack([xs, ys], axis=-1)
        maps = self._grid + flow
        back = cv2.remap(prev, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        residual = np.abs(cv2.blur(back.astype(np.float32) - luma.astype(np.float32), (3, 3))) / 255.0
        lo, hi = self.trust_threshold
        trust = np.clip((hi - residual) / (hi - lo), 0.0, 1.0)
        if self.flat_gradient > 0:
            # in a flat area the flow is a guess (nothing there to match) and the residual says
            # nothing: carrying strokes by it smears them. Judged on a blurred luma (so sensor noise
            # does not read as texture), over 9x9 px.
            soft = cv2.blur(luma, (3, 3))
            grad = np.abs(cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3))
            trust *= np.clip(cv2.blur(grad, (9, 9)) / (self.flat_gradient * 255.0 * 8.0), 0.0, 1.0)
        # how exactly the warp explains the new frame: 1 within a grey level and a half (a screen:
        # no sensor noise, rigid motion), 0 through camera noise
        exact = np.clip(1.0 - residual * 170.0, 0.0, 1.0)
        motion = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)
        h, w = source.shape[-2:]
        scale = w / fw
        dev = source.device
        maps_t = torch.from_numpy(np.stack([trust, motion * scale, exact], 0).astype(np.float32)[None]).to(dev)
        if (fh, fw) != (h, w):
            maps_t = _up(maps_t, (h, w))
        trust_t, motion_t, exact_t = maps_t[:, :1], maps_t[:, 1:2], maps_t[:, 2:]
        warped = self._warp(self._held, flow, scale, (h, w), maps)
        return warped, trust_t, motion_t, exact_t

    def _warp(self, image: torch.Tensor, flow: np.ndarray, scale: float, size,
              maps: Optional[np.ndarray] = None) -> torch.Tensor:
        """``image (1,C,H,W)`` sampled at p + flow(p): OpenCV's remap on the CPU (``maps``: p + flow
        already made, ``(H,W,2)``), grid_sample on a GPU."""
        import cv2

        h, w = size
        if flow.shape[:2] != (h, w):
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * scale
        if _opencv(image):
            if maps is None or maps.shape[:2] != (h, w):
                xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
                maps = np.stack([xs + flow[..., 0], ys + flow[..., 1]], axis=-1)
            hwc = np.ascontiguousarray(image[0].permute(1, 2, 0).numpy())
            out = cv2.remap(hwc, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            return torch.from_numpy(out).permute(2, 0, 1)[None]
        ys_t = (torch.arange(h, device=image.device, dtype=torch.float32) + 0.5) * (2.0 / h) - 1.0
        xs_t = (torch.arange(w, device=image.device, dtype=torch.float32) + 0.5) * (2.0 / w) - 1.0
        grid = torch.stack(torch.meshgrid(xs_t, ys_t, indexing="xy"), dim=-1)[None]
        f = torch.from_numpy(flow).to(image.device)[None] * torch.tensor([2.0 / w, 2.0 / h], device=image.device)
        return F.grid_sample(image, grid + f, mode="bilinear", padding_mode="border", align_corners=False)
