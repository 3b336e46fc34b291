"""IbkrVenue against the TWS gateway over loopback, real ib_async in between.

The shared venue contract (tests/contract/) covers the basics for every venue; these
are the IB-specific promises: IB error codes mapped without killing live orders,
good-till-date expiry, resting stops filling at the gapped price, reconnection with
reconciliation (fills replayed once, orders finished while away, orders lost in the
drop, positions compared), IB's own 1100/1102 link notices, the heartbeat, connect
failures, and trio cancellation reaching the in-flight asyncio request.
"""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any, AsyncIterator

import pytest
import trio
from ib_async import IB, MarketOrder, Stock
from tws_support import Gateway, Recorder, free_port, gateway, px, scenario, wait_until

from triotrade.kernel.instruments import Instrument
from triotrade.kernel.orders import Order, OrderType, Role, Side
from triotrade.kernel.venue import ReportKind, VenueError
from triotrade.sim.exchange import Window
from triotrade.venues.ibkr import IbkrVenue, gtd_text, parse_order_ref, price_units

ACME = Instrument("ACME", Decimal("0.01"), 1, "USD", "SMART")
_ids = iter(range(1, 10_000))


def order(side: Side, qty: int, otype: OrderType, price: str | None = None, *,
          role: Role = Role.ENTRY, ttl_s: float | None = None) -> Order:
    expire = time.time_ns() + int(ttl_s * 1e9) if ttl_s is not None else None
    return Order(f"V{next(_ids)}", "ACME", role, side, qty, otype,
                 px(price) if price is not None else None, expire)


def venue_for(g: Gateway, client_id: int = 21, **kw: Any) -> IbkrVenue:
    opts: dict[str, Any] = dict(backoff=(0.05, 0.1, 0.2, 0.5), heartbeat=2.0,
                                request_timeout=10.0, connect_timeout=10.0)
    opts.update(kw)
    return IbkrVenue("127.0.0.1", g.port, client_id, **opts)


class Live:
    def __init__(self, g: Gateway, v: IbkrVenue, rec: Recorder) -> None:
        self.g, self.v, self.rec = g, v, rec


async def _open(g: Gateway, **kw: Any) -> Live:
    rec = Recorder()
    v = venue_for(g, **kw)
    await v.connect(rec)
    await v.subscribe(ACME, rec.quote_handler("ACME"))
    await rec.wait(lambda: bool(rec.quotes.get("ACME")), "the first quote")
    return Live(g, v, rec)


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with gateway() as g:
        lv = await _open(g)
        try:
            yield lv
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()
            assert lv.v.sink_errors == 0 and lv.v.internal_errors == 0


# ------------------------------------------------------------------ data and fills


async def test_quotes_and_fills_are_exact(live: Live) -> None:
    g, v, rec = live.g, live.v, live.rec
    g.push("ACME", "123.45", "123.47", last="123.46", bid_size=300, ask_size=200)
    await rec.wait(lambda: rec.quotes["ACME"][-1][1] == px("123.45"), "the pushed quote")
    _, bid, ask, last, bs, asz = rec.quotes["ACME"][-1]
    assert (bid, ask, last, bs, asz) == (px("123.45"), px("123.47"), px("123.46"), 300, 200)
    o = order(Side.BUY, 150, OrderType.LIMIT, "123.47")
    await v.submit(o)
    await rec.wait(lambda: rec.filled(o.order_id) == 150, "the entry to fill")
    # ACCEPTED first, never after a fill; each fill once, with IB's execId
    kinds = rec.kinds(o.order_id)
    assert kinds[0] == "ACCEPTED" and kinds.count("ACCEPTED") == 1, kinds
    fills = rec.of(o.order_id, ReportKind.FILL)
    assert [(f.qty, f.price) for f in fills] == [(150, px("123.47"))]
    assert len({f.exec_id for f in fills}) == len(fills) and all(fills[0].exec_id for f in fills)
    assert await v.positions() == {"ACME": 150}
    assert await v.cash() == px("1000000") - 150 * px("123.47") - px("1.00")  # $1 commission
    # the order went out carrying its role
    bo = g.broker.orders[(21, min(k[1] for k in g.broker.orders))]
    assert parse_order_ref(bo.order_ref) == ("ENTRY", o.order_id)


