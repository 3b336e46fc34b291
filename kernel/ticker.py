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

This module holds the ticker's state, its tick and report paths and its timers. The
risk rules it asks (exposure, sizing, entries, exits) are in kernel/ticker_rules.py,
the order queue and emergency retry tasks in kernel/ticker_orders.py.
"""
from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import trio

from ..strategies.base import Fill
from ..strategies.driver import StrategyDriver
from .handoff import OrderWakeup
from .instruments import Instrument
from .orders import Order, Role, Side
from .positions import Position
from .risk.exposure import cap_reached_on_fill
from .risk.freshness import feed_stale
from .risk.quotes import band, quote_problem
from .ticker_orders import emergency_loop, order_queue_loop
from .ticker_rules import TickerRules
from .units import fmt_units
from .venue_stop import VenueStop
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .clock import TimerHandle
    from ..strategies.base import Intent, Strategy
    from .runtime import Kernel


def _pct2(move: int, base: int) -> str:
    """100 * move / base to two decimals, rounded half-even, with integers only (the
    Decimal version cost tens of microseconds on the gap path, live)."""
    q, r = divmod(abs(move) * 10_000, base)
    if 2 * r > base or (2 * r == base and q % 2):
        q += 1
    sign = "-" if move < 0 and q else ""
    return f"{sign}{q // 100}.{q % 100:02d}"


class Ticker(TickerRules):
    """State and loops of one symbol. Prices are integer 1e-8 units throughout.

    The risk rules (exposure, sizing, entries, exits) are inherited from
    ``TickerRules`` (kernel/ticker_rules.py); the order queue and the emergency retry
    are the tasks of kernel/ticker_orders.py."""

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
        # bad data (kernel/risk/quotes.py): the print band, and whether quotes are vetted
        self._vet_quotes = kernel.protections.rejects_bad_quotes
        self._band = band(cfg.monitor.bad_print_pct) if kernel.protections.rejects_bad_prints \
            else (0, 1 << 128, 1)  # weakened: any print believed
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
        # the resting stop at the venue (exits.venue_stop), None when not configured
        self.venue_stop = (VenueStop(self, cfg.exits.venue_stop)
                           if cfg.exits.venue_stop is not None else None)
        # wake-ups for the async loops, timers for the synchronous ones
        handoff = getattr(kernel, "handoff", None)
        self.wake_queue: Wakeup = OrderWakeup(
            (lambda: handoff.defer(self)) if handoff is not None else None)
        self.wake_emergency = Wakeup()
        self._nursery: trio.Nursery | None = None
        self._monitor_timer: TimerHandle | None = None
        self._check_interval = cfg.monitor.check_interval  # re-armed on every check
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
        if not 0 < bid <= last <= ask:  # suspect (or an empty side): ask the quote rule
            if self._vet_quotes and self._refused(ts, bid, ask, last):
                return
        prev = self.last
        self.bid = bid
        self.ask = ask
        self.last = last
        self.last_ts = ts
        if self.stale:
            self.stale = False
            self.k.journal.emit(ts, "feed_resumed", symbol=self.symbol)
            self._arm_stale()
            self.k.on_feed_resumed()
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

    def _refused(self, ts: int, bid: int, ask: int, last: int) -> bool:
        """A suspect quote: journal and drop it if the quote rule refuses it."""
        problem = quote_problem(bid, ask, last, *self._band)
        if problem is None:
            return False  # an empty side, say
        places = self.inst.price_places
        self.k.journal.emit(ts, "quote_rejected", symbol=self.symbol,
                            bid=fmt_units(bid, places), ask=fmt_units(ask, places),
                            last=fmt_units(last, places), reason=problem)
        return True

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

    # ------------------------------------------------------------ emergency

    def start_emergency(self, reason: str) -> None:
        if self.emergency_running or self._nursery is None:
            return
        self.emergency_running = True
        self.exiting = True
        self.k.journal.emit(self.k.clock.now_ns(), "emergency_started", symbol=self.symbol,
                            reason=reason)
        self._nursery.start_soon(emergency_loop, self, reason)

    # ------------------------------------------------------------ reports

    def on_order_update(self, order: Order) -> None:
        """Called by the kernel after an order of ours changed state."""
        vs = self.venue_stop
        if vs is not None:
            if order is vs.order:
                vs.changed(order)
                return
            vs.poke()  # an exit finished, an entry ended: the stop may be due
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
            if cap_reached_on_fill(pos.qty, exposure, cap):
                self.cancel_entries("max_position_size reached on fill")
        if pos.qty == 0:
            self.exiting = False
            self.exit_request = None
            self.hwm = 0
            self._ignored.clear()
            self.wake_emergency.set()
            if k.rules is not None:
                k.rules.went_flat(self.symbol, ts)
        self.arm_monitor()
        if self.venue_stop is not None:
            self.venue_stop.poke()
        k.after_fill(self)
        driver = self.driver
        if driver is not None and driver.caps.uses_context:
            driver.on_fill(Fill(ts, order.order_id, order.role, order.side, qty, price), pos)

    # ------------------------------------------------------------ loops

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(order_queue_loop, self)
                self._arm_stale()
                task_status.started()
        finally:
            for timer in (self._monitor_timer, self._stale_timer, self._bar_timer):
                if timer is not None:
                    timer.cancel()
            # the open bar's data stays: the kernel flushes it when the run finishes
            self._monitor_timer = self._stale_timer = self._bar_timer = None
            self._nursery = None  # closed: nothing may start in it any more

    # ------------------------------------------------------------ timers

    def arm_monitor(self) -> None:
        """Start the position monitor's timer chain if it is not running."""
        if self._monitor_timer is None:
            clock = self.k.clock
            self._monitor_timer = clock.call_at(clock.now_ns() + self._check_interval,
                                                self._monitor_fire)

    def _monitor_fire(self, _: object = None) -> None:
        """Every check_interval while a position or order is live; idle when flat."""
        self._monitor_timer = None
        if self.position.qty or self.entries or self.exit_order is not None:
            self.check_exits("monitor")
            self.arm_monitor()
        if self.venue_stop is not None:
            self.venue_stop.poke()  # after a reconnect, a refused place or cancel

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
        if not feed_stale(now, self.last_ts, self._stale_after):
            self._arm_stale()  # ticks came since this timer was set: look again later
            return
        if not self.stale:
            self.stale = True
            k.journal.emit(now, "feed_stale", symbol=self.symbol)
            k.on_feed_stale()
