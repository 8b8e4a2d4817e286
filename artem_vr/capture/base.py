"""Frames, the Source interface, and the capture stage that runs a source on its own thread."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import CaptureError
from ..slots import LatestSlot
from ..stats import StageStats
from .health import LOST_AFTER_S, FeedHealth


@dataclass
class Frame:
    """One captured picture. ``pixels``: ``(H,W,3|4) uint8`` in channel ``order`` as the source
    delivered it ("rgb", "bgr" or "bgra"); the inference stage swizzles on its device."""

    pixels: np.ndarray
    order: str
    index: int
    t_capture: float  # time.perf_counter() when grabbed

    @property
    def size(self):
        return self.pixels.shape[1], self.pixels.shape[0]


class Source:
    """A frame producer. ``open``/``read``/``close`` are called on the capture thread only.

    ``read`` returns the next ``(pixels, order)``, or None when the source has ended (video files
    in offline runs). ``rate``: frames per second the capture stage paces ``read`` at; None when
    the device paces itself (a webcam's read blocks until its next frame). Known after ``open``.
    """

    name = "source"
    rate: Optional[float] = None
    loop = True
    monitored = False  # a live camera: watched for lost/frozen/black feeds and reopened when lost
    on_demand = False  # frames can be made as fast as asked (files, demo): offline renders take every one

    def open(self) -> None:
        pass

    def read(self):
        raise NotImplementedError

    def close(self) -> None:
        pass


class Pacer:
    """Sleeps so that ``tick`` returns at most ``fps`` times a second (without drifting)."""

    def __init__(self, fps: float, stop: threading.Event):
        self.period = 1.0 / fps
        self.stop = stop
        self.next = time.perf_counter()

    def tick(self) -> bool:
        now = time.perf_counter()
        if self.next > now:
            if self.stop.wait(self.next - now):
                return False
        self.next = max(self.next + self.period, time.perf_counter() - self.period)
        return True


class CaptureStage:
    """Runs a Source on a thread and overwrites the newest Frame into ``slot``.

    ``lockstep``: wait until the previous frame was taken before reading the next, so an offline
    render sees every frame of a video exactly once.
    """

    def __init__(self, source: Source, slot: LatestSlot, lockstep: bool = False):
        self.source = source
        self.slot = slot
        self.lockstep = lockstep
        self.stats = StageStats()
        self.stop_event = threading.Event()
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.error: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        self.frames = 0
        self.health = FeedHealth()
        self.reconnects = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.source.name}", daemon=True)
        self._thread.start()

    def wait_open(self, timeout: float) -> None:
        """Block until the source opened; raise its error, or a CaptureError on timeout."""
        deadline = time.perf_counter() + timeout
        while not self.opened.wait(0.05):
            if self.error is not None:
                raise self.error
            if time.perf_counter() > deadline:
                self.stop_event.set()  # a thread stuck inside the driver is abandoned (daemon)
                raise CaptureError(f"{self.source.name} did not open within {timeout:.0f} s "
                                   "(busy or hung device?); try --source demo")

    def status(self) -> Optional[str]:
        """A banner for the HUD while a monitored feed is lost, frozen or black; else None."""
        return self.health.status() if self.source.monitored and self.opened.is_set() else None

    def _reconnect(self) -> bool:
        """Close and reopen a lost camera every 0.5 s until it is back (True) or we stop (False)."""
        self.health.reconnecting = True
        self.reconnects += 1
        try:
            self.source.close()
        except Exception:
            pass
        while not self.stop_event.wait(0.5):
            try:
                self.source.open()
            except CaptureError:
                continue
            self.health = FeedHealth()
            return True
        return False

    def _read(self):
        """``source.read()``; for a monitored camera, a failed or frozen read means reconnect."""
        while True:
            try:
                got = self.source.read()
            except CaptureError:
                if not self.source.monitored:
                    raise
                if not self._reconnect():
                    return None
                continue
            if got is not None and self.source.monitored:
                self.health.observe(got[0])
                if self.health.frozen_for() > LOST_AFTER_S:
                    if not self._reconnect():
                        return None
                    continue
            return got

    def _run(self) -> None:
        try:
            self.source.open()
            self.opened.set()
            # lock-step renders take frames as fast as the consumer does: no pacing
            pacer = Pacer(self.source.rate, self.stop_event) if self.source.rate and not self.lockstep else None
            while not self.stop_event.is_set():
                if pacer is not None and not pacer.tick():
                    break
                t0 = time.perf_counter()
                got = self._read()
                if got is None:
                    break
                pixels, order = got
                now = time.perf_counter()
                if self.lockstep:
                    while not self.slot.wait_taken(0.1):
                        if self.stop_event.is_set():
                            return
                frame = Frame(pixels, order, self.frames, now)
                self.slot.put(frame)
                self.frames += 1
                self.stats.record((now - t0) * 1000.0, now)
        except BaseException as exc:  # handed to the main loop, which shuts everything down
            self.error = exc
        finally:
            self.ended.set()
            try:
                self.source.close()
            except Exception:
                pass

    def stop(self, timeout: float = 2.0) -> None:
        self.stop_event.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            # a source that never opened may be stuck inside its driver: do not wait for it
            self._thread.join(timeout if self.opened.is_set() else 0.1)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
