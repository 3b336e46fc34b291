"""Simulated fill semantics, market and limit orders (SCENARIO_FORMAT.md
"Simulated fill semantics"): which quote a fill uses, displayed size, priority."""
from __future__ import annotations

from decimal import Decimal

from conftest import secs
from fill_support import Fill, Harness


# ------------------------------------------------------------------ market orders


async def test_market_buy_fills_at_ask_in_force_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    h.quote(2, "99.50", "99.60")  # a later, better quote must not be used
    oid = h.order(1, "BUY", 100)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 100, Decimal("100.02"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL"]


async def test_market_sell_fills_at_bid_in_force_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    h.quote(2, "101.00", "101.02")
    oid = h.order(1, "SELL", 100)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 100, Decimal("99.98"))]


async def test_market_uses_quote_in_force_not_last_trade() -> None:
    h = Harness()
    h.quote(0, "99.90", "100.10", last="95.00")
    buy = h.order(1, "BUY", 10)
    sell = h.order(1, "SELL", 10)
    await h.run()
    assert [f.price for f in h.fills(buy)] == [Decimal("100.10")]
    assert [f.price for f in h.fills(sell)] == [Decimal("99.90")]


async def test_market_fills_up_to_displayed_size_rest_on_later_quotes() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=30)
    h.quote(2, "100.00", "100.05", ask_size=50)
    h.quote(3, "100.05", "100.10", ask_size=1000)
    h.quote(4, "100.20", "100.30", ask_size=1000)
    oid = h.order(1, "BUY", 100)
    await h.run()
    assert h.fills(oid) == [
        Fill(secs(1), 30, Decimal("100.02")),
        Fill(secs(2), 50, Decimal("100.05")),
        Fill(secs(3), 20, Decimal("100.10")),
    ]


async def test_displayed_size_is_shared_within_one_quote() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", bid_size=25)
    h.quote(5, "99.90", "100.00", bid_size=100)
    first = h.order(1, "SELL", 20)
    second = h.order(1, "SELL", 20)
    await h.run()
    assert h.fills(first) == [Fill(secs(1), 20, Decimal("99.98"))]
    # only 5 left displayed at 99.98; the other 15 wait for the next quote
    assert h.fills(second) == [Fill(secs(1), 5, Decimal("99.98")),
                               Fill(secs(5), 15, Decimal("99.90"))]


async def test_market_order_before_any_quote_fills_on_first_quote() -> None:
    h = Harness()
    oid = h.order(1, "BUY", 10)
    h.quote(3, "50.00", "50.05")
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 10, Decimal("50.05"))]


# ------------------------------------------------------------------ limit orders


async def test_resting_buy_limit_fills_at_its_limit_when_touched() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 100, "LIMIT", "99.50")
    h.quote(2, "99.49", "99.51")  # not yet: ask above the limit
    h.quote(3, "99.48", "99.50")  # touches
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 100, Decimal("99.50"))]


async def test_resting_buy_limit_fills_better_when_first_crossing_quote_gapped() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 100, "LIMIT", "99.50")
    h.quote(2, "96.98", "97.02")  # gap straight through the limit
    h.quote(3, "99.40", "99.50")
    await h.run()
    assert h.fills(oid) == [Fill(secs(2), 100, Decimal("97.02"))]


async def test_resting_sell_limit_at_limit_and_better_on_gap() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    at = h.order(1, "SELL", 10, "LIMIT", "101.00")
    gapped = h.order(1, "SELL", 10, "LIMIT", "102.00")
    h.quote(2, "101.00", "101.02")  # touches the first only
    h.quote(3, "105.00", "105.02")  # gaps through the second
    await h.run()
    assert h.fills(at) == [Fill(secs(2), 10, Decimal("101.00"))]
    assert h.fills(gapped) == [Fill(secs(3), 10, Decimal("105.00"))]


async def test_marketable_limit_fills_at_the_touch_on_arrival() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 10, "LIMIT", "100.50")
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("100.02"))]


async def test_limit_never_fills_through_its_price() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=10)
    oid = h.order(1, "BUY", 30, "LIMIT", "100.02")
    h.quote(2, "100.02", "100.04")  # ask moved away: nothing
    h.quote(3, "99.99", "100.01", ask_size=5)
    h.quote(4, "99.99", "100.02", ask_size=1000)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("100.02")),
                            Fill(secs(3), 5, Decimal("100.01")),
                            Fill(secs(4), 15, Decimal("100.02"))]
    assert all(f.price <= Decimal("100.02") for f in h.fills(oid))


async def test_limit_price_time_priority() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    early = h.order(1, "BUY", 10, "LIMIT", "99.00")
    late = h.order(2, "BUY", 10, "LIMIT", "99.00")
    best = h.order(3, "BUY", 10, "LIMIT", "99.50")
    h.quote(4, "98.90", "99.00", ask_size=15)
    h.quote(5, "98.90", "99.00", ask_size=15)
    await h.run()
    assert h.fills(best) == [Fill(secs(4), 10, Decimal("99.00"))]
    assert h.fills(early) == [Fill(secs(4), 5, Decimal("99.00")),
                              Fill(secs(5), 5, Decimal("99.00"))]
    assert h.fills(late) == [Fill(secs(5), 10, Decimal("99.00"))]


