"""The live kernel through Kite: the GTT-lag incident, on an NFO option, end to end.

``scenarios/live/kite_nfo_gap.yaml`` is served by the Kite gateway in real time; the
kernel runs live (``run_live``, the wall clock, ``KiteVenue`` over kiteconnect + our
ticker) and gets its BUY from a news file, as a live run would. The premium gaps 15%
through the 5% stop: the kernel must see the gap on that tick, exit at MARKET before
the exchange's next tick, get the gapped bid, and journal all of it. The same file
passes in the simulator too (checked here, so the two worlds stay one).

The second test does it through the one entry point a user has:
``triotrade run --venue kite --config F --port P --live`` with credentials in the
environment, and checks they never reach the output or the journal.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import trio

from conftest import PYTHON, REPO, cli_env
from kite_helpers import ACCESS_TOKEN, API_KEY, wait_until
from triotrade.kernel.units import to_units
from triotrade.sim import runner, scenario as scenario_mod
from triotrade.gateways.kite import KiteGateway
from triotrade.gateways.realtime import RealtimeMarket
from triotrade.venues.kite import KiteSettings, KiteVenue, open_kite_venue
from triotrade.venues.live import LiveConfig, run_live

SCENARIO = REPO / "scenarios" / "live" / "kite_nfo_gap.yaml"
SYMBOL = "NIFTY25N2024000CE"
SPEED = 4.0


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def one(events: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [e for e in events if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def live_config(scn: Any, news: Path, **extra: Any) -> LiveConfig:
    return LiveConfig(instruments=list(scn.instruments), config=scn.config, news=str(news),
                      **extra)


async def alert(news: Path, gw: KiteGateway) -> None:
    """Publish the BUY alert until the entry reaches the exchange.

    The runner's news tail starts at the end of the file when the kernel is up; an alert
    written just before that is (rightly) never read, so a lost one is re-published.
    A second copy that does get read is a new alert for a ticker already at its cap:
    the kernel refuses it, which is what it should do.
    """
    for _ in range(20):
        with news.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"symbol": SYMBOL, "side": "BUY",
                                "published": time.time_ns()}) + "\n")
        with trio.move_on_after(1.0):
            while not gw.book.orders:
                await trio.sleep(0.01)
            return
    raise AssertionError("the kernel never acted on the news alert")


def check_gap_exit(events: list[dict[str, Any]], gap_tick_ns: int, exit_placed_ns: int,
                   tick_interval_ns: int) -> None:
    """The incident's verdict, shared by both tests."""
    assert one(events, type="fill", role="ENTRY")["price"] == "120.05"
    gap = one(events, type="gap_detected")
    assert (gap["from_price"], gap["to_price"], gap["pct"]) == ("120.00", "102.00", "-15.00")
    trig = one(events, type="exit_triggered")
    assert (trig["reason"], trig["via"]) == ("stop_loss", "gap")
    sub = one(events, type="order_submitted", role="STOP_LOSS")
    assert sub["order_type"] == "MARKET" and sub["side"] == "SELL" and sub["qty"] == "75"
    assert "price" not in sub
    fill = one(events, type="fill", role="STOP_LOSS")
    assert (fill["price"], fill["qty"]) == ("101.95", "75")  # the gapped bid, not the stop
    order = [e["type"] for e in events]
    assert order.index("gap_detected") < order.index("exit_triggered") < order.index(
        "order_submitted", order.index("exit_triggered"))
    # the exit reached the exchange before its next tick: within one tick of the gap
    assert exit_placed_ns - gap_tick_ns < tick_interval_ns, (exit_placed_ns - gap_tick_ns)
    final = [e for e in events if e["type"] == "position_changed"][-1]
    assert (final["qty"], final["realized_pnl"]) == ("0", "-1357.50")
    assert events[-1]["type"] == "run_finished" and events[-1]["positions"] == {SYMBOL: "0"}


def test_the_scenario_passes_in_the_simulator_too() -> None:
    result = runner.run(scenario_mod.load(SCENARIO))
    assert result.ok, [c for c in result.checks if not c.ok] + result.violations


