"""Crash faults: the kernel dies mid-run and a fresh one restarts from the journal.

``{kind: crash, t: 60s, restart_after: 10s}`` kills the kernel at ``t`` without its
orderly shutdown: no cancels are sent, its memory is dropped, the journal as written
so far is kept. The exchange keeps running (resting orders fill, the market moves);
what happens meanwhile reaches no one. After ``restart_after`` a fresh kernel is
built by the same ``build_session`` a live restart uses, from that journal
(``kernel/restore.py``) plus the venue reconciliation, exactly as ``--resume`` does.

A dead kernel must not act at all, even in the instant between the crash and trio
delivering its cancellation (a timer of a ticker may fire first): each life talks to
the journal and the venue through a gate that closes at the crash, so nothing a dead
kernel does is written or sent.
"""
from __future__ import annotations

from typing import Any, Callable

import trio

from ..kernel.journal import Journal
from ..kernel.orders import Order
from ..kernel.restore import DayState, read_day
from ..kernel.runtime import Kernel
from ..kernel.session import Session
from ..kernel.venue import VenueError
from .engine import Engine
from .venue import SimVenue


class _Gate:
    open = True


class LifeJournal:
    """The journal as one life of the kernel sees it: closed at its crash."""

    def __init__(self, journal: Journal, gate: _Gate) -> None:
        self._journal = journal
        self._gate = gate

    def emit(self, ts_ns: int, type_: str, **fields: Any) -> dict[str, Any]:
        if not self._gate.open:
            return {"ts_ns": ts_ns, "type": type_, **fields}  # a dead kernel's: unwritten
        return self._journal.emit(ts_ns, type_, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


class LifeVenue:
    """The venue as one life sees it: refuses everything after its crash."""

    def __init__(self, venue: SimVenue, gate: _Gate) -> None:
        self._venue = venue
        self._gate = gate
        self.name = venue.name

    async def submit(self, order: Order) -> None:
        if not self._gate.open:
            raise VenueError("the process is dead")
        await self._venue.submit(order)

    async def cancel(self, order_id: str) -> None:
        if not self._gate.open:
            raise VenueError("the process is dead")
        await self._venue.cancel(order_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venue, name)


Build = Callable[[LifeJournal, LifeVenue, DayState | None, bool], Session]


class Lives:
    """The kernel's successive lives in one simulated run."""

    def __init__(self, engine: Engine, venue: SimVenue, journal: Journal, build: Build,
                 *, restore: bool = True, reconcile: bool = True) -> None:
        self.engine = engine
        self.venue = venue
        self.journal = journal
        self.build = build
        self.restore = restore  # protections: a weakened kernel forgets, or skips
        self.reconcile = reconcile
        self.events: list[dict[str, Any]] = []  # the journal so far, for restarts
        journal.add_listener(self.events.append)
        self.session: Session | None = None
        self._gate = _Gate()
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self.dead = False
        self._restart_pending = False

    @property
    def kernel(self) -> Kernel | None:
        """The kernel now alive (None while dead): where scheduled inputs go."""
        return None if self.dead or self.session is None else self.session.kernel

    def first(self) -> Session:
        self.session = self.build(LifeJournal(self.journal, self._gate),
                                  LifeVenue(self.venue, self._gate), None, False)
        return self.session

    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        assert self.session is not None
        await nursery.start(self._live, self.session)

    async def _live(self, session: Session, task_status: trio.TaskStatus[None]) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            async with trio.open_nursery() as inner:
                await session.start(inner)
                task_status.started()

    def crash(self, _: Any = None) -> None:
        if self.dead or self._scope is None:
            return  # already dead: a second crash finds nothing to kill
        self.dead = True
        self._gate.open = False
        self._scope.cancel()
        self.venue.crash()

    def schedule(self, crash_at: int, restart_after: int) -> None:
        self.engine.call_at(crash_at, self.crash)
        self.engine.call_at(crash_at + restart_after, self._restart_soon)

    def _restart_soon(self, _: Any = None) -> None:
        if self.dead and not self._restart_pending and self._nursery is not None:
            self._restart_pending = True  # two crashes at once: one restart
            self._nursery.start_soon(self._restart)

    async def _restart(self) -> None:
        await self.venue.wait_up()  # a restart during an outage waits for the venue
        self._gate = _Gate()
        # a kernel weakened to forget starts from an empty day (and says so)
        day = read_day(self.events, "journal") if self.restore else DayState("journal")
        session = self.build(LifeJournal(self.journal, self._gate),
                             LifeVenue(self.venue, self._gate), day, self.reconcile)
        self.session = session
        self.dead = False
        assert self._nursery is not None
        await self._nursery.start(self._live, session)
        self._restart_pending = False

    def open_for_the_record(self) -> None:
        """The run ends with the kernel dead (its restart waited for an outage that
        outlasted the horizon): let the runner write the last line, ``run_finished``,
        through the dead life's gate. Nothing else runs any more."""
        self._gate.open = True
