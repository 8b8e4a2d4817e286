"""Structured pruning of the 26-style generator into a genuinely smaller one.

Three cuts, each removing structure (the saved file has fewer tensors and smaller shapes):

1. **Channels** with torch-pruning's DepGraph, so coupled channels go together (the residual trunk,
   each conv's next layer, and the conditional-norm rows of every style, via ``CINPruner``).
   Importance of a channel = L1 norm of its conv filter x mean |gamma| over the 26 styles: the
   norm re-scales each channel per style, so a filter that every style turns down contributes
   little (network slimming's criterion with conditional scales).
2. **Residual blocks**: the blocks whose branch adds the least to the trunk (relative energy on
   calibration images over all styles) are removed.
3. **Full-resolution layers**: the 9x9 full-resolution conv and the two stride-2 convs (half the
   teacher's work, and most of its memory traffic) are replaced by a small learned stride-2 stem
   that distillation first trains to reproduce the teacher's trunk input. The expanding convs are
   kept, rewritten exactly as convs on 2x2 phases at half their output resolution
   (``generator.to_polyphase``), which is the same function with no full-resolution feature map.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..inference.generator import CondInstanceNorm, PhaseNorm, StyleGenerator, polyphase_kernel, to_polyphase


def _torch_pruning():
    try:
        import torch_pruning as tp
    except ImportError:  # pragma: no cover - an optional dependency
        from ..errors import UsageError

        raise UsageError("artem-vr distill needs torch-pruning: pip install 'artem-vr[train]'") from None
    return tp


def _cin_pruner(tp):
    class CINPruner(tp.pruner.function.BasePruningFunc):
        """Drops columns of the (styles, channels) gamma/beta tables of a CondInstanceNorm."""

        def prune_out_channels(self, layer: CondInstanceNorm, idxs: Sequence[int]):
            drop = set(int(i) for i in idxs)
            keep = [i for i in range(layer.gamma.shape[1]) if i not in drop]
            layer.gamma = nn.Parameter(layer.gamma.data[:, keep].clone())
            layer.beta = nn.Parameter(layer.beta.data[:, keep].clone())
            return layer

        prune_in_channels = prune_out_channels

        def get_out_channels(self, layer: CondInstanceNorm) -> int:
            return layer.gamma.shape[1]

        get_in_channels = get_out_channels

    return CINPruner()


def _cin_importance(tp):
    class CINMagnitudeImportance(tp.importance.Importance):
        """Per channel: L1 of the producing conv's filter x mean |gamma| of the following norm."""

        @torch.no_grad()
        def __call__(self, group):
            score = None
            for dep, idxs in group:
                layer, handler = dep.target.module, dep.handler
                idxs = torch.as_tensor(idxs, dtype=torch.long)
                if isinstance(layer, nn.Conv2d) and handler.__name__ == "prune_out_channels":
                    part = layer.weight.abs().flatten(1).sum(1)[idxs]
                elif isinstance(layer, CondInstanceNorm):
                    part = layer.gamma.abs().mean(0)[idxs]
                else:
                    continue
                part = part / (part.mean() + 1e-12)
                score = part if score is None else score * part
            return score

    return CINMagnitudeImportance()


def prune_channels(model: StyleGenerator, ratios: Dict[str, float], example_size=(64, 64)) -> StyleGenerator:
    """Remove a fraction of output channels per named conv (e.g. ``{"contract.0.conv": 0.75}``).
    A conv of ``n`` channels keeps ``int(n * (1 - ratio))`` (torch-pruning's rounding).

    Returns a pruned deep copy; coupled layers (next convs, norms, the residual trunk) follow.
    """
    tp = _torch_pruning()
    # DepGraph traces the autograd graph: a frozen (requires_grad=False) copy would yield no groups
    model = copy.deepcopy(model).eval().requires_grad_(True)
    modules = dict(model.named_modules())
    ratio_dict = {modules[name]: r for name, r in ratios.items() if r > 0}
    x = torch.rand(1, 3, *example_size)
    s = torch.full((model.num_styles,), 1.0 / model.num_styles)
    # the RGB output keeps its 3 channels; polyphase convs keep their 4 phases per channel
    ignored = [layer.conv for layer in model.expand] if model.config.polyphase else [model.expand[2].conv]
    norm_pruner = _cin_pruner(tp)  # PhaseNorm's columns follow its conv's outputs the same way
    pruner = tp.pruner.MetaPruner(
        model, example_inputs=(x, s), importance=_cin_importance(tp), pruning_ratio=0.0,
        pruning_ratio_dict=ratio_dict, ignored_layers=ignored,
        customized_pruners={CondInstanceNorm: norm_pruner, PhaseNorm: norm_pruner}, root_module_types=[nn.Conv2d],
    )
    before = {name: modules[name].out_channels for name in ratio_dict_names(ratios)}
    pruner.step()
    unchanged = [name for name, n in before.items() if modules[name].out_channels >= n]
    if unchanged:  # never train an unpruned "fast" net by accident
        raise RuntimeError(f"structured pruning left {', '.join(unchanged)} unchanged")
    return model


def pruning_ratio(width: int, keep: int) -> float:
    """The ratio that leaves exactly ``keep`` of ``width`` channels: torch-pruning keeps
    ``int(width * (1 - ratio))``, which float rounding can bring one short without the half."""
    return 1 - (keep + 0.5) / width


def ratio_dict_names(ratios: Dict[str, float]) -> List[str]:
    return [name for name, r in ratios.items() if r > 0]


