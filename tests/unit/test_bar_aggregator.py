"""strategies/bars.py: fixed-interval OHLC bars from ticks, pure and integer-only."""
from __future__ import annotations

import pytest

from triotrade.strategies.bars import Bar, BarAggregator

S = 1_000_000_000


def test_a_bar_is_emitted_by_the_first_tick_past_its_interval() -> None:
    agg = BarAggregator(60 * S)
    assert agg.update(0, 100) is None
    assert agg.update(10 * S, 105) is None
    assert agg.update(20 * S, 95) is None
    assert agg.update(59 * S, 101) is None
    assert agg.next_close_ns == 60 * S
    assert agg.update(60 * S, 102) == Bar(0, 60 * S, 100, 105, 95, 101, 4)


def test_intervals_without_ticks_make_no_bar_and_bars_stay_aligned() -> None:
    agg = BarAggregator(60 * S)
    agg.update(5 * S, 100)
    # next tick three minutes later: the first bar closes, the empty ones are skipped
    assert agg.update(185 * S, 90) == Bar(0, 60 * S, 100, 100, 100, 100, 1)
    assert agg.update(240 * S, 91) == Bar(180 * S, 240 * S, 90, 90, 90, 90, 1)


def test_close_until_closes_at_the_boundary_without_a_tick() -> None:
    agg = BarAggregator(10 * S, origin_ns=3 * S)
    assert agg.close_until(100 * S) is None  # nothing open
    agg.update(4 * S, 7)
    agg.update(12 * S, 9)
    assert agg.close_until(12 * S + 999) is None
    assert agg.close_until(13 * S) == Bar(3 * S, 13 * S, 7, 9, 7, 9, 2)
    assert agg.close_until(14 * S) is None and agg.next_close_ns is None
    assert agg.update(14 * S, 8) is None  # a fresh bar, nothing left to emit
    assert agg.update(23 * S, 6) == Bar(13 * S, 23 * S, 8, 8, 8, 8, 1)


def test_bad_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        BarAggregator(0)
