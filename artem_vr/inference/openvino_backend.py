"""An OpenVINO CPU backend for our own generator modules, in fp32 or bf16.

It runs the graph that ``onnx_backend.graph_file`` exports into the user cache (the same file
onnxruntime runs: inputs ``image (1,3,H,W)`` and ``affine (1,N)``), so both engines see one
export. OpenVINO compiles a graph for one input size; a size it has not compiled yet runs on a
dynamic-shape compilation made at load time (about 2x slower, measured: balanced 9.0 vs 4.3 ms at
320x180 in bf16) while the static one compiles on a background thread (0.13-0.16 s each on 2
cores), so a size change under ``--infer-size auto`` never waits for a compile. The last
``MAX_COMPILED`` sizes are kept.

``stylize_uint8`` runs a second form of the graph for pictures: ``(H,W,3) uint8`` in and out, the
conversion to float, the 2x2 phases' shuffle and the rounding back to bytes compiled into it, so an
API call does no torch op at all. That matters beyond the 1.5 ms of conversions it saves: torch's
OpenMP threads busy-wait after each parallel op and took the cores from the OpenVINO run that
followed (balanced, bf16, 320x180, 2 cores, a script that sets nothing: ``StyleEngine.stylize``
8.8 ms a picture against 4.5 ms for the net alone).

A live feed (or a video, or a script's loop) keeps one style for many frames: after
``BAKE_AFTER`` calls in a row with the same style and size, that style's norm parameters are
compiled in as constants (in the background, the graph with the ``affine`` input serving
meanwhile), so OpenVINO fuses each instance norm's scale and shift into it (balanced, bf16,
320x180, 2 cores: 4.20 -> 4.00 ms a frame; full 8.96 -> 8.48).

Both stand-ins (the dynamic-shape compilation while a size compiles, the general graph while a
style bakes) compute the same function but round differently (baked, bf16, balanced, a 320x180
photo: mean 0.6 levels, at most 26 on 4% of pixels; dynamic vs static: below a level, enough to
tip the stabiliser's thresholds), and when they hand over depends on a background compile.
``reproducible = True`` (``StyleEngine.reproducible``) runs neither: a new size compiles before
its first call and no style is baked, so the same input gives the same bytes run after run
(offline renders and ``stylize`` set it).

``INFERENCE_PRECISION_HINT`` is always set: OpenVINO runs bf16 on its own on CPUs that offer it
unless told f32. Versions 2025.3-2026.1 crashed (SIGFPE) in ``compile_model`` on AMD Zen 4
(openvinotoolkit/openvino issue 35943); pyproject pins them out.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Iterable, Optional, Tuple

import numpy as np
import torch

from ..errors import DeviceError, UsageError
from .generator import StyleGenerator, affine_bias, affine_table, to_polyphase
from .onnx_backend import depth_to_space, graph_file

HINTS = {"fp32": "f32", "bf16": "bf16"}  # our precision names -> OpenVINO's element types
MAX_COMPILED = 6  # static compilations kept: the size in use and its neighbours on the auto ladder
MAX_BAKED = 2     # compilations with a style baked in: the style in use (and the one before it)
BAKE_AFTER = 3    # calls in a row with one style and size before it is compiled in (live frames)


def available() -> bool:
    """True when the ``openvino`` package imports."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def core():
    """The process's one ``openvino.Core`` (thread-safe for compiling)."""
    import openvino as ov

    return ov.Core()


