"""``artem-vr stylize``: images, animations and videos from disk through the StyleEngine.

Every input is probed and every output planned before anything is written: a file is a video when
FFmpeg finds a video stream in it, an animation when it is an image with several frames (GIF, WebP,
APNG). Outputs never replace an input or each other, and are written to a temporary name renamed
into place when complete.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .errors import ArtemError, InputError, UsageError
from .images import (ALPHA_SUFFIXES, ANIMATION_SUFFIXES, IMAGE_SUFFIXES, MIN_SIDE, NotAnImage, check_writable,
                     fit_max_size, frame_count, read_frames, read_image_alpha, resize, write_animation, write_image)
from .video import VIDEO_OUT_SUFFIXES, VideoReader, VideoWriter, is_image_container

STYLED = "_styled"
BIG_IMAGE_MP = 4.0  # images above this many megapixels get a line saying the job has started


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    kind: str  # "image" | "animation" | "video"

    @property
    def video(self) -> bool:
        return self.kind == "video"


def classify(path: Path) -> str:
    """``"image"``, ``"animation"`` or ``"video"`` by content, not suffix. Raises :class:`InputError`
    (missing, unreadable, not media, "has no video stream" for audio-only files)."""
    try:
        return "animation" if frame_count(path) > 1 else "image"
    except NotAnImage as not_image:
        if is_image_container(path):  # FFmpeg's single-image readers: Pillow's reason is the better one
            raise not_image from None
    return "video"


def _scan_folder(folder: Path, skipped: List[str]) -> List[Tuple[Path, str]]:
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise InputError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    found = []
    for path in entries:
        if path.name.startswith("."):
            continue  # hidden files, our own temporary files
        if path.stem.endswith(STYLED):
            skipped.append(f"{path.name} (an earlier artem-vr result)")
            continue
        try:
            found.append((path, classify(path)))
        except InputError as exc:
            reason = "no video stream" if "no video stream" in str(exc) else \
                "permission denied" if "permission" in str(exc) else "not an image or video"
            skipped.append(f"{path.name} ({reason})")
    return found


def plan_jobs(inputs: Sequence[str], out: Optional[str], notes: Optional[List[str]] = None) -> List[Job]:
    """Map inputs (files or folders) to outputs. ``out``: a file (one input) or a folder; default
    beside each input as ``NAME_styled.png`` (images), same format (animations), ``.mp4`` (videos).
    Folder runs skip earlier ``*_styled`` results and non-media files, listed in ``notes``.
    Raises :class:`InputError`/:class:`UsageError` before anything is written."""
    sources: List[Tuple[Path, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            skipped: List[str] = []
            found = _scan_folder(path, skipped)
            if skipped and notes is not None:
                shown = ", ".join(skipped[:6]) + (f" and {len(skipped) - 6} more" if len(skipped) > 6 else "")
                notes.append(f"skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} in {path}: {shown}")
            if not found:
                raise InputError(f"no images or videos in folder {path}")
            sources.extend(found)
        else:
            sources.append((path, classify(path)))
    sources = _once_each(sources, notes)
    out_path = Path(out) if out else None
    as_folder = bool(out) and out.endswith(("/", os.sep))  # "-o results.v2/" is a folder, whatever its dots
    single = None if as_folder else _single_output(out_path, sources)
    jobs = [Job(src, single if single else _default_dst(src, kind, out_path), kind) for src, kind in sources]
    jobs = _separate_collisions(jobs)
    _refuse_overwriting_inputs(jobs)
    for job in {job.dst.parent: job for job in reversed(jobs)}.values():  # a read-only -o: now, not after the model
        check_writable(job.dst)
    return jobs


def _single_output(out_path: Optional[Path], sources) -> Optional[Path]:
    """``out_path`` when it names one output file (checked against the input's kind), else None."""
    if out_path is None or out_path.is_dir():
        return None
    suffix = out_path.suffix.lower()
    if not suffix:
        return None  # a new folder
    if suffix not in IMAGE_SUFFIXES | VIDEO_OUT_SUFFIXES:
        raise UsageError(f"-o {out_path}: unknown suffix {out_path.suffix!r}; name an image "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))}), a video ({', '.join(sorted(VIDEO_OUT_SUFFIXES))}) "
                         "or a folder (end it with / if its name has a dot)")
    if len(sources) != 1:
        raise UsageError(f"-o {out_path} names a file, but {len(sources)} inputs need a folder")
    src, kind = sources[0]
    if kind == "image" and suffix not in IMAGE_SUFFIXES:
        raise UsageError(f"{src.name} is an image but -o {out_path} names a video; "
                         f"use an image name ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if kind == "video" and suffix not in VIDEO_OUT_SUFFIXES:
        raise UsageError(f"{src.name} is a video but -o {out_path} names an image; "
                         f"use a video name ({', '.join(sorted(VIDEO_OUT_SUFFIXES))})")
    if kind == "animation" and suffix not in ANIMATION_SUFFIXES | VIDEO_OUT_SUFFIXES:
        raise UsageError(f"{src.name} is animated but {suffix} holds one frame; use .gif, .webp, .png or a video")
    return out_path


def _default_dst(src: Path, kind: str, folder: Optional[Path]) -> Path:
    suffix = {"image": ".png", "video": ".mp4"}.get(kind) or (
        src.suffix.lower() if src.suffix.lower() in ANIMATION_SUFFIXES else ".gif")
    name = f"{src.stem}{STYLED}{suffix}"
    return (folder / name) if folder else src.with_name(name)


def _key(path: Path) -> str:
    return os.path.normcase(str(path.resolve())).casefold()


def _once_each(sources, notes: Optional[List[str]]):
    """Each input file once: ``photo.jpg photo.jpg`` or a folder and a file in it stylize it once."""
    seen: dict = {}
    for path, kind in sources:
        if _key(path) in seen:
            if notes is not None:
                notes.append(f"{path} was given more than once; stylized once")
            continue
        seen[_key(path)] = (path, kind)
    return list(seen.values())


def _separate_collisions(jobs: List[Job]) -> List[Job]:
    """Inputs whose outputs would share a name get a tag in it that tells them apart: the input's
    suffix (shot.jpg and shot.png -> shot_jpg_styled.png, shot_png_styled.png), else its folder's name
    (a/photo.jpg and b/photo.jpg into one -o folder -> photo_a_styled.png, photo_b_styled.png), else
    a number."""
    groups: dict = {}
    for k, job in enumerate(jobs):
        groups.setdefault(_key(job.dst), []).append(k)
    fixed = list(jobs)
    for members in (g for g in groups.values() if len(g) > 1):
        for tag in (lambda job, n: job.src.suffix.lower().lstrip(".") or "file",
                    lambda job, n: job.src.resolve().parent.name or "root",
                    lambda job, n: str(n + 1)):
            names = [tag(jobs[k], n) for n, k in enumerate(members)]
            if len(set(names)) == len(names):
                break
        for k, name in zip(members, names):
            job = jobs[k]
            stem = job.dst.name[: -len(f"{STYLED}{job.dst.suffix}")]
            fixed[k] = Job(job.src, job.dst.with_name(f"{stem}_{name}{STYLED}{job.dst.suffix}"), job.kind)
    seen: dict = {}
    for job in fixed:
        other = seen.setdefault(_key(job.dst), job.src)
        if other is not job.src:
            raise UsageError(f"{other} and {job.src} would both be written to {job.dst}; rename one, or "
                             "stylize them into different -o folders")
    return fixed


def _refuse_overwriting_inputs(jobs: List[Job]) -> None:
    inputs = {_key(job.src): job.src for job in jobs}
    for job in jobs:
        clash = inputs.get(_key(job.dst))
        if clash is None and job.dst.exists():
            clash = next((j.src for j in jobs if _same_file(j.src, job.dst)), None)
        if clash is not None:
            raise UsageError(f"output {job.dst} would overwrite the input {clash}; choose another -o")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# -- stylizing ---------------------------------------------------------------------------------

def stylize_one(engine, image: np.ndarray, style, strength: float, preserve_color: bool) -> np.ndarray:
    """``engine.stylize`` with allocation failures (torch, onnxruntime, numpy) as one-line errors."""
    try:
        return engine.stylize(image, style, strength, preserve_color)
    except MemoryError:
        raise _out_of_memory(image) from None
    except RuntimeError as exc:
        text = str(exc).lower()
        if "alloc" in text or "out of memory" in text or "memory" in text and "not enough" in text:
            raise _out_of_memory(image) from None
        raise
    except Exception as exc:  # onnxruntime's RuntimeException is not a RuntimeError
        if "alloc" in str(exc).lower() and type(exc).__module__.startswith("onnxruntime"):
            raise _out_of_memory(image) from None
        raise


def _out_of_memory(image: np.ndarray) -> InputError:
    h, w = image.shape[:2]
    return InputError(f"not enough memory to stylize {w}x{h}; try --max-size {suggest_max_size(w, h)}")


# Peak memory per pixel of one picture on the CPU (onnxruntime), measured at 1.5-3 MP: resident
# (against free RAM) and address space (against ``ulimit -v``; onnxruntime's arena maps more than it
# touches). The pruned nets need about a third of the full net's.
MEMORY_PER_PIXEL = {"fast": (140, 190), "balanced": (140, 190)}
FULL_MEMORY_PER_PIXEL = (380, 540)


def memory_room() -> Tuple[Optional[int], Optional[int]]:
    """Bytes this process may still use: ``(free RAM (MemAvailable), address space left under
    ulimit -v)``, each None when unknown or unlimited."""
    import resource

    free = room = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except OSError:
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as f:
                room = soft - int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            pass
    return free, room


def _fits(w: int, h: int, per_pixel, room) -> float:
    """Largest fraction (<= 1) of the pixel count that fits in ``room`` (90% of it)."""
    scale = 1.0
    for need, have in zip(per_pixel, room):
        if have is not None:
            scale = min(scale, max(have, 0) * 0.9 / max(need * w * h, 1))
    return scale


def suggest_max_size(w: int, h: int, engine=None, room=None) -> int:
    per_pixel = MEMORY_PER_PIXEL.get(getattr(engine, "name", ""), FULL_MEMORY_PER_PIXEL)
    scale = _fits(w, h, per_pixel, memory_room() if room is None else room) ** 0.5
    return max(MIN_SIDE, int(max(w, h) * min(scale, 0.9)) // 32 * 32)


def check_memory(w: int, h: int, engine=None) -> None:
    """Refuse, with one line suggesting ``--max-size``, a picture whose stylization needs more memory
    than this process may still use (see :data:`MEMORY_PER_PIXEL`)."""
    per_pixel = MEMORY_PER_PIXEL.get(getattr(engine, "name", ""), FULL_MEMORY_PER_PIXEL)
    room = memory_room()
    if _fits(w, h, per_pixel, room) < 1.0:
        have = min(r for r in room if r is not None)
        raise InputError(f"stylizing {w}x{h} needs about {w * h * max(per_pixel) / 2 ** 30:.1f} GB of memory, "
                         f"{max(have, 0) / 2 ** 30:.1f} GB is free; try --max-size "
                         f"{suggest_max_size(w, h, engine, room)}")


def stylize_sequence(engine, frames: Iterable[Tuple[np.ndarray, float]], style, strength: float,
                     preserve_color: bool, max_size: Optional[int], notes: Optional[list] = None,
                     stabilize: bool = False) -> Iterator[Tuple[np.ndarray, np.ndarray, float]]:
    """The per-frame loop of videos and animations: ``(frame_rgb, t)`` -> ``(frame_rgb, out, t)``, both
    ``(H,W,3) uint8`` RGB after ``--max-size``; ``t`` in seconds. ``stabilize``: the live path's
    temporal stabiliser (inference/stabilize.py) between the net and the output."""
    from .inference.stabilize import Stabilizer

    stabilizer = Stabilizer() if stabilize else None
    first = True
    for frame_rgb, t in frames:
        frame_rgb = fit_max_size(frame_rgb, max_size, notes)
        if first:
            h, w = frame_rgb.shape[:2]
            if min(w, h) < MIN_SIDE:
                raise InputError(f"frames of {w}x{h} are too small; both sides need at least {MIN_SIDE} px")
            check_memory(w, h, engine)
            first = False
        out = stylize_one(engine, frame_rgb, style, strength, preserve_color)
        if stabilizer is not None:
            out = stabilizer.apply(frame_rgb, out)
        yield frame_rgb, out, t


def stylize_image_file(engine, job: Job, style, strength: float, preserve_color: bool,
                       max_size: Optional[int], notes: Optional[list] = None) -> tuple:
    rgb, alpha = read_image_alpha(job.src)
    rgb = fit_max_size(rgb, max_size, notes)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{job.src} is {w}x{h}; both sides need at least {MIN_SIDE} px")
    check_memory(w, h, engine)
    with _elapsed(f"stylizing {job.src.name} ({w}x{h}, {w * h / 1e6:.0f} MP)", w * h > BIG_IMAGE_MP * 1e6):
        out = stylize_one(engine, rgb, style, strength, preserve_color)
    if alpha is not None:
        alpha = resize(alpha, (w, h))
        _note_flattened(job, notes)
    write_image(job.dst, out, alpha)
    return w, h


@contextlib.contextmanager
def _elapsed(what: str, show: bool):
    """For a long single picture: a line when it starts and, on a terminal, the seconds spent,
    updated every second (the net runs as one call: there is no finer progress to show)."""
    if not show:
        yield
        return
    tty = sys.stderr.isatty()
    print(f"artem-vr: {what} ...", file=sys.stderr, end="" if tty else "\n", flush=True)
    done = threading.Event()
    t0 = time.perf_counter()

    def tick():
        while not done.wait(1.0):
            print(f"\rartem-vr: {what} ... {time.perf_counter() - t0:.0f} s", file=sys.stderr, end="", flush=True)

    ticker = threading.Thread(target=tick, daemon=True) if tty else None
    if ticker is not None:
        ticker.start()
    try:
        yield
    finally:
        done.set()
        if ticker is not None:
            ticker.join()
            print(f"\rartem-vr: {what} ... {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def _note_flattened(job: Job, notes: Optional[list]) -> None:
    if notes is not None and job.dst.suffix.lower() not in ALPHA_SUFFIXES:
        kind = "video" if job.dst.suffix.lower() in VIDEO_OUT_SUFFIXES else job.dst.suffix.lstrip(".").upper()
        line = f"{kind} output cannot hold transparency: transparent inputs were put on white"
        if line not in notes:
            notes.append(line)


def stylize_animation_file(engine, job: Job, style, strength: float, preserve_color: bool,
                           max_size: Optional[int], notes: Optional[list] = None) -> tuple:
    """All frames with their delays, as an animated image or (video ``dst``) a video."""
    frames, alphas, delays = [], [], []
    for rgb, alpha, delay in read_frames(job.src):
        frames.append(rgb)
        alphas.append(alpha)
        delays.append(delay)
    times = np.concatenate([[0.0], np.cumsum(delays)[:-1]]) / 1000.0
    styled = [out for _, out, _ in stylize_sequence(engine, zip(frames, times), style, strength, preserve_color,
                                                    max_size, notes)]
    h, w = styled[0].shape[:2]
    if job.dst.suffix.lower() in VIDEO_OUT_SUFFIXES:
        if any(a is not None for a in alphas):
            _note_flattened(job, notes)
        writer = VideoWriter(job.dst, (w, h), rate=1000.0 / max(np.mean(delays), 1.0))
        try:
            for out, t in zip(styled, times):
                writer.write(out, float(t))
            writer.close(end_time=float(sum(delays)) / 1000.0)
        except BaseException:
            writer.abort()
            raise
    else:
        alphas = [None if a is None else resize(a, (w, h)) for a in alphas]
        write_animation(job.dst, styled, delays, alphas)
    return w, h, len(styled)


def stylize_video_file(engine, job: Job, style, strength: float, preserve_color: bool,
                       max_size: Optional[int], notes: Optional[list] = None, crf: Optional[int] = None,
                       progress: bool = True, stabilize: bool = True) -> tuple:
    """Frame by frame with each frame's own time, the audio copied; exact size (after ``--max-size``);
    ``stabilize``: hold still regions and carry moving ones (``--no-stabilize`` turns it off)."""
    from tqdm import tqdm

    writer = None
    with VideoReader(job.src) as reader:
        try:
            with tqdm(total=reader.info.frames, unit="frame", desc=job.src.name, file=sys.stderr,
                      disable=None if progress else True) as bar:
                for _, out, t in stylize_sequence(engine, reader, style, strength, preserve_color, max_size, notes,
                                                         stabilize):
                    if writer is None:
                        writer = VideoWriter(job.dst, (out.shape[1], out.shape[0]), reader.info.rate,
                                             audio_from=job.src if reader.info.audio else None,
                                             audio_origin=reader.origin or 0.0, crf=crf, preset="medium")
                    if out.shape[:2] != (writer.size[1], writer.size[0]):  # the stream changed size mid-way
                        out = resize(out, writer.size)
                    writer.write(out, t)
                    bar.update(1)
            if writer is None:
                raise InputError(f"{job.src} has no readable frames")
            for line in writer.close():
                if notes is not None and line not in notes:
                    notes.append(line)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    return writer.size[0], writer.size[1], writer.frames


def run_stylize(engine, jobs: Sequence[Job], style, strength: float, preserve_color: bool,
                max_size: Optional[int], report: Callable[[str], None] = print, crf: Optional[int] = None,
                notes: Optional[list] = None, stabilize: bool = True) -> int:
    """Process every job; a broken input is reported and the rest still run. Returns failures.
    ``notes`` gathers one-line remarks (printed once each by the CLI)."""
    notes = [] if notes is None else notes
    failures = 0
    # what ran: --precision auto may pick OpenVINO bf16, and a file should say so
    how = f" [{engine.name}, {getattr(engine, 'backend', 'torch')} {getattr(engine, 'precision', 'fp32')}]"
    for job in jobs:
        replaced = "; replaced the earlier file" if job.dst.exists() else ""  # an earlier run's result
        try:
            if job.kind == "video":
                w, h, n = stylize_video_file(engine, job, style, strength, preserve_color, max_size, notes, crf,
                                             stabilize=stabilize)
                report(f"{job.src} -> {job.dst} ({w}x{h}, {n} frames{replaced}){how}")
            elif job.kind == "animation":
                w, h, n = stylize_animation_file(engine, job, style, strength, preserve_color, max_size, notes)
                report(f"{job.src} -> {job.dst} ({w}x{h}, {n} frames{replaced}){how}")
            else:
                w, h = stylize_image_file(engine, job, style, strength, preserve_color, max_size, notes)
                report(f"{job.src} -> {job.dst} ({w}x{h}{replaced}){how}")
        except ArtemError as exc:
            failures += 1
            print(f"artem-vr: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return failures
