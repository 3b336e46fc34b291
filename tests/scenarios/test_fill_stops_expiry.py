"""Simulated fill semantics, stops and good-till-date (SCENARIO_FORMAT.md
"Simulated fill semantics"): a stop fills at the first price available after its
trigger, never at the trigger price; GTD orders expire at their expiry.

The gap-through-stop rule is also checked end to end through ``runner.run`` with the
kernel's own stop-loss."""
from __future__ import annotations

from decimal import Decimal

from conftest import secs
from fill_support import Fill, Harness
from triotrade.kernel.venue import ReportKind
from triotrade.sim import runner, scenario


# ------------------------------------------------------------------ stops


async def test_sell_stop_triggers_on_touch_and_fills_at_first_available_price() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "98.01", "98.03")  # not crossed
    h.quote(3, "98.00", "98.02")  # touches the trigger
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 100, Decimal("98.00"))]


async def test_sell_stop_gapped_through_fills_at_gapped_price_not_trigger() -> None:
    h = Harness()
    h.quote(0, "99.48", "99.52")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(120, "91.98", "92.02")  # the gap: straight through 98.00
    h.quote(121, "98.50", "98.52")  # even if it comes back
    await h.run(300)
    fills = h.fills(oid)
    assert fills == [Fill(secs(120), 100, Decimal("91.98"))]
    assert all(f.price != Decimal("98.00") for f in fills)


async def test_buy_stop_gapped_through_fills_at_gapped_ask() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 50, "STOP", "102.00")
    h.quote(2, "101.98", "101.99")  # below the trigger
    h.quote(3, "107.98", "108.02")
    await h.run()
    assert h.fills(oid) == [Fill(secs(3), 50, Decimal("108.02"))]


async def test_triggered_stop_fills_like_market_against_displayed_size() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "92.00", "92.02", bid_size=30)
    h.quote(3, "91.50", "91.52", bid_size=1000)
    await h.run()
    # after the trigger it is a market order: it keeps filling even above the trigger
    # would be impossible here, and it never waits for the trigger price to come back
    assert h.fills(oid) == [Fill(secs(2), 30, Decimal("92.00")),
                            Fill(secs(3), 70, Decimal("91.50"))]


async def test_stop_arriving_already_crossed_triggers_at_once() -> None:
    h = Harness()
    h.quote(0, "95.00", "95.02")
    oid = h.order(1, "SELL", 10, "STOP", "98.00")
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 10, Decimal("95.00"))]


async def test_untriggered_stop_never_fills() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 10, "STOP", "98.00")
    h.quote(2, "98.01", "98.03")
    await h.run()
    assert h.fills(oid) == []
    assert h.kinds(oid) == ["ACCEPTED"]


async def test_cancel_triggered_stop_with_remainder() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "SELL", 100, "STOP", "98.00")
    h.quote(2, "97.00", "97.02", bid_size=40)
    h.cancel(3, oid)
    h.quote(4, "96.00", "96.02")
    await h.run()
    assert h.fills(oid) == [Fill(secs(2), 40, Decimal("97.00"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL", "CANCELLED"]


def test_kernel_stop_loss_gapped_through_fills_at_gapped_price() -> None:
    """End to end: the kernel's 2% stop on a long, the price gaps 8% down through it."""
    scn = scenario.loads(
        """
version: 1
name: gap-through-stop-exact
seed: 7
duration: 5m
instruments: [{symbol: ACME, tick_size: "0.01"}]
config: {exits: {stop_loss: "2%"}}
market:
  ACME:
    spread: "0.02"
    depth: 500
    ticks:
      - {t: 0s, last: "100.00"}
      - {t: 60s, last: "99.50"}
    gaps: [{t: 120s, pct: -8}]
signals: [{t: 1s, symbol: ACME, side: BUY}]
""", "gap.yaml")
    res = runner.run(scn)
    fills = [e for e in res.events if e["type"] == "fill"]
    entry = [e for e in fills if e["role"] == "ENTRY"]
    stop = [e for e in fills if e["role"] == "STOP_LOSS"]
    assert [Decimal(e["price"]) for e in entry] == [Decimal("100.01")]
    # stop level: 100.01 - 2% = 98.0098; 99.50 * 0.92 = 91.54 -> bid 91.53
    assert [(e["ts_ns"] >= secs(120), Decimal(e["price"]), e["qty"]) for e in stop] == [
        (True, Decimal("91.53"), "100")]
    assert stop[0]["ts_ns"] < secs(121)
    assert res.final_positions == {"ACME": 0}
    assert res.violations == []


# ------------------------------------------------------------------ good-till-date


async def test_gtd_expiry_is_reported_at_expiry() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    oid = h.order(1, "BUY", 10, "LIMIT", "99.00", expire=6)
    h.quote(5, "99.48", "99.50")
    h.quote(6, "98.98", "99.00")  # would fill, but the order expired at 6s
    await h.run()
    exp = h.of(oid, ReportKind.EXPIRED)
    assert [(r.ts_ns, r.qty) for r in exp] == [(secs(6), 0)]
    assert exp[0].reason
    assert h.fills(oid) == []
    assert h.kinds(oid) == ["ACCEPTED", "EXPIRED"]


async def test_gtd_partially_filled_remainder_expires() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=4)
    oid = h.order(1, "BUY", 10, "LIMIT", "100.02", expire=3)
    h.quote(5, "99.98", "100.02", ask_size=1000)
    await h.run()
    assert h.fills(oid) == [Fill(secs(1), 4, Decimal("100.02"))]
    assert h.kinds(oid) == ["ACCEPTED", "FILL", "EXPIRED"]
    assert h.of(oid, ReportKind.EXPIRED)[0].ts_ns == secs(3)


async def test_filled_order_does_not_expire_and_gtd_in_past_is_rejected() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02")
    filled = h.order(1, "BUY", 10, "LIMIT", "100.02", expire=3)
    stale = h.order(4, "BUY", 10, "LIMIT", "100.02", expire=4)
    await h.run()
    assert h.kinds(filled) == ["ACCEPTED", "FILL"]
    assert h.kinds(stale) == ["REJECTED"]


async def test_gtd_market_order_expires_unfilled_when_no_size() -> None:
    h = Harness()
    h.quote(0, "99.98", "100.02", ask_size=0)
    oid = h.order(1, "BUY", 10, expire=2)
    h.quote(3, "99.98", "100.02", ask_size=100)
    await h.run()
    assert h.kinds(oid) == ["ACCEPTED", "EXPIRED"]


