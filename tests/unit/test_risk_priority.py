"""Signal priority (kernel/risk/priority.py)."""
from __future__ import annotations

from triotrade.kernel.risk.priority import PriorityBook

S = 10**9


def _book() -> PriorityBook:
    book = PriorityBook(("news", "strategy", "scenario"), 30 * S)
    book.accepted("AAA", "news", "BUY", 10 * S)
    return book


def test_lower_opposite_inside_the_window_is_dropped() -> None:
    book = _book()
    assert book.judge("AAA", "strategy", "SELL", 20 * S) == "news"
    assert book.judge("AAA", "scenario", "SELL", 40 * S) == "news"  # the window's last ns


def test_kept_otherwise() -> None:
    book = _book()
    assert book.judge("AAA", "scenario", "SELL", 40 * S + 1) is None  # window over
    assert book.judge("AAA", "scenario", "BUY", 20 * S) is None  # same side
    assert book.judge("AAA", "news", "SELL", 20 * S) is None  # same rank
    assert book.judge("AAA", "scenario", "EXIT", 20 * S) is None  # exits never dropped
    assert book.judge("BBB", "scenario", "SELL", 20 * S) is None  # another ticker
    book.accepted("AAA", "scenario", "SELL", 50 * S)
    assert book.judge("AAA", "news", "BUY", 55 * S) is None  # higher beats lower


def test_unlisted_sources_rank_lowest() -> None:
    book = PriorityBook(("news",), 30 * S)
    book.accepted("AAA", "strategy", "BUY", 0)
    assert book.judge("AAA", "scenario", "SELL", S) is None  # both unlisted: equal
    assert book.judge("AAA", "news", "SELL", S) is None
    book.accepted("AAA", "news", "BUY", 2 * S)
    assert book.judge("AAA", "strategy", "SELL", 3 * S) == "news"
