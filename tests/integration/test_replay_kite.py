"""A live session through the Kite gateway (real ``kiteconnect``), recorded and replayed.

The Kite twin of ``test_replay_ibkr.py``, with a strategy file in the config: the
session (stop exit, gap exit, ticker drop and reconnect) replays in execution mode
with the same decisions; after the strategy file is edited to trade on its own, the
replay names the file as changed and shows the first divergence. Bad input to
``triotrade replay`` (not a journal, truncated, a simulated journal, the recording
gone) exits 2 with the file named and no traceback.
"""
from __future__ import annotations

import json
from pathlib import Path

import trio
from kite_helpers import ACCESS_TOKEN, API_KEY, SYMBOL_EQ, gateway_scenario, push, start_gateway
from replay_support import Broker, check_recorded, replay, scripted_session

from triotrade.venues.kite import KiteSettings, open_kite_venue
from triotrade.venues.kite.config import load_kite_config
from triotrade.venues.live import instruments_of

CONFIG = f"""\
instruments:
  - {{symbol: {SYMBOL_EQ}, tick_size: "0.05", lot_size: 1, currency: INR, exchange: NSE}}
config:
  sizing: {{unit_position_size: 10, max_position_size: 10}}
  entries: {{entry_order_ttl: 60s, signal_freshness: 1h, staggered_order_delay: 100ms}}
  exits: {{stop_loss: "2%", exit_order_ttl: 30s}}
  monitor: {{check_interval: 250ms, gap_threshold_pct: 3}}
  emergency: {{retry_interval: 2s}}
  risk: {{resume_after_reconnect: true}}
  strategies: {{{SYMBOL_EQ}: {{kind: "quiet.py:Quiet"}}}}
kite: {{product: MIS, ping_interval: 1s}}
"""
STRATEGY = '''\
class Quiet:
    """Watches and never trades (the test edits it into one that does)."""

    def on_price(self, ts_ns, price):
        return None
'''
PRICES = ("1499.95", "1500.00", "1485.00", "1485.05", "1469.00", "1469.05", "1420.00",
          "1420.05", "1421.00", "1421.05")


async def test_a_kite_session_replays_with_the_same_decisions(
        nursery: trio.Nursery, tmp_path: Path) -> None:
    scn = gateway_scenario()
    scn["market"][SYMBOL_EQ] = {"ticks": [{"t": "0s", "bid": PRICES[0], "ask": PRICES[1],
                                           "bid_size": 500, "ask_size": 500}]}
    gw = await start_gateway(nursery, scn)
    (tmp_path / "quiet.py").write_text(STRATEGY)
    cfg_path = tmp_path / "live.yaml"
    cfg_path.write_text(CONFIG)
    cfg, settings = load_kite_config(cfg_path)
    settings = KiteSettings(product=settings.product, reconnect_min=50_000_000,
                            reconnect_max=200_000_000)
    journal = tmp_path / "live-kite.jsonl"

    async def drop() -> None:
        gw.set_ws_down(True)
        await trio.lowlevel.checkpoint()

    async def restore() -> None:
        gw.set_ws_down(False)
        await trio.lowlevel.checkpoint()

    async with open_kite_venue(API_KEY, ACCESS_TOKEN, instruments=instruments_of(cfg),
                               root=f"http://127.0.0.1:{gw.port}",
                               ws_root=f"ws://127.0.0.1:{gw.port}/ws",
                               settings=settings) as venue:
        await scripted_session(venue, cfg, journal, SYMBOL_EQ,
                               Broker(lambda b, a: push(gw, SYMBOL_EQ, b, a), drop, restore,
                                      PRICES))
    evs = check_recorded(journal)
    assert evs[0]["strategies"][SYMBOL_EQ]["sha256"].startswith("sha256:")
    r = await trio.to_thread.run_sync(replay, journal)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "decisions match" in r.stdout
    # the strategy file now trades on the first price it sees: named, and diverging
    (tmp_path / "quiet.py").write_text(STRATEGY.replace("return None", 'return "BUY"'))
    r = await trio.to_thread.run_sync(replay, journal)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"changed since the recording: strategy file {tmp_path / 'quiet.py'}" in r.stdout
    assert "first divergence" in r.stdout and "Traceback" not in r.stderr
    # bad input: exit 2, the file named, no traceback
    not_journal = tmp_path / "notes.txt"
    not_journal.write_text("hello\n")
    truncated = tmp_path / "live-truncated.jsonl"
    text = journal.read_text()
    truncated.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 20])
    simulated = tmp_path / "sim.jsonl"
    simulated.write_text(json.dumps({"type": "header", "format": 1, "scenario": "x",
                                     "seed": 1, "versions": {}}) + "\n")
    gone = tmp_path / "live-gone.jsonl"
    gone.write_text(text.replace(journal.stem + ".quotes", "nowhere.quotes", 1))
    for bad, words in ((not_journal, "not a journal"), (truncated, "truncated"),
                       (simulated, "simulated run"), (gone, "recorded quotes are missing"),
                       (tmp_path / "absent.jsonl", "cannot read")):
        r = await trio.to_thread.run_sync(replay, bad)
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert str(bad) in r.stderr and words in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
