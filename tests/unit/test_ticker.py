"""One Ticker built directly, its tick path and risk arithmetic called synchronously.

The ticker belongs to a Kernel that is constructed but never run, on a hand-moved
clock: nothing happens unless the test calls it, so each assertion is about exactly
one tick, fill or timer (tests/support/kernel_support.py).
"""
from __future__ import annotations

from decimal import Decimal

from conftest import px
from kernel_support import S, acme, events, make_kernel
from triotrade.kernel.config import Distance, Exits, Monitor, Risk, Sizing, Tier, TradingConfig
from triotrade.kernel.orders import OrderType, Role, Side
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.ticker import Ticker


def ticker(config: TradingConfig | None = None) -> tuple[Ticker, Kernel]:
    kernel, _, _ = make_kernel(config)
    kernel.connected = True  # as after Kernel.run's connect
    t = Ticker(kernel, acme())
    kernel.tickers["ACME"] = t
    return t, kernel


def quote(t: Ticker, bid: str, ask: str, last: str | None = None) -> None:
    b, a = px(bid), px(ask)
    t.on_quote(t.k.clock.now_ns(), b, a, px(last) if last else (b + a) // 2, 500, 500)


def fill_long(t: Ticker, qty: int, price: str) -> None:
    order = t.k.new_order("ACME", Role.ENTRY, Side.BUY, qty, OrderType.LIMIT, px(price), None)
    order.apply_fill(qty)
    t.on_fill(order, qty, px(price), t.k.clock.now_ns())


def test_a_gap_tick_runs_the_exit_check_on_that_tick() -> None:
    t, k = ticker()
    quote(t, "100.00", "100.02")
    fill_long(t, 100, "100.02")
    quote(t, "97.00", "97.02")  # 3 % down in one tick: a gap, through the 2 % stop
    [gap] = events(k, "gap_detected")
    assert (gap["from_price"], gap["to_price"], gap["pct"]) == ("100.01", "97.01", "-3.00")
    [trigger] = events(k, "exit_triggered")
    assert (trigger["reason"], trigger["via"], trigger["ts_ns"]) == ("stop_loss", "gap", gap["ts_ns"])
    assert t.exit_request == ("stop_loss", "gap") and t.exiting


async def test_without_a_gap_the_stop_waits_for_the_position_monitor() -> None:
    t, k = ticker(TradingConfig(monitor=Monitor(gap_threshold_pct=Decimal(5))))
    quote(t, "100.00", "100.02")
    fill_long(t, 100, "100.02")
    quote(t, "97.00", "97.02")  # the same fall, under a 5 % gap threshold
    assert not events(k, "gap_detected") and not events(k, "exit_triggered")
    await k.clock.advance(S)  # type: ignore[attr-defined]
    [trigger] = events(k, "exit_triggered")
    assert (trigger["reason"], trigger["via"]) == ("stop_loss", "monitor")


def test_a_gap_while_flat_is_journaled_and_triggers_nothing() -> None:
    t, k = ticker()
    quote(t, "100.00", "100.02")
    quote(t, "110.00", "110.02")
    assert events(k, "gap_detected")[0]["pct"] == "10.00"
    assert not events(k, "exit_triggered")


def test_exposure_counts_filled_working_and_queued_entries() -> None:
    t, k = ticker(TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=300)))
    quote(t, "100.00", "100.02")
    fill_long(t, 60, "100.02")
    working = k.new_order("ACME", Role.ENTRY, Side.BUY, 100, OrderType.LIMIT, px("100.02"), None)
    working.apply_fill(30)
    t.entries[working.order_id] = working
    t.queue_entry(Side.BUY, 100, "test")
    assert t.exposure() == 60 + 70 + 100
    # the next entry is trimmed to the room left under the cap
    assert t.plan_entry(Side.BUY) == (70, None)
    t.queue_entry(Side.BUY, 70, "test")
    assert t.plan_entry(Side.BUY) == (0, "max_position_size 300 reached")


