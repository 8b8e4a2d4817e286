"""Our PyTorch port of the 26-style net against onnxruntime running the same ONNX file."""
import numpy as np
import pytest
import torch

from artem_vr.inference.generator import GeneratorConfig, StyleGenerator, polyphase_reflect_pad, to_polyphase
from artem_vr.inference.weights import _load_state, read_teacher_onnx, teacher_onnx_path


@pytest.fixture(scope="module")
def teacher():
    model = StyleGenerator()
    _load_state(model, read_teacher_onnx(teacher_onnx_path()), "teacher")
    return model.eval()


@pytest.fixture(scope="module")
def session():
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(teacher_onnx_path()), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("h,w", [(32, 32), (64, 100), (36, 52), (33, 47), (57, 91)])
@pytest.mark.parametrize("style", ["single", "blend"])
def test_port_matches_onnxruntime(teacher, session, h, w, style):
    rng = np.random.default_rng(h * 1000 + w)
    x = rng.random((1, 3, h, w), dtype=np.float32)
    weights = np.zeros(26, np.float32)
    if style == "single":
        weights[int(rng.integers(26))] = 1.0
    else:
        weights[[3, 12, 20]] = [0.5, 0.3, 0.2]
    ref = session.run(None, {"image": x, "style_weights": weights})[0]
    with torch.inference_mode():
        out = teacher(torch.from_numpy(x), torch.from_numpy(weights)).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4


def test_blend_weights_are_linear_in_norm_parameters(teacher):
    """A blend conditions every norm on the weighted mix of the styles' gamma/beta rows."""
    norm = teacher.contract[0].norm
    w = torch.zeros(1, 26)
    w[0, 3], w[0, 12] = 0.25, 0.75
    x = torch.randn(1, 32, 8, 8)
    mixed = norm(x, w)
    n = torch.nn.functional.instance_norm(x, eps=1e-5)
    gamma = 0.25 * norm.gamma[3] + 0.75 * norm.gamma[12]
    beta = 0.25 * norm.beta[3] + 0.75 * norm.beta[12]
    torch.testing.assert_close(mixed, n * gamma[None, :, None, None] + beta[None, :, None, None])


def test_widths_blocks_and_kernels_are_constructor_arguments():
    cfg = GeneratorConfig(num_styles=5, contract=(16, 24, 20), res_inner=(8, 12), expand=(6, 4),
                          kernel_in=5, kernel_out=3)
    model = StyleGenerator(cfg)
    sd = model.state_dict()
    assert sd["contract.0.conv.weight"].shape == (16, 3, 5, 5)
    assert sd["res.1.0.conv.weight"].shape == (12, 20, 3, 3)
    assert sd["res.1.1.conv.weight"].shape == (20, 12, 3, 3)
    assert sd["expand.2.conv.weight"].shape == (3, 4, 3, 3)
    assert sd["expand.0.norm.gamma"].shape == (5, 6)
    assert len(model.res) == 2
    with torch.no_grad():
        out = model(torch.rand(2, 3, 40, 48), torch.full((5,), 0.2))
    assert out.shape == (2, 3, 40, 48)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert GeneratorConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("h,w", [(36, 52), (8, 12), (44, 20)])
def test_polyphase_form_is_the_same_function(teacher, h, w):
    """The expanding convs rewritten on 2x2 phases at half resolution give the teacher's pixels,
    borders included, for single styles and blends."""
    poly = to_polyphase(teacher).eval()
    assert poly.config.polyphase and poly.expand[2].conv.weight.shape == (12, 16, 5, 5)
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(h))
    s = torch.zeros(2, 26)
    s[0, 4], s[1, 7], s[1, 19] = 1.0, 0.4, 0.6
    with torch.inference_mode():
        assert (poly(x, s) - teacher(x, s)).abs().max() <= 1e-5


@pytest.mark.parametrize("p", [1, 2])
def test_polyphase_reflect_pad_matches_padding_the_full_map(p):
    x = torch.rand(1, 8, 7, 9)
    full = torch.nn.functional.pad(torch.nn.functional.pixel_shuffle(x, 2), (2 * p,) * 4, mode="reflect")
    torch.testing.assert_close(polyphase_reflect_pad(x, p), torch.nn.functional.pixel_unshuffle(full, 2), atol=0, rtol=0)


def test_fast_config_round_trips_and_counts_its_work():
    cfg = GeneratorConfig(res_inner=(24,) * 6, stem=(24, 48), polyphase=True)
    assert GeneratorConfig.from_json(cfg.to_json()) == cfg
    assert cfg.macs(320, 180) < 0.5 * GeneratorConfig().macs(320, 180)
    with pytest.raises(ValueError, match="stem"):
        GeneratorConfig(stem=(24,)).validate()
    with pytest.raises(ValueError, match="res_padding"):
        GeneratorConfig.from_json('{"res_padding": "circular"}')


def test_zero_padded_trunk_differs_from_reflect_only_at_the_border():
    torch.manual_seed(0)
    cfg = GeneratorConfig(num_styles=2, contract=(8, 8, 8), res_inner=(8,), expand=(4, 4), kernel_in=3, kernel_out=3)
    reflect = StyleGenerator(cfg).eval()
    zeros = StyleGenerator(GeneratorConfig.from_json(cfg.to_json().replace('"reflect"', '"zeros"'))).eval()
    zeros.load_state_dict(reflect.state_dict())  # same tensors: the padding is not a parameter
    a_layer, b_layer = reflect.res[0]._modules["0"], zeros.res[0]._modules["0"]
    assert b_layer.pad == 0 and b_layer.conv.padding == (1, 1)
    x = torch.rand(1, 8, 20, 24)
    with torch.no_grad():  # the convs before their norms: the same inside, different on the border
        a = a_layer.conv(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))
        b = b_layer.conv(x)
        torch.testing.assert_close(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1])
        assert (a - b)[..., 0, :].abs().max() > 1e-2 and (a - b)[..., :, -1].abs().max() > 1e-2
        img, style = torch.rand(1, 3, 48, 64), torch.tensor([0.3, 0.7])
        assert zeros(img, style).shape == (1, 3, 48, 64)
        assert not torch.allclose(zeros(img, style), reflect(img, style))
