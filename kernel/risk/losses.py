"""Loss limits: per trade, cumulative (realized over the run) and daily (realized + open).

Each is a money amount in units; ``None`` is off. A limit is reached when the loss is at
least the limit (``pnl <= -limit``): a loss of exactly the limit is the limit. What is
done about it is not decided here: the per-trade limit exits that trade at once, the
cumulative limit fires the kill switch ``stop_new_trades`` and the daily one ``close_all``.

Open positions are marked where their exit would fill: a long at the bid, a short at the
ask, the last trade when that side of the book is empty.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable

from ..positions import Position

Pnl = int | Fraction


def mark(qty: int, bid: int, ask: int, last: int) -> int:
    """The price an exit of ``qty`` would fill at now."""
    return (bid if qty > 0 else ask) or last


def reached(pnl: Pnl, limit: int | None) -> bool:
    """A loss limit is reached (``limit`` None: off)."""
    return limit is not None and pnl <= -limit


def open_pnl(books: Iterable[tuple[Position, int, int, int]]) -> Pnl:
    """Unrealized P&L over (position, bid, ask, last) rows, each marked at its exit."""
    total: Pnl = 0
    for pos, bid, ask, last in books:
        if pos.qty:
            total += pos.unrealized(mark(pos.qty, bid, ask, last))
    return total
