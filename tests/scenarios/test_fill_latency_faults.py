"""Simulated fill semantics on the order and data paths: latency through
``SimVenue``, and the exchange's faults (reject and no-fill windows, partial fills,
duplicate reports, disconnects, slippage)."""
from __future__ import annotations

from decimal import Decimal

from conftest import dec, px, secs
from fill_support import Fill, Harness, quote_tick, sim_order, venue_world
from triotrade.kernel.orders import OrderType, Side
from triotrade.kernel.venue import ExecReport, ReportKind, VenueError
from triotrade.sim import runner, scenario
from triotrade.sim.exchange import ExchangeFaults, Window
from triotrade.sim.venue import Latency, SimVenue


# ------------------------------------------------------------------ latency (SimVenue)


async def test_order_latency_delays_arrival_to_the_quote_then_in_force() -> None:
    ticks = [quote_tick(0, "99.98", "100.02"), quote_tick(1.02, "100.48", "100.52"),
             quote_tick(1.2, "101.00", "101.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(sim_order("L1", Side.BUY, 10))

    sink, _ = await venue_world(Latency(order=50 * 10**6, report=20 * 10**6), ticks,
                                 [(1, send)])
    fills = [(t, r.ts_ns, dec(r.price)) for t, r in sink.reports if r.kind is ReportKind.FILL]
    # reaches the exchange at 1.050s: the quote in force then is the 1.02s one;
    # the kernel hears of it 20ms later
    assert fills == [(secs(1.07), secs(1.05), Decimal("100.52"))]
    acks = [(t, r.ts_ns) for t, r in sink.reports if r.kind is ReportKind.ACCEPTED]
    assert acks == [(secs(1.07), secs(1.05))]


async def test_zero_latency_fills_on_the_quote_at_submission() -> None:
    ticks = [quote_tick(0, "99.98", "100.02"), quote_tick(1.02, "100.48", "100.52")]

    async def send(v: SimVenue) -> None:
        await v.submit(sim_order("L1", Side.BUY, 10))

    sink, _ = await venue_world(Latency(), ticks, [(1, send)])
    fills = [(t, dec(r.price)) for t, r in sink.reports if r.kind is ReportKind.FILL]
    assert fills == [(secs(1), Decimal("100.02"))]


async def test_cancel_latency_lets_a_fill_win_the_race() -> None:
    ticks = [quote_tick(0, "99.98", "100.02"), quote_tick(1.03, "99.00", "99.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(sim_order("L1", Side.BUY, 10, OrderType.LIMIT, "99.50"))

    async def cancel(v: SimVenue) -> None:
        await v.cancel("L1")

    sink, _ = await venue_world(Latency(order=50 * 10**6), ticks, [(0.5, send), (1, cancel)])
    kinds = [r.kind.value for _, r in sink.reports]
    # the cancel is sent at 1.00s but only arrives at 1.05s: the 1.03s quote filled it
    assert kinds == ["ACCEPTED", "FILL"]


async def test_data_latency_delays_quotes_to_kernel_not_exchange() -> None:
    ticks = [quote_tick(0, "99.98", "100.02"), quote_tick(2, "98.98", "99.02")]

    async def send(v: SimVenue) -> None:
        await v.submit(sim_order("L1", Side.SELL, 10))

    sink, _ = await venue_world(Latency(data=500 * 10**6), ticks, [(2.1, send)])
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
    ticks = [quote_tick(0, "99.98", "100.02"), quote_tick(3, "99.00", "99.02"),
             quote_tick(6, "98.00", "98.02")]
    errors: list[str] = []

    async def send(v: SimVenue) -> None:
        await v.submit(sim_order("A", Side.BUY, 10, OrderType.LIMIT, "99.02"))

    async def down(v: SimVenue) -> None:
        v.set_down()

    async def refused(v: SimVenue) -> None:
        try:
            await v.submit(sim_order("B", Side.BUY, 10))
        except VenueError as exc:
            errors.append(str(exc))

    async def up(v: SimVenue) -> None:
        v.set_up()

    sink, _ = await venue_world(Latency(), ticks,
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
