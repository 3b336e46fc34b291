"""Orders and their state machine.

The table below is the whole truth about which report may follow which state; a
venue that reports something else (a fill on a cancelled order, say) is telling
us something impossible and the kernel must not quietly absorb it.
"""
from __future__ import annotations

import enum

import attrs


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class Role(enum.Enum):
    ENTRY = "ENTRY"
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"
    EXIT = "EXIT"
    EMERGENCY_EXIT = "EMERGENCY_EXIT"
    DANGLING_SHARES = "DANGLING_SHARES"


class OrderType(enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"


class OrderState(enum.Enum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}
)

S = OrderState
# A venue may skip the ack (IB can report a fill or a cancel before "Submitted"),
# so SUBMITTED may move straight to any outcome. Nothing leaves a terminal state.
LEGAL_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.SUBMITTED: frozenset(
        {S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}
    ),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, order_id: str, src: OrderState, dst: OrderState) -> None:
        super().__init__(f"order {order_id}: illegal transition {src.value} -> {dst.value}")
        self.order_id = order_id
        self.src = src
        self.dst = dst


class Overfill(Exception):
    pass


@attrs.define(slots=True, eq=False)
class Order:
    """One order as the kernel sees it. Prices are integer 1e-8 units."""

    order_id: str
    symbol: str
    role: Role
    side: Side
    qty: int
    order_type: OrderType
    price: int | None = None  # limit price, or stop trigger for STOP
    expire_ns: int | None = None  # good-till-date; None = good-till-cancel
    submitted_ns: int = 0
    state: OrderState = OrderState.SUBMITTED
    filled_qty: int = 0
    cancel_requested: bool = False
    # fees are priced per order (minimums, caps): what has filled and been charged so far
    filled_notional: int = 0  # sum of qty * price over the fills, money units
    fee_charged: int = 0  # money units

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty

    @property
    def is_working(self) -> bool:
        return self.state not in TERMINAL_STATES

    def transition(self, dst: OrderState) -> None:
        if dst not in LEGAL_TRANSITIONS[self.state]:
            raise IllegalTransition(self.order_id, self.state, dst)
        self.state = dst

    def apply_fill(self, qty: int) -> None:
        """Record a fill of ``qty``; moves to PARTIALLY_FILLED or FILLED."""
        if qty <= 0:
            raise ValueError(f"order {self.order_id}: fill quantity must be positive, got {qty}")
        if self.filled_qty + qty > self.qty:
            raise Overfill(
                f"order {self.order_id}: fill of {qty} exceeds remaining {self.remaining}"
            )
        dst = OrderState.FILLED if self.filled_qty + qty == self.qty else OrderState.PARTIALLY_FILLED
        self.transition(dst)
        self.filled_qty += qty


class OrderIds:
    """Run-scoped order ids: deterministic, readable, never uuid4()."""

    __slots__ = ("_prefix", "_n")

    def __init__(self, prefix: str = "O") -> None:
        self._prefix = prefix
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n}"

    def advance_past(self, order_id: str) -> None:
        """An id of ours seen elsewhere (an adopted order, the journal of an earlier
        run): never hand it out again."""
        digits = order_id[len(self._prefix):] if order_id.startswith(self._prefix) else ""
        if digits.isdigit() and int(digits) > self._n:
            self._n = int(digits)

    @property
    def issued(self) -> int:
        return self._n