@torch.no_grad()
def residual_contributions(model: StyleGenerator, images: torch.Tensor) -> List[float]:
    """Relative energy ``|branch(x)| / |x|`` each residual block adds, averaged over all styles."""
    scores = torch.zeros(len(model.res))
    for s in range(model.num_styles):
        style = F.one_hot(torch.tensor(s), model.num_styles).float()
        st = style[None].expand(images.shape[0], -1)
        h = model.features(images, st)  # the contracting convs, or a student's stem
        for i, block in enumerate(model.res):
            first, second = block._modules["0"], block._modules["1"]
            branch = second(F.relu(first(h, st)), st)
            scores[i] += (branch.norm() / (h.norm() + 1e-8)).item()
            h = h + branch
    return (scores / model.num_styles).tolist()


def most_contributing_blocks(model: StyleGenerator, blocks: int, calibration: torch.Tensor) -> List[int]:
    """Indices (in order) of the ``blocks`` residual blocks that add the most on ``calibration``."""
    scores = residual_contributions(model, calibration)
    return sorted(sorted(range(len(scores)), key=lambda i: -scores[i])[:blocks])


def _with_blocks(model: StyleGenerator, config, keep: Sequence[int]) -> StyleGenerator:
    """A StyleGenerator of ``config`` holding ``model``'s weights, its residual block ``i`` taken
    from ``model``'s block ``keep[i]``."""
    sd = model.state_dict()
    out = StyleGenerator(config)
    state = {}
    for name in out.state_dict():
        src = name
        if name.startswith("res."):
            parts = name.split(".")
            parts[1] = str(keep[int(parts[1])])
            src = ".".join(parts)
        state[name] = sd[src].clone()
    out.load_state_dict(state)
    return out


def rebuild(model: StyleGenerator, keep_blocks: Sequence[int], stem: Sequence[int] = ()) -> StyleGenerator:
    """A fresh StyleGenerator with the pruned widths and only ``keep_blocks``. With ``stem`` widths,
    the contracting convs give way to a learned stem (initialised at random, seeded by the caller)
    and the expanding convs become their exact polyphase form."""
    c = tuple(model.contract[i].conv.out_channels for i in range(3))
    res_inner = tuple(model.res[i]._modules["0"].conv.out_channels for i in keep_blocks)
    e = (model.expand[0].conv.out_channels, model.expand[1].conv.out_channels)
    student = _with_blocks(model, replace(model.config, contract=c, res_inner=res_inner, expand=e), keep_blocks)
    if not stem:
        return student
    poly = to_polyphase(student)
    out = StyleGenerator(replace(poly.config, stem=tuple(int(w) for w in stem)))
    state = out.state_dict()
    state.update({k: v for k, v in poly.state_dict().items() if not k.startswith("contract.")})
    out.load_state_dict(state)
    return out


def prune_generator(teacher: StyleGenerator, channel_ratios: Dict[str, float], blocks: int, stem: Sequence[int],
                    calibration: torch.Tensor) -> StyleGenerator:
    """All three cuts; ``blocks``: how many residual blocks to keep (the most contributing)."""
    pruned = prune_channels(teacher, channel_ratios) if any(r > 0 for r in channel_ratios.values()) else teacher
    return rebuild(pruned, most_contributing_blocks(pruned, blocks, calibration), stem)


def keep_blocks(model: StyleGenerator, blocks: int, calibration: torch.Tensor) -> StyleGenerator:
    """``model`` with only the ``blocks`` residual blocks that add the most (``residual_contributions``
    on ``calibration`` images), in their order; everything else unchanged."""
    if blocks >= len(model.res):
        return model
    keep = most_contributing_blocks(model, blocks, calibration)
    return _with_blocks(model, replace(model.config, res_inner=tuple(model.config.res_inner[i] for i in keep)), keep)


def restructure(model: StyleGenerator, inner: int, kernel_out: int, res_padding: str, blocks: int = 0,
                calibration: torch.Tensor = None) -> StyleGenerator:
    """A further-cut copy of a (stem, polyphase) student: with ``blocks`` (fewer than it has), only
    the most contributing residual blocks on ``calibration`` (``keep_blocks``); residual inner width
    pruned to ``inner`` (DepGraph, as above; never widened), the output conv's phase kernel cropped
    about its centre to ``polyphase_kernel(kernel_out)`` and the residual convs' padding set to
    ``res_padding``."""
    if not model.config.polyphase:
        raise ValueError("restructure needs a polyphase student")
    old, new = polyphase_kernel(model.config.kernel_out), polyphase_kernel(kernel_out)
    if new > old:
        raise ValueError(f"cannot grow the output kernel ({model.config.kernel_out} -> {kernel_out})")
    if blocks and blocks < len(model.res):
        if calibration is None:
            raise ValueError("dropping residual blocks needs calibration images")
        model = keep_blocks(model, blocks, calibration)
    ratios = {f"res.{i}.0.conv": pruning_ratio(r, inner) for i, r in enumerate(model.config.res_inner) if r > inner}
    pruned = prune_channels(model, ratios) if ratios else model
    res_inner = tuple(block._modules["0"].conv.out_channels for block in pruned.res)
    state = {k: v.clone() for k, v in pruned.state_dict().items()}
    cut = (old - new) // 2
    state["expand.2.conv.weight"] = state["expand.2.conv.weight"][:, :, cut:old - cut, cut:old - cut].contiguous()
    out = StyleGenerator(replace(model.config, res_inner=res_inner, kernel_out=kernel_out, res_padding=res_padding))
    out.load_state_dict(state)
    return out
