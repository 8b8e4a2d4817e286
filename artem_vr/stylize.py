"""``artem-vr stylize``: images and videos from disk through the StyleEngine.

Every input is checked before anything is written, and an output never replaces its input.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np

from .errors import ArtemError, InputError, UsageError
from .images import IMAGE_SUFFIXES, fit_max_size, read_image, write_image

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
VIDEO_FOURCC = {".avi": "MJPG"}  # everything else: mp4v, which OpenCV's bundled FFmpeg always has


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    video: bool


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def plan_jobs(inputs: Sequence[str], out: Optional[str]) -> List[Job]:
    """Map inputs to outputs. ``out``: a file (one input of the same kind) or a folder."""
    sources: List[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not found:
                raise InputError(f"no images or videos in folder {path}")
            sources.extend(found)
        elif path.exists():
            sources.append(path)
        else:
            raise InputError(f"file not found: {path}")
    out_path = Path(out) if out else None
    single_file_out = (
        out_path is not None and len(sources) == 1 and not out_path.is_dir()
        and out_path.suffix.lower() in (VIDEO_SUFFIXES if is_video(sources[0]) else IMAGE_SUFFIXES)
    )
    if out_path is not None and not single_file_out and out_path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
        raise UsageError(f"-o {out_path} names a file, but {len(sources)} inputs need a folder "
                         "(or give one input of the same kind)")
    jobs = []
    for src in sources:
        video = is_video(src)
        if single_file_out:
            dst = out_path
        else:
            name = f"{src.stem}_styled{'.mp4' if video else '.png'}"
            dst = (out_path / name) if out_path else src.with_name(name)
        if dst.resolve() == src.resolve():
            raise UsageError(f"output {dst} would overwrite its input; choose another -o")
        jobs.append(Job(src, dst, video))
    return jobs


def stylize_image_file(engine, job: Job, style, strength: float, preserve_color: bool,
                       max_size: Optional[int]) -> tuple:
    image = fit_max_size(read_image(job.src), max_size)
    if min(image.shape[:2]) < 32:
        raise InputError(f"{job.src} is {image.shape[1]}x{image.shape[0]}; both sides need at least 32 px")
    write_image(job.dst, engine.stylize(image, style, strength, preserve_color))
    return image.shape[1], image.shape[0]


def stylize_video_file(engine, job: Job, style, strength: float, preserve_color: bool,
                       max_size: Optional[int], progress: bool = True) -> tuple:
    """Frame by frame, same fps; audio is not copied. Written to a temp name, renamed at the end."""
    import cv2
    from tqdm import tqdm

    cap = cv2.VideoCapture(str(job.src))
    if not cap.isOpened():
        raise InputError(f"cannot open video {job.src} (unsupported or broken file)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    tmp = job.dst.with_name(job.dst.stem + ".partial" + job.dst.suffix)
    writer = None
    frames = 0
    size = (0, 0)
    try:
        with tqdm(total=total, unit="frame", desc=job.src.name, disable=None if progress else True,
                  file=sys.stderr) as bar:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                rgb = fit_max_size(np.ascontiguousarray(bgr[:, :, ::-1]), max_size)
                out = engine.stylize(rgb, style, strength, preserve_color)
                if writer is None:
                    size = (out.shape[1], out.shape[0])
                    job.dst.parent.mkdir(parents=True, exist_ok=True)
                    fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC.get(job.dst.suffix.lower(), "mp4v"))
                    writer = cv2.VideoWriter(str(tmp), fourcc, fps, size)
                    if not writer.isOpened():
                        raise InputError(f"cannot write video {job.dst}")
                writer.write(np.ascontiguousarray(out[:, :, ::-1]))
                frames += 1
                bar.update(1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if frames == 0:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{job.src} has no readable frames")
    tmp.replace(job.dst)
    return size[0], size[1], frames


def run_stylize(engine, jobs: Sequence[Job], style, strength: float, preserve_color: bool,
                max_size: Optional[int], report: Callable[[str], None] = print) -> int:
    """Process every job; a broken input is reported and the rest still run. Returns failures."""
    failures = 0
    for job in jobs:
        try:
            if job.video:
                w, h, n = stylize_video_file(engine, job, style, strength, preserve_color, max_size)
                report(f"{job.src} -> {job.dst} ({w}x{h}, {n} frames)")
            else:
                w, h = stylize_image_file(engine, job, style, strength, preserve_color, max_size)
                report(f"{job.src} -> {job.dst} ({w}x{h})")
        except ArtemError as exc:
            failures += 1
            print(f"artem-vr: error: {exc}", file=sys.stderr)
    return failures
