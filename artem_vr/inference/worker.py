"""StyleWorker: the inference thread. Takes the newest Frame, stylizes it at the inference size,
and overwrites the newest Stylized frame into the output slot."""
from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..slots import LatestSlot
from ..stats import StageStats
from .engine import to_uint8
from .stabilize import Stabilizer
from .styles import describe

_SWIZZLE = {"rgb": [0, 1, 2], "bgr": [2, 1, 0], "bgra": [2, 1, 0]}
MAX_SHRINKS = 3
CPU_FALLBACK_BOX = (320, 180)
# Peak memory per inferred pixel of the live path on the CPU (onnxruntime net, frame tensors,
# stabiliser): resident against free RAM, address space against ``ulimit -v``. Measured with
# ``--source demo --frames 2`` at --infer-size 1920x1080 vs 3840x2160 (fast 269, full 423 B/px resident)
# and 7680x4320 (fast 330 B/px, 11.4 GB); the margin covers onnxruntime's arena at larger sizes.
LIVE_MEMORY_PER_PIXEL = {"fast": (340, 460), "balanced": (340, 460)}
LIVE_FULL_MEMORY_PER_PIXEL = (540, 730)


def is_cuda_fault(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and ("CUDA" in str(exc) or "cuDNN" in str(exc)))


@dataclass
class Stylized:
    pixels: np.ndarray   # (h, w, 3) uint8 RGB at the inference size
    index: int           # the source frame's number
    t_capture: float
    t_done: float
    style: str
    source: Optional[np.ndarray] = None   # the full-resolution frame it came from, as captured (guides upsampling)
    order: str = "rgb"                    # source's channel order


def fit_inside(src: Tuple[int, int], box: Tuple[int, int], upscale: bool = True) -> Tuple[int, int]:
    """Largest size with ``src``'s aspect inside ``box`` (never below 32 px a side)."""
    sw, sh = src
    scale = min(box[0] / sw, box[1] / sh)
    if not upscale:
        scale = min(scale, 1.0)
    return max(32, round(sw * scale)), max(32, round(sh * scale))


def frame_to_tensor(pixels: np.ndarray, order: str, device: torch.device, size: Tuple[int, int]) -> torch.Tensor:
    """``(H,W,C) uint8`` in ``order`` -> ``(1,3,h,w) float [0,1]`` RGB on ``device`` at ``size``.

    On a GPU the upload is the raw bytes; the channel swizzle and resize happen there. On the CPU a
    frame larger than ``size`` is first shrunk as uint8 with OpenCV's area filter: a 1280x720
    camera frame's whole conversion takes 2 ms that way (the resize 1.2 ms), against 14 ms with
    torch's antialiased resize of the float image, longer than the fast net's inference.
    """
    w, h = size
    if device.type == "cpu" and pixels.shape[1] > w and pixels.shape[0] > h:
        import cv2

        pixels = cv2.resize(np.ascontiguousarray(pixels), (w, h), interpolation=cv2.INTER_AREA)
    t = torch.from_numpy(pixels).to(device, non_blocking=True)
    t = t[..., _SWIZZLE[order]].permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    if (t.shape[-1], t.shape[-2]) != tuple(size):
        t = F.interpolate(t, size=(size[1], size[0]), mode="bilinear", align_corners=False, antialias=True)
    return t.clamp_(0.0, 1.0)


