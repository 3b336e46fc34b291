"""One ticker's risk rules: exposure and sizing, the entry checks, the exit rules.

The decisions a ticker makes about what it may hold and when it must get out, pure and
synchronous: no loop, no timer, no await. The rules themselves are in the risk core
(``kernel/risk/``: sizing, exposure, exits, losses); these methods hand them the ticker's
plain values and act on the answer. They read and write the ticker's own state,
so they are methods of ``Ticker`` (kernel/ticker.py), which takes them from this class
by inheritance. A mixin rather than a helper object because ``exposure``, ``sizing``
and ``check_exits`` run on the report path and from the gap check of the tick path:
an inherited method is found by the same attribute lookup as one defined in ``Ticker``,
with no forwarding call in between.

The annotations below name the ticker state these rules use; ``Ticker.__init__`` sets it.
"""
from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

from .instruments import Instrument
from .orders import Order, Side
from .positions import Position
from .risk import exits as exit_rules
from .risk import exposure as exposure_rules
from .risk.losses import mark as exit_mark
from .risk.losses import reached
from .risk.sizing import unit_and_cap
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .runtime import Kernel


class TickerRules:
    """Exposure, entry and exit rules of one symbol; state kept by ``Ticker``."""

    k: Kernel
    inst: Instrument
    symbol: str
    bid: int
    ask: int
    last: int
    stale: bool
    has_quote: bool
    strategy_failed: str | None
    position: Position
    trade_realized: int | Fraction
    entries: dict[str, Order]
    exit_order: Order | None
    pending_entries: deque[tuple[Side, int, str]]
    exit_request: tuple[str, str | None] | None
    reduce_request: int
    exiting: bool
    emergency_running: bool
    cancel_entries_pending: bool
    hwm: int
    exits_by_reason: dict[str, int]
    wake_queue: Wakeup
    _ignored: set[tuple[str, str, str | None]]
    start_emergency: Callable[[str], None]  # Ticker's: the emergency retry lives in its nursery
    # exit_levels' last answer and what it was computed from (qty, cost, hwm)
    _levels_key: tuple[int, int | Fraction, int] | tuple[()] = ()
    _levels: dict[str, int] = {}

    # ------------------------------------------------------------ exposure

    def working_entry_qty(self) -> int:
        return sum(o.remaining for o in self.entries.values())

    def pending_entry_qty(self) -> int:
        return sum(q for _, q, _ in self.pending_entries)

    def exposure(self) -> int:
        """Filled position plus working (and queued) entries: what risk limits count."""
        if not self.k.protections.exposure_counts_working:  # the naive, overshooting design
            return abs(self.position.qty)
        return exposure_rules.exposure(self.position.qty, self.working_entry_qty(),
                                       self.pending_entry_qty())

    def sizing(self) -> tuple[int, int]:
        """(unit size, max size) for the current price, from the tier list if any."""
        return unit_and_cap(self.k.config.sizing, self.last)

    # ------------------------------------------------------------ entries

    def plan_entry(self, side: Side, size: int | None = None) -> tuple[int, str | None]:
        """(quantity, None) when an entry may be queued now, else (0, why not).

        ``size`` is a strategy's wish instead of the unit size: clipped to the caps
        like the unit size is (the kernel keeps the risk decisions)."""
        k = self.k
        refusal = k.entry_block_reason()
        if refusal is None:
            if self.strategy_failed is not None:
                refusal = "strategy error"
            elif self.stale and k.protections.stale_blocks_entries:
                refusal = "feed stale"
            elif not self.has_quote:
                refusal = "no market data yet"
            elif self.exiting or self.exit_order is not None or self.emergency_running:
                refusal = "exit in progress"
            elif self.position.qty and (self.position.qty > 0) != (side is Side.BUY):
                refusal = "opposite position open"
            elif k.rules is not None:  # the stop-loss cooldown, the trade threshold
                refusal = k.rules.entry_refusal(self.symbol, self.position, side,
                                                k.clock.now_ns())
        if refusal is not None:
            return 0, refusal
        unit, cap = self.sizing()
        if size is not None:
            if self.inst.round_lots(size) <= 0:
                return 0, f"size {size} is below the lot size {self.inst.lot_size}"
            unit = size
        qty = self.inst.round_lots(min(unit, exposure_rules.room(cap, self.exposure())))
        if qty <= 0:
            return 0, f"max_position_size {cap} reached"
        return qty, None

    def fit_entry(self, order: Order) -> str | None:
        """Re-check the cap for an entry about to go out (after the order-rate wait):
        trim it to the room left, or say why it cannot go at all."""
        _, cap = self.sizing()
        qty = self.inst.round_lots(exposure_rules.fit(order.qty, cap, self.exposure(),
                                                      order.remaining))
        if qty <= 0:
            return f"max_position_size {cap} reached"
        order.qty = qty
        return None

    def committed(self) -> int:
        """Money the working and queued entries commit: each working one's remaining
        quantity at its limit price, each queued one's at the touch it would go at."""
        total = 0
        for o in self.entries.values():
            total += o.remaining * (o.price or self.last)
        for side, qty, _ in self.pending_entries:
            total += qty * ((self.ask if side is Side.BUY else self.bid) or self.last)
        return total

    def queue_entry(self, side: Side, qty: int, source: str) -> None:
        self.pending_entries.append((side, qty, source))
        self.wake_queue.set()

    def cancel_entries(self, reason: str) -> None:
        """Cancel every working and queued entry (never exits); ``reason`` is journaled.

        Queued entries never reached the venue, so nothing else would record that they
        were dropped: each is journaled as ``entry_dropped``.
        """
        if self.pending_entries:
            now = self.k.clock.now_ns()
            for side, qty, _ in self.pending_entries:
                self.k.journal.emit(now, "entry_dropped", symbol=self.symbol, side=side.value,
                                    qty=str(qty), reason=reason)
            self.pending_entries.clear()
        if any(not o.cancel_requested for o in self.entries.values()):
            self.cancel_entries_pending = True
            self.wake_queue.set()

    # ------------------------------------------------------------ exits

    def exit_levels(self) -> dict[str, int]:
        """Current trigger prices (units) of the configured exit rules."""
        pos = self.position
        if not pos.qty:
            return {}
        # the levels depend on the position and the high-water mark alone, and the
        # monitor asks at every check: computed again only when one of them moved
        key = (pos.qty, pos.cost, self.hwm)
        if key == self._levels_key:
            return self._levels
        out = exit_rules.exit_levels(pos.qty, int(pos.avg_price), self.hwm, self.k.config.exits)
        self._levels_key, self._levels = key, out
        return out

    def check_exits(self, via: str) -> None:
        """Run every exit rule against the current quote; trigger at most one exit."""
        pos = self.position
        if not pos.qty:
            return
        k = self.k
        now = k.clock.now_ns()
        mark = exit_mark(pos.qty, self.bid, self.ask, self.last)
        reason: str | None = None
        limit = k.config.risk.max_loss_per_trade
        if limit is not None and reached(self.trade_realized + pos.unrealized(mark), limit):
            reason = "max_loss"
        if reason is None:
            reason = exit_rules.price_exit(pos.qty > 0, mark, self.exit_levels())
        rules = k.rules
        if reason is None and rules is not None and rules.clip is not None and mark:
            if rules.clip_exit(self.symbol, self.trade_realized + pos.unrealized(mark), now):
                reason = "clip"
        if reason is None and exit_rules.hold_expired(pos.opened_ns, now,
                                                      k.config.exits.hold_threshold):
            reason = "hold_time"
        if reason is not None:
            self.request_exit(reason, via)

    def request_exit(self, reason: str, via: str | None, by: str | None = None) -> None:
        k = self.k
        now = k.clock.now_ns()
        fields: dict[str, str] = {"symbol": self.symbol, "reason": reason}
        if via is not None:
            fields["via"] = via
        if by is not None:
            fields["by"] = by
        if not self.position.qty:
            if self.entries or self.pending_entries:
                self.cancel_entries(f"exit ({reason})")
            return
        if k.protections.single_exit_lock and (self.exit_order is not None
                                               or self.emergency_running or self.exit_request):
            working = self.exit_order.order_id if self.exit_order is not None else ""
            key = (working, reason, via)
            if key not in self._ignored:  # once per exit and rule, not every check
                self._ignored.add(key)
                k.journal.emit(now, "exit_ignored", working_order_id=working, **fields)
            return
        k.journal.emit(now, "exit_triggered", **fields)
        if k.rules is not None:
            k.rules.exit_triggered(self.symbol, reason)
        self.exits_by_reason[reason] = self.exits_by_reason.get(reason, 0) + 1
        self.exiting = True
        self.cancel_entries(f"exit ({reason})")
        if reason in ("max_loss", "kill_switch"):
            self.start_emergency(reason)
        else:
            self.exit_request = (reason, via)
            self.wake_queue.set()

    def request_reduce(self, qty: int) -> None:
        """Send ``qty`` shares of the position back (it is above the cap): one
        DANGLING_SHARES market order, through the order queue like every exit."""
        self.reduce_request = qty
        self.wake_queue.set()