async def test_live_kernel_exits_a_gap_at_market_through_the_gateway(
        nursery: trio.Nursery, tmp_path: Path) -> None:
    scn = scenario_mod.load(SCENARIO)
    market = RealtimeMarket(scn, speed=SPEED)
    gw = KiteGateway(market, API_KEY, ACCESS_TOKEN, start_cash=scn.account.cash)
    ticks: list[tuple[int, int]] = []
    market.add_quote_listener(lambda idx, tick: ticks.append((time.time_ns(), tick[4])))
    port = await nursery.start(gw.serve, "127.0.0.1", 0)
    news = tmp_path / "news.jsonl"
    news.write_text("")
    path = tmp_path / "live.jsonl"
    settings = KiteSettings(reconnect_min=50_000_000, reconnect_max=500_000_000)
    done = trio.Event()

    async def live() -> None:
        async with open_kite_venue(API_KEY, ACCESS_TOKEN,
                                   instruments=scn.instrument_map,
                                   root=f"http://127.0.0.1:{port}",
                                   ws_root=f"ws://127.0.0.1:{port}/ws", settings=settings) as venue:
            venue_box.append(venue)
            with trio.CancelScope() as scope:
                scope_box.append(scope)
                await run_live(venue, live_config(scn, news), path, live=True)
        done.set()

    venue_box: list[KiteVenue] = []
    scope_box: list[trio.CancelScope] = []
    nursery.start_soon(live)
    await wait_until(lambda: bool(gw.sessions) and any(s.modes for s in gw.sessions),
                     "the kernel subscribed")
    await nursery.start(market.run)  # virtual t=0 now: the scenario's clock starts
    t0 = trio.current_time()
    await trio.sleep_until(t0 + 2 / SPEED)  # the scenario's signal time
    await alert(news, gw)

    def sold() -> Any:
        return [o for o in gw.book.orders.values()
                if o.transaction_type == "SELL" and o.status == "COMPLETE"]

    await wait_until(lambda: bool(sold()) and not venue_box[0]._working,  # noqa: SLF001
                     "the exit filled and reported", timeout_s=40)
    scope_box[0].cancel()
    await wait_until(done.is_set, "the run finished")
    events = journal(path)
    gap_tick_ns = next(t for t, last in ticks if last == to_units("102.00"))
    check_gap_exit(events, gap_tick_ns, int(sold()[0].placed * 1e9),
                   int(1e9 * 1.0 / SPEED))  # the scenario ticks every 1s of exchange time
    assert ACCESS_TOKEN not in path.read_text() and API_KEY not in path.read_text()


async def test_cli_live_run_through_the_gateway(nursery: trio.Nursery, tmp_path: Path) -> None:
    scn = scenario_mod.load(SCENARIO)
    market = RealtimeMarket(scn)  # quotes are pushed by hand below: no replay task,
    await nursery.start(market.run_timers)  # but the scenario's latency needs a clock
    gw = KiteGateway(market, API_KEY, ACCESS_TOKEN, start_cash=scn.account.cash)
    port = await nursery.start(gw.serve, "127.0.0.1", 0)

    def quote(bid: str, ask: str, last: str) -> None:
        market.push_tick(SYMBOL, to_units(bid), to_units(ask), to_units(last), 750, 750)

    quote("119.95", "120.05", "120.00")
    news = tmp_path / "news.jsonl"
    news.write_text("")
    config = tmp_path / "live.yaml"
    config.write_text(
        "instruments:\n"
        f"  - {{symbol: {SYMBOL}, tick_size: \"0.05\", lot_size: 75, currency: INR, exchange: NFO}}\n"
        "config:\n"
        "  sizing: {unit_position_size: 75, max_position_size: 75}\n"
        "  exits: {stop_loss: \"5%\"}\n"
        "duration: 60s\n"
        f"news: {news}\n"
        "kite: {product: NRML, ping_interval: 1s}\n")
    path = tmp_path / "runs" / "cli.jsonl"
    out: dict[str, Any] = {}

    async with trio.open_nursery() as inner:
        procs: list[trio.Process] = []

        async def spawn(task_status: trio.TaskStatus[trio.Process]) -> None:
            out["proc"] = await trio.run_process(
                [PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config", str(config),
                 "--port", str(port), "--live", "--journal", str(path)],
                cwd=tmp_path, env=cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN),
                capture_stdout=True, capture_stderr=True, check=False, task_status=task_status)

        procs.append(await inner.start(spawn))
        await wait_until(lambda: any(s.modes for s in gw.sessions), "the CLI subscribed",
                         timeout_s=60)
        await alert(news, gw)
        await wait_until(lambda: any(o.status == "COMPLETE" for o in gw.book.orders.values()),
                         "the entry filled", timeout_s=30)
        await trio.sleep(0.2)  # let the fill reach the kernel (its position) before the gap
        gap_tick_ns = time.time_ns()
        quote("101.95", "102.05", "102.00")
        await wait_until(lambda: len(gw.book.orders) == 2, "the exit order", timeout_s=30)
        exit_order = list(gw.book.orders.values())[1]
        await wait_until(lambda: exit_order.status == "COMPLETE", "the exit filled", timeout_s=30)
        for _ in range(3):  # the feed goes on, flat
            await trio.sleep(0.25)
            quote("101.95", "102.05", "102.00")
        procs[0].send_signal(signal.SIGINT)  # the operator's Ctrl-C
    proc = out["proc"]
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stdout + stderr
    events = journal(path)
    assert events[0]["type"] == "header" and events[0]["live"] is True
    assert events[0]["venue"] == "kite" and events[0]["product"] == "NRML"
    check_gap_exit(events, gap_tick_ns, int(exit_order.placed * 1e9), 10**9)
    assert exit_order.product == "NRML" and exit_order.order_type == "MARKET"
    for text in (stdout, stderr, path.read_text()):
        assert ACCESS_TOKEN not in text and API_KEY not in text
