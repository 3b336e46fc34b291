"""Protection at the venue (``kernel/venue_stop.py``): the resting stop's life, and the
exec-id restore a restart needs (``kernel/restore.py``).

Driven by hand on a FakeVenue: the test is the venue, so every step (the stop placed,
its cancel confirmed or not, a replayed execution) happens exactly when the test says.
"""
from __future__ import annotations


from kernel_support import FakeVenue, ManualClock, acme, events, px, running, settle
from test_reconcile import HoldingVenue
from triotrade.kernel.config import Exits, Sizing, TradingConfig, parse_distance
from triotrade.kernel.journal import Journal
from triotrade.kernel.orders import OrderType, Role
from triotrade.kernel.restore import read_day
from triotrade.kernel.runtime import Kernel
from triotrade.kernel.signals import Signal
from triotrade.kernel.venue import ExecReport, OpenOrder, ReportKind

CFG = TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=200),
                    exits=Exits(stop_loss=None, venue_stop=parse_distance("3%")))


def _kernel(cfg: TradingConfig = CFG, venue: FakeVenue | None = None, **kw: object
            ) -> tuple[Kernel, FakeVenue, ManualClock]:
    clock = venue.clock if venue is not None else ManualClock()
    venue = venue or FakeVenue(clock, [acme()])
    kernel = Kernel(config=cfg, clock=clock, venue=venue, journal=Journal(None),
                    instruments={"ACME": acme()}, **kw)  # type: ignore[arg-type]
    return kernel, venue, clock


async def _long(kernel: Kernel, venue: FakeVenue, qty: int, price: str) -> None:
    venue.quote("ACME", "100.00", "100.02")
    kernel.on_signal(Signal("ACME", "BUY", kernel.clock.now_ns()))
    await settle()
    entry = [o for o in venue.submitted if o.role is Role.ENTRY][-1]
    venue.fill(entry, qty, price)
    await settle()


def _stops(venue: FakeVenue) -> list:
    return [o for o in venue.submitted if o.order_type is OrderType.STOP]


async def test_an_entry_fill_places_the_resting_stop_below_the_average() -> None:
    kernel, venue, _ = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.01")
        [stop] = _stops(venue)
        # 100.01 - 3% = 97.0097: rounded towards the entry, never a bigger loss
        assert (stop.role, stop.side.value, stop.qty, stop.price, stop.expire_ns) == (
            Role.STOP_LOSS, "SELL", 100, px("97.01"), None)


async def test_a_short_rounds_its_trigger_down() -> None:
    kernel, venue, _ = _kernel()
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "SELL", kernel.clock.now_ns()))
        await settle()
        venue.fill(venue.submitted[0], 100, "100.01")
        await settle()
        [stop] = _stops(venue)
        assert (stop.side.value, stop.price) == ("BUY", px("103.01"))  # 103.0103 down


async def test_the_stop_is_replaced_only_after_its_cancel_is_confirmed() -> None:
    kernel, venue, clock = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [first] = _stops(venue)
        await clock.advance(9 * 10**9)  # past the staggered entry delay
        await _long(kernel, venue, 100, "102.00")
        assert venue.cancels == [first.order_id]
        assert len(_stops(venue)) == 1  # not yet: the old one may still be working
        venue.report(ReportKind.CANCELLED, first)
        await settle()
        second = _stops(venue)[-1]
        assert (second.qty, second.price) == (200, px("97.97"))  # avg 101.00 - 3%, on the tick


async def test_a_kernel_exit_waits_for_the_stop_cancel() -> None:
    kernel, venue, clock = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [stop] = _stops(venue)
        kernel.operator_flatten("ACME")
        await settle()
        assert venue.cancels == [stop.order_id]
        assert [o.role for o in venue.submitted] == [Role.ENTRY, Role.STOP_LOSS]  # no exit yet
        await clock.advance(5 * 10**9)  # no answer: still no exit, the stop may work
        assert [o.role for o in venue.submitted] == [Role.ENTRY, Role.STOP_LOSS]
        venue.report(ReportKind.CANCELLED, stop)
        await settle()
        exit_ = venue.submitted[-1]
        assert (exit_.role, exit_.order_type, exit_.qty) == (Role.EXIT, OrderType.MARKET, 100)
        venue.fill(exit_, 100, "99.00")
        await settle()
        assert len(_stops(venue)) == 1  # flat: no new stop


