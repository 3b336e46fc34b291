"""The trade list: fills grouped into round trips, flat to flat, per symbol.

A trade opens on the fill that takes a symbol's position away from zero and closes on
the fill that brings it back; fills in between add to it or partly exit it. A fill that
crosses zero (a flip) is split: the part that flattens closes the trade, the rest opens
the next one, and the fill's fee is shared between them in proportion to quantity.

Gross P&L is the sum of the trade's signed cash flows (sell proceeds minus buy cost),
which for a closed trade equals the kernel's realized P&L whatever the averaging
method; net P&L subtracts the fees of the trade's fills (a fill without ``fee`` cost 0).
Everything is ``Decimal``; average prices carry four more decimals than the fills.
The exit reason is the last ``exit_triggered`` of the symbol while the trade was open
(a flip without one says ``flip``, a close without one names the closing order's role).
"""
from __future__ import annotations

import enum
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Iterable

import attrs

ZERO = Decimal(0)
_EXTRA_PLACES = 4


def _places(d: Decimal) -> int:
    exp = d.as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


class Direction(enum.Enum):
    LONG = "LONG"
    SHORT = "SHORT"


@attrs.define
class Trade:
    """One round trip of one symbol (``exit_ns`` is None while it is still open)."""

    symbol: str
    side: Direction
    entry_ns: int
    size: Decimal = ZERO  # the largest absolute position the trade reached
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO  # sum of qty * price of the fills that opened or added
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    cash: Decimal = ZERO  # signed: sells +, buys -
    fees: Decimal = ZERO
    fills: int = 0
    exit_ns: int | None = None
    exit_reason: str | None = None
    price_places: int = 0
    position: Decimal = ZERO  # signed, while open
    mark: Decimal | None = None  # open trades: the last known price of the symbol

    @property
    def is_open(self) -> bool:
        return self.exit_ns is None

    def _avg(self, value: Decimal, qty: Decimal) -> Decimal | None:
        if not qty:
            return None
        avg = (value / qty).quantize(Decimal(1).scaleb(-(self.price_places + _EXTRA_PLACES)),
                                     rounding=ROUND_HALF_EVEN)
        short = avg.quantize(Decimal(1).scaleb(-self.price_places))
        return short if short == avg else avg

    @property
    def entry_price(self) -> Decimal | None:
        return self._avg(self.entry_cost, self.entry_qty)

    @property
    def exit_price(self) -> Decimal | None:
        return self._avg(self.exit_value, self.exit_qty)

    @property
    def gross_pnl(self) -> Decimal:
        """Closed: the cash flows. Open: realized part plus the mark on what is held."""
        if self.is_open:
            if self.mark is None:
                return self.cash
            return self.cash + self.position * self.mark
        return self.cash

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees

    @property
    def holding_ns(self) -> int | None:
        return None if self.exit_ns is None else self.exit_ns - self.entry_ns

    def as_dict(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else format(d, "f")

        return {
            "symbol": self.symbol, "side": self.side.value, "entry_ns": self.entry_ns,
            "exit_ns": self.exit_ns, "entry_price": s(self.entry_price),
            "exit_price": s(self.exit_price), "size": s(self.size),
            "exit_reason": self.exit_reason, "gross_pnl": s(self.gross_pnl),
            "fees": s(self.fees), "net_pnl": s(self.net_pnl),
            "holding_ns": self.holding_ns, "open": self.is_open,
        }


def _split_fee(fee: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """The share of ``fee`` for ``part`` of ``whole``, rounded to the fee's places."""
    q = Decimal(1).scaleb(-max(_places(fee), 2))
    return (fee * part / whole).quantize(q, rounding=ROUND_HALF_EVEN)


def build_trades(events: Iterable[dict[str, Any]]) -> list[Trade]:
    """Trades from journal events (decimal fields as ``Decimal``), in opening order."""
    open_by_symbol: dict[str, Trade] = {}
    last_reason: dict[str, str] = {}
    trades: list[Trade] = []
    by_order: dict[str, Trade] = {}  # the trade that took each order's last fill
    for e in events:
        kind = e["type"]
        if kind == "fee_reported":  # live: the broker's commission replaces the model's
            held = by_order.get(e["order_id"])
            if held is not None:
                held.fees += Decimal(e["fee"]) - Decimal(e["model_fee"])
            continue
        if kind == "exit_triggered":
            sym = e.get("symbol")
            if isinstance(sym, str) and sym in open_by_symbol:
                last_reason[sym] = str(e.get("reason"))
            continue
        if kind != "fill":
            continue
        sym = e["symbol"]
        qty = Decimal(e["qty"])
        price = Decimal(e["price"])
        fee = Decimal(e.get("fee") or 0)
        sign = 1 if e["side"] == "BUY" else -1
        remaining = qty
        trade = open_by_symbol.get(sym)
        if trade is not None and (trade.position > 0) != (sign > 0):
            closing = min(qty, abs(trade.position))
            fee_part = fee if closing == qty else _split_fee(fee, closing, qty)
            trade.exit_qty += closing
            trade.exit_value += closing * price
            trade.cash += -sign * closing * price
            trade.fees += fee_part
            trade.fills += 1
            trade.position += sign * closing
            trade.price_places = max(trade.price_places, _places(price))
            fee -= fee_part
            remaining = qty - closing
            by_order[e["order_id"]] = trade
            if not trade.position:
                trade.exit_ns = e["ts_ns"]
                reason = last_reason.pop(sym, None)
                if reason is None:
                    reason = "flip" if remaining else str(e.get("role", "exit")).lower()
                trade.exit_reason = reason
                del open_by_symbol[sym]
                trade = None
        if remaining:
            if trade is None:
                trade = Trade(symbol=sym, side=Direction.LONG if sign > 0 else Direction.SHORT,
                              entry_ns=e["ts_ns"])
                open_by_symbol[sym] = trade
                trades.append(trade)
                last_reason.pop(sym, None)
            by_order[e["order_id"]] = trade
            trade.entry_qty += remaining
            trade.entry_cost += remaining * price
            trade.cash += -sign * remaining * price
            trade.fees += fee
            trade.fills += 1
            trade.position += sign * remaining
            trade.size = max(trade.size, abs(trade.position))
            trade.price_places = max(trade.price_places, _places(price))
    return trades


def mark_open(trades: list[Trade], marks: dict[str, Decimal]) -> None:
    """Mark each open trade at its symbol's last known price (unrealized P&L)."""
    for t in trades:
        if t.is_open and t.symbol in marks:
            t.mark = marks[t.symbol]
