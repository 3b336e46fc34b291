"""The venue contract: what the kernel relies on from every venue, sim or live."""
from __future__ import annotations

from triotrade.kernel.orders import Order, OrderType, Role, Side
from triotrade.kernel.venue import ReportKind

from .harness import Harness, units

_n = [0]


def order(side: Side, qty: int, otype: OrderType, price: str | None = None,
          role: Role = Role.ENTRY) -> Order:
    _n[0] += 1
    return Order(f"C{_n[0]}", "ACME", role, side, qty, otype,
                 units(price) if price is not None else None, None, 0)


def kinds(h: Harness, order_id: str) -> list[str]:
    return [r.kind.value for r in h.sink.for_order(order_id)]


async def test_market_data_arrives_exactly(harness: Harness) -> None:
    await harness.quote("101.10", "101.14", bid_size=300, ask_size=200)
    await harness.wait_for(lambda: any(q[1] == units("101.10") for q in harness.sink.quotes),
                           "the 101.10/101.14 quote")
    q = [q for q in harness.sink.quotes if q[1] == units("101.10")][-1]
    assert q[2] == units("101.14")


async def test_entry_fills_at_the_ask(harness: Harness) -> None:
    await harness.quote("100.00", "100.02")
    o = order(Side.BUY, 10, OrderType.LIMIT, "100.02")
    await harness.venue.submit(o)
    await harness.wait_for(lambda: harness.sink.filled(o.order_id) == 10, "entry filled")
    fills = [r for r in harness.sink.for_order(o.order_id) if r.kind is ReportKind.FILL]
    assert all(f.price == units("100.02") for f in fills)
    assert (await harness.venue.positions()).get("ACME") == 10


async def test_protective_exit_at_market(harness: Harness) -> None:
    await harness.quote("100.00", "100.02")
    entry = order(Side.BUY, 5, OrderType.LIMIT, "100.02")
    await harness.venue.submit(entry)
    await harness.wait_for(lambda: harness.sink.filled(entry.order_id) == 5, "entry filled")
    await harness.quote("97.50", "97.52")
    exit_ = order(Side.SELL, 5, OrderType.MARKET, role=Role.STOP_LOSS)
    await harness.venue.submit(exit_)
    await harness.wait_for(lambda: harness.sink.filled(exit_.order_id) == 5, "exit filled")
    prices = {r.price for r in harness.sink.for_order(exit_.order_id) if r.kind is ReportKind.FILL}
    assert prices == {units("97.50")}
    assert not (await harness.venue.positions()).get("ACME")


async def test_partial_fills_against_displayed_size(harness: Harness) -> None:
    await harness.quote("100.00", "100.02", ask_size=30)
    o = order(Side.BUY, 100, OrderType.LIMIT, "100.02")
    await harness.venue.submit(o)
    await harness.wait_for(lambda: harness.sink.filled(o.order_id) == 30, "first partial fill")
    await harness.quote("100.00", "100.02", ask_size=500)
    await harness.wait_for(lambda: harness.sink.filled(o.order_id) == 100, "the rest filled")
    assert kinds(harness, o.order_id).count("FILL") >= 2


async def test_cancel(harness: Harness) -> None:
    await harness.quote("100.00", "100.02")
    o = order(Side.BUY, 10, OrderType.LIMIT, "95.00")
    await harness.venue.submit(o)
    await harness.wait_for(lambda: "ACCEPTED" in kinds(harness, o.order_id), "ack")
    await harness.venue.cancel(o.order_id)
    await harness.wait_for(lambda: "CANCELLED" in kinds(harness, o.order_id), "cancel confirmed")
    assert "FILL" not in kinds(harness, o.order_id)
    assert o.order_id not in {x.order_id for x in await harness.venue.open_orders()}


async def test_reject(harness: Harness) -> None:
    harness.reject_orders(True)
    o = order(Side.BUY, 10, OrderType.LIMIT, "100.02")
    await harness.venue.submit(o)
    await harness.wait_for(lambda: "REJECTED" in kinds(harness, o.order_id), "reject")
    harness.reject_orders(False)
    assert "FILL" not in kinds(harness, o.order_id)


async def test_reconnect_and_reconciliation(harness: Harness) -> None:
    await harness.quote("100.00", "100.02")
    filled = order(Side.BUY, 7, OrderType.LIMIT, "100.02")
    await harness.venue.submit(filled)
    await harness.wait_for(lambda: harness.sink.filled(filled.order_id) == 7, "entry filled")
    resting = order(Side.BUY, 3, OrderType.LIMIT, "90.00")
    await harness.venue.submit(resting)
    await harness.wait_for(lambda: "ACCEPTED" in kinds(harness, resting.order_id), "ack")
    await harness.drop()
    await harness.wait_for(lambda: (False, ) == tuple(u for u, _ in harness.sink.connection[-1:]),
                           "the drop reported")
    await harness.restore()
    await harness.wait_for(lambda: bool(harness.sink.connection) and harness.sink.connection[-1][0],
                           "the reconnect reported", timeout_s=30)
    assert (await harness.venue.positions()).get("ACME") == 7
    open_ids = {x.order_id for x in await harness.venue.open_orders()}
    assert resting.order_id in open_ids
    # quotes flow again after the reconnect (resubscribed)
    await harness.quote("100.50", "100.52")
    await harness.wait_for(lambda: any(q[1] == units("100.50") for q in harness.sink.quotes),
                           "a quote after reconnect")
