"""``artem-vr distill``: prune the 26-style teacher, then train the student to reproduce it.

Two stages. First only the new learned stem trains, to reproduce the teacher's trunk input (MSE on
the quarter-resolution features: a local, easy target, so the rest of the teacher-initialised net
is not disturbed by a random stem). Then the whole student trains end to end on the output.
Output loss (weights in the recipe, each term skipped at weight 0): by default the texture-keeping
terms of ``losses.py`` (issue 18): L1 at 4x lower resolution (layout and colour), mean/std statistics of
the teacher's fixed early features (texture without phase), the student's noise gain (sensor noise
passed on) and the student on a crop moved 1-3 px against the moved teacher at low pass; plus a
little of the older pixel terms, L1 on pixels and on finite differences, which force the teacher's
exact strokes (alone they made students that average strokes and look smeared). The student sees
low-resolution patches, as at the live inference size, with the teacher's output at the same
size as the target. Every style is trained in the same net; 30% of samples are two-style blends.
Checkpoints (model + Adam state) are safetensors; the recipe is stored in the output's metadata.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..inference.generator import GeneratorConfig, StyleGenerator
from ..inference.weights import load_generator, read_safetensors, save_generator, teacher_safetensors
from .data import HELD_OUT, TRAIN_PHOTOS, PatchSampler, load_photos, synthetic_screen
from .losses import TextureStatistics, lowpass_l1, noise_ratio, shifted_lowpass_l1
from .prune import prune_generator, pruning_ratio, restructure

TEACHER_WIDTH = 32


@dataclass
class Recipe:
    widths: Tuple[int, int, int] = (24, 48, 16)  # stem widths (stride 2, stride 4), residual inner width
    blocks: int = 6
    kernel_out: int = 5                          # output conv footprint (the teacher's 9x9 is cropped)
    res_padding: str = "zeros"                   # residual convs pad inside the conv: no separate pad pass
    init: str = ""                               # start from this student (pruned further) instead of the teacher
    steps: int = 4000
    stem_fraction: float = 0.4                   # share of the steps that trains the stem alone
    batch: int = 8
    size: Tuple[int, int] = (192, 112)           # patch W x H, about the live 320x180 scale
    lr: float = 3e-3                             # stem stage
    finetune_lr: float = 1e-3                    # end-to-end stage
    warmup: int = 100
    feature_weight: float = 1.0
    pixel_weight: float = 0.25                   # L1 on pixels (forces the teacher's phase)
    gradient_weight: float = 0.0                 # L1 on finite differences (the same, for edges)
    lowpass_weight: float = 1.0                  # L1 after a 4x area downsample
    texture_weight: float = 1.0                  # mean/std of the teacher's fixed early features (ReLU)
    noise_weight: float = 0.05                   # noise passed on, relative to the teacher, above noise_target
    noise_target: float = 0.4                    # (the bar: at most 0.5 of the teacher's frame-to-frame change)
    noise_sigma: float = 4 / 255                 # largest sensor noise of that term (each batch: 1/4..1 of it)
    shift_weight: float = 1.0                    # low-pass L1 of the student on a moved crop vs the moved teacher
    styles: Tuple[int, ...] = tuple(range(26))
    seed: int = 0
    screens: int = 48
    checkpoint_every: int = 250
    data: dict = field(default_factory=lambda: {"photos": list(TRAIN_PHOTOS), "held_out": list(HELD_OUT),
                                                "synthetic_screens": 48, "screen_fraction": 0.3})

    @property
    def stem_steps(self) -> int:
        if self.init:  # the stem of a previous student is trained already
            return 0
        return int(round(self.steps * self.stem_fraction))

    def channel_ratios(self) -> dict:
        return {f"res.{i}.0.conv": pruning_ratio(TEACHER_WIDTH, self.widths[2]) for i in range(6)}


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def output_loss(student: StyleGenerator, teacher: StyleGenerator, x: torch.Tensor, w: torch.Tensor,
                target: torch.Tensor, recipe: Recipe, texture: Optional[TextureStatistics],
                rng: np.random.Generator) -> torch.Tensor:
    """The end-to-end loss: ``x (B,3,H,W)`` patches, ``w (B,S)`` styles, ``target = teacher(x, w)``;
    every term of the recipe with a non-zero weight (see the module docstring)."""
    pred = student(x, w)
    loss = pred.new_zeros(())
    if recipe.pixel_weight:
        loss = loss + recipe.pixel_weight * (pred - target).abs().mean()
    if recipe.gradient_weight:
        loss = loss + recipe.gradient_weight * gradient_l1(pred, target)
    if recipe.lowpass_weight:
        loss = loss + recipe.lowpass_weight * lowpass_l1(pred, target)
    if recipe.texture_weight and texture is not None:
        loss = loss + recipe.texture_weight * texture(pred, target)
    if recipe.noise_weight:
        sigma = recipe.noise_sigma * float(rng.uniform(0.25, 1.0))
        ratio = noise_ratio(student, teacher, x, w, pred, target, sigma)
        loss = loss + recipe.noise_weight * F.relu(ratio - recipe.noise_target)
    if recipe.shift_weight:
        loss = loss + recipe.shift_weight * shifted_lowpass_l1(student, x, w, target, rng)
    return loss


def _lr_factor(step: int, recipe: Recipe) -> float:
    """Warm-up then cosine decay, restarted for the end-to-end stage at ``finetune_lr``."""
    begin, end, scale = 0, recipe.stem_steps, 1.0
    if step >= recipe.stem_steps:
        begin, end, scale = recipe.stem_steps, recipe.steps, recipe.finetune_lr / recipe.lr
    step -= begin
    warmup = min(recipe.warmup, max(1, (end - begin) // 10))
    if step < warmup:
        return scale * (step + 1) / warmup
    t = (step - warmup) / max(1, end - begin - warmup)
    return scale * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _checkpoint_path(out: Path) -> Path:
    return out.with_name(out.stem + ".ckpt.safetensors")


def _save_checkpoint(path: Path, student: StyleGenerator, optim: torch.optim.Optimizer, step: int,
                     recipe: Recipe) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in student.state_dict().items()}
    names = [n for n, _ in student.named_parameters()]
    for idx, state in optim.state_dict()["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            tensors[f"optim.{names[idx]}.{key}"] = state[key].detach().cpu().contiguous()
    meta = {"step": str(step), "config": student.config.to_json(), "recipe": json.dumps(asdict(recipe))}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, device: torch.device, recipe: Recipe):
    from ..errors import ModelError

    tensors, meta = read_safetensors(path)
    try:
        config = GeneratorConfig.from_json(meta["config"])
        step = int(meta["step"])
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{path} is not an artem-vr distill checkpoint ({exc})") from None
    student = StyleGenerator(config)
    student.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    student.to(device)
    optim = torch.optim.Adam(student.parameters(), lr=recipe.lr)
    state = {}
    for idx, (name, _) in enumerate(student.named_parameters()):
        if f"optim.{name}.exp_avg" in tensors:
            state[idx] = {"step": torch.tensor(float(step)),
                          "exp_avg": tensors[f"optim.{name}.exp_avg"].to(device),
                          "exp_avg_sq": tensors[f"optim.{name}.exp_avg_sq"].to(device)}
    sd = optim.state_dict()
    sd["state"] = state
    optim.load_state_dict(sd)
    return student, optim, step


@torch.no_grad()
def heldout_psnr(student: StyleGenerator, teacher: StyleGenerator, device, styles=(0, 5, 9, 13, 21),
                 size=(320, 180)) -> float:
    """Mean PSNR (dB) of student vs teacher on the held-out photos at the live size."""
    scores = []
    for photo in load_photos(HELD_OUT):
        x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().div(255)
        x = F.interpolate(x, size=(size[1], size[0]), mode="bilinear", antialias=True, align_corners=False).to(device)
        for s in styles:
            w = F.one_hot(torch.tensor(s), teacher.num_styles).float().to(device)
            a, b = student(x, w), teacher(x, w)
            mse = F.mse_loss((a * 255).round(), (b * 255).round()).item()
            scores.append(10 * math.log10(255 ** 2 / max(mse, 1e-10)))
    return float(np.mean(scores))


def distill(recipe: Recipe, out: Path, device: torch.device, resume: bool = False, progress: bool = True,
            log=print) -> dict:
    from tqdm import tqdm

    torch.manual_seed(recipe.seed)
    teacher, teacher_meta = load_generator(teacher_safetensors())
    teacher = teacher.to(device).eval().requires_grad_(False)
    rng = np.random.default_rng(recipe.seed)
    screens = [synthetic_screen(rng) for _ in range(recipe.screens)]
    photos = load_photos(TRAIN_PHOTOS)
    ckpt = _checkpoint_path(out)
    if resume and ckpt.is_file():
        student, optim, start = _load_checkpoint(ckpt, device, recipe)
        log(f"resuming from {ckpt} at step {start}")
    else:
        student = _initial_student(recipe, teacher.cpu(), photos, screens).to(device)
        teacher.to(device)
        optim = torch.optim.Adam(student.parameters(), lr=recipe.lr)
        start = 0
    # a resumed run re-seeds its sampler from the step it resumes at (reproducible, not identical)
    sampler = PatchSampler(photos, screens, seed=recipe.seed + start, device=device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # one patch size throughout: let cuDNN pick its kernels
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: _lr_factor(s + start, recipe))
    student.train()
    t0 = time.perf_counter()
    bar = tqdm(range(start, recipe.steps), initial=start, total=recipe.steps, unit="step", desc="distill",
               disable=None if progress else True)
    loss_avg = None
    texture = TextureStatistics(teacher).to(device) if recipe.texture_weight else None
    shift_rng = np.random.default_rng(recipe.seed + 20_000 + start)
    for step in bar:
        x = sampler.batch(recipe.batch, recipe.size)
        w = sampler.styles(recipe.batch, recipe.styles, teacher.num_styles).to(device)
        if step < recipe.stem_steps:  # stage 1: the stem alone, on the teacher's trunk input
            with torch.no_grad():
                target = teacher.features(x, w)
            loss = recipe.feature_weight * F.mse_loss(student.features(x, w), target)
        else:
            with torch.no_grad():
                target = teacher(x, w)
            loss = output_loss(student, teacher, x, w, target, recipe, texture, shift_rng)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        if step == recipe.stem_steps:
            loss_avg = None  # a new loss: restart the running mean
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        bar.set_postfix(loss=f"{loss_avg:.4f}")
        done = step + 1
        if done % recipe.checkpoint_every == 0 or done == recipe.steps:
            _save_checkpoint(ckpt, student, optim, done, recipe)
            if bar.disable:  # no terminal for a progress bar (CI, nohup): one line per checkpoint
                log(f"step {done}/{recipe.steps} loss {loss_avg:.4f} {time.perf_counter() - t0:.0f} s")
    bar.close()
    student.eval()
    psnr = heldout_psnr(student, teacher, device)
    summary = {"steps": recipe.steps, "seconds": round(time.perf_counter() - t0, 1), "final_loss": loss_avg,
               "heldout_psnr_db_320x180": round(psnr, 2), "device": str(device),
               "params": sum(p.numel() for p in student.parameters()),
               "teacher_params": sum(p.numel() for p in teacher.parameters())}
    out.parent.mkdir(parents=True, exist_ok=True)
    extra = {"name": "fast", "recipe": asdict(recipe), "teacher": teacher_meta.get("source", ""), "training": summary}
    if recipe.init:  # the chain of recipes that made the starting point
        _, init_meta = load_generator(Path(recipe.init))
        extra["init"] = {k: init_meta.get(k, "") for k in ("recipe", "training", "init")}
    save_generator(student, out, extra)
    return summary


def _initial_student(recipe: Recipe, teacher: StyleGenerator, photos, screens) -> StyleGenerator:
    """The pruned, untrained student: from the teacher (all three cuts of ``prune``, then the tail
    cut), or with ``recipe.init`` from an earlier student, pruned further (its trained stem kept)."""
    from ..errors import UsageError

    if recipe.init:
        start, _ = load_generator(Path(recipe.init))
        if not start.config.polyphase or tuple(start.config.stem) != tuple(recipe.widths[:2]):
            raise UsageError(f"--init {recipe.init} must be a fast student with stem widths "
                             f"{recipe.widths[0]},{recipe.widths[1]} (it has {start.config.stem or 'no stem'})")
        if recipe.widths[2] > max(start.config.res_inner) or len(start.config.res_inner) < recipe.blocks:
            raise UsageError(f"--init {recipe.init} has {len(start.config.res_inner)} residual blocks of inner width "
                             f"{max(start.config.res_inner)}: it can be pruned, not grown")
        if recipe.kernel_out > start.config.kernel_out:
            raise UsageError(f"--kernel-out {recipe.kernel_out} is larger than --init's {start.config.kernel_out}")
    calibration = PatchSampler(photos, screens, seed=recipe.seed + 10_000).batch(8, recipe.size)
    if not recipe.init:
        start = prune_generator(teacher, recipe.channel_ratios(), recipe.blocks, recipe.widths[:2],
                                calibration=calibration)
    return restructure(start, recipe.widths[2], recipe.kernel_out, recipe.res_padding, recipe.blocks, calibration)


def parse_widths(text: str) -> Tuple[int, int, int]:
    from ..errors import UsageError

    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(1 <= v <= 256 for v in values[:2]) or not 1 <= values[-1] <= TEACHER_WIDTH:
        raise UsageError(f"--widths takes three widths: the two stem widths (1..256) and the residual inner "
                         f"width (1..{TEACHER_WIDTH}), e.g. 24,48,16, got {text!r}")
    return values  # type: ignore[return-value]


LOSS_TERMS = ("pixel", "gradient", "lowpass", "texture", "noise", "shift")


def loss_weights(args) -> dict:
    """``--pixel-weight`` ... ``--shift-weight`` -> Recipe fields; unset flags keep the defaults."""
    from ..errors import UsageError

    out = {}
    for term in LOSS_TERMS:
        value = getattr(args, f"{term}_weight", None)
        if value is None:
            continue
        if not 0 <= value <= 1000:
            raise UsageError(f"--{term}-weight must be between 0 and 1000, got {value}")
        out[f"{term}_weight"] = float(value)
    return out


def run_distill(args) -> int:
    from ..options import parse_size
    from ..errors import UsageError
    from ..inference.engine import resolve_device
    from ..inference.styles import style_weights

    device = resolve_device(args.device)
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if not 0 < args.lr <= 0.1:
        raise UsageError(f"--lr must be in (0, 0.1], got {args.lr}")
    if args.blocks is not None and not 1 <= args.blocks <= 6:
        raise UsageError(f"--blocks must be 1..6, got {args.blocks}")
    styles = tuple(int(i) for i, v in enumerate(style_weights(args.styles)) if v > 0) if args.styles else tuple(range(26))
    size = parse_size(args.size)
    if size[0] % 4 or size[1] % 4:
        raise UsageError(f"--size sides must be multiples of 4, got {args.size}")
    if args.kernel_out not in (3, 5, 7, 9):
        raise UsageError(f"--kernel-out must be 3, 5, 7 or 9, got {args.kernel_out}")
    init, blocks = "", args.blocks or 6
    if args.init:
        init_path = Path(args.init)
        start, _ = load_generator(init_path)  # a missing, foreign or pickled file fails here, before any work
        init, blocks = str(init_path), args.blocks or len(start.config.res_inner)
    recipe = Recipe(widths=parse_widths(args.widths), blocks=blocks, steps=args.steps,
                    kernel_out=args.kernel_out, res_padding=args.trunk_padding, init=init,
                    batch=args.batch, finetune_lr=args.lr, **loss_weights(args),
                    size=size, styles=styles, seed=args.seed,
                    checkpoint_every=max(1, min(args.checkpoint_every, args.steps)))
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise UsageError(f"--out must end in .safetensors, got {out}")
    summary = distill(recipe, out, device, resume=args.resume)
    print(f"wrote {out}: {summary['params']} parameters (teacher {summary['teacher_params']}), "
          f"held-out PSNR vs the full net {summary['heldout_psnr_db_320x180']} dB, {summary['seconds']} s")
    return 0
