"""LatestSlot: a one-item mailbox between two threads. The producer overwrites; nothing queues.

Each ``put`` bumps a sequence number, so a consumer asks for "anything newer than what I had" and
learns how many items it never saw. An item overwritten before anyone took it counts as dropped.
"""
from __future__ import annotations

import threading
from typing import Any, Optional, Tuple


class LatestSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._seq = 0          # sequence number of the item in the slot (0 = never filled)
        self._taken = 0        # highest sequence number a consumer has taken
        self.dropped = 0       # items overwritten before anyone took them
        self.closed = False

    @property
    def seq(self) -> int:
        return self._seq

    def put(self, item: Any) -> int:
        """Store ``item`` (replacing any untaken one); returns its sequence number."""
        with self._cond:
            if self._seq > self._taken:
                self.dropped += 1
            self._seq += 1
            self._item = item
            self._cond.notify_all()
            return self._seq

    def get(self, after: int = 0, timeout: Optional[float] = None) -> Optional[Tuple[int, Any]]:
        """``(seq, item)`` of the newest item with ``seq > after``, waiting up to ``timeout`` s.

        Returns None on timeout or when the slot is closed and holds nothing newer.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > after or self.closed, timeout):
                return None
            if self._seq <= after:
                return None
            if self._seq > self._taken:
                self._taken = self._seq
                self._cond.notify_all()  # wakes a lock-step producer in wait_taken at once, not at its timeout
            return self._seq, self._item

    def latest(self) -> Tuple[int, Any]:
        """``(seq, item)`` now, without waiting and without marking it taken."""
        with self._cond:
            return self._seq, self._item

    def wait_taken(self, timeout: Optional[float] = None) -> bool:
        """Block until the current item was taken (lock-step producers for offline renders)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._taken >= self._seq or self.closed, timeout)

    def close(self) -> None:
        """Wake every waiter; later ``get`` calls return what is left, then None."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
