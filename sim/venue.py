"""SimVenue: the Venue protocol over the simulated exchange.

Latency lives here: orders and cancels reach the exchange ``order`` later, reports
reach the kernel ``report`` later, quotes ``data`` later. A disconnect window takes
the session down: no quotes, orders refused, reports held until it comes back (as a
broker replays them on reconnect).
"""
from __future__ import annotations

from typing import Any

import attrs
import trio

from ..kernel.instruments import Instrument
from ..kernel.orders import Order, Side
from ..kernel.venue import ExecReport, OpenOrder, QuoteHandler, VenueError, VenueSink
from .engine import Engine
from .exchange import Exchange, XOrder


@attrs.define
class Latency:
    order: int = 0
    report: int = 0
    data: int = 0


class SimVenue:
    name = "sim"
    # submit and cancel only schedule the arrival, never suspend: the kernel may run
    # its order queue's passes synchronously (kernel/handoff.py)
    sync_submit = True

    def __init__(self, engine: Engine, exchange: Exchange, instruments: dict[str, Instrument],
                 latency: Latency, start_cash: int) -> None:
        self.engine = engine
        self.exchange = exchange
        self.instruments = instruments
        self.latency = latency
        self.sink: VenueSink | None = None
        self.up = False
        self.handlers: list[QuoteHandler | None] = [None] * len(exchange.books)
        self._held: list[ExecReport] = []
        self.start_cash = start_cash
        self._books = exchange.books
        self._data_latency = latency.data
        self._window_down = False  # a disconnect window is in force
        self._up_waiters: list[trio.Event] = []

    # ------------------------------------------------------------ session

    async def connect(self, sink: VenueSink) -> None:
        self.sink = sink
        self.up = True
        await trio.lowlevel.checkpoint()

    def crash(self) -> None:
        """The kernel's process died: nobody hears quotes or reports any more (the
        exchange keeps running; what it reports meanwhile is lost to the dead process,
        as a broker's callbacks are, and found again by the reconciliation)."""
        self.sink = None
        self.handlers = [None] * len(self.handlers)
        self._held = []

    async def wait_up(self) -> None:
        """Until no disconnect window is in force (a restart cannot connect before)."""
        while self._window_down:
            event = trio.Event()
            self._up_waiters.append(event)
            await event.wait()

    async def close(self) -> None:
        self.up = False
        await trio.lowlevel.checkpoint()

    def set_down(self, _: Any = None) -> None:
        self._window_down = True
        if self.up and self.sink is not None:
            self.up = False
            self.sink.on_connection(False, "simulated disconnect")

    def set_up(self, _: Any = None) -> None:
        self._window_down = False
        waiters, self._up_waiters = self._up_waiters, []
        for event in waiters:
            event.set()
        if not self.up and self.sink is not None:
            self.up = True
            held, self._held = self._held, []
            for report in held:
                self.sink.on_report(report)
            self.sink.on_connection(True, "simulated reconnect")
            # resubscription: like a broker, the session starts with a fresh quote
            for book in self._books:
                handler = self.handlers[book.idx]
                if handler is not None and book.has_quote:
                    handler(self.engine.now, book.bid, book.ask, book.last, book.avail_bid,
                            book.avail_ask)

    # ------------------------------------------------------------ data

    async def instrument(self, symbol: str) -> Instrument:
        await trio.lowlevel.checkpoint()
        try:
            return self.instruments[symbol]
        except KeyError:
            raise VenueError(f"no instrument {symbol!r} at this venue") from None

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None:
        """Subscribe; like a broker's market-data request, it starts with the current quote."""
        idx = self.exchange.index[instrument.symbol]
        self.handlers[idx] = on_quote
        book = self._books[idx]
        if book.has_quote and self.up:
            on_quote(self.engine.now, book.bid, book.ask, book.last, book.avail_bid,
                     book.avail_ask)
        await trio.lowlevel.checkpoint()

    def deliver_tick(self, tick: tuple[int, ...]) -> None:
        """The engine's tick callback: the exchange sees it now, the kernel after ``data``.

        This is the hottest function of a simulation, so the exchange's book update
        (``Exchange.on_tick``) is inlined: one call per tick into the kernel, no more.
        """
        book = self._books[tick[1]]
        book.bid = tick[2]
        book.ask = tick[3]
        book.last = tick[4]
        book.avail_bid = tick[5]
        book.avail_ask = tick[6]
        book.has_quote = True
        if book.active:
            self.exchange._match(book)  # noqa: SLF001 - inlined Exchange.on_tick
        if self._data_latency:
            self.engine.call_at(self.engine.now + self._data_latency, self._to_kernel, tick)
        elif self.up:
            handler = self.handlers[tick[1]]
            if handler is not None:
                handler(tick[0], tick[2], tick[3], tick[4], tick[5], tick[6])

    def deliver_feed_only(self, tick: tuple[int, ...]) -> None:
        """A bad quote of the scenario (``market.SYM.bad_quotes``): the feed's error, so
        it reaches the kernel (after the data latency, while the session is up) but
        never the exchange's book, which stays the real market. Scheduled at its own
        time, so "now" is its time stamp."""
        if self._data_latency:
            self.engine.call_at(self.engine.now + self._data_latency, self._to_kernel, tick)
        else:
            self._to_kernel(tick)

    def _to_kernel(self, tick: tuple[int, ...]) -> None:
        if self.up:
            handler = self.handlers[tick[1]]
            if handler is not None:
                handler(self.engine.now, tick[2], tick[3], tick[4], tick[5], tick[6])

    # ------------------------------------------------------------ orders

    async def submit(self, order: Order) -> None:
        if not self.up:
            raise VenueError("session is down")
        idx = self.exchange.index.get(order.symbol)
        if idx is None:
            raise VenueError(f"no instrument {order.symbol!r} at this venue")
        xo = XOrder(order.order_id, idx, order.role.value, order.side.sign, order.qty,
                    order.order_type.value, order.price, order.expire_ns)
        self.engine.call_at(self.engine.now + self.latency.order, self.exchange.arrive, xo)
        # no checkpoint: the order is only queued, and the caller's loop checkpoints next

    async def cancel(self, order_id: str) -> None:
        if not self.up:
            raise VenueError("session is down")
        self.engine.call_at(self.engine.now + self.latency.order, self.exchange.cancel_arrive,
                            order_id)

    def on_exchange_report(self, report: ExecReport) -> None:
        """The exchange's report callback: account for it, deliver after ``report``."""
        self.engine.call_at(self.engine.now + self.latency.report, self._deliver, report)

    def _deliver(self, report: ExecReport) -> None:
        if self.sink is None:
            return
        if not self.up:
            self._held.append(report)
            return
        self.sink.on_report(report)

    # ------------------------------------------------------------ queries

    async def positions(self) -> dict[str, int]:
        await trio.lowlevel.checkpoint()
        ex = self.exchange
        return {b.symbol: ex.positions[b.idx] for b in ex.books if ex.positions[b.idx]}

    async def open_orders(self) -> list[OpenOrder]:
        await trio.lowlevel.checkpoint()
        out = []
        for xo in self.exchange.orders.values():
            if xo.working:
                side = Side.BUY.value if xo.sign > 0 else Side.SELL.value
                out.append(OpenOrder(xo.order_id, self.exchange.books[xo.idx].symbol, side,
                                     xo.qty, xo.filled, xo.role, xo.otype, xo.price))
        return out

    async def executions(self) -> list[ExecReport]:
        """Today's executions of resting stops, as the venue's execution list has them
        (a restarted kernel takes the fills it missed from there: ``kernel/venue_stop``)."""
        await trio.lowlevel.checkpoint()
        return list(self.exchange.stop_fills)

    async def cash(self) -> int:
        await trio.lowlevel.checkpoint()
        return self.start_cash + self.exchange.cash_delta
