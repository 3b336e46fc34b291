"""A reusable single-waiter wake-up, settable from synchronous code.

The tick path is synchronous; when it decides an async loop must act (a gap, a fill
that needs follow-up) it sets a Wakeup. Setting costs a flag write when nobody waits
and one reschedule when somebody does: no allocation, unlike a fresh trio.Event.
A deadline is a synchronous clock timer, not a helper task.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .clock import Clock


class Wakeup:
    __slots__ = ("_task", "_pending", "_timed_out")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._pending = False
        self._timed_out = False

    def set(self, _: Any = None) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)
        else:
            self._pending = True

    def _timeout(self, _: Any = None) -> None:
        self._timed_out = True
        self.set()

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

    async def wait_until(self, clock: "Clock", deadline_ns: int | None) -> bool:
        """Wait for set() or the deadline, whichever first; True when woken by set()."""
        if deadline_ns is None:
            await self.wait()
            return True
        if self._pending:
            self._pending = False
            await trio.lowlevel.checkpoint()
            return True
        if deadline_ns <= clock.now_ns():
            await trio.lowlevel.checkpoint()
            return False
        self._timed_out = False
        handle = clock.call_at(deadline_ns, self._timeout)
        try:
            await self.wait()
        finally:
            handle.cancel()
        timed_out = self._timed_out
        self._timed_out = False
        return not timed_out
