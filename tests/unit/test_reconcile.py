"""Start-up and periodic reconciliation (``kernel/reconcile.py``) on a FakeVenue.

A kernel started against an account that already holds shares must not assume it is
flat: it adopts the position (counted in exposure, protected by its exits), adopts its
own working orders by their role tag, treats foreign ones by policy, and reduces a
position above the cap with a DANGLING_SHARES order. No entry goes out before the
reconciliation is journaled.
"""
from __future__ import annotations

from decimal import Decimal

import trio
from kernel_support import S, FakeVenue, ManualClock, acme, events, settle
from triotrade.kernel.config import Exits, Reconcile, Sizing, TradingConfig, structure
from triotrade.kernel.journal import Journal
from triotrade.kernel.orders import OrderType, Role, Side
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.signals import Signal
from triotrade.kernel.units import to_units
from triotrade.kernel.venue import OpenOrder


def px(text: str) -> int:
    return to_units(Decimal(text))


class HoldingVenue(FakeVenue):
    """A FakeVenue whose account holds positions (with average prices) and orders
    placed before this kernel started."""

    def __init__(self, clock: ManualClock, held: dict[str, tuple[int, str]],
                 working: list[OpenOrder] = ()) -> None:
        super().__init__(clock, [acme()])
        self.held = {s: (q, px(a)) for s, (q, a) in held.items()}
        self.venue_positions = {s: q for s, (q, _) in held.items()}
        self.working = list(working)

    async def holdings(self) -> dict[str, tuple[int, int | None]]:
        return dict(self.held)

    async def open_orders(self) -> list[OpenOrder]:
        return self.working + await super().open_orders()


def _kernel(venue_held: dict[str, tuple[int, str]], working: list[OpenOrder] = (),
            cfg: TradingConfig | None = None) -> tuple[Kernel, HoldingVenue, ManualClock]:
    clock = ManualClock()
    venue = HoldingVenue(clock, venue_held, working)
    cfg = cfg or TradingConfig(sizing=Sizing(unit_position_size=20, max_position_size=30),
                               exits=Exits(stop_loss=None))
    kernel = Kernel(config=cfg, clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()}, reconcile_at_start=True)
    return kernel, venue, clock


async def test_an_account_holding_shares_is_adopted_and_the_cap_counts_them() -> None:
    """Started against 10 shares at 99.50: adopt them, then a BUY fills only to the cap."""
    kernel, venue, clock = _kernel({"ACME": (10, "99.50")})
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        [adopted] = events(kernel, "position_adopted")
        assert (adopted["qty"], adopted["avg_price"], adopted["position"], adopted["source"]) \
            == ("10", "99.50", "10", "venue")
        [rec] = events(kernel, "reconciled")
        assert rec["when"] == "start" and rec["positions"] == {"ACME": "10"}
        assert kernel.tickers["ACME"].position.qty == 10
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        assert entry.qty == 20  # 10 held + 20 = the cap of 30, never 20 more on top of 40
        venue.fill(entry, 20, "100.02")
        await settle()
        assert kernel.tickers["ACME"].position.qty == 30 == venue.venue_positions["ACME"]
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        assert events(kernel, "risk_rejected", reason="max_position_size 30 reached")
        nursery.cancel_scope.cancel()


async def test_an_adopted_position_is_protected_by_the_configured_stop() -> None:
    cfg = structure({"exits": {"stop_loss": "2%"}}, TradingConfig)
    kernel, venue, clock = _kernel({"ACME": (10, "100.00")}, cfg=cfg)
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        venue.quote("ACME", "97.50", "97.52")  # below 98.00: 2% under the broker's average
        await clock.advance(cfg.monitor.check_interval)
        [trigger] = events(kernel, "exit_triggered")
        assert trigger["reason"] == "stop_loss"
        await settle()
        [exit_] = venue.submitted
        assert (exit_.side, exit_.qty, exit_.role) == (Side.SELL, 10, Role.STOP_LOSS)
        nursery.cancel_scope.cancel()