async def test_ib_commission_reports_reach_the_kernel_as_fee_reports(live: Live) -> None:
    g, v, rec = live.g, live.v, live.rec
    g.push("ACME", "20.00", "20.02", last="20.01")
    await rec.wait(lambda: rec.quotes["ACME"][-1][1] == px("20.00"), "the pushed quote")
    o = order(Side.BUY, 1000, OrderType.LIMIT, "20.02")
    await v.submit(o)
    await rec.wait(lambda: bool(rec.fees(o.order_id)), "the commission report")
    (fill,) = rec.of(o.order_id, ReportKind.FILL)
    # the gateway's IB fixed pricing: 1000 * 0.005 = 5.00, one report per execution
    assert rec.fees(o.order_id) == [(fill.exec_id, px("5.00"))]


async def test_resting_stop_fills_at_the_gapped_price(live: Live) -> None:
    g, v, rec = live.g, live.v, live.rec
    entry = order(Side.BUY, 100, OrderType.LIMIT, "100.01")
    await v.submit(entry)
    await rec.wait(lambda: rec.filled(entry.order_id) == 100, "entry")
    stop = order(Side.SELL, 100, OrderType.STOP, "98.00", role=Role.STOP_LOSS)
    await v.submit(stop)
    await rec.wait(lambda: "ACCEPTED" in rec.kinds(stop.order_id), "the stop working")
    assert [o.order_id for o in await v.open_orders()] == [stop.order_id]
    assert (await v.open_orders())[0].role == "STOP_LOSS"
    g.push("ACME", "98.50", "98.52")  # above the stop: nothing
    g.push("ACME", "92.00", "92.02")  # gaps through it
    await rec.wait(lambda: rec.filled(stop.order_id) == 100, "the stop to fill")
    [fill] = rec.of(stop.order_id, ReportKind.FILL)
    assert fill.price == px("92.00")  # the first price after the gap, never the trigger
    assert await v.positions() == {}


async def test_cancel_expiry_and_rejects(live: Live) -> None:
    g, v, rec = live.g, live.v, live.rec
    resting = order(Side.BUY, 10, OrderType.LIMIT, "90.00")
    expiring = order(Side.BUY, 10, OrderType.LIMIT, "90.00", ttl_s=0.5)
    await v.submit(resting)
    await v.submit(expiring)
    await rec.wait(lambda: "ACCEPTED" in rec.kinds(resting.order_id), "ack")
    await v.cancel(resting.order_id)
    await rec.wait(lambda: "CANCELLED" in rec.kinds(resting.order_id), "the cancel")
    await v.cancel(resting.order_id)  # already done: a no-op, not an error
    with pytest.raises(VenueError):
        await v.cancel("never-sent")
    # good-till-date at IB: the broker expires it; reported EXPIRED, not CANCELLED
    await rec.wait(lambda: "EXPIRED" in rec.kinds(expiring.order_id), "the expiry", 15)
    assert rec.kinds(expiring.order_id) == ["ACCEPTED", "EXPIRED"]
    # off-tick price: IB 110 before any ack -> rejected
    odd = order(Side.BUY, 10, OrderType.LIMIT, "90.005")
    await v.submit(odd)
    await rec.wait(lambda: "REJECTED" in rec.kinds(odd.order_id), "the 110 reject")
    assert "110" in rec.of(odd.order_id, ReportKind.REJECTED)[0].reason
    # the venue's own rejects (a role it refuses now): IB 201 with the reason
    g.market.exchange.faults.rejects[:] = [Window(0, 10**18, "DANGLING_SHARES")]
    dang = order(Side.SELL, 5, OrderType.MARKET, role=Role.DANGLING_SHARES)
    await v.submit(dang)
    await rec.wait(lambda: "REJECTED" in rec.kinds(dang.order_id), "the 201 reject")
    assert "201" in rec.of(dang.order_id, ReportKind.REJECTED)[0].reason
    assert not [c for c in rec.connections]  # none of this touched the session


async def test_warning_10349_does_not_kill_a_live_order() -> None:
    """ib_async marks a Trade Cancelled on 10349; the order is live at IB and must stay so."""
    async with gateway(warn_tif_preset=True) as g:
        lv = await _open(g)
        try:
            o = order(Side.BUY, 10, OrderType.LIMIT, "99.50")
            await lv.v.submit(o)
            await lv.rec.wait(lambda: "ACCEPTED" in lv.rec.kinds(o.order_id), "ack")

            def ib_thinks(ib: IB) -> list[tuple[str, int]]:
                return [(e.status, e.errorCode) for t in ib.trades() for e in t.log]

            assert ("Cancelled", 10349) in await lv.v.call(ib_thinks)  # the trap is real
            g.push("ACME", "99.48", "99.50")
            await lv.rec.wait(lambda: lv.rec.filled(o.order_id) == 10, "the fill")
            assert lv.rec.kinds(o.order_id) == ["ACCEPTED", "FILL"]
            assert any(code == 10349 for _, code, _ in await lv.v.recent_notices())
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()


