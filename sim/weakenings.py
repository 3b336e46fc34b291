"""Named weakenings: the kernel with one protection removed, to prove a test can fail.

An incident or regression scenario passes on the real kernel; run against the naive
design it guards against, it must fail, or it proves nothing. The fuzzer makes the
same argument the other way round: with a protection removed it must find the break,
and name the invariant that catches it. Both draw their weakenings from this one
table, so a weakening means the same thing in the corpus test, in the fuzzer's teeth
tests and on the ``triotrade fuzz --weaken`` command line.

A weakening switches off kernel protections (``kernel.protections.Protections``)
and, for protections that are a matter of configuration, overrides the kernel's
config. The override reaches the kernel only: the simulator and the invariant
checker still judge the run by the scenario as written.
"""
from __future__ import annotations

from typing import Any

import attrs

from ..kernel.config import Duration, TradingConfig
from ..kernel.protections import Protections


@attrs.frozen
class Weakening:
    removes: str
    """What the weakened kernel no longer does, in words."""
    protections: Protections = Protections()
    config: tuple[tuple[str, Any], ...] = ()
    """(dotted path in the trading config, value) pairs the kernel is given instead."""
    catches: str | None = None
    """The invariant that should catch it when fuzzed; ``None``: not a fuzzing target."""

    def kernel_config(self, config: TradingConfig) -> TradingConfig:
        for path, value in self.config:
            config = _evolve(config, path.split("."), value)
        return config


def _evolve(obj: Any, keys: list[str], value: Any) -> Any:
    if len(keys) == 1:
        return attrs.evolve(obj, **{keys[0]: value})
    inner = getattr(obj, keys[0])
    if inner is None:  # the section is not set (config.session: null): nothing to remove
        return obj
    return attrs.evolve(obj, **{keys[0]: _evolve(inner, keys[1:], value)})


