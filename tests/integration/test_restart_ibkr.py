"""kill -9 and restart, live against the TWS gateway, with the real ``ib_async`` client.

``triotrade run --venue ibkr --live`` enters a position through a news alert; the
entry is partly filled (40 of 100) when the process is killed with SIGKILL: no
shutdown, no cancels, the journal as written so far. The gateway keeps running and
the rest of the entry fills while the kernel is dead. A second process started with
``--resume`` rebuilds the day from the first journal (``restarted``: 40 held, order
ids used), reconciles with the broker before any entry (the 60 filled while down are
adopted at the broker's average price), and protects the whole 100: the price falls
through the 2% stop and the restarted kernel sells exactly 100. The broker's execution
list matches the two journals together; no entry ever went past the cap.
"""
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import trio
from conftest import PYTHON, cli_env
from tws_support import gateway, scenario, wait_until

from triotrade.venues.ibkr import parse_order_ref

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 120s, signal_freshness: 1h}
  exits: {stop_loss: "2%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 10}
  emergency: {retry_interval: 2s}
"""
CLIENT = 44


def journal_events(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    return [json.loads(x) for x in lines[1:] if x.strip()]


def of(events: list[dict[str, Any]], type_: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_
            and all(e.get(k) == v for k, v in match.items())]


async def _start(cfg: Path, port: int, journal: Path, workdir: Path, *extra: str) -> Any:
    return await trio.lowlevel.open_process(
        [PYTHON, "-m", "triotrade", "run", "--venue", "ibkr", "--config", str(cfg),
         "--port", str(port), "--client-id", str(CLIENT), "--live", "--journal", str(journal),
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=cli_env())


def _has(journal: Path, type_: str) -> bool:
    return journal.exists() and f'"type":"{type_}"' in journal.read_text()


async def test_kill_9_mid_entry_then_resume_adopts_and_protects(tmp_path: Path,
                                                                workdir: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("")
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + f"news: {json.dumps(str(alerts))}\n")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    procs: list[Any] = []
    async with gateway(scenario(depth=40)) as g:
        try:
            p1 = await _start(cfg, g.port, first, workdir, "--fresh")
            procs.append(p1)
            await wait_until(lambda: CLIENT in g.broker.sessions
                             and g.broker.sessions[CLIENT].md, "the first kernel", 60)
            await wait_until(lambda: _has(first, "reconciled"), "its start-up reconciliation")

            def entry_at_broker() -> bool:
                return any(cid == CLIENT for cid, _ in g.broker.orders)

            for _ in range(5):  # a condition-driven retry: the first quote may trail the tail
                with alerts.open("a") as f:
                    f.write(json.dumps({"symbol": "ACME", "side": "BUY"}) + "\n")
                with trio.move_on_after(3):
                    await wait_until(entry_at_broker, "the entry order")
                if entry_at_broker():
                    break
            await wait_until(lambda: g.broker.positions["ACME"].qty == 40, "the partial fill")
            await wait_until(lambda: of(journal_events(first), "position_changed", qty="40"),
                             "the fill in the first journal")

            p1.kill()  # SIGKILL: no shutdown, no cancels
            await p1.wait()
            assert p1.returncode == -signal.SIGKILL
            await wait_until(lambda: CLIENT not in g.broker.sessions, "the dead session")
            g.push("ACME", "99.99", "100.01", ask_size=500)  # the rest fills while dead
            await wait_until(lambda: g.broker.positions["ACME"].qty == 100, "the fill while down")

            p2 = await _start(cfg, g.port, second, workdir, "--resume", str(first))
            procs.append(p2)
            await wait_until(lambda: _has(second, "reconciled"), "the restart's reconciliation",
                             60)
            await wait_until(lambda: _has(second, "position_adopted"), "the adoption")
            g.push("ACME", "97.00", "97.02")  # through the 2% stop of the whole position
            await wait_until(lambda: g.broker.positions["ACME"].qty == 0, "the exit", 60)
            await wait_until(lambda: of(journal_events(second), "position_changed", qty="0"),
                             "the exit's fill")
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
        assert f"resuming from {first}" in out and "Traceback" not in err, out + err

        one, two = journal_events(first), journal_events(second)
        assert not of(one, "run_finished") and not of(one, "shutdown")  # killed, not stopped
        # the restart: the day rebuilt from the first journal, then the broker's books
        [restarted] = of(two, "restarted")
        assert restarted["positions"] == {"ACME": "40"} and restarted["last_order_id"] == "O1"
        assert restarted["working_orders"] == ["O1"]  # the entry in flight at the kill
        [rec] = of(two, "reconciled", when="start")
        assert rec["positions"] == {"ACME": "100"}
        [adopted] = of(two, "position_adopted")
        assert (adopted["qty"], adopted["position"], adopted["avg_price"]) == ("60", "100",
                                                                               "100.01")
        order = [e["type"] for e in two]
        assert order.index("restarted") < order.index("position_adopted") < order.index(
            "reconciled")
        # protected: the whole 100 is sold by the restarted kernel's stop, once
        [trigger] = of(two, "exit_triggered")
        assert trigger["reason"] == "stop_loss" and trigger["ts_ns"] > rec["ts_ns"]
        exits = [e for e in of(two, "fill") if e["role"] != "ENTRY"]
        assert sum(int(e["qty"]) for e in exits) == 100
        # no entry past the cap, in either life; no new order reuses an old id
        entries = of(one, "order_submitted", role="ENTRY") + of(two, "order_submitted",
                                                                 role="ENTRY")
        assert [e["qty"] for e in entries] == ["100"]
        assert {e["order_id"] for e in of(two, "order_submitted")}.isdisjoint(
            {e["order_id"] for e in of(one, "order_submitted")})
        # the broker's executions == the two journals' fills + what was adopted
        broker = sorted((parse_order_ref(ex.order.order_ref)[1], ex.shares)  # type: ignore[index]
                        for ex in g.broker.execs if ex.order.client_id == CLIENT)
        journaled = sorted((e["order_id"], int(e["qty"])) for e in of(one, "fill") + of(two, "fill"))
        assert sorted(journaled + [("O1", 60)]) == broker, (broker, journaled)
        assert not of(one, "invariant_violated") and not of(two, "invariant_violated")
        assert of(two, "run_finished")[0]["positions"] == {"ACME": "0"}
