"""Run the live window on a source, optionally press keys, and save what the X screen shows.

python tests/helpers/window_shot.py OUT.png [--source demo] [--size 960x540] [--keys G,RIGHT] [--after 6]
(under Xvfb; the window sits at the screen's top-left). Prints ``saved OUT.png``.
"""
import argparse
import threading
import time

import glfw
import mss
import numpy as np

from artem_vr.capture import parse_source
from artem_vr.cli import DEFAULT_STYLE
from artem_vr.controls import Controls, Settings
from artem_vr.images import write_image
from artem_vr.inference.engine import StyleEngine
from artem_vr.pipeline import LivePipeline
from artem_vr.render.window import WindowSink, handle_key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--source", default="demo")
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--keys", default="")
    ap.add_argument("--after", type=float, default=6.0, help="seconds after the first frame to grab")
    ap.add_argument("--style", default=DEFAULT_STYLE)
    ap.add_argument("--model", default="full")
    ap.add_argument("--infer-size", default="320x180")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    controls = Controls(Settings(args.style))  # the camera defaults: no added detail
    window = WindowSink(controls, size=(w, h), max_fps=30)
    engine = StyleEngine.load(args.model, device="cpu")
    box = tuple(int(v) for v in args.infer_size.split("x"))
    pipe = LivePipeline(parse_source(args.source), engine, window, controls, box)

    def drive():
        while pipe.presented < 10:  # the window has shown a few stylized pictures
            time.sleep(0.05)
        for key in filter(None, args.keys.split(",")):
            handle_key(controls, getattr(glfw, f"KEY_{key}"))
            time.sleep(0.3)
        time.sleep(args.after)
        with mss.MSS() as screen:
            shot = np.asarray(screen.grab({"left": 0, "top": 0, "width": w, "height": h}))[:, :, 2::-1]
        write_image(args.out, np.ascontiguousarray(shot))
        controls.quit.set()

    threading.Thread(target=drive, daemon=True).start()
    pipe.run()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
