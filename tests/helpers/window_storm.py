"""200 window events against a real WindowSink + Compositor; prints a JSON report."""
import json

import glfw
import numpy as np

from artem_vr.controls import Controls, Settings
from artem_vr.render.compositor import Compositor
from artem_vr.render.window import WindowSink


def main() -> None:
    import resource

    sink = WindowSink(Controls(Settings(0)), size=(320, 180), max_fps=1000)
    ctx = sink.open((64, 48))
    comp = Compositor(ctx, sharpen=0.3)
    rng = np.random.default_rng(0)
    real_size = sink.framebuffer_size
    counts, errors, kept, rss = set(), [], True, []
    for i in range(200):
        comp.upload(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        if i % 10 == 3:
            glfw.iconify_window(sink.window)
        elif i % 10 == 4:
            glfw.restore_window(sink.window)
        elif i % 10 == 5:
            sink.framebuffer_size = lambda: (0, 0)  # what a minimized window reports
        else:
            sink.framebuffer_size = real_size
            glfw.set_window_size(sink.window, 100 + (i * 37) % 700, 80 + (i * 53) % 500)
        kept = kept and sink.present(comp)
        counts.add(comp.gl_object_count)
        if ctx.error != "GL_NO_ERROR":
            errors.append(i)
        if i in (20, 199):
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    comp.release()
    sink.close()
    print(json.dumps({"object_counts": sorted(counts), "gl_errors": errors, "kept_going": kept,
                      "maxrss_kb": rss}))


if __name__ == "__main__":
    main()
