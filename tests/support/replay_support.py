"""One scripted live session for the replay tests, whichever broker runs it.

The session (through ``run_live``, the real client library, one of our gateways):
enter, a stop exit on a steady fall (no gap), enter again, a gap through the stop
(exit at market on that tick), a disconnect with a signal refused while it lasts, the
reconnect (its reconciliation lifts the disconnect kill switch), and a last entry.
The broker's part is a ``Broker``: how to push a quote, drop and restore the session.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import attrs
import trio

from conftest import PYTHON, cli_env

from triotrade.kernel.signals import Signal
from triotrade.venues.live import run_live

TIMEOUT = 30.0


@attrs.frozen
class Broker:
    push: Callable[[str, str], None]  # (bid, ask) for the one symbol
    drop: Callable[[], Awaitable[None]]
    restore: Callable[[], Awaitable[None]]
    prices: tuple[str, ...]  # bid/ask pairs, flattened: entry, steady fall, gap, after


async def wait_until(pred: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    with trio.move_on_after(timeout):
        while not pred():
            await trio.sleep(0.005)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def scripted_session(venue: Any, cfg: Any, journal: Path, symbol: str, b: Broker,
                           *, last_entry: bool = True) -> None:
    """Run the session described above; the journal (and its recording) is left behind.
    ``last_entry=False``: the last signal need not lead to a position (a loss limit may
    have stopped new trades)."""
    ready = trio.Event()
    seen: list[str] = []
    p = b.prices
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_live(venue, cfg, journal, live=True, ready=ready))
        with trio.fail_after(TIMEOUT):
            await ready.wait()
        kernel: Any = venue.sink
        kernel.journal.add_listener(lambda e: seen.append(e["type"]))
        ticker = kernel.tickers[symbol]
        await wait_until(lambda: ticker.has_quote, "the first quote")

        def signal() -> None:
            kernel.on_signal(Signal(symbol, "BUY", time.time_ns(), source="test"))

        signal()
        await wait_until(lambda: ticker.position.qty > 0 and not ticker.entries, "entry 1")
        for bid, ask in ((p[2], p[3]), (p[4], p[5])):  # a steady fall through the stop
            b.push(bid, ask)
            await trio.sleep(0.05)
        await wait_until(lambda: ticker.position.qty == 0, "the stop exit")
        await trio.sleep(0.3)
        signal()
        await wait_until(lambda: ticker.position.qty > 0 and not ticker.entries, "entry 2")
        await trio.sleep(0.3)
        b.push(p[6], p[7])  # the gap
        await wait_until(lambda: ticker.position.qty == 0 and "exit_triggered" in seen,
                         "the gap exit")
        await trio.sleep(0.3)
        await b.drop()
        await wait_until(lambda: not kernel.connected, "the drop seen")
        signal()  # refused: the disconnect kill switch
        await trio.sleep(0.2)
        n = seen.count("reconciled")
        await b.restore()
        await wait_until(lambda: kernel.connected and seen.count("reconciled") > n,
                         "the reconnect")
        if last_entry:  # with a loss limit in force the reconnect lifts nothing
            await wait_until(lambda: "kill_switch_reset" in seen, "the kill switch lifted")
        b.push(p[8], p[9])
        await trio.sleep(0.3)
        signal()
        if last_entry:
            await wait_until(lambda: ticker.position.qty > 0 and not ticker.entries, "entry 3")
        await trio.sleep(0.3)
        nursery.cancel_scope.cancel()


def replay(journal: Path, *args: str, cwd: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "triotrade", "replay", str(journal), *args],
                          capture_output=True, text=True, cwd=cwd, env=cli_env(), timeout=300)


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def check_recorded(journal: Path) -> list[dict[str, Any]]:
    """What the session must show for the replay to be a real test of it."""
    evs = events(journal)
    types = [e["type"] for e in evs]
    assert evs[0]["recording"]["quotes"] == journal.stem + ".quotes"
    assert any(e["type"] == "exit_triggered" and e.get("via") == "gap" for e in evs)
    assert any(e["type"] == "exit_triggered" and e["reason"] == "stop_loss"
               and e.get("via") != "gap" for e in evs)
    assert "venue_disconnected" in types and "venue_reconnected" in types
    assert any(e["type"] == "signal" and not e["accepted"] for e in evs)
    assert types.count("exec_report") >= 6 and "signal_received" in types
    assert types.count("order_submitted") >= 5
    return evs
