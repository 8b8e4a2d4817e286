"""Window tests of issue 23 run here, in a process of their own (a GLX window in a process that has
used EGL contexts can fail to make its context current): ``python -m helpers.window_probes feedback
OUT.npz`` or ``... pick OUT.npz``. Results go to OUT.npz; the test asserts on them."""
import sys

import numpy as np


class _Identity:
    """An engine that returns its input: any nested copy of the window would show as it is."""

    def __init__(self):
        import torch

        self.torch = torch
        self.device = torch.device("cpu")

    name = "identity"
    graphed = None

    def weights(self, style):
        return self.torch.zeros(26)

    def style_label(self, style):
        return str(style)

    def stylize_tensor(self, x, weights, strength=1.0, preserve_color=False):
        return x


def _grab(left, top, width, height):
    import mss

    with mss.MSS() as sct:
        shot = sct.grab({"left": left, "top": top, "width": width, "height": height})
    return np.asarray(shot)[..., 2::-1].copy()


def feedback(out: str) -> None:
    """artem-vr's window (640x360) on the captured screen, the identity engine: screenshots of the
    window after each new picture."""
    import glfw

    from artem_vr.capture.screen import ScreenSource
    from artem_vr.controls import Controls, Settings
    from artem_vr.pipeline import LivePipeline
    from artem_vr.render.window import WindowSink

    shots = []

    class Probe(WindowSink):
        def present(self, compositor):
            keep = super().present(compositor)
            if self.drew and self.window is not None:
                x, y = glfw.get_window_pos(self.window)
                w, h = glfw.get_window_size(self.window)
                shots.append((x, y, _grab(x, y, w, h)))
            return keep and len(shots) < 12

    controls = Controls(Settings(style=0, hud=False, detail=0.75, stabilize=False))
    pipeline = LivePipeline(ScreenSource(), _Identity(), Probe(controls, size=(640, 360)), controls, (640, 360))
    pipeline.run()
    x, y, last = shots[-1]
    np.savez(out, x=x, y=y, last=last, masked=pipeline.source.masked, frames=len(shots))


def pick(out: str) -> None:
    """The picker, driven by synthetic events: press, drag, a screenshot of what it shows, release."""
    from artem_vr.capture.pick import grab_monitor, pick_region

    shot, origin = grab_monitor(1)
    seen = []
    steps = iter([lambda p: p.press(100, 50), lambda p: p.drag(300, 150), lambda p: None,
                  lambda p: seen.append(_grab(origin[0], origin[1], shot.shape[1], shot.shape[0])),
                  lambda p: p.release(400, 250)])
    import mss

    with mss.MSS():  # an X server resets (refusing connections a moment) when its last client leaves
        rect = pick_region(feed=lambda p: next(steps, lambda q: None)(p), timeout=20)
        try:
            pick_region(feed=lambda p: p.cancel(), timeout=20)
            cancelled = False
        except Exception as exc:
            cancelled = type(exc).__name__ == "PickCancelled"
    np.savez(out, rect=np.array(rect), origin=np.array(origin), shot=shot, seen=seen[0], cancelled=cancelled)


if __name__ == "__main__":
    {"feedback": feedback, "pick": pick}[sys.argv[1]](sys.argv[2])
