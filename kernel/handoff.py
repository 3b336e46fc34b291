"""The synchronous order hand-off: an order queue pass without a trio round trip.

A ticker's order actions go through its order queue task (kernel/ticker_orders.py),
which serialises them: exits first, entries staggered, every action paced. But most
passes of that task wait for nothing: a signal queues one entry, an exit rule asks for
one exit, and the task wakes, sends, and parks again. In the simulator that wake-up is
a full trio round trip (the engine stops its pump, trio runs the one task, the engine
waits until every task is blocked again), about ten times the cost of the pass itself.

So when the clock can run a callback right after the current event (the simulator's
``Engine.after_event``) and the venue's submit and cancel complete without suspending
(``sync_submit``: the simulated venue only schedules the order's arrival), setting the
queue's wake-up while its task is parked does not wake the task: the ticker is put on
a list, and right after the event the list is drained by running the very same pass
(``queue_pass``) synchronously. That is exactly what the task would have done at the
same virtual time and in the same place in the event order: the engine would have let
the woken task run before anything else happened. The task is woken for real instead
whenever that equivalence is not certain:

* another task became runnable in the same event, or two tickers' queues are due at
  once (trio's seeded scheduler decides their order, as before);
* the pass could have to wait for ``max_order_rate`` (fewer free slots in the pacing
  window than the actions a pass can send);
* after the pass a staggered entry is still waiting (the task sets its own deadline).

Live venues leave ``sync_submit`` unset (their submit crosses a thread or a socket) and
the live clock has no ``after_event``: their orders keep going through the task.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .ticker_orders import queue_due, queue_pass
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .runtime import Kernel
    from .ticker import Ticker


class OrderWakeup(Wakeup):
    """The order queue's wake-up: a set() while the task is parked may be handed to
    the kernel's ``Handoff`` to run synchronously after the event."""

    __slots__ = ("_defer",)

    def __init__(self, defer: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self._defer = defer

    def set(self, _: Any = None) -> None:
        if self._task is not None and self._defer is not None and self._defer():
            return
        Wakeup.set(self)

    def wake_task(self) -> None:
        """Wake the parked task for real (the hand-off was not taken)."""
        Wakeup.set(self)

    @property
    def parked(self) -> bool:
        return self._task is not None


class Handoff:
    """The tickers whose queue pass waits to run after the current event."""

    def __init__(self, kernel: "Kernel") -> None:
        self.k = kernel
        clock = kernel.clock
        self._after_event: Callable[[Callable[[bool], None]], None] | None = \
            getattr(clock, "after_event", None)
        self.enabled = self._after_event is not None and \
            bool(getattr(kernel.venue, "sync_submit", False))
        self._due: list[Ticker] = []
        self._clock: Any = clock

    def defer(self, ticker: "Ticker") -> bool:
        """Take ``ticker``'s queue pass (True), or leave it to its task (False)."""
        if not self.enabled or not self._clock.in_event:
            return False
        due = self._due
        if not due:
            assert self._after_event is not None
            self._after_event(self._drain)
        if ticker not in due:
            due.append(ticker)
        return True

    def _drain(self, quiet: bool) -> None:
        """After the event: run the pass here, or wake the task(s) for real.

        ``quiet``: no trio task is runnable (nothing else would run before the pass)."""
        due, self._due = self._due, []
        if quiet and len(due) == 1:
            t = due[0]
            if run_now(t):
                return
        for t in due:
            assert isinstance(t.wake_queue, OrderWakeup)
            t.wake_queue.wake_task()


def run_now(t: "Ticker") -> bool:
    """Run ``t``'s queue passes synchronously while they are due; False (nothing
    done yet) when pacing could make the first one wait."""
    k = t.k
    if t.venue_stop is not None:
        # an exit first waits for the resting stop's cancel to be confirmed
        # (kernel/venue_stop.py ``clear``): a pass that suspends stays with the task
        return False
    wake = t.wake_queue
    assert isinstance(wake, OrderWakeup)
    ran = False
    while True:
        due, next_entry = queue_due(t)
        if not due:
            break
        if k.pacing_room() < 3 + len(t.entries):
            if not ran:
                return False
            wake.wake_task()  # the task goes on from here, pacing its own waits
            return True
        _run_sync(queue_pass(t))
        ran = True
    if next_entry is not None:
        wake.wake_task()  # a staggered entry waits: the task arms its own deadline
    return True


def _run_sync(coro: Any) -> None:
    """Drive a coroutine that does not suspend (checked pacing, a sync venue)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("an order queue pass suspended in the synchronous hand-off")
