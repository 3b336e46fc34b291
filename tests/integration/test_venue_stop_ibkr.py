"""``exits.venue_stop`` live against the TWS gateway, with the real ``ib_async`` client.

``triotrade run --venue ibkr --live`` with a 3% venue stop enters 100 through a news
alert: the gateway then holds a resting ``STP`` SELL 100 with ``auxPrice`` 97.01
(100.01 - 3%, rounded towards the entry) and our ``orderRef`` role tag. The process is
killed with SIGKILL; on the gateway the price gaps through the stop while nothing of
ours runs, and the gateway's own stop fills at the gapped price. A second process
started with ``--resume`` finds the stop filled in the broker's execution list, books
that fill as its own order's, is flat, adopts nothing and sends nothing.
(Reuses the kill -9 rig of test_restart_ibkr.py.)
"""
from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import trio
from test_restart_ibkr import CLIENT, _has, _start, journal_events, of
from tws_support import gateway, scenario, wait_until

from triotrade.kernel.units import to_units

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 120s, signal_freshness: 1h}
  exits: {stop_loss: "2%", venue_stop: "3%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 50}
  emergency: {retry_interval: 2s}
"""


async def test_the_venue_stop_rests_at_ib_and_exits_while_the_kernel_is_dead(
        tmp_path: Path, workdir: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + f"news: {json.dumps(str(alerts))}\n")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    procs: list[Any] = []
    async with gateway(scenario()) as g:

        def held() -> int:
            pos = g.broker.positions.get("ACME")
            return pos.qty if pos is not None else 0

        def resting() -> list[Any]:
            return [bo for bo in g.broker.orders.values()
                    if bo.client_id == CLIENT and bo.order_type == "STP" and bo.working]

        try:
            p1 = await _start(cfg, g.port, first, workdir, "--fresh")
            procs.append(p1)
            await wait_until(lambda: CLIENT in g.broker.sessions
                             and g.broker.sessions[CLIENT].md, "the first kernel", 60)
            await wait_until(lambda: _has(first, "reconciled"), "its start-up reconciliation")
            for _ in range(5):  # a condition-driven retry: the first quote may trail the tail
                with alerts.open("a") as f:
                    f.write(json.dumps({"symbol": "ACME", "side": "BUY"}) + "\n")
                with trio.move_on_after(3):
                    await wait_until(lambda: held() == 100, "the entry")
                if held() == 100:
                    break
            await wait_until(lambda: bool(resting()), "the resting stop at the gateway")
            [stop] = resting()
            assert (stop.action, stop.qty, stop.aux, stop.tif) == ("SELL", 100,
                                                                  to_units("97.01"), "GTC")
            assert stop.order_ref.startswith("STOP_LOSS:O2:")

            p1.kill()  # SIGKILL: no shutdown, no cancels
            await p1.wait()
            assert p1.returncode == -signal.SIGKILL
            await wait_until(lambda: CLIENT not in g.broker.sessions, "the dead session")
            assert resting(), "the stop must outlive the process"
            g.push("ACME", "93.99", "94.01")  # a gap through the stop while nothing runs
            await wait_until(lambda: held() == 0, "the venue's stop filling")
            assert not resting()

            p2 = await _start(cfg, g.port, second, workdir, "--resume", str(first))
            procs.append(p2)
            await wait_until(lambda: _has(second, "reconciled"), "the restart's reconciliation",
                             60)
            await wait_until(lambda: of(journal_events(second), "position_changed", qty="0"),
                             "the stop's fill, booked by the restart")
            p2.send_signal(signal.SIGINT)
            with trio.fail_after(30):
                code = await p2.wait()
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        assert p2.stdout is not None and p2.stderr is not None
        out = (await p2.stdout.receive_some(65536)).decode()
        err = (await p2.stderr.receive_some(65536)).decode()
        assert code == 0, out + err
        assert "Traceback" not in err, err

        one, two = journal_events(first), journal_events(second)
        [sub] = of(one, "order_submitted", role="STOP_LOSS")
        assert (sub["order_type"], sub["qty"], sub["price"]) == ("STOP", "100", "97.01")
        [restarted] = of(two, "restarted")
        assert restarted["positions"] == {"ACME": "100"} and restarted["working_orders"] == ["O2"]
        # the fill of our own stop, at the gapped price (never the trigger), from the
        # broker's execution list; then flat: nothing adopted, nothing sent
        [fill] = of(two, "fill")
        assert (fill["order_id"], fill["role"], fill["qty"]) == ("O2", "STOP_LOSS", "100")
        assert to_units(fill["price"]) <= to_units("94.00")
        assert not of(two, "position_adopted") and not of(two, "order_submitted")
        [rec] = of(two, "reconciled", when="start")
        assert rec["positions"] == {} and rec["mismatches"] == []
        # the broker's executions == the two journals' fills, each once
        broker = sorted((ex.exec_id, ex.shares) for ex in g.broker.execs
                        if ex.order.client_id == CLIENT)
        journaled = sorted((e["exec_id"], int(e["qty"])) for e in of(one, "fill") + of(two, "fill"))
        assert journaled == broker, (broker, journaled)
        assert not of(one, "invariant_violated") and not of(two, "invariant_violated")
        assert of(two, "run_finished")[0]["positions"] == {"ACME": "0"}
