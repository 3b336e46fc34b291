"""Positions with exact average cost and realized P&L.

Cost basis is kept as an exact rational in price units: an average price of
100.3333... is not a Decimal, and rounding it per fill would let P&L drift.
Fractions are touched only on fills; the tick path works on integer thresholds.
"""
from __future__ import annotations

from fractions import Fraction

import attrs


@attrs.define(slots=True)
class Position:
    symbol: str
    qty: int = 0  # signed: + long, - short
    cost: Fraction = Fraction(0)  # signed qty * average price, in price units
    realized: Fraction = Fraction(0)  # money units (1e-8)
    opened_ns: int | None = None
    fills: int = 0

    @property
    def avg_price(self) -> Fraction:
        return self.cost / self.qty if self.qty else Fraction(0)

    def apply_fill(self, side_sign: int, qty: int, price: int, ts_ns: int) -> Fraction:
        """Apply a fill; return the P&L it realized (money units)."""
        signed = side_sign * qty
        self.fills += 1
        realized = Fraction(0)
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            if self.qty == 0:
                self.opened_ns = ts_ns
            self.qty += signed
            self.cost += signed * price
            return realized
        # reducing, closing or flipping
        closing = min(abs(signed), abs(self.qty))
        avg = self.avg_price
        direction = 1 if self.qty > 0 else -1
        realized = direction * closing * (price - avg)
        self.realized += realized
        self.cost -= direction * closing * avg
        self.qty += signed
        rest = abs(signed) - closing
        if self.qty == 0:
            self.cost = Fraction(0)
            self.opened_ns = None
        elif rest:
            # flipped through zero: the remainder opens a new position at this price
            self.cost = Fraction(side_sign * rest * price)
            self.opened_ns = ts_ns
        return realized

    def unrealized(self, mark: int) -> Fraction:
        return self.qty * mark - self.cost if self.qty else Fraction(0)
