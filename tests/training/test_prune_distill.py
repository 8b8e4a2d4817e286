"""Structured pruning (genuinely smaller tensors) and the distill command end to end."""
import json

import pytest
import torch

from artem_vr.inference.generator import GeneratorConfig, StyleGenerator
from artem_vr.inference.weights import load_generator, teacher_safetensors
from artem_vr.training.data import HELD_OUT, TRAIN_PHOTOS, PatchSampler, synthetic_screen
from artem_vr.training.prune import (keep_blocks, prune_channels, prune_generator, rebuild, residual_contributions,
                                     restructure)
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


def test_rebuild_drops_blocks_and_swaps_the_full_resolution_layers_for_a_stem():
    torch.manual_seed(0)
    model = StyleGenerator(SMALL).eval()
    small = rebuild(model, keep_blocks=[0, 2])
    assert small.config.res_inner == (8, 8) and not small.config.stem
    torch.testing.assert_close(small.res[1].state_dict()["0.conv.weight"], model.res[2].state_dict()["0.conv.weight"])
    fast = rebuild(model, keep_blocks=[0, 1, 2], stem=(6, 10)).eval()
    assert fast.config.stem == (6, 10) and fast.config.polyphase and not hasattr(fast, "contract")
    assert fast.stem[0].conv.weight.shape == (6, 3, 4, 4) and fast.stem[2].conv.weight.shape == (8, 10, 3, 3)
    # everything after the stem is still the original function: fed the original trunk input, same output
    x, s = torch.rand(2, 3, 40, 56), torch.tensor([0.2, 0.5, 0.3])
    with torch.no_grad():
        trunk_in = model.features(x, s[None].expand(2, -1))
        fast.features = lambda *_: trunk_in
        torch.testing.assert_close(fast(x, s), model(x, s), atol=2e-6, rtol=0)
    assert len(residual_contributions(model, torch.rand(1, 3, 32, 32))) == 3


def test_teacher_prunes_to_the_fast_shape():
    teacher, _ = load_generator(teacher_safetensors())
    ratios = {f"res.{i}.0.conv": 0.25 for i in range(6)}
    student = prune_generator(teacher, ratios, blocks=4, stem=(24, 48), calibration=torch.rand(2, 3, 48, 64))
    assert student.config == GeneratorConfig(contract=(32, 32, 32), res_inner=(24,) * 4, expand=(8, 4),
                                             stem=(24, 48), polyphase=True)
    assert student.config.macs(320, 180) < 0.5 * teacher.config.macs(320, 180)
    # no layer of the student makes a full-resolution feature map; the teacher's first conv does
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1])) for m in student.modules()
             if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        assert student(torch.rand(1, 3, 48, 64), torch.full((26,), 1 / 26)).shape == (1, 3, 48, 64)
    for h in hooks:
        h.remove()
    assert max(sizes) <= 32


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_patches_cut_on_the_gpu_match_the_cpu():
    """distill cuts its patches on the training device: the same seed gives the same patches."""
    import numpy as np

    screen = synthetic_screen(np.random.default_rng(2))
    cpu = PatchSampler([screen], [screen], seed=3).batch(6, (64, 48))
    gpu = PatchSampler([screen], [screen], seed=3, device="cuda").batch(6, (64, 48))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=2e-3, rtol=0)


def test_distill_command_writes_a_loadable_model(tmp_path):
    out = tmp_path / "x.safetensors"
    proc = run_cli("distill", "--steps", "20", "--out", out, "--device", "cpu", timeout=600)
    assert proc.returncode == 0, proc.stderr
    from artem_vr import StyleEngine

    engine = StyleEngine.load(str(out), device="cpu")
    assert engine.config.stem == (24, 48) and engine.config.res_inner == (16,) * 6 and engine.config.polyphase
    assert engine.config.kernel_out == 5 and engine.config.res_padding == "zeros"
    assert engine.num_styles == 26
    recipe = json.loads(engine.metadata["recipe"])
    assert recipe["steps"] == 20 and recipe["widths"] == [24, 48, 16] and "held_out" in recipe["data"]
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
                         (["--widths", "24,48,40"], "residual inner"), (["--kernel-out", "4"], "kernel-out"),
                         (["--init", str(tmp_path / "missing.safetensors")], "not found"),
                         (["--out", str(tmp_path / "x.pth")], ".safetensors"), (["--size", "63x48"], "multiples of 4"),
                         (["--lr", "0"], "--lr"), (["--lr", "1"], "--lr")):
        proc = run_cli("distill", *args)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_restructure_prunes_a_student_further_and_crops_its_output_kernel():
    torch.manual_seed(0)
    student = rebuild(StyleGenerator(SMALL).eval(), keep_blocks=[0, 1, 2], stem=(6, 10))
    with torch.no_grad():
        for block in student.res:  # make channels 0 and 1 the least important in every block
            block._modules["0"].norm.gamma[:, :2] = 1e-4
    cut = restructure(student, inner=6, kernel_out=5, res_padding="zeros")
    assert cut.config.res_inner == (6, 6, 6) and cut.config.kernel_out == 5 and cut.config.res_padding == "zeros"
    first = cut.res[1]._modules["0"]
    assert first.conv.weight.shape == (6, 8, 3, 3) and first.norm.gamma.shape == (3, 6)
    torch.testing.assert_close(first.conv.weight, student.res[1]._modules["0"].conv.weight[2:])
    assert cut.res[1]._modules["1"].conv.weight.shape == (8, 6, 3, 3)
    # the 9x9 output conv is 5x5 on 2x2 phases; 5 makes it 3x3, the centre of the old one
    assert student.expand[2].conv.weight.shape[-1] == 5 and cut.expand[2].conv.weight.shape[-1] == 3
    torch.testing.assert_close(cut.expand[2].conv.weight, student.expand[2].conv.weight[:, :, 1:4, 1:4])
    torch.testing.assert_close(cut.stem[1].conv.weight, student.stem[1].conv.weight)  # the stem is kept
    with torch.no_grad():
        assert cut(torch.rand(1, 3, 40, 56), torch.tensor([0.0, 1.0, 0.0])).shape == (1, 3, 40, 56)
    try:
        restructure(cut, inner=6, kernel_out=9, res_padding="zeros")
    except ValueError as exc:
        assert "grow" in str(exc)
    else:
        raise AssertionError("a cropped kernel cannot grow back")


