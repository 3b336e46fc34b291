"""Restart without loss (``kernel/restore.py``): the day rebuilt from the journal.

A first kernel trades and dies; a second one, built from the first one's journal and
started against the same account, must hold the same position at the same cost, the
same realized P&L (loss limits continue), the kill switch still in force, and never
hand out an order id the first one used. The venue agrees, so nothing is adopted.
"""
from __future__ import annotations

import trio

from kernel_support import FakeVenue, ManualClock, acme, events, settle
from test_reconcile import HoldingVenue
from triotrade.kernel.config import Sizing, TradingConfig
from triotrade.kernel.journal import Journal
from triotrade.kernel.killswitch import KillAction
from triotrade.kernel.restore import read_day
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.signals import Signal

CFG = TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=100))


async def _first_run() -> tuple[list[dict], FakeVenue]:
    clock = ManualClock()
    venue = FakeVenue(clock, [acme()])
    kernel = Kernel(config=CFG, clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()})
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        venue.fill(entry, 100, "100.00")
        kernel.kill_switch("operator", KillAction.STOP_NEW_TRADES)
        await settle()
        nursery.cancel_scope.cancel()  # dies: no shutdown, no run_finished
    return kernel.journal.events, venue


async def test_a_restarted_kernel_continues_the_day() -> None:
    journal, first_venue = await _first_run()
    day = read_day(journal, "first.jsonl")
    clock = ManualClock()
    venue = HoldingVenue(clock, {"ACME": (100, "100.00")})
    kernel = Kernel(config=CFG, clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()}, reconcile_at_start=True, restore=day)
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        [restarted] = events(kernel, "restarted")
        assert restarted["positions"] == {"ACME": "100"}
        assert restarted["kill_switch"] == ["operator (stop_new_trades)"]
        assert restarted["last_order_id"] == "O1" and restarted["source"] == "first.jsonl"
        pos = kernel.tickers["ACME"].position
        assert (pos.qty, pos.avg_price, pos.opened_ns) == (
            100, 100 * 10**8, [e for e in journal if e["type"] == "position_changed"][0]["ts_ns"])
        # the venue agrees with the journal: nothing to adopt
        assert not events(kernel, "position_adopted")
        [rec] = events(kernel, "reconciled")
        assert rec["when"] == "start" and rec["mismatches"] == []
        # the kill switch is still in force: a restart is not a reset
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        [refused] = events(kernel, "signal", accepted=False)
        assert refused["reason"] == "kill switch: operator"
        # order ids continue after the first run's
        assert kernel.ids.next() == "O2"
        nursery.cancel_scope.cancel()


async def test_a_loss_limit_continues_after_a_restart() -> None:
    """Realized P&L of the day comes back, so a daily loss limit does not start at zero."""
    clock = ManualClock()
    venue = FakeVenue(clock, [acme()])
    kernel = Kernel(config=CFG, clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()})
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        venue.fill(venue.submitted[0], 100, "100.00")
        kernel.on_signal(Signal("ACME", "EXIT", clock.now_ns()))
        await settle()
        venue.fill(venue.submitted[1], 100, "99.00")
        await settle()
        nursery.cancel_scope.cancel()
    day = read_day(kernel.journal.events, "j")
    assert day.realized_total == -100 * 10**8
    second = Kernel(config=CFG, clock=ManualClock(), venue=FakeVenue(ManualClock(), [acme()]),
                    journal=Journal(None), instruments={"ACME": acme()}, restore=day)
    async with trio.open_nursery() as nursery:
        await nursery.start(second.run)
        assert second.realized_total == -100 * 10**8
        assert second.tickers["ACME"].position.realized == -100 * 10**8
        assert second.tickers["ACME"].position.qty == 0
        nursery.cancel_scope.cancel()
