"""Structured pruning (genuinely smaller tensors) and the distill command end to end."""
import json

import torch

from artem_vr.inference.generator import GeneratorConfig, StyleGenerator
from artem_vr.inference.weights import load_generator, teacher_safetensors
from artem_vr.training.data import HELD_OUT, TRAIN_PHOTOS, PatchSampler, synthetic_screen
from artem_vr.training.prune import prune_channels, prune_generator, rebuild, residual_contributions
from helpers.common import run_cli

SMALL = GeneratorConfig(num_styles=3, contract=(8, 8, 8), res_inner=(8, 8, 8), expand=(4, 4), kernel_in=9, kernel_out=9)


def test_pruning_removes_the_least_important_channels_and_their_style_rows():
    torch.manual_seed(0)
    model = StyleGenerator(SMALL)
    with torch.no_grad():
        model.contract[0].norm.gamma[:, 5] = 1e-4  # every style turns channel 5 down: least important
        model.contract[0].norm.gamma[:, 2] = 2e-4
    pruned = prune_channels(model, {"contract.0.conv": 0.25})  # 8 -> 6 channels
    assert pruned.contract[0].conv.weight.shape == (6, 3, 9, 9)
    assert pruned.contract[0].norm.gamma.shape == (3, 6) and pruned.contract[0].norm.beta.shape == (3, 6)
    assert pruned.contract[1].conv.weight.shape[1] == 6  # the next conv follows
    kept = [i for i in range(8) if i not in (2, 5)]
    torch.testing.assert_close(pruned.contract[0].conv.weight, model.contract[0].conv.weight[kept])
    with torch.no_grad():  # still a working generator
        assert pruned(torch.rand(1, 3, 32, 32), torch.tensor([1.0, 0, 0])).shape == (1, 3, 32, 32)


def test_residual_trunk_is_pruned_as_one_coupled_group():
    pruned = prune_channels(StyleGenerator(SMALL), {"contract.2.conv": 0.5})
    assert pruned.contract[2].conv.out_channels == 4
    for block in pruned.res:
        assert block._modules["0"].conv.in_channels == 4 and block._modules["1"].conv.out_channels == 4
    assert pruned.expand[0].conv.in_channels == 4


def test_rebuild_drops_blocks_and_crops_kernels():
    model = StyleGenerator(SMALL)
    small = rebuild(model, keep_blocks=[0, 2], kernel_in=5, kernel_out=3)
    assert small.config.res_inner == (8, 8) and small.config.kernel_in == 5 and small.config.kernel_out == 3
    torch.testing.assert_close(small.res[1].state_dict()["0.conv.weight"], model.res[2].state_dict()["0.conv.weight"])
    torch.testing.assert_close(small.contract[0].conv.weight, model.contract[0].conv.weight[..., 2:7, 2:7])
    assert len(residual_contributions(model, torch.rand(1, 3, 32, 32))) == 3


def test_teacher_prunes_to_the_fast_shape():
    teacher, _ = load_generator(teacher_safetensors())
    ratios = {"contract.0.conv": 0.75, "contract.1.conv": 0.5, **{f"res.{i}.0.conv": 0.5 for i in range(6)}}
    student = prune_generator(teacher, ratios, blocks=4, kernel_in=5, kernel_out=5, calibration=torch.rand(2, 3, 48, 64))
    assert student.config == GeneratorConfig(contract=(8, 16, 32), res_inner=(16,) * 4, expand=(8, 4),
                                             kernel_in=5, kernel_out=5)
    assert sum(p.numel() for p in student.parameters()) < 0.4 * sum(p.numel() for p in teacher.parameters())


def test_training_data_keeps_held_out_photos_out():
    import numpy as np

    assert not set(HELD_OUT) & set(TRAIN_PHOTOS) and "cat" not in TRAIN_PHOTOS
    screen = synthetic_screen(np.random.default_rng(1))
    assert screen.shape == (400, 640, 3) and screen.std() > 20
    sampler = PatchSampler([screen], [screen], seed=0)
    batch = sampler.batch(4, (64, 48))
    assert batch.shape == (4, 3, 48, 64) and 0 <= batch.min() and batch.max() <= 1
    styles = sampler.styles(50, [1, 4, 7], 26)
    torch.testing.assert_close(styles.sum(1), torch.ones(50))
    assert set(styles.nonzero()[:, 1].tolist()) <= {1, 4, 7}


def test_distill_command_writes_a_loadable_model(tmp_path):
    out = tmp_path / "x.safetensors"
    proc = run_cli("distill", "--steps", "20", "--out", out, "--device", "cpu", timeout=300)
    assert proc.returncode == 0, proc.stderr
    from artem_vr import StyleEngine

    engine = StyleEngine.load(str(out), device="cpu")
    assert engine.config.contract == (16, 32, 32) and engine.config.res_inner == (24, 24, 24)
    assert engine.num_styles == 26
    recipe = json.loads(engine.metadata["recipe"])
    assert recipe["steps"] == 20 and recipe["widths"] == [16, 32, 24] and "held_out" in recipe["data"]
    assert (tmp_path / "x.ckpt.safetensors").is_file()
    import numpy as np

    img = np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    assert engine.stylize(img, 3).shape == img.shape


def test_distill_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "r.safetensors"
    common = ["distill", "--out", out, "--device", "cpu", "--batch", "2", "--size", "64x48", "--checkpoint-every", "2"]
    assert run_cli(*common, "--steps", "4", timeout=300).returncode == 0
    proc = run_cli(*common, "--steps", "6", "--resume", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "resuming from" in proc.stdout and "at step 4" in proc.stdout


def test_distill_bad_arguments(tmp_path):
    for args, needle in ((["--widths", "8,16"], "three widths"), (["--blocks", "9"], "blocks"),
                         (["--kernels", "4,9"], "kernels"),
                         (["--out", str(tmp_path / "x.pth")], ".safetensors"), (["--size", "63x48"], "multiples of 4")):
        proc = run_cli("distill", *args)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