def test_keep_blocks_drops_the_block_that_adds_least():
    torch.manual_seed(0)
    student = rebuild(StyleGenerator(SMALL).eval(), keep_blocks=[0, 1, 2], stem=(6, 10))
    with torch.no_grad():  # block 1's branch adds (almost) nothing to the trunk
        student.res[1]._modules["1"].norm.gamma.fill_(1e-4)
        student.res[1]._modules["1"].norm.beta.zero_()
    images = torch.rand(2, 3, 40, 56)
    scores = residual_contributions(student, images)
    assert min(range(3), key=scores.__getitem__) == 1
    cut = keep_blocks(student, 2, images)
    assert len(cut.res) == 2 and cut.config.res_inner == (8, 8)
    torch.testing.assert_close(cut.res[1]._modules["0"].conv.weight, student.res[2]._modules["0"].conv.weight)
    style = torch.tensor([0.0, 1.0, 0.0])
    with torch.no_grad():
        torch.testing.assert_close(cut(images, style), student(images, style), atol=2e-3, rtol=0)
    assert len(restructure(student, inner=8, kernel_out=9, res_padding="zeros", blocks=2,
                           calibration=images).res) == 2
    try:
        restructure(student, inner=8, kernel_out=9, res_padding="zeros", blocks=2)
    except ValueError as exc:
        assert "calibration" in str(exc)
    else:
        raise AssertionError("dropping blocks without calibration images must be refused")


def test_distill_from_an_earlier_student(tmp_path):
    first = tmp_path / "a.safetensors"
    common = ["--device", "cpu", "--batch", "2", "--size", "64x48"]
    assert run_cli("distill", "--steps", "2", "--widths", "8,16,24", "--kernel-out", "9", "--trunk-padding",
                   "reflect", "--out", first, *common, timeout=300).returncode == 0
    second = tmp_path / "b.safetensors"
    proc = run_cli("distill", "--init", first, "--widths", "8,16,8", "--blocks", "5", "--steps", "2", "--out", second,
                   *common, timeout=300)
    assert proc.returncode == 0, proc.stderr
    a, meta = load_generator(first)
    b, meta_b = load_generator(second)
    assert a.config.res_inner == (24,) * 6 and a.config.kernel_out == 9 and a.config.res_padding == "reflect"
    assert b.config.res_inner == (8,) * 5 and b.config.kernel_out == 5 and b.config.res_padding == "zeros"
    assert json.loads(json.loads(meta_b["init"])["recipe"])["widths"] == [8, 16, 24]
    assert json.loads(meta_b["recipe"])["init"] == str(first)
    third = tmp_path / "t.safetensors"  # no --blocks: as many as the init net has
    assert run_cli("distill", "--init", second, "--widths", "8,16,8", "--steps", "1", "--lr", "2e-4", "--out", third,
                   *common, timeout=300).returncode == 0
    net, meta_t = load_generator(third)
    assert net.config.res_inner == (8,) * 5 and json.loads(meta_t["recipe"])["finetune_lr"] == 2e-4
    # an earlier student can only be cut further: other stem widths or a wider trunk are refused
    for init, args, needle in ((first, ["--widths", "24,48,8"], "stem widths"),
                               (first, ["--widths", "8,16,32"], "pruned, not grown"),
                               (second, ["--widths", "8,16,8", "--blocks", "6"], "pruned, not grown")):
        proc = run_cli("distill", "--init", init, *args, "--steps", "1", "--out", tmp_path / "c.safetensors", *common)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "c.safetensors").exists()
