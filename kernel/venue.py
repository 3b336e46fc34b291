"""The venue boundary: what the kernel asks of an exchange or broker.

The simulator and every live adapter implement ``Venue``. Market data and execution
reports flow the other way through a ``VenueSink`` of plain synchronous callbacks:
delivering a tick must not cost a trio wake-up, so a venue calls the sink directly
from whatever task reads its socket (or from the simulator's event loop).

The protocol lives in the kernel so the kernel imports no venue.
"""
from __future__ import annotations

import enum
from typing import Callable, Protocol

import attrs

from .instruments import Instrument
from .orders import Order

# (ts_ns, bid, ask, last, bid_size, ask_size): positional ints, no object per tick.
QuoteHandler = Callable[[int, int, int, int, int, int], None]


class ReportKind(enum.Enum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    FILL = "FILL"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    # the broker's commission for a fill (exec_id, fee), sent after the fill itself
    # (IB's commissionReport): the kernel replaces the model's fee with it
    FEE = "FEE"


@attrs.frozen
class ExecReport:
    kind: ReportKind
    order_id: str
    ts_ns: int
    qty: int = 0  # fills: quantity of this fill
    price: int = 0  # fills: price units
    reason: str = ""
    exec_id: str = ""  # venue's id for a fill, so duplicates can be recognised
    fee: int | None = None  # fills: the broker's own commission (money units), when it said


@attrs.frozen
class OpenOrder:
    order_id: str
    symbol: str
    side: str
    qty: int
    filled_qty: int
    role: str
    order_type: str = ""  # MARKET | LIMIT | STOP, when the venue says
    price: int | None = None  # limit price or stop trigger, units, when the venue says


class VenueSink(Protocol):
    def on_report(self, report: ExecReport) -> None: ...
    def on_connection(self, up: bool, reason: str) -> None: ...


class VenueError(Exception):
    """The venue could not do what was asked (disconnected, refused, unknown symbol)."""


class Venue(Protocol):
    name: str

    async def connect(self, sink: VenueSink) -> None:
        """Open the session; afterwards reports and connection changes go to ``sink``."""
        ...

    async def close(self) -> None: ...

    async def instrument(self, symbol: str) -> Instrument:
        """Look an instrument up (for news-discovered tickers). Raises VenueError."""
        ...

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None: ...

    async def submit(self, order: Order) -> None:
        """Send an order; its fate arrives later as execution reports."""
        ...

    async def cancel(self, order_id: str) -> None: ...

    async def positions(self) -> dict[str, int]: ...

    async def open_orders(self) -> list[OpenOrder]: ...

    async def cash(self) -> int:
        """Account cash in price units."""
        ...
