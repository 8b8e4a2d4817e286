"""Monado's simulated headset for the OpenXR tests: the service, an Xvfb for its compositor window,
screenshots of that window (imported as ``helpers.openxr_monado``)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

SCREEN = (1280, 720)
WINDOW = (640, 360)   # Monado's compositor window at +0+0: left eye | right eye


def monado_missing() -> str:
    if not shutil.which("monado-service"):
        return "no monado-service here; run them with: bash .ci/monado_env.sh test"
    if not shutil.which("Xvfb"):
        return "no Xvfb for Monado's compositor window"
    return ""


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


class Monado:
    """``monado-service`` with the simulated headset, compositor in an X window; stopped at teardown."""

    def __init__(self, display: str, tmp: Path):
        self.runtime_dir = Path(f"/tmp/xr{os.getpid()}-{time.monotonic_ns() % 100000}")  # short: a socket path
        self.runtime_dir.mkdir(mode=0o700)
        self.env = {**os.environ, "DISPLAY": display, "XDG_RUNTIME_DIR": str(self.runtime_dir),
                    "SIMULATED_ENABLE": "1", "XRT_NO_STDIN": "1", "XRT_COMPOSITOR_FORCE_XCB": "1"}
        self.log = open(tmp / "monado.log", "w")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["monado-service"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: (self.runtime_dir / "monado_comp_ipc").exists() or self.proc.poll() is not None, 20,
              "monado-service's socket")
        assert self.proc.poll() is None, "monado-service exited at start"
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_xvfb():
    """``(process, ":N")``: a 24-bit Xvfb of our own for Monado's window."""
    number = 90 + os.getpid() % 100
    proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 10, "Xvfb")
    return proc, f":{number}"


def screenshot(display: str) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB of Monado's window (640x360 at +0+0) on ``display``."""
    import mss

    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        with mss.MSS() as sct:
            shot = sct.grab({"left": 0, "top": 0, "width": WINDOW[0], "height": WINDOW[1]})
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
    return np.asarray(shot, dtype=np.uint8)[:, :, 2::-1].copy()  # BGRA -> RGB
