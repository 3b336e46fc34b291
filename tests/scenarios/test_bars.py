"""OHLC bars of the last trade price, checked against a hand-made tick path.

A bar covers [start, start + interval) on the interval's grid from t=0; it is journaled
at its end (a tick exactly at the boundary opens the next bar), an interval without a
trade has no bar, and the bar still open when the run ends is journaled at the run's
end. The journal stays in time order.
"""
from __future__ import annotations

import pytest

from triotrade.sim import runner, scenario

PATH = """
version: 1
name: bars-by-hand
seed: 1
duration: 3500ms
instruments:
  - {symbol: BAR, tick_size: "0.01"}
config:
  monitor: {stale_after: 5m, gap_threshold_pct: 50}
  journal: {bar_interval: %s}
market:
  BAR:
    ticks:
      - {t: 0ms, last: "100.00"}
      - {t: 500ms, last: "101.00"}
      - {t: 900ms, last: "99.50"}
      - {t: 1000ms, last: "99.00"}
      - {t: 1500ms, last: "99.20"}
      - {t: 3200ms, last: "105.00"}
"""
S = 1_000_000_000


def bars(interval: str) -> list[tuple[int, int, str, str, str, str]]:
    result = runner.run(scenario.loads(PATH % interval))
    times = [e["ts_ns"] for e in result.events[1:]]
    assert times == sorted(times)
    assert not result.violations
    return [(e["start_ns"], e["ts_ns"], e["open"], e["high"], e["low"], e["close"])
            for e in result.events if e["type"] == "bar"]


def test_one_second_bars() -> None:
    assert bars("1s") == [
        (0, 1 * S, "100.00", "101.00", "99.50", "99.50"),
        (1 * S, 2 * S, "99.00", "99.20", "99.00", "99.20"),  # the 1 s tick opens this bar
        # no trade in [2 s, 3 s): no bar
        (3 * S, 3 * S + S // 2, "105.00", "105.00", "105.00", "105.00"),  # run end, 3.5 s
    ]


def test_two_second_bars() -> None:
    assert bars("2s") == [
        (0, 2 * S, "100.00", "101.00", "99.00", "99.20"),
        (2 * S, 3 * S + S // 2, "105.00", "105.00", "105.00", "105.00"),
    ]


def test_bar_interval_zero_turns_them_off() -> None:
    assert bars("0s") == []


def test_bars_are_on_by_default_at_one_second() -> None:
    scn = scenario.loads((PATH % "1s").replace("  journal: {bar_interval: 1s}\n", ""))
    assert scn.config.journal.bar_interval == S
    assert len([e for e in runner.run(scn).events if e["type"] == "bar"]) == 3


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(scenario.ScenarioError) as err:
        scenario.loads(PATH % "-1s")
    assert "config.journal.bar_interval" in str(err.value.problems)