async def test_a_stop_that_fills_during_the_cancel_needs_no_exit() -> None:
    kernel, venue, _ = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [stop] = _stops(venue)
        kernel.operator_flatten("ACME")
        await settle()
        venue.fill(stop, 100, "96.50")  # the venue's stop won the race
        await settle()
        assert [o.role for o in venue.submitted] == [Role.ENTRY, Role.STOP_LOSS]
        assert kernel.tickers["ACME"].position.qty == 0


async def test_a_stop_fill_is_a_fill_of_our_own_order() -> None:
    kernel, venue, _ = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [stop] = _stops(venue)
        venue.fill(stop, 40, "96.90")
        await settle()
        assert venue.cancels == []  # what is left of it still fits the position
        venue.fill(stop, 60, "96.80")
        await settle()
        assert kernel.tickers["ACME"].position.qty == 0
        assert [e["role"] for e in events(kernel, "fill")] == ["ENTRY", "STOP_LOSS", "STOP_LOSS"]
        assert len(venue.submitted) == 2 and not events(kernel, "report_unknown_order")


async def test_a_shutdown_leaves_the_stop_at_the_venue() -> None:
    kernel, venue, _ = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [stop] = _stops(venue)
        kernel.shutdown_orders()
        [down] = events(kernel, "shutdown")
        assert down["exits_left_working"] == [stop.order_id]


async def test_off_by_default_nothing_rests() -> None:
    cfg = TradingConfig(sizing=CFG.sizing, exits=Exits(stop_loss=None))
    kernel, venue, _ = _kernel(cfg)
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        assert _stops(venue) == [] and "exec_id" not in events(kernel, "fill")[0]


async def test_a_restart_adopts_its_resting_stop_and_resizes_it() -> None:
    clock = ManualClock()
    stop = OpenOrder("O2", "ACME", "SELL", 100, 0, "STOP_LOSS", "STOP", px("97.00"))
    venue = HoldingVenue(clock, {"ACME": (150, "100.00")}, [stop])
    kernel, _, _ = _kernel(venue=venue, reconcile_at_start=True)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        await settle()
        [adopted] = events(kernel, "order_adopted")
        assert (adopted["role"], adopted["source"]) == ("STOP_LOSS", "own")
        assert kernel.tickers["ACME"].exit_order is None  # not a kernel exit
        assert venue.cancels == ["O2"]  # 150 held: the stop for 100 is replaced
        venue.working.clear()
        venue.sink.on_report(ExecReport(ReportKind.CANCELLED, "O2", clock.now_ns()))
        await settle()
        [new] = _stops(venue)
        assert (new.qty, new.price) == (150, px("97.00"))


async def test_a_restart_knows_the_executions_it_has_seen() -> None:
    """An execution the venue reports again after a restart is not counted twice."""
    kernel, venue, _ = _kernel()
    async with running(kernel):
        await _long(kernel, venue, 100, "100.00")
        [stop] = _stops(venue)
        venue.fill(stop, 40, "97.00")  # partly filled: still working at the restart
        await settle()
    first = kernel.journal.events
    fills = [e for e in first if e["type"] == "fill"]
    assert [f["exec_id"] for f in fills] == ["X1", "X2"]
    day = read_day(first, "first.jsonl")
    assert day.exec_ids == ["X1", "X2"] and day.filled == {"O1": 100, "O2": 40}
    clock = ManualClock()
    left = OpenOrder("O2", "ACME", "SELL", 100, 40, "STOP_LOSS", "STOP", px("97.00"))
    again = HoldingVenue(clock, {"ACME": (60, "100.00")}, [left])
    kernel2, _, _ = _kernel(venue=again, reconcile_at_start=True, restore=day)
    async with running(kernel2):
        # the broker replays the stop's earlier execution after the reconnect
        again.sink.on_report(ExecReport(ReportKind.FILL, "O2", clock.now_ns(), qty=40,
                                        price=px("97.00"), exec_id="X2"))
        [dup] = events(kernel2, "report_duplicate")
        assert dup["exec_id"] == "X2"
        assert kernel2.tickers["ACME"].position.qty == 60 and not events(kernel2, "fill")
