"""The kernel's only source of time.

The kernel never reads the wall clock: it is handed a Clock. The simulator's clock is
virtual and driven by its event queue; the live clock reads the system clock.

Two ways to wait, because they cost very different amounts:

* ``sleep_until`` suspends a task: a trio wake-up (~30-50 us) when it fires.
* ``call_at`` runs a *synchronous* callback at a time: in the simulator a heap
  entry and a function call, no trio wake-up at all. The periodic checks (position
  monitor, stale feed, portfolio guard) are timers, so a quiet second of market
  time costs no scheduler round trip; they wake an async loop only when it must act.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now_ns(self) -> int:
        """Current time in integer nanoseconds (virtual in simulation, Unix live)."""
        ...

    async def sleep_until(self, ts_ns: int) -> None:
        """Sleep until the clock reads ``ts_ns`` (returns at once if it already has)."""
        ...

    def call_at(self, ts_ns: int, fn: Callable[[Any], None], arg: Any = None) -> TimerHandle:
        """Run ``fn(arg)`` synchronously at ``ts_ns``; the handle cancels it."""
        ...
