"""Positions with exact average cost and realized P&L.

Cost basis is exact: an integer number of price units while every division so far
was exact, a Fraction once one was not (an average price of 100.3333... is not a
Decimal, and rounding it per fill would let P&L drift). Plain ints keep the common
case fast; Python's int/Fraction arithmetic keeps the rare case exact.
"""
from __future__ import annotations

from fractions import Fraction

import attrs

Exact = int | Fraction


def _div(num: Exact, den: int) -> Exact:
    """num / den, as an int when exact."""
    if type(num) is int and num % den == 0:
        return num // den
    return Fraction(num) / den


@attrs.define(slots=True)
class Position:
    symbol: str
    qty: int = 0  # signed: + long, - short
    cost: Exact = 0  # signed qty * average price, in price units
    realized: Exact = 0  # money units (1e-8)
    opened_ns: int | None = None
    fills: int = 0
    fees: int = 0  # money units charged so far; ``realized`` is already net of them

    def charge(self, fee: int) -> None:
        """A fee paid: realized P&L is net of fees."""
        self.fees += fee
        self.realized -= fee

    @property
    def avg_price(self) -> Exact:
        return _div(self.cost, self.qty) if self.qty else 0

    def apply_fill(self, side_sign: int, qty: int, price: int, ts_ns: int) -> Exact:
        """Apply a fill; return the P&L it realized (money units)."""
        if qty <= 0 or (side_sign != 1 and side_sign != -1):
            raise ValueError(f"{self.symbol}: bad fill: side {side_sign}, qty {qty}")
        signed = side_sign * qty
        self.fills += 1
        q = self.qty
        if q == 0 or (q > 0) == (signed > 0):
            if q == 0:
                self.opened_ns = ts_ns
            self.qty = q + signed
            self.cost += signed * price
            return 0
        # reducing, closing or flipping
        closing = min(abs(signed), abs(q))
        direction = 1 if q > 0 else -1
        removed = _div(self.cost * closing, abs(q))  # cost of the closed part, signed like q
        realized = direction * closing * price - removed
        self.realized += realized
        self.cost -= removed
        self.qty = q + signed
        rest = abs(signed) - closing
        if self.qty == 0:
            self.cost = 0
            self.opened_ns = None
        elif rest:
            # flipped through zero: the remainder opens a new position at this price
            self.cost = side_sign * rest * price
            self.opened_ns = ts_ns
        return realized

    def unrealized(self, mark: int) -> Exact:
        return self.qty * mark - self.cost if self.qty else 0
