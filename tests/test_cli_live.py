"""The live command line: fast one-line failures before anything heavy happens."""
import os
import time

import pytest

from helpers.common import ROOT, assert_one_line_error, run_cli

PHOTO = ROOT / "artem_vr" / "assets" / "rocket.jpg"


def test_no_vr_runtime_exits_2_quickly_with_window_hint(tmp_path):
    """Plain ``artem-vr`` with no OpenVR runtime (empty HOME): one line, exit 2, before any model
    loads, and the native library's own diagnostics do not leak onto stderr."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "ARTEM_VR_CACHE": str(tmp_path / "c")}
    t0 = time.perf_counter()
    proc = run_cli("--source", f"image:{PHOTO}", env=env)
    elapsed = time.perf_counter() - t0
    line = assert_one_line_error(proc)
    assert "--window" in line and "VR" in line
    assert elapsed < 20
    assert not (tmp_path / "c").exists()  # the model was never loaded (its cache never made)


@pytest.mark.parametrize("args,needle", [
    (["--output", "o", "--infer-size", "10x10"], "out of range"),
    (["--output", "o", "--infer-size", "big"], "bad size"),
    (["--output", "o", "--frames", "0"], "--frames"),
    (["--output", "o", "--source", "telescope"], "unknown source"),
    (["--output", "o", "--source", "video:nope.mp4"], "not found"),
    (["--output", "o.txt", "--source", "demo"], "video"),
    (["--output", "o", "--style", "40"], "0 to 25"),
    (["--window", "--output", "o"], "not allowed"),
    (["--output", "o", "--device", "cuda:x"], "device"),
])
def test_bad_live_arguments(tmp_path, args, needle):
    proc = run_cli(*args, cwd=tmp_path)
    assert needle in assert_one_line_error(proc)


def test_help_and_version():
    assert run_cli("--help").returncode == 0
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("artem-vr ")


def test_doctor_prints_one_line_per_check():
    proc = run_cli("doctor", env={"DISPLAY": os.environ.get("DISPLAY", "")})
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == ["python", "torch", "models", "inference", "opengl", "display", "monitors", "cameras", "openxr", "vr"]


def test_importing_the_package_loads_no_gl_window_or_model():
    import subprocess
    import sys

    code = ("import sys, artem_vr; heavy = [m for m in ('moderngl', 'glfw', 'openvr', 'torch', 'cv2', 'mss') "
            "if m in sys.modules]; print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
