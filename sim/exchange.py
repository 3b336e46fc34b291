"""The simulated exchange: books, fills, triggers and expiries, per instrument.

Fill semantics are SCENARIO_FORMAT.md's, and each rule has a test:

* A market order fills at the touch in force when it reaches the exchange (BUY at
  the ask, SELL at the bid), up to the displayed size; the rest fills on later quotes.
* A resting limit fills at its limit, or better when the first quote that crosses
  it is better (a gap): the fill price is the touch that crossed it.
* A stop triggers when the quote crosses it and then fills like a market order at
  the first available price: after a gap that is the gapped price, never the trigger.
* Good-till-date orders expire at their expiry, and the expiry is reported.

Displayed size is consumed by fills within one quote and refreshed by the next.
"""
from __future__ import annotations

import random
from typing import Callable

import attrs
from sortedcontainers import SortedKeyList

from ..kernel.venue import ExecReport, ReportKind
from .engine import Engine


@attrs.define(slots=True, eq=False)
class XOrder:
    """The exchange's own record of an order (never the kernel's object)."""

    order_id: str
    idx: int
    role: str
    sign: int  # +1 buy, -1 sell
    qty: int
    otype: str  # MARKET | LIMIT | STOP
    price: int | None
    expire_ns: int | None
    seq: int = 0
    filled: int = 0
    working: bool = True
    triggered: bool = False

    @property
    def remaining(self) -> int:
        return self.qty - self.filled


@attrs.define
class Window:
    start: int
    end: int
    role: str | None = None

    def covers(self, t: int, role: str | None = None) -> bool:
        return self.start <= t < self.end and (self.role is None or self.role == role)


@attrs.define
class ExchangeFaults:
    rejects: list[Window] = attrs.Factory(list)
    no_fills: list[Window] = attrs.Factory(list)
    partial_max_qty: int | None = None
    duplicate_p: int = 0  # probability in 1/2**32 steps; drawn from the seeded fault RNG


class Book:
    __slots__ = ("idx", "symbol", "bid", "ask", "last", "avail_bid", "avail_ask", "has_quote",
                 "slippage",
                 "halted", "markets", "buy_limits", "sell_limits", "buy_stops", "sell_stops",
                 "active")

    def __init__(self, idx: int, symbol: str) -> None:
        self.idx = idx
        self.symbol = symbol
        self.bid = self.ask = self.last = 0
        self.avail_bid = self.avail_ask = 0
        self.has_quote = False
        self.halted = False
        self.markets: list[XOrder] = []
        self.buy_limits = SortedKeyList(key=lambda o: (-o.price, o.seq))
        self.sell_limits = SortedKeyList(key=lambda o: (o.price, o.seq))
        self.buy_stops = SortedKeyList(key=lambda o: (o.price, o.seq))
        self.sell_stops = SortedKeyList(key=lambda o: (-o.price, o.seq))
        self.active = 0  # working orders resting here
        self.slippage = 0  # price units a market order pays beyond the touch


ReportSink = Callable[[ExecReport], None]


def _slip(touch: int, sign: int, slippage: int) -> int:
    """The slippage model: a market order (or triggered stop) pays ``slippage`` beyond
    the touch, never through zero."""
    price = touch + sign * slippage
    return price if price > 0 else touch


