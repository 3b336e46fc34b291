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
                await wait_until(lambda: ticker.last == px(last), f"the quote {last}")
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
