"""``exits.venue_stop`` live against the Kite gateway, with the real ``kiteconnect``.

The Kite twin of ``test_venue_stop_ibkr.py`` (on the kill -9 rig of
test_restart_kite.py): an entry of 100 INFY leaves an ``SL-M`` SELL 100 with
``trigger_price`` 3% under the entry and our tag at the gateway; the process is killed with
SIGKILL; the price gaps through the trigger while nothing of ours runs and the
gateway's SL-M fills; ``--resume`` takes that fill from Kite's trade book as its own
order's, is flat, adopts nothing and sends nothing.
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
from test_restart_kite import CONFIG, _has, _kite_position, journal_events, of

from triotrade.kernel.units import to_units
from triotrade.venues.kite.orders import parse_tag

VENUE_STOP_CONFIG = CONFIG.replace('{stop_loss: "2%",', '{stop_loss: "2%", venue_stop: "3%",')


async def test_the_sl_m_rests_at_kite_and_exits_while_the_kernel_is_dead(
        nursery: trio.Nursery, tmp_path: Path, workdir: Path) -> None:
    assert "venue_stop" in VENUE_STOP_CONFIG
    gw = await start_gateway(nursery, gateway_scenario())
    news = tmp_path / "news.jsonl"
    news.write_text("")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(VENUE_STOP_CONFIG + f"news: {json.dumps(str(news))}\n")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    env = cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN)
    procs: list[Any] = []

    def resting() -> list[Any]:
        return [o for o in gw.book.orders.values() if o.order_type == "SL-M" and o.working]

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
        await wait_until(lambda: _kite_position(gw) == 100, "the entry's fill", 30)
        await wait_until(lambda: bool(resting()), "the resting SL-M at the gateway", 30)
        [stop] = resting()
        [entry] = of(journal_events(first), "fill", role="ENTRY")
        avg = to_units(entry["price"])
        tick = to_units("0.05")
        trigger = -((-(avg - avg * 3 // 100)) // tick) * tick  # 3% under, up to the tick
        assert (stop.transaction_type, stop.quantity, stop.trigger_price) == (
            "SELL", 100, trigger)
        assert parse_tag(stop.tag) == ("STOP_LOSS", "O2")

        p1.kill()  # SIGKILL: no shutdown, no cancels
        await p1.wait()
        assert p1.returncode == -signal.SIGKILL
        assert resting(), "the stop must outlive the process"
        push(gw, SYMBOL_EQ, "1400.00", "1400.05", bid_size=500, ask_size=500)  # the gap
        await wait_until(lambda: _kite_position(gw) == 0, "the venue's SL-M filling", 30)

        p2 = await start(second, "--resume", str(first))
        await wait_until(lambda: _has(second, "reconciled"), "the restart's reconciliation", 60)
        await wait_until(lambda: bool(of(journal_events(second), "position_changed", qty="0")),
                         "the stop's fill, booked by the restart", 30)
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
    assert "Traceback" not in err, err
    one, two = journal_events(first), journal_events(second)
    [sub] = of(one, "order_submitted", role="STOP_LOSS")
    assert (sub["order_type"], sub["qty"], to_units(sub["price"])) == ("STOP", "100", trigger)
    [restarted] = of(two, "restarted")
    assert restarted["positions"] == {SYMBOL_EQ: "100"} and restarted["working_orders"] == ["O2"]
    [fill] = of(two, "fill")
    assert (fill["order_id"], fill["role"], fill["qty"]) == ("O2", "STOP_LOSS", "100")
    assert to_units(fill["price"]) <= to_units("1400.00")  # the gapped price, not the trigger
    assert not of(two, "position_adopted") and not of(two, "order_submitted")
    # Kite's trade book == the two journals' fills, each once
    kite = sorted(f"kite:{t['trade_id']}" for t in gw.book.trades)
    journaled = sorted(e["exec_id"] for e in of(one, "fill") + of(two, "fill"))
    assert journaled == kite, (kite, journaled)
    assert not of(one, "invariant_violated") and not of(two, "invariant_violated")
