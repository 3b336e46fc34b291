"""The kernel live through IbkrVenue and the TWS gateway, end to end.

A live run enters, protects and exits a position, and survives the gateway being
killed and restarted mid-position: the drop is journaled and entries are refused
while it lasts, a fill that happens while the gateway is down is replayed on
reconnect, the stop is honoured on the prices seen after the reconnect, and the
journal accounts for every order and execution the broker has.

Once through ``run_live`` in-process (so the test can look at the kernel), and once
through ``triotrade run --venue ibkr --live`` as a subprocess, driven by a news file.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio
from conftest import PYTHON, cli_env
from tws_support import Gateway, free_port, gateway, px, scenario, wait_until

from triotrade.kernel.signals import Signal
from triotrade.venues.ibkr import IbkrVenue, parse_order_ref
from triotrade.venues.live import load_live_config, run_live

CONFIG = """\
instruments:
  - {symbol: ACME, tick_size: "0.01"}
config:
  sizing: {unit_position_size: 100, max_position_size: 100}
  entries: {entry_order_ttl: 60s, signal_freshness: 1h}
  exits: {stop_loss: "2%", exit_order_ttl: 30s}
  monitor: {check_interval: 250ms, gap_threshold_pct: 2}
  emergency: {retry_interval: 2s}