async def test_a_position_above_the_cap_is_reduced_by_dangling_shares() -> None:
    kernel, venue, clock = _kernel({"ACME": (45, "100.00")})
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        await settle()
        [reduce] = venue.submitted
        assert (reduce.role, reduce.side, reduce.qty, reduce.order_type) == (
            Role.DANGLING_SHARES, Side.SELL, 15, OrderType.MARKET)
        venue.quote("ACME", "100.00", "100.02")
        venue.fill(reduce, 15, "100.00")
        await settle()
        assert kernel.tickers["ACME"].position.qty == 30
        assert not kernel.tickers["ACME"].exiting and kernel.tickers["ACME"].exit_order is None
        assert len(venue.submitted) == 1  # no emergency exit of the rest
        nursery.cancel_scope.cancel()


async def test_own_orders_are_adopted_by_role_and_foreign_ones_halt() -> None:
    working = [OpenOrder("O7", "ACME", "SELL", 10, 0, "STOP_LOSS"),
               OpenOrder("kite:99", "ACME", "BUY", 5, 0, "UNKNOWN")]
    kernel, venue, clock = _kernel({"ACME": (10, "100.00")}, working)
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        [own] = events(kernel, "order_adopted")
        assert (own["order_id"], own["role"], own["source"]) == ("O7", "STOP_LOSS", "own")
        assert kernel.tickers["ACME"].exit_order is kernel.orders["O7"]
        [halt] = events(kernel, "kill_switch")
        assert (halt["reason"], halt["action"]) == ("foreign_orders", "stop_new_trades")
        [rec] = events(kernel, "reconciled")
        assert any("kite:99" in m and "halted" in m for m in rec["mismatches"]), rec
        # the id counter moved past the adopted id: no new order can reuse O7
        assert kernel.ids.next() == "O8"
        nursery.cancel_scope.cancel()


async def test_foreign_orders_cancel_policy_cancels_them() -> None:
    working = [OpenOrder("ib:5", "ACME", "BUY", 5, 0, "")]
    cfg = TradingConfig(reconcile=Reconcile(foreign_orders="cancel"))
    kernel, venue, clock = _kernel({}, working, cfg)
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        assert venue.cancels == ["ib:5"] and not events(kernel, "kill_switch")
        nursery.cancel_scope.cancel()


class SlowVenue(HoldingVenue):
    """Answers the position query only when the test says so."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock, {"ACME": (10, "100.00")})
        self.asked = trio.Event()
        self.answer = trio.Event()

    async def holdings(self) -> dict[str, tuple[int, int | None]]:
        self.asked.set()
        await self.answer.wait()
        return await super().holdings()


async def test_no_entry_before_the_reconciliation_is_journaled() -> None:
    clock = ManualClock()
    venue = SlowVenue(clock)
    kernel = Kernel(config=TradingConfig(), clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()}, reconcile_at_start=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(kernel.run)
        await venue.asked.wait()
        venue.quote("ACME", "100.00", "100.02")  # subscribed, quoting, not reconciled yet
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        [refused] = events(kernel, "signal", accepted=False)
        assert refused["reason"] == "reconciliation with the venue pending"
        venue.answer.set()
        await settle()
        assert [e["type"] for e in kernel.journal.events][-3:] == [
            "position_adopted", "position_changed", "reconciled"]
        assert not venue.submitted
        nursery.cancel_scope.cancel()


async def test_a_manual_order_mid_run_is_seen_by_the_periodic_reconciliation() -> None:
    cfg = TradingConfig(sizing=Sizing(unit_position_size=20, max_position_size=30),
                        reconcile=Reconcile(interval=5 * S))  # type: ignore[arg-type]
    kernel, venue, clock = _kernel({}, cfg=cfg)
    async with trio.open_nursery() as nursery:
        await nursery.start(kernel.run)
        venue.quote("ACME", "100.00", "100.02")
        venue.held["ACME"] = (40, px("100.00"))  # someone bought 40 by hand
        for _ in range(8):
            await clock.advance(S)
        await clock.advance(5 * S)
        [adopted] = events(kernel, "position_adopted")
        assert (adopted["qty"], adopted["source"]) == ("40", "periodic")
        [rec] = [e for e in events(kernel, "reconciled") if e.get("when") == "periodic"]
        assert rec["mismatches"] == ["ACME: kernel 0, venue 40"]
        await settle()
        [reduce] = venue.submitted
        assert (reduce.role, reduce.qty) == (Role.DANGLING_SHARES, 10)
        nursery.cancel_scope.cancel()