# ------------------------------------------------------------------ sessions


async def test_reconnect_reconciles_everything_that_happened_while_away() -> None:
    async with gateway() as g:
        lv = await _open(g)
        v, rec = lv.v, lv.rec
        try:
            held = order(Side.BUY, 100, OrderType.LIMIT, "100.01")
            await v.submit(held)
            await rec.wait(lambda: rec.filled(held.order_id) == 100, "position")
            fills_later = order(Side.BUY, 40, OrderType.LIMIT, "99.00")
            expires = order(Side.BUY, 10, OrderType.LIMIT, "95.00", ttl_s=0.5)
            stays = order(Side.SELL, 100, OrderType.STOP, "90.00", role=Role.STOP_LOSS)
            for o in (fills_later, expires, stays):
                await v.submit(o)
            await rec.wait(lambda: all("ACCEPTED" in rec.kinds(o.order_id)
                                       for o in (fills_later, expires, stays)), "three acks")
            g.broker.stall = {3}  # the next placeOrder never reaches "IB"
            lost = order(Side.BUY, 5, OrderType.LIMIT, "95.00")
            await v.submit(lost)
            await wait_until(lambda: len(g.broker.orders) == 4, "orders at the broker")
            n_before = len(rec.reports)

            await g.kill()
            await rec.wait(lambda: rec.connections[-1:] == [(False, "connection to IB lost")],
                           "the drop")
            with pytest.raises(VenueError):  # nothing goes out while down
                await v.submit(order(Side.BUY, 1, OrderType.MARKET))
            g.push("ACME", "98.99", "99.00")  # fills `fills_later` while we are away
            await wait_until(lambda: all(not bo.working or bo.order_type == "STP"
                                         for bo in g.broker.orders.values()),
                             "the fill and the expiry at the broker")
            assert len(rec.reports) == n_before  # the venue saw none of it yet
            g.broker.stall = set()
            await g.restart()
            await rec.wait(lambda: rec.connections[-1][0], "the reconnect", 30)
            up_reason = rec.connections[-1][1]
            assert "1 fill(s) replayed" in up_reason and "positions match" in up_reason, up_reason
            assert f"1 lost ({lost.order_id})" in up_reason, up_reason
            assert rec.kinds(fills_later.order_id) == ["ACCEPTED", "FILL"]
            assert rec.of(fills_later.order_id, ReportKind.FILL)[0].price == px("99.00")
            assert rec.kinds(expires.order_id) == ["ACCEPTED", "EXPIRED"]
            assert rec.kinds(stays.order_id) == ["ACCEPTED"]
            assert rec.kinds(lost.order_id) == ["REJECTED"]
            assert "never reached IB" in rec.of(lost.order_id)[0].reason
            # the reconnect's startup sync also replays executions: still one report each
            exec_ids = [r.exec_id for r in rec.reports if r.kind is ReportKind.FILL]
            assert len(exec_ids) == len(set(exec_ids)) == 2
            # the session works again: data, queries, orders
            assert await v.positions() == {"ACME": 140}
            assert [o.order_id for o in await v.open_orders()] == [stays.order_id]
            g.push("ACME", "97.00", "97.02")
            await rec.wait(lambda: rec.quotes["ACME"][-1][1] == px("97.00"), "fresh quotes")
            await v.cancel(stays.order_id)
            await rec.wait(lambda: "CANCELLED" in rec.kinds(stays.order_id), "cancel after")
        finally:
            with trio.CancelScope(shield=True):
                await v.close()
        assert v.sink_errors == 0 and v.internal_errors == 0 and v.reconnects == 1


