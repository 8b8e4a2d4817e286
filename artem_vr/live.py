"""``artem-vr [--window | --output PATH] ...``: build the live pipeline from the command line and run it.

Everything that can be checked cheaply (sizes, style, source spec, output path, display, VR
runtime) is checked before the model loads, so a mistake costs no waiting.
"""
from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from .config import LiveConfig
from .errors import InputError, UsageError

CPU_INFER_BOX = (320, 180)
CUDA_INFER_BOX = (1280, 720)
# --detail when not given: how much of the source's fine luminance the guided upsampling adds back.
# Screens: the level bench_readable measured as readable (README "A desktop you can still read");
# cameras, videos, images: none. A photo stays a painting, and the detail layer would draw sensor
# noise back in after the stabiliser: a still clip with noise of 2 grey levels changed 0.42 of the
# unstabilised run from frame to frame at 0.25, 0.19 at 0 (guided edges alone), 0.00 with Catmull-Rom.
DEFAULT_DETAIL = {"screen": 1.0, "camera": 0.0}
# --infer-size auto: floor, ceiling and first size per device
AUTO_CPU = ((192, 108), (960, 540), CPU_INFER_BOX)
AUTO_CUDA = ((320, 180), (1920, 1080), CUDA_INFER_BOX)


def live_parser(parser_class=argparse.ArgumentParser) -> argparse.ArgumentParser:
    from .options import _add_model_options, parse_size

    p = parser_class(prog="artem-vr", description=(
        "Live neural style transfer. With no --window/--output it runs in the VR headset. "
        "Subcommands: stylize, styles, distill, doctor (artem-vr SUBCOMMAND --help)."))
    from . import __version__

    p.add_argument("-V", "--version", action="version", version=f"artem-vr {__version__}",
                   help="print the version and exit")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--window", action="store_true", help="show in a desktop window")
    out.add_argument("--output", metavar="PATH", help="write a video (.mp4 .mkv .mov .m4v .avi .ts .webm) or a folder of PNGs, "
                     "headless")
    p.add_argument("--record", metavar="FILE",
                   help="also record what is shown to a video (.mp4 .mkv .mov .m4v .avi .ts .webm), "
                        "as long as the run")
    p.add_argument("--virtualcam", nargs="?", const="", default=None, metavar="DEVICE",
                   help="also send the picture to a virtual camera (Zoom, Meet, OBS) through pyvirtualcam, "
                        "1280x720 at 30 fps (--size sets it when the camera is the only output); DEVICE: "
                        "/dev/videoN or a camera name (default: the first free one). Without --window/--output "
                        "the camera is the only output (no headset)")
    p.add_argument("--source", default=None, help="webcam, webcam:N, screen, screen:N, screen:X,Y,W,H, screen:pick, "
                   "video:PATH, image:PATH or demo (default webcam)")
    _add_model_options(p, "auto")  # the live modes: the fastest net that looks like the full one
    p.add_argument("--style-dir", metavar="DIR",
                   help="window: a folder of paintings, cycled as styles with , and . (the arbitrary net)")
    p.add_argument("--infer-size", type=_infer_size, metavar="WxH|auto",
                   help="inference resolution box, aspect kept; auto (default for live sources) picks the largest "
                        "size that keeps inference within the budget and adapts to the load; fixed default for "
                        "--output from a video, an image or the demo (frame by frame, reproducible): 320x180 on "
                        "CPU, 1280x720 on CUDA")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--budget-ms", type=float, metavar="MS",
                        help="with --infer-size auto: inference time per frame to stay within (default: the "
                             "source's frame period; in VR half the headset's frame time)")
    budget.add_argument("--target-fps", type=float, metavar="N", help="with --infer-size auto: the same as 1000/N ms")
    p.add_argument("--size", type=parse_size, metavar="WxH",
                   help="window size, or output size for --output (default: the source's size)")
    p.add_argument("--frames", type=int, metavar="N", help="stop after N frames shown/written")
    p.add_argument("--stats", metavar="FILE.json", help="write run statistics here at exit")
    p.add_argument("--hud", action=argparse.BooleanOptionalAction, default=None,
                   help="per-stage fps/latency overlay (default: on in the window, off in files)")
    p.add_argument("--sharpen", type=float, default=0.3, help="sharpening after Catmull-Rom upsampling, 0..1 (default 0.3; the source-guided "
                        "upsampling, used whenever the source is larger than the inference size, needs none)")
    p.add_argument("--detail", type=float, default=None, metavar="F",
                   help="0..1: the source's fine detail (small text, thin lines) added back when upsampling, "
                        f"guided by the full-resolution frame (default {DEFAULT_DETAIL['screen']:g} for screens, "
                        f"{DEFAULT_DETAIL['camera']:g} otherwise; D / Shift+D in the window)")
    p.add_argument("--stabilize", action=argparse.BooleanOptionalAction, default=True,
                   help="hold still regions and carry moving ones by optical flow, so strokes do not "
                        "shimmer (default on; T toggles it in the window)")
    p.add_argument("--fullscreen", action="store_true", help="start the window fullscreen")
    p.add_argument("--vr-view", choices=("fill", "screen"), default=None,
                   help="VR: fill each eye (default for webcam) or a floating screen (default for screen)")
    p.add_argument("--mirror", action="store_true", help="VR: also show the left eye in a desktop window")
    p.add_argument("--vr-distance", type=float, default=2.0, metavar="M",
                   help="VR screen view: distance to the screen in metres (default 2)")
    p.add_argument("--vr-width", type=float, default=2.4, metavar="M",
                   help="VR screen view: screen width in metres (default 2.4)")
    p.add_argument("--vr-api", choices=("auto", "openxr", "openvr"), default=None,
                   help="VR: the headset API; auto (default) takes OpenXR when an OpenXR runtime is active "
                        "(SteamVR, Meta Quest Link, Monado, WiVRn), else OpenVR (SteamVR)")
    p.add_argument("--vr-curve", type=float, default=None, metavar="DEGREES",
                   help="VR screen view: bend the screen into an arc of this many degrees around you (OpenXR "
                        "runtimes with curved layers; 0 = flat, the default; about 60 suits a 2.4 m screen at 2 m)")
    return p


