"""A served scenario suffers the faults ``triotrade run`` applies: one builder for both.

``sim.faults.build_faults`` is the one reading of a scenario's fault list; the runner
and ``gateways.realtime.RealtimeMarket`` both call it. Here the realtime driver runs on
trio's MockClock (virtual seconds, no waiting) and is shown to delay orders and
reports by the scenario's latency, to call outage listeners for each (merged)
disconnect window, and to hold t=0 until ``start()`` with ``start_on_connect``.
"""
from __future__ import annotations

from typing import Any

import trio
import trio.testing

from triotrade.gateways.realtime import RealtimeMarket
from triotrade.kernel.units import NS_PER_S
from triotrade.kernel.venue import ReportKind
from triotrade.sim import scenario as scenario_mod
from triotrade.sim.exchange import Window
from triotrade.sim.faults import build_faults
from triotrade.sim.venue import Latency

MS = NS_PER_S // 1000


def _scenario(faults: list[dict[str, Any]]) -> scenario_mod.Scenario:
    return scenario_mod.from_dict({
        "version": 1, "name": "served-faults", "seed": 1, "duration": "10s",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
        "market": {"ACME": {"spread": "0.02", "depth": 1000,
                            "ticks": [{"t": "0s", "last": "100.00"},
                                      {"t": "5s", "last": "101.00"}]}},
        "faults": faults,
    }, "<served-faults>")


ALL_FAULTS = [
    {"kind": "latency", "order": "20ms", "report": "10ms", "data": "5ms"},
    {"kind": "reject", "t": "1s", "for": "1s"},
    {"kind": "no_fill", "t": "3s", "for": "1s"},
    {"kind": "partial_fill", "max_qty": 10},
    {"kind": "duplicate_reports", "p": 0.5},
    {"kind": "disconnect", "t": "6s", "for": "1s"},
    {"kind": "disconnect", "t": "6500ms", "for": "1s"},
]


def test_one_builder_reads_every_fault_kind() -> None:
    plan = build_faults(_scenario(ALL_FAULTS))
    assert plan.latency == Latency(20 * MS, 10 * MS, 5 * MS)
    assert plan.exchange.rejects == [Window(1 * NS_PER_S, 2 * NS_PER_S, None)]
    assert plan.exchange.no_fills == [Window(3 * NS_PER_S, 4 * NS_PER_S)]
    assert plan.exchange.partial_max_qty == 10 and plan.exchange.duplicate_p == 1 << 31
    assert plan.outages == ((6 * NS_PER_S, 7500 * MS),)  # overlapping windows: one outage


def test_the_realtime_driver_uses_the_same_builder() -> None:
    scn = _scenario(ALL_FAULTS)
    market = RealtimeMarket(scn)
    assert market.faults == build_faults(scn)
    assert market.exchange.faults == build_faults(scn).exchange


def _run(market: RealtimeMarket, body: Any) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(market.run)
            await body()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_served_latency_delays_orders_and_reports() -> None:
    market = RealtimeMarket(_scenario([{"kind": "latency", "order": "20ms", "report": "10ms"}]))
    seen: list[tuple[ReportKind, int]] = []
    market.add_report_listener(lambda r: seen.append((r.kind, market.virtual_now())))

    async def body() -> None:
        await trio.sleep(0.5)
        sent = market.virtual_now()
        market.submit("o1", "ACME", "ENTRY", 1, 10, "MARKET", None)
        assert seen == []  # nothing has reached the exchange yet
        await trio.sleep(0.1)
        assert [k for k, _ in seen] == [ReportKind.ACCEPTED, ReportKind.FILL]
        assert all(t - sent >= 30 * MS for _, t in seen), (sent, seen)

    _run(market, body)


def test_served_disconnects_reach_the_outage_listeners() -> None:
    market = RealtimeMarket(_scenario(ALL_FAULTS[-2:]))
    changes: list[tuple[bool, int]] = []
    market.add_outage_listener(lambda down: changes.append((down, market.virtual_now())))

    async def body() -> None:
        await trio.sleep(9)

    _run(market, body)
    assert [d for d, _ in changes] == [True, False]
    (_, down_at), (_, up_at) = changes
    assert 6 * NS_PER_S <= down_at < 6100 * MS and 7500 * MS <= up_at < 7600 * MS


def test_start_on_connect_holds_t0_until_the_first_subscription() -> None:
    market = RealtimeMarket(_scenario([]), start_on_connect=True)
    quotes: list[int] = []
    market.add_quote_listener(lambda idx, tick: quotes.append(tick[4]))

    async def body() -> None:
        await trio.sleep(30)  # long past the scenario's 5 s move: still at its opening quote
        assert market.virtual_now() == 0 and market.last_tick[0] is not None
        assert market.last_tick[0][4] == 100 * 10 ** 8 and not market.started.is_set()
        market.start()
        await trio.sleep(6)
        assert quotes[-1] == 101 * 10 ** 8

    _run(market, body)


def test_a_served_halt_halts_the_exchange_for_its_window() -> None:
    scn = scenario_mod.from_dict({
        "version": 1, "name": "served-halt", "seed": 1, "duration": "10s",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
        "market": {"ACME": {"spread": "0.02", "depth": 1000,
                            "ticks": [{"t": "0s", "last": "100.00"}],
                            "halts": [{"t": "1s", "for": "2s"}]}},
    }, "<served-halt>")
    market = RealtimeMarket(scn)
    seen: list[ReportKind] = []
    market.add_report_listener(lambda r: seen.append(r.kind))

    async def body() -> None:
        await trio.sleep(2)  # inside the halt: a market order rests, it does not fill
        market.submit("o1", "ACME", "ENTRY", 1, 10, "MARKET", None)
        assert ReportKind.FILL not in seen
        assert market.exchange.books[0].halted
        await trio.sleep(2)  # the halt is over: the resting order fills on the next quote
        market.push_tick("ACME", 99_99 * 10 ** 6, 100_01 * 10 ** 6)
        assert ReportKind.FILL in seen

    _run(market, body)
