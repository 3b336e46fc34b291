"""The kernel's rules on a running Kernel, a FakeVenue and a hand-moved clock.

No simulator: the test is the exchange. Every quote, acknowledgement and fill is one
line here, so each test shows the event a rule reacts to and what the kernel sends
back (tests/support/kernel_support.py).
"""
from __future__ import annotations

from decimal import Decimal

from conftest import px
from kernel_support import S, acme, events, make_kernel, running, settle
from triotrade.kernel.killswitch import KillAction
from triotrade.kernel.config import Entries, Sizing, Tier, TradingConfig
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.orders import OrderType, Role, Side
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.signals import Signal
from triotrade.kernel.venue import ReportKind


def buy(kernel: Kernel, symbol: str = "ACME") -> None:
    kernel.on_signal(Signal(symbol, "BUY", kernel.clock.now_ns()))


async def test_an_entry_signal_sizes_and_queues_orders_within_the_cap() -> None:
    cfg = TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=250))
    kernel, venue, clock = make_kernel(cfg)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        for _ in range(4):
            buy(kernel)
        await settle()
        # the first entry goes out at once, a limit at the ask; the rest wait their turn
        [first] = venue.submitted
        assert (first.role, first.side, first.qty, first.order_type, first.price) == (
            Role.ENTRY, Side.BUY, 100, OrderType.LIMIT, px("100.02"))
        assert first.expire_ns == clock.now_ns() + cfg.entries.entry_order_ttl
        # exposure counts the working and the queued entries: 100 + 100 + 50 = the cap
        accepted = events(kernel, "signal", accepted=True)
        assert [e["reason"] for e in accepted] == ["entry"] * 3
        [refused] = events(kernel, "signal", accepted=False)
        assert refused["reason"] == "max_position_size 250 reached"
        assert events(kernel, "risk_rejected", reason="max_position_size 250 reached")
        # later entries are staggered by staggered_order_delay (8 s)
        await clock.advance(8 * S - 1)
        assert len(venue.submitted) == 1
        await clock.advance(1)
        await clock.advance(8 * S)
        assert [o.qty for o in venue.submitted] == [100, 100, 50]
        assert sum(o.qty for o in venue.submitted) <= cfg.sizing.max_position_size


async def test_a_second_exit_trigger_while_one_works_is_exit_ignored() -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        buy(kernel)
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        venue.fill(entry, 100, "100.02")
        kernel.on_signal(Signal("ACME", "EXIT", clock.now_ns()))
        await settle()
        [_, exit_order] = venue.submitted
        assert (exit_order.role, exit_order.side, exit_order.qty, exit_order.order_type) == (
            Role.EXIT, Side.SELL, 100, OrderType.MARKET)
        # the price falls through the 2% stop while that exit works: a second trigger
        venue.quote("ACME", "97.00", "97.02")
        await settle()
        [ignored] = events(kernel, "exit_ignored")
        assert (ignored["reason"], ignored["via"], ignored["working_order_id"]) == (
            "stop_loss", "gap", exit_order.order_id)
        # and it stays ignored on every later check, journaled once
        await clock.advance(3 * S)
        assert len(venue.submitted) == 2
        assert len(events(kernel, "exit_ignored")) == 2  # the monitor's check, once
        assert [e["reason"] for e in events(kernel, "exit_triggered")] == ["signal"]


async def test_a_fill_that_reaches_a_shrunken_cap_cancels_working_entries() -> None:
    # a tiered cap: 200 below 150.00, 100 above it
    tiers = [Tier(Decimal("0"), Decimal("150"), 100, 200),
             Tier(Decimal("150.01"), Decimal("100000"), 100, 100)]
    cfg = TradingConfig(sizing=Sizing(tier_list=tiers),
                        entries=Entries(staggered_order_delay=S, entry_order_ttl=60 * S))
    kernel, venue, clock = make_kernel(cfg)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        buy(kernel)
        buy(kernel)
        await settle()
        await clock.advance(S)
        first, second = venue.submitted
        for o in (first, second):
            venue.report(ReportKind.ACCEPTED, o)
        # the price moves up into the smaller tier; the first entry fills there
        venue.quote("ACME", "160.00", "160.02")
        venue.fill(first, 100, "100.02")
        await settle()
        assert venue.cancels == [second.order_id]
        assert events(kernel, "position_changed")[-1]["qty"] == "100"
        venue.report(ReportKind.CANCELLED, second)
        await settle()
        assert kernel.tickers["ACME"].entries == {}
        assert kernel.tickers["ACME"].exposure() == 100


