"""Helpers shared by the tests (imported as ``helpers.common``)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent.parent
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def run_cli(*args, env=None, timeout=120, cwd=None):
    """Run ``python -m artem_vr ARGS`` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "artem_vr", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd)


def assert_one_line_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("artem-vr: error: ")
    return lines[0]


def make_video(path, frames=8, size=(64, 48), fps=20):
    """A small MJPG .avi whose frames differ (a red bar growing frame by frame)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 20 * i, np.uint8)
        frame[:, : (i + 1) * 6] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    return path
