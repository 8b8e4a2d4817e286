"""Where a live screen recording's time goes (issue 31): ``artem-vr --output o.mp4 --source screen
--frames N --model fast`` with a photo on the screen, on this machine's CPU (software GL).

Starts its own X server (Xvfb, ``--screen`` size), shows a photo full screen, and runs the real
command once per variant, the variants alternating round by round (A, B, A, B ...) so a noisy
machine slows them alike. Each run is a child process that sets a few knobs first and then calls
``artem_vr.cli.main`` (the CLI as users run it). Per run: the pipeline's own fps per stage and
inference size over the run (``--stats``), what the file holds (frames / seconds: the rate the
recording kept), its size, and CPU ms per recorded frame by thread from the first recorded frame to the last (``/proc``; the
child names its threads: main = compositor + read-back, x264 = the encoder's own threads,
worker = inference, capture = mss, llvmpipe-N = software GL).

    python benchmarks/bench_screen_record.py [--screen 1280x720] [--frames 300] [--rounds 2]
        [--variants base,preset=veryfast,guided=0] [--json benchmarks/results/screen_record_cpu.json]

A variant is ``base`` (the shipped defaults) or comma-free knobs joined by ``+``:
``preset=P`` (x264 preset of the recording), ``guided=0|1`` (the guided pass on software GL),
``incremental=0|1`` (redraw only what changed, render/changes.py; 1 as shipped), ``infer=WxH``
(a fixed ``--infer-size``; the default is auto).
Needs Xvfb; run it under ``flock /tmp/artem-heavy.lock`` on a shared machine.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _set_thread_name(name: str) -> None:
    """Linux: this OS thread's name (what /proc/.../comm shows); threads it starts inherit it."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name[:15].encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def child(variant: str, argv) -> int:
    """In this process: apply ``variant``'s knobs, name the threads, run the CLI with ``argv``."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _set_thread_name("main")
    knobs = dict(k.split("=", 1) for k in variant.split("+") if "=" in k)

    original = threading.Thread._bootstrap_inner

    def named(self):
        _set_thread_name({"video-encode": "x264"}.get(self.name, self.name.split("-")[0].lower()))
        original(self)

    threading.Thread._bootstrap_inner = named
    from artem_vr import video

    opener = video.VideoWriter._open

    def open_named(self, *a, **k):  # x264 starts its threads when the stream opens
        if "preset" in knobs:
            self.preset = knobs["preset"]
        _set_thread_name("x264")
        try:
            return opener(self, *a, **k)
        finally:
            _set_thread_name("main")

    video.VideoWriter._open = open_named
    import onnxruntime

    session_init = onnxruntime.InferenceSession.__init__

    def session_named(self, *a, **k):  # its thread pool inherits the name: "ort"
        own = open(f"/proc/self/task/{threading.get_native_id()}/comm").read().strip()
        _set_thread_name("ort")
        try:
            return session_init(self, *a, **k)
        finally:
            _set_thread_name(own)

    onnxruntime.InferenceSession.__init__ = session_named
    if "guided" in knobs:
        from artem_vr import pipeline

        init = pipeline.LivePipeline.__init__

        def guided(self, *a, **k):
            init(self, *a, **k)
            self.guided_on_software = knobs["guided"] == "1"

        pipeline.LivePipeline.__init__ = guided
    from artem_vr.render import changes
    from artem_vr.render import file as file_sink

    redrawn = []   # the share of the picture each incremental redraw covered
    dirty_rects = changes.dirty_rects

    def counted(changed, rect, *a, **k):
        rects = dirty_rects(changed, rect, *a, **k)
        redrawn.append(min(1.0, sum(w * h for _, _, w, h in rects) / float(rect[2] * rect[3])))
        return rects

    changes.dirty_rects = counted

    marks, timing = {}, collections.defaultdict(list)
    present, close = file_sink.FileSink.present, file_sink.FileSink.close

    def timed_present(self, compositor):  # CPU by thread from the first recorded frame on
        if not marks:
            marks["first"] = _thread_cpu(os.getpid())
        t0 = time.perf_counter()
        compositor.render(self.target.fbo, self.size, flip_y=False, hud=self.hud,
                          incremental=knobs.get("incremental", "1") == "1")
        compositor.ctx.finish()
        t1 = time.perf_counter()
        rgb = self.target.read()
        t2 = time.perf_counter()
        t = self.frame_time if self.frame_time is not None else self.written / float(self.fps or 30.0)
        self._writer.write(rgb, t)
        t3 = time.perf_counter()
        self.written += 1
        if self.written == int(argv[argv.index("--frames") + 1]):  # the last one: before the stages stop
            marks["last"], marks["frames"] = _thread_cpu(os.getpid()), self.written
        for key, ms in (("render", t1 - t0), ("read", t2 - t1), ("hand_off", t3 - t2)):
            timing[key].append(ms * 1000)
        return True

    def timed_close(self):
        if marks and "written" not in marks:
            if "last" not in marks:
                marks["last"], marks["frames"] = _thread_cpu(os.getpid()), self.written
            marks["written"] = self.written
            Path(os.environ["BENCH_MARKS"]).write_text(json.dumps({
                "marks": marks, "main_ms_p50": {k: statistics.median(v) for k, v in timing.items()},
                "redrawn": {"incremental_frames": len(redrawn), "share_p50": statistics.median(redrawn) if redrawn else None,
                            "share_mean": statistics.fmean(redrawn) if redrawn else None}}))
        return close(self)

    file_sink.FileSink.present, file_sink.FileSink.close = timed_present, timed_close
    from artem_vr.cli import main

    if "infer" in knobs:
        argv = [*argv, "--infer-size", knobs["infer"]]
    return main(list(argv))


def _thread_cpu(pid: int) -> dict:
    """{tid: (name, CPU seconds)} of every thread of ``pid`` now."""
    tick, seen = os.sysconf("SC_CLK_TCK"), {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            seen[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
        except OSError:
            pass
    return seen


def _group(name: str) -> str:
    return "llvmpipe" if name.startswith("llvmpipe") else name


def run_one(variant: str, frames: int, tmp: Path, display: str, extra) -> dict:
    out, stats = tmp / "o.mp4", tmp / "s.json"
    for p in (out, stats):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", variant, "--", "--output", str(out), "--source", "screen",
           "--frames", str(frames), "--model", "fast", "--stats", str(stats), *extra]
    env = dict(os.environ, DISPLAY=display, BENCH_MARKS=str(tmp / "marks.json"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{variant}: exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    s = json.loads(stats.read_text())
    import av

    with av.open(str(out)) as c:
        st = c.streams.video[0]
        n = sum(1 for _ in c.demux(st) if _.size)
        seconds = float(c.duration / 1e6) if c.duration else float(st.duration * st.time_base)
    got = json.loads((tmp / "marks.json").read_text())
    first, last, written = got["marks"]["first"], got["marks"]["last"], got["marks"]["frames"]
    cpu = collections.defaultdict(float)
    for tid, (name, secs) in last.items():
        cpu[_group(name)] += secs - first.get(tid, (name, 0.0))[1]
    size = s["infer_size_over_run"]
    return {"variant": variant, "backend": s.get("backend"), "duration_s": s["duration_s"], "fps": s["fps"],
            "infer_size": {k: size.get(k) for k in ("min", "median", "max")},
            "stage_p50_ms": {k: s["stage_ms"][k]["p50"] for k in ("capture", "inference", "render")},
            "file_frames": n, "file_seconds": round(seconds, 2), "file_fps": round(n / seconds, 2),
            "file_kib": round(out.stat().st_size / 1024), "kbit_s": round(out.stat().st_size * 8 / 1000 / seconds),
            "cpu_ms_per_file_frame": {k: round(v / written * 1000, 1) for k, v in
                                      sorted(cpu.items(), key=lambda kv: -kv[1]) if v > 0},
            "cpu_ms_per_frame_total": round(sum(cpu.values()) / written * 1000, 1),
            "main_thread_ms_p50": {k: round(v, 2) for k, v in got["main_ms_p50"].items()},
            "redrawn": got["redrawn"]}


def start_screen(size, tmp: Path, photo: Path):
    """Xvfb on a free display with ``photo`` shown full screen; returns (display, cleanup)."""
    import cv2

    from artem_vr.images import read_image, write_image

    for n in range(91, 120):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            break
    display = f":{n}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(f"/tmp/.X11-unix/X{n}"):
            break
        time.sleep(0.05)
    write_image(tmp / "desk.png", cv2.resize(read_image(photo), size, interpolation=cv2.INTER_AREA))
    shower = subprocess.Popen([sys.executable, "-m", "helpers.show_picture", str(tmp / "desk.png")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT / "tests",
                              env=dict(os.environ, DISPLAY=display))
    shower.stdout.readline()

    def cleanup():
        shower.stdin.close()
        shower.wait(10)
        xvfb.terminate()
        xvfb.wait(10)

    return display, cleanup


def main() -> int:
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        return child(sys.argv[i + 1], sys.argv[sys.argv.index("--") + 1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screen", default="1280x720")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default="base,preset=veryfast,guided=0")
    ap.add_argument("--photo", default=str(ROOT / "artem_vr" / "assets" / "astronaut.jpg"))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("extra", nargs="*", help="more artem-vr options, after --")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.screen.split("x"))
    variants = args.variants.split(",")
    runs = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        display, cleanup = start_screen(size, tmp, Path(args.photo))
        try:
            for r in range(args.rounds):
                for v in variants:
                    row = run_one(v, args.frames, tmp, display, args.extra)
                    runs[v].append(row)
                    print(f"round {r + 1} {v:28s} file {row['file_fps']:5.1f} fps ({row['file_frames']} in "
                          f"{row['file_seconds']} s, {row['kbit_s']} kbit/s)  inference {row['fps']['inference']:5.1f} fps "
                          f"at {row['infer_size']['median']}  render p50 {row['stage_p50_ms']['render']} ms  "
                          f"redrawn {row['redrawn']}  CPU/frame {row['cpu_ms_per_frame_total']} {row['cpu_ms_per_file_frame']}  main p50 {row['main_thread_ms_p50']}", flush=True)
        finally:
            cleanup()
    summary = {}
    for v, rows in runs.items():
        summary[v] = {"file_fps": statistics.median(r["file_fps"] for r in rows),
                      "inference_fps": statistics.median(r["fps"]["inference"] for r in rows),
                      "infer_size_median": [r["infer_size"]["median"] for r in rows],
                      "kbit_s": statistics.median(r["kbit_s"] for r in rows)}
        print(f"{v:28s} file {summary[v]['file_fps']:5.1f} fps  inference {summary[v]['inference_fps']:5.1f} fps  "
              f"sizes {summary[v]['infer_size_median']}  {summary[v]['kbit_s']} kbit/s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": "artem-vr --output o.mp4 --source screen --frames %d --model fast" % args.frames,
            "screen": args.screen, "photo": Path(args.photo).name, "rounds": args.rounds,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU (Mesa llvmpipe), {platform.platform()}",
            "summary": summary, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
