"""The portfolio limits (kernel/risk/portfolio.py), asked directly with plain figures."""
from __future__ import annotations

from decimal import Decimal

from triotrade.kernel.config import Risk
from triotrade.kernel.risk.portfolio import Book, Refusal, drawdown_reached, entry_refusal

U = 10**8
OPEN = [Book("A", 100, 10 * U, 0), Book("B", 50, 20 * U, 50 * 20 * U), Book("C", 0, 30 * U, 0)]


def test_no_limit_configured_refuses_nothing() -> None:
    assert entry_refusal(Risk(), OPEN, "C", 10**9, 30 * U, 0) is None


def test_gross_exposure_counts_every_ticker_and_the_new_entry() -> None:
    # open: 100 x 10 + 50 x 20 = 2000; a new 30 x 30 = 900 makes 2900
    assert entry_refusal(Risk(max_gross_exposure=2900 * U), OPEN, "C", 30, 30 * U, None) is None
    r = entry_refusal(Risk(max_gross_exposure=2899 * U), OPEN, "C", 30, 30 * U, None)
    assert r == Refusal("max_gross_exposure", 2900 * U, 2899 * U)
    assert r.text == "max_gross_exposure: 2900.00 would exceed 2899.00"


def test_open_positions_counts_tickers_with_a_position_or_an_entry() -> None:
    risk = Risk(max_open_positions=2)
    r = entry_refusal(risk, OPEN, "C", 10, 30 * U, None)
    assert r is not None and (r.limit, r.value, r.maximum, r.text) == (
        "max_open_positions", 3, 2, "max_open_positions: 3 would exceed 2")
    assert entry_refusal(risk, OPEN, "A", 10, 10 * U, None) is None  # adding to an open one
    # re-checked before sending: the entry is in the books already (qty 0)
    assert entry_refusal(risk, OPEN, "B", 0, 20 * U, None) is None


def test_buying_power_is_cash_net_of_what_working_entries_commit() -> None:
    risk = Risk(buying_power=True)
    # B's working entries commit 1000; a new 30 x 30 = 900: 1900 of 1900 fits
    assert entry_refusal(risk, OPEN, "C", 30, 30 * U, 1900 * U) is None
    r = entry_refusal(risk, OPEN, "C", 30, 30 * U, 1899 * U)
    assert r == Refusal("buying_power", 1900 * U, 1899 * U)
    assert entry_refusal(risk, OPEN, "C", 30, 30 * U, None) is None  # no cash figure: off
    assert entry_refusal(Risk(buying_power=False), OPEN, "C", 30, 30 * U, 0) is None


def test_drawdown_from_the_peak_exactly() -> None:
    pct = Decimal("10")
    assert drawdown_reached(90 * U, 100 * U, pct)
    assert not drawdown_reached(90 * U + 1, 100 * U, pct)
    assert not drawdown_reached(0, 0, pct)  # no peak yet
    assert drawdown_reached(99 * U, 100 * U, Decimal("0.5"))
