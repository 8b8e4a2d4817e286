"""The temporal stabiliser on synthetic sequences with known motion: hold, drift, warp, cut, size
and style changes. A fake "net" stands in where the real one would only be slow: it maps the input
to an output and adds a fresh random texture every call, which is exactly what makes a real
feed-forward style net flicker."""
import numpy as np
import pytest
import torch

from artem_vr.inference.stabilize import Stabilizer
from artem_vr.training.flicker import (mean_frame_change, pan_sequence, static_sequence, texture_energy,
                                        warping_error, window_sequence)
from helpers.common import DEVICES


def photo(size=(160, 96)):
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), size, interpolation=cv2.INTER_AREA)


class ShimmeringNet:
    """``(1,3,H,W)`` in -> a darkened copy plus a new random texture of amplitude ``amp`` per call."""

    def __init__(self, amp=0.08, seed=0):
        self.amp, self.rng = amp, torch.Generator().manual_seed(seed)

    def __call__(self, x):
        noise = torch.rand(x.shape, generator=self.rng) * self.amp
        return (x * 0.85 + noise.to(x.device)).clamp(0, 1)


def to_t(frame, device="cpu"):
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(255).to(device)


def to_u8(t):
    return (t[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def run(seq_frames, stab, net, device="cpu", steps=None):
    raw, out = [], []
    for f in seq_frames:
        x = to_t(f, device)
        y = net(x)
        raw.append(to_u8(y))
        out.append(to_u8(stab(x, y)))
        if steps is not None:
            steps.append(stab.last)
    return raw, out


@pytest.mark.parametrize("device", DEVICES)
def test_static_noisy_scene_holds_the_first_output_exactly(device):
    seq = static_sequence(photo(), 8, sigma=2.0, seed=1)
    stab = Stabilizer()
    raw, out = run(seq.frames, stab, ShimmeringNet(), device)
    assert mean_frame_change(raw) > 1e-4                   # the net shimmers...
    assert mean_frame_change(out) == 0.0                   # ...the stabilised picture holds still
    assert all(np.array_equal(o, raw[0]) for o in out)     # with the first frame's strokes, unblurred
    assert stab.last.held == 1.0 and not stab.last.flow    # and without computing any flow


def test_slow_lighting_drift_refreshes_instead_of_sticking():
    """Each frame is only 1 grey level brighter than the last (under the hold threshold), but the
    comparison is against the input behind the held pixels, so the picture catches up."""
    base = photo().astype(np.int16)
    frames = [np.clip(base + i, 0, 255).astype(np.uint8) for i in range(30)]
    net = lambda x: x  # noqa: E731  (an identity "net" shows what is held directly)
    stab = Stabilizer()
    _, out = run(frames, stab, net)
    lag = np.abs(out[-1].astype(int) - frames[-1].astype(int)).mean()
    assert lag < 7.0, lag      # never more than the hold threshold behind
    assert out[-1].mean() > out[0].mean() + 20


def test_pan_is_carried_by_flow_with_less_flicker_and_texture_kept():
    import cv2
    from skimage import data

    seq = pan_sequence(data.astronaut(), (160, 96), 10, (2.0, 1.0), sigma=2.0)
    raw, out = run(seq.frames, Stabilizer(), ShimmeringNet(amp=0.1))
    ratio = warping_error(out, seq.warps) / warping_error(raw, seq.warps)
    assert ratio < 0.6, ratio
    assert texture_energy(out) / texture_energy(raw) > 0.8
    # the picture moves with the scene: the last output matches the last input's layout, not the first's
    lum = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)  # noqa: E731
    truth = lum(seq.frames[-1]) * 0.85
    assert np.abs(lum(out[-1]) - truth).mean() < np.abs(lum(out[-1]) - lum(seq.frames[0]) * 0.85).mean()


def test_moving_window_leaves_the_still_desktop_untouched_and_trails_no_ghost():
    rng = np.random.default_rng(3)
    desktop = np.full((96, 160, 3), 200, np.uint8)
    desktop[10:20, 10:150] = 40  # a "text line"
    window = rng.integers(0, 255, (30, 40, 3)).astype(np.uint8)
    seq = window_sequence(desktop, window, 10, start=(20, 50), speed=(4, 0))

    class Coupled(ShimmeringNet):  # instance-norm-like coupling: the whole picture shimmers
        def __call__(self, x):
            return (super().__call__(x) + 0.05 * torch.rand(1, generator=self.rng)).clamp(0, 1)

    raw, out = run(seq.frames, Stabilizer(), Coupled())
    still = seq.static.copy()
    still[:, :8] = still[:, -8:] = False
    assert warping_error(out, seq.warps, region=still) <= 0.05 * warping_error(raw, seq.warps, region=still)
    # where the window was two frames ago the desktop is back: no trail of window pixels
    last = out[-1].astype(int)
    trail = slice(50 + 6, 50 + 24), slice(20 + 4 * 7 + 2, 20 + 4 * 8 - 1)
    assert np.abs(last[trail] - raw[-1].astype(int)[trail]).mean() < 12


@pytest.mark.parametrize("device", DEVICES)
def test_a_cut_shows_the_new_scene_in_the_very_next_frame(device):
    from skimage import data
    import cv2

    other = cv2.resize(data.coffee(), (160, 96), interpolation=cv2.INTER_AREA)
    frames = static_sequence(photo(), 5, 2.0).frames + static_sequence(other, 3, 2.0).frames
    steps = []
    raw, out = run(frames, Stabilizer(), ShimmeringNet(), device, steps)
    assert np.array_equal(out[5], raw[5]) and steps[5].cut
    assert np.array_equal(out[6], raw[5]) and np.array_equal(out[7], raw[5])  # then holds the new scene
    assert not any(s.cut for s in steps[1:5])


def test_size_change_and_reset_start_afresh():
    stab = Stabilizer()
    net = ShimmeringNet()
    small = to_t(photo((96, 64)))
    stab(small, net(small))
    big = to_t(photo())
    y = net(big)
    assert torch.equal(stab(big, y), y) and stab.last.cut
    stab.reset()
    y2 = net(big)
    assert torch.equal(stab(big, y2), y2)


def test_numpy_apply_keeps_shape_and_dtype():
    stab = Stabilizer()
    a = photo()
    out = stab.apply(a, a[::-1].copy())
    assert out.shape == a.shape and out.dtype == np.uint8
    assert np.array_equal(out, a[::-1])
    assert np.array_equal(stab.apply(a, a), a[::-1])  # held


def test_worker_restarts_the_stabiliser_on_a_style_change_and_obeys_the_toggle(full_engine):
    """Style, strength and the T toggle take effect in the very next frame."""
    import time

    from artem_vr.capture.base import Frame
    from artem_vr.controls import Controls, Settings
    from artem_vr.inference.worker import StyleWorker
    from artem_vr.slots import LatestSlot

    img = photo((96, 64))
    rng = np.random.default_rng(0)
    cap, out = LatestSlot(), LatestSlot()
    controls = Controls(Settings(3))
    worker = StyleWorker(full_engine, cap, out, controls, (96, 64))
    worker.start()
    results, seq = [], 0

    def feed(i):
        nonlocal seq
        noisy = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        cap.put(Frame(noisy, "rgb", i, time.perf_counter()))
        seq, got = out.get(seq, timeout=20)
        results.append((noisy, got.pixels))

    def rerendered():
        nonlocal seq
        got = out.get(seq, timeout=20)  # the still frame, re-rendered after a settings change
        seq = got[0]
        return got[1].pixels

    close = lambda a, b: np.abs(a.astype(int) - b.astype(int)).max() <= 1  # noqa: E731
    try:
        feed(0), feed(1)
        controls.pick_style(12)
        restyled = rerendered()
        feed(2)
        controls.toggle_stabilize()
        rerendered()
        feed(3)
    finally:
        worker.stop()
    assert np.array_equal(results[1][1], results[0][1])                  # held
    assert close(restyled, full_engine.stylize(results[1][0], 12))        # new style at once, no ghost
    assert np.array_equal(results[2][1], restyled)                        # then held again
    assert close(results[3][1], full_engine.stylize(results[3][0], 12))   # T: off, raw frames
    assert not np.array_equal(results[3][1], restyled)
    assert worker.stabilize_stats.count >= 3


def test_the_gpu_path_torch_code_behaves_like_the_opencv_one(monkeypatch):
    """The GPU path (torch pooling, interpolation and grid_sample) run on the CPU: same decisions,
    nearly the same pictures as the OpenCV routines the CPU path uses."""
    from skimage import data

    import artem_vr.inference.stabilize as stabilize

    seq = pan_sequence(data.astronaut(), (160, 96), 6, (2.0, 1.0), sigma=2.0)
    frames = seq.frames + static_sequence(seq.frames[-1], 3, 2.0).frames
    got = {}
    for opencv in (True, False):
        monkeypatch.setattr(stabilize, "OPENCV_ON_CPU", opencv)
        steps = []
        raw, out = run(frames, Stabilizer(), ShimmeringNet(seed=2), steps=steps)
        got[opencv] = (out, [(s.cut, s.flow) for s in steps])
    assert got[True][1] == got[False][1]
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(got[True][0], got[False][0])]
    assert max(diffs) < 3.0, diffs


