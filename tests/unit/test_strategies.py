"""Strategies and the news filter: pure synchronous code, tested directly."""
from __future__ import annotations

from triotrade.strategies.ma_cross import MovingAverageCross
from triotrade.strategies.news import NewsAlertFilter

S = 1_000_000_000


def test_ma_cross_signals_golden_and_death_cross() -> None:
    s = MovingAverageCross(2, 4)
    prices = [100, 100, 100, 100, 90, 90, 90, 120, 130, 130, 80, 70]
    out = [s.on_price(i, p) for i, p in enumerate(prices)]
    assert "BUY" in out and "EXIT" in out
    # the first signal can only come once both averages exist (slow window filled)
    assert all(x is None for x in out[:4])
    # alternation: never two BUYs without an EXIT between them
    seq = [x for x in out if x]
    assert all(a != b for a, b in zip(seq, seq[1:]))


def test_ma_cross_short_mode_says_sell() -> None:
    s = MovingAverageCross(2, 3, allow_short=True)
    out = [s.on_price(i, p) for i, p in enumerate([10, 10, 10, 5, 4, 20, 30, 1, 1])]
    assert "BUY" in out and "SELL" in out and "EXIT" not in out


def test_ma_cross_rejects_bad_windows() -> None:
    import pytest

    with pytest.raises(ValueError):
        MovingAverageCross(5, 5)


def test_news_filter_freshness_and_dedup() -> None:
    f = NewsAlertFilter(freshness_ns=10 * S)
    assert f.judge("ACME", "BUY", 20 * S, 5 * S) == (False, "stale: published 15000ms ago")
    assert f.judge("ACME", "BUY", 20 * S, 15 * S) == (True, "fresh")
    assert f.judge("ACME", "BUY", 21 * S, 15 * S) == (False, "duplicate alert")
    # same story, other side or symbol: not a duplicate
    assert f.judge("ACME", "SELL", 21 * S, 15 * S)[0]
    assert f.judge("BETA", "BUY", 21 * S, 15 * S)[0]
    # from the future: refused, never traded
    assert f.judge("ACME", "BUY", 21 * S, 30 * S)[0] is False


def test_news_filter_forgets_only_what_can_no_longer_be_fresh() -> None:
    f = NewsAlertFilter(freshness_ns=10 * S)
    for i in range(1000):
        assert f.judge("ACME", "BUY", i * S, i * S)[0]
    assert len(f._seen) <= 11  # noqa: SLF001 - bounded memory is the point
