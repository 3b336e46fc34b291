"""SCENARIO_FORMAT.md "Simulated fill semantics", one test (or a few) per rule.

Most tests drive ``sim.exchange.Exchange`` directly on an ``Engine`` with explicit
quotes and collect its execution reports, so every price is known exactly. The
latency rule goes through ``SimVenue``; the gap-through-stop rule is also checked
end to end through ``runner.run`` with the kernel's own stop-loss.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from conftest import dec, px, secs
from triotrade.kernel.orders import Order, OrderType, Role, Side
from triotrade.kernel.venue import ExecReport, ReportKind, VenueError
from triotrade.sim import runner, scenario
from triotrade.sim.engine import Engine
from triotrade.sim.exchange import Exchange, ExchangeFaults, Window, XOrder
from triotrade.sim.venue import Latency, SimVenue
from triotrade.kernel.instruments import Instrument

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


# ------------------------------------------------------------------ market orders


async def test_market_buy_fills_at_ask_in_force_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    h.quote(2, "99.50", "99.60")  # a later, better quote must not be used
    oid = h.order(1, "BUY", 100)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 100, Decimal("100.02"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL"]


async def test_market_sell_fills_at_bid_in_force_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    h.quote(2, "101.00", "101.02")
    oid = h.order(1, "SELL", 100)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 100, Decimal("99.98"))]


async def test_market_uses_quote_in_force_not_last_trade() -> None:
    h = Harness()
    h.quote(0, "99.90", "100.10", last="95.00")
    buy = h.order(1, "BUY", 10)
    sell = h.order(1, "SELL", 10)
    await h.run()
    assert [f.price for f in h.fills(buy)] == [Decimal("100.10")]
    assert [f.price for f in h.fills(sell)] == [Decimal("99.90")]


async def test_market_fills_up_to_displayed_size_rest_on_later_quotes() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=30)
    h.quote(2, "100.00", "100.05", ask_size=50)
    h.quote(3, "100.05", "100.10", ask_size=1000)
    h.quote(4, "100.20", "100.30", ask_size=1000)
    oid = h.order(1, "BUY", 100)
    await h.run()
    assert h.fills(oid) == [
        Fill(secs(1), 30, Decimal("100.02")),
        Fill(secs(2), 50, Decimal("100.05")),
        Fill(secs(3), 20, Decimal("100.10")),
    ]


async def test_displayed_size_is_shared_within_one_quote() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", bid_size=25)
    h.quote(5, "99.90", "100.00", bid_size=100)
    first = h.order(1, "SELL", 20)
    second = h.order(1, "SELL", 20)
    await h.run()
    assert h.fills(first) == [Fill(secs(1), 20, Decimal("99.98"))]
    # only 5 left displayed at 99.98; the other 15 wait for the next quote
    assert h.fills(second) == [Fill(secs(1), 5, Decimal("99.98")),
                               Fill(secs(5), 15, Decimal("99.90"))]


async def test_market_order_before_any_quote_fills_on_first_quote() -> None:
    h = Harness()
    oid = h.order(1, "BUY", 10)
    h.quote(3, "50.00", "50.05")
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 10, Decimal("50.05"))]


# ------------------------------------------------------------------ limit orders


async def test_resting_buy_limit_fills_at_its_limit_when_touched() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 100, "LIMIT", "99.50")
    h.quote(2, "99.49", "99.51")  # not yet: ask above the limit
    h.quote(3, "99.48", "99.50")  # touches
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 100, Decimal("99.50"))]


async def test_resting_buy_limit_fills_better_when_first_crossing_quote_gapped() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 100, "LIMIT", "99.50")
    h.quote(2, "96.98", "97.02")  # gap straight through the limit
    h.quote(3, "99.40", "99.50")
    await h.run()
    assert h.fills(oid) == [Fill(secs(2), 100, Decimal("97.02"))]


async def test_resting_sell_limit_at_limit_and_better_on_gap() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    at = h.order(1, "SELL", 10, "LIMIT", "101.00")
    gapped = h.order(1, "SELL", 10, "LIMIT", "102.00")
    h.quote(2, "101.00", "101.02")  # touches the first only
    h.quote(3, "105.00", "105.02")  # gaps through the second
    await h.run()
    assert h.fills(at) == [Fill(secs(2), 10, Decimal("101.00"))]
    assert h.fills(gapped) == [Fill(secs(3), 10, Decimal("105.00"))]


async def test_marketable_limit_fills_at_the_touch_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 10, "LIMIT", "100.50")
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("100.02"))]


async def test_limit_never_fills_through_its_price() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=10)
    oid = h.order(1, "BUY", 30, "LIMIT", "100.02")
    h.quote(2, "100.02", "100.04")  # ask moved away: nothing
    h.quote(3, "99.99", "100.01", ask_size=5)
    h.quote(4, "99.99", "100.02", ask_size=1000)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("100.02")),
                            Fill(secs(3), 5, Decimal("100.01")),
                            Fill(secs(4), 15, Decimal("100.02"))]
    assert all(f.price <= Decimal("100.02") for f in h.fills(oid))


async def test_limit_price_time_priority() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    early = h.order(1, "BUY", 10, "LIMIT", "99.00")
    late = h.order(2, "BUY", 10, "LIMIT", "99.00")
    best = h.order(3, "BUY", 10, "LIMIT", "99.50")
    h.quote(4, "98.90", "99.00", ask_size=15)
    h.quote(5, "98.90", "99.00", ask_size=15)
    await h.run()
    assert h.fills(best) == [Fill(secs(4), 10, Decimal("99.00"))]
    assert h.fills(early) == [Fill(secs(4), 5, Decimal("99.00")),
                              Fill(secs(5), 5, Decimal("99.00"))]
    assert h.fills(late) == [Fill(secs(5), 10, Decimal("99.00"))]


# ------------------------------------------------------------------ stops


async def test_sell_stop_triggers_on_touch_and_fills_at_first_available_price() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "98.01", "98.03")  # not crossed
    h.quote(3, "98.00", "98.02")  # touches the trigger
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 100, Decimal("98.00"))]


async def test_sell_stop_gapped_through_fills_at_gapped_price_not_trigger() -> None:
    h = Harness()
    h.quote(0, "99.48", "99.52")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(120, "91.98", "92.02")  # the gap: straight through 98.00
    h.quote(121, "98.50", "98.52")  # even if it comes back
    await h.run(300)
    fills = h.fills(oid)
    assert fills == [Fill(secs(120), 100, Decimal("91.98"))]
    assert all(f.price != Decimal("98.00") for f in fills)


async def test_buy_stop_gapped_through_fills_at_gapped_ask() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 50, "STOP", "102.00")
    h.quote(2, "101.98", "101.99")  # below the trigger
    h.quote(3, "107.98", "108.02")
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 50, Decimal("108.02"))]


async def test_triggered_stop_fills_like_market_against_displayed_size() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "92.00", "92.02", bid_size=30)
    h.quote(3, "91.50", "91.52", bid_size=1000)
    await h.run()
    # after the trigger it is a market order: it keeps filling even above the trigger
    # would be impossible here, and it never waits for the trigger price to come back
    assert h.fills(oid) == [Fill(secs(2), 30, Decimal("92.00")),
                            Fill(secs(3), 70, Decimal("91.50"))]


async def test_stop_arriving_already_crossed_triggers_at_once() -> None:
    h = Harness()
    h.quote(0, "95.00", "95.02")
    oid = h.order(1, "SELL", 10, "STOP", "98.00")
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("95.00"))]


async def test_untriggered_stop_never_fills() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 10, "STOP", "98.00")
    h.quote(2, "98.01", "98.03")
    await h.run()
    assert h.fills(oid) == []
    assert h.kinds(oid) == ["ACCEPTED"]


async def test_cancel_triggered_stop_with_remainder() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "97.00", "97.02", bid_size=40)
    h.cancel(3, oid)
    h.quote(4, "96.00", "96.02")
    await h.run()
    assert h.fills(oid) == [Fill(secs(2), 40, Decimal("97.00"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL", "CANCELLED"]


def test_kernel_stop_loss_gapped_through_fills_at_gapped_price() -> None:
    """End to end: the kernel's 2% stop on a long, the price gaps 8% down through it."""
    scn = scenario.loads(
        """
version: 1
name: gap-through-stop-exact
seed: 7
duration: 5m
instruments: [{symbol: ACME, tick_size: "0.01"}]
config: {exits: {stop_loss: "2%"}}
market:
  ACME:
    spread: "0.02"
    depth: 500
    ticks:
      - {t: 0s, last: "100.00"}
      - {t: 60s, last: "99.50"}
    gaps: [{t: 120s, pct: -8}]
signals: [{t: 1s, symbol: ACME, side: BUY}]
""", "gap.yaml")
    res = runner.run(scn)
    fills = [e for e in res.events if e["type"] == "fill"]
    entry = [e for e in fills if e["role"] == "ENTRY"]
    stop = [e for e in fills if e["role"] == "STOP_LOSS"]
    assert [Decimal(e["price"]) for e in entry] == [Decimal("100.01")]
    # stop level: 100.01 - 2% = 98.0098; 99.50 * 0.92 = 91.54 -> bid 91.53
    assert [(e["ts_ns"] >= secs(120), Decimal(e["price"]), e["qty"]) for e in stop] == [
        (True, Decimal("91.53"), "100")]
    assert stop[0]["ts_ns"] < secs(121)
    assert res.final_positions == {"ACME": 0}
    assert res.violations == []