def test_entries_are_refused_for_what_the_ticker_knows() -> None:
    t, k = ticker()
    assert t.plan_entry(Side.BUY) == (0, "no market data yet")
    quote(t, "100.00", "100.02")
    assert t.plan_entry(Side.BUY) == (100, None)
    fill_long(t, 100, "100.02")
    assert t.plan_entry(Side.SELL) == (0, "opposite position open")
    t.request_exit("signal", None)
    assert t.plan_entry(Side.BUY) == (0, "exit in progress")
    k.connected = False
    assert t.plan_entry(Side.BUY) == (0, "venue disconnected")


def test_tiered_sizing_follows_the_last_price() -> None:
    tiers = [Tier(Decimal("0"), Decimal("50"), 200, 600),
             Tier(Decimal("50.01"), Decimal("1000"), 10, 30)]
    t, _ = ticker(TradingConfig(sizing=Sizing(tier_list=tiers)))
    quote(t, "20.00", "20.02")
    assert t.sizing() == (200, 600)
    quote(t, "100.00", "100.02")
    assert t.sizing() == (10, 30) and t.plan_entry(Side.BUY) == (10, None)


def test_exit_levels_long_short_and_trailing() -> None:
    exits = Exits(stop_loss=Distance(pct=Decimal(2)), take_profit=Distance(units=px("5")),
                  trailing_stop=Distance(pct=Decimal(1)))
    t, k = ticker(TradingConfig(exits=exits))
    assert t.exit_levels() == {}
    quote(t, "100.00", "100.00")
    fill_long(t, 10, "100.00")
    assert t.exit_levels() == {"stop_loss": px("98"), "take_profit": px("105"),
                               "trailing_stop": px("99")}
    quote(t, "102.00", "102.02")  # the best bid since entry raises the trailing stop
    assert t.exit_levels()["trailing_stop"] == px("100.98")
    quote(t, "100.90", "100.92")
    t.check_exits("monitor")
    assert events(k, "exit_triggered")[0]["reason"] == "trailing_stop"


def test_a_second_trigger_is_ignored_once_per_rule() -> None:
    t, k = ticker()
    quote(t, "100.00", "100.02")
    fill_long(t, 100, "100.02")
    t.request_exit("signal", None)
    t.request_exit("hold_time", "monitor")
    t.request_exit("hold_time", "monitor")
    assert [e["reason"] for e in events(k, "exit_triggered")] == ["signal"]
    assert [e["reason"] for e in events(k, "exit_ignored")] == ["hold_time"]


async def test_a_silent_feed_goes_stale_blocks_entries_and_resumes_on_a_tick() -> None:
    t, k = ticker(TradingConfig(monitor=Monitor(stale_after=5 * S),
                                risk=Risk(stale_kill_switch=False)))
    t._arm_stale()  # what Ticker.run does when it starts
    quote(t, "100.00", "100.02")
    await k.clock.advance(5 * S - 1)  # type: ignore[attr-defined]
    assert not t.stale
    await k.clock.advance(1)  # type: ignore[attr-defined]
    assert t.stale and events(k, "feed_stale")
    assert t.plan_entry(Side.BUY) == (0, "feed stale")
    assert not events(k, "kill_switch")
    quote(t, "100.00", "100.02")
    assert not t.stale and events(k, "feed_resumed")
    assert t.plan_entry(Side.BUY) == (100, None)


async def test_when_every_feed_is_stale_the_kill_switch_stops_new_trades() -> None:
    t, k = ticker(TradingConfig(monitor=Monitor(stale_after=5 * S)))
    t._arm_stale()
    quote(t, "100.00", "100.02")
    await k.clock.advance(5 * S)  # type: ignore[attr-defined]
    [fired] = events(k, "kill_switch")
    assert (fired["reason"], fired["action"]) == ("stale_data", "stop_new_trades")
    assert t.plan_entry(Side.BUY) == (0, "kill switch: stale_data")


def test_a_fill_journals_the_position_and_its_exact_average() -> None:
    t, k = ticker()
    quote(t, "100.00", "100.02")
    fill_long(t, 1, "100.00")
    fill_long(t, 2, "100.01")
    [_, second] = events(k, "position_changed")
    # (100.00 + 2 * 100.01) / 3 is not a tick: the average is not rounded to one
    assert second["qty"] == "3" and second["avg_price"] == "100.00666667"
    assert t.trades == 1 and t.max_exposure == 3
