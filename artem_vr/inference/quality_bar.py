"""``--model auto``: the fastest shipped net that looks like the full net, read from data.

The verdicts come from ``models/quality_bar.json``, written by ``benchmarks/eval_fast.py
--record`` (issue 18's bar, measured on held-out photos at 320x180 on the CPU; see
``artem_vr/training/quality.py``). Each shipped net's entry holds the SHA-256 of the file it was
measured on, so a retrained ``models/fast.safetensors`` is not trusted until it is measured again.

The rule (code, so that the data stays verdicts only): on CUDA the full net (fast enough there); on
the CPU the fastest shipped net whose entry ``passes`` the whole bar (A, B, C, steadiness, speed),
else the fastest that ``looks_same`` (A, B and C), is faster than the full net and no less steady
than it, else the full net. Since issue 30 the bar's steadiness is a net's noise gain on a still
noisy scene no worse than the full net's (<= 1.0x; it was <= 0.5x: the stabiliser now holds still
scenes exactly), and each entry is measured through the backend and precision the CPU's auto runs
(``backend``, ``precision`` in the entry; e.g. OpenVINO bf16) against the full net in onnxruntime
fp32, so "passes" means: looks the same and is fast enough as it actually runs. The precision
itself is chosen per machine by ``precision.py``.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch

from ..resources import models_dir

AUTO_MODEL = "auto"
STUDENTS = ("fast", "balanced")  # shipped students, fastest first (the full net is the fallback)
RECORD_FILE = "quality_bar.json"


def record_path() -> Path:
    return models_dir() / RECORD_FILE


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (cached per path, size and modification time)."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def read_records(path: Optional[Path] = None) -> dict:
    """The ``nets`` of the record file: ``{name: entry}``; empty when the file is missing or unreadable
    (then ``auto`` falls back to the full net)."""
    try:
        data = json.loads((path or record_path()).read_text(encoding="utf-8"))
        nets = data.get("nets", {})
        return nets if isinstance(nets, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _trusted(name: str, entry: dict) -> bool:
    path = models_dir() / f"{name}.safetensors"
    return isinstance(entry, dict) and path.is_file() and entry.get("sha256") == file_sha256(path)


def auto_model(device: torch.device, records: Optional[dict] = None) -> str:
    """``"fast"`` | ``"balanced"`` | ``"full"``: what ``--model auto`` runs on ``device`` (rule above)."""
    if device.type != "cpu":
        return "full"
    nets = read_records() if records is None else records
    trusted = [(name, nets[name]) for name in STUDENTS if name in nets and _trusted(name, nets[name])]
    for name, entry in trusted:
        if entry.get("passes") is True:
            return name
    for name, entry in trusted:
        if (entry.get("looks_same") is True and float(entry.get("speedup", 0)) > 1.0
                and float(entry.get("steadiness_vs_full", 99)) <= 1.0):
            return name
    return "full"
