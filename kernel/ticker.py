"""One ticker's supervisor: the synchronous tick path and the four loops.

Per symbol:

* **order queue** - an async task in the ticker's nursery; every order action of the
  ticker goes through it (exits first, entries staggered).
* **position monitor** - every ``check_interval`` while a position or order is live,
  idle when flat. It is a chain of synchronous clock timers, not a sleeping task:
  its checks are pure computation, and waking a trio task every second per ticker
  would dominate the cost of a simulation. It wakes the order queue when it fires.
* **gap detector** - runs inside the synchronous tick path (a gap triggers the exit
  checks on that very tick) plus a stale-feed timer.
* **emergency retry** - an async task started in the ticker's nursery on demand.

A normal tick costs no trio wake-up at all.

The tick path also keeps the current OHLC bar of the last trade price in plain int
fields, so the journal holds the price path a report charts (``journal.bar_interval``).
A bar is closed by a clock timer at its end, not by the next tick: the next tick may
come after other events, and the journal stays in time order only if the bar is written
at its own end time. That is one timer per bar, never one per tick.
"""
from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import trio

from ..strategies.base import Fill
from ..strategies.driver import StrategyDriver
from .instruments import Instrument
from .orders import Order, OrderType, Role, Side
from .positions import Position
from .units import fmt_units
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .clock import TimerHandle
    from ..strategies.base import Intent, Strategy
    from .runtime import Kernel

EMERGENCY_STEP_BPS = 50  # each emergency retry after the first crosses the touch 0.5 % more

EXIT_ROLE = {
    "stop_loss": Role.STOP_LOSS,
    "trailing_stop": Role.STOP_LOSS,
    "take_profit": Role.TAKE_PROFIT,
    "hold_time": Role.EXIT,
    "signal": Role.EXIT,
    "max_loss": Role.EMERGENCY_EXIT,
    "kill_switch": Role.EMERGENCY_EXIT,
    "shutdown": Role.EXIT,
}


def _pct2(move: int, base: int) -> str:
    """100 * move / base to two decimals, rounded half-even, with integers only (the
    Decimal version cost tens of microseconds on the gap path, live)."""
    q, r = divmod(abs(move) * 10_000, base)
    if 2 * r > base or (2 * r == base and q % 2):
        q += 1
    sign = "-" if move < 0 and q else ""
    return f"{sign}{q // 100}.{q % 100:02d}"


