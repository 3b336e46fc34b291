"""Positions (kernel/positions.py): exact average price, realized and unrealized P&L."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from conftest import px
from triotrade.kernel.positions import Position
from triotrade.kernel.units import fmt_units

BUY, SELL = 1, -1


def money(units: int | Fraction) -> Decimal:
    return Decimal(fmt_units(units))


def test_average_price_is_exact_across_fills() -> None:
    p = Position("ACME")
    p.apply_fill(BUY, 100, px("100.00"), 1)
    p.apply_fill(BUY, 200, px("101.00"), 2)
    assert p.qty == 300
    assert p.avg_price == Fraction(100 * px("100.00") + 200 * px("101.00"), 300)
    assert money(p.avg_price) == Decimal("100.66666667")
    assert p.realized == 0
    assert p.opened_ns == 1


def test_repeating_average_does_not_drift() -> None:
    """Three fills averaging 100.333...: close in pieces; the P&L is exact, not rounded per fill."""
    p = Position("ACME")
    for price in ("100.00", "100.00", "101.00"):
        p.apply_fill(BUY, 1, px(price), 0)
    assert p.avg_price == Fraction(px("301.00"), 3)
    r1 = p.apply_fill(SELL, 1, px("100.00"), 5)
    r2 = p.apply_fill(SELL, 1, px("100.00"), 6)
    r3 = p.apply_fill(SELL, 1, px("100.00"), 7)
    assert r1 == r2 == r3 == Fraction(-px("1.00"), 3)
    assert p.realized == -px("1.00")  # exactly -1.00, not -0.99999999 or -1.00000001
    assert (p.qty, p.cost, p.opened_ns) == (0, 0, None)


def test_realized_pnl_on_partial_close_long() -> None:
    p = Position("ACME")
    p.apply_fill(BUY, 100, px("100.00"), 0)
    r = p.apply_fill(SELL, 40, px("110.00"), 1)
    assert money(r) == Decimal("400.00")
    assert (p.qty, p.avg_price) == (60, px("100.00"))
    assert money(p.realized) == Decimal("400.00")
    assert p.opened_ns == 0  # still the same trade


def test_realized_pnl_on_partial_close_short() -> None:
    p = Position("ACME")
    p.apply_fill(SELL, 100, px("50.00"), 0)
    assert (p.qty, p.avg_price) == (-100, px("50.00"))
    r = p.apply_fill(BUY, 30, px("45.50"), 1)
    assert money(r) == Decimal("135.00")
    assert (p.qty, p.avg_price) == (-70, px("50.00"))
    r = p.apply_fill(BUY, 70, px("52.00"), 2)
    assert money(r) == Decimal("-140.00")
    assert money(p.realized) == Decimal("-5.00")
    assert (p.qty, p.cost, p.opened_ns) == (0, 0, None)


def test_flip_long_to_short() -> None:
    p = Position("ACME")
    p.apply_fill(BUY, 100, px("100.00"), 0)
    r = p.apply_fill(SELL, 150, px("90.00"), 9)
    assert money(r) == Decimal("-1000.00")  # only the 100 closed realize
    assert p.qty == -50
    assert p.avg_price == px("90.00")  # the remainder opens at the flip price
    assert p.opened_ns == 9
    r = p.apply_fill(BUY, 50, px("80.00"), 10)
    assert money(r) == Decimal("500.00")
    assert money(p.realized) == Decimal("-500.00")
    assert p.qty == 0


def test_flip_short_to_long() -> None:
    p = Position("ACME")
    p.apply_fill(SELL, 10, px("20.00"), 0)
    r = p.apply_fill(BUY, 25, px("21.00"), 3)
    assert money(r) == Decimal("-10.00")
    assert (p.qty, p.avg_price, p.opened_ns) == (15, px("21.00"), 3)


def test_unrealized() -> None:
    p = Position("ACME")
    assert p.unrealized(px("100")) == 0
    p.apply_fill(BUY, 100, px("100.00"), 0)
    assert money(p.unrealized(px("101.25"))) == Decimal("125.00")
    q = Position("ACME")
    q.apply_fill(SELL, 100, px("100.00"), 0)
    assert money(q.unrealized(px("101.25"))) == Decimal("-125.00")
    assert money(q.unrealized(px("99.00"))) == Decimal("100.00")


def test_realized_is_sum_of_returns_and_position_is_sum_of_fills() -> None:
    fills = [(BUY, 10, "10.00"), (BUY, 5, "10.30"), (SELL, 12, "10.10"), (SELL, 8, "9.90"),
             (BUY, 3, "9.80"), (BUY, 10, "10.05"), (SELL, 5, "10.20")]
    p = Position("ACME")
    total = Fraction(0)
    net = 0
    for i, (side, qty, price) in enumerate(fills):
        total += p.apply_fill(side, qty, px(price), i)
        net += side * qty
        assert p.qty == net
    assert p.realized == total
    assert p.fills == len(fills)
    # closing everything at a mark: realized + unrealized == cash flow of all the fills
    cash = -sum(side * qty * px(price) for side, qty, price in fills)
    assert p.realized + p.unrealized(px("10.00")) == cash + net * px("10.00")


@pytest.mark.parametrize("qty", [0, -1])
def test_non_positive_fill_quantity_is_refused(qty: int) -> None:
    p = Position("ACME")
    with pytest.raises(ValueError):
        p.apply_fill(BUY, qty, px("1.00"), 0)
    assert (p.qty, p.fills, p.opened_ns) == (0, 0, None)


def test_bad_side_is_refused() -> None:
    p = Position("ACME")
    with pytest.raises(ValueError):
        p.apply_fill(2, 1, px("1.00"), 0)