def build_config(args) -> LiveConfig:
    from .options import resolve_style_arg
    from .inference.styles import painting_files

    if args.frames is not None and args.frames < 1:
        raise UsageError(f"--frames must be at least 1, got {args.frames}")
    if not (0.3 <= args.vr_distance <= 50 and 0.1 <= args.vr_width <= 50):
        raise UsageError("--vr-distance must be 0.3..50 m and --vr-width 0.1..50 m")
    if args.vr_curve is not None and not 0 <= args.vr_curve <= 180:
        raise UsageError(f"--vr-curve must be 0..180 degrees, got {args.vr_curve:g}")
    if not 0.0 <= args.sharpen <= 1.0:
        raise UsageError(f"--sharpen must be between 0 and 1, got {args.sharpen}")
    if args.detail is not None and not 0.0 <= args.detail <= 1.0:
        raise UsageError(f"--detail must be between 0 and 1, got {args.detail}")
    budget_ms = _budget(args)
    style = resolve_style_arg(args)  # paintings read and their vectors made before any model loads
    style_dir = painting_files(args.style_dir) if getattr(args, "style_dir", None) else None
    _check_stats_path(args.stats)
    mode = "window" if args.window else "file" if args.output else (
        "virtualcam" if args.virtualcam is not None else "vr")
    _refuse_inapplicable(args, mode)
    source = args.source or "webcam"
    vr_view = args.vr_view or ("screen" if source.startswith("screen") else "fill")
    if args.vr_curve and vr_view != "screen":
        raise UsageError("--vr-curve bends the screen view; add --vr-view screen")
    hud = args.hud if args.hud is not None else mode == "window"
    detail = args.detail if args.detail is not None else DEFAULT_DETAIL[
        "screen" if source.split(":")[0].strip().lower() == "screen" else "camera"]
    return LiveConfig(mode=mode, output=args.output, source=source,
                      style=style if not isinstance(style, str) else _style_value(style), style_dir=style_dir,
                      model=args.model, strength=args.strength, preserve_color=args.preserve_color,
                      device=args.device, infer_size=args.infer_size, size=args.size, frames=args.frames,
                      budget_ms=budget_ms,
                      stats=args.stats, hud=hud, sharpen=args.sharpen, fullscreen=args.fullscreen,
                      vr_view=vr_view, mirror=args.mirror, vr_distance=args.vr_distance, vr_width=args.vr_width,
                      vr_api=args.vr_api or "auto", vr_curve=args.vr_curve or 0.0,
                      backend=args.backend, precision=args.precision, stabilize=args.stabilize, detail=detail,
                      record=args.record, virtualcam=args.virtualcam)


def _check_stats_path(path) -> None:
    """``--stats`` must be writable before the run, not only at its end."""
    import os

    if not path:
        return
    target = Path(path).expanduser()
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InputError(f"--stats {path}: its folder does not exist")
    if target.is_dir():
        raise InputError(f"--stats {path} is a folder; give a file name like stats.json")
    existed = target.exists()
    try:  # a real attempt: permission bits say nothing for root, nor for read-only mounts
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise InputError(f"--stats {path}: cannot write there ({exc.strerror or exc})") from None
    if not existed:
        os.unlink(target)


