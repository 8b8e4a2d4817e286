"""Show an image 1:1 in an undecorated window at the screen's top-left until stdin closes.
Prints ``ready X Y`` (the window's position) once the picture is on screen."""
import sys

import glfw
import moderngl

from artem_vr.images import read_image
from artem_vr.render.compositor import Compositor
from artem_vr.render.window import create_gl_window


def main(path: str) -> None:
    picture = read_image(path)
    h, w = picture.shape[:2]
    win = create_gl_window(w, h, "picture", decorated=False, resizable=False)
    glfw.set_window_pos(win, 0, 0)
    ctx = moderngl.create_context()
    comp = Compositor(ctx)
    comp.upload(picture)
    for _ in range(3):
        comp.render(ctx.detect_framebuffer(), glfw.get_framebuffer_size(win), flip_y=True, hud=False)
        glfw.swap_buffers(win)
        glfw.poll_events()
    x, y = glfw.get_window_pos(win)
    print(f"ready {x} {y}", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    comp.release()
    glfw.destroy_window(win)
    glfw.terminate()


if __name__ == "__main__":
    main(sys.argv[1])
