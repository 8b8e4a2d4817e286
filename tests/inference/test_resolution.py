"""DynamicResolution against a fake clock and fake inference costs (cost proportional to pixels plus
a fixed part, like a conv net): steady, a step up, a step down, noise, a spike, floor and ceiling."""
import numpy as np
import pytest

from artem_vr.inference.resolution import DynamicResolution, size_ladder

FLOOR, CEILING = (192, 108), (1280, 720)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def simulate(ctrl, clock, seconds, cost_at, period_ms=33.3, noise=0.0, seed=0, spikes=()):
    """The worker's loop: a frame every ``period_ms`` or as soon as the last one is done.
    Returns ``[(t, box, ms)]``."""
    rng = np.random.default_rng(seed)
    log = []
    end = clock.t + seconds
    while clock.t < end:
        box = ctrl.box
        ms = cost_at(box[0] * box[1], clock.t) * (1.0 + noise * rng.uniform(-1, 1))
        if any(abs(clock.t - s) < 1e-3 or (s <= clock.t < s + ms / 1000) for s in spikes):
            ms *= 10
        clock.t += max(ms, period_ms) / 1000.0
        ctrl.observe(ms)
        log.append((clock.t, box, ms))
    return log


def linear_cost(ms_per_mpx, fixed=1.0):
    return lambda px, t: fixed + ms_per_mpx * px / 1e6


def changes_after(log, t0):
    boxes = [b for t, b, _ in log if t >= t0]
    return sum(1 for a, b in zip(boxes, boxes[1:]) if a != b)


def make(clock, budget=33.3, start=(320, 180)):
    return DynamicResolution(FLOOR, CEILING, budget, start=start, clock=clock)


def test_ladder_is_stepped_in_multiples_of_4_with_the_aspect_kept():
    ladder = size_ladder(FLOOR, CEILING)
    assert ladder[0] == FLOOR and ladder[-1] == CEILING and (320, 180) in ladder and (640, 360) in ladder
    assert all(w % 4 == 0 and h % 4 == 0 for w, h in ladder)
    assert all(abs(w / h - 16 / 9) < 0.05 for w, h in ladder)
    px = [w * h for w, h in ladder]
    steps = [b / a for a, b in zip(px, px[1:])]
    assert all(1.1 < r < 1.8 for r in steps)            # exact aspect makes the lowest rungs coarser
    assert 1.15 < float(np.median(steps)) < 1.35


def test_steady_cost_settles_within_seconds_holds_the_budget_and_stays_put():
    clock = FakeClock()
    ctrl = make(clock)
    log = simulate(ctrl, clock, 20, linear_cost(60.0))  # 60 ms per megapixel: ~0.45 MP fits in 33 ms
    settled = [t for t, b, _ in log if b != log[-1][1]]
    assert settled and settled[-1] < 5.0                    # no change after 5 s
    late = [ms for t, _, ms in log if t > 5]
    assert np.percentile(late, 95) <= 33.3
    w, h = log[-1][1]
    assert w * h * 1.25 * 60e-6 + 1 > 0.8 * 33.3          # and it is the largest box that fits the target


def test_step_up_in_cost_goes_down_within_3_s_and_holds_the_budget():
    clock = FakeClock()
    ctrl = make(clock)
    heavy = lambda px, t: (1.0 + 60.0 * px / 1e6) * (2.2 if t >= 10 else 1.0)  # noqa: E731  another program
    log = simulate(ctrl, clock, 25, heavy)
    before = [b for t, b, _ in log if 8 < t < 10][-1]
    after = [(t, b) for t, b, _ in log if t >= 10 and b[0] * b[1] < before[0] * before[1]]
    assert after and after[0][0] < 13.0
    assert np.percentile([ms for t, _, ms in log if t > 15], 95) <= 33.3
    assert changes_after(log, 15) == 0


def test_step_down_in_cost_goes_back_up():
    clock = FakeClock()
    ctrl = make(clock, start=(192, 108))
    light = lambda px, t: (1.0 + 60.0 * px / 1e6) * (3.0 if t < 8 else 1.0)  # noqa: E731
    log = simulate(ctrl, clock, 30, light)
    mid = [b for t, b, _ in log if t < 8][-1]
    end = log[-1][1]
    assert end[0] * end[1] >= 2 * mid[0] * mid[1]
    # blocked rungs clear after block_s: by 25 s the size is where the steady test puts it
    assert changes_after(log, 25) == 0


def test_noise_does_not_make_it_oscillate():
    clock = FakeClock()
    ctrl = make(clock)
    log = simulate(ctrl, clock, 40, linear_cost(60.0), noise=0.3, seed=4)
    assert changes_after(log, 8) <= 1
    assert np.percentile([ms for t, _, ms in log if t > 8], 95) <= 33.3


def test_a_single_spike_changes_nothing():
    clock = FakeClock()
    ctrl = make(clock)
    log = simulate(ctrl, clock, 10, linear_cost(60.0))
    box = ctrl.box
    log = simulate(ctrl, clock, 5, linear_cost(60.0), spikes=(clock.t + 1.0,))
    assert max(ms for _, _, ms in log) > 100   # the spike happened
    assert ctrl.box == box and changes_after(log, 0) == 0


@pytest.mark.parametrize("ms_per_mpx,expected", [(2000.0, FLOOR), (1.0, CEILING)])
def test_floor_and_ceiling_are_respected(ms_per_mpx, expected):
    clock = FakeClock()
    ctrl = make(clock)
    simulate(ctrl, clock, 30, linear_cost(ms_per_mpx))
    assert ctrl.box == expected


def test_limit_caps_the_box_at_the_source_size():
    clock = FakeClock()
    ctrl = make(clock)
    ctrl.limit((640, 360))
    simulate(ctrl, clock, 20, linear_cost(1.0))
    assert ctrl.box == (640, 360)


def test_budget_may_be_read_at_run_time():
    clock = FakeClock()
    budget = {"ms": None}
    ctrl = DynamicResolution(FLOOR, CEILING, lambda: budget["ms"], start=(320, 180), clock=clock)
    simulate(ctrl, clock, 5, linear_cost(60.0))
    assert ctrl.box == (320, 180) and ctrl.changes == 0   # no budget known yet: stays put
    budget["ms"] = 100.0
    simulate(ctrl, clock, 10, linear_cost(60.0))
    assert ctrl.box[0] > 320


def test_slow_frames_still_come_down_within_3_s():
    """At a few frames a second there are never 5 frames in a second: three slow ones in a row do."""
    clock = FakeClock()
    ctrl = DynamicResolution(FLOOR, CEILING, 400.0, start=(640, 360), clock=clock)
    heavy = lambda px, t: 1000.0 * px / 1e6 * (3.0 if t >= 10 else 1.0)  # noqa: E731  230 ms, then 690 ms
    log = simulate(ctrl, clock, 20, heavy, period_ms=0)
    before = [b for t, b, _ in log if t < 10][-1]
    down = [t for t, b, _ in log if t >= 10 and b[0] * b[1] < before[0] * before[1]]
    assert down and down[0] < 13.0
    assert max(ms for t, _, ms in log if t > 16) <= 400.0
