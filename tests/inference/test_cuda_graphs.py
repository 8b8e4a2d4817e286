"""CUDA graphs in the engine: which calls are captured, replayed or left eager.

The policy tests run everywhere: CUDA graph capture cannot exist on a machine without a GPU, so
they hand ``GraphedForward`` a stand-in for ``CudaGraphGenerator`` with its contract (built from
the generator and one fixed shape; each call writes into one output buffer of its own that the
next call overwrites; may raise at capture). The last test captures real graphs and needs CUDA."""
import numpy as np
import pytest
import torch

from artem_vr.inference.cuda_graph import GraphedForward
from artem_vr.inference.engine import StyleEngine
from helpers.common import psnr


class CaptureStandIn:
    """Mimics CudaGraphGenerator: fixed shape, one reused output buffer, counts replays."""
    made = []

    def __init__(self, generator, height, width, dtype=None, memory_format=None, batch=1):
        self.generator, self.shape = generator, (batch, 3, height, width)
        self.out, self.replays = None, 0
        CaptureStandIn.made.append(self)

    def __call__(self, x, style):
        assert tuple(x.shape) == self.shape, "a graph replays one shape only"
        self.replays += 1
        result = self.generator(x, style)
        if self.out is None:
            self.out = torch.empty_like(result)
        self.out.copy_(result)  # the same buffer every time, as a graph's output
        return self.out


def _net():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    return lambda x, style: torch.tanh(net(x) * style.sum())


@pytest.fixture
def graphed():
    CaptureStandIn.made = []
    return GraphedForward(_net(), torch.float32, torch.contiguous_format, capture=CaptureStandIn)


def test_a_shape_is_captured_when_it_repeats_and_replayed_after(graphed):
    net, style = _net(), torch.ones(26) / 26
    x = torch.rand(1, 3, 40, 64)
    first = graphed(x, style)
    assert CaptureStandIn.made == []  # seen once: eager (photos of many sizes capture nothing)
    second, third = graphed(x, style), graphed(x * 0.5, style)
    assert len(CaptureStandIn.made) == 1 and CaptureStandIn.made[0].replays == 2
    torch.testing.assert_close(first, net(x, style))
    torch.testing.assert_close(second, net(x, style))
    torch.testing.assert_close(third, net(x * 0.5, style))
    # each result is its own tensor: the replay that made `third` did not overwrite `second`
    assert second.data_ptr() != third.data_ptr() and not torch.equal(second, third)


def test_only_the_most_recent_shapes_keep_a_graph(graphed):
    style = torch.ones(26)
    shapes = [(1, 3, 32, 32), (1, 3, 32, 48), (2, 3, 32, 32)]
    for shape in shapes:
        for _ in range(2):
            graphed(torch.rand(shape), style)
    assert list(graphed.graphs) == shapes[1:]  # max_graphs=2: the oldest is dropped
    graphed(torch.rand(shapes[1]), style)  # a hit moves to the back
    assert list(graphed.graphs) == [shapes[2], shapes[1]]
    # shapes that alternate never repeat back to back: no capture for them
    before = len(CaptureStandIn.made)
    for shape in [(1, 3, 36, 36), (1, 3, 40, 40)] * 3:
        graphed(torch.rand(shape), style)
    assert len(CaptureStandIn.made) == before


def test_a_failing_capture_leaves_the_engine_eager(graphed):
    def broken(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")

    graphed.capture = broken
    net, style, x = _net(), torch.ones(26), torch.rand(1, 3, 32, 32)
    for _ in range(3):
        torch.testing.assert_close(graphed(x, style), net(x, style))
    assert not graphed.enabled and "stream is capturing" in graphed.disabled_reason and not graphed.graphs


def test_out_of_memory_at_capture_drops_the_graphs_and_is_raised(graphed):
    style = torch.ones(26)
    for _ in range(2):
        graphed(torch.rand(1, 3, 32, 32), style)
    assert graphed.graphs

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    graphed.capture = oom
    x = torch.rand(1, 3, 48, 48)
    graphed(x, style)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        graphed(x, style)  # the worker's recovery lowers the size or moves to the CPU
    assert not graphed.graphs and graphed.enabled


def test_cpu_engines_never_capture():
    engine = StyleEngine.load("fast", device="cpu", backend="torch")
    assert engine.graphed is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_engine_replays_graphs_that_match_eager(heldout_photos):
    graphs = StyleEngine.load("balanced", device="cuda")
    eager = StyleEngine.load("balanced", device="cuda", cuda_graphs=False)
    assert graphs.graphed is not None and eager.graphed is None
    photo = heldout_photos["coffee"][:180, :318]  # not a multiple of 4: padded and cropped around the graph
    x = torch.from_numpy(photo).cuda().permute(2, 0, 1)[None].float() / 255
    to8 = lambda t: (t.clamp(0, 1) * 255).round().byte().cpu().numpy()  # noqa: E731
    outs = {}
    for style in (0, 13, "3:0.5,12:0.5", 0):
        outs.setdefault(str(style), []).append(graphs.stylize_tensor(x, style))
        assert psnr(to8(outs[str(style)][-1]), to8(eager.stylize_tensor(x, style))) >= 45
    assert list(graphs.graphed.graphs) == [(1, 3, 180, 320)]
    assert psnr(to8(outs["0"][0]), to8(outs["13"][0])) < 20  # the style buffer follows each call
    assert psnr(to8(outs["0"][0]), to8(outs["0"][1])) >= 45  # style 0 again, now replayed: the same picture
    batch = torch.cat([x, x.flip(-1)])
    for _ in range(2):
        both = graphs.stylize_tensor(batch, 5)
    assert len(graphs.graphed.graphs) == 2 and both.shape == batch.shape
    assert psnr(to8(both[1:]), to8(eager.stylize_tensor(x.flip(-1), 5))) >= 45