def test_a_dragged_flat_window_leaves_no_stale_patch():
    """A net paints a flat area from its surroundings (here: a wide blur), so the inside of a dragged
    flat window changes in the output while its input does not; held as it was, it would show as a
    stale patch with a seam. The stabilised picture stays near what the net paints now."""
    import cv2

    desktop = np.full((96, 160, 3), (40, 60, 120), np.uint8)
    window = np.full((50, 70, 3), (250, 230, 180), np.uint8)
    window[:8] = (60, 60, 200)  # title bar
    seq = window_sequence(desktop, window, 14, start=(10, 30), speed=(5, 0))

    class WideBlur(ShimmeringNet):
        def __call__(self, x):
            img = x[0].permute(1, 2, 0).numpy()
            wide = torch.from_numpy(cv2.GaussianBlur(img, (0, 0), 12)).permute(2, 0, 1)[None]
            return (1.0 - wide + torch.rand(x.shape, generator=self.rng) * 0.05).clamp(0, 1)

    raw, out = run(seq.frames, Stabilizer(), WideBlur())
    x = 10 + 5 * 13
    inside = (slice(30 + 12, 30 + 44), slice(x + 6, x + 64))
    lag = np.abs(out[-1][inside].astype(int) - raw[-1][inside].astype(int)).mean()
    frozen = np.abs(raw[0][inside].astype(int) - raw[-1][inside].astype(int)).mean()
    assert frozen > 20   # holding the first picture would be this far off
    assert lag < min(20.0, 0.5 * frozen), (lag, frozen)  # within the drift the stabiliser allows
