"""Backends and precisions give the same pictures: onnxruntime vs torch on the CPU; fp16,
channels_last and CUDA graphs vs fp32 on CUDA (skipped without CUDA)."""
import numpy as np
import pytest
import torch

from artem_vr.errors import UsageError
from artem_vr.inference.engine import StyleEngine
from helpers.common import psnr


def test_onnxruntime_backend_matches_torch(heldout_photos, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("ARTEM_VR_CACHE", str(tmp_path))
    torch_engine = StyleEngine.load("full", device="cpu", backend="torch")
    ort_engine = StyleEngine.load("full", device="cpu", backend="onnxruntime")
    assert ort_engine.backend == "onnxruntime" and list(tmp_path.glob("onnx-*.onnx"))
    for photo in heldout_photos.values():
        photo = photo[:181, :243]  # odd sizes: the padding path too
        for style in (2, "3:0.5,12:0.5"):
            a, b = torch_engine.stylize(photo, style), ort_engine.stylize(photo, style)
            assert a.shape == b.shape == photo.shape
            assert psnr(a, b) >= 45


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