"""


def journal_events(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    return [json.loads(x) for x in lines[1:]]


def of(events: list[dict[str, Any]], type_: str, **match: Any) -> list[dict[str, Any]]:
    """The events of one type whose fields match (the start-up reconciliation of a live
    run, ``when: start``, included)."""
    return [e for e in events if e["type"] == type_
            and all(e.get(k) == v for k, v in match.items())]


def check_books(events: list[dict[str, Any]], g: Gateway, client_id: int) -> None:
    """No order or fill lost: the journal and the broker agree execution by execution."""
    broker_orders = {bo.order_ref: bo for (cid, _), bo in g.broker.orders.items()
                     if cid == client_id}
    submitted = {e["order_id"] for e in of(events, "order_submitted")}
    refused = {e["order_id"] for e in of(events, "order_rejected")
               if e.get("reason", "").startswith("not sent:")}
    at_broker = {parse_order_ref(ref)[1] for ref in broker_orders}  # type: ignore[index]
    assert at_broker == submitted - refused, (at_broker, submitted, refused)
    broker_fills = sorted((parse_order_ref(ex.order.order_ref)[1], ex.shares,  # type: ignore[index]
                           ex.price) for ex in g.broker.execs if ex.order.client_id == client_id)
    journal_fills = sorted((e["order_id"], int(e["qty"]), px(e["price"]))
                           for e in of(events, "fill"))
    assert journal_fills == broker_fills
    for bad in ("report_unknown_order", "report_inconsistent", "report_duplicate",
                "invariant_violated"):
        assert not of(events, bad), of(events, bad)
    final = of(events, "position_changed")[-1]
    assert final["qty"] == str(g.broker.positions["ACME"].qty)


async def _live_run(tmp_path: Path, g: Gateway, client_id: int, *,
                    drop_while_away: bool) -> tuple[list[dict[str, Any]], IbkrVenue]:
    """Enter 100 (40 fill, 60 work), kill the gateway, let the 60 fill while it is down,
    restart it, and have the price fall through the 2% stop: while the gateway is down
    (``drop_while_away``) or once the kernel has reconciled after the reconnect."""
    cfg_path = tmp_path / "live.yaml"
    cfg_path.write_text(CONFIG)
    cfg = load_live_config(cfg_path)
    journal = tmp_path / f"live-{client_id}.jsonl"
    venue = IbkrVenue("127.0.0.1", g.port, client_id, backoff=(0.05, 0.1, 0.2, 0.5),
                      heartbeat=2.0, request_timeout=10.0)
    ready = trio.Event()
    seen: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_live(venue, cfg, journal, live=True, ready=ready))
        with trio.fail_after(30):
            await ready.wait()
        kernel: Any = venue.sink
        kernel.journal.add_listener(lambda e: seen.append(e["type"]))
        ticker = kernel.tickers["ACME"]
        await wait_until(lambda: ticker.has_quote, "the kernel's first quote")

        # enter: the BUY 100 limit at the ask finds 40 displayed, 60 keep working
        kernel.on_signal(Signal("ACME", "BUY", time.time_ns(), source="test"))
        await wait_until(lambda: ticker.position.qty == 40, "the partial entry")
        [entry] = list(ticker.entries.values())
        assert entry.is_working and entry.filled_qty == 40

        # the gateway dies mid-position, with the entry still working at the broker
        await g.kill()
        await wait_until(lambda: not kernel.connected, "the kernel to see the drop")
        kernel.on_signal(Signal("ACME", "BUY", time.time_ns(), source="test"))
        g.push("ACME", "99.99", "100.01", ask_size=500)  # the rest fills while away
        await wait_until(lambda: g.broker.positions["ACME"].qty == 100, "the broker fill")
        if drop_while_away:
            g.push("ACME", "97.00", "97.02")  # and the price falls through the stop
        assert ticker.position.qty == 40  # the kernel cannot know yet

        await g.restart()
        await wait_until(lambda: kernel.connected, "the reconnect")
        if not drop_while_away:
            await wait_until(lambda: "reconciled" in seen, "the kernel's own reconciliation")
            assert ticker.position.qty == 100 and not ticker.exiting
            g.push("ACME", "97.00", "97.02")
        await wait_until(lambda: ticker.position.qty == 0
                         and g.broker.positions["ACME"].qty == 0, "the protective exit")
        # the reconciliation may need another look a second later, when the exit's fill
        # raced the venue's answer: the run must not end before it has had its say
        await wait_until(lambda: "reconciled" in seen, "the kernel's own reconciliation")
        nursery.cancel_scope.cancel()
    assert venue.sink_errors == 0 and venue.internal_errors == 0
    return journal_events(journal), venue


def check_run(events: list[dict[str, Any]], g: Gateway, client_id: int) -> tuple[Any, Any]:
    assert of(events, "run_finished")[0]["positions"] == {"ACME": "0"}
    # a live journal holds the price path and the broker's own commissions too
    bars = of(events, "bar")
    assert bars and all(b["symbol"] == "ACME" and b["ts_ns"] > b["start_ns"] for b in bars[:-1])
    assert all(Decimal(b["low"]) <= Decimal(b["close"]) <= Decimal(b["high"]) for b in bars)
    # each execution's commission once (the second fill of an order may cost 0: IB's
    # minimum is per order), adding up to what the broker charged this client
    fees = of(events, "fee_reported")
    assert len({f["exec_id"] for f in fees}) == len(fees)
    charged = sum((bo.commission for (cid, _), bo in g.broker.orders.items() if cid == client_id),
                  Decimal(0))
    assert charged > 0 and sum(Decimal(f["fee"]) for f in fees) == charged
    # the drop and the reconnect, with the venue's reconciliation's account of itself
    [down] = of(events, "venue_disconnected")
    [up] = of(events, "venue_reconnected")
    assert "1 fill(s) replayed" in up["reason"] and "positions match" in up["reason"], up
    # the kill switch fired on the drop, and no entry went out while it lasted
    assert of(events, "kill_switch", reason="venue_disconnected")
    refused = [e for e in of(events, "signal", accepted=False)
               if e["ts_ns"] > down["ts_ns"] and e["ts_ns"] < up["ts_ns"]]
    assert refused and "venue_disconnected" in refused[0]["reason"], refused
    assert len(of(events, "order_submitted", role="ENTRY")) == 1
    # the entry: 40 before the drop, 60 replayed before the session came back up
    entry_fills = of(events, "fill", role="ENTRY")
    assert [(f["qty"], f["price"]) for f in entry_fills] == [("40", "100.01"), ("60", "100.01")]
    assert entry_fills[1]["ts_ns"] < up["ts_ns"]
    # protection: the stop-loss fired on the first fresh prices (the venue delivers a
    # fresh quote just before it reports the session up) and the exit filled after it
    [trigger] = of(events, "exit_triggered", reason="stop_loss")
    assert trigger["ts_ns"] > down["ts_ns"]
    exits = [e for e in of(events, "fill") if e["role"] != "ENTRY"]
    assert all(e["ts_ns"] > up["ts_ns"] for e in exits)
    assert sum(int(e["qty"]) for e in exits) == 100
    assert {e["price"] for e in exits} == {"97.00"}
    check_books(events, g, client_id)
    return up, trigger


async def test_live_kernel_survives_a_gateway_restart_mid_position(tmp_path: Path) -> None:
    async with gateway(scenario(depth=40)) as g:
        events, _ = await _live_run(tmp_path, g, 41, drop_while_away=False)
        up, trigger = check_run(events, g, 41)
        # the kernel's own cross-check against the venue after the reconnect agrees
        [start, reconciled] = of(events, "reconciled")  # at start (flat), after the reconnect
        assert start["when"] == "start" and start["positions"] == {} and "when" not in reconciled
        assert reconciled["mismatches"] == [] and reconciled["positions"] == {"ACME": "100"}
        assert not of(events, "kill_switch", reason="reconciliation_mismatch")
        assert trigger["ts_ns"] > reconciled["ts_ns"]


async def test_live_kernel_price_gaps_through_the_stop_while_disconnected(tmp_path: Path) -> None:
    """The stop is honoured on the first prices after the reconnect, and the kernel's
    own reconciliation agrees with the venue although the exit it sends on those prices
    may fill while the kernel is still asking the venue for its books."""
    async with gateway(scenario(depth=40)) as g:
        events, _ = await _live_run(tmp_path, g, 43, drop_while_away=True)
        up, _ = check_run(events, g, 43)
        [start, reconciled] = of(events, "reconciled")  # at start (flat), after the reconnect
        assert start["when"] == "start" and start["positions"] == {} and "when" not in reconciled
        assert reconciled["mismatches"] == [], reconciled
        assert reconciled["ts_ns"] > up["ts_ns"]
        # the venue answered before the exit filled, or after it (flat: no ACME line)
        assert reconciled["positions"] in ({"ACME": "100"}, {"ACME": "0"}, {}), reconciled
        assert not of(events, "kill_switch", reason="reconciliation_mismatch")


async def _wait_line(stream: Any, needle: str, seen: list[str], timeout: float = 60) -> None:
    buf = b""
    with trio.move_on_after(timeout):
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            seen += [d.decode() for d in done]
            if any(needle in line for line in seen):
                return
    raise AssertionError(f"never saw {needle!r}: {seen}")


async def test_cli_live_run_enters_protects_exits_across_a_restart(tmp_path: Path,
                                                                   workdir: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("")  # exists before the run: the tail starts at its (empty) end
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + f"news: {json.dumps(str(alerts))}\n")
    journal = tmp_path / "cli.jsonl"
    async with gateway(scenario(depth=1000)) as g:
        proc = await trio.lowlevel.open_process(
            [PYTHON, "-m", "triotrade", "run", "--venue", "ibkr", "--config", str(cfg),
             "--port", str(g.port), "--client-id", "42", "--live", "--journal", str(journal)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir, env=cli_env())
        out: list[str] = []
        try:
            await _wait_line(proc.stdout, "IB at 127.0.0.1", out)
            await wait_until(lambda: 42 in g.broker.sessions and g.broker.sessions[42].md,
                             "the CLI's kernel to subscribe", 60)

            def entry_at_broker() -> bool:
                return any(cid == 42 for cid, _ in g.broker.orders)

            for _ in range(5):  # a condition-driven retry: the first quote may trail the tail
                with alerts.open("a") as f:
                    f.write(json.dumps({"symbol": "ACME", "side": "BUY"}) + "\n")
                with trio.move_on_after(3):
                    await wait_until(entry_at_broker, "the entry order")
                if entry_at_broker():
                    break
            await wait_until(lambda: g.broker.positions["ACME"].qty == 100, "the entry fill")

            await g.kill()
            await wait_until(lambda: 42 not in g.broker.sessions, "the drop")
            g.push("ACME", "96.50", "96.52")  # through the stop while the gateway is down
            await g.restart()
            await wait_until(lambda: g.broker.positions["ACME"].qty == 0, "the exit", 60)
            # the live journal is flushed line by line: wait for the reconciliation,
            # which may take a few looks when the exit fill races the venue's answer
            await wait_until(lambda: journal.exists() and journal.read_text().count(
                '"type":"reconciled"') == 2, "the reconciliation after the reconnect", 30)
            proc.send_signal(signal.SIGINT)
            with trio.fail_after(30):
                code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        rest = (await proc.stdout.receive_some(65536)).decode()
        err = (await proc.stderr.receive_some(65536)).decode()
        assert code == 0, "\n".join(out) + rest + err
        assert "Traceback" not in err and "stopped (Ctrl-C)" in rest, rest + err
        events = journal_events(journal)
        header = json.loads(journal.read_text().splitlines()[0])
        assert header["live"] is True and header["venue"] == "ibkr"
        assert of(events, "venue_disconnected") and of(events, "venue_reconnected")
        assert of(events, "kill_switch", reason="venue_disconnected")
        [start, reconciled] = of(events, "reconciled")  # at start (flat), after the reconnect
        assert start["when"] == "start" and start["positions"] == {} and "when" not in reconciled
        assert reconciled["mismatches"] == [], reconciled
        assert not of(events, "kill_switch", reason="reconciliation_mismatch")
        assert of(events, "exit_triggered", reason="stop_loss")
        assert of(events, "run_finished")[0]["positions"] == {"ACME": "0"}
        assert of(events, "shutdown"), "Ctrl-C must go through the orderly shutdown"
        check_books(events, g, 42)


async def test_cli_dry_run_and_errors(tmp_path: Path, workdir: Path) -> None:
    cfg = tmp_path / "live.yaml"
    cfg.write_text(CONFIG + "duration: 2s\n")

    async def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return await trio.run_process([PYTHON, "-m", "triotrade", "run", "--venue", "ibkr",
                                       *args], capture_stdout=True, capture_stderr=True,
                                      check=False, cwd=workdir, env=cli_env())

    async with gateway() as g:
        # without --live: it watches (market data, journal) and says why orders are refused
        r = await cli("--config", str(cfg), "--port", str(g.port))
        out, err = r.stdout.decode(), r.stderr.decode()
        assert r.returncode == 0, out + err
        assert "dry run" in out and "--live" in out
        assert out.rstrip().splitlines()[-1].startswith("digest: sha256:")
        [journal] = list((workdir / "runs").glob("live-ibkr-*.jsonl"))
        header = json.loads(journal.read_text().splitlines()[0])
        assert header["live"] is False and header["client_id"] == 1
    # a bad config: FILE: key.path: problem, exit 2, nothing ran
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruments: []\nconfig: {sizing: {unit_position_size: -5}, bogus: 1}\n")
    r = await cli("--config", str(bad))
    err = r.stderr.decode()
    assert r.returncode == 2 and f"{bad}: config.bogus:" in err and "Traceback" not in err, err
    # nobody listening: a clear message, exit 3 (the venue could not be reached)
    port = free_port()
    r = await cli("--config", str(cfg), "--port", str(port), "--live")
    err = r.stderr.decode()
    assert r.returncode == 3, err
    assert f"cannot reach IB at 127.0.0.1:{port}" in err and "Traceback" not in err, err
    # ib_async's own lines ("ERROR ib_async.client: API connection failed") only on request
    assert "ib_async" not in err, err
    # the journal says the run never connected: run_failed, not a clean run_finished
    [failed] = [j for j in (workdir / "runs").glob("live-ibkr-*.jsonl") if j != journal]
    last = json.loads(failed.read_text().splitlines()[-1])
    assert last["type"] == "run_failed" and f"cannot reach IB at 127.0.0.1:{port}" in last["reason"]
    r = await cli("--config", str(cfg), "--port", str(port), "--log-level", "error")
    err = r.stderr.decode()
    assert r.returncode == 3 and "ERROR ib_async.client: API connection failed" in err, err
    # two runs started together (the same second) write two journals, none lost
    before = set((workdir / "runs").iterdir())
    results: list[subprocess.CompletedProcess[bytes]] = []

    async def one() -> None:
        results.append(await cli("--config", str(cfg), "--port", str(port)))

    async with trio.open_nursery() as both:
        both.start_soon(one)
        both.start_soon(one)
    assert [r.returncode for r in results] == [3, 3]
    assert len(set((workdir / "runs").iterdir()) - before) == 2
