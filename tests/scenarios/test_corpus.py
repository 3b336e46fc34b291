"""The scenario corpus: every scenario passes on the real kernel, and each incident and
regression fails without the protection it is about.

A scenario that cannot fail proves nothing, so each incident and each regression is
paired with the weakening (``sim/weakenings.py``) that recreates the naive design or
the bug it guards against, and must then fail (exit 1). A regression must fail for the
reason it was kept: the invariant it broke, or the ``expect:`` check that states it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from triotrade.sim import runner, scenario
from triotrade.sim.weakenings import WEAKENINGS

ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = ROOT / "scenarios" / "incidents"
REGRESSIONS = ROOT / "scenarios" / "regressions"
ALL_SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))

# incident file -> the weakening it must fail on
INCIDENT_WEAKENING = {
    "gap_through_stop": "gap_ignored",
    "position_overshoot": "naive_exposure",
    "tiered_cap_fill_check": "fill_time_exposure_check",
    "emergency_exit_unfilled": "emergency_once",
    "partial_fill_exit": "emergency_once",
    "duplicate_exit_triggers": "single_exit_lock",
    "stale_feed_resume": "stale_ignored",
    "disconnect_mid_position": "no_disconnect_kill_switch",
    "daily_loss_kill_switch": "no_daily_loss_limit",
    "staggered_entries": "entries_not_staggered",
    "stale_news_alert": "no_freshness_window",
    "hold_time_exit": "no_hold_time_exit",
    "trailing_stop": "no_trailing_stop",
    "dynamic_ticker_discovery": "unknown_tickers_ignored",
    "crash_gap_while_down": "forget_on_restart",
    "crash_entry_fills_while_down": "no_restart_reconciliation",
    "restart_after_daily_loss": "forget_on_restart",
    "restart_over_cap": "no_restart_reconciliation",
    "crash_gap_venue_stop": "no_venue_stop",
    "session_entry_window": "no_session_window",
    "session_flatten": "no_session_flatten",
    "session_day_reset": "no_session_day_reset",
    "stop_loss_cooldown": "no_stop_loss_cooldown",
    "trade_threshold": "no_trade_threshold",
    "clip_exit": "no_clip",
    "signal_priority": "no_signal_priority",
    # the kill switch's counters and reset rules
    "error_count_after_reset": "error_count_never_restarts",
    "trading_halt_resume": "stale_switch_stays_manual",
    # portfolio limits
    "portfolio_burst_gross_cap": "no_gross_exposure_limit",
    "portfolio_open_positions": "no_open_positions_limit",
    "portfolio_buying_power": "no_buying_power",
    "portfolio_drawdown": "no_drawdown_limit",
    # bad data
    "bad_quote_refused": "bad_quotes_believed",
    "bad_print_ignored": "bad_prints_believed",
}

# regression file -> (the weakening that undoes its fix, the invariant or the start of
# the expect check that then fails)
REGRESSION_WEAKENING = {
    "exit_ttl_eaten_by_pacing": ("ttl_from_submit", "exit_liveness"),
    "emergency_exit_runaway_market": ("emergency_at_the_touch", "exit_liveness"),
    "entry_cap_after_pacing_wait": ("entry_recheck_after_pacing", "exposure_cap"),
    "reconnect_cancels_not_paced_by_dead_session": ("refused_actions_paced",
                                                    "max_position AAA"),
    "venue_stop_cancelled_first": ("venue_stop_not_cancelled", "single_working_exit"),
}


@pytest.mark.parametrize("path", ALL_SCENARIOS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scenario_passes(path: Path) -> None:
    result = runner.run(scenario.load(path))
    failed = [f"{c.name} ({c.detail})" for c in result.checks if not c.ok]
    assert not result.violations, result.violations
    assert not failed, failed
    assert result.exit_code == 0


def test_every_incident_and_regression_has_a_weakening() -> None:
    incidents = {p.stem for p in INCIDENTS.glob("*.yaml")}
    assert incidents == set(INCIDENT_WEAKENING), "each incident needs a weakening that fails it"
    assert len(incidents) >= 13
    regressions = {p.stem for p in REGRESSIONS.glob("*.yaml")}
    assert regressions == set(REGRESSION_WEAKENING), \
        "each regression needs the weakening that undoes its fix"
    used = set(INCIDENT_WEAKENING.values()) | {w for w, _ in REGRESSION_WEAKENING.values()}
    assert used <= set(WEAKENINGS)


@pytest.mark.parametrize("name", sorted(INCIDENT_WEAKENING))
def test_incident_fails_on_weakened_kernel(name: str) -> None:
    weakening = WEAKENINGS[INCIDENT_WEAKENING[name]]
    result = runner.run(scenario.load(INCIDENTS / f"{name}.yaml"), weakening=weakening)
    assert result.exit_code == 1, f"{name} still passes with: {weakening.removes}"


@pytest.mark.parametrize("name", sorted(REGRESSION_WEAKENING))
def test_regression_fails_without_its_fix(name: str) -> None:
    weak_name, reason = REGRESSION_WEAKENING[name]
    weakening = WEAKENINGS[weak_name]
    result = runner.run(scenario.load(REGRESSIONS / f"{name}.yaml"), weakening=weakening)
    assert result.exit_code == 1, f"{name} still passes with: {weakening.removes}"
    failed = [v["invariant"] for v in result.violations]
    failed += [c.name for c in result.checks if not c.ok]
    assert any(f.startswith(reason) for f in failed), (name, failed)
