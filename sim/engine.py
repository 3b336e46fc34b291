"""The discrete-event engine: virtual time, an event heap, and the market pump.

The engine owns virtual time (integer ns). Synchronous events (ticks, order arrivals,
report deliveries, fault switches) are handled inline; the engine yields to trio
only when an event made some task runnable (a timer fired, a wake-up was set), and
then waits until every task is blocked again before moving on. So a quiet tick costs
a few attribute reads and integer compares, not a trio wake-up, and the interleaving
of kernel tasks is a function of the event order and the seeded scheduler alone.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Iterator

import trio
import trio.testing

from ..kernel.units import NS_PER_S, fmt_duration
from .determinism import runq_getter

# A tick as market paths produce it: (t_ns, idx, bid, ask, last, bid_size, ask_size)
Tick = tuple[int, ...]


class Timer(list):  # type: ignore[type-arg]
    """A heap entry [t, seq, fn, arg]; cancelling blanks ``fn``. Lists compare by (t, seq)."""

    __slots__ = ()

    def cancel(self) -> None:
        self[2] = None


class Engine:
    def __init__(self, mock_clock: trio.testing.MockClock | None = None) -> None:
        self.now = 0
        self._heap: list[list[Any]] = []
        self._seq = 0
        self._mock = mock_clock
        self.ticks_processed = 0
        # callbacks to run right after the current event, before trio runs any task
        # (the kernel's synchronous order hand-off); in_event: the pump is running events
        self._after: list[Callable[[bool], None]] = []
        self.in_event = False

    # ------------------------------------------------------------ scheduling

    def call_at(self, t: int, fn: Callable[[Any], None], arg: Any = None) -> "Timer":
        """Run ``fn(arg)`` at virtual time ``t`` (the Clock's synchronous timer)."""
        if t < self.now:
            t = self.now
        self._seq += 1
        entry = Timer((t, self._seq, fn, arg))
        heapq.heappush(self._heap, entry)
        return entry

    def after_event(self, fn: Callable[[bool], None]) -> None:
        """Run ``fn(quiet)`` right after the event being handled, before the pump moves
        on or lets trio run a task; ``quiet``: no task is runnable at that point."""
        self._after.append(fn)

    def _run_after(self, runq: Any) -> None:
        after = self._after
        while after:
            fns = after[:]
            after.clear()
            for fn in fns:
                fn(not runq)

    def now_ns(self) -> int:
        return self.now

    async def sleep_until(self, ts_ns: int) -> None:
        """The simulator's Clock.sleep_until: a heap entry that reschedules us."""
        if ts_ns <= self.now:
            await trio.lowlevel.checkpoint()
            return
        task = trio.lowlevel.current_task()
        handle = self.call_at(ts_ns, trio.lowlevel.reschedule, task)

        def abort(_: object) -> trio.lowlevel.Abort:
            handle[2] = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    # ------------------------------------------------------------ the pump

    async def run(self, ticks: Iterator[Tick] | None, deliver: Callable[[Tick], None] | None,
                  horizon: int) -> None:
        """Process ticks and events in time order until ``horizon``.

        ``ticks`` yields ticks in non-decreasing time, each handed to ``deliver``.
        Events at the same time as a tick run first (they were caused by the past).
        """
        heap = self._heap
        runq = runq_getter()
        pop = heapq.heappop
        ticks_done = 0
        after = self._after
        self.in_event = True
        if ticks is None:
            ticks = iter(())
        nxt = next(ticks, None)
        while True:
            # 1. a tight run of ticks that come before the next scheduled event
            limit = heap[0][0] if heap else horizon + 1
            if limit > horizon + 1:
                limit = horizon + 1
            while nxt is not None and nxt[0] < limit:
                self.now = nxt[0]
                deliver(nxt)  # type: ignore[misc]
                if after:
                    self._run_after(runq)
                ticks_done += 1
                nxt = next(ticks, None)
                if runq:
                    break
                if heap and heap[0][0] < limit:
                    limit = heap[0][0]
            else:
                # 2. the next scheduled event (ties with a tick: the event first)
                if not heap or heap[0][0] > horizon:
                    if nxt is None or nxt[0] > horizon:
                        break
                    continue
                entry = pop(heap)
                fn = entry[2]
                if fn is not None:
                    self.now = entry[0]
                    self.ticks_processed = ticks_done  # a timer (progress) may read it
                    fn(entry[3])
                    if after:
                        self._run_after(runq)
            if runq:
                self.ticks_processed = ticks_done
                await self.settle()
        self.ticks_processed = ticks_done
        self.now = max(self.now, horizon)
        await self.settle()
        self.in_event = False

    async def settle(self) -> None:
        """Let every runnable task run until all are blocked again."""
        mock = self._mock
        if mock is not None:
            target = self.now / NS_PER_S
            current = mock.current_time()
            if target > current:
                mock.jump(target - current)
        was, self.in_event = self.in_event, False  # tasks run now, not the pump
        try:
            await trio.testing.wait_all_tasks_blocked()
        finally:
            self.in_event = was



class Watchdog(trio.abc.Instrument):
    """Turns a livelock (tasks spinning without virtual time moving) into a failure."""

    def __init__(self, engine: Engine, cancel: Callable[[], None], limit: int = 2_000_000) -> None:
        self.engine = engine
        self.cancel = cancel
        self.limit = limit
        self._last_t = -1
        self._steps = 0
        self.tripped: str | None = None

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        t = self.engine.now
        if t != self._last_t:
            self._last_t = t
            self._steps = 0
            return
        self._steps += 1
        if self._steps == self.limit and self.tripped is None:
            self.tripped = (f"livelock: {self.limit} task steps at virtual t={fmt_duration(t)} "
                            f"without time advancing (last: {task.name})")
            self.cancel()