async def test_position_mismatch_is_reported() -> None:
    async with gateway() as g:
        lv = await _open(g)
        try:
            def other_client() -> None:  # someone else trades the account
                async def main() -> None:
                    ib = IB()
                    await ib.connectAsync("127.0.0.1", g.port, clientId=99, timeout=20)
                    [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
                    t = ib.placeOrder(c, MarketOrder("BUY", 5))
                    while t.orderStatus.status != "Filled":
                        await asyncio.sleep(0.01)
                    ib.disconnect()

                asyncio.run(asyncio.wait_for(main(), 60))

            await trio.to_thread.run_sync(other_client)
            await g.kill()
            await lv.rec.wait(lambda: lv.rec.connections[-1:] == [(False, "connection to IB lost")],
                              "the drop")
            await g.restart()
            await lv.rec.wait(lambda: lv.rec.connections[-1][0], "the reconnect", 30)
            assert "POSITION MISMATCH: ACME IB 5 vs fills 0" in lv.rec.connections[-1][1]
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()


async def test_ib_link_notices_1100_1102(live: Live) -> None:
    g, v, rec = live.g, live.v, live.rec
    # farm notices (2104/2106/2158) arrived at connect: informational only
    assert {2104, 2106, 2158} <= {code for _, code, _ in await v.recent_notices()}
    assert rec.connections == []
    resting = order(Side.BUY, 10, OrderType.LIMIT, "99.00")
    await v.submit(resting)
    await rec.wait(lambda: "ACCEPTED" in rec.kinds(resting.order_id), "ack")
    g.broker.broadcast_error(-1, 1100, "Connectivity between IB and Trader Workstation has "
                                       "been lost.")
    await rec.wait(lambda: len(rec.connections) == 1 and not rec.connections[0][0], "down")
    assert "1100" in rec.connections[0][1]
    with pytest.raises(VenueError):
        await v.submit(order(Side.BUY, 1, OrderType.MARKET))
    g.push("ACME", "98.99", "99.00")  # the socket is up: live reports still flow
    await rec.wait(lambda: rec.filled(resting.order_id) == 10, "a fill during the outage")
    g.broker.broadcast_error(-1, 1102, "Connectivity between IB and Trader Workstation has "
                                       "been restored - data maintained.")
    await rec.wait(lambda: len(rec.connections) == 2, "up again")
    up, reason = rec.connections[1]
    assert up and "1102" in reason and "positions match" in reason, reason
    o = order(Side.SELL, 10, OrderType.MARKET, role=Role.EXIT)
    await v.submit(o)
    await rec.wait(lambda: rec.filled(o.order_id) == 10, "trading again")


async def test_heartbeat_detects_a_silent_gateway() -> None:
    async with gateway() as g:
        lv = await _open(g, heartbeat=0.3, request_timeout=0.5)
        try:
            g.broker.stall = {49}  # reqCurrentTime unanswered: the far end looks dead
            await lv.rec.wait(lambda: lv.rec.connections[-1:] == [
                (False, "connection to IB lost")], "the heartbeat to give up")
            g.broker.stall = set()
            await lv.rec.wait(lambda: lv.rec.connections[-1][0], "the reconnect", 30)
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()


async def test_trio_cancellation_reaches_the_asyncio_request(live: Live) -> None:
    g, v = live.g, live.v
    g.broker.stall = {9}  # contract details never answered
    with trio.move_on_after(0.5) as scope:
        await v.instrument("ACME")
    assert scope.cancelled_caught
    # the asyncio task running the request was cancelled, in its own thread
    await wait_until(lambda: v.cancelled_calls == 1, "the asyncio side to see the cancel")
    g.broker.stall = set()
    inst = await v.instrument("ACME")
    assert inst.tick_size == ACME.tick_size and inst.lot_size == 1
    with pytest.raises(VenueError):
        await v.instrument("NOSUCH")


async def test_connect_failures_are_clear() -> None:
    rec = Recorder()
    port = free_port()
    v = IbkrVenue("127.0.0.1", port, 1, connect_timeout=5)
    with pytest.raises(VenueError, match="connection refused"):
        await v.connect(rec)
    await v.close()
    async with gateway() as g:
        first = venue_for(g, client_id=31)
        await first.connect(Recorder())
        try:
            second = venue_for(g, client_id=31, connect_timeout=3)
            with pytest.raises(VenueError, match="clientId 31 is already in use"):
                await second.connect(Recorder())
            assert await first.status() == "up"
        finally:
            await first.close()
        assert g.clients() == [] or g.clients() == [31]


def test_pure_helpers() -> None:
    assert price_units(100.07) == px("100.07")
    assert price_units(0.1 + 0.2) == px("0.30000000")  # 0.30000000000000004: rounded at 1e-8
    assert gtd_text(1_767_268_805_000_000_001) == "20260101-12:00:06"  # rounded up
    assert gtd_text(1_767_268_805_000_000_000) == "20260101-12:00:05"
    assert parse_order_ref("STOP_LOSS:O7:19a") == ("STOP_LOSS", "O7")
    assert parse_order_ref("my script") is None
    assert scenario().instruments[0].symbol == "ACME"


async def test_pacing_below_fifty_messages_per_second() -> None:
    """A burst of 60 orders reaches IB spread out: never 50 in any one-second window."""
    async with gateway() as g:
        lv = await _open(g)
        arrivals: list[float] = []
        place = g.broker.place

        def timed_place(sess: Any, po: Any) -> None:
            arrivals.append(trio.current_time())
            place(sess, po)

        g.broker.place = timed_place  # type: ignore[method-assign]
        try:
            burst = [order(Side.BUY, 1, OrderType.LIMIT, "50.00") for _ in range(60)]
            for o in burst:
                await lv.v.submit(o)  # returns at once: ib_async queues and paces
            await lv.rec.wait(lambda: all("ACCEPTED" in lv.rec.kinds(o.order_id)
                                          for o in burst), "60 acks")
            assert len(arrivals) == 60
            worst = max(sum(1 for t in arrivals if a <= t < a + 1.0) for a in arrivals)
            assert worst < 50, worst
            assert arrivals[-1] - arrivals[0] >= 0.5  # it really was spread out
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()
        # closed: calls fail cleanly, nothing more reaches the sink
        n = len(lv.rec.reports)
        with pytest.raises(VenueError):
            await lv.v.positions()
        g.push("ACME", "49.98", "50.00")
        await wait_until(lambda: all(not bo.working for bo in g.broker.orders.values()),
                         "the resting orders to fill at the broker")
        assert len(lv.rec.reports) == n


async def test_lost_execution_reports_are_fetched_and_cancel_waits_for_them() -> None:
    """IB's status says filled, the execDetails never came: the venue asks for them, and a
    cancel of a partly filled order is reported only after its fills."""
    async with gateway(scenario(depth=30)) as g:
        lv = await _open(g, terminal_grace=0.3)
        v, rec = lv.v, lv.rec
        try:
            g.broker.lose_exec_reports = True
            full = order(Side.BUY, 20, OrderType.LIMIT, "100.01")
            await v.submit(full)
            await rec.wait(lambda: rec.filled(full.order_id) == 20, "the fetched fill")
            part = order(Side.BUY, 100, OrderType.LIMIT, "100.01")
            await v.submit(part)  # 10 left displayed at the ask: a partial fill
            await wait_until(lambda: g.broker.orders[max(g.broker.orders)].filled == 10,
                             "the partial fill at the broker")
            await v.cancel(part.order_id)
            await rec.wait(lambda: "CANCELLED" in rec.kinds(part.order_id), "the cancel")
            assert rec.kinds(part.order_id) == ["ACCEPTED", "FILL", "CANCELLED"]
            assert rec.filled(part.order_id) == 10
        finally:
            with trio.CancelScope(shield=True):
                await v.close()
        assert v.sink_errors == 0 and v.internal_errors == 0


async def test_subscribe_during_an_outage_is_deferred() -> None:
    async with gateway(scenario(symbols=("ACME", "BETA"))) as g:
        lv = await _open(g)
        try:
            await g.kill()
            await lv.rec.wait(lambda: bool(lv.rec.connections), "the drop")
            beta = Instrument("BETA", ACME.tick_size, 1, "USD", "SMART")
            await lv.v.subscribe(beta, lv.rec.quote_handler("BETA"))  # no error while down
            await g.restart()
            await lv.rec.wait(lambda: bool(lv.rec.quotes.get("BETA")), "BETA quotes")
            g.push("BETA", "55.10", "55.12")
            await lv.rec.wait(lambda: lv.rec.quotes["BETA"][-1][1] == px("55.10"), "a push")
        finally:
            with trio.CancelScope(shield=True):
                await lv.v.close()


# ------------------------------------------------------------------ the fast path


def test_fast_send_encodes_exactly_like_ib_async() -> None:
    """IbkrVenue replaces ib_async's per-message encoder with one that must produce the
    same bytes; checked here on real placeOrder/cancel/market-data messages."""
    from ib_async import client as client_mod

    from triotrade.venues.ibkr.fast_path import OrderMaker, fast_send, install_fast_send

    class Capture:
        def __init__(self) -> None:
            self.msgs: list[str] = []
            self.fields: list[tuple[Any, ...]] = []

        def isConnected(self) -> bool:  # noqa: N802
            return True

        def sendMsg(self, msg: str) -> None:  # noqa: N802
            self.msgs.append(msg)

    ib = IB()
    ib.client._serverVersion = 178  # what the gateway (and TWS 10.19+) negotiates
    cap = Capture()
    ib.client.send = lambda *f, **kw: cap.fields.append((f, kw))  # type: ignore[method-assign]
    contract = Stock("ACME", "SMART", "USD", primaryExchange="NASDAQ")
    contract.conId = 4242
    v = IbkrVenue(run_tag="t")
    for o in (order(Side.SELL, 100, OrderType.MARKET, role=Role.STOP_LOSS, ttl_s=30),
              order(Side.BUY, 7, OrderType.LIMIT, "123.45"),
              order(Side.SELL, 3, OrderType.STOP, "98.10", ttl_s=5)):
        ib.client.placeOrder(17, contract, v._build(o, contract))
    ib.client.cancelOrder(17, "")
    ib.client.reqMktData(5, contract, "", False, False, [])
    assert len(cap.fields) == 5
    ours, theirs = Capture(), Capture()
    fast = fast_send(ours)
    for fields, kw in cap.fields:
        fast(*fields, **kw)
        client_mod.Client.send(theirs, *fields, **kw)  # type: ignore[arg-type]
    assert ours.msgs == theirs.msgs
    assert install_fast_send(IB().client)  # and the installed ib_async passes the check
    # orders are made from a template, checked equal to ib_async's own constructors
    assert OrderMaker().fast


async def test_finished_orders_are_forgotten(live: Live) -> None:
    """Finished orders are kept for late messages, then dropped, with ib_async's Trades:
    a live session's memory (and the garbage collector's work) does not grow by the
    order. A forgotten order still cannot be sent again or cancelled by mistake."""
    v, rec = live.v, live.rec
    v.retain_done = 2
    v.run_tag = "t"
    sent = []
    for i in range(5):
        o = order(Side.BUY if i % 2 == 0 else Side.SELL, 10, OrderType.MARKET)
        await v.submit(o)
        await rec.wait(lambda o=o: rec.filled(o.order_id) == 10, f"fill {i}")
        sent.append(o)

    def books(ib: Any) -> tuple[int, int, int, int]:  # read in the venue thread
        ours = [t for t in ib.wrapper.trades.values() if t.order.orderRef.endswith(":t")]
        return v.orders_finished, len(v._recs), len(ours), len(ib.wrapper.fills)

    assert v.fast_send
    finished, n_recs, n_trades, n_fills = await v.call(books)
    assert finished == 5
    assert n_recs == 2 and n_trades <= 2 and n_fills <= 2, (n_recs, n_trades, n_fills)
    await v.cancel(sent[0].order_id)  # finished and forgotten: a no-op
    with pytest.raises(VenueError, match="already sent"):
        await v.submit(sent[0])
    with pytest.raises(VenueError):
        await v.cancel("never-sent")


async def test_probe_points() -> None:
    """The latency probe (bench/latency_probes.py) sees a quote and an order at every point."""
    seen: list[tuple[str, Any]] = []
    async with gateway() as g:
        rec = Recorder()
        v = venue_for(g, probe=lambda point, t, info: seen.append((point, info)))
        await v.connect(rec)
        try:
            await v.subscribe(ACME, rec.quote_handler("ACME"))
            await rec.wait(lambda: bool(rec.quotes.get("ACME")), "the first quote")
            o = order(Side.BUY, 10, OrderType.MARKET, role=Role.EXIT)
            await v.submit(o)
            await rec.wait(lambda: rec.filled(o.order_id) == 10, "the fill")
        finally:
            with trio.CancelScope(shield=True):
                await v.close()
    points = [p for p, _ in seen]
    for p in ("rx", "quote", "quote_in", "submit", "submit_run", "placing", "write", "written"):
        assert p in points, p
    assert [info for p, info in seen if p == "submit"] == [o]
    assert any(p == "written" and info[4:6] == b"3\0" for p, info in seen)  # placeOrder
    without = IbkrVenue()
    assert without._probe is None  # off unless asked for
