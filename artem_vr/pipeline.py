"""Wires capture -> worker -> compositor -> sink, owns their lifetimes, and collects the stats.

The main thread (this loop) owns GL and the sink. It never waits for inference: display sinks
re-present the latest picture at their own rate; file sinks take each new stylized frame once.
Any stage's exception stops every stage and is re-raised here.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Optional, Tuple

from .capture.base import CaptureStage, Source
from .errors import CaptureError
from .inference.worker import StyleWorker
from .render.base import Sink
from .slots import LatestSlot
from .stats import StageStats, percentiles

FIRST_FRAME_TIMEOUT = 10.0
KEYS_SECONDS = 5.0  # a window session shows its key list this long at the start


def hud_corner(window, area) -> Tuple[bool, bool]:
    """``(right, bottom)``: the HUD's corner for a window ``(x, y, w, h)`` that shows the captured
    screen ``area`` (same form): the corner where the window itself sits on that screen, so the HUD
    covers the picture of the window (frozen, see capture/screen.py), not the live desktop."""
    cx, cy = window[0] + window[2] / 2.0, window[1] + window[3] / 2.0
    return cx > area[0] + area[2] / 2.0, cy > area[1] + area[3] / 2.0


class LivePipeline:
    def __init__(self, source: Source, engine, sink: Sink, controls, infer_size: Tuple[int, int],
                 upscale: bool = True, frames: Optional[int] = None, lockstep: bool = False,
                 sharpen: float = 0.0, open_timeout: float = 10.0, model_name: str = "", resolution=None,
                 outputs=(), guided_on_software: bool = True):
        self.source = source
        self.guided_on_software = guided_on_software  # see Compositor: False keeps Catmull-Rom on llvmpipe
        self.engine = engine
        self.sink = sink
        self.outputs = list(outputs)  # secondary sinks (recording, virtual camera) in the sink's GL context
        self.controls = controls
        self.frames = frames
        self.sharpen = sharpen
        self.open_timeout = open_timeout
        self.model_name = model_name or getattr(engine, "name", "")
        self.capture_slot = LatestSlot()
        self.output_slot = LatestSlot()
        self.capture = CaptureStage(source, self.capture_slot, lockstep=lockstep)
        self.worker = StyleWorker(engine, self.capture_slot, self.output_slot, controls, infer_size,
                                  upscale=upscale, lockstep=lockstep, resolution=resolution)
        if resolution is not None and resolution.budget is None:  # default budget: the source's period
            resolution.budget = self.source_period_ms
        self.present_stats = StageStats()
        self.latencies = deque(maxlen=20000)
        self.recent_latency = deque(maxlen=60)
        self.presented = 0
        self.output_size: Optional[Tuple[int, int]] = None
        self.compositor = None
        self._hud_at = 0.0
        self.banners = []
        self._started = 0.0
        self._ended = 0.0
        self._t_first: Optional[float] = None  # capture time of the first frame shown
        self._failed = False

    # -- run -------------------------------------------------------------------------------

    def run(self) -> dict:
        from .render.compositor import Compositor

        self._started = time.perf_counter()
        try:
            self.capture.start()
            self.capture.wait_open(self.open_timeout)
            first = self._wait_first_frame()
            note = self.worker.check_source(first.size)  # a box above the source is capped; too big for memory: refused
            if note:
                print(f"artem-vr: note: {note}", file=sys.stderr, flush=True)
            if getattr(self.sink, "fps", 0) is None:  # a video written at the source's own rate
                self.sink.fps = self.source.rate
            self.worker.start()
            if hasattr(self.sink, "avoid"):  # a window opens beside the screen area it shows, not over it
                self.sink.avoid = getattr(self.source, "captured_rect", None)
            ctx = self.sink.open(first.size)
            self._exclude_own_windows(first.pixels)  # before anything else: the window is on screen now
            for output in self.outputs:
                output.open(first.size, ctx)
            self.compositor = Compositor(ctx, sharpen=self.sharpen, guided_on_software=self.guided_on_software)
            self._loop()
        except Exception:
            self._failed = True  # tells a file sink to drop its partial output (Ctrl-C keeps a recording)
            raise
        finally:
            self._shutdown()
        self._raise_stage_errors()
        return self.stats()

    def _wait_first_frame(self):
        deadline = time.perf_counter() + FIRST_FRAME_TIMEOUT
        while time.perf_counter() < deadline:
            self._raise_stage_errors()
            seq, frame = self.capture_slot.latest()
            if seq:
                return frame
            if self.capture.ended.is_set():
                raise CaptureError(f"{self.source.name} ended before its first frame")
            time.sleep(0.005)
        raise CaptureError(f"{self.source.name} opened but sent no frame within {FIRST_FRAME_TIMEOUT:.0f} s")

    def _loop(self) -> None:
        last_seq = 0
        every = self.sink.every_frame
        while not self.controls.quit.is_set():
            self._raise_stage_errors()
            got = self.output_slot.get(after=last_seq, timeout=0.1 if every else 0.0)
            new = None
            if got is not None:
                last_seq, new = got
                self.compositor.upload(new.pixels, guide=new.source, guide_order=new.order)
            elif every:
                if self._drained(last_seq):
                    return
                continue
            self.compositor.detail = self.controls.settings.detail  # bumps the version when changed
            self._exclude_own_windows()
            self._update_hud()
            frame_time = self._frame_time(new) if new is not None else None
            if new is not None and hasattr(self.sink, "frame_time"):
                self.sink.frame_time = frame_time
            t0 = time.perf_counter()
            keep = self.sink.present(self.compositor)
            for output in self.outputs:
                output.frame_time = frame_time
                output.present(self.compositor)
            t1 = time.perf_counter()
            if self.compositor.texture is not None and self.sink.drew:
                self.presented += 1
                self.present_stats.record((t1 - t0) * 1000.0, t1)
            if new is not None:
                latency = (t1 - new.t_capture) * 1000.0
                self.latencies.append(latency)
                self.recent_latency.append(latency)
            if not keep or (self.frames and self.presented >= self.frames):
                return

    def _frame_time(self, new) -> float:
        """Seconds of a stylized frame on the output's timeline: the source's own frame time (files,
        so VFR and audio line up), else its capture time from the first frame (live recordings)."""
        media_time = getattr(self.source, "media_time", None)
        t = media_time(new.index) if media_time is not None else None
        if self._t_first is None:
            self._t_first = new.t_capture
        return t if t is not None else new.t_capture - self._t_first

    def _drained(self, last_seq: int) -> bool:
        """An ended source whose every frame went through the worker and was presented."""
        return (self.capture.ended.is_set() and self.worker.done_seq >= self.capture_slot.seq
                and self.output_slot.seq <= last_seq)

    def _exclude_own_windows(self, before=None) -> None:
        """No feedback loop: a screen source leaves out the desktop area of our own window (the
        window, the VR mirror) and shows what was there before (``before``: a frame grabbed before
        the window opened). See ``capture/screen.py``."""
        rects = getattr(self.sink, "screen_rects", None)
        exclude = getattr(self.source, "exclude", None)
        if rects is not None and exclude is not None:
            own = rects()
            exclude(own, before)
            area = getattr(self.source, "captured_rect", None)
            if self.compositor is not None and own and area:
                self.compositor.hud_corner = hud_corner(own[0], area)

    def _raise_stage_errors(self) -> None:
        for stage in (self.capture, self.worker):
            if stage.error is not None:
                raise stage.error

    def running_model(self) -> str:
        """The net the worker runs now (``auto`` resolved; a painting style switches to the arbitrary net)."""
        engine = getattr(self.worker, "engine", None)
        name = getattr(engine, "name", None) if engine is not self.engine else None
        return name or self.model_name

    def running_engine(self) -> tuple:
        """``(backend, precision)`` of the net the worker runs now, e.g. ``("openvino", "bf16")``."""
        engine = getattr(self.worker, "engine", None) or self.engine
        return getattr(engine, "backend", "torch"), getattr(engine, "precision", "fp32")

    def _overlay_state(self):
        """What besides the HUD may change the overlay at once: the style grid, the key list."""
        picker = getattr(self.controls, "picker", None)
        return (picker.version if picker is not None and picker.open else None,
                getattr(self.controls, "keys_version", 0))

    def _update_hud(self) -> None:
        now = time.perf_counter()
        state = self._overlay_state()
        if now - self._hud_at < 0.25 and state == getattr(self, "_overlay_at", None):
            return
        self._hud_at, self._overlay_at = now, state
        from .render.hud import KEY_LINES, hud_image, hud_lines

        picker = getattr(self.controls, "picker", None)
        if picker is not None and picker.open:  # the style grid covers the picture, at the window's size
            self.compositor.set_hud(picker.image(getattr(self.sink, "size", None) or self.compositor.source_size))
            return

        settings = self.controls.settings
        infer_fps = self.worker.stats.fps()
        banners = [b for b in (self.capture.status(), self.worker.notice, getattr(self.controls, "notice", None),
                               getattr(self.source, "notice", None)) if b]
        from .inference.styles import style_label

        self.sink.title_info(" - ".join([f"style {style_label(settings.style)}", f"{infer_fps:.1f} fps", *banners]))
        lines = [f"! {b}" for b in banners]  # shown even with the HUD off: the user must know
        if settings.hud:
            latency = sorted(self.recent_latency)[len(self.recent_latency) // 2] if self.recent_latency else 0.0
            lines += hud_lines(settings, self.capture.stats.fps(), self.capture.stats.recent_ms(), infer_fps,
                               self.worker.stats.recent_ms(), self.present_stats.fps(), latency,
                               str(self.worker.device), self.worker.frame_size,
                               model=" ".join([self.running_model(), *self.running_engine()]),
                               auto=self._size_note())
        first = self._t_first if self._t_first is not None else now
        if getattr(self.controls, "show_keys", False) or (
                settings.hud and self.sink.name == "window" and now - first < KEYS_SECONDS):
            lines += [""] + KEY_LINES if lines else KEY_LINES
        width = (getattr(self.sink, "size", None) or (0, 0))[0]  # a window's: long lines wrap to it
        scale = min(1.0, max(0.75, width / 1000.0)) if width else 1.0  # a small window: a smaller HUD
        self.compositor.set_hud(hud_image(lines, scale=scale, max_width=width) if lines else None)
        self.banners = banners

    def _shutdown(self) -> None:
        self._ended = time.perf_counter()
        self.capture.stop_event.set()
        self.worker.stop_event.set()
        self.capture_slot.close()
        self.output_slot.close()
        self.capture.stop()
        self.worker.stop()
        self.output_size = getattr(self.sink, "size", None) or self.output_size
        for sink in (self.sink, *self.outputs):
            if hasattr(sink, "failed"):
                sink.failed = self._failed or any(s.error is not None for s in (self.capture, self.worker))
                if self._t_first is not None and not self.capture.lockstep:  # live: the file lasts as the run did
                    sink.end_time = self._ended - self._t_first
        for output in self.outputs:  # their framebuffers live in the primary's context: before it goes
            output.close()
        if self.compositor is not None:
            self.compositor.release()
        self.sink.close()

    # -- report ----------------------------------------------------------------------------

    def source_period_ms(self) -> Optional[float]:
        """The source's frame period: its own rate, else the measured capture rate (webcams)."""
        rate = self.source.rate or self.capture.stats.fps()
        return 1000.0 / rate if rate and rate > 0 else None

    def _size_note(self):
        """For the HUD: the range of inference sizes so far under --infer-size auto, else False."""
        res = self.worker.resolution
        sizes = list(self.worker.sizes)[-2000:]
        if res is None or not sizes:
            return res is not None
        lo = min(sizes, key=lambda s: s[0] * s[1])
        hi = max(sizes, key=lambda s: s[0] * s[1])
        return f"auto {lo[0]}x{lo[1]}-{hi[0]}x{hi[1]}, {res.changes} change{'' if res.changes == 1 else 's'}"

    def _size_report(self) -> dict:
        """Inference sizes over the run (by pixel count): min, median, max, and how often it changed."""
        sizes = list(self.worker.sizes)
        res = self.worker.resolution
        report = {"mode": "auto" if res is not None else "fixed", "changes": res.changes if res else 0}
        if res is not None:
            budget = res.budget_ms()
            report["budget_ms"] = round(budget, 2) if budget else None
        if sizes:
            ordered = sorted(sizes, key=lambda s: (s[0] * s[1], s))
            report.update(min=list(ordered[0]), median=list(ordered[len(ordered) // 2]), max=list(ordered[-1]))
        return report

    def stats(self) -> dict:
        cap, inf, pres = self.capture.stats, self.worker.stats, self.present_stats
        running = getattr(self.worker, "engine", None) or self.engine
        return {
            "frames_captured": self.capture.frames,
            "frames_inferred": inf.count,
            "frames_presented": self.presented,
            "frames_dropped": self.capture_slot.dropped + self.output_slot.dropped,
            "frames_dropped_before_inference": self.capture_slot.dropped,
            "frames_dropped_before_display": self.output_slot.dropped,
            "fps": {"capture": round(cap.run_fps(), 2), "inference": round(inf.run_fps(), 2),
                    "present": round(pres.run_fps(), 2)},
            "latency_ms": percentiles(list(self.latencies)),
            "stage_ms": {"capture": cap.summary(), "inference": inf.summary(), "render": pres.summary()},
            "device": str(self.worker.device),
            "model": self.running_model(),
            "model_requested": getattr(self.engine, "requested", self.model_name),
            "backend": self.running_engine()[0],
            "precision": self.running_engine()[1],
            "engine_choice": getattr(running, "why", ""),
            "reproducible": bool(getattr(running, "reproducible", True)),
            "source": self.source.name,
            "sink": self.sink.name,
            "outputs": [output.name for output in self.outputs],
            "stabilize": {"on": bool(getattr(self.controls.settings, "stabilize", False)),
                          "frames": self.worker.stabilize_stats.count,
                          "ms": self.worker.stabilize_stats.summary()},
            "infer_size": list(self.worker.frame_size) if self.worker.frame_size else None,
            "infer_size_over_run": self._size_report(),
            "output_size": list(self.output_size) if self.output_size else None,
            "duration_s": round((self._ended or time.perf_counter()) - self._started, 3),
        }