@lru_cache(maxsize=1)
def cpu_capabilities() -> Tuple[str, ...]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU, e.g. ``('BF16', 'WINOGRAD', 'FP32', 'INT8',
    ...)``; empty without openvino. ``BF16`` appears where the CPU has AVX-512 BF16 or AMX."""
    if not available():
        return ()
    try:
        return tuple(str(c) for c in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception:  # no CPU plugin: nothing offered
        return ()


def offers_bf16() -> bool:
    return "BF16" in cpu_capabilities()


def version() -> str:
    if not available():
        return ""
    import openvino

    return openvino.__version__.split("-")[0]


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class OpenVinoGenerator:
    """Callable like a StyleGenerator on CPU tensors: ``(x (1,3,H,W) float32, style (S,)|(1,S)) ->
    (1,3,H,W) float32``. ``precision``: ``fp32`` | ``bf16`` (DeviceError where the CPU has no bf16)."""

    def __init__(self, generator: StyleGenerator, precision: str = "fp32", threads: int = 0):
        if not available():
            raise UsageError("--backend openvino needs OpenVINO: pip install openvino")
        if precision not in HINTS:
            raise UsageError(f"OpenVINO runs fp32 or bf16, not {precision!r}")
        if precision == "bf16" and not offers_bf16():
            raise DeviceError(bf16_missing())
        self.precision = precision
        # every net as 2x2 phases (exact, generator.to_polyphase): the full net's expanding convs at
        # half resolution ran 10.9 -> 9.4 ms in bf16 at 320x180 (one process, 2 cores)
        generator = to_polyphase(generator)
        self.path = graph_file(generator)
        self.config = generator.config
        self.num_styles = generator.num_styles
        self.table = affine_table(generator)[0].float().cpu().numpy()
        self.bias = affine_bias(generator).numpy()
        self.properties = {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY",
                           "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads or default_threads()}
        self._model = core().read_model(str(self.path))
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)  # signalled when a compilation finishes
        # (h, w, io) -> infer request; io: "float" (the live path's tensors) or "uint8" (stylize_uint8)
        self._compiled: "OrderedDict[Tuple[int, int, str], object]" = OrderedDict()
        self._pending: set = set()
        # (h, w, io, style's packed affine as bytes) -> infer request of the graph with that style baked in
        self._baked: "OrderedDict[Tuple[int, int, str, bytes], object]" = OrderedDict()
        self._streak = {}  # io -> ((h, w, io, affine bytes) of its last call, how many calls in a row)
        self.reproducible = False  # True: no stand-ins (the same input gives the same bytes, whatever the timing)
        self._dynamic = self._compile(None)
        self._affine = (b"", None)
        self.last_cold = False  # the last call ran on the dynamic compilation (a size not compiled yet)

    def _compile(self, hw: Optional[Tuple[int, int]], io: str = "float", affine: Optional[np.ndarray] = None):
        model = self._model.clone()
        h, w = hw if hw else (-1, -1)
        model.reshape({"image": [1, 3, h, w], "affine": [1, self.table.shape[1]]})
        if affine is not None:
            model = baked_model(model, affine)
        if io == "uint8":
            model = uint8_model(model, self.config.polyphase)
        return core().compile_model(model, "CPU", self.properties).create_infer_request()

    def compiled_sizes(self, io: str = "float") -> list:
        """``[(h, w), ...]`` compiled statically for ``io`` (``"float"`` | ``"uint8"``), oldest first."""
        with self._lock:
            return [key[:2] for key in self._compiled if key[2] == io]

    def prepare(self, sizes: Iterable[Tuple[int, int]], wait: bool = False, io: str = "float") -> None:
        """Compile ``sizes`` (``(h, w)`` of the padded input) on a background thread, or now with ``wait``.
        ``io``: ``"float"`` for ``__call__``, ``"uint8"`` for ``stylize_uint8``."""
        todo, sizes = [], [(int(hw[0]), int(hw[1]), io) for hw in sizes]
        with self._lock:
            for hw in sizes:
                if hw in self._compiled:
                    self._compiled.move_to_end(hw)
                elif hw not in self._pending:
                    self._pending.add(hw)
                    todo.append(hw)
        if wait:
            self._compile_all(todo)
            with self._done:  # and the ones another thread was compiling already
                self._done.wait_for(lambda: not self._pending.intersection(sizes), timeout=60)
        elif todo:
            # never a daemon (a thread made by a daemon thread is one unless told): a process that ends
            # mid-compile waits for it (killing OpenVINO's compiling
            # threads at exit aborts the process: "terminate called without an active exception")
            threading.Thread(target=self._compile_all, args=(todo,), name="openvino-compile", daemon=False).start()

    def _compile_all(self, sizes) -> None:
        for hw in sizes:
            self._finish(hw, self._compiled, MAX_COMPILED, hw[:2], hw[2])

    def _finish(self, key, table: OrderedDict, limit: int, hw, io: str, affine: Optional[np.ndarray] = None) -> None:
        """Compile, then keep the result under ``key`` in ``table`` (the oldest beyond ``limit`` dropped).
        A compilation that fails keeps nothing: the general graph goes on serving that size or style."""
        try:
            request = self._compile(hw, io, affine=affine)
        except Exception:
            request = None
        with self._done:
            self._pending.discard(key)
            if request is not None:
                table[key] = request
                while len(table) > limit:
                    table.popitem(last=False)
            self._done.notify_all()

    def _request(self, hw: Tuple[int, int]):
        key = (*hw, "float")
        with self._lock:
            request = self._compiled.get(key)
            if request is not None:
                self._compiled.move_to_end(key)
        if request is None and self.reproducible:  # compile now: the dynamic graph rounds differently
            self.prepare([hw], wait=True)
            with self._lock:
                request = self._compiled.get(key)
        elif request is None:
            self.prepare([hw])
        self.last_cold = request is None
        return request if request is not None else self._dynamic

    def _packed_affine(self, style: torch.Tensor) -> np.ndarray:
        style = style.reshape(1, -1) if style.dim() == 1 else style
        weights = style.float().cpu().numpy()
        key = weights.tobytes()
        if key != self._affine[0]:
            self._affine = (key, (weights @ self.table + self.bias).astype(np.float32))
        return self._affine[1]

    def stylize_uint8(self, image: np.ndarray, style: torch.Tensor) -> np.ndarray:
        """``image (H,W,3) uint8`` RGB (any size; reflect-padded to multiples of 4 here as
        ``StyleEngine.stylize_tensor`` pads, and cropped back), ``style (S,)`` -> ``(H,W,3) uint8``, the
        same bytes as ``to_uint8(self(x / 255, style))`` up to bf16's own rounding. Compiles this size
        now the first time (``prepare(..., io="uint8", wait=True)``)."""
        h, w = image.shape[:2]
        ph, pw = (-h) % 4, (-w) % 4
        padded = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="reflect") if (ph or pw) else image
        hw = (h + ph, w + pw)
        key = (*hw, "uint8")
        with self._lock:
            request = self._compiled.get(key)
        if request is None:
            self.prepare([hw], wait=True, io="uint8")
            with self._lock:
                request = self._compiled.get(key)
            if request is None:  # the compilation failed: say why here, once
                request = self._compile(hw, "uint8")
        self.last_cold = False
        affine = self._packed_affine(style)[:1]
        baked = self._baked_request(hw, affine[0], "uint8")
        if baked is not None:
            request = baked
            request.infer({"image": np.ascontiguousarray(padded)[None]})
        else:
            request.infer({"image": np.ascontiguousarray(padded)[None], "affine": affine})
        out = request.get_output_tensor(0).data[0]  # (H, W, 3) uint8 in OpenVINO's buffer, reused
        return out[:h, :w].copy()

    def baked_styles(self, io: str = "float") -> list:
        """``[(h, w), ...]`` of the compilations for ``io`` with a style baked in, oldest first."""
        with self._lock:
            return [key[:2] for key in self._baked if key[2] == io]

    def _baked_request(self, hw: Tuple[int, int], affine: np.ndarray, io: str = "float"):
        """The compilation with ``affine`` baked in once this style and size came ``BAKE_AFTER`` times in
        a row (compiled in the background the first time that happens), else None (always with
        ``reproducible``)."""
        if self.reproducible:
            return None
        key = (*hw, io, affine.tobytes())
        with self._lock:
            request = self._baked.get(key)
            if request is not None:
                self._baked.move_to_end(key)
                return request
        last, count = self._streak.get(io, (None, 0))
        count = count + 1 if last == key else 1
        self._streak[io] = (key, count)
        with self._lock:
            start = count == BAKE_AFTER and key not in self._pending and (*hw, io) in self._compiled
            if start:
                self._pending.add(key)
        if start:
            threading.Thread(target=self._finish, args=(key, self._baked, MAX_BAKED, hw, io, affine.copy()),
                             name="openvino-compile", daemon=False).start()
        return None

    def __call__(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        affine = self._packed_affine(style)
        hw = tuple(x.shape[-2:])
        request = self._request(hw)
        baked = self._baked_request(hw, affine[0]) if affine.shape[0] == 1 and not self.last_cold else None
        x = x.float()
        outs = []
        for i in range(x.shape[0]):
            if baked is not None:
                baked.infer({"image": x[i:i + 1].contiguous().numpy()}, share_inputs=True)
                request = baked
            else:
                request.infer({"image": x[i:i + 1].contiguous().numpy(),
                               "affine": affine[min(i, affine.shape[0] - 1)][None]}, share_inputs=True)
            out = torch.from_numpy(request.get_output_tensor(0).data)  # OpenVINO's own buffer, reused
            # depth_to_space copies; a plain output is copied before the next run overwrites it
            outs.append(depth_to_space(out) if self.config.polyphase else out.clone())
        return outs[0] if len(outs) == 1 else torch.cat(outs)


def baked_model(model, affine: np.ndarray):
    """``model`` with its ``affine`` input ``(N,)`` replaced by a constant: every norm's style scale and
    shift become constants that OpenVINO folds and fuses into the instance norms."""
    import openvino as ov
    from openvino import opset13 as ops

    param = next(p for p in model.get_parameters() if p.get_friendly_name() == "affine")
    param.output(0).replace(ops.constant(np.ascontiguousarray(affine, dtype=np.float32)[None]).output(0))
    rest = [p for p in model.get_parameters() if p.get_friendly_name() != "affine"]
    return ov.Model(model.get_results(), rest, "stylized_baked")


def uint8_model(model, polyphase: bool):
    """``model`` (static-shape ``image (1,3,H,W)`` in [0,1] -> ``stylized``) as ``image (1,H,W,3) uint8``
    -> ``(1,H,W,3) uint8``: the input converted and scaled by OpenVINO's preprocessing, the output's
    2x2 phases shuffled (DepthToSpace, depth-first: channel ``c*4 + 2*row + col`` as
    ``onnx_backend.depth_to_space``), clamped to [0,1] and rounded as ``engine.to_uint8``
    (``floor(255 x + 0.5)``), all compiled into the graph."""
    import openvino as ov
    from openvino import opset13 as ops
    from openvino.preprocess import PrePostProcessor

    result = model.get_results()[0]
    y = result.input_value(0)
    if polyphase:
        y = ops.depth_to_space(y, "depth_first", 2)
    y = ops.clamp(y, 0.0, 1.0)
    y = ops.floor(ops.add(ops.multiply(y, np.float32(255.0)), np.float32(0.5)))
    y = ops.transpose(ops.convert(y, ov.Type.u8), np.array([0, 2, 3, 1], dtype=np.int64))
    y.output(0).get_tensor().set_names({"stylized"})
    model = ov.Model([y.output(0)], model.get_parameters(), "stylized_uint8")
    ppp = PrePostProcessor(model)
    image = ppp.input("image")
    image.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
    image.model().set_layout(ov.Layout("NCHW"))
    image.preprocess().convert_element_type(ov.Type.f32).scale(255.0)
    return ppp.build()


def bf16_missing() -> str:
    return ("bf16 needs a CPU with AVX-512 BF16 or AMX (Intel Xeon since Cooper Lake, AMD Zen 4 and later); "
            "this one has none: use --precision fp32 or auto")
