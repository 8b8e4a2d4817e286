"""Backends and precisions give the same pictures: onnxruntime vs torch on the CPU; fp16,
channels_last and CUDA graphs vs fp32 on CUDA (skipped without CUDA)."""
import numpy as np
import pytest
import torch

from artem_vr.errors import UsageError
from artem_vr.inference.engine import StyleEngine
from helpers.common import psnr


@pytest.mark.parametrize("model", ["full", "fast", "balanced"])
def test_onnxruntime_backend_matches_torch(model, heldout_photos, tmp_path, monkeypatch):
    """Every shipped net's graph: the full net, and the fast and balanced polyphase nets whose graphs
    return 2x2 phases (balanced with reflection-padded residual convs and the 9x9 output)."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("ARTEM_VR_CACHE", str(tmp_path))
    torch_engine = StyleEngine.load(model, device="cpu", backend="torch")
    ort_engine = StyleEngine.load(model, device="cpu", backend="onnxruntime")
    assert ort_engine.backend == "onnxruntime" and list(tmp_path.glob("onnx-*.onnx"))
    opts = ort_engine._forward.session.get_session_options()  # spin inside a run, never after it
    assert opts.get_session_config_entry("session.force_spinning_stop") == "1"
    for photo in heldout_photos.values():
        photo = photo[:181, :243]  # odd sizes: the padding path too
        for style in (2, "3:0.5,12:0.5"):
            a, b = torch_engine.stylize(photo, style), ort_engine.stylize(photo, style)
            assert a.shape == b.shape == photo.shape
            assert psnr(a, b) >= 45


def test_packed_style_and_phase_output_are_the_same_function():
    """What the onnxruntime graph computes (every norm's affine precomputed as one packed row, the
    output left as 2x2 phases) is the generator's own function, for a blend of styles too."""
    from artem_vr.inference.generator import PackedStyle, affine_table
    from artem_vr.inference.onnx_backend import depth_to_space

    gen = StyleEngine.load("fast", device="cpu", backend="torch").generator
    x = torch.rand(1, 3, 44, 60)
    style = torch.zeros(1, gen.num_styles)
    style[0, 3], style[0, 17] = 0.7, 0.3
    table, offsets = affine_table(gen)
    assert table.shape[0] == gen.num_styles and len(offsets) == sum(1 for _ in gen.modules() if hasattr(_, "beta"))
    with torch.no_grad():
        ref = gen(x, style)
        phases = gen(x, PackedStyle(style @ table, offsets), phases=True)
    assert phases.shape == (1, 12, 22, 30)
    torch.testing.assert_close(depth_to_space(phases), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(depth_to_space(phases), torch.nn.functional.pixel_shuffle(phases, 2), atol=0, rtol=0)
    full = StyleEngine.load("full", device="cpu", backend="torch").generator
    with pytest.raises(ValueError, match="polyphase"):
        full(x, style, phases=True)


def test_backend_errors():
    with pytest.raises(UsageError, match="unknown backend"):
        StyleEngine.load("full", device="cpu", backend="tensorrt")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_channels_last_and_graphs_match_fp32(heldout_photos):
    from artem_vr.inference.cuda_graph import CudaGraphGenerator

    fp32 = StyleEngine.load("full", device="cuda", precision="fp32")
    fp16 = StyleEngine.load("full", device="cuda", precision="fp16")
    assert fp16.memory_format == torch.channels_last
    photo = heldout_photos["coffee"][:360, :600]
    x = torch.from_numpy(photo).cuda().permute(2, 0, 1)[None].float() / 255
    graph = CudaGraphGenerator(fp16.generator, 360, 600)
    for style in (0, 13):
        ref = fp32.stylize_tensor(x, style)
        half = fp16.stylize_tensor(x, style)
        replay = graph(x.half().contiguous(memory_format=torch.channels_last), fp16.weights(style).half()).float()
        to8 = lambda t: (t.clamp(0, 1) * 255).round().byte().cpu().numpy()  # noqa: E731
        assert psnr(to8(half), to8(ref)) >= 40
        assert psnr(to8(replay), to8(ref)) >= 40
