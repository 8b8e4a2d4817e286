"""CUDA graphs for a fixed live input size: capture the generator once, replay per frame.

At the live size every frame has the same shape, so the kernel launches of a whole forward
pass can be recorded and replayed with one call (removes per-layer launch overhead).
"""
from __future__ import annotations

import torch


class CudaGraphGenerator:
    """``(x (1,3,H,W), style (S,)) -> (1,3,H,W)`` on CUDA for one fixed H, W, dtype."""

    def __init__(self, generator, height: int, width: int, dtype=torch.float16,
                 memory_format=torch.channels_last):
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA graphs need a CUDA device")
        device = next(generator.parameters()).device
        self.generator = generator
        self.x = torch.zeros(1, 3, height, width, device=device, dtype=dtype).contiguous(memory_format=memory_format)
        self.style = torch.zeros(generator.num_styles, device=device, dtype=dtype)
        self.style[0] = 1
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(3):  # warm-up outside the graph (cuDNN picks its algorithms)
                generator(self.x, self.style)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.inference_mode():
            self.out = generator(self.x, self.style)

    def __call__(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        self.x.copy_(x)
        self.style.copy_(style.reshape(-1))
        self.graph.replay()
        return self.out