class Ticker:
    """State and loops of one symbol. Prices are integer 1e-8 units throughout."""

    def __init__(self, kernel: "Kernel", instrument: Instrument,
                 strategy: "Strategy | None" = None, bar_interval_ns: int | None = None) -> None:
        self.k = kernel
        self.inst = instrument
        self.symbol = instrument.symbol
        cfg = kernel.config
        self.strategy = strategy
        # The strategy behind its driver. A plain on_price strategy is called straight
        # from the tick path (_price_hook: one call, as before the richer interface);
        # one with context hooks goes through the driver's on_tick (_driver_tick).
        self.driver: StrategyDriver | None = None
        self.strategy_failed: str | None = None  # the error text once it misbehaved
        self._price_hook: Callable[[int, int], object] | None = None
        self._driver_tick: Callable[[int, int, int, int, int, int], None] | None = None
        if strategy is not None:
            driver = StrategyDriver(strategy, instrument, emit=self._on_intent,
                                    on_error=self._on_strategy_error,
                                    bar_interval_ns=bar_interval_ns)
            self.driver = driver
            if driver.caps.uses_context:
                self._driver_tick = driver.on_tick
            else:
                self._price_hook = driver.price_hook
        # market state
        self.bid = 0
        self.ask = 0
        self.last = 0
        self.last_ts = kernel.clock.now_ns()
        self.stale = False
        self.has_quote = False
        gap = cfg.monitor.gap_threshold_pct
        frac = Fraction(gap) / 100
        self._gap_num = frac.numerator
        self._gap_den = frac.denominator
        self._stale_after = cfg.monitor.stale_after
        # trading state
        self.position = Position(self.symbol)
        self.trade_realized: int | Fraction = 0
        self.entries: dict[str, Order] = {}
        self.exit_order: Order | None = None
        self.pending_entries: deque[tuple[Side, int, str]] = deque()
        self.exit_request: tuple[str, str | None] | None = None
        self.reduce_request = 0  # shares above the cap to sell back (DANGLING_SHARES)
        self.exiting = False  # an exit was triggered and the position is not flat yet
        self.emergency_running = False
        self.emergency_attempts = 0  # over the whole run, for the summary
        self.cancel_entries_pending = False
        self.last_entry_sent_ns: int | None = None
        self.hwm = 0  # best price since the position opened (for trailing stops)
        self.max_exposure = 0
        self.exits_by_reason: dict[str, int] = {}
        self.trades = 0
        # wake-ups for the async loops, timers for the synchronous ones
        self.wake_queue = Wakeup()
        self.wake_emergency = Wakeup()
        self._nursery: trio.Nursery | None = None
        self._monitor_timer: TimerHandle | None = None
        self._ignored: set[tuple[str, str, str | None]] = set()  # membership only
        self._stale_timer: TimerHandle | None = None
        # the open bar (journal.bar_interval); _bar_end == 0: none open
        self._bar_interval = cfg.journal.bar_interval
        self._bar_start = self._bar_end = 0
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = 0
        self._bar_timer: TimerHandle | None = None

    # ------------------------------------------------------------ the tick path

    def on_quote(self, ts: int, bid: int, ask: int, last: int, bid_size: int,
                 ask_size: int) -> None:
        """The tick path: synchronous, no allocation on a quiet tick."""
        prev = self.last
        self.bid = bid
        self.ask = ask
        self.last = last
        self.last_ts = ts
        if self.stale:
            self.stale = False
            self.k.journal.emit(ts, "feed_resumed", symbol=self.symbol)
            self._arm_stale()
        if self._bar_interval and last:
            if ts < self._bar_end:
                if last > self._bar_high:
                    self._bar_high = last
                elif last < self._bar_low:
                    self._bar_low = last
                self._bar_close = last
            else:
                self._open_bar(ts, last)
        pos = self.position.qty
        if pos:
            if pos > 0:
                if bid > self.hwm:
                    self.hwm = bid
            elif ask < self.hwm or not self.hwm:
                self.hwm = ask
        if prev:
            move = last - prev
            if move < 0:
                move = -move
            if move * self._gap_den >= prev * self._gap_num:
                self._on_gap(ts, prev, last)
        else:
            self.has_quote = True
        hook = self._price_hook
        if hook is not None:
            try:
                answer = hook(ts, last)
            except Exception as exc:  # noqa: BLE001 - the driver reports user code's failure
                assert self.driver is not None
                self.driver.raised(ts, "on_price", exc)
                return
            if answer is not None:
                assert self.driver is not None
                self.driver.answer(ts, "on_price", answer)
        elif self._driver_tick is not None:
            self._driver_tick(ts, bid, ask, last, bid_size, ask_size)

    def _on_intent(self, ts: int, intent: "Intent") -> None:
        self.k.strategy_intent(self.symbol, intent, ts)

    def _on_strategy_error(self, ts: int, hook: str, text: str) -> None:
        """The strategy raised or answered nonsense: journal it, call it no more, open
        nothing more on this ticker (exits stay with the kernel's rules)."""
        self._price_hook = self._driver_tick = None
        self.strategy_failed = text
        self.k.journal.emit(ts, "strategy_error", symbol=self.symbol, hook=hook, error=text)
        self.k.strategy_errors.append((self.symbol, text))
        if self.entries or self.pending_entries:
            self.cancel_entries("strategy error")

    def _open_bar(self, ts: int, last: int) -> None:
        """The first trade of a bar: close the previous one if its timer is late (live)."""
        if self._bar_end:
            self._bar_fire()
        iv = self._bar_interval
        self._bar_start = ts - ts % iv
        self._bar_end = self._bar_start + iv
        self._bar_open = self._bar_high = self._bar_low = self._bar_close = last
        self._bar_timer = self.k.clock.call_at(self._bar_end, self._bar_fire)

    def _bar_fire(self, _: object = None) -> None:
        """The bar's end: journal it at its end time."""
        if self._bar_timer is not None:
            self._bar_timer.cancel()
            self._bar_timer = None
        self._emit_bar(self._bar_end)

    def flush_bar(self) -> None:
        """The run's end: journal the open bar, stamped with the run's end."""
        if self._bar_end:
            if self._bar_timer is not None:
                self._bar_timer.cancel()
                self._bar_timer = None
            self._emit_bar(min(self._bar_end, self.k.clock.now_ns()))

    def _emit_bar(self, ts: int) -> None:
        places = self.inst.price_places
        self.k.journal.emit(ts, "bar", symbol=self.symbol, start_ns=self._bar_start,
                            open=fmt_units(self._bar_open, places),
                            high=fmt_units(self._bar_high, places),
                            low=fmt_units(self._bar_low, places),
                            close=fmt_units(self._bar_close, places))
        self._bar_end = 0

    def _on_gap(self, ts: int, prev: int, last: int) -> None:
        places = self.inst.price_places
        pct = _pct2(last - prev, prev)
        self.k.journal.emit(ts, "gap_detected", symbol=self.symbol,
                            from_price=fmt_units(prev, places), to_price=fmt_units(last, places),
                            pct=pct)
        if self.position.qty and self.k.protections.gap_triggers_exit:
            self.check_exits("gap")

    # ------------------------------------------------------------ exposure

    def working_entry_qty(self) -> int:
        return sum(o.remaining for o in self.entries.values())

    def pending_entry_qty(self) -> int:
        return sum(q for _, q, _ in self.pending_entries)

    def exposure(self) -> int:
        """Filled position plus working (and queued) entries: what risk limits count."""
        if not self.k.protections.exposure_counts_working:  # the naive, overshooting design
            return abs(self.position.qty)
        return abs(self.position.qty) + self.working_entry_qty() + self.pending_entry_qty()

    def sizing(self) -> tuple[int, int]:
        """(unit size, max size) for the current price, from the tier list if any."""
        s = self.k.config.sizing
        if s.tier_list and self.last:
            px = Decimal(self.last) / Decimal(10**8)
            for tier in s.tier_list:
                if tier.price_min <= px <= tier.price_max:
                    return tier.unit_position_size, tier.max_position_size
        return s.unit_position_size, s.max_position_size

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
        if refusal is not None:
            return 0, refusal
        unit, cap = self.sizing()
        if size is not None:
            if self.inst.round_lots(size) <= 0:
                return 0, f"size {size} is below the lot size {self.inst.lot_size}"
            unit = size
        qty = self.inst.round_lots(min(unit, cap - self.exposure()))
        if qty <= 0:
            return 0, f"max_position_size {cap} reached"
        return qty, None

    def fit_entry(self, order: Order) -> str | None:
        """Re-check the cap for an entry about to go out (after the order-rate wait):
        trim it to the room left, or say why it cannot go at all."""
        _, cap = self.sizing()
        room = cap - (self.exposure() - order.remaining)  # the order itself is counted
        qty = self.inst.round_lots(min(order.qty, room))
        if qty <= 0:
            return f"max_position_size {cap} reached"
        order.qty = qty
        return None

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
        ex = self.k.config.exits
        avg = int(pos.avg_price)
        out: dict[str, int] = {}
        sign = 1 if pos.qty > 0 else -1
        if ex.stop_loss is not None:
            out["stop_loss"] = avg - sign * ex.stop_loss.below(avg)
        if ex.take_profit is not None:
            out["take_profit"] = avg + sign * ex.take_profit.below(avg)
        if ex.trailing_stop is not None and self.hwm:
            out["trailing_stop"] = self.hwm - sign * ex.trailing_stop.below(self.hwm)
        return out

    def check_exits(self, via: str) -> None:
        """Run every exit rule against the current quote; trigger at most one exit."""
        pos = self.position
        if not pos.qty:
            return
        k = self.k
        now = k.clock.now_ns()
        long = pos.qty > 0
        mark = (self.bid if long else self.ask) or self.last
        reason: str | None = None
        risk = k.config.risk
        if risk.max_loss_per_trade is not None:
            pnl = self.trade_realized + pos.unrealized(mark)
            if pnl <= -risk.max_loss_per_trade:
                reason = "max_loss"
        if reason is None and mark:
            for rule, level in self.exit_levels().items():
                if rule == "take_profit":
                    hit = mark >= level if long else mark <= level
                else:
                    hit = mark <= level if long else mark >= level
                if hit:
                    reason = rule
                    break
        hold = k.config.exits.hold_threshold
        if reason is None and hold is not None and pos.opened_ns is not None:
            if now - pos.opened_ns >= hold:
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

    def start_emergency(self, reason: str) -> None:
        if self.emergency_running or self._nursery is None:
            return
        self.emergency_running = True
        self.exiting = True
        self.k.journal.emit(self.k.clock.now_ns(), "emergency_started", symbol=self.symbol,
                            reason=reason)
        self._nursery.start_soon(self._emergency_loop, reason)

    # ------------------------------------------------------------ reports

    def on_order_update(self, order: Order) -> None:
        """Called by the kernel after an order of ours changed state."""
        if order.role is Role.ENTRY:
            if not order.is_working:
                self.entries.pop(order.order_id, None)
            return
        if order is self.exit_order and not order.is_working:
            self.exit_order = None
            if order.role is Role.DANGLING_SHARES and not self.exiting:
                # the excess went (or did not): not an exit of the position itself
                self.check_exits("fill")
                return
            if self.position.qty and not self.emergency_running:
                self.start_emergency(f"exit order {order.state.value.lower()}")
            self.wake_emergency.set()

    def on_fill(self, order: Order, qty: int, price: int, ts: int, fee: int = 0) -> None:
        pos = self.position
        was_flat = pos.qty == 0
        if was_flat:
            self.trade_realized = 0
        realized = pos.apply_fill(order.side.sign, qty, price, ts)
        if fee:  # realized P&L, and every loss limit that reads it, is net of fees
            pos.charge(fee)
            realized -= fee
        self.trade_realized += realized
        if was_flat and pos.qty:
            self.trades += 1
            self.hwm = price
        k = self.k
        k.realized_total += realized
        k.journal.emit(ts, "position_changed", symbol=self.symbol, qty=str(pos.qty),
                       avg_price=fmt_units(pos.avg_price, self.inst.price_places),
                       realized_pnl=fmt_units(pos.realized))
        exposure = self.exposure()
        if exposure > self.max_exposure:
            self.max_exposure = exposure
        if order.role is Role.ENTRY and k.protections.fill_time_exposure_check:
            # The fill-time check (Newstrader's overshoot fix). Working entries are
            # cancelled when the filled position alone has reached the cap, or when
            # filled + working is above it (the cap can shrink under working orders:
            # tiered sizing). Cancelling at exposure == cap, as a literal reading of
            # the design says, would also cancel entries that fit, on every fill.
            _, cap = self.sizing()
            if abs(pos.qty) >= cap or exposure > cap:
                self.cancel_entries("max_position_size reached on fill")
        if pos.qty == 0:
            self.exiting = False
            self.exit_request = None
            self.hwm = 0
            self._ignored.clear()
            self.wake_emergency.set()
        self.arm_monitor()
        k.after_fill(self)
        driver = self.driver
        if driver is not None and driver.caps.uses_context:
            driver.on_fill(Fill(ts, order.order_id, order.role, order.side, qty, price), pos)

    # ------------------------------------------------------------ loops

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._order_queue_loop)
                self._arm_stale()
                task_status.started()
        finally:
            for timer in (self._monitor_timer, self._stale_timer, self._bar_timer):
                if timer is not None:
                    timer.cancel()
            # the open bar's data stays: the kernel flushes it when the run finishes
            self._monitor_timer = self._stale_timer = self._bar_timer = None

    async def _order_queue_loop(self) -> None:
        """Serialises this ticker's order actions: exits first, entries staggered."""
        k = self.k
        delay = k.config.entries.staggered_order_delay
        while True:
            next_entry: int | None = None
            if self.pending_entries and self.last_entry_sent_ns is not None:
                next_entry = self.last_entry_sent_ns + delay
            if not (self.exit_request or self.cancel_entries_pending or self.reduce_request or
                    (self.pending_entries and (next_entry is None or next_entry <= k.clock.now_ns()))):
                await self.wake_queue.wait_until(k.clock, next_entry)
            if self.exit_request is not None:
                reason, _ = self.exit_request
                await self._send_exit(reason)
                self.exit_request = None
            if self.reduce_request:
                await self._send_reduce()
            if self.cancel_entries_pending:
                self.cancel_entries_pending = False
                for order in list(self.entries.values()):
                    if not order.cancel_requested:
                        await k.cancel(order)
            if self.pending_entries:
                now = k.clock.now_ns()
                if self.last_entry_sent_ns is None or now >= self.last_entry_sent_ns + delay:
                    side, qty, reason = self.pending_entries.popleft()
                    await self._send_entry(side, qty)

    async def _send_entry(self, side: Side, qty: int) -> None:
        k = self.k
        refusal = k.entry_block_reason()
        if refusal is None and (self.exiting or self.exit_order is not None):
            refusal = "exit in progress"
        if refusal is None and self.stale and k.protections.stale_blocks_entries:
            refusal = "feed stale"
        now = k.clock.now_ns()
        if refusal is not None:
            k.journal.emit(now, "risk_rejected", symbol=self.symbol, reason=refusal)
            return
        # re-check the cap at send time: fills may have landed since the signal
        _, cap = self.sizing()
        room = cap - self.exposure()  # this entry has left the queue: it is not counted
        qty = self.inst.round_lots(min(qty, room))
        if qty <= 0:
            k.journal.emit(now, "risk_rejected", symbol=self.symbol,
                           reason=f"max_position_size {cap} reached")
            return
        price = self.ask if side is Side.BUY else self.bid
        order = k.new_order(self.symbol, Role.ENTRY, side, qty, OrderType.LIMIT, price,
                            now + k.config.entries.entry_order_ttl)
        self.entries[order.order_id] = order
        self.last_entry_sent_ns = now
        self.arm_monitor()
        exposure = self.exposure()
        if exposure > self.max_exposure:
            self.max_exposure = exposure
        await k.submit(order)

    async def _send_exit(self, reason: str) -> None:
        k = self.k
        qty = abs(self.position.qty)
        if not qty or (k.protections.single_exit_lock
                       and (self.exit_order is not None or self.emergency_running)):
            return
        side = Side.SELL if self.position.qty > 0 else Side.BUY
        now = k.clock.now_ns()
        order = k.new_order(self.symbol, EXIT_ROLE.get(reason, Role.EXIT), side, qty,
                            OrderType.MARKET, None, now + k.config.exits.exit_order_ttl)
        self.exit_order = order
        await k.submit(order)

    async def _send_reduce(self) -> None:
        qty, self.reduce_request = min(self.reduce_request, abs(self.position.qty)), 0
        if not qty or self.exit_order is not None or self.emergency_running:
            return  # an exit already working takes the whole position
        k = self.k
        side = Side.SELL if self.position.qty > 0 else Side.BUY
        now = k.clock.now_ns()
        order = k.new_order(self.symbol, Role.DANGLING_SHARES, side, qty, OrderType.MARKET,
                            None, now + k.config.exits.exit_order_ttl)
        self.exit_order = order
        await k.submit(order)

    # ------------------------------------------------------------ timers

    def arm_monitor(self) -> None:
        """Start the position monitor's timer chain if it is not running."""
        if self._monitor_timer is None:
            k = self.k
            self._monitor_timer = k.clock.call_at(
                k.clock.now_ns() + k.config.monitor.check_interval, self._monitor_fire)

    def _monitor_fire(self, _: object = None) -> None:
        """Every check_interval while a position or order is live; idle when flat."""
        self._monitor_timer = None
        if self.position.qty or self.entries or self.exit_order is not None:
            self.check_exits("monitor")
            self.arm_monitor()

    def _arm_stale(self) -> None:
        if self._stale_timer is not None:
            self._stale_timer.cancel()
        self._stale_timer = self.k.clock.call_at(self.last_ts + self._stale_after,
                                                 self._stale_fire)

    def _stale_fire(self, _: object = None) -> None:
        """No tick for stale_after: journal feed_stale; entries wait for a fresh tick."""
        self._stale_timer = None
        k = self.k
        now = k.clock.now_ns()
        if now - self.last_ts < self._stale_after:
            self._arm_stale()  # ticks came since this timer was set: look again later
            return
        if not self.stale:
            self.stale = True
            k.journal.emit(now, "feed_stale", symbol=self.symbol)
            k.on_feed_stale()

    async def _emergency_loop(self, reason: str) -> None:
        """Cancel the previous exit, send a fresh one at the touch, until flat.

        The first attempt is a limit at the touch; every later one crosses it by
        ``(attempt - 1) * EMERGENCY_STEP_BPS`` (a marketable limit that fills at the
        best price available, with a collar that widens until the exit gets done)."""
        k = self.k
        interval = k.config.emergency.retry_interval
        attempt = 0
        try:
            while self.position.qty:
                give_up = k.protections.emergency_max_attempts
                if give_up is not None and self.emergency_attempts >= give_up:
                    await trio.sleep_forever()  # a weakened kernel: the naive "try once" exit
                if not k.connected:
                    await k.wait_connected()
                    continue
                old = self.exit_order
                if old is not None and old.is_working:
                    if not old.cancel_requested:
                        await k.cancel(old)
                    deadline = k.clock.now_ns() + interval
                    while old.is_working and k.clock.now_ns() < deadline:
                        await self.wake_emergency.wait_until(k.clock, deadline)
                    if old.is_working:
                        continue  # the venue has not confirmed the cancel: never two exits
                if not self.position.qty:
                    break
                attempt += 1
                self.emergency_attempts += 1
                qty = abs(self.position.qty)
                side = Side.SELL if self.position.qty > 0 else Side.BUY
                price = self.bid if side is Side.SELL else self.ask
                if price and attempt > 1 and k.protections.emergency_retries_cross:
                    # Retries escalate: a limit at the touch never fills in a market that
                    # runs away faster than data + order latency (a fuzz find), so each
                    # retry crosses the touch by one more EMERGENCY_STEP_BPS.
                    step = price * (attempt - 1) * EMERGENCY_STEP_BPS // 10_000
                    if side is Side.SELL:
                        price = max(self.inst.floor_tick(price - step), 0)
                    else:
                        price = self.inst.ceil_tick(price + step)
                now = k.clock.now_ns()
                k.journal.emit(now, "emergency_retry", symbol=self.symbol, attempt=attempt)
                if price:
                    order = k.new_order(self.symbol, Role.EMERGENCY_EXIT, side, qty,
                                        OrderType.LIMIT, price, now + interval)
                else:
                    order = k.new_order(self.symbol, Role.EMERGENCY_EXIT, side, qty,
                                        OrderType.MARKET, None, now + interval)
                self.exit_order = order
                await k.submit(order)
                # wait out the interval even after a reject: retries are paced, not spun
                deadline = now + interval
                while self.position.qty and k.clock.now_ns() < deadline:
                    await self.wake_emergency.wait_until(k.clock, deadline)
            k.journal.emit(k.clock.now_ns(), "emergency_finished", symbol=self.symbol,
                           attempt=attempt)
        finally:
            self.emergency_running = False
            self.exiting = bool(self.position.qty)
