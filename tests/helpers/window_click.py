"""A real window (Xvfb) with the style grid up: the pointer is moved onto a cell and the window's own
mouse-button callback runs, as glfw would call it. Prints the style picked and whether the grid closed."""
import json
import sys

import glfw
import numpy as np

from artem_vr.capture.base import Source
from artem_vr.controls import Controls, Settings
from artem_vr.pipeline import LivePipeline
from artem_vr.render.window import WindowSink


class Still(Source):
    name, rate = "still", 30.0

    def read(self):
        return np.full((180, 320, 3), 128, np.uint8), "rgb"


class ClickingWindow(WindowSink):
    target = int(sys.argv[1])
    turns = 0

    def present(self, compositor):
        keep = super().present(compositor)
        self.turns += 1
        picker = self.controls.picker
        if self.turns == 3:
            picker.toggle(0)
        elif self.turns == 6:
            fw, fh = glfw.get_framebuffer_size(self.window)
            r, c = divmod(self.target, picker.columns)
            glfw.set_cursor_pos(self.window, (c + 0.5) * fw / picker.columns, (r + 0.5) * fh / picker.rows)
            self._on_click(self.window, glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
            print(json.dumps({"style": self.controls.settings.style, "open": picker.open}), flush=True)
            self.controls.quit.set()
        return keep


class Engine:
    """Returns the frame as it is: the test is about the click, not the net."""

    device = __import__("torch").device("cpu")
    num_styles, name, takes_paintings = 26, "identity", False

    def weights(self, style):
        from artem_vr.inference.styles import style_weights

        return __import__("torch").from_numpy(style_weights(style))

    def stylize_tensor(self, x, weights, strength=1.0, preserve_color=False):
        return x


controls = Controls(Settings(0, hud=False))
LivePipeline(Still(), Engine(), ClickingWindow(controls, size=(600, 400)), controls, (160, 90)).run()
