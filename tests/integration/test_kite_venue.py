"""KiteVenue end to end against the Kite gateway on loopback.

No mocks on either side of the wire: the adapter's REST goes through the real
``kiteconnect`` client to the gateway's h11 server, its ticker is our trio-websocket
client reading the gateway's binary packets and postbacks. The venue contract suite
(tests/contract) covers the basics for every venue; these tests cover what is Kite's
own: exec ids and duplicate postbacks, order-type and product mapping, broker
refusals, emulated good-till-date, the order-rate limit, dropped and silently dead
sockets, and postbacks lost while away.
"""
from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from conftest import PYTHON, assert_no_traceback, cli_env
from kite_helpers import (ACCESS_TOKEN, API_KEY, SYMBOL_CDS, SYMBOL_EQ, SYMBOL_IDX, SYMBOL_OPT,
                          push, rest_root, start_gateway, wait_until, ws_root)
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.orders import Order, OrderType, Role, Side
from triotrade.kernel.units import NS_PER_S, to_units
from triotrade.kernel.venue import ExecReport, ReportKind, VenueError
from triotrade.sim.exchange import Window
from triotrade.gateways.kite import KiteGateway
from triotrade.venues.kite import KiteSettings, KiteVenue, load_kite_config

from decimal import Decimal

FAST = KiteSettings(ping_interval=300_000_000, ping_timeout=700_000_000,
                    reconnect_min=50_000_000, reconnect_max=400_000_000,
                    reconcile_interval=500_000_000)
INSTRUMENTS = {
    SYMBOL_EQ: Instrument(SYMBOL_EQ, Decimal("0.05"), 1, "INR", "NSE"),
    SYMBOL_OPT: Instrument(SYMBOL_OPT, Decimal("0.05"), 75, "INR", "NFO"),
    SYMBOL_IDX: Instrument(SYMBOL_IDX, Decimal("0.05"), 1, "INR", "INDICES"),
    SYMBOL_CDS: Instrument(SYMBOL_CDS, Decimal("0.0025"), 1, "INR", "CDS"),
}
_ids = itertools.count(1)


@attrs.define
class LogSink:
    """A VenueSink keeping reports and connection changes in one ordered log."""

    log: list[tuple[Any, ...]] = attrs.Factory(list)
    quotes: dict[str, list[tuple[int, ...]]] = attrs.Factory(dict)

    def on_report(self, report: ExecReport) -> None:
        self.log.append(("report", report))

    def on_connection(self, up: bool, reason: str) -> None:
        self.log.append(("conn", up, reason))

    def handler(self, symbol: str) -> Any:
        def on_quote(*q: int) -> None:
            self.quotes.setdefault(symbol, []).append(q)
        return on_quote

    def reports(self, order_id: str) -> list[ExecReport]:
        return [e[1] for e in self.log if e[0] == "report" and e[1].order_id == order_id]

    def kinds(self, order_id: str) -> list[str]:
        return [r.kind.value for r in self.reports(order_id)]

    def filled(self, order_id: str) -> int:
        return sum(r.qty for r in self.reports(order_id) if r.kind is ReportKind.FILL)

    def connections(self) -> list[tuple[bool, str]]:
        return [(e[1], e[2]) for e in self.log if e[0] == "conn"]


@attrs.define
class Rig:
    gw: KiteGateway
    venue: KiteVenue
    sink: LogSink


async def rig(nursery: trio.Nursery, settings: KiteSettings = FAST,
              subscribe: tuple[str, ...] = (SYMBOL_EQ, SYMBOL_OPT, SYMBOL_IDX, SYMBOL_CDS),
              **gateway_kw: Any) -> Rig:
    gw = await start_gateway(nursery, **gateway_kw)
    venue = KiteVenue(API_KEY, ACCESS_TOKEN, instruments=INSTRUMENTS, nursery=nursery,
                      root=rest_root(gw), ws_root=ws_root(gw), settings=settings)
    sink = LogSink()
    await venue.connect(sink)
    for sym in subscribe:
        await venue.subscribe(INSTRUMENTS[sym], sink.handler(sym))
    return Rig(gw, venue, sink)