# ------------------------------------------------------------------ good-till-date


async def test_gtd_expiry_is_reported_at_expiry() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 10, "LIMIT", "99.00", expire=6)
    h.quote(5, "99.48", "99.50")
    h.quote(6, "98.98", "99.00")  # would fill, but the order expired at 6s
    await h.run()
    exp = h.of(oid, ReportKind.EXPIRED)
    assert [(r.ts_ns, r.qty) for r in exp] == [(secs(6), 0)]
    assert exp[0].reason
    assert h.fills(oid) == []
    assert h.kinds(oid) == ["ACCEPTED", "EXPIRED"]


async def test_gtd_partially_filled_remainder_expires() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=4)
    oid = h.order(1, "BUY", 10, "LIMIT", "100.02", expire=3)
    h.quote(5, "99.98", "100.02", ask_size=1000)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 4, Decimal("100.02"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL", "EXPIRED"]
    assert h.of(oid, ReportKind.EXPIRED)[0].ts_ns == secs(3)


async def test_filled_order_does_not_expire_and_gtd_in_past_is_rejected() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    filled = h.order(1, "BUY", 10, "LIMIT", "100.02", expire=3)
    stale = h.order(4, "BUY", 10, "LIMIT", "100.02", expire=4)
    await h.run()
    assert h.kinds(filled) == ["ACCEPTED", "FILL"]
    assert h.kinds(stale) == ["REJECTED"]


async def test_gtd_market_order_expires_unfilled_when_no_size() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=0)
    oid = h.order(1, "BUY", 10, expire=2)
    h.quote(3, "99.98", "100.02", ask_size=100)
    await h.run()
    assert h.kinds(oid) == ["ACCEPTED", "EXPIRED"]


