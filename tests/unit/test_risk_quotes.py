"""The bad-data rule (kernel/risk/quotes.py) asked directly, and the tick path that asks it."""
from __future__ import annotations

from decimal import Decimal

from triotrade.kernel.risk.quotes import band, quote_problem

U = 10**8
FIVE = band(Decimal(5))


def test_a_normal_quote_and_empty_sides_are_believed() -> None:
    assert quote_problem(99 * U, 101 * U, 100 * U, *FIVE) is None
    assert quote_problem(0, 0, 100 * U, *FIVE) is None  # no book at all
    assert quote_problem(99 * U, 0, 100 * U, *FIVE) is None  # the ask side empty
    assert quote_problem(100 * U, 100 * U, 100 * U, *FIVE) is None  # spread 0


def test_crossed_and_non_positive_quotes_are_refused() -> None:
    assert quote_problem(101 * U, 99 * U, 100 * U, *FIVE) == "bid above ask (crossed quote)"
    assert quote_problem(99 * U, 101 * U, 0, *FIVE) == "non-positive last price"
    assert quote_problem(99 * U, 101 * U, -1, *FIVE) == "non-positive last price"
    assert quote_problem(-1, 101 * U, 100 * U, *FIVE) == "negative bid or ask"


def test_the_print_band_is_the_quotes_own_book_widened() -> None:
    bid, ask = 100 * U, 102 * U
    assert quote_problem(bid, ask, 95 * U, *FIVE) is None  # exactly bid * 0.95
    assert quote_problem(bid, ask, 95 * U - 1, *FIVE) is not None
    assert quote_problem(bid, ask, 1071 * U // 10, *FIVE) is None  # exactly ask * 1.05
    assert quote_problem(bid, ask, 1071 * U // 10 + 1, *FIVE) is not None
    # a real gap moves the book with the print: inside its own book, believed
    assert quote_problem(89 * U, 91 * U, 90 * U, *FIVE) is None


def test_a_zero_band_is_the_book_itself() -> None:
    zero = band(Decimal(0))
    assert quote_problem(100 * U, 102 * U, 100 * U, *zero) is None
    assert quote_problem(100 * U, 102 * U, 100 * U - 1, *zero) is not None


def _ticker():  # type: ignore[no-untyped-def]
    from kernel_support import acme, make_kernel
    from triotrade.kernel.ticker import Ticker

    kernel, _, _ = make_kernel(None)
    kernel.connected = True
    t = Ticker(kernel, acme())
    kernel.tickers["ACME"] = t
    return t, kernel


def test_a_refused_quote_leaves_the_tickers_prices_and_feed_time_as_they_were() -> None:
    from kernel_support import events

    t, k = _ticker()
    t.on_quote(1, 100 * U, 101 * U, 100 * U, 5, 5)
    t.on_quote(2, 102 * U, 99 * U, 100 * U, 5, 5)  # crossed
    t.on_quote(3, 100 * U, 101 * U, 50 * U, 5, 5)  # a print half its book's price
    assert (t.bid, t.ask, t.last, t.last_ts) == (100 * U, 101 * U, 100 * U, 1)
    assert [e["reason"] for e in events(k, "quote_rejected")] == [
        "bid above ask (crossed quote)",
        "last price outside [bid, ask] widened by monitor.bad_print_pct"]
    assert events(k, "gap_detected") == []


def test_a_real_gap_moves_the_book_with_the_print_and_is_a_gap() -> None:
    from kernel_support import events

    t, k = _ticker()
    t.on_quote(1, 100 * U, 101 * U, 100 * U, 5, 5)
    t.on_quote(2, 89 * U, 91 * U, 90 * U, 5, 5)
    assert t.last == 90 * U and events(k, "quote_rejected") == []
    assert len(events(k, "gap_detected")) == 1
