"""LatestSlot: overwrite semantics, drop counting, and flat latency under a slow consumer."""
import threading
import time

from artem_vr.slots import LatestSlot


def test_newest_wins_and_overwrites_count_as_dropped():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    seq, item = slot.get(after=0, timeout=0)
    assert (seq, item) == (5, 4)
    assert slot.dropped == 4
    assert slot.get(after=seq, timeout=0.01) is None  # nothing newer


def test_taken_item_overwritten_is_not_a_drop():
    slot = LatestSlot()
    slot.put("a")
    slot.get(0, 0)
    slot.put("b")
    assert slot.dropped == 0


def test_slow_consumer_sees_only_fresh_items():
    """Producer at ~1 kHz, consumer 20x slower: at most one item waits, so every item the consumer
    takes is at most one production period old and the drops are counted."""
    slot = LatestSlot()
    stop = threading.Event()

    def produce():
        while not stop.is_set():
            slot.put(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=produce)
    thread.start()
    ages, last = [], 0
    try:
        for _ in range(15):
            time.sleep(0.02)  # slow consumer
            got = slot.get(after=last, timeout=1.0)
            assert got is not None
            last, stamp = got
            ages.append(time.perf_counter() - stamp)
    finally:
        stop.set()
        thread.join()
    assert max(ages) < 0.015  # an item never waits behind others: age ~ one production period
    assert slot.dropped > 100


def test_wait_taken_and_close_wake_waiters():
    slot = LatestSlot()
    slot.put(1)
    assert not slot.wait_taken(0.01)
    slot.get(0, 0)
    assert slot.wait_taken(0.01)
    results = []
    waiter = threading.Thread(target=lambda: results.append(slot.get(after=slot.seq, timeout=5)))
    waiter.start()
    time.sleep(0.05)
    slot.close()
    waiter.join(1)
    assert not waiter.is_alive() and results == [None]
