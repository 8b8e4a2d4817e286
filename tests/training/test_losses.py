"""The texture-keeping distillation terms (training/losses.py) at tiny sizes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from artem_vr.inference.generator import GeneratorConfig, StyleGenerator
from artem_vr.inference.weights import load_generator, teacher_safetensors
from artem_vr.training.losses import (TextureStatistics, lowpass, lowpass_l1, mean_std, noise_ratio, shift_crops,
                                      shifted_lowpass_l1)

SMALL = GeneratorConfig(num_styles=3, contract=(8, 8, 8), res_inner=(8, 8), expand=(4, 4))


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return StyleGenerator(SMALL).eval().requires_grad_(False)


def test_lowpass_ignores_where_a_stroke_falls_inside_a_block_but_not_colour():
    a = torch.zeros(1, 3, 16, 16)
    b = a.clone()
    a[..., 0, 0] = 1.0  # one bright pixel at the corner of a 4x4 block ...
    b[..., 2, 3] = 1.0  # ... or elsewhere inside the same block
    assert lowpass(a).shape == (1, 3, 4, 4)
    assert lowpass_l1(a, b).item() == 0.0 and (a - b).abs().mean().item() > 0
    assert lowpass_l1(a + 0.1, a).item() == pytest.approx(0.1)


def test_mean_std_by_hand():
    f = torch.tensor([[1.0, 3.0], [2.0, 2.0]]).reshape(1, 2, 1, 2)  # 2 channels, 2 pixels
    torch.testing.assert_close(mean_std(f), torch.tensor([[2.0, 2.0, 2 ** 0.5, 0.0]]))


def test_texture_statistics_see_texture_not_position():
    teacher, _ = load_generator(teacher_safetensors())
    tex = TextureStatistics(teacher)
    assert not any(p.requires_grad for p in tex.parameters())
    torch.manual_seed(1)
    big = F.avg_pool2d(torch.rand(1, 3, 120, 150), 3, stride=1)  # a fine random texture
    base = big[..., 8:104, 8:136]
    smooth = F.avg_pool2d(F.pad(base, (1, 2, 1, 2), mode="reflect"), 4, stride=1)  # smeared in place
    for shift in (1, 2, 3):  # the same texture, moved: pixel L1 prefers the smear, the Gram loss does not
        moved = big[..., 8:104, 8 + shift:136 + shift]
        assert (moved - base).abs().mean() > (smooth - base).abs().mean()
        assert tex(smooth, base).item() > 2 * tex(moved, base).item()
    pred = smooth.clone().requires_grad_(True)
    tex(pred, base).backward()
    assert pred.grad.abs().sum() > 0


def test_noise_ratio_of_the_teacher_is_one_and_of_a_still_net_zero(teacher):
    torch.manual_seed(2)
    x, w = torch.rand(2, 3, 32, 32), torch.eye(3)[:2]
    target = teacher(x, w)
    assert noise_ratio(teacher, teacher, x, w, target, target, 4 / 255).item() == pytest.approx(1.0, rel=1e-4)

    class Still(torch.nn.Module):
        def forward(self, x, w):
            return torch.full_like(x, 0.5)

    still = Still()
    assert noise_ratio(still, teacher, x, w, still(x, w), target, 4 / 255).item() == 0.0


def test_shift_crops_and_the_moved_teacher_target(teacher):
    x = torch.arange(2 * 3 * 12 * 16, dtype=torch.float32).reshape(2, 3, 12, 16)
    a, b = shift_crops(x, 3, 3)
    assert a.shape == b.shape == (2, 3, 12, 12)
    torch.testing.assert_close(b[..., :9], a[..., 3:])
    with pytest.raises(ValueError):
        shift_crops(x, 5, 3)
    # a student that moves with its input as the teacher does scores zero, one that ignores the move not
    def blur(x, w):  # a shift-equivariant "teacher"
        return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)

    torch.manual_seed(3)
    x, w = F.avg_pool2d(torch.rand(2, 3, 56, 72), 5, stride=1), torch.eye(3)[:2]  # (2, 3, 52, 68)
    x = x[..., :48, :64]
    rng = np.random.default_rng(0)
    assert shifted_lowpass_l1(blur, x, w, blur(x, w), rng).item() < 1e-6
    for _ in range(3):
        fixed = x[..., 2:46, 2:62]

        def stuck(moved, w):  # always shows the unmoved picture
            return F.pad(fixed, (2, 2, 2, 2), mode="replicate")[..., :moved.shape[2], :moved.shape[3]]

        assert shifted_lowpass_l1(stuck, x, w, blur(x, w), rng).item() > 1e-3


def test_distill_records_its_loss_weights_and_rejects_bad_ones(tmp_path):
    import json

    from helpers.common import assert_one_line_error, run_cli

    from artem_vr.inference.weights import load_generator as load

    out = tmp_path / "t.safetensors"
    common = ["--out", out, "--device", "cpu", "--batch", "2", "--size", "64x48", "--widths", "8,16,8", "--blocks", "2"]
    proc = run_cli("distill", "--steps", "3", "--texture-weight", "0", "--shift-weight", "2.5", *common, timeout=200)
    assert proc.returncode == 0, proc.stderr
    recipe = json.loads(load(out)[1]["recipe"])
    assert recipe["texture_weight"] == 0.0 and recipe["shift_weight"] == 2.5
    assert recipe["lowpass_weight"] == 1.0 and recipe["noise_weight"] > 0 and recipe["noise_target"] == 0.4
    assert "must be between 0 and 1000" in assert_one_line_error(run_cli("distill", "--noise-weight", "-1", *common))
