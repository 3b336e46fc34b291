"""A Kernel on a hand-driven clock and a scripted venue, with no simulator under it.

Unit tests of the kernel and its tickers decide every quote, acknowledgement and fill
themselves, and move time by hand, so each rule is exercised on exactly the event it
is about. ``ManualClock`` implements the kernel's ``Clock`` (timers fire, in time
order, only inside ``advance``); ``FakeVenue`` implements ``Venue`` by recording what
the kernel sends and reporting only what the test tells it to.
"""
from __future__ import annotations

import heapq
import itertools
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, AsyncIterator, Callable, Iterable

import trio
import trio.testing

from conftest import px
from triotrade.kernel.config import TradingConfig
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.journal import Journal
from triotrade.kernel.orders import Order
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.venue import ExecReport, OpenOrder, QuoteHandler, ReportKind, VenueError, VenueSink

START_NS = 1_700_000_000 * 10**9
S = 10**9


class _Timer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """The kernel's Clock, moved only by ``advance``; timers fire in (time, order) order."""

    def __init__(self, start_ns: int = START_NS) -> None:
        self._now = start_ns
        self._heap: list[tuple[int, int, _Timer, Callable[[Any], None], Any]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def call_at(self, ts_ns: int, fn: Callable[[Any], None], arg: Any = None) -> _Timer:
        handle = _Timer()
        heapq.heappush(self._heap, (ts_ns, next(self._seq), handle, fn, arg))
        return handle

    async def sleep_until(self, ts_ns: int) -> None:
        if ts_ns <= self._now:
            await trio.lowlevel.checkpoint()
            return
        woken = trio.Event()
        self.call_at(ts_ns, lambda _: woken.set())
        await woken.wait()

    async def advance(self, ns: int) -> None:
        """Move time forward by ``ns``, firing each due timer at its own time and letting
        the tasks it wakes run before the next one fires."""
        end = self._now + ns
        while self._heap and self._heap[0][0] <= end:
            ts, _, handle, fn, arg = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            self._now = max(self._now, ts)
            fn(arg)
            await trio.testing.wait_all_tasks_blocked()
        self._now = end
        await trio.testing.wait_all_tasks_blocked()


class FakeVenue:
    """A Venue that does nothing by itself: it records orders and cancels, and the test
    makes it quote, acknowledge, fill, cancel or drop."""

    name = "fake"

    def __init__(self, clock: ManualClock, instruments: Iterable[Instrument] = ()) -> None:
        self.clock = clock
        self.known = {i.symbol: i for i in instruments}
        self.sink: VenueSink | None = None
        self.handlers: dict[str, QuoteHandler] = {}
        self.submitted: list[Order] = []
        self.cancels: list[str] = []
        self.venue_positions: dict[str, int] = {}
        self._fills = itertools.count(1)

    # ---------------------------------------------------------------- the Venue protocol

    async def connect(self, sink: VenueSink) -> None:
        self.sink = sink

    async def close(self) -> None:
        pass

    async def instrument(self, symbol: str) -> Instrument:
        await trio.lowlevel.checkpoint()
        try:
            return self.known[symbol]
        except KeyError:
            raise VenueError(f"no such symbol {symbol!r}") from None

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None:
        self.handlers[instrument.symbol] = on_quote

    async def submit(self, order: Order) -> None:
        self.submitted.append(order)

    async def cancel(self, order_id: str) -> None:
        self.cancels.append(order_id)

    async def positions(self) -> dict[str, int]:
        return dict(self.venue_positions)

    async def open_orders(self) -> list[OpenOrder]:
        return [OpenOrder(o.order_id, o.symbol, o.side.value, o.qty, o.filled_qty, o.role.value)
                for o in self.submitted if o.is_working]

    async def cash(self) -> int:
        return px("1000000")

    # ---------------------------------------------------------------- what the test does

    def quote(self, symbol: str, bid: str, ask: str, last: str | None = None,
              size: int = 1000) -> None:
        b, a = px(bid), px(ask)
        self.handlers[symbol](self.clock.now_ns(), b, a, px(last) if last else (b + a) // 2,
                              size, size)

    def report(self, kind: ReportKind, order: Order, reason: str = "") -> None:
        assert self.sink is not None
        self.sink.on_report(ExecReport(kind, order.order_id, self.clock.now_ns(), reason=reason))

    def fill(self, order: Order, qty: int, price: str) -> None:
        assert self.sink is not None
        self.venue_positions[order.symbol] = (self.venue_positions.get(order.symbol, 0)
                                              + order.side.sign * qty)
        self.sink.on_report(ExecReport(ReportKind.FILL, order.order_id, self.clock.now_ns(),
                                       qty=qty, price=px(price), exec_id=f"X{next(self._fills)}"))


def acme(tick: str = "0.01") -> Instrument:
    return Instrument("ACME", Decimal(tick))


def make_kernel(config: TradingConfig | None = None, instruments: Iterable[Instrument] = (),
                discoverable: Iterable[Instrument] = ()) -> tuple[Kernel, FakeVenue, ManualClock]:
    """A Kernel (not started) trading ``instruments`` (default: ACME) on a FakeVenue."""
    insts = {i.symbol: i for i in (list(instruments) or [acme()])}
    clock = ManualClock()
    venue = FakeVenue(clock, [*insts.values(), *discoverable])
    kernel = Kernel(config=config or TradingConfig(), clock=clock, venue=venue,
                    journal=Journal(None), instruments=insts)
    return kernel, venue, clock


@asynccontextmanager
async def running(kernel: Kernel) -> AsyncIterator[Kernel]:
    """The kernel's root nursery for the length of the block, cancelled at its end."""
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        yield kernel
        nursery.cancel_scope.cancel()


async def settle() -> None:
    """Let every task the last synchronous call woke run until all are blocked again."""
    await trio.testing.wait_all_tasks_blocked()


def events(kernel: Kernel, type_: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in kernel.journal.events if e["type"] == type_
            and all(e.get(k) == v for k, v in match.items())]
