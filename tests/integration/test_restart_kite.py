"""kill -9 and restart, live against the Kite gateway, with the real ``kiteconnect``.

The Kite twin of ``test_restart_ibkr.py``: ``triotrade run --venue kite --live``
enters INFY through a news alert, 40 of 100 fill, the process is killed with SIGKILL,
the rest fills while it is dead, and a second process started with ``--resume``
rebuilds the day (``restarted``), adopts the 60 filled while down at Kite's average
price before any entry, and its stop sells the whole 100 when the price falls through
it. Kite's trade book matches the two journals together.
"""
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import trio
from conftest import PYTHON, cli_env
from kite_helpers import ACCESS_TOKEN, API_KEY, SYMBOL_EQ, gateway_scenario, push, start_gateway
from kite_helpers import wait_until

from triotrade.venues.kite.orders import parse_tag

CONFIG = f"""\
instruments:
  - {{symbol: {SYMBOL_EQ}, tick_size: "0.05", lot_size: 1, currency: INR, exchange: NSE}}
config:
  sizing: {{unit_position_size: 100, max_position_size: 100}}
  entries: {{entry_order_ttl: 120s, signal_freshness: 1h}}
  exits: {{stop_loss: "2%", exit_order_ttl: 30s}}
  monitor: {{check_interval: 250ms, gap_threshold_pct: 10}}
  emergency: {{retry_interval: 2s}}
kite: {{product: MIS, ping_interval: 1s}}
"""


def journal_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()[1:] if x.strip()]


def of(events: list[dict[str, Any]], type_: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_
            and all(e.get(k) == v for k, v in match.items())]


def _has(journal: Path, type_: str) -> bool:
    return journal.exists() and f'"type":"{type_}"' in journal.read_text()


def _kite_position(gw: Any) -> int:
    return sum(row.buy_qty - row.sell_qty for (idx, _), row in gw.book.positions.items()
               if gw.market.exchange.books[idx].symbol == SYMBOL_EQ)


async def test_kill_9_mid_entry_then_resume_adopts_and_protects(
        nursery: trio.Nursery, tmp_path: Path, workdir: Path) -> None:
    scn = gateway_scenario()
    scn["market"][SYMBOL_EQ] = {"ticks": [{"t": "0s", "bid": "1499.95", "ask": "1500.00",
                                           "bid_size": 40, "ask_size": 40}]}
    gw = await start_gateway(nursery, scn)
    news = tmp_path / "news.jsonl"
    news.write_text("")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + f"news: {json.dumps(str(news))}\n")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    env = cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN)
    procs: list[Any] = []

    async def start(journal: Path, *extra: str) -> Any:
        p = await trio.lowlevel.open_process(
            [PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config", str(cfg),
             "--port", str(gw.port), "--live", "--journal", str(journal), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=env)
        procs.append(p)
        return p

    try:
        p1 = await start(first, "--fresh")
        await wait_until(lambda: _has(first, "reconciled"), "the first kernel", 60)
        await wait_until(lambda: any(s.modes for s in gw.sessions), "its subscription", 60)
        for _ in range(20):  # the tail starts at the file's end once the kernel is up
            with news.open("a") as f:
                f.write(json.dumps({"symbol": SYMBOL_EQ, "side": "BUY"}) + "\n")
            with trio.move_on_after(1.0):
                await wait_until(lambda: bool(gw.book.orders), "the entry", 2)
            if gw.book.orders:
                break
        await wait_until(lambda: _kite_position(gw) == 40, "the partial fill", 30)
        await wait_until(lambda: bool(of(journal_events(first), "position_changed", qty="40")),
                         "the fill in the first journal", 30)
        p1.kill()  # SIGKILL: no shutdown, no cancels
        await p1.wait()
        assert p1.returncode == -signal.SIGKILL
        push(gw, SYMBOL_EQ, "1499.95", "1500.00", bid_size=500, ask_size=500)
        await wait_until(lambda: _kite_position(gw) == 100, "the fill while down", 30)

        p2 = await start(second, "--resume", str(first))
        await wait_until(lambda: _has(second, "reconciled"), "the restart's reconciliation", 60)
        await wait_until(lambda: _has(second, "position_adopted"), "the adoption", 30)
        await wait_until(lambda: any(s.modes for s in gw.sessions), "its subscription", 60)
        push(gw, SYMBOL_EQ, "1450.00", "1450.05", bid_size=500, ask_size=500)  # through 2%
        await wait_until(lambda: _kite_position(gw) == 0, "the exit", 60)
        await wait_until(lambda: bool(of(journal_events(second), "position_changed", qty="0")),
                         "the exit's fill", 30)
        p2.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            code = await p2.wait()
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
    out = (await p2.stdout.receive_some(65536)).decode()
    err = (await p2.stderr.receive_some(65536)).decode()
    assert code == 0, out + err
    assert f"resuming from {first}" in out and "Traceback" not in err, out + err
    one, two = journal_events(first), journal_events(second)
    assert not of(one, "run_finished")
    [restarted] = of(two, "restarted")
    assert restarted["positions"] == {SYMBOL_EQ: "40"} and restarted["working_orders"] == ["O1"]
    [rec] = of(two, "reconciled", when="start")
    assert rec["positions"] == {SYMBOL_EQ: "100"}
    [adopted] = of(two, "position_adopted")
    assert (adopted["qty"], adopted["position"], adopted["avg_price"]) == ("60", "100",
                                                                           "1500.00")
    order = [e["type"] for e in two]
    assert order.index("restarted") < order.index("position_adopted") < order.index("reconciled")
    [trigger] = of(two, "exit_triggered")
    assert trigger["reason"] == "stop_loss" and trigger["ts_ns"] > rec["ts_ns"]
    assert sum(int(e["qty"]) for e in of(two, "fill") if e["role"] != "ENTRY") == 100
    entries = of(one, "order_submitted", role="ENTRY") + of(two, "order_submitted", role="ENTRY")
    assert [e["qty"] for e in entries] == ["100"]
    # Kite's trade book == both journals' fills + the adoption (the 60 filled while down)
    tag_of = {kid: o.tag for kid, o in gw.book.orders.items()}
    kite = sorted((parse_tag(tag_of[t["order_id"]])[1], int(t["quantity"]))  # type: ignore[index]
                  for t in gw.book.trades)
    journaled = sorted((e["order_id"], int(e["qty"])) for e in of(one, "fill") + of(two, "fill"))
    assert sorted(journaled + [("O1", 60)]) == kite, (kite, journaled)
    assert not of(one, "invariant_violated") and not of(two, "invariant_violated")
    for text in (out, err, first.read_text(), second.read_text()):
        assert ACCESS_TOKEN not in text