class StyleWorker:
    """``infer_size``: the box the frame is fitted into (aspect kept); ``upscale`` False never
    enlarges a small source. ``lockstep``: never overwrite an untaken result (offline renders)."""

    def __init__(self, engine, in_slot: LatestSlot, out_slot: LatestSlot, controls,
                 infer_size: Tuple[int, int], upscale: bool = True, lockstep: bool = False,
                 stabilizer: Optional[Stabilizer] = None, resolution=None):
        self.engine = engine
        self.in_slot = in_slot
        self.out_slot = out_slot
        self.controls = controls
        self.infer_size = infer_size
        self.upscale = upscale
        self.lockstep = lockstep
        self.stats = StageStats()
        self.stop_event = threading.Event()
        self.error: Optional[BaseException] = None
        self.frame_size: Optional[Tuple[int, int]] = None   # actual inference size in use
        self.done_seq = 0               # input sequence number of the last frame finished
        self.notice: Optional[str] = None   # a visible note after recovering from a device fault
        self._style_cache = None            # (settings version, device) -> (weights, label)
        self.shrinks = 0
        # temporal state (between the generator and the output slot), used while settings.stabilize
        self.stabilizer = stabilizer if stabilizer is not None else Stabilizer()
        self._look = None   # what the last output looked like: a change restarts the stabiliser
        self.stabilize_stats = StageStats()
        # --infer-size auto: a DynamicResolution picks the box from the measured frame times
        self.resolution = resolution
        self.sizes = deque(maxlen=20000)   # inference size of every frame, for --stats
        self._thread: Optional[threading.Thread] = None
        self.size_given = False  # the box is the user's --infer-size: capping it is worth a note

    def check_source(self, src: Tuple[int, int]) -> Optional[str]:
        """Before the first frame of a source of ``src`` (w, h) pixels, for a fixed box: a note when the
        box is larger than the source (with ``upscale`` False inference never enlarges the source, as
        ``--infer-size auto`` never does), else None. Raises :class:`InputError` when inference at the
        resulting size would not fit in this process's memory on the CPU (:data:`LIVE_MEMORY_PER_PIXEL`)."""
        if self.resolution is not None:
            return None
        size = fit_inside(src, self.infer_size, self.upscale)
        note = None
        if self.size_given and not self.upscale and fit_inside(src, self.infer_size, True)[0] > size[0]:
            note = (f"--infer-size {self.infer_size[0]}x{self.infer_size[1]} is larger than the source "
                    f"({src[0]}x{src[1]}): inferring at {size[0]}x{size[1]}, as --infer-size auto would")
        if self.engine.device.type == "cpu":
            _check_memory(size, getattr(self.engine, "name", ""))
        return note

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="style-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_seq, last_frame, done_version = 0, None, -1
        try:
            if getattr(self.engine, "backend", "") in ("onnxruntime", "openvino"):
                # torch only does the small per-frame work here (conversion, stabiliser: ~40 ops a
                # frame), its threads waiting passively (cli.quiet_torch_threads): one thread does it
                # faster than two waking up for every op (stabiliser, moving frame at 320x180:
                # 4.1 ms against 6.9, measured); onnxruntime keeps its own threads for the net
                torch.set_num_threads(1)
            cuda = self.engine.device.type == "cuda" and torch.cuda.is_available()
            stream = torch.cuda.Stream(self.engine.device) if cuda else None  # this thread's own stream
            with torch.cuda.stream(stream) if stream is not None else nullcontext():
                while not self.stop_event.is_set():
                    got = self.in_slot.get(after=last_seq, timeout=0.05)
                    settings = self.controls.settings
                    if got is not None:
                        last_seq, last_frame = got
                    elif last_frame is None or settings.version == done_version:
                        if self.in_slot.closed:
                            break
                        continue
                    self._process(last_frame, settings)
                    self.done_seq = last_seq
                    done_version = settings.version
        except BaseException as exc:  # handed to the main loop
            self.error = exc

    def _process(self, frame, settings) -> None:
        t0 = time.perf_counter()
        if self.resolution is not None and not self.sizes:
            self.resolution.limit(fit_inside(frame.size, self.resolution.ladder[-1], self.upscale))
        box = self.resolution.box if self.resolution is not None else self.infer_size
        size = fit_inside(frame.size, box, self.upscale)
        self.frame_size = size
        try:
            weights, label = self._style(settings)
            x = frame_to_tensor(frame.pixels, frame.order, self.engine.device, size)
            out = self.engine.stylize_tensor(x, weights, settings.strength, settings.preserve_color)
            out = self._stabilize(x, out, settings)
            pixels = to_uint8(out)[0]
        except Exception as exc:
            if self.engine.device.type != "cuda" or not is_cuda_fault(exc):
                raise
            self._recover(exc)
            return
        now = time.perf_counter()
        result = Stylized(pixels, frame.index, frame.t_capture, now, label, frame.pixels, frame.order)
        if self.lockstep:
            while not self.out_slot.wait_taken(0.1):
                if self.stop_event.is_set():
                    return
        self.out_slot.put(result)
        self.stats.record((now - t0) * 1000.0, now)
        self.sizes.append(size)
        if self.resolution is not None:
            # a frame run while its size compiled (OpenVINO) says nothing about that size's speed
            if not getattr(self.engine, "last_cold", False):
                self.resolution.observe((now - t0) * 1000.0)
            self._prepare_neighbours(frame.size)
        picker = getattr(self.controls, "picker", None)
        if picker is not None and picker.open:  # the window's style grid (G): a few thumbnails a frame
            picker.render_some(self.engine, frame)

    def _prepare_neighbours(self, frame_size) -> None:
        """Backends that compile per input size (OpenVINO) compile the boxes one rung up and down
        the auto ladder in the background, so a size change finds its graph ready."""
        prepare = getattr(self.engine, "prepare", None)
        res = self.resolution
        if prepare is None or getattr(self, "_prepared_at", None) == res.index:
            return
        self._prepared_at = res.index
        rungs = range(max(0, res.index - 1), min(res.top, res.index + 1) + 1)
        prepare([fit_inside(frame_size, res.ladder[i], self.upscale) for i in rungs])

    def _stabilize(self, x, out, settings):
        """A new style, strength, colour mode or device takes effect in this very frame: the
        stabiliser restarts, so no ghost of the old look is carried over."""
        look = (settings.strength, settings.preserve_color, self.engine.device)
        if (self._look is None or settings.style is not self._look[0] or look != self._look[1]
                or not settings.stabilize):
            self.stabilizer.reset()
            self._look = (settings.style, look)
        if not settings.stabilize:
            return out
        out = self.stabilizer(x, out)
        self.stabilize_stats.record(self.stabilizer.last.ms)
        return out

    def _style(self, settings):
        """Weight tensor (or style vector) and label of the current style, parsed once per settings
        change. A painting after a built-in style (or back) switches to the engine for that kind of
        net, loaded here on the first switch: the display keeps the previous picture meanwhile."""
        key = (settings.version, self.engine.device)
        if self._style_cache is None or self._style_cache[0] != key:
            if hasattr(self.engine, "for_style"):
                self.engine = self.engine.for_style(settings.style)
            weights = self.engine.weights(settings.style)
            label = self.engine.style_label(settings.style) if hasattr(self.engine, "style_label") \
                else describe(weights.cpu().numpy())
            self._style_cache = (key, (weights, label))
        return self._style_cache[1]

    def _recover(self, exc: BaseException) -> None:
        """Out of GPU memory: lower the inference size (three times at most). Any other CUDA
        fault, or still out of memory: continue on the CPU. Never retries the same thing forever."""
        if self.resolution is not None:
            self.infer_size = self.resolution.box
        w, h = self.infer_size
        if isinstance(exc, torch.cuda.OutOfMemoryError) and self.shrinks < MAX_SHRINKS and min(w, h) * 0.75 >= 96:
            self.shrinks += 1
            self.infer_size = (int(w * 0.75) // 4 * 4, int(h * 0.75) // 4 * 4)
            if self.resolution is not None:  # never climb back to a size that ran out of memory
                self.resolution.limit(self.infer_size)
                self.infer_size = self.resolution.box
            if self.engine.graphed is not None:  # the old size's graph holds memory of its own
                self.engine.graphed.clear()
            torch.cuda.empty_cache()
            self.notice = f"CUDA out of memory: inference size lowered to {self.infer_size[0]}x{self.infer_size[1]}"
            return
        self.engine = self.engine.on_cpu()
        self.infer_size = (min(w, CPU_FALLBACK_BOX[0]), min(h, CPU_FALLBACK_BOX[1]))
        if self.resolution is not None:
            self.resolution.limit(self.infer_size)
        kind = "out of memory" if isinstance(exc, torch.cuda.OutOfMemoryError) else "error"
        self.notice = f"CUDA {kind}: running on the CPU now"

    @property
    def device(self) -> torch.device:
        return self.engine.device

    def stop(self) -> None:
        """Ask the thread to stop and wait until it has: a net run cannot be interrupted, and an
        onnxruntime or torch run still going when the interpreter exits aborts the process
        (``terminate called without an active exception``, exit 134). The wait is one frame's
        inference at most; a second Ctrl-C interrupts it."""
        self.stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            while self._thread.is_alive():
                self._thread.join(0.5)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _check_memory(size: Tuple[int, int], model: str) -> None:
    """An InputError when live inference at ``size`` (w, h) needs more memory than this process may
    still use (free RAM, ``ulimit -v``), naming the largest --infer-size that fits."""
    from ..errors import InputError
    from ..stylize import _fits, memory_room

    w, h = size
    per_pixel = LIVE_MEMORY_PER_PIXEL.get(model, LIVE_FULL_MEMORY_PER_PIXEL)
    room = memory_room()
    fits = _fits(w, h, per_pixel, room)
    if fits >= 1.0:
        return
    have = min(r for r in room if r is not None)
    scale = min(fits, 0.9) ** 0.5
    fit_w, fit_h = max(32, int(w * scale) // 16 * 16), max(32, int(h * scale) // 16 * 16)
    raise InputError(f"inference at {w}x{h} needs about {w * h * max(per_pixel) / 2 ** 30:.1f} GB of memory, "
                     f"{max(have, 0) / 2 ** 30:.1f} GB is free; use --infer-size {fit_w}x{fit_h} or auto")