def _refuse_inapplicable(args, mode: str) -> None:
    """Options that would do nothing in this mode are errors, not silently ignored."""
    if args.fullscreen and mode != "window":
        raise UsageError("--fullscreen is for --window")
    if mode != "vr":
        vr_only = [name for name, given in (("--vr-view", args.vr_view is not None), ("--mirror", args.mirror),
                                            ("--vr-api", args.vr_api is not None),
                                            ("--vr-curve", args.vr_curve is not None)) if given]
        if vr_only:
            where = {"window": "--window", "file": "--output", "virtualcam": "--virtualcam alone"}[mode]
            raise UsageError(f"{vr_only[0]} is for the VR headset, not {where}")
    _refuse_clobbering(args)


def _refuse_clobbering(args) -> None:
    """No output file (--output, --record, --stats) is written over an input (the source file, a
    painting of --style) or over another output."""
    from .options import refuse_writing_over, style_files

    kind, _, rest = (args.source or "").partition(":")
    inputs = [("source", rest)] if kind.strip().lower() in ("video", "image") and rest else []
    inputs += [("--style painting", str(p)) for p in style_files(args.style)]
    output = args.output if args.output and Path(args.output).suffix and not Path(args.output).is_dir() else None
    refuse_writing_over([("--output", output), ("--record", args.record), ("--stats", args.stats)], inputs)


def _style_value(spec: str):
    return int(spec) if spec.strip().isdigit() else spec


def make_outputs(config: LiveConfig) -> list:
    """The secondary sinks: a recording and/or a virtual camera beside the primary output."""
    outputs = []
    if config.record:
        from .render.record import RecordSink

        outputs.append(RecordSink(config.record))  # no HUD: a clean video of the picture
    if config.virtualcam is not None and config.mode != "virtualcam":
        from .render.virtualcam import VirtualCamSink

        outputs.append(VirtualCamSink(config.virtualcam))
    return outputs


def make_sink(config: LiveConfig, controls, source):
    if config.mode == "virtualcam":
        from .render.virtualcam import DEFAULT_SIZE, VirtualCamSink

        return VirtualCamSink(config.virtualcam, size=config.size or DEFAULT_SIZE, hud=bool(config.hud))
    if config.mode == "window":
        from .render.window import WindowSink

        return WindowSink(controls, size=config.size, fullscreen=config.fullscreen)  # None: beside a captured screen
    if config.mode == "file":
        from .render.file import FileSink

        from .capture.media import VideoSource

        media = source if isinstance(source, VideoSource) else None
        endless = config.frames is None and not hasattr(source, "path")  # demo, camera, screen: no end of their own
        return FileSink(config.output, size=config.size, hud=config.hud, media=media, progress=True,
                        total=_frames_expected(config, source, media),
                        until=f"--source {config.source} has no end" if endless else None)
    from .render.vr import make_vr_sink

    return make_vr_sink(controls, config.vr_api, view=config.vr_view, mirror=config.mirror,
                        distance=config.vr_distance, width=config.vr_width, curve=config.vr_curve)


def _frames_expected(config: LiveConfig, source, media):
    """How many frames an --output run will write, for its progress bar: --frames, capped by a video's
    own count (a file render ends with the video); an image gives its count; else None (unknown)."""
    counts = [n for n in (config.frames, getattr(getattr(media, "info", None), "frames", None),
                          getattr(source, "count", None)) if n]
    return min(counts) if counts else None