# ------------------------------------------------------------------ latency (SimVenue)


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


async def _venue_world(latency: Latency, ticks: list[tuple[int, ...]],
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


def _tick(t: float, bid: str, ask: str, size: int = DEPTH) -> tuple[int, ...]:
    b, a = px(bid), px(ask)
    return (secs(t), 0, b, a, (b + a) // 2, size, size)


def _order(oid: str, side: Side, qty: int, otype: OrderType = OrderType.MARKET,
           price: str | None = None) -> Order:
    return Order(oid, "ACME", Role.ENTRY, side, qty, otype,
                 px(price) if price is not None else None)


async def test_order_latency_delays_arrival_to_the_quote_then_in_force() -> None:
    ticks = [_tick(0, "99.98", "100.02"), _tick(1.02, "100.48", "100.52"),
             _tick(1.2, "101.00", "101.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(_order("L1", Side.BUY, 10))

    sink, _ = await _venue_world(Latency(order=50 * 10**6, report=20 * 10**6), ticks,
                                 [(1, send)])
    fills = [(t, r.ts_ns, dec(r.price)) for t, r in sink.reports if r.kind is ReportKind.FILL]
    # reaches the exchange at 1.050s: the quote in force then is the 1.02s one;
    # the kernel hears of it 20ms later
    assert fills == [(secs(1.07), secs(1.05), Decimal("100.52"))]
    acks = [(t, r.ts_ns) for t, r in sink.reports if r.kind is ReportKind.ACCEPTED]
    assert acks == [(secs(1.07), secs(1.05))]


async def test_zero_latency_fills_on_the_quote_at_submission() -> None:
    ticks = [_tick(0, "99.98", "100.02"), _tick(1.02, "100.48", "100.52")]

    async def send(v: SimVenue) -> None:
        await v.submit(_order("L1", Side.BUY, 10))

    sink, _ = await _venue_world(Latency(), ticks, [(1, send)])
    fills = [(t, dec(r.price)) for t, r in sink.reports if r.kind is ReportKind.FILL]
    assert fills == [(secs(1), Decimal("100.02"))]


async def test_cancel_latency_lets_a_fill_win_the_race() -> None:
    ticks = [_tick(0, "99.98", "100.02"), _tick(1.03, "99.00", "99.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(_order("L1", Side.BUY, 10, OrderType.LIMIT, "99.50"))

    async def cancel(v: SimVenue) -> None:
        await v.cancel("L1")

    sink, _ = await _venue_world(Latency(order=50 * 10**6), ticks, [(0.5, send), (1, cancel)])
    kinds = [r.kind.value for _, r in sink.reports]
    # the cancel is sent at 1.00s but only arrives at 1.05s: the 1.03s quote filled it
    assert kinds == ["ACCEPTED", "FILL"]


async def test_data_latency_delays_quotes_to_kernel_not_exchange() -> None:
    ticks = [_tick(0, "99.98", "100.02"), _tick(2, "98.98", "99.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(_order("L1", Side.SELL, 10))

    sink, _ = await _venue_world(Latency(data=500 * 10**6), ticks, [(2.1, send)])
    assert [(t, dec(b)) for t, b, _ in sink.quotes] == [(secs(0.5), Decimal("99.98")),
                                                        (secs(2.5), Decimal("98.98"))]
    # the exchange already trades on the 2s quote when the kernel still sees the old one
    fills = [dec(r.price) for _, r in sink.reports if r.kind is ReportKind.FILL]
    assert fills == [Decimal("98.98")]


# ------------------------------------------------------------------ faults


async def test_reject_fault_window_by_role_half_open() -> None:
    f = ExchangeFaults(rejects=[Window(secs(10), secs(20), "EXIT")])
    h = Harness(f)
    h.quote(0, "99.98", "100.02")
    before = h.order(9, "SELL", 1, role="EXIT")
    inside = h.order(10, "SELL", 1, role="EXIT")
    other_role = h.order(15, "SELL", 1, role="STOP_LOSS")
    at_end = h.order(20, "SELL", 1, role="EXIT")
    await h.run()
    assert h.kinds(before) == ["ACCEPTED", "FILL"]
    assert h.kinds(inside) == ["REJECTED"]
    assert h.of(inside)[0].ts_ns == secs(10)
    assert h.kinds(other_role) == ["ACCEPTED", "FILL"]
    assert h.kinds(at_end) == ["ACCEPTED", "FILL"]


async def test_reject_fault_without_role_rejects_everything() -> None:
    h = Harness(ExchangeFaults(rejects=[Window(0, secs(30))]))
    h.quote(0, "99.98", "100.02")
    oids = [h.order(1, "BUY", 1, role=r) for r in ("ENTRY", "EXIT", "EMERGENCY_EXIT")]
    await h.run()
    assert [h.kinds(o) for o in oids] == [["REJECTED"]] * 3


async def test_no_fill_fault_accepts_but_fills_nothing_in_window() -> None:
    h = Harness(ExchangeFaults(no_fills=[Window(secs(10), secs(20))]))
    h.quote(0, "99.98", "100.02")
    mkt = h.order(11, "BUY", 10)
    h.quote(12, "100.98", "101.02")
    h.quote(19, "101.98", "102.02")
    h.quote(21, "102.98", "103.02")
    await h.run()
    assert h.kinds(mkt)[0] == "ACCEPTED"
    fills = h.fills(mkt)
    assert all(not secs(10) <= f.t < secs(20) for f in fills)
    assert sum(f.qty for f in fills) == 10


async def test_no_fill_window_end_resumes_on_quote_in_force() -> None:
    """After the window the venue works again: a waiting market order fills on the
    quote in force when the window ends, not only when the next quote happens to come."""
    h = Harness(ExchangeFaults(no_fills=[Window(secs(10), secs(20))]))
    h.quote(0, "99.98", "100.02")
    h.quote(15, "100.98", "101.02")
    mkt = h.order(11, "BUY", 10)
    await h.run()
    assert h.fills(mkt) == [Fill(secs(20), 10, Decimal("101.02"))]


async def test_partial_fill_fault_caps_each_fill_report() -> None:
    h = Harness(ExchangeFaults(partial_max_qty=10))
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 25)
    for i, ask in enumerate(("100.04", "100.06", "100.08")):
        h.quote(2 + i, "99.98", ask)
    await h.run()
    fills = h.fills(oid)
    assert [f.qty for f in fills] == [10, 10, 5]
    assert all(f.qty <= 10 for f in fills)
    assert [f.price for f in fills] == [Decimal("100.02"), Decimal("100.04"), Decimal("100.06")]
    assert h.kinds(oid)[-1] == "FILL" and len(h.of(oid, ReportKind.EXPIRED)) == 0


async def test_partial_fill_fault_still_bounded_by_displayed_size() -> None:
    h = Harness(ExchangeFaults(partial_max_qty=10))
    h.quote(0, "99.98", "100.02", ask_size=3)
    h.quote(2, "99.98", "100.02", ask_size=100)
    oid = h.order(1, "BUY", 13)
    await h.run()
    assert [(f.t, f.qty) for f in h.fills(oid)] == [(secs(1), 3), (secs(2), 10)]


async def test_partial_fill_fault_fills_every_crossing_limit_not_only_the_first() -> None:
    """Each fill report is capped, but a second resting order crossed by the same quote
    still gets its own (capped) fill while displayed size remains."""
    h = Harness(ExchangeFaults(partial_max_qty=10))
    h.quote(0, "99.98", "100.02")
    first = h.order(1, "BUY", 30, "LIMIT", "99.50")
    second = h.order(1, "BUY", 30, "LIMIT", "99.50")
    third = h.order(1, "SELL", 30, "LIMIT", "101.00")
    h.quote(2, "99.40", "99.50", ask_size=15)
    h.quote(3, "99.40", "99.50", ask_size=1000)
    await h.run()
    assert [(f.t, f.qty) for f in h.fills(first)] == [(secs(2), 10), (secs(3), 10)]
    assert [(f.t, f.qty) for f in h.fills(second)] == [(secs(2), 5), (secs(3), 10)]
    assert h.fills(third) == []


async def test_duplicate_reports_p1_delivers_every_report_twice() -> None:
    h = Harness(ExchangeFaults(duplicate_p=1 << 32))
    h.quote(0, "99.98", "100.02", ask_size=5)
    h.quote(2, "99.98", "100.03")
    oid = h.order(1, "BUY", 10)
    await h.run()
    reps = h.of(oid)
    assert [r.kind.value for r in reps] == ["ACCEPTED", "ACCEPTED", "FILL", "FILL", "FILL", "FILL"]
    assert reps[2] == reps[3] and reps[4] == reps[5]
    assert reps[2].exec_id and reps[2].exec_id != reps[4].exec_id


async def test_duplicate_reports_p0_and_seeded_fraction() -> None:
    async def run(seed: int, p: int) -> list[ExecReport]:
        h = Harness(ExchangeFaults(duplicate_p=p), seed=seed)
        h.quote(0, "99.98", "100.02")
        for i in range(200):
            h.order(1 + i / 100, "BUY", 1)
        await h.run()
        return h.reports

    none = await run(1, 0)
    assert len(none) == 400 and len({(r.order_id, r.kind) for r in none}) == 400
    half_a = await run(1, 1 << 31)
    half_b = await run(1, 1 << 31)
    other = await run(2, 1 << 31)
    assert half_a == half_b  # seeded: the same duplicates every time
    assert 400 < len(half_a) < 800
    assert half_a != other
    # a duplicate is the identical report, including a fill's exec_id
    for a, b in zip(half_a, half_a[1:]):
        if a.kind is b.kind and a.order_id == b.order_id:
            assert a == b


def test_kernel_ignores_duplicate_fill_reports() -> None:
    scn = scenario.loads(
        """
version: 1
name: dup
seed: 3
duration: 60s
instruments: [{symbol: ACME, tick_size: "0.01"}]
market: {ACME: {spread: "0.02", ticks: [{t: 0s, last: "100.00"}]}}
signals: [{t: 1s, symbol: ACME, side: BUY}, {t: 30s, symbol: ACME, side: EXIT}]
faults: [{kind: duplicate_reports, p: 1}]
expect: {final_position: {ACME: 0}}
""", "dup.yaml")
    res = runner.run(scn)
    assert res.ok, [c for c in res.checks if not c.ok] + res.violations
    fills = [e for e in res.events if e["type"] == "fill"]
    assert [(e["role"], e["qty"]) for e in fills] == [("ENTRY", "100"), ("EXIT", "100")]
    assert any(e["type"] == "report_duplicate" for e in res.events)


async def test_disconnect_refuses_orders_and_holds_reports_until_reconnect() -> None:
    ticks = [_tick(0, "99.98", "100.02"), _tick(3, "99.00", "99.02"),
             _tick(6, "98.00", "98.02")]
    errors: list[str] = []

    async def send(v: SimVenue) -> None:
        await v.submit(_order("A", Side.BUY, 10, OrderType.LIMIT, "99.02"))

    async def down(v: SimVenue) -> None:
        v.set_down()

    async def refused(v: SimVenue) -> None:
        try:
            await v.submit(_order("B", Side.BUY, 10))
        except VenueError as exc:
            errors.append(str(exc))

    async def up(v: SimVenue) -> None:
        v.set_up()

    sink, _ = await _venue_world(Latency(), ticks,
                                 [(1, send), (2, down), (4, refused), (5, up)])
    assert errors and "down" in errors[0]
    # the fill at 3s happened at the exchange but reached the sink only on reconnect
    got = [(t, r.kind.value, r.ts_ns) for t, r in sink.reports]
    assert got == [(secs(1), "ACCEPTED", secs(1)), (secs(5), "FILL", secs(3))]
    assert sink.connection == [(secs(2), False), (secs(5), True)]
    # no quotes while down (the 3s quote never reached the sink as a tick)
    assert not [t for t, _, _ in sink.quotes if secs(2) <= t < secs(5)]
    assert sink.quotes[0] == (0, px("99.98"), px("100.02"))
    assert sink.quotes[-1] == (secs(6), px("98.00"), px("98.02"))
    # anything delivered at the reconnect is the quote in force then, not a stale one
    assert all((b, a) == (px("99.00"), px("99.02")) for t, b, a in sink.quotes if t == secs(5))


def test_slippage_model_applies_to_market_orders_only() -> None:
    """The exchange's slippage model (an addition to v1): market orders and triggered
    stops pay ``slippage_ticks`` beyond the touch; limits never trade through their price."""
    from triotrade.sim import runner, scenario

    def run(slip: int) -> list[dict]:
        scn = scenario.from_dict({
            "version": 1, "name": "slip", "duration": "30s",
            "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
            "config": {"exits": {"stop_loss": "2%"}, "monitor": {"stale_after": "5m"}},
            "market": {"ACME": {"spread": "0.02", "slippage_ticks": slip,
                                "ticks": [{"t": "0s", "last": "100.00"},
                                          {"t": "10s", "last": "90.00"}]}},
            "signals": [{"t": "1s", "symbol": "ACME", "side": "BUY"}],
        })
        return [e for e in runner.run(scn).events if e["type"] == "fill"]

    plain, slipped = run(0), run(3)
    # the entry is a marketable LIMIT at the ask: no slippage
    assert plain[0]["price"] == slipped[0]["price"] == "100.01"
    # the stop exit is a MARKET sell at the gapped bid (89.99), minus 3 ticks
    assert plain[1]["price"] == "89.99" and slipped[1]["price"] == "89.96"
