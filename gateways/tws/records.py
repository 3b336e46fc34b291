"""The broker's records: orders and executions as IB keeps them, and its fee schedule.

Plain data, mutated only by the order desk (``orders``). Also here: the two
conventions that tie a record to the outside world, the stable contract id a
symbol gets and the kernel role the live adapter writes into ``orderRef``.
"""
from __future__ import annotations

import zlib
from decimal import Decimal
from fractions import Fraction

import attrs

from ...kernel.orders import Role

ROLES = frozenset(r.value for r in Role)
_WORKING = ("PendingSubmit", "PreSubmitted", "Submitted")


def role_of(order_ref: str) -> str:
    """Orders from the live adapter carry ``ROLE:order_id:run`` in orderRef."""
    head = order_ref.split(":", 1)[0].strip().upper()
    return head if head in ROLES else ""


def con_id_for(symbol: str) -> int:
    """A stable contract id per symbol (same across gateway restarts and scenarios)."""
    return 100_000_000 + zlib.crc32(symbol.encode("utf-8")) % 800_000_000


@attrs.define(eq=False)
class BrokerOrder:
    client_id: int
    order_id: int
    perm_id: int
    xid: str  # the exchange's order id
    symbol: str
    action: str  # BUY | SELL
    qty: int
    order_type: str  # MKT | LMT | STP
    lmt: int | None
    aux: int | None
    tif: str
    good_till: str
    order_ref: str
    account: str
    outside_rth: bool = False
    status: str = "PendingSubmit"
    filled: int = 0
    notional: int = 0  # sum of qty * price units over fills (exact)
    last_fill: int = 0
    commission: Decimal = Decimal(0)
    cancel_requested: bool = False
    completed_time: str = ""
    completed_status: str = ""

    @property
    def working(self) -> bool:
        return self.status in _WORKING

    @property
    def avg_fill(self) -> Fraction:
        return Fraction(self.notional, self.filled) if self.filled else Fraction(0)


@attrs.define(eq=False)
class BrokerExec:
    exec_id: str
    order: BrokerOrder
    wall_ns: int
    shares: int
    price: int
    cum_qty: int
    avg_price: Fraction
    commission: Decimal
    realized: Decimal | None


@attrs.define
class Commissions:
    """IBKR Pro fixed-rate style: per share, a minimum and a cap per order."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_pct: Decimal = Decimal("1")  # of the order's traded value

    def total(self, shares: int, value: Decimal) -> Decimal:
        if shares <= 0 or self.per_share == 0:
            return Decimal(0)
        fee = max(self.minimum, self.per_share * shares)
        cap = value * self.max_pct / 100
        if cap > 0:
            fee = min(fee, cap)
        return fee.quantize(Decimal("0.00000001"))