def run_live(args) -> int:
    from .capture import parse_source
    from .controls import Controls, Settings
    from .inference.engine import StyleEngine, resolve_device
    from .pipeline import LivePipeline

    config = build_config(args)
    device = resolve_device(config.device)
    from .inference.precision import check_request

    check_request(device.type, config.backend, config.precision)  # bf16 where the CPU has none: now, in one line
    if config.source.strip().lower() == "screen:pick":  # drag the region now, before the model loads
        from dataclasses import replace

        from .capture.pick import pick_region

        spec = "screen:{},{},{},{}".format(*pick_region())
        print(f"artem-vr: picked --source {spec}", flush=True)
        config = replace(config, source=spec)
    source = parse_source(config.source, offline=config.mode == "file", frames=config.frames)
    controls = Controls(Settings(config.style, config.strength, config.preserve_color, config.hud,
                                 stabilize=config.stabilize, detail=config.detail))
    controls.paintings = list(config.style_dir or ())
    outputs = make_outputs(config)
    sink = make_sink(config, controls, source)
    pipeline = None
    try:
        for output in outputs:
            output.prepare()  # no virtual camera: say so before the model loads (and before the headset)
        sink.prepare()  # no display / no headset: say so before the model loads
        model = config.model
        fixed_box = config.infer_size if isinstance(config.infer_size, tuple) else None
        engine = StyleEngine.load(model, device=config.device, backend=config.backend, precision=config.precision,
                                  infer_size=fixed_box)  # auto: measured at the CPU's first box, 320x180
        if not engine.takes_paintings:
            controls.num_styles = engine.num_styles
        elif getattr(args, "table_model", None):
            engine.table_model = args.table_model  # the net that arrows and 0-9 switch back to
        offline = config.mode == "file" and source.on_demand
        if offline:
            engine.reproducible = True  # a render from a file: the same bytes, run after run
        resolution = dynamic_resolution(config, device, offline, sink)
        fixed = config.infer_size if isinstance(config.infer_size, tuple) else None
        box = fixed or (resolution.box if resolution else CUDA_INFER_BOX if device.type == "cuda" else CPU_INFER_BOX)
        if resolution is not None and getattr(engine, "graphed", None) is not None:
            engine.graphed.max_graphs = 3  # the size in use and its neighbours on the ladder
        pipeline = LivePipeline(source, engine, sink, controls, box, upscale=False, resolution=resolution,
                                frames=config.frames, lockstep=config.mode == "file" and source.on_demand,
                                sharpen=config.sharpen, model_name=engine.name, outputs=outputs,
                                # software GL: the guided pass only where it earns its cost (screens'
                                # text) or was asked for; cameras and videos keep Catmull-Rom there
                                guided_on_software=config.source.startswith("screen")
                                or getattr(args, "detail", None) is not None)
        pipeline.worker.size_given = fixed is not None
        signalled = _install_sigterm(controls)
        pipeline.run()
    finally:
        for output in outputs:
            output.close()
        sink.close()  # idempotent; covers failures before the pipeline took the sink over
        if config.stats and pipeline is not None:
            _write_stats(config.stats, {**pipeline.stats(), **getattr(sink, "vr_stats", dict)()})
    return 128 + signalled[0] if signalled else 0


def _infer_size(text: str):
    from .options import parse_size

    if text.strip().lower() == "auto":
        return "auto"
    try:
        return parse_size(text)
    except UsageError as exc:
        raise UsageError(f"--infer-size: {exc}, or auto") from None


def _budget(args):
    """``--budget-ms`` / ``--target-fps`` -> ms, or None (the default); only with ``--infer-size auto``."""
    value = args.budget_ms if args.budget_ms is not None else (
        1000.0 / args.target_fps if args.target_fps else None)
    if args.target_fps is not None and not 0 < args.target_fps <= 1000:
        raise UsageError(f"--target-fps must be above 0 and at most 1000, got {args.target_fps:g}")
    if args.budget_ms is not None and not 0.5 <= args.budget_ms <= 10000:
        raise UsageError(f"--budget-ms must be 0.5..10000, got {args.budget_ms:g}")
    if value is not None and isinstance(args.infer_size, tuple):
        raise UsageError("--budget-ms/--target-fps set the budget of --infer-size auto, not of a fixed --infer-size")
    return value


def dynamic_resolution(config, device, offline: bool, sink):
    """The DynamicResolution of a live run, or None for a fixed size (``--infer-size WxH``, or an
    offline render from a video or image, which keeps a fixed size so that it is deterministic)."""
    from .inference.resolution import DynamicResolution

    if isinstance(config.infer_size, tuple) or (config.infer_size is None and offline):
        if config.budget_ms is not None:
            raise UsageError("--budget-ms/--target-fps need --infer-size auto (an --output render from a video, "
                             "an image or the demo uses a fixed size unless you ask for auto)")
        return None
    floor, ceiling, start = AUTO_CUDA if device.type == "cuda" else AUTO_CPU
    budget = config.budget_ms
    if budget is None and config.mode == "vr" and device.type == "cuda":
        # the display never waits for inference; on a GPU that also draws the headset's frames the
        # inference gets half of each headset frame, so that the compositor's two eyes and the runtime's
        # reprojection always have the other half. On the CPU the net does not share the GPU: the
        # source's period is the budget, as in a window (half a 90 Hz frame pinned it at the 192x108 floor)
        budget = 0.5 * 1000.0 / (getattr(sink, "refresh_hz", None) or 90.0)
    return DynamicResolution(floor, ceiling, budget, start=start)  # None: the pipeline sets the source's period


def _install_sigterm(controls) -> list:
    """SIGTERM ends the run like Esc does (clean shutdown); the exit code then says 143."""
    got: list = []
    if threading.current_thread() is not threading.main_thread():
        return got

    def handler(signum, frame):
        got.append(signum)
        controls.quit.set()

    signal.signal(signal.SIGTERM, handler)
    return got


def _write_stats(path: str, stats: dict) -> None:
    try:
        Path(path).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write --stats {path}: {exc.strerror or exc}") from None
