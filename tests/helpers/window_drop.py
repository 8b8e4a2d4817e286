"""A live window (demo source) gets a bad file and then a painting dropped onto it through the glfw
drop callback; prints the window titles and the banner seen after each as JSON.

    python window_drop.py PAINTING BAD_FILE DROPPED_PAINTING
"""
import json
import sys
import threading
import time

import artem_vr.render.window as window
from artem_vr.cli import main as cli_main

sinks = []
_open = window.WindowSink.open


def _recording_open(self, size):
    sinks.append(self)
    return _open(self, size)


def _wait_title(sink, needle, timeout=30.0):
    end = time.monotonic() + timeout
    while needle not in sink._title and time.monotonic() < end:
        time.sleep(0.05)
    return sink._title


def drive(report, bad, painting):
    while not sinks or sinks[0].window is None:
        time.sleep(0.05)
    sink = sinks[0]
    report["start"] = _wait_title(sink, "fps")
    sink._on_drop(sink.window, [bad])
    report["bad"] = _wait_title(sink, "style not changed")
    report["notice"] = sink.controls.notice
    sink._on_drop(sink.window, [painting])
    report["dropped"] = _wait_title(sink, "style " + painting.rsplit("/", 1)[-1])
    sink.controls.quit.set()


if __name__ == "__main__":
    window.WindowSink.open = _recording_open
    report = {}
    threading.Thread(target=drive, args=(report, sys.argv[2], sys.argv[3]), daemon=True).start()
    rc = cli_main(["--window", "--source", "demo", "--style", sys.argv[1], "--device", "cpu", "--size", "320x180"])
    print(json.dumps({"rc": rc, **report}))
