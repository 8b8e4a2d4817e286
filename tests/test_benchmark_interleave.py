"""benchmarks/interleave.py: the timing loop every benchmark shares (order, counts, what is timed)."""
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from interleave import interleaved  # noqa: E402


def test_runners_alternate_each_twice_per_round_after_warmup():
    calls = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3, warmup=2)
    assert calls == ["a", "a", "b", "b"] + ["a", "a", "b", "b"] * 3
    assert set(times) == {"a", "b"}
    assert [len(v) for v in times.values()] == [3, 3]


def test_only_the_second_call_of_a_round_is_timed():
    state = {"n": 0}

    def slow_every_other_call():  # the untimed call of each round is the slow one
        state["n"] += 1
        time.sleep(0.05 if state["n"] % 2 else 0.0)

    times = interleaved({"x": slow_every_other_call}, rounds=4, warmup=0)
    assert all(t < 40 for t in times["x"]), times
    assert state["n"] == 8


def test_settle_sleeps_after_each_timed_call():
    t = time.perf_counter()
    interleaved({"a": lambda: None, "b": lambda: None}, rounds=2, warmup=0, settle_s=0.03)
    assert time.perf_counter() - t >= 4 * 0.03


def test_rounds_below_one_is_an_error():
    with pytest.raises(ValueError, match="rounds"):
        interleaved({"a": lambda: None}, rounds=0)
