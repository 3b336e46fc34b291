"""A live run is built like a simulated one: its configured strategy trades.

The kernel runs live (``run_live``, the wall clock, ``IbkrVenue`` over the real
``ib_async`` client) against the TWS gateway on loopback. The config names an
``ma_cross`` strategy and nothing else sends a signal: if the live path dropped
``config.strategies`` (as it once did), no entry would ever be sent and this fails.
The run is judged by the live invariant checker as it goes; it must find nothing.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio
from tws_support import gateway, px, scenario, wait_until

from triotrade.sim.invariants import live_checker
from triotrade.venues.ibkr import IbkrVenue
from triotrade.venues.live import load_live_config, run_live

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 60s}
  exits: {stop_loss: "5%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 10}
  strategies: {ACME: {kind: ma_cross, fast: 2, slow: 4}}
"""

# down for a while (fast average below slow), then up: one golden cross, one BUY
CENT = Decimal("0.01")
PATH = ["99.90", "99.80", "99.70", "99.60", "99.50", "100.20", "100.60", "100.80"]


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()[1:]]


async def test_a_live_run_trades_its_configured_ma_cross_strategy(tmp_path: Path) -> None:
    cfg_path = tmp_path / "live.yaml"
    cfg_path.write_text(CONFIG)
    cfg = load_live_config(cfg_path)
    journal = tmp_path / "live.jsonl"
    async with gateway(scenario(depth=1000)) as g:
        venue = IbkrVenue("127.0.0.1", g.port, 51, backoff=(0.05, 0.1, 0.2, 0.5),
                          request_timeout=10.0)
        ready = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_live(venue, cfg, journal, live=True, ready=ready,
                                                checker=live_checker))
            with trio.fail_after(30):
                await ready.wait()
            kernel: Any = venue.sink
            ticker = kernel.tickers["ACME"]
            await wait_until(lambda: ticker.has_quote, "the kernel's first quote")
            for last in PATH:
                mid = Decimal(last)
                g.push("ACME", str(mid - CENT), str(mid + CENT), last=last)
                # one price at a time: the strategy sees every one, in order
                await wait_until(lambda last=last: ticker.last == px(last), f"the quote {last}")
            await wait_until(lambda: g.broker.positions.get("ACME") is not None
                             and g.broker.positions["ACME"].qty == 100, "the strategy's entry")
            await wait_until(lambda: ticker.position.qty == 100, "the kernel's fill")
            nursery.cancel_scope.cancel()
    events = _events(journal)
    signals = [e for e in events if e["type"] == "signal"]
    assert [(s["source"], s["side"], s["accepted"]) for s in signals] == [
        ("strategy", "BUY", True)], signals
    entries = [e for e in events if e["type"] == "order_submitted" and e["role"] == "ENTRY"]
    assert len(entries) == 1 and entries[0]["qty"] == "100"
    assert not [e for e in events if e["type"] == "invariant_violated"]
    [done] = [e for e in events if e["type"] == "run_finished"]
    assert done["violations"] == [] and done["positions"] == {"ACME": "100"}


ADOPT_CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 20, max_position_size: 30}
  entries: {entry_order_ttl: 60s, signal_freshness: 1h}
  exits: {stop_loss: "2%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 10}
"""


async def test_a_live_start_adopts_the_accounts_position_and_working_stop(
        tmp_path: Path) -> None:
    """An earlier session (same client id) left 10 shares and its working stop: the new
    kernel adopts both before any entry. The adopted stop is its one working exit: no
    entry while it works, and when the price falls through it, the stop sells the 10
    and nothing else is sent (the kernel's own stop-loss rule finds that exit working)."""
    from triotrade.kernel.orders import Order, OrderType, Role, Side
    from triotrade.kernel.signals import Signal

    cfg_path = tmp_path / "live.yaml"
    cfg_path.write_text(ADOPT_CONFIG)
    cfg = load_live_config(cfg_path)
    journal = tmp_path / "live.jsonl"
    async with gateway(scenario(depth=1000)) as g:
        before = IbkrVenue("127.0.0.1", g.port, 52, request_timeout=10.0)
        rec = _Sink()
        await before.connect(rec)
        await before.submit(Order("O1", "ACME", Role.ENTRY, Side.BUY, 10, OrderType.MARKET))
        await wait_until(lambda: g.broker.positions.get("ACME") is not None
                         and g.broker.positions["ACME"].qty == 10, "the earlier entry")
        await before.submit(Order("O2", "ACME", Role.STOP_LOSS, Side.SELL, 10, OrderType.STOP,
                                  px("95.00")))
        await wait_until(lambda: "ACCEPTED" in rec.kinds, "the stop")
        await before.close()

        venue = IbkrVenue("127.0.0.1", g.port, 52, backoff=(0.05, 0.1, 0.2, 0.5),
                          request_timeout=10.0)
        ready = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_live(venue, cfg, journal, live=True, ready=ready,
                                                checker=live_checker))
            with trio.fail_after(30):
                await ready.wait()
            kernel: Any = venue.sink
            ticker = kernel.tickers["ACME"]
            assert ticker.position.qty == 10 and ticker.exit_order is not None
            assert ticker.exit_order.order_id == "O2"
            await wait_until(lambda: ticker.has_quote, "the kernel's first quote")
            kernel.on_signal(Signal("ACME", "BUY", kernel.clock.now_ns(), source="test"))
            g.push("ACME", "94.90", "94.92")  # through the kernel's 2% and the venue's stop
            await wait_until(lambda: g.broker.positions["ACME"].qty == 0, "the stop's fill")
            await wait_until(lambda: ticker.position.qty == 0, "the kernel's fill")
            await trio.sleep(1.0)  # four check intervals: time for a second sell, if any
            nursery.cancel_scope.cancel()
    events = _events(journal)
    [adopted] = [e for e in events if e["type"] == "position_adopted"]
    assert (adopted["qty"], adopted["avg_price"], adopted["source"]) == ("10", "100.01",
                                                                         "venue")
    [order] = [e for e in events if e["type"] == "order_adopted"]
    assert (order["order_id"], order["role"], order["source"]) == ("O2", "STOP_LOSS", "own")
    [start] = [e for e in events if e["type"] == "reconciled"]
    assert start["when"] == "start" and start["positions"] == {"ACME": "10"}
    # what was adopted is journaled before the reconciliation that lets entries in
    assert events.index(order) < events.index(adopted) < events.index(start)
    [signal] = [e for e in events if e["type"] == "signal"]
    assert not signal["accepted"] and signal["reason"] == "exit in progress"
    assert not [e for e in events if e["type"] == "order_submitted"]  # nothing sold twice
    [fill] = [e for e in events if e["type"] == "fill"]
    assert (fill["order_id"], fill["qty"], fill["side"]) == ("O2", "10", "SELL")
    assert not [e for e in events if e["type"] == "invariant_violated"]
    assert g.broker.positions["ACME"].qty == 0


class _Sink:
    """What the earlier session's venue reported (it runs without a kernel)."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def on_report(self, report: Any) -> None:
        self.kinds.append(report.kind.value)

    def on_connection(self, up: bool, reason: str) -> None:
        pass