WEAKENINGS: dict[str, Weakening] = {
    # exposure
    "naive_exposure": Weakening(
        "exposure counts filled shares only, no fill-time check",
        Protections(exposure_counts_working=False, fill_time_exposure_check=False),
        catches="exposure_cap"),
    "fill_time_exposure_check": Weakening(
        "no cap check on entry fills", Protections(fill_time_exposure_check=False),
        catches="exposure_cap"),
    "entry_recheck_after_pacing": Weakening(
        "an entry that waited for the order-rate budget goes out unchecked",
        Protections(recheck_entry_after_pacing=False)),
    # exits
    "single_exit_lock": Weakening(
        "no single-exit lock", Protections(single_exit_lock=False), catches="single_working_exit"),
    "emergency_once": Weakening(
        "the emergency exit tries once", Protections(emergency_max_attempts=1),
        catches="exit_liveness"),
    "emergency_at_the_touch": Weakening(
        "emergency retries stay at the touch", Protections(emergency_retries_cross=False)),
    "ttl_from_submit": Weakening(
        "an order's time to live runs during the order-rate wait",
        Protections(ttl_counts_from_send=False)),
    "gap_ignored": Weakening(
        "gap detector does not trigger exit checks", Protections(gap_triggers_exit=False)),
    "no_hold_time_exit": Weakening(
        "no hold-time exit", config=(("exits.hold_threshold", None),)),
    "no_trailing_stop": Weakening(
        "no trailing stop", config=(("exits.trailing_stop", None),)),
    "no_venue_stop": Weakening(
        "no resting stop at the venue", config=(("exits.venue_stop", None),)),
    "venue_stop_not_cancelled": Weakening(
        "a kernel exit goes out while the resting venue stop still works",
        Protections(venue_stop_cancelled_first=False), catches="single_working_exit"),
    # session, feed and signals
    "no_disconnect_kill_switch": Weakening(
        "no kill switch on disconnect", Protections(disconnect_kill_switch=False)),
    "refused_actions_paced": Weakening(
        "actions refused by a dead session use order-rate budget",
        Protections(refused_actions_use_no_budget=False)),
    "stale_ignored": Weakening(
        "stale feed does not block entries", Protections(stale_blocks_entries=False),
        config=(("risk.stale_kill_switch", False),)),
    "no_freshness_window": Weakening(
        "no freshness window", config=(("entries.signal_freshness", Duration(10**15)),)),
    "unknown_tickers_ignored": Weakening(
        "unknown tickers ignored", Protections(discover_tickers=False)),
    # sessions and the entry rules in time
    "no_session_window": Weakening(
        "entries at any time of day, any day", config=(
            ("session.open", None), ("session.close", None), ("session.days", None),
            ("session.entry_delay", Duration(0)), ("session.entry_cutoff", None)),
        catches="no_entry_outside_session"),
    "no_session_flatten": Weakening(
        "positions are held through flatten_at", config=(("session.flatten_at", None),)),
    "no_session_day_reset": Weakening(
        "the daily loss limit counts the whole run, not the session day",
        Protections(session_day_resets_daily_loss=False)),
    "no_stop_loss_cooldown": Weakening(
        "re-entry at once after a stop-loss exit", config=(("entries.stop_loss_cooldown", None),),
        catches="no_entry_during_cooldown"),
    "no_trade_threshold": Weakening(
        "adds to an open trade however old it is", config=(("entries.trade_threshold", None),),
        catches="no_add_after_trade_threshold"),
    "no_clip": Weakening(
        "no clip exit", config=(("exits.clip_activation", None), ("exits.clip_stop_loss", None))),
    "no_signal_priority": Weakening(
        "every source's intent is judged alone", config=(
            ("signal_priority", None), ("signal_conflict_window", None))),
    # restarts
    "forget_on_restart": Weakening(
        "a restarted kernel forgets the day (P&L, kill switch, order ids)",
        Protections(restore_on_restart=False), catches="state_survives_restart"),
    "no_restart_reconciliation": Weakening(
        "a restarted kernel trades before reconciling with the venue",
        Protections(reconcile_on_restart=False), catches="no_entry_before_reconciliation"),
    # portfolio
    "no_daily_loss_limit": Weakening(
        "no daily loss limit", config=(("risk.daily_loss_limit", None),)),
    "entries_not_staggered": Weakening(
        "entries not staggered", config=(("entries.staggered_order_delay", Duration(0)),)),
    # the kill switch's counters and reset rules
    "error_count_never_restarts": Weakening(
        "the error kill switch fires only when the count equals max_errors, and a reset "
        "does not restart the count", Protections(error_count_restarts=False)),
    "no_gross_exposure_limit": Weakening(
        "no portfolio gross exposure limit", config=(("risk.max_gross_exposure", None),)),
    "no_open_positions_limit": Weakening(
        "no limit on open positions", config=(("risk.max_open_positions", None),),
        catches="open_positions"),
    "no_buying_power": Weakening(
        "entries may commit more than the account's cash", config=(("risk.buying_power", None),),
        catches="committed_cash"),
    "no_drawdown_limit": Weakening(
        "no drawdown kill switch", config=(("risk.max_drawdown_pct", None),)),
    "bad_quotes_believed": Weakening(
        "crossed and non-positive quotes are traded on", Protections(rejects_bad_quotes=False)),
    "bad_prints_believed": Weakening(
        "a print outside its own book is traded on", Protections(rejects_bad_prints=False)),
    "stale_switch_stays_manual": Weakening(
        "the all-feeds-stale kill switch waits for a person's reset",
        Protections(stale_lifts_itself=False)),
}

FUZZ_TARGETS: dict[str, Weakening] = {n: w for n, w in WEAKENINGS.items() if w.catches}
"""The weakenings the fuzzer is known to find within a few hundred examples."""


def weakening(name: str | None) -> Weakening | None:
    """The weakening called ``name`` (``None`` for none); ValueError naming the choices."""
    if name is None:
        return None
    try:
        return WEAKENINGS[name]
    except KeyError:
        raise ValueError(f"unknown weakening {name!r} (one of: {', '.join(WEAKENINGS)})") \
            from None
