"""Argument helpers shared by the command line, the live modes and ``distill``: sizes, strength, the
model/style/backend options and the ``--style`` resolution, so cli, live and distill do not import
each other."""
from __future__ import annotations

import argparse
import os
import sys

from .errors import UsageError

DEFAULT_STYLE = "tapestry"  # style 25: strong strokes that keep a face readable at 320x180 (README "Styles")


def parse_size(text: str) -> tuple:
    """``"640x360"`` -> ``(640, 360)``; sides 32..8192."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"bad size {text!r}; use WxH, e.g. 640x360") from None
    if not (32 <= w <= 8192 and 32 <= h <= 8192):
        raise UsageError(f"size {text} out of range; both sides must be 32..8192")
    return w, h


def _strength(text: str) -> float:
    from .inference.engine import check_strength

    try:
        return check_strength(float(text))
    except ValueError:
        raise UsageError(f"strength must be a number between 0 and 1, got {text!r}") from None


class _ModelGiven(argparse.Action):
    """Stores ``--model`` and notes that it was given (a painting --style picks the arbitrary net
    only when it was not)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.model_given = True


def _add_model_options(p: argparse.ArgumentParser, default_model: str, default_precision: str = "auto") -> None:
    p.add_argument("--style", default=DEFAULT_STYLE,
                   help="a style name (artem-vr styles lists them) or index 0-25, a blend like "
                        "mosaic:0.5,pastel:0.5 or 3:0.5,12:0.5, a painting (any image file) or a blend of paintings "
                        f"like a.jpg:0.7,b.png:0.3 (default {DEFAULT_STYLE}); a painting uses --model arbitrary "
                        "unless --model is given")
    p.add_argument("--model", default=default_model, action=_ModelGiven,
                   help=f"auto (the fastest net that looks like the full one on this device), fast (pruned, "
                        f"~3x), balanced (learned stem, ~2x), full (26-style net), arbitrary "
                        f"(any painting as the style) or a .safetensors file (default {default_model}; "
                        "arbitrary when --style is a painting)")
    p.set_defaults(model_given=False)
    p.add_argument("--strength", type=_strength, default=1.0, help="0..1, mix with the original (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours, take the style's light")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    _add_engine_options(p, default_precision)


def _add_engine_options(p: argparse.ArgumentParser, default_precision: str = "auto") -> None:
    """``--backend`` and ``--precision`` (inference/precision.py decides what auto means)."""
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "openvino"),
                   help="inference runtime; onnxruntime and openvino are CPU only (default auto: on the CPU the "
                        "fastest of onnxruntime and OpenVINO, measured once per machine and model)")
    p.add_argument("--precision", default=default_precision, choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto (CUDA: fp16; CPU: bf16 through OpenVINO where the CPU has it and it is faster, "
                        "else fp32), fp32, bf16 (CPUs with AVX-512 BF16 or AMX) or fp16 (CUDA) "
                        f"(default {default_precision})")


def quiet_torch_threads(backend: str) -> None:
    """With onnxruntime (the CPU default) torch only does the small per-frame conversions, and its
    OpenMP threads busy-wait after each of them by default, taking the cores from the onnxruntime
    run that follows: on 2 cores the fast net's run took 15.2 ms in the live loop instead of 8.3.
    Passive waiting has to be chosen before torch loads; a user's own OMP_WAIT_POLICY wins, and
    ``--backend torch`` keeps torch's default (passive waiting slows torch's own inference)."""
    if backend != "torch" and "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def resolve_style_arg(args):
    """``--style`` as the engine takes it, checked before any model loads: a painting or a blend of
    paintings is read (safe decoder) and turned into a PaintingStyle now, and sets ``args.model`` to
    ``arbitrary`` unless --model was given; anything else is checked as built-in style weights."""
    from .inference.engine import AUTO_MODEL, MODEL_NAMES, PAINTING_MODEL
    from .inference.styles import check_spec, is_painting_spec, load_painting_style, style_weights

    check_spec(args.style)  # each part of a blend gets its own diagnosis (a typo, a weight, a missing file)
    if is_painting_spec(args.style):
        if getattr(args, "model_given", False) and args.model in MODEL_NAMES + (AUTO_MODEL,):
            raise UsageError(f"--style {args.style} is a painting, but --model {args.model} has only built-in "
                             f"styles; use --model {PAINTING_MODEL} or leave --model out")
        style = load_painting_style(args.style)
        if not getattr(args, "model_given", False):
            args.table_model, args.model = args.model, PAINTING_MODEL  # built-in styles go back to the default
        return style
    if args.model == PAINTING_MODEL:
        raise UsageError(f"--model {PAINTING_MODEL} takes a painting as --style (an image file), "
                         f"not the built-in style {args.style!r}")
    style_weights(args.style)
    return args.style


def style_files(spec) -> list:
    """The painting files a ``--style`` spec names (``a.jpg:0.7,b.png:0.3`` -> both paths), for the
    check that no output is written over them; built-in styles name none."""
    from pathlib import Path

    from .inference.styles import is_painting_spec, painting_parts

    if not isinstance(spec, str) or not is_painting_spec(spec):
        return []
    return [Path(p).expanduser() for p, _ in painting_parts(spec) if Path(p).expanduser().is_file()]


def refuse_writing_over(outputs, inputs) -> None:
    """One line (UsageError) when an output file would be written over an input file or over another
    output: ``outputs`` and ``inputs`` are ``(label, path)`` pairs, e.g. ``("--stats", "x.mp4")``.
    Paths are compared as resolved paths (the files need not exist yet)."""
    from pathlib import Path

    def key(path):
        return Path(path).expanduser().resolve()

    def same(a, b) -> bool:  # the same path, or one file under two names (a hard link)
        try:
            return key(a) == key(b) or os.path.samefile(Path(a).expanduser(), Path(b).expanduser())
        except OSError:
            return False

    outs = [(label, key(path), path) for label, path in outputs if path]
    for label, path in inputs:
        if path:
            clash = next((o for o in outs if same(o[2], path)), None)
            if clash is not None:
                raise UsageError(f"{clash[0]} {clash[2]} is the {label} itself ({path}); choose another name")
    for i, (label, k, path) in enumerate(outs):
        for other_label, other_k, _ in outs[i + 1:]:
            if k == other_k:
                raise UsageError(f"{label} and {other_label} name the same file {path}; choose another name")
