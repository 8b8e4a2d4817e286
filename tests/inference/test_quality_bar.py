"""``--model auto``: the verdicts of models/quality_bar.json, the rule that reads them, and the CLI."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from artem_vr.inference import quality_bar
from artem_vr.inference.quality_bar import auto_model, file_sha256, read_records
from helpers.common import assert_one_line_error, run_cli

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture()
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("fast", "balanced"):
        (folder / f"{name}.safetensors").write_bytes(name.encode() * 100)
    monkeypatch.setattr(quality_bar, "models_dir", lambda: folder)
    return folder


def entry(folder, name, **verdict):
    return {"sha256": file_sha256(folder / f"{name}.safetensors"), "speedup": 2.0, "steadiness_vs_full": 0.8,
            "looks_same": False, "passes": False, **verdict}


def test_auto_picks_the_fastest_net_the_records_vouch_for(models):
    assert auto_model(CPU, {}) == "full"  # nothing measured: the full net
    balanced = entry(models, "balanced", looks_same=True)
    assert auto_model(CPU, {"balanced": balanced}) == "balanced"
    assert auto_model(CPU, {"balanced": balanced, "fast": entry(models, "fast", looks_same=False)}) == "balanced"
    assert auto_model(CPU, {"balanced": balanced, "fast": entry(models, "fast", passes=True)}) == "fast"
    # a passing net wins over a faster one that only looks the same
    assert auto_model(CPU, {"balanced": entry(models, "balanced", passes=True),
                            "fast": entry(models, "fast", looks_same=True, steadiness_vs_full=1.5)}) == "balanced"
    assert auto_model(CUDA, {"fast": entry(models, "fast", passes=True)}) == "full"  # CUDA: the full net


def test_a_record_of_another_file_is_not_trusted(models):
    records = {"balanced": entry(models, "balanced", looks_same=True)}
    (models / "balanced.safetensors").write_bytes(b"retrained")
    assert auto_model(CPU, records) == "full"
    (models / "balanced.safetensors").unlink()
    assert auto_model(CPU, records) == "full"


def test_records_file_missing_or_broken_means_none(tmp_path):
    assert read_records(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert read_records(tmp_path / "bad.json") == {}
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_records(tmp_path / "list.json") == {}


def test_the_shipped_record_vouches_for_a_shipped_net():
    """models/quality_bar.json is measured on the files shipped beside it (eval_fast.py --record)."""
    name = auto_model(CPU)
    assert name in ("fast", "balanced"), "models/quality_bar.json is missing or stale: run eval_fast.py --record"
    record = read_records()[name]
    assert record["looks_same"] and all(record["pass"][k] for k in ("A", "B", "C"))


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("auto") / "chelsea.png"
    Image.fromarray(data.chelsea()[::3, ::3]).save(path)
    return path


def test_live_default_is_auto_and_stats_name_the_net_that_ran(tmp_path, photo):
    stats = tmp_path / "s.json"
    proc = run_cli("--output", tmp_path / "o", "--source", f"image:{photo}", "--frames", "1", "--device", "cpu",
                   "--stats", stats)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(stats.read_text())
    assert report["model_requested"] == "auto" and report["model"] == auto_model(CPU)
    assert len(list((tmp_path / "o").glob("*.png"))) == 1


def test_model_auto_in_stylize_and_styles(tmp_path, photo):
    from artem_vr import StyleEngine
    from artem_vr.images import read_image

    out = tmp_path / "x.png"
    proc = run_cli("stylize", photo, "-o", out, "--model", "auto", "--device", "cpu", "--style", "13")
    assert proc.returncode == 0, proc.stderr
    # what stylize loads: fp32 (its default), the backend measured for the larger size class
    engine = StyleEngine.load("auto", device="cpu", precision="fp32", infer_size=(1280, 720))
    assert engine.name == auto_model(CPU) and engine.requested == "auto"
    assert np.array_equal(read_image(out), engine.stylize(read_image(photo), 13))
    proc = run_cli("styles", "--model", "auto")
    assert proc.returncode == 0 and "26 styles" in proc.stdout, proc.stderr
    painting = tmp_path / "p.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(painting)
    assert "--model arbitrary" in assert_one_line_error(
        run_cli("stylize", photo, "-o", tmp_path / "y.png", "--model", "auto", "--style", painting))


def test_hud_names_the_net_that_runs():
    from artem_vr.controls import Settings
    from artem_vr.render.hud import hud_lines

    lines = hud_lines(Settings(3, 1.0, False, True), 30, 1, 20, 8, 60, 40, "cpu", (320, 180), model="balanced")
    assert any(line.startswith("inference") and line.endswith("balanced") for line in lines)
