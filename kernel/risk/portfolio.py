"""Portfolio limits: what all tickers together may hold, checked before any entry.

The per-ticker cap keeps one symbol in bounds; a burst of signals on many symbols
could still put the whole account at risk. So every entry is also asked against the
portfolio, where the per-ticker cap is asked (when it is planned, and again right
before it is sent), across every ticker of the run:

``max_gross_exposure`` (money)
    The sum over tickers of |filled + working + queued entries| x the ticker's last
    price, with the new entry counted, may not exceed it.
``max_open_positions`` (count)
    Tickers with a position or a working or queued entry; an entry that would open one
    more is refused (adding to an open ticker is not a new position).
``buying_power`` (on/off)
    What working and queued entries commit (their quantity x their limit price, or the
    touch for a queued one) plus the new entry's cost may not exceed the account's
    cash: the venue's figure at the start (simulated: ``account.cash``), moved by every
    fill's cash flow and fee since.

Each is off when null. An entry that would break one is refused with a ``Refusal``
naming the limit, the value it would reach and the limit itself; the kernel journals it
as ``risk_rejected`` (``limit``, ``qty``, ``value``, ``max``).

``max_drawdown_pct`` is the other portfolio stop, on equity rather than on entries:
``drawdown_reached``.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Iterable, NamedTuple

import attrs

from ..config import Risk
from ..units import fmt_units


class Book(NamedTuple):
    """One ticker's plain figures, as the portfolio rules need them."""

    symbol: str
    exposure: int  # |filled| + working + queued entry shares
    last: int  # price units
    committed: int  # money units: working entries at their limit, queued ones at the touch


@attrs.frozen
class Refusal:
    limit: str  # max_gross_exposure, max_open_positions or buying_power
    value: int  # what it would reach with the entry (money units, or a count)
    maximum: int
    money: bool = True

    def fmt(self, n: int) -> str:
        return fmt_units(n) if self.money else str(n)

    @property
    def text(self) -> str:
        return f"{self.limit}: {self.fmt(self.value)} would exceed {self.fmt(self.maximum)}"


def entry_refusal(risk: Risk, books: Iterable[Book], symbol: str, qty: int, price: int,
                  cash: int | None) -> Refusal | None:
    """Whether an entry of ``qty`` on ``symbol`` at ``price`` breaks a portfolio limit.

    ``qty`` is what is not counted in ``books`` yet: the new entry's quantity when it is
    planned, 0 when it is re-checked before sending (it is working by then). ``cash``
    None: no buying-power figure, no buying-power limit."""
    gross_max = risk.max_gross_exposure
    open_max = risk.max_open_positions
    bp = risk.buying_power and cash is not None
    if gross_max is None and open_max is None and not bp:
        return None
    gross = qty * price
    opened = 0
    committed = qty * price
    this_open = qty > 0
    for b in books:
        gross += b.exposure * b.last
        committed += b.committed
        if b.exposure:
            opened += 1
            if b.symbol == symbol:
                this_open = False  # already open: not a new position
    if this_open:
        opened += 1
    if gross_max is not None and gross > gross_max:
        return Refusal("max_gross_exposure", gross, gross_max)
    if open_max is not None and opened > open_max:
        return Refusal("max_open_positions", opened, open_max, money=False)
    if bp and cash is not None and committed > cash:
        return Refusal("buying_power", committed, cash)
    return None


def drawdown_reached(equity: int, peak: int, pct: Decimal) -> bool:
    """Equity has fallen ``pct`` percent (or more) from its peak (exact: no float)."""
    return peak > 0 and (peak - equity) * 100 >= Fraction(pct) * peak
