"""A reusable single-waiter wake-up, settable from synchronous code.

The tick path is synchronous; when it decides an async loop must act (a gap, a fill
that needs follow-up) it sets a Wakeup. Setting costs a flag write when nobody waits
and one reschedule when somebody does: no allocation, unlike a fresh trio.Event.
"""
from __future__ import annotations

import trio


class Wakeup:
    __slots__ = ("_task", "_pending")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._pending = False

    def set(self) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)
        else:
            self._pending = True

    async def wait(self) -> None:
        """Return once set() was called since the last wait() returned."""
        if self._pending:
            self._pending = False
            await trio.lowlevel.checkpoint()
            return
        if self._task is not None:
            raise RuntimeError("Wakeup supports a single waiter")
        self._task = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self._task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    async def wait_until(self, clock: "ClockLike", deadline_ns: int | None) -> bool:
        """Wait for set() or the deadline, whichever first; True when woken by set()."""
        if deadline_ns is None:
            await self.wait()
            return True
        if self._pending:
            self._pending = False
            await trio.lowlevel.checkpoint()
            return True
        woken = False
        async with trio.open_nursery() as nursery:

            async def timer() -> None:
                await clock.sleep_until(deadline_ns)
                nursery.cancel_scope.cancel()

            nursery.start_soon(timer)
            await self.wait()
            woken = True
            nursery.cancel_scope.cancel()
        return woken


class ClockLike:  # pragma: no cover - typing aid only
    async def sleep_until(self, ts_ns: int) -> None: ...
