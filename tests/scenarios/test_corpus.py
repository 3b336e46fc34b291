"""The incident corpus: every scenario passes on the real kernel, and fails without
the protection it is about.

A scenario that cannot fail proves nothing, so each incident is paired with the
weakening that recreates the naive design it guards against (patched in the test
only, through the kernel's test seams or its config) and must then fail (exit 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import attrs
import pytest

from triotrade.kernel.runtime import Kernel
from triotrade.sim import runner, scenario

ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = ROOT / "scenarios" / "incidents"
ALL_SCENARIOS = sorted((ROOT / "scenarios").rglob("*.yaml"))


def with_config(kernel: Kernel, path: str, value: Any) -> None:
    """Set ``kernel.config.<path>`` on the frozen config tree."""
    parts = path.split(".")

    def evolve(obj: Any, keys: list[str]) -> Any:
        if len(keys) == 1:
            return attrs.evolve(obj, **{keys[0]: value})
        return attrs.evolve(obj, **{keys[0]: evolve(getattr(obj, keys[0]), keys[1:])})

    kernel.config = evolve(kernel.config, parts)


def _no_disconnect_kill_switch(k: Kernel) -> None:
    original = k.kill_switch

    def kill_switch(reason: str, action: str) -> None:
        if reason != "venue_disconnected":
            original(reason, action)

    k.kill_switch = kill_switch  # type: ignore[method-assign]


def _naive_exposure(k: Kernel) -> None:
    k.exposure_counts_working = False
    k.fill_time_exposure_check = False


def _stale_ignored(k: Kernel) -> None:
    k.stale_blocks_entries = False
    with_config(k, "risk.stale_kill_switch", False)


def _no_freshness(k: Kernel) -> None:
    k.news_filter.freshness_ns = 10**15


WEAKENED: dict[str, tuple[str, Callable[[Kernel], None]]] = {
    "gap_through_stop": ("gap detector does not trigger exit checks",
                         lambda k: setattr(k, "gap_triggers_exit", False)),
    "position_overshoot": ("exposure counts filled shares only", _naive_exposure),
    "tiered_cap_fill_check": ("no cap check on entry fills",
                              lambda k: setattr(k, "fill_time_exposure_check", False)),
    "emergency_exit_unfilled": ("emergency exit tries once",
                                lambda k: setattr(k, "emergency_max_attempts", 1)),
    "partial_fill_exit": ("emergency exit tries once",
                          lambda k: setattr(k, "emergency_max_attempts", 1)),
    "duplicate_exit_triggers": ("no single-exit lock",
                                lambda k: setattr(k, "single_exit_lock", False)),
    "stale_feed_resume": ("stale feed does not block entries", _stale_ignored),
    "disconnect_mid_position": ("no kill switch on disconnect", _no_disconnect_kill_switch),
    "daily_loss_kill_switch": ("no daily loss limit",
                               lambda k: with_config(k, "risk.daily_loss_limit", None)),
    "staggered_entries": ("entries not staggered",
                          lambda k: with_config(k, "entries.staggered_order_delay", 0)),
    "stale_news_alert": ("no freshness window", _no_freshness),
    "hold_time_exit": ("no hold-time exit",
                       lambda k: with_config(k, "exits.hold_threshold", None)),
    "trailing_stop": ("no trailing stop",
                      lambda k: with_config(k, "exits.trailing_stop", None)),
    "dynamic_ticker_discovery": ("unknown tickers ignored",
                                 lambda k: setattr(k, "discover_tickers", False)),
}


@pytest.mark.parametrize("path", ALL_SCENARIOS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scenario_passes(path: Path) -> None:
    result = runner.run(scenario.load(path))
    failed = [f"{c.name} ({c.detail})" for c in result.checks if not c.ok]
    assert not result.violations, result.violations
    assert not failed, failed
    assert result.exit_code == 0


def test_every_incident_has_a_weakening() -> None:
    names = {p.stem for p in INCIDENTS.glob("*.yaml")}
    assert names == set(WEAKENED), "each incident needs a weakened kernel that fails it"
    assert len(names) >= 13


@pytest.mark.parametrize("name", sorted(WEAKENED))
def test_incident_fails_on_weakened_kernel(name: str) -> None:
    why, hook = WEAKENED[name]
    result = runner.run(scenario.load(INCIDENTS / f"{name}.yaml"), kernel_hook=hook)
    assert result.exit_code == 1, f"{name} still passes with: {why}"