def order(symbol: str, side: Side, qty: int, otype: OrderType, price: str | None = None,
          role: Role = Role.ENTRY, expire_ns: int | None = None) -> Order:
    return Order(f"K{next(_ids)}", symbol, role, side, qty, otype,
                 to_units(price) if price is not None else None, expire_ns, 0)


def kite_order(r: Rig, o: Order) -> Any:
    rec = r.venue._orders[o.order_id]  # noqa: SLF001 - which Kite order carries ours
    assert rec.kite_id is not None
    return r.gw.book.orders[rec.kite_id]


async def test_quotes_arrive_as_exact_units(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    push(r.gw, SYMBOL_EQ, "1500.05", "1500.15", 300, 200)
    push(r.gw, SYMBOL_CDS, "83.2475", "83.2525", 10, 20)
    await wait_until(lambda: any(q[1] == to_units("1500.05") for q in r.sink.quotes.get(SYMBOL_EQ, []))
                     and any(q[2] == to_units("83.2525") for q in r.sink.quotes.get(SYMBOL_CDS, [])),
                     "both quotes")
    eq = [q for q in r.sink.quotes[SYMBOL_EQ] if q[1] == to_units("1500.05")][-1]
    assert eq[1:] == (to_units("1500.05"), to_units("1500.15"), to_units("1500.10"), 300, 200)
    cds = [q for q in r.sink.quotes[SYMBOL_CDS] if q[2] == to_units("83.2525")][-1]
    assert cds[1:3] == (to_units("83.2475"), to_units("83.2525"))
    # an index has no depth: bid = ask = last, never zero
    idx = r.sink.quotes[SYMBOL_IDX][-1]
    assert idx[1] == idx[2] == idx[3] == to_units("24000.00")
    assert abs(eq[0] - time.time_ns()) < 60 * NS_PER_S  # stamped on the live clock


async def test_fills_carry_trade_ids_and_replayed_postbacks_count_once(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    push(r.gw, SYMBOL_EQ, "1500.00", "1500.10", ask_size=30)
    o = order(SYMBOL_EQ, Side.BUY, 100, OrderType.LIMIT, "1500.10")
    await r.venue.submit(o)
    await wait_until(lambda: r.sink.filled(o.order_id) == 30, "the partial fill")
    push(r.gw, SYMBOL_EQ, "1500.00", "1500.05", ask_size=500)
    await wait_until(lambda: r.sink.filled(o.order_id) == 100, "the rest")
    ko = kite_order(r, o)
    # the gateway sends every postback of this order again, twice, and the adapter
    # reconciles from the order book as well: nothing may be counted a second time
    for _ in range(2):
        for status in ("OPEN", "UPDATE", "COMPLETE"):
            r.gw._on_postback(ko, status)  # noqa: SLF001 - a duplicating broker
    await wait_until(lambda: r.venue.postbacks >= 9, "the replayed postbacks")
    await r.venue._reconcile()  # noqa: SLF001
    fills = [x for x in r.sink.reports(o.order_id) if x.kind is ReportKind.FILL]
    trades = [t for t in r.gw.book.trades if t["order_id"] == ko.order_id]
    assert [f.exec_id for f in fills] == [f"kite:{t['trade_id']}" for t in trades]
    assert [(f.qty, f.price) for f in fills] == [(30, to_units("1500.10")),
                                                 (70, to_units("1500.05"))]
    assert r.sink.kinds(o.order_id) == ["ACCEPTED", "FILL", "FILL"]
    assert (await r.venue.positions()) == {SYMBOL_EQ: 100}
    assert await r.venue.cash() == to_units("1000000") - 30 * to_units("1500.10") - 70 * to_units("1500.05")


async def test_order_types_and_products_map_to_kite(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    stop_eq = order(SYMBOL_EQ, Side.SELL, 1, OrderType.STOP, "1450.00", Role.STOP_LOSS)
    stop_opt = order(SYMBOL_OPT, Side.SELL, 75, OrderType.STOP, "110.00", Role.STOP_LOSS)
    mkt = order(SYMBOL_EQ, Side.BUY, 2, OrderType.MARKET)
    for o in (stop_eq, stop_opt, mkt):
        await r.venue.submit(o)
    await wait_until(lambda: "ACCEPTED" in r.sink.kinds(stop_eq.order_id)
                     and "ACCEPTED" in r.sink.kinds(stop_opt.order_id)
                     and r.sink.filled(mkt.order_id) == 2, "acks and the market fill")
    k_eq, k_opt, k_mkt = kite_order(r, stop_eq), kite_order(r, stop_opt), kite_order(r, mkt)
    assert (k_eq.order_type, k_eq.trigger_price, k_eq.status) == (
        "SL-M", to_units("1450.00"), "TRIGGER PENDING")
    # options: SL with its limit 20 ticks through the trigger (exchanges refuse SL-M there)
    assert (k_opt.order_type, k_opt.trigger_price, k_opt.price) == (
        "SL", to_units("110.00"), to_units("109.00"))
    assert (k_mkt.order_type, k_mkt.market_protection, k_mkt.product) == ("MARKET", -1, "MIS")
    assert k_eq.tag and k_eq.tag.endswith(stop_eq.order_id) and len(k_eq.tag) <= 20
    assert {o.order_id for o in await r.venue.open_orders()} >= {stop_eq.order_id,
                                                                 stop_opt.order_id}
    # the stop fills at market after a gap through it, not at the trigger
    push(r.gw, SYMBOL_EQ, "1400.00", "1400.10")
    await wait_until(lambda: r.sink.filled(stop_eq.order_id) == 1, "the stop filled")
    assert r.sink.reports(stop_eq.order_id)[-1].price == to_units("1400.00")

    nrml = await rig(nursery, settings=attrs.evolve(FAST, product="NRML", market_protection=None),
                     subscribe=())
    o = order(SYMBOL_OPT, Side.BUY, 75, OrderType.MARKET)
    await nrml.venue.submit(o)
    await wait_until(lambda: nrml.sink.filled(o.order_id) == 75, "the NRML fill")
    k = kite_order(nrml, o)
    assert (k.product, k.market_protection) == ("NRML", 0)


async def test_refusals_and_rejects_become_reports(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    odd_lot = order(SYMBOL_OPT, Side.BUY, 10, OrderType.MARKET)  # not a multiple of 75
    await r.venue.submit(odd_lot)
    (rej,) = r.sink.reports(odd_lot.order_id)
    assert rej.kind is ReportKind.REJECTED and rej.reason.startswith("InputException:")
    assert "lot size" in rej.reason
    r.gw.market.exchange.faults.rejects[:] = [Window(0, 10**18)]
    o = order(SYMBOL_EQ, Side.BUY, 1, OrderType.LIMIT, "1500.10")
    await r.venue.submit(o)
    await wait_until(lambda: "REJECTED" in r.sink.kinds(o.order_id), "the exchange reject")
    assert "FILL" not in r.sink.kinds(o.order_id)
    with pytest.raises(VenueError):
        await r.venue.submit(order("UNLISTED", Side.BUY, 1, OrderType.MARKET))


async def test_cancel_and_emulated_good_till_date(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    resting = order(SYMBOL_EQ, Side.BUY, 5, OrderType.LIMIT, "1400.00")
    await r.venue.submit(resting)
    await wait_until(lambda: "ACCEPTED" in r.sink.kinds(resting.order_id), "ack")
    await r.venue.cancel(resting.order_id)
    await wait_until(lambda: "CANCELLED" in r.sink.kinds(resting.order_id), "the cancel")
    gtd = order(SYMBOL_EQ, Side.BUY, 5, OrderType.LIMIT, "1400.00",
                expire_ns=time.time_ns() + 300_000_000)
    await r.venue.submit(gtd)
    await wait_until(lambda: "EXPIRED" in r.sink.kinds(gtd.order_id), "the expiry")
    assert r.sink.kinds(gtd.order_id) == ["ACCEPTED", "EXPIRED"]
    assert "good-till-date" in r.sink.reports(gtd.order_id)[-1].reason
    assert kite_order(r, gtd).status == "CANCELLED"
    assert not await r.venue.open_orders()
    await r.venue.cancel(gtd.order_id)  # cancelling a finished order is a no-op


async def test_order_rate_limit_is_honoured(nursery: trio.Nursery) -> None:
    r = await rig(nursery, subscribe=())
    orders = [order(SYMBOL_EQ, Side.BUY, 1, OrderType.LIMIT, "1000.00") for _ in range(14)]
    async with trio.open_nursery() as burst:
        for o in orders:
            burst.start_soon(r.venue.submit, o)
    await wait_until(lambda: all("ACCEPTED" in r.sink.kinds(o.order_id) for o in orders),
                     "every order acknowledged")
    sent = r.venue.order_requests
    assert len(sent) == 14
    assert all(sent[i + 10] - sent[i] >= 1.0 for i in range(len(sent) - 10))
    # the gateway enforces 10/s too: none of them was refused with a 429
    assert len(r.gw.book.orders) == 14


async def test_reconnect_resubscribes(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    assert r.gw.drop_ws() == 1
    await wait_until(lambda: [u for u, _ in r.sink.connections()] == [False, True], "down, up")
    assert r.venue.reconnects == 1
    (session,) = r.gw.sessions
    assert set(session.modes.values()) == {"full"} and len(session.modes) == 4
    push(r.gw, SYMBOL_EQ, "1490.00", "1490.10")
    await wait_until(lambda: any(q[1] == to_units("1490.00") for q in r.sink.quotes[SYMBOL_EQ]),
                     "a quote after the reconnect")


async def test_silent_dead_socket_is_found_by_ping(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    assert r.gw.freeze_ws() == 1  # TCP stays up; nothing is read or written any more
    await wait_until(lambda: r.venue.dead_sockets == 1, "the missing pong noticed")
    await wait_until(lambda: [u for u, _ in r.sink.connections()] == [False, True],
                     "down, then up on a fresh socket")
    assert "no pong" in r.sink.connections()[0][1]
    push(r.gw, SYMBOL_EQ, "1480.00", "1480.10")
    await wait_until(lambda: any(q[1] == to_units("1480.00") for q in r.sink.quotes[SYMBOL_EQ]),
                     "quotes on the new socket")


async def test_fills_missed_while_away_come_before_the_reconnect(nursery: trio.Nursery) -> None:
    r = await rig(nursery)
    resting = order(SYMBOL_EQ, Side.BUY, 4, OrderType.LIMIT, "1490.00")
    await r.venue.submit(resting)
    await wait_until(lambda: "ACCEPTED" in r.sink.kinds(resting.order_id), "ack")
    r.gw.set_ws_down(True)
    await wait_until(lambda: r.sink.connections()[-1:] and not r.sink.connections()[-1][0],
                     "the drop noticed")
    push(r.gw, SYMBOL_EQ, "1489.00", "1489.95")  # fills while no postback can reach us
    assert kite_order(r, resting).status == "COMPLETE"
    r.gw.set_ws_down(False)
    await wait_until(lambda: r.sink.connections()[-1][0], "back up")
    log = [e for e in r.sink.log if e[0] == "conn" or e[1].order_id == resting.order_id]
    fill_at = next(i for i, e in enumerate(log) if e[0] == "report" and e[1].kind is ReportKind.FILL)
    up_at = max(i for i, e in enumerate(log) if e[0] == "conn" and e[1])
    assert fill_at < up_at, "the kernel must learn of the fill before it hears 'reconnected'"
    assert r.sink.reports(resting.order_id)[-1].price == to_units("1489.95")
    assert "reconciled" in r.sink.connections()[-1][1]


async def test_wrong_token_fails_connect_and_is_never_shown(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery)
    venue = KiteVenue(API_KEY, "wrong-token-s3cr3t", instruments=INSTRUMENTS, nursery=nursery,
                      root=rest_root(gw), ws_root=ws_root(gw), settings=FAST)
    with pytest.raises(VenueError) as exc:
        await venue.connect(LogSink())
    assert "TokenException" in str(exc.value)
    assert "s3cr3t" not in str(exc.value) and "s3cr3t" not in repr(venue)
    config_mismatch = {SYMBOL_OPT: Instrument(SYMBOL_OPT, Decimal("0.05"), 50, "INR", "NFO")}
    venue = KiteVenue(API_KEY, ACCESS_TOKEN, instruments=config_mismatch, nursery=nursery,
                      root=rest_root(gw), ws_root=ws_root(gw), settings=FAST)
    with pytest.raises(VenueError, match="lot_size 50 in the config, 75 at Kite"):
        await venue.connect(LogSink())


# ------------------------------------------------------------------ config and CLI


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CONFIG = """\
instruments:
  - {symbol: NIFTY25N2024000CE, tick_size: "0.05", lot_size: 75, currency: INR, exchange: NFO}
config:
  sizing: {unit_position_size: 75, max_position_size: 75}
kite:
  product: NRML
  ping_interval: 1s
"""


def test_kite_config_section(tmp_path: Path) -> None:
    cfg, settings = load_kite_config(write(tmp_path / "ok.yaml", GOOD_CONFIG))
    assert settings.product == "NRML" and settings.ping_interval == NS_PER_S
    assert cfg.instruments[0].lot_size == 75


@pytest.mark.parametrize("text,problem", [
    (GOOD_CONFIG.replace("product: NRML", "product: BTST"), "kite.product: must be one of"),
    (GOOD_CONFIG.replace("ping_interval: 1s", "ping_every: 1s"), "kite.ping_every: unknown key"),
    (GOOD_CONFIG.replace("ping_interval: 1s", "ping_interval: soon"), "kite.ping_interval:"),
    (GOOD_CONFIG.replace("exchange: NFO", "exchange: NASDAQ"),
     "instruments[0].exchange: 'NASDAQ' is not a Kite exchange"),
    (GOOD_CONFIG.replace("exchange: NFO", ""),
     "instruments[0].exchange: not given, and the default 'SMART' (IB's smart router) is "
     "not a Kite exchange: set exchange: to one of NSE, "),
    (GOOD_CONFIG.replace("unit_position_size: 75", "unit_position_size: -1"),
     "config.sizing.unit_position_size"),
])
def test_cli_bad_config_is_named_and_exits_2(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "bad.yaml", text)
    proc = subprocess.run([PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config",
                           str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN))
    assert proc.returncode == 2, proc.stderr
    assert f"{path}: {problem}" in proc.stderr, proc.stderr
    assert_no_traceback(proc)


def test_cli_needs_credentials_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", GOOD_CONFIG)
    env = cli_env()
    env.pop("KITE_API_KEY", None)
    env.pop("KITE_ACCESS_TOKEN", None)
    proc = subprocess.run([PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config",
                           str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=env)
    assert proc.returncode == 2
    assert "KITE_API_KEY and KITE_ACCESS_TOKEN" in proc.stderr
    assert_no_traceback(proc)


async def test_a_lost_reply_is_resolved_by_tag_never_by_guessing(nursery: trio.Nursery) -> None:
    r = await rig(nursery, subscribe=())
    # the order reaches the exchange but Kite's reply is lost: found again by its tag
    r.gw.place_faults[:] = ["lose_reply"]
    placed = order(SYMBOL_EQ, Side.BUY, 3, OrderType.LIMIT, "1500.10")
    await r.venue.submit(placed)
    await wait_until(lambda: r.sink.filled(placed.order_id) == 3, "the fill of the lost reply")
    assert len(r.gw.book.orders) == 1
    # refused before placement (503) and absent from the order book: it never existed,
    # which the adapter concludes only after reconciliation passes, not on the spot
    r.gw.place_faults[:] = ["refuse"]
    lost = order(SYMBOL_EQ, Side.BUY, 3, OrderType.LIMIT, "1500.10")
    await r.venue.submit(lost)
    assert r.sink.kinds(lost.order_id) == []
    await wait_until(lambda: r.sink.kinds(lost.order_id) == ["REJECTED"], "the verdict")
    assert "never listed" in r.sink.reports(lost.order_id)[0].reason
    assert len(r.gw.book.orders) == 1


async def test_discovered_symbols_are_looked_up_at_kite(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery)
    venue = KiteVenue(API_KEY, ACCESS_TOKEN, instruments={}, nursery=nursery,
                      root=rest_root(gw), ws_root=ws_root(gw), settings=FAST)
    await venue.connect(LogSink())
    inst = await venue.instrument(SYMBOL_OPT)
    assert (inst.tick_size, inst.lot_size, inst.exchange, inst.currency) == (
        Decimal("0.05"), 75, "NFO", "INR")
    with pytest.raises(VenueError):
        await venue.instrument(SYMBOL_IDX)  # an index is not something to trade
    with pytest.raises(VenueError):
        await venue.instrument("NOSUCH")
    sink = LogSink()
    await venue.subscribe(inst, sink.handler(SYMBOL_OPT))
    push(gw, SYMBOL_OPT, "118.00", "118.10")
    await wait_until(lambda: any(q[1] == to_units("118.00")
                                 for q in sink.quotes.get(SYMBOL_OPT, [])), "its quotes")
    await venue.close()


def test_cli_unreachable_kite_exits_3_like_ib(tmp_path: Path) -> None:
    """Nobody listening: a clear message and the same exit code as for IB (3)."""
    import socket

    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = write(tmp_path / "ok.yaml", GOOD_CONFIG)
    proc = subprocess.run([PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config",
                           str(path), "--port", str(port), "--live"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env=cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN))
    assert proc.returncode == 3, proc.stderr
    assert f"cannot reach Kite at http://127.0.0.1:{port}" in proc.stderr, proc.stderr
    assert ACCESS_TOKEN not in proc.stdout + proc.stderr
    assert_no_traceback(proc)
    # the journal the run wrote says it never connected (not a clean run_finished)
    [journal] = list((tmp_path / "runs").glob("live-kite-*.jsonl"))
    last = json.loads(journal.read_text().splitlines()[-1])
    assert last["type"] == "run_failed", last
    assert f"cannot reach Kite at http://127.0.0.1:{port}" in last["reason"]
    assert ACCESS_TOKEN not in journal.read_text()


async def test_cli_wrong_token_against_the_gateway_exits_3_and_journals_it(
        nursery: trio.Nursery, tmp_path: Path) -> None:
    """Kite refusing the credentials is the same outcome as Kite not answering: exit 3,
    a clear line, a journal that ends in run_failed, and the token shown nowhere."""
    gw = await start_gateway(nursery)
    path = write(tmp_path / "ok.yaml", GOOD_CONFIG)
    token = "wrong-token-s3cr3t"
    proc = await trio.run_process(
        [PYTHON, "-m", "triotrade", "run", "--venue", "kite", "--config", str(path),
         "--port", str(gw.port), "--live"], cwd=tmp_path, capture_stdout=True,
        capture_stderr=True, check=False,
        env=cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=token))
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 3, out + err
    assert "TokenException" in err and "Traceback" not in out + err, err
    [journal] = list((tmp_path / "runs").glob("live-kite-*.jsonl"))
    text = journal.read_text()
    last = json.loads(text.splitlines()[-1])
    assert last["type"] == "run_failed" and "TokenException" in last["reason"], last
    assert not any(json.loads(line)["type"] == "run_finished" for line in text.splitlines())
    for shown in (out, err, text):
        assert "s3cr3t" not in shown