async def test_a_fill_below_the_cap_leaves_working_entries_alone() -> None:
    cfg = TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=200),
                        entries=Entries(staggered_order_delay=S, entry_order_ttl=60 * S))
    kernel, venue, clock = make_kernel(cfg)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        buy(kernel)
        buy(kernel)
        await settle()
        await clock.advance(S)
        first, second = venue.submitted
        venue.fill(first, 100, "100.02")
        await settle()
        assert venue.cancels == []  # filled 100 + working 100 = the cap: it fits


async def test_the_kill_switch_blocks_entries_and_cancel_all_cancels_working_ones() -> None:
    cfg = TradingConfig(entries=Entries(entry_order_ttl=60 * S))
    kernel, venue, clock = make_kernel(cfg)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        buy(kernel)
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        kernel.kill_switch("operator", KillAction.STOP_NEW_TRADES)
        await settle()
        assert venue.cancels == []  # stop_new_trades leaves working orders alone
        buy(kernel)
        await settle()
        [refused] = events(kernel, "signal", accepted=False)
        assert refused["reason"] == "kill switch: operator"
        assert len(venue.submitted) == 1
        kernel.kill_switch("operator", KillAction.CANCEL_ALL)
        await settle()
        assert venue.cancels == [entry.order_id]
        assert [(e["reason"], e["action"]) for e in events(kernel, "kill_switch")] == [
            ("operator", "stop_new_trades"), ("operator", "cancel_all")]
        # only a journaled reset lets entries through again
        kernel.reset_kill_switch("operator")
        buy(kernel)
        await clock.advance(cfg.entries.staggered_order_delay)
        assert len(venue.submitted) == 2
        assert events(kernel, "kill_switch_reset", by="operator", was="operator")


async def test_a_disconnect_fires_the_kill_switch_and_the_reconnect_reconciles() -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        buy(kernel)
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        venue.fill(entry, 100, "100.02")
        kernel.on_connection(False, "socket closed")
        buy(kernel)
        await settle()
        assert events(kernel, "kill_switch", reason="venue_disconnected", action="cancel_all")
        assert events(kernel, "signal", accepted=False)[0]["reason"].startswith("kill switch")
        kernel.on_connection(True, "back")
        await settle()
        [reconciled] = events(kernel, "reconciled")
        assert reconciled["positions"] == {"ACME": "100"} and reconciled["mismatches"] == []
        assert kernel.halt_reason == "venue_disconnected"  # a reconnect is not a reset


async def test_a_books_difference_that_persists_is_a_reconciliation_mismatch() -> None:
    kernel, venue, clock = make_kernel()
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        venue.venue_positions["ACME"] = 40  # a position the kernel knows nothing of
        kernel.on_connection(False, "socket closed")
        kernel.on_connection(True, "back")
        await settle()
        assert not events(kernel, "reconciled")  # not yet: it looks again a second later
        await clock.advance(2 * S)
        [reconciled] = events(kernel, "reconciled")
        assert reconciled["mismatches"] == ["ACME: kernel 0, venue 40"]
        assert events(kernel, "kill_switch", reason="reconciliation_mismatch")


async def test_a_signal_for_an_unknown_symbol_starts_its_ticker() -> None:
    newco = Instrument("NEWCO", Decimal("0.05"))
    kernel, venue, clock = make_kernel(instruments=[acme()], discoverable=[newco])
    async with running(kernel):
        buy(kernel, "NEWCO")
        buy(kernel, "NOSUCH")
        await settle()
        assert "NEWCO" in kernel.tickers and "NEWCO" in venue.handlers
        assert events(kernel, "ticker_started", symbol="NEWCO", via="discovery")
        # the waiting signal is judged once the ticker runs: no quote yet, so no entry
        [newco_signal] = events(kernel, "signal", symbol="NEWCO")
        assert newco_signal["reason"] == "no market data yet"
        [unknown] = events(kernel, "signal", symbol="NOSUCH")
        assert not unknown["accepted"] and unknown["reason"].startswith("unknown instrument")
        assert "NOSUCH" not in kernel.tickers
