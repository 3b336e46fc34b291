"""Shared rigs for the simulated-fill-semantics tests (tests/scenarios/test_fill_*.py).

``Harness`` drives ``sim.exchange.Exchange`` directly on an ``Engine`` with explicit
quotes and orders arriving at given times, so every fill price is known exactly.
``venue_world`` puts a ``SimVenue`` (latency, disconnects) between the exchange and a
recording sink, for the rules that concern the order and data paths.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import attrs
import trio
import trio.testing

from conftest import dec, px, secs
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.orders import Order, OrderType, Role, Side
from triotrade.kernel.venue import ExecReport, ReportKind
from triotrade.sim.engine import Engine
from triotrade.sim.exchange import Exchange, ExchangeFaults, XOrder
from triotrade.sim.venue import Latency, SimVenue

DEPTH = 1_000_000


@attrs.frozen
class Fill:
    t: int
    qty: int
    price: Decimal


class Harness:
    """One instrument (ACME), explicit quotes, orders arriving at given times."""

    def __init__(self, faults: ExchangeFaults | None = None, seed: int = 0) -> None:
        self.engine = Engine()
        self.reports: list[ExecReport] = []
        self.ex = Exchange(self.engine, ["ACME"], faults or ExchangeFaults(),
                           random.Random(seed), self.reports.append)
        self.ticks: list[tuple[int, ...]] = []
        self._n = 0

    def quote(self, t: float, bid: str, ask: str, bid_size: int = DEPTH,
              ask_size: int = DEPTH, last: str | None = None) -> None:
        ts = secs(t)
        assert not self.ticks or self.ticks[-1][0] <= ts
        b, a = px(bid), px(ask)
        self.ticks.append((ts, 0, b, a, px(last) if last else (b + a) // 2, bid_size, ask_size))

    def order(self, t: float, side: str, qty: int, otype: str = "MARKET",
              price: str | None = None, expire: float | None = None,
              role: str = "ENTRY") -> str:
        self._n += 1
        oid = f"T{self._n}"
        xo = XOrder(oid, 0, role, 1 if side == "BUY" else -1, qty, otype,
                    px(price) if price is not None else None,
                    secs(expire) if expire is not None else None)
        self.engine.call_at(secs(t), self.ex.arrive, xo)
        return oid

    def cancel(self, t: float, oid: str) -> None:
        self.engine.call_at(secs(t), self.ex.cancel_arrive, oid)

    async def run(self, horizon: float = 60) -> None:
        await self.engine.run(iter(self.ticks), self.ex.on_tick, secs(horizon))

    def of(self, oid: str, kind: ReportKind | None = None) -> list[ExecReport]:
        return [r for r in self.reports
                if r.order_id == oid and (kind is None or r.kind is kind)]

    def fills(self, oid: str) -> list[Fill]:
        return [Fill(r.ts_ns, r.qty, dec(r.price)) for r in self.of(oid, ReportKind.FILL)]

    def kinds(self, oid: str) -> list[str]:
        return [r.kind.value for r in self.of(oid)]


class Sink:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reports: list[tuple[int, ExecReport]] = []
        self.quotes: list[tuple[int, int, int]] = []
        self.connection: list[tuple[int, bool]] = []

    def on_report(self, report: ExecReport) -> None:
        self.reports.append((self.engine.now, report))

    def on_connection(self, up: bool, reason: str) -> None:
        self.connection.append((self.engine.now, up))

    def on_quote(self, ts: int, bid: int, ask: int, last: int, bs: int, asz: int) -> None:
        self.quotes.append((ts, bid, ask))


async def venue_world(latency: Latency, ticks: list[tuple[int, ...]],
                       actions: list[tuple[float, Any]], horizon: float = 30,
                       faults: ExchangeFaults | None = None) -> tuple[Sink, SimVenue]:
    engine = Engine()
    box: list[SimVenue] = []
    ex = Exchange(engine, ["ACME"], faults or ExchangeFaults(), random.Random(0),
                  lambda r: box[0].on_exchange_report(r))
    inst = Instrument("ACME", Decimal("0.01"))
    venue = SimVenue(engine, ex, {"ACME": inst}, latency, px("1000000"))
    box.append(venue)
    sink = Sink(engine)
    await venue.connect(sink)
    await venue.subscribe(inst, sink.on_quote)

    async def client() -> None:
        for t, act in actions:
            await engine.sleep_until(secs(t))
            await act(venue)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(client)
        await trio.testing.wait_all_tasks_blocked()
        await engine.run(iter(ticks), venue.deliver_tick, secs(horizon))
        nursery.cancel_scope.cancel()
    return sink, venue


def quote_tick(t: float, bid: str, ask: str, size: int = DEPTH) -> tuple[int, ...]:
    b, a = px(bid), px(ask)
    return (secs(t), 0, b, a, (b + a) // 2, size, size)


def sim_order(oid: str, side: Side, qty: int, otype: OrderType = OrderType.MARKET,
           price: str | None = None) -> Order:
    return Order(oid, "ACME", Role.ENTRY, side, qty, otype,
                 px(price) if price is not None else None)

