"""The README's Python snippet runs as pasted (in a fresh interpreter, in an empty folder)."""
import re
import subprocess
import sys

import numpy as np

from artem_vr.images import read_image
from helpers.common import ROOT, psnr


def test_readme_python_snippet_runs_as_written(tmp_path, full_engine):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Python\n\n```python\n(.*?)```", text, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[0,", "1,", "2]", "mosaic"]
    out = read_image(tmp_path / "astronaut_starry.png")
    photo = read_image(__import__("artem_vr").SAMPLE_PHOTO)
    assert out.shape == photo.shape and psnr(out, full_engine.stylize(photo, 19)) > 40


def test_blend_forms_agree(full_engine):
    photo = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ref = full_engine.stylize(photo, "mosaic:0.5,pastel:0.5")
    for style in ({"mosaic": 0.5, 0: 0.5}, [(15, 0.5), (0, 0.5)], "15:1,0:1", {15: 2.0, "pastel": 2.0}):
        assert np.array_equal(full_engine.stylize(photo, style), ref), style


def test_package_exports_and_stays_light():
    code = ("import sys, artem_vr; artem_vr.read_image; artem_vr.STYLE_NAMES; artem_vr.SAMPLE_PHOTO; "
            "assert 'torch' not in sys.modules and 'moderngl' not in sys.modules, sorted(sys.modules); "
            "assert set(artem_vr.__all__) >= {'StyleEngine', 'read_image'}")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_help_lists_version():
    proc = subprocess.run([sys.executable, "-m", "artem_vr", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--version" in proc.stdout
