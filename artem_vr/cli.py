"""Command line: ``artem-vr [live options]`` and the ``stylize``/``styles``/``doctor`` subcommands.

Every :class:`ArtemError` becomes one line on stderr and exit code 2; Ctrl-C is exit 130.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from . import __version__
from .errors import ArtemError, Terminated, UsageError
from .options import (DEFAULT_STYLE, _add_engine_options, _add_model_options, parse_size,  # noqa: F401 (re-exported)
                      quiet_torch_threads, refuse_writing_over, resolve_style_arg, style_files)

SUBCOMMANDS = ("stylize", "styles", "doctor", "distill")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage + exiting, so errors stay one line."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see {self.prog} --help)")


def stylize_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="artem-vr stylize", description="Stylize image and video files.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="images (PNG/JPEG/...), videos, or folders")
    p.add_argument("-o", "--output", help="output file (one input) or folder; default: beside each input")
    _add_model_options(p, "full", "fp32")  # files want the exact result: bf16 only when asked for
    p.add_argument("--max-size", type=int, default=None, help="cap the longer side in pixels")
    p.add_argument("--crf", type=int, default=None, metavar="Q",
                   help="video quality, lower is better: 0..51 (default 20 for H.264, 32 for VP9 in .webm)")
    p.add_argument("--stabilize", action=argparse.BooleanOptionalAction, default=True,
                   help="videos: hold still regions and carry moving ones by optical flow, so strokes do not "
                        "shimmer (default on)")
    return p


def styles_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="artem-vr styles", description="List the styles or render a labelled contact sheet.")
    p.add_argument("--sheet", metavar="OUT.png", help="write a contact sheet of every style")
    p.add_argument("--image", metavar="PHOTO", help="photo for the sheet (default: a bundled photo)")
    p.add_argument("--style-dir", metavar="DIR",
                   help="with --sheet: also render the paintings of DIR as styles (thumbnail beside each result)")
    p.add_argument("--model", default="full", help="fast, balanced, full, auto or a .safetensors file (default full)")
    p.add_argument("--device", default="auto")
    _add_engine_options(p, "fp32")  # a sheet is a file: the exact result unless bf16 is asked for
    return p


def cmd_stylize(argv: List[str]) -> int:
    args = stylize_parser().parse_args(argv)
    quiet_torch_threads(args.backend)
    from .inference.engine import StyleEngine
    from .stylize import plan_jobs, run_stylize

    if args.max_size is not None and args.max_size < 32:
        raise UsageError(f"--max-size must be at least 32, got {args.max_size}")
    if args.crf is not None and not 0 <= args.crf <= 63:
        raise UsageError(f"--crf must be 0..51 (H.264) or 0..63 (VP9), got {args.crf}")
    style = resolve_style_arg(args)  # a bad spec or painting fails before the model loads
    notes: List[str] = []
    jobs = plan_jobs(args.inputs, args.output, notes)  # every input checked before anything is written
    refuse_writing_over([("output", str(job.dst)) for job in jobs],
                        [("--style painting", str(p)) for p in style_files(args.style)])
    terminate_on_sigterm()
    engine = StyleEngine.load(args.model, device=args.device, backend=args.backend, precision=args.precision,
                              infer_size=(1280, 720))  # files: measured at the larger size class
    engine.reproducible = True  # files: the same input gives the same bytes, run after run
    try:
        failures = run_stylize(engine, jobs, style, args.strength, args.preserve_color, args.max_size,
                               crf=args.crf, notes=notes, stabilize=args.stabilize)
    finally:
        for line in dict.fromkeys(notes):  # each remark once, after the work (or the interruption)
            print(f"artem-vr: note: {line}", file=sys.stderr)
    return 2 if failures else 0


def terminate_on_sigterm() -> None:
    """SIGTERM raises :class:`Terminated` in the main thread, so temporary files are removed on the way
    out and the exit code is 143, as in the live modes."""
    import signal
    import threading

    def handler(signum, frame):
        raise Terminated()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def cmd_styles(argv: List[str]) -> int:
    from .inference.engine import StyleEngine

    args = styles_parser().parse_args(argv)
    if not args.sheet:
        if args.image or args.style_dir:
            raise UsageError(f"{'--image' if args.image else '--style-dir'} is used with --sheet OUT.png")
        plain = args.backend == "auto" and args.precision in ("auto", "fp32")  # names only: nothing to time
        engine = StyleEngine.load(args.model, device="cpu", backend="torch" if plain else args.backend,
                                  precision=args.precision)
        if engine.takes_paintings:
            print("the arbitrary model takes any painting as its style: --style painting.jpg, or a blend "
                  "like --style a.jpg:0.7,b.png:0.3; see them with: artem-vr styles --sheet s.png --style-dir DIR")
            return 0
        from .inference.styles import style_name

        print(f"{engine.num_styles} styles (--style NAME or INDEX):")
        for i in range(engine.num_styles):
            print(f"{i:3d}  {style_name(i)}")
        print("blend them with e.g. --style mosaic:0.5,pastel:0.5; see them all with: artem-vr styles --sheet sheet.png")
        return 0
    from .images import check_writable, image_format, read_image, write_image
    from .sheet import contact_sheet

    image_format(args.sheet)  # an unknown suffix or a folder that cannot be written: now, not after the sheet
    check_writable(args.sheet)
    photo = read_image(args.image) if args.image else None
    paintings = []
    if args.style_dir:  # every painting read and encoded before any model loads
        from .inference.styles import load_painting_style, painting_files

        paintings = [(os.path.basename(p), read_image(p), load_painting_style(p)) for p in painting_files(args.style_dir)]
    engine = StyleEngine.load(args.model, device=args.device, backend=args.backend, precision=args.precision)
    sheet = contact_sheet(engine, photo, paintings=paintings)
    replaced = "; replaced the earlier file" if os.path.exists(args.sheet) else ""
    write_image(args.sheet, sheet)
    print(f"wrote {args.sheet} ({sheet.shape[1]}x{sheet.shape[0]}{replaced}) [{engine.name}, {engine.backend} "
          f"{engine.precision}]")
    return 0


def cmd_doctor(argv: List[str]) -> int:
    from .doctor import run_doctor

    _Parser(prog="artem-vr doctor", description="Check torch/CUDA, GL, VR, cameras, monitors.").parse_args(argv)
    return run_doctor()


def distill_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="artem-vr distill", description=(
        "Build the pruned 'fast' net: structured pruning of the 26-style net, then distillation."))
    p.add_argument("--styles", help="train only these styles, e.g. 0,5,9 (default all 26)")
    p.add_argument("--widths", default="24,48,16",
                   help="stem widths (stride 2, stride 4) and residual inner width (default 24,48,16)")
    p.add_argument("--blocks", type=int, default=None,
                   help="residual blocks to keep, 1..6 (default 6, or as many as --init has); the ones that "
                        "add least to the trunk go")
    p.add_argument("--kernel-out", type=int, default=5,
                   help="output conv size: the teacher's 9x9 is cropped to it, 3..9 odd (default 5)")
    p.add_argument("--trunk-padding", choices=("zeros", "reflect"), default="zeros",
                   help="padding of the residual convs (default zeros: no separate pad pass)")
    p.add_argument("--init", metavar="FILE",
                   help="start from this fast student (same stem widths), pruned further, instead of the full net")
    p.add_argument("--steps", type=int, default=4000,
                   help="training steps, the first 40%% for the stem alone unless --init (default 4000)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3,
                   help="peak learning rate of the end-to-end stage, cosine-decayed to 5%% (default 1e-3; "
                        "lower to continue a trained net)")
    p.add_argument("--size", default="192x112", help="training patch WxH, multiples of 4 (default 192x112)")
    p.add_argument("--out", default="models/fast.safetensors", help="output file (default models/fast.safetensors)")
    for term, what in (("pixel", "L1 on pixels"), ("gradient", "L1 on finite differences"),
                       ("lowpass", "L1 after a 4x area downsample"),
                       ("texture", "mean/std of the teacher's fixed early features"),
                       ("noise", "noise passed on relative to the teacher (above 0.4)"),
                       ("shift", "low-pass L1 of the student on a crop moved 1-3 px vs the moved teacher")):
        p.add_argument(f"--{term}-weight", type=float, default=None, metavar="W",
                       help=f"loss weight of {what} (0 turns it off; default in training/distill.py's Recipe)")
    p.add_argument("--resume", action="store_true", help="continue from OUT's .ckpt.safetensors checkpoint")
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return p


def cmd_distill(argv: List[str]) -> int:
    from .training.distill import run_distill

    return run_distill(distill_parser().parse_args(argv))


def cmd_live(argv: List[str]) -> int:
    from .live import live_parser, run_live

    args = live_parser(_Parser).parse_args(argv)
    quiet_torch_threads(args.backend)
    return run_live(args)


def quiet_libraries(verbose: bool) -> None:
    """Keep stderr to our own line: OpenCV's ``[ WARN:0@0.2] ... can't open camera by index`` and
    GLFW's ``GLFWError ... Failed to open display`` only with ``--verbose`` (FFmpeg's log is off in
    PyAV by default), onnxruntime's allocation errors. OpenCV reads its level when it loads, so this
    runs before any cv2 import."""
    import warnings

    if verbose:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "WARNING")
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    warnings.filterwarnings("ignore", module="glfw")
    try:  # onnxruntime prints its own "[E:onnxruntime ...] Failed to allocate" before our one line
        import onnxruntime

        onnxruntime.set_default_logger_severity(4)
    except ImportError:
        pass


def dispatch(argv: List[str]) -> int:
    verbose = "--verbose" in argv  # any command: let the libraries' own diagnostics through
    argv = [a for a in argv if a != "--verbose"]
    quiet_libraries(verbose)
    if argv and argv[0] in ("-V", "--version"):
        print(f"artem-vr {__version__}")
        return 0
    if argv and argv[0] in SUBCOMMANDS:
        return {"stylize": cmd_stylize, "styles": cmd_styles, "doctor": cmd_doctor,
                "distill": cmd_distill}[argv[0]](argv[1:])
    if argv and not argv[0].startswith("-"):
        import difflib

        close = difflib.get_close_matches(argv[0], SUBCOMMANDS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"unknown command {argv[0]!r}; {hint}commands: {', '.join(SUBCOMMANDS)} "
                         "(live options start with --, see artem-vr --help)")
    return cmd_live(argv)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return dispatch(argv)
    except ArtemError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"artem-vr: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"artem-vr: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # `artem-vr styles | head -1`: the reader left; not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # so the interpreter's final flush does not complain
        except OSError:
            pass
        return 0
    except OSError as exc:
        if exc.filename is None:
            raise
        # a user path we may not read or write (permission, missing folder, full disk): one line
        print(f"artem-vr: error: cannot use {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        print("artem-vr: error: out of memory; use a smaller --infer-size, --size or --max-size", file=sys.stderr)
        return 2


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocation failure in numpy, torch or onnxruntime (each says it its own way)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return ("alloc" in text and ("memory" in text or "fail" in text)) or "out of memory" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
