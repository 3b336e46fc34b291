"""The kernel's root: venue session, portfolio guard and one supervisor per ticker.

``Kernel.run`` opens the root nursery. Everything venue-facing enters through three
synchronous callbacks (``on_report``, ``on_connection``, and the per-ticker quote
handler), so the same code is driven by the simulator's event loop and by a live
adapter's socket reader.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from fractions import Fraction
from typing import Any, Callable

import trio

from ..strategies.base import Intent, Strategy
from ..strategies.loader import bar_interval_of
from ..strategies.news import NewsAlertFilter
from .clock import Clock
from .fee_ledger import FeeLedger
from .config import TradingConfig
from .instruments import Instrument
from .journal import Journal
from .killswitch import KillAction
from .orders import IllegalTransition, Order, OrderIds, OrderState, OrderType, Overfill, Role, Side
from .protections import Protections
from .reconcile import Reconciler
from .restore import DayState, apply_day, resume_exits, start_held_tickers
from .signals import Signal, SignalSide
from .ticker import Ticker
from .units import NS_PER_S, fmt_units
from .venue import ExecReport, ReportKind, Venue, VenueError
from .wakeup import Wakeup

StrategyFactory = Callable[[str], "Strategy | None"]
_RECENT = 8192  # terminal orders and exec ids remembered for late/duplicate reports
_RECONCILE_LOOKS = 3  # a books difference must persist this many looks to be a mismatch

_REPORT_STATE = {
    ReportKind.ACCEPTED: OrderState.ACCEPTED,
    ReportKind.REJECTED: OrderState.REJECTED,
    ReportKind.CANCELLED: OrderState.CANCELLED,
    ReportKind.EXPIRED: OrderState.EXPIRED,
}
_REPORT_EVENT = {
    ReportKind.ACCEPTED: "order_accepted",
    ReportKind.REJECTED: "order_rejected",
    ReportKind.CANCELLED: "order_cancelled",
    ReportKind.EXPIRED: "order_expired",
}


class Kernel:
    def __init__(
        self,
        *,
        config: TradingConfig,
        clock: Clock,
        venue: Venue,
        journal: Journal,
        instruments: dict[str, Instrument],
        strategy_factory: StrategyFactory | None = None,
        protections: Protections = Protections(),
        reconcile_at_start: bool = False,
        restore: "DayState | None" = None,
    ) -> None:
        """``reconcile_at_start``: ask the venue for its positions and working orders
        before any entry and adopt them (live, and a restart; a simulated run starts
        flat by construction and skips it). ``restore``: the day's state read from an
        earlier run's journal (a restart), put in place before the reconciliation."""
        self.config = config
        self.protections = protections  # frozen: every protection on unless a test says
        self.clock = clock
        self.venue = venue
        self.journal = journal
        self.instruments = instruments
        self.strategy_factory = strategy_factory
        self.tickers: dict[str, Ticker] = {}
        # live orders; terminal ones move to a bounded memory of recent ones, so a long
        # run does not grow with its order count (late reports still find them)
        self.orders: dict[str, Order] = {}
        self._recent_done: OrderedDict[str, Order] = OrderedDict()
        self.ids = OrderIds()
        self.realized_total: int | Fraction = 0
        self.connected = False
        self._connected_waiters: list[Wakeup] = []
        self._seen_exec_ids: OrderedDict[str, None] = OrderedDict()  # bounded, recent
        self.fee_ledger = FeeLedger(config.fees)
        self._send_times: deque[int] = deque()
        self._root: trio.Nursery | None = None
        self._starting: dict[str, list[Signal]] = {}
        self.news_filter = NewsAlertFilter(config.entries.signal_freshness)
        self.error_count = 0
        self.strategy_errors: list[tuple[str, str]] = []  # (symbol, text): the run fails
        # kill switch state
        self.halt_reason: str | None = None  # entries blocked while set
        self.close_all_active = False
        self.cumulative_breached = False
        self._guard_timer: Any = None
        # the kill switches in force, in firing order (a dict: ordered and deterministic)
        self.kill_switches: dict[tuple[str, KillAction], None] = {}
        self.reconcile_at_start = reconcile_at_start
        self.reconciler = Reconciler(self)
        self.restore = restore

    # ------------------------------------------------------------ lifecycle

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as root:
            self._root = root
            serve = getattr(self.clock, "serve", None)
            if serve is not None:  # a clock whose timers need a task (the live clock)
                await root.start(serve)
            await self.venue.connect(self)
            self.connected = True
            symbols = self.config.tickers or list(self.instruments)
            for sym in symbols:
                await self.start_ticker(self.instruments[sym])
            if self.restore is not None:
                await start_held_tickers(self, self.restore)
                apply_day(self, self.restore)
            if self.reconcile_at_start:
                await self.reconciler.at_start()
                root.start_soon(self.reconciler.periodic)
            if self.restore is not None:
                resume_exits(self, self.restore)
            if self.close_all_active:  # a close_all in force before the restart
                for t in self.tickers.values():
                    if t.position.qty:
                        t.request_exit("kill_switch", "restart")
            task_status.started()

    async def start_ticker(self, inst: Instrument) -> Ticker:
        strategy = self.strategy_factory(inst.symbol) if self.strategy_factory else None
        interval = None
        if strategy is not None:
            # a loader factory knows each ticker's configured bar interval
            intervals = getattr(self.strategy_factory, "bar_interval_ns", None)
            interval = intervals(inst.symbol) if intervals is not None else \
                bar_interval_of(type(strategy))
        ticker = Ticker(self, inst, strategy, interval)
        self.tickers[inst.symbol] = ticker
        self.instruments.setdefault(inst.symbol, inst)
        assert self._root is not None
        await self._root.start(ticker.run)
        await self.venue.subscribe(inst, ticker.on_quote)
        return ticker

    async def _discover(self, symbol: str) -> None:
        """A signal named a symbol we do not trade yet: start its supervisor now."""
        now = self.clock.now_ns()
        try:
            inst = self.instruments.get(symbol) or await self.venue.instrument(symbol)
        except VenueError as exc:
            for sig in self._starting.pop(symbol, []):
                self.journal.emit(now, "signal", symbol=symbol, side=sig.side.value, accepted=False,
                                  reason=f"unknown instrument: {exc}")
            return
        self.journal.emit(self.clock.now_ns(), "ticker_started", symbol=symbol, via="discovery")
        await self.start_ticker(inst)
        for sig in self._starting.pop(symbol, []):
            self.on_signal(sig)

    def shutdown_orders(self) -> None:
        """Shutdown: cancel working entries, leave protective exits, journal it."""
        working_exits = []
        for ticker in self.tickers.values():
            ticker.cancel_entries("shutdown")
            if ticker.exit_order is not None:
                working_exits.append(ticker.exit_order.order_id)
        self.journal.emit(self.clock.now_ns(), "shutdown", exits_left_working=working_exits)

    # ------------------------------------------------------------ signals

    def strategy_intent(self, symbol: str, intent: Intent, ts: int) -> None:
        """A validated intent from a ticker's strategy (``strategies.driver``)."""
        self.on_signal(Signal(symbol, intent.side, ts, source="strategy", size=intent.size,
                              note=intent.reason))

    def on_signal(self, sig: Signal) -> None:
        now = self.clock.now_ns()
        ticker = self.tickers.get(sig.symbol)
        if ticker is None:
            if not self.protections.discover_tickers:
                self.journal.emit(now, "signal", symbol=sig.symbol, side=sig.side.value,
                                  accepted=False, reason="not a configured ticker")
                return
            if sig.side is SignalSide.EXIT:
                self.journal.emit(now, "signal", symbol=sig.symbol, side=sig.side.value,
                                  accepted=False, reason="no position in an unknown ticker")
                return
            pending = self._starting.get(sig.symbol)
            if pending is None:
                self._starting[sig.symbol] = [sig]
                assert self._root is not None
                self._root.start_soon(self._discover, sig.symbol)
            else:
                pending.append(sig)
            return
        if sig.published_ns is not None:
            accepted, why = self.news_filter.judge(sig.symbol, sig.side, now, sig.published_ns)
            if not accepted:
                self._signal(sig, False, why)
                return
        if sig.side is SignalSide.EXIT:
            self._signal(sig, True, "exit")
            ticker.request_exit("signal", None)
            return
        side = sig.side.order_side
        qty, refusal = ticker.plan_entry(side, sig.size)
        if refusal is not None:
            self._signal(sig, False, refusal)
            self.journal.emit(now, "risk_rejected", symbol=sig.symbol, reason=refusal)
            return
        self._signal(sig, True, "entry")
        ticker.queue_entry(side, qty, sig.source)

    def _signal(self, sig: Signal, accepted: bool, reason: str) -> None:
        if sig.size is None and sig.note is None:
            self.journal.emit(self.clock.now_ns(), "signal", symbol=sig.symbol,
                              side=sig.side.value, accepted=accepted, reason=reason,
                              source=sig.source)
            return
        extra: dict[str, str] = {}
        if sig.size is not None:
            extra["size"] = str(sig.size)
        if sig.note is not None:
            extra["strategy_reason"] = sig.note
        self.journal.emit(self.clock.now_ns(), "signal", symbol=sig.symbol, side=sig.side.value,
                          accepted=accepted, reason=reason, source=sig.source, **extra)

    def entry_block_reason(self) -> str | None:
        if self.reconciler.pending:
            return "reconciliation with the venue pending"
        if self.halt_reason is not None:
            return f"kill switch: {self.halt_reason}"
        if self.cumulative_breached:
            return "max_loss_cumulative breached"
        if not self.connected:
            return "venue disconnected"
        return None

    # ------------------------------------------------------------ orders

    def new_order(self, symbol: str, role: Role, side: Side, qty: int, order_type: OrderType,
                  price: int | None, expire_ns: int | None) -> Order:
        return Order(self.ids.next(), symbol, role, side, qty, order_type, price, expire_ns,
                     self.clock.now_ns())

    async def _pace(self) -> None:
        """max_order_rate per second per venue session (sliding one-second window)."""
        if not self.connected and self.protections.refused_actions_use_no_budget:
            # the action cannot reach the venue (it is refused right after): it must not
            # use up the budget of the cancels that the reconnect will send (a fuzz find)
            return
        limit = self.config.risk.max_order_rate
        times = self._send_times
        while True:  # several tickers' queues may be waiting: re-check after every wait
            now = self.clock.now_ns()
            while times and times[0] <= now - NS_PER_S:
                times.popleft()
            if len(times) < limit:
                break
            await self.clock.sleep_until(times[0] + NS_PER_S)
        times.append(now)

    async def submit(self, order: Order) -> None:
        asked = self.clock.now_ns()
        await self._pace()
        waited = self.clock.now_ns() - asked
        if waited and order.expire_ns is not None and self.protections.ttl_counts_from_send:
            # a good-till-date life counts from the send: pacing must not eat it (an
            # exit whose TTL was shorter than the wait arrived expired, every retry)
            order.expire_ns += waited
        if order.role is Role.ENTRY:
            # pacing may have waited: the world can have changed (a kill switch fired,
            # fills landed and a tiered cap shrank: the fit is checked again)
            refusal = self.entry_block_reason()
            if refusal is None and self.protections.recheck_entry_after_pacing:
                refusal = self.tickers[order.symbol].fit_entry(order)
            if refusal is not None:
                order.transition(OrderState.REJECTED)
                self.journal.emit(self.clock.now_ns(), "risk_rejected", symbol=order.symbol,
                                  reason=refusal)
                self._order_done(order)
                return
        inst = self.instruments[order.symbol]
        fields: dict[str, Any] = dict(order_id=order.order_id, symbol=order.symbol,
                                      role=order.role.value, side=order.side.value,
                                      qty=str(order.qty), order_type=order.order_type.value)
        if order.price is not None:
            fields["price"] = fmt_units(order.price, inst.price_places)
        self.orders[order.order_id] = order
        self.journal.emit(self.clock.now_ns(), "order_submitted", **fields)
        try:
            if not self.connected:
                raise VenueError("venue disconnected")
            await self.venue.submit(order)
        except VenueError as exc:
            if order.is_working:
                order.transition(OrderState.REJECTED)
                self.journal.emit(self.clock.now_ns(), "order_rejected",
                                  order_id=order.order_id, symbol=order.symbol,
                                  role=order.role.value, reason=f"not sent: {exc}")
                self._order_done(order)

    async def cancel(self, order: Order) -> None:
        if not order.is_working or order.cancel_requested:
            return
        order.cancel_requested = True
        await self._pace()
        try:
            await self.venue.cancel(order.order_id)
        except VenueError:
            order.cancel_requested = False  # try again after reconnect

    # ------------------------------------------------------------ venue callbacks

    def on_report(self, report: ExecReport) -> None:
        order = self.orders.get(report.order_id) or self._recent_done.get(report.order_id)
        now = self.clock.now_ns()  # when the kernel learned it, so the journal is ordered
        if order is None:
            self.error_count += 1
            self.journal.emit(now, "report_unknown_order", order_id=report.order_id,
                              kind=report.kind)
            return
        if report.kind is ReportKind.FEE:
            self._on_broker_fee(order, report)
            return
        if report.kind is ReportKind.FILL:
            if report.exec_id:
                if report.exec_id in self._seen_exec_ids:
                    self.journal.emit(now, "report_duplicate", order_id=order.order_id,
                                      exec_id=report.exec_id)
                    return
                seen = self._seen_exec_ids
                seen[report.exec_id] = None
                if len(seen) > _RECENT:
                    seen.popitem(last=False)
            try:
                order.apply_fill(report.qty)
            except (IllegalTransition, Overfill) as exc:
                self.error_count += 1
                self.journal.emit(now, "report_inconsistent", order_id=order.order_id,
                                  detail=str(exc))
                return
            inst = self.instruments[order.symbol]
            fee, fee_source = self.fee_ledger.on_fill(order, report)
            fields: dict[str, Any] = dict(
                order_id=order.order_id, symbol=order.symbol, role=order.role.value,
                side=order.side.value, qty=str(report.qty),
                price=fmt_units(report.price, inst.price_places))
            if fee_source is not None:
                fields.update(fee=fmt_units(fee), fee_source=fee_source)
            self.journal.emit(now, "fill", **fields)
            ticker = self.tickers[order.symbol]
            ticker.on_fill(order, report.qty, report.price, now, fee)
            if not order.is_working:
                self._order_done(order)
            return
        dst = _REPORT_STATE[report.kind]
        if order.state is dst:
            self.journal.emit(now, "report_duplicate", order_id=order.order_id,
                              kind=report.kind)
            return
        try:
            order.transition(dst)
        except IllegalTransition as exc:
            if order.state.is_terminal:
                # e.g. a cancel racing a fill: the fill won, the cancel is moot
                self.journal.emit(now, "report_late", order_id=order.order_id,
                                  kind=report.kind, state=order.state)
            else:
                self.error_count += 1
                self.journal.emit(now, "report_inconsistent", order_id=order.order_id,
                                  detail=str(exc))
            return
        fields = dict(order_id=order.order_id, symbol=order.symbol,
                      role=order.role.value)
        if report.reason:
            fields["reason"] = report.reason
        self.journal.emit(now, _REPORT_EVENT[report.kind], **fields)
        if report.kind is ReportKind.REJECTED:
            self.error_count += 1
            self._check_errors()
        if not order.is_working:
            self._order_done(order)

    def _on_broker_fee(self, order: Order, report: ExecReport) -> None:
        """The broker's commission for a fill already charged at the model's fee: P&L
        (and so every loss limit) takes the difference, journaled as ``fee_reported``."""
        charged = self.fee_ledger.on_broker_fee(order, report)
        if charged is None or report.fee is None:
            return
        delta = report.fee - charged
        ticker = self.tickers[order.symbol]
        if delta:
            ticker.position.charge(delta)
            ticker.trade_realized -= delta
            self.realized_total -= delta
        self.journal.emit(self.clock.now_ns(), "fee_reported", order_id=order.order_id,
                          symbol=order.symbol, exec_id=report.exec_id,
                          fee=fmt_units(report.fee), model_fee=fmt_units(charged))
        if delta > 0:
            self.after_fill(ticker)

    def _check_errors(self) -> None:
        if self.error_count == self.config.risk.max_errors:
            self.kill_switch("error_count", KillAction.CANCEL_ALL)

    def on_feed_stale(self) -> None:
        """A ticker's feed went stale; when every feed is, stop opening anything."""
        if (self.config.risk.stale_kill_switch and self.tickers
                and all(t.stale for t in self.tickers.values())):
            self.kill_switch("stale_data", KillAction.STOP_NEW_TRADES)

    def _order_done(self, order: Order) -> None:
        if self.orders.pop(order.order_id, None) is not None:
            done = self._recent_done
            done[order.order_id] = order
            if len(done) > _RECENT:
                done.popitem(last=False)
        ticker = self.tickers.get(order.symbol)
        if ticker is not None:
            ticker.on_order_update(order)

    def on_connection(self, up: bool, reason: str) -> None:
        now = self.clock.now_ns()
        if up == self.connected:
            return
        self.connected = up
        if not up:
            self.journal.emit(now, "venue_disconnected", reason=reason)
            # entries working at the venue cannot be cancelled now: do it on reconnect
            if self.protections.disconnect_kill_switch:
                self.kill_switch("venue_disconnected", KillAction.CANCEL_ALL)
            return
        self.journal.emit(now, "venue_reconnected", reason=reason)
        if self._root is not None:
            self._root.start_soon(self._after_reconnect)
        else:  # pragma: no cover - a venue that reconnects before the kernel runs
            self._restore_protection()

    async def _after_reconnect(self) -> None:
        """Restore protection at once, then reconcile with the venue's books.

        A fill can land between the venue's answer and our own books (an exit that
        went out on the fresh quote fills during the await), so a difference has to
        persist over a few looks, a second apart, before it is called a mismatch.
        """
        self._restore_protection()  # exits first: a stop may have been crossed meanwhile
        mismatches: list[str] | None = None
        venue_positions: dict[str, int] = {}
        open_count = 0
        for attempt in range(1, _RECONCILE_LOOKS + 1):
            try:
                venue_positions = await self.venue.positions()
                open_orders = await self.venue.open_orders()
            except VenueError as exc:
                self.journal.emit(self.clock.now_ns(), "reconcile_failed", reason=str(exc))
                self.error_count += 1
                self._check_errors()
                mismatches = None
                break
            open_count = len(open_orders)
            mismatches = self._compare_books(venue_positions, {o.order_id for o in open_orders})
            if not mismatches or attempt == _RECONCILE_LOOKS:
                break
            await self.clock.sleep_until(self.clock.now_ns() + NS_PER_S)
        if mismatches is not None:
            self.journal.emit(self.clock.now_ns(), "reconciled",
                              positions={s: str(q) for s, q in sorted(venue_positions.items())},
                              open_orders=str(open_count), mismatches=mismatches)
            if mismatches:
                self.kill_switch("reconciliation_mismatch", KillAction.STOP_NEW_TRADES)
            elif (self.config.risk.resume_after_reconnect
                  and self.halt_reason == "venue_disconnected" and not self.close_all_active):
                self.reset_kill_switch("reconciliation")
        # entries the disconnect kept us from cancelling
        for ticker in self.tickers.values():
            ticker.cancel_entries("reconnect after kill switch" if self.halt_reason
                                  else "reconnect")

    def _compare_books(self, venue_positions: dict[str, int], venue_open: set[str]) -> list[str]:
        """Differences between our books and the venue's that working orders cannot explain.

        With report latency the venue is ahead of us by the fills in flight; those can
        only come from orders still working here, so a position difference no larger
        than what those orders could still fill (in the right direction) is not a
        mismatch. Anything else is.
        """
        out = []
        for sym in sorted(set(venue_positions) | set(self.tickers)):
            ours = self.tickers[sym].position.qty if sym in self.tickers else 0
            theirs = venue_positions.get(sym, 0)
            if ours == theirs:
                continue
            diff = theirs - ours
            can_buy = sum(o.remaining for o in self.orders.values()
                          if o.symbol == sym and o.is_working and o.side is Side.BUY)
            can_sell = sum(o.remaining for o in self.orders.values()
                           if o.symbol == sym and o.is_working and o.side is Side.SELL)
            if -can_sell <= diff <= can_buy:
                continue  # fills in flight from our working orders
            out.append(f"{sym}: kernel {ours}, venue {theirs}")
        for order in self.orders.values():
            if order.is_working and order.order_id not in venue_open and not self._in_flight(order):
                out.append(f"{order.order_id}: working here, unknown at venue")
        return out

    def _in_flight(self, order: Order) -> bool:
        """Submitted but not yet acknowledged: the venue may not list it yet."""
        return order.state is OrderState.SUBMITTED

    def _restore_protection(self) -> None:
        waiters, self._connected_waiters = self._connected_waiters, []
        for w in waiters:
            w.set()
        for ticker in self.tickers.values():
            ticker.check_exits("reconnect")
            if ticker.exit_order is None and ticker.exiting and ticker.position.qty:
                ticker.start_emergency("exit lost while disconnected")

    async def wait_connected(self) -> None:
        if self.connected:
            return
        w = Wakeup()
        self._connected_waiters.append(w)
        await w.wait()

    # ------------------------------------------------------------ portfolio guard

    def after_fill(self, ticker: Ticker) -> None:
        risk = self.config.risk
        if (risk.max_loss_cumulative is not None and not self.cumulative_breached
                and self.realized_total <= -risk.max_loss_cumulative):
            self.cumulative_breached = True
            self.journal.emit(self.clock.now_ns(), "kill_switch", reason="max_loss_cumulative",
                              action=KillAction.STOP_NEW_TRADES.value)
            for t in self.tickers.values():
                t.cancel_entries("kill switch: max_loss_cumulative")
        if self.config.risk.daily_loss_limit is not None:
            self._check_daily_loss()
            self._arm_guard()

    def day_pnl(self) -> int | Fraction:
        total = self.realized_total
        for t in self.tickers.values():
            if t.position.qty:
                mark = (t.bid if t.position.qty > 0 else t.ask) or t.last
                total += t.position.unrealized(mark)
        return total

    def _check_daily_loss(self) -> None:
        limit = self.config.risk.daily_loss_limit
        if limit is None or self.close_all_active:
            return
        if self.day_pnl() <= -limit:
            self.kill_switch("daily_loss_limit", KillAction.CLOSE_ALL)

    def kill_switch(self, reason: str, action: KillAction, by: str | None = None) -> None:
        """Fire the kill switch. Actions escalate: stop_new_trades < cancel_all < close_all.

        Reset is manual (``reset_kill_switch``): the kernel never talks itself back
        into opening positions after something went wrong. ``by`` names who asked when
        a person did it from outside the run (``ctl``: the control socket).
        """
        now = self.clock.now_ns()
        if (reason, action) in self.kill_switches:
            return
        self.kill_switches[(reason, action)] = None
        if by is None:
            self.journal.emit(now, "kill_switch", reason=reason, action=action.value)
        else:
            self.journal.emit(now, "kill_switch", reason=reason, action=action.value, by=by)
        if self.halt_reason is None:
            self.halt_reason = reason
        if action.includes(KillAction.CANCEL_ALL):
            for t in self.tickers.values():
                t.cancel_entries(f"kill switch: {reason}")
        if action.includes(KillAction.CLOSE_ALL):
            self.close_all_active = True
            for t in self.tickers.values():
                if t.position.qty:
                    t.request_exit("kill_switch", None)

    def restore_kill_switch(self, reason: str, action: KillAction) -> None:
        """A kill switch that fired before a restart is still in force (not journaled
        again: ``restarted`` lists it)."""
        self.kill_switches[(reason, action)] = None
        if self.halt_reason is None:
            self.halt_reason = reason
        if action.includes(KillAction.CLOSE_ALL):
            self.close_all_active = True
        if reason == "max_loss_cumulative":
            self.cumulative_breached = True

    def reset_kill_switch(self, who: str) -> None:
        """The manual reset: journaled, and only entries are re-allowed."""
        self.journal.emit(self.clock.now_ns(), "kill_switch_reset", by=who,
                          was=self.halt_reason or "")
        self.halt_reason = None
        self.close_all_active = False
        self.cumulative_breached = False
        self.kill_switches.clear()

    def operator_flatten(self, symbol: str, by: str | None = None) -> str:
        """An operator's manual exit of one symbol's position, at market; what happened.

        It goes through the same exit path as every rule (``exit_triggered`` with reason
        ``operator``), so the single-exit lock holds: while an exit already works, the
        request is journaled as ignored. Flat with working entries: they are cancelled.
        """
        ticker = self.tickers.get(symbol)
        if ticker is None:
            return "not a ticker of this run; nothing done"
        if not ticker.position.qty:
            working = bool(ticker.entries or ticker.pending_entries)
            ticker.request_exit("operator", "operator", by=by)
            return "flat; working entries cancelled" if working else "flat; nothing to exit"
        busy = (ticker.exit_order is not None or ticker.emergency_running
                or ticker.exit_request is not None)
        ticker.request_exit("operator", "operator", by=by)
        if busy:
            return "an exit is already working; this one was ignored (journaled)"
        return f"exit triggered for {ticker.position.qty} at market"

    def _arm_guard(self) -> None:
        """The portfolio guard's periodic check: a timer chain while anything is held."""
        if self._guard_timer is None:
            self._guard_timer = self.clock.call_at(
                self.clock.now_ns() + self.config.monitor.check_interval, self._guard_fire)

    def _guard_fire(self, _: object = None) -> None:
        self._guard_timer = None
        if any(t.position.qty for t in self.tickers.values()):
            self._check_daily_loss()
            self._arm_guard()

    # ------------------------------------------------------------ summary

    def journal_run_finished(self, violations: list[str]) -> None:
        """The journal's last event, alike simulated and live: final positions, realized
        P&L, broken invariants, and the summary's mark of each open position."""
        tickers = sorted(self.tickers.items())
        for _, ticker in tickers:
            ticker.flush_bar()
        marks = {s: r["mark"] for s, r in self.summary().items() if r["position"] != "0"}
        self.journal.emit(self.clock.now_ns(), "run_finished",
                          positions={s: str(t.position.qty) for s, t in tickers},
                          realized_pnl={s: fmt_units(t.position.realized) for s, t in tickers},
                          violations=violations, **({"marks": marks} if marks else {}))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for sym in sorted(self.tickers):
            t = self.tickers[sym]
            pos = t.position
            mark = ((t.bid if pos.qty > 0 else t.ask) or t.last) if pos.qty else t.last
            unrealized = pos.unrealized(mark)
            out[sym] = {
                "position": str(pos.qty),
                "realized_pnl": fmt_units(pos.realized),  # net of fees, as the limits see it
                "fees": fmt_units(pos.fees),
                "unrealized_pnl": fmt_units(unrealized),  # marked where an exit would fill
                "net_pnl": fmt_units(pos.realized + unrealized),
                "mark": fmt_units(mark, t.inst.price_places),
                "trades": str(t.trades),
                "max_exposure": str(t.max_exposure),
                "exits": {k: str(v) for k, v in sorted(t.exits_by_reason.items())},
            }
            if t.strategy_failed is not None:
                out[sym]["strategy_error"] = t.strategy_failed
        return out

