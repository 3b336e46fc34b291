"""What a Kite client sees of an account: orders, per-instrument session stats, positions.

``KOrder`` is one order with Kite's status ladder (``WORKING`` are the statuses in
which it can still fill, be modified or cancelled) and ``as_dict``, the exact shape
of an order in ``/orders``, order history and postbacks. ``Stats`` and ``PositionRow``
are the running numbers quotes, full-mode ticks and ``/portfolio/positions`` are
built from. Plain data; the book (``kite_book``) is what changes them.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from .kite_instruments import KiteInstrument
from .kite_rest import ist, px

WORKING = frozenset({"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN",
                     "TRIGGER PENDING", "MODIFY VALIDATION PENDING", "MODIFY PENDING",
                     "MODIFIED", "CANCEL PENDING"})


@attrs.define(eq=False)
class KOrder:
    order_id: str
    inst: KiteInstrument
    variety: str
    transaction_type: str
    order_type: str
    product: str
    validity: str
    validity_ttl: int
    quantity: int
    price: int  # units; 0 when none
    trigger_price: int  # units; 0 when none
    disclosed_quantity: int
    tag: str | None
    market_protection: int
    placed: float  # unix seconds
    status: str = "PUT ORDER REQ RECEIVED"
    status_message: str | None = None
    exchange_order_id: str | None = None
    exchange_ts: float | None = None
    update_ts: float | None = None
    filled: int = 0
    fill_value: int = 0  # sum of qty * price units
    cancelled: int = 0
    at_exchange: bool = False  # the exchange holds it (SL waits here until triggered)
    modified: bool = False
    history: list[dict[str, Any]] = attrs.Factory(list)

    @property
    def sign(self) -> int:
        return 1 if self.transaction_type == "BUY" else -1

    @property
    def pending(self) -> int:
        return self.quantity - self.filled - self.cancelled if self.status in WORKING else 0

    @property
    def working(self) -> bool:
        return self.status in WORKING

    def average(self) -> Decimal:
        return px(Fraction(self.fill_value, self.filled)) if self.filled else Decimal(0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "placed_by": "SIM001",
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": None,
            "status": self.status,
            "status_message": self.status_message,
            "status_message_raw": self.status_message,
            "order_timestamp": ist(self.placed),
            "exchange_update_timestamp": ist(self.update_ts),
            "exchange_timestamp": ist(self.exchange_ts),
            "variety": self.variety,
            "modified": self.modified,
            "exchange": self.inst.exchange,
            "tradingsymbol": self.inst.symbol,
            "instrument_token": self.inst.token,
            "order_type": self.order_type,
            "transaction_type": self.transaction_type,
            "validity": self.validity,
            "validity_ttl": self.validity_ttl,
            "product": self.product,
            "quantity": self.quantity,
            "disclosed_quantity": self.disclosed_quantity,
            "price": px(self.price),
            "trigger_price": px(self.trigger_price),
            "average_price": self.average(),
            "filled_quantity": self.filled,
            "pending_quantity": self.pending,
            "cancelled_quantity": self.cancelled,
            "market_protection": self.market_protection,
            "meta": {},
            "tag": self.tag,
            "tags": [self.tag] if self.tag else [],
            "guid": f"sim-{self.order_id}",
        }


@attrs.define
class Stats:
    """Session statistics per instrument, for quotes and full-mode packets."""

    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0  # "previous close": the first price of the session
    last: int = 0
    bid: int = 0
    ask: int = 0
    bid_size: int = 0
    ask_size: int = 0
    volume: int = 0
    turnover: int = 0  # sum qty * price units, for the average traded price
    last_qty: int = 0
    last_trade_ts: float = 0.0
    ts: float = 0.0
    has_quote: bool = False


@attrs.define
class PositionRow:
    buy_qty: int = 0
    buy_value: int = 0
    sell_qty: int = 0
    sell_value: int = 0

