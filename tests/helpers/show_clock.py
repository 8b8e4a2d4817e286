"""A digital clock that changes every second, in an undecorated window at the screen's top-left,
until stdin closes (a stand-in for ``xclock -digital -update 1``, which this machine lacks).
Big digits, and the panel's colour flips each second, so a stylized copy of it changes visibly.
Prints ``ready X Y W H`` once it is on screen."""
import sys
import threading
import time

import glfw
import moderngl
import numpy as np

from artem_vr.render.compositor import Compositor
from artem_vr.render.hud import text_font
from artem_vr.render.window import create_gl_window

SIZE = (400, 150)


def face(now: float) -> np.ndarray:
    from PIL import Image, ImageDraw

    second = int(now)
    light = second % 2 == 0
    img = Image.new("RGB", SIZE, (235, 235, 225) if light else (25, 30, 60))
    draw = ImageDraw.Draw(img)
    draw.text((20, 25), time.strftime("%H:%M:%S", time.localtime(now)), font=text_font(80),
              fill=(10, 10, 10) if light else (250, 240, 120))
    return np.asarray(img)


def main() -> None:
    win = create_gl_window(*SIZE, "clock", decorated=False, resizable=False)
    glfw.set_window_pos(win, 0, 0)
    ctx = moderngl.create_context()
    comp = Compositor(ctx)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    shown, said = None, False
    while not done.is_set():
        second = int(time.time())
        if second != shown:
            comp.upload(face(time.time()))
            for _ in range(2):  # both buffers
                comp.render(ctx.detect_framebuffer(), glfw.get_framebuffer_size(win), flip_y=True, hud=False)
                glfw.swap_buffers(win)
            shown = second
        glfw.poll_events()
        if not said:
            print("ready {} {} {} {}".format(*glfw.get_window_pos(win), *SIZE), flush=True)
            said = True
        time.sleep(0.02)
    comp.release()
    glfw.destroy_window(win)
    glfw.terminate()


if __name__ == "__main__":
    main()
