"""Fuzzing the two file parsers users feed us: model files and images. Whatever the bytes, the
loaders return a result or raise their one user-facing error (ModelError / InputError), quickly;
they never crash with another exception and never unpickle. Bounded to run in CI in seconds."""
import io
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from artem_vr.errors import InputError, ModelError
from artem_vr.images import read_image
from artem_vr.inference.generator import GeneratorConfig, StyleGenerator
from artem_vr.inference.weights import load_generator, save_generator

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def valid_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("fz") / "m.safetensors"
    save_generator(StyleGenerator(GeneratorConfig(num_styles=2, contract=(4, 4, 4), res_inner=(4,), expand=(4, 4))), path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def valid_images():
    from PIL import Image

    out = []
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(buf, fmt)
        out.append(buf.getvalue())
    return out


def mutate(data: bytes, edits, cut) -> bytes:
    b = bytearray(data)
    for pos, val in edits:
        b[pos % len(b)] = val
    return bytes(b[: max(1, int(len(b) * cut))])


def _check_model(tmp_path, blob):
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(blob)
    t0 = time.perf_counter()
    try:
        load_generator(path)
    except ModelError:
        pass
    assert time.perf_counter() - t0 < 0.5


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=6),
       cut=st.floats(0.0, 1.0))
def test_model_loader_mutations(tmp_path, valid_model, edits, cut):
    _check_model(tmp_path, mutate(valid_model, edits, cut))


@FUZZ
@given(header_len=st.integers(0, 2 ** 64 - 1), body=st.binary(max_size=300))
def test_model_loader_headers(tmp_path, header_len, body):
    _check_model(tmp_path, struct.pack("<Q", header_len) + body)


@FUZZ
@given(which=st.integers(0, 1), edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=8),
       cut=st.floats(0.0, 1.0))
def test_image_loader_mutations(tmp_path, valid_images, which, edits, cut):
    path = tmp_path / "fuzz.img"
    path.write_bytes(mutate(valid_images[which], edits, cut))
    try:
        img = read_image(path)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    except InputError:
        pass


def test_hostile_files_are_rejected_fast_and_small(tmp_path):
    """Each hostile file: refused with our error, in < 200 ms, with < 100 MB extra peak memory."""
    import json
    import pickle
    import subprocess
    import sys

    from PIL import Image

    from helpers.common import ROOT

    files = {}
    files["model=pickle"] = pickle.dumps({"x": list(range(1000))})
    files["model=huge_header"] = struct.pack("<Q", 2 ** 40) + b"{" + b" " * 100
    files["model=offsets_past_end"] = (lambda h: struct.pack("<Q", len(h)) + h + b"\0" * 16)(
        b'{"a":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}')
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000)).save(bomb, "PNG")
    files["image=bomb"] = bomb.getvalue()
    files["image=renamed_text"] = b"hello, I am not a PNG at all"
    args = []
    for name, blob in files.items():
        path = tmp_path / name.split("=")[1]
        path.write_bytes(blob)
        args.append(f"{name.split('=')[0]}={path}")
    proc = subprocess.run([sys.executable, "-m", "helpers.load_hostile", *args], capture_output=True, text=True,
                          cwd=ROOT / "tests", timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(files)
    for row in rows:
        assert row["error"], row
        assert row["ms"] < 200 and row["rss_growth_mb"] < 100, row
