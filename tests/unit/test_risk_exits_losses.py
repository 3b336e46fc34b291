"""The risk core's exit and loss rules (kernel/risk/exits.py, losses.py), asked directly."""
from __future__ import annotations

from decimal import Decimal

from triotrade.kernel.config import Distance, Exits
from triotrade.kernel.positions import Position
from triotrade.kernel.risk.exits import exit_levels, hold_expired, price_exit
from triotrade.kernel.risk.freshness import all_stale, feed_stale, signal_age_refusal
from triotrade.kernel.risk.losses import mark, open_pnl, reached

U = 10**8
ALL = Exits(stop_loss=Distance(pct=Decimal(2)), take_profit=Distance(units=3 * U),
            trailing_stop=Distance(pct=Decimal(1)))


def test_levels_of_a_long_and_a_short() -> None:
    assert exit_levels(100, 100 * U, 110 * U, ALL) == {
        "stop_loss": 98 * U, "take_profit": 103 * U, "trailing_stop": 1089 * U // 10}
    assert exit_levels(-100, 100 * U, 90 * U, ALL) == {
        "stop_loss": 102 * U, "take_profit": 97 * U, "trailing_stop": 909 * U // 10}


def test_no_levels_when_flat_and_no_trailing_level_before_a_best_price() -> None:
    assert exit_levels(0, 100 * U, 0, ALL) == {}
    assert "trailing_stop" not in exit_levels(100, 100 * U, 0, ALL)


def test_the_first_level_reached_names_the_exit() -> None:
    levels = {"stop_loss": 98 * U, "take_profit": 103 * U}
    assert price_exit(True, 98 * U, levels) == "stop_loss"  # at the level is a hit
    assert price_exit(True, 99 * U, levels) is None
    assert price_exit(True, 104 * U, levels) == "take_profit"
    short = {"stop_loss": 102 * U, "take_profit": 97 * U}
    assert price_exit(False, 102 * U, short) == "stop_loss"
    assert price_exit(False, 96 * U, short) == "take_profit"
    assert price_exit(True, 0, levels) is None  # no mark, no price rule


def test_hold_time() -> None:
    assert hold_expired(10, 20, 10)
    assert not hold_expired(10, 19, 10)
    assert not hold_expired(None, 10**12, 10)
    assert not hold_expired(10, 10**12, None)


def test_a_loss_limit_is_reached_at_exactly_the_limit() -> None:
    assert reached(-5 * U, 5 * U)
    assert not reached(-5 * U + 1, 5 * U)
    assert not reached(-10**12, None)


def test_positions_are_marked_where_their_exit_would_fill() -> None:
    assert mark(100, 99, 101, 100) == 99
    assert mark(-100, 99, 101, 100) == 101
    assert mark(100, 0, 101, 100) == 100  # empty bid: the last trade
    long, short = Position("A"), Position("B")
    long.apply_fill(1, 10, 100, 0)
    short.apply_fill(-1, 10, 100, 0)
    assert open_pnl([(long, 95, 97, 96), (short, 95, 97, 96), (Position("C"), 1, 1, 1)]) \
        == 10 * -5 + 10 * 3  # the long lost 5 a share at the bid, the short made 3 at the ask


def test_freshness() -> None:
    assert signal_age_refusal(10, 10) is None
    assert signal_age_refusal(11_000_000, 10_000_000) == "stale: published 11ms ago"
    assert signal_age_refusal(-1, 10) == "published in the future (clock skew?)"
    assert feed_stale(30, 0, 30) and not feed_stale(29, 0, 30)
    assert all_stale([True, True]) and not all_stale([True, False])
    assert not all_stale([])  # no feed is not every feed stale