class Exchange:
    def __init__(self, engine: Engine, symbols: list[str], faults: ExchangeFaults,
                 rng: random.Random, report: ReportSink) -> None:
        self.engine = engine
        self.books = [Book(i, s) for i, s in enumerate(symbols)]
        self.index = {s: i for i, s in enumerate(symbols)}
        self.faults = faults
        self.rng = rng
        self._report = report
        self.orders: dict[str, XOrder] = {}
        self._seq = 0
        self._exec = 0
        # the venue's own books of record: what reconciliation compares against
        self.positions = [0] * len(symbols)
        self.cash_delta = 0
        # the fills of resting stops (exits.venue_stop), the orders that fill with nobody
        # watching: the execution list a restarted kernel reads them back from
        self.stop_fills: list[ExecReport] = []
        # when a no_fill window closes the venue works again: orders that waited match
        # against the quote in force then, not only when the next quote happens to come
        for w in faults.no_fills:
            engine.call_at(w.end, self._rematch_all)

    # ------------------------------------------------------------ market data

    def on_tick(self, tick: tuple[int, ...]) -> None:
        book = self.books[tick[1]]
        book.bid = tick[2]
        book.ask = tick[3]
        book.last = tick[4]
        book.avail_bid = tick[5]
        book.avail_ask = tick[6]
        book.has_quote = True
        if book.active:
            self._match(book)

    def _rematch_all(self, _: object = None) -> None:
        for book in self.books:
            if book.active:
                self._match(book)

    def set_halted(self, idx: int, halted: bool) -> None:
        self.books[idx].halted = halted

    # ------------------------------------------------------------ order flow

    def arrive(self, xo: XOrder) -> None:
        """An order reaches the exchange (after the order-path latency)."""
        now = self.engine.now
        f = self.faults
        self._seq += 1
        xo.seq = self._seq
        self.orders[xo.order_id] = xo
        if xo.qty <= 0:
            return self._reject(xo, "quantity must be positive")
        if xo.otype in ("LIMIT", "STOP") and (xo.price is None or xo.price <= 0):
            return self._reject(xo, f"{xo.otype} order needs a positive price")
        for w in f.rejects:
            if w.covers(now, xo.role):
                return self._reject(xo, "rejected by venue (fault)")
        if xo.expire_ns is not None and xo.expire_ns <= now:
            return self._reject(xo, "expiry already passed")
        self._emit(ReportKind.ACCEPTED, xo)
        book = self.books[xo.idx]
        executed_now = False
        if xo.otype != "STOP" and self._can_trade(book, now):
            # marketable on arrival: execute against the quote in force before resting
            # (what _match would do next, without a round trip through the sorted book)
            touch = book.ask if xo.sign > 0 else book.bid
            if xo.otype == "MARKET" and book.slippage:
                touch = _slip(touch, xo.sign, book.slippage)
            if (xo.otype == "MARKET" or (xo.sign > 0 and xo.price >= touch)  # type: ignore[operator]
                    or (xo.sign < 0 and xo.price <= touch)):  # type: ignore[operator]
                executed_now = True  # its one turn at this quote, taken
                if self._fill(book, xo, touch, on_book=False):
                    return
        if xo.otype == "MARKET":
            book.markets.append(xo)
        elif xo.otype == "LIMIT":
            (book.buy_limits if xo.sign > 0 else book.sell_limits).add(xo)
        else:
            (book.buy_stops if xo.sign > 0 else book.sell_stops).add(xo)
        book.active += 1
        if xo.expire_ns is not None:
            self.engine.call_at(xo.expire_ns, self._expire, xo)
        if book.has_quote and not executed_now:
            self._match(book)

    def cancel_arrive(self, order_id: str) -> None:
        xo = self.orders.get(order_id)
        if xo is None or not xo.working:
            return  # already done: the kernel learns the outcome from that report
        self._remove(xo)
        self._emit(ReportKind.CANCELLED, xo, reason="cancelled")

    def _expire(self, xo: XOrder) -> None:
        if xo.working:
            self._remove(xo)
            self._emit(ReportKind.EXPIRED, xo, reason="good-till-date expiry")

    def _reject(self, xo: XOrder, reason: str) -> None:
        xo.working = False
        self.orders.pop(xo.order_id, None)
        self._emit(ReportKind.REJECTED, xo, reason=reason)

    def _remove(self, xo: XOrder) -> None:
        """Take a working order off the book (done orders are forgotten: memory stays flat)."""
        book = self.books[xo.idx]
        xo.working = False
        self.orders.pop(xo.order_id, None)
        book.active -= 1
        if xo.otype == "MARKET" or xo.triggered:
            book.markets.remove(xo)
        elif xo.otype == "LIMIT":
            (book.buy_limits if xo.sign > 0 else book.sell_limits).remove(xo)
        else:
            (book.buy_stops if xo.sign > 0 else book.sell_stops).remove(xo)

    # ------------------------------------------------------------ matching

    def _match(self, book: Book) -> None:
        if not self._can_trade(book, self.engine.now):
            return
        # stops first: a triggered stop joins the market queue in trigger order
        sell_stops = book.sell_stops
        while sell_stops and book.bid <= sell_stops[0].price:
            xo = sell_stops.pop(0)
            xo.triggered = True
            book.markets.append(xo)
        buy_stops = book.buy_stops
        while buy_stops and book.ask >= buy_stops[0].price:
            xo = buy_stops.pop(0)
            xo.triggered = True
            book.markets.append(xo)
        for xo in list(book.markets):
            price = book.ask if xo.sign > 0 else book.bid
            if book.slippage:
                price = _slip(price, xo.sign, book.slippage)
            self._fill(book, xo, price)
        # resting limits in price-time priority, each at most one fill per quote (the
        # partial_fill cap applies per report, so a capped order must not starve the
        # next one while displayed size remains)
        buys = book.buy_limits
        if buys and book.avail_ask > 0 and buys[0].price >= book.ask:
            ask = book.ask
            for xo in [o for o in buys.irange_key(max_key=(-ask, float("inf")))]:
                if book.avail_ask <= 0:
                    break
                self._fill(book, xo, ask)
        sells = book.sell_limits
        if sells and book.avail_bid > 0 and sells[0].price <= book.bid:
            bid = book.bid
            for xo in [o for o in sells.irange_key(max_key=(bid, float("inf")))]:
                if book.avail_bid <= 0:
                    break
                self._fill(book, xo, bid)

    def _can_trade(self, book: Book, now: int) -> bool:
        if book.halted or not book.has_quote:
            return False
        for w in self.faults.no_fills:
            if w.covers(now):
                return False
        return True

    def _fill(self, book: Book, xo: XOrder, price: int, on_book: bool = True) -> bool:
        """Fill what the displayed size allows; True when the order completed."""
        avail = book.avail_ask if xo.sign > 0 else book.avail_bid
        qty = min(xo.remaining, avail)
        cap = self.faults.partial_max_qty
        if cap is not None and qty > cap:
            qty = cap
        if qty <= 0 or price <= 0:
            return False
        if xo.sign > 0:
            book.avail_ask -= qty
        else:
            book.avail_bid -= qty
        xo.filled += qty
        self.positions[book.idx] += xo.sign * qty
        self.cash_delta -= xo.sign * qty * price
        done = xo.filled == xo.qty
        if done:
            if on_book:
                self._remove(xo)
            else:
                xo.working = False
                self.orders.pop(xo.order_id, None)
        self._exec += 1
        self._emit(ReportKind.FILL, xo, qty=qty, price=price, exec_id=f"X{self._exec}")
        if xo.otype == "STOP":
            self.stop_fills.append(ExecReport(ReportKind.FILL, xo.order_id, self.engine.now,
                                              qty, price, "", f"X{self._exec}"))
        return done

    def _emit(self, kind: ReportKind, xo: XOrder, *, qty: int = 0, price: int = 0,
              reason: str = "", exec_id: str = "") -> None:
        report = ExecReport(kind, xo.order_id, self.engine.now, qty, price, reason, exec_id)
        self._report(report)
        if self.faults.duplicate_p and self.rng.getrandbits(32) < self.faults.duplicate_p:
            self._report(report)
