"""A screenshot of the real app at its defaults: runs ``artem-vr --window [ARGS...]`` on the current X
display, waits until the window's title shows fps, then ``--after`` seconds more, grabs the window
and quits it. Prints ``saved OUT (WxH at X,Y)`` and the window title (style, fps).

    xvfb-run -s "-screen 0 1280x720x24" python tests/helpers/app_shot.py docs/window.jpg --after 20 -- --source demo

(docs/window.jpg: the README's picture; take it on an idle machine, and say which in the caption.)
"""
import argparse
import subprocess
import sys
import time

import mss
import numpy as np

from artem_vr.images import write_image


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--after", type=float, default=20.0, help="seconds after the first stylized picture")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])   # what follows -- goes to artem-vr, after --window
    app = subprocess.Popen([sys.executable, "-m", "artem_vr", "--window", *argv[cut + 1:]])
    try:
        deadline, found = time.time() + 300, []
        while time.time() < deadline and app.poll() is None and not found:
            found = subprocess.run(["xdotool", "search", "--name", "^artem-vr - .*fps"], capture_output=True,
                                   text=True).stdout.split()
            time.sleep(0.2)
        if not found:
            print("no artem-vr window with fps in its title", file=sys.stderr)
            return 1
        time.sleep(a.after)
        out = subprocess.run(["xdotool", "getwindowgeometry", "--shell", found[0]], capture_output=True,
                             text=True).stdout
        g = {k: int(v) for k, v in (line.split("=") for line in out.split()) if k in ("X", "Y", "WIDTH", "HEIGHT")}
        with mss.MSS() as screen:
            shot = np.asarray(screen.grab({"left": g["X"], "top": g["Y"], "width": g["WIDTH"], "height": g["HEIGHT"]}))
        title = subprocess.run(["xdotool", "getwindowname", found[0]], capture_output=True, text=True).stdout.strip()
        write_image(a.out, np.ascontiguousarray(shot[..., 2::-1]))
        print(f"saved {a.out} ({g['WIDTH']}x{g['HEIGHT']} at {g['X']},{g['Y']}); title: {title}")
        return 0
    finally:
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()


if __name__ == "__main__":
    sys.exit(main())
