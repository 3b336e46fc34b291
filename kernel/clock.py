"""The kernel's only source of time.

The kernel never reads the wall clock: it is handed a Clock. The simulator's clock is
virtual and driven by its event queue; the live clock reads the system clock. All
kernel timers go through ``sleep_until``, which is what lets the simulator know when
the next async wake-up is due without polling trio's internals.
"""
from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Current time in integer nanoseconds (virtual in simulation, Unix live)."""
        ...

    async def sleep_until(self, ts_ns: int) -> None:
        """Sleep until the clock reads ``ts_ns`` (returns at once if it already has)."""
        ...
