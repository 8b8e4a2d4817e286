"""Shared fixtures. The teacher cache goes to a per-session temp dir so tests never touch ~/.cache."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("artem-cache")
    old = os.environ.get("ARTEM_VR_CACHE")
    os.environ["ARTEM_VR_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("ARTEM_VR_CACHE", None)
    else:
        os.environ["ARTEM_VR_CACHE"] = old


@pytest.fixture(scope="session")
def full_engine(_cache_dir):
    from artem_vr import StyleEngine

    return StyleEngine.load("full", device="cpu")


@pytest.fixture(scope="session")
def heldout_photos():
    """Photos never used for training (the pruned net trains on other skimage photos)."""
    from skimage import data

    return {"chelsea": data.chelsea(), "coffee": data.coffee()}


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
