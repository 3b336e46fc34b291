"""The one wiring (``kernel/session.py``): what every session gets, simulated or live.

A live run must trade the strategies its config names and judge its own journal as it
goes: an invariant that breaks is a tripwire (journaled, the kill switch fires
``cancel_all``, ``run_finished`` names it). The simulator builds through the same
function but only judges, so its journals do not change.
"""
from __future__ import annotations

from pathlib import Path

from decimal import Decimal

from kernel_support import S, ManualClock, FakeVenue, acme, settle
from triotrade.kernel.config import load_strategy_plans
from triotrade.kernel.config import Sizing, StrategySpec, TradingConfig
from triotrade.kernel.journal import Journal
from triotrade.kernel.killswitch import KillAction
from triotrade.kernel.protections import Protections
from triotrade.strategies.loader import factory as strategy_factory
from triotrade.kernel.session import TRIPWIRE_REASON, build_session, setup_problems
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.signals import Signal
from triotrade.sim.invariants import live_checker
from triotrade.strategies.ma_cross import MovingAverageCross

import trio

CAP = TradingConfig(sizing=Sizing(unit_position_size=100, max_position_size=100))


def _session(trip: KillAction | None, protections: Protections = Protections(),
             config: TradingConfig = CAP):
    clock = ManualClock()
    venue = FakeVenue(clock, [acme()])
    journal = Journal(None)
    plans = load_strategy_plans(config, base_dir=Path("."))  # as the loaders resolve them
    session = build_session(venue=venue, clock=clock, journal=journal, config=config,
                            instruments={"ACME": acme()}, checker=live_checker, trip=trip,
                            protections=protections, strategies=strategy_factory(plans))
    return session, venue, clock, journal


def _of(journal: Journal, type_: str) -> list[dict]:
    return [e for e in journal.events if e["type"] == type_]


async def _overshoot(trip: KillAction | None) -> tuple:
    """A kernel that forgets its working entries sends a second entry over the cap."""
    session, venue, clock, journal = _session(
        trip, Protections(exposure_counts_working=False, fill_time_exposure_check=False,
                          recheck_entry_after_pacing=False))
    async with trio.open_nursery() as nursery:
        await session.start(nursery)
        venue.quote("ACME", "100.00", "100.02")
        k = session.kernel
        k.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        k.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        await clock.advance(10 * S)
        await settle()
        session.finish()
        nursery.cancel_scope.cancel()
    return session, venue, journal


async def test_a_broken_invariant_live_is_a_tripwire() -> None:
    session, venue, journal = await _overshoot(KillAction.CANCEL_ALL)
    [broke] = _of(journal, "invariant_violated")
    assert broke["invariant"] == "exposure_cap"
    kills = _of(journal, "kill_switch")
    assert [(k["reason"], k["action"]) for k in kills] == [(TRIPWIRE_REASON, "cancel_all")]
    assert kills[0]["ts_ns"] == broke["ts_ns"]
    # cancel_all: both working entries are cancelled at the venue, no entry after it
    assert sorted(venue.cancels) == sorted(o.order_id for o in venue.submitted)
    assert session.kernel.halt_reason == TRIPWIRE_REASON
    [done] = _of(journal, "run_finished")
    assert done["violations"] == ["exposure_cap"]


async def test_without_a_trip_the_break_is_only_judged() -> None:
    """The simulator's way: the run fails on the break, the kernel is not touched."""
    session, venue, journal = await _overshoot(None)
    assert [e["invariant"] for e in _of(journal, "invariant_violated")] == ["exposure_cap"]
    assert not _of(journal, "kill_switch") and not venue.cancels
    assert _of(journal, "run_finished")[0]["violations"] == ["exposure_cap"]


async def test_a_clean_session_finishes_with_no_violations() -> None:
    session, venue, clock, journal = _session(KillAction.CANCEL_ALL)
    async with trio.open_nursery() as nursery:
        await session.start(nursery)
        venue.quote("ACME", "100.00", "100.02")
        session.kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        venue.fill(entry, 100, "100.02")
        await settle()
        session.finish()
        nursery.cancel_scope.cancel()
    assert not _of(journal, "invariant_violated") and not _of(journal, "kill_switch")
    assert _of(journal, "run_finished")[0]["violations"] == []


def test_sessions_get_the_configured_strategies() -> None:
    cfg = TradingConfig(strategies={"ACME": StrategySpec(kind="ma_cross", params={"fast": 3, "slow": 7})})
    session, *_ = _session(None, config=cfg)
    made = session.kernel.strategy_factory("ACME")
    assert isinstance(made, MovingAverageCross) and (made.fast, made.slow) == (3, 7)
    assert session.kernel.strategy_factory("OTHER") is None


def test_setup_problems_are_the_scenarios() -> None:
    cfg = TradingConfig(tickers=["ZZZ"],
                        strategies={"YYY": StrategySpec(kind="ma_cross", params={"fast": 3, "slow": 7})})
    problems = setup_problems([Instrument("ACME", Decimal("0"))], cfg)
    assert ("instruments[0].tick_size", "must be positive") in problems
    assert ("config.tickers[0]", "symbol 'ZZZ' is not declared under instruments") in problems
    assert ("config.strategies.YYY",
            "symbol 'YYY' is not declared under instruments") in problems
