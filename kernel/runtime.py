"""The kernel's root: venue session, portfolio guard and one supervisor per ticker.

``Kernel.run`` opens the root nursery. Everything venue-facing enters through three
synchronous callbacks (``on_report``, ``on_connection``, and the per-ticker quote
handler), so the same code is driven by the simulator's event loop and by a live
adapter's socket reader. The tick, signal, order and report paths live here; the cold
concerns sit beside it as module functions over the kernel: ``guard`` (kill switches,
loss limits, the operator's flatten), ``reconnect``, ``discovery``, ``run_summary``.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from fractions import Fraction
from typing import Any, Callable

import trio

from ..strategies.base import Intent, Strategy
from ..strategies.loader import bar_interval_of
from ..strategies.news import NewsAlertFilter
from . import discovery, guard, reconnect, run_summary
from .clock import Clock
from .config import TradingConfig
from .fee_ledger import FeeLedger
from .handoff import Handoff
from .instruments import Instrument
from .journal import Journal
from .risk.freshness import all_stale
from .risk.killswitch import CUMULATIVE, KillAction, KillSwitch
from .risk.losses import reached
from .orders import IllegalTransition, Order, OrderIds, OrderState, OrderType, Overfill, Role, Side
from .protections import Protections
from .reconcile import Reconciler
from .rulebook import RuleBook
from .restore import DayState, apply_day, resume_exits, start_held_tickers
from .signals import Signal, SignalSide
from .ticker import Ticker
from .units import NS_PER_S, fmt_units
from .venue import ExecReport, ReportKind, Venue, VenueError
from .venue_stop import left_working
from .wakeup import Wakeup

StrategyFactory = Callable[[str], "Strategy | None"]
_RECENT = 8192  # terminal orders and exec ids remembered for late/duplicate reports

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
        epoch_ns: int = 0,
    ) -> None:
        """``reconcile_at_start``: ask the venue for its positions and working orders
        before any entry and adopt them (live, and a restart; a simulated run starts
        flat by construction and skips it). ``restore``: the day's state read from an
        earlier run's journal (a restart), put in place before the reconciliation.
        ``epoch_ns``: the Unix time of clock time 0, which places the clock on the
        session calendar (the scenario's start; 0 live, whose clock is Unix time)."""
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
        self.strategy_errors: list[tuple[str, str]] = []  # (symbol, text): the run fails
        # the kill switch: every reason in force, in firing order (kernel/risk/killswitch.py)
        self.ks = KillSwitch()
        # portfolio limits (kernel/risk/portfolio.py): cash is asked of the venue at the
        # start only when a limit needs it, and then follows every fill
        risk = config.risk
        self.portfolio_limits = (risk.max_gross_exposure is not None
                                 or risk.max_open_positions is not None
                                 or bool(risk.buying_power))
        self.cash: int | None = None
        self.equity_peak: int | Fraction | None = None
        self._guard_timer: Any = None
        self.reconcile_at_start = reconcile_at_start
        self.reconciler = Reconciler(self)
        self.restore = restore
        # fills journal their venue exec id where a restart must know which executions
        # it has seen (live runs, a resting venue stop): off, the journal is unchanged
        self.journal_exec_ids = config.exits.venue_stop is not None
        self.handoff = Handoff(self)  # order queue passes run synchronously where they can
        # the session, cooldown, clip and signal-priority rules; None when none is set
        self.rules: RuleBook | None = RuleBook(self, epoch_ns) if RuleBook.wanted(config) else None
        self.day_pnl_base: int | Fraction = 0  # realized P&L when the session day began

    @property
    def halt_reason(self) -> str | None:
        """The first kill-switch reason in force: entries are blocked while it is set."""
        return self.ks.halt_reason

    @property
    def cumulative_breached(self) -> bool:
        return self.ks.has(CUMULATIVE)

    @property
    def close_all_active(self) -> bool:
        return self.ks.close_all

    @property
    def kill_switches(self) -> dict[tuple[str, KillAction], None]:
        """The (reason, action) pairs in force, in firing order."""
        return self.ks.active

    # ------------------------------------------------------------ lifecycle

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as root:
                self._root = root
                serve = getattr(self.clock, "serve", None)
                if serve is not None:  # a clock whose timers need a task (the live clock)
                    await root.start(serve)
                await self.venue.connect(self)
                self.connected = True
                if self.config.risk.buying_power or self.config.risk.max_drawdown_pct is not None:
                    self.cash = await self.venue.cash()
                    self.equity_peak = self.cash
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
                if self.rules is not None:
                    self.rules.start()
                task_status.started()
        finally:
            # a dead kernel (cancelled, or crashed in a simulation) checks nothing more:
            # the guard's timer would otherwise fire on tickers whose nurseries are gone
            if self._guard_timer is not None:
                self._guard_timer.cancel()
                self._guard_timer = None

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

    def shutdown_orders(self) -> None:
        """Shutdown: cancel working entries, leave protective exits, journal it."""
        working_exits = []
        for ticker in self.tickers.values():
            ticker.cancel_entries("shutdown")
            if ticker.exit_order is not None:
                working_exits.append(ticker.exit_order.order_id)
        working_exits += left_working(self)  # resting venue stops stay at the broker
        self.journal.emit(self.clock.now_ns(), "shutdown", exits_left_working=working_exits)

    # ------------------------------------------------------------ signals

    def strategy_intent(self, symbol: str, intent: Intent, ts: int) -> None:
        """A validated intent from a ticker's strategy (``strategies.driver``)."""
        self.on_signal(Signal(symbol, intent.side, ts, source="strategy", size=intent.size,
                              note=intent.reason))

    def on_signal(self, sig: Signal) -> None:
        now = self.clock.now_ns()
        ticker = self.tickers.get(sig.symbol)
        if ticker is None:  # a symbol not traded yet: refused, or its supervisor started
            discovery.unknown_symbol(self, sig, now)
            return
        if sig.published_ns is not None:
            accepted, why = self.news_filter.judge(sig.symbol, sig.side, now, sig.published_ns)
            if not accepted:
                self._signal(sig, False, why)
                return
        if self.rules is not None and self.rules.dropped(sig, now):
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
        if self.portfolio_limits:
            price = (ticker.ask if side is Side.BUY else ticker.bid) or ticker.last
            limit = guard.portfolio_refusal(self, sig.symbol, qty, price)
            if limit is not None:
                self._signal(sig, False, limit.text)
                guard.journal_refusal(self, sig.symbol, qty, limit)
                return
        self._signal(sig, True, "entry")
        if self.rules is not None:
            self.rules.accepted(sig, now)
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
        halt = self.ks.halt_reason
        if halt is not None:
            # the cumulative loss keeps the words its refusals have always had
            return "max_loss_cumulative breached" if halt == CUMULATIVE else f"kill switch: {halt}"
        if not self.connected:
            return "venue disconnected"
        if self.rules is not None:
            return self.rules.block_reason(self.clock.now_ns())
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

    def pacing_room(self) -> int:
        """How many order actions ``_pace`` would let through now without a wait."""
        if not self.connected and self.protections.refused_actions_use_no_budget:
            return self.config.risk.max_order_rate
        times = self._send_times
        now = self.clock.now_ns()
        while times and times[0] <= now - NS_PER_S:
            times.popleft()
        return self.config.risk.max_order_rate - len(times)

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
            if refusal is None and self.portfolio_limits:
                limit = guard.portfolio_refusal(self, order.symbol, 0, 0)
                if limit is not None:
                    order.transition(OrderState.REJECTED)
                    guard.journal_refusal(self, order.symbol, 0, limit)
                    self._order_done(order)
                    return
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
            self.count_error()
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
                self.count_error()
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
            if self.journal_exec_ids and report.exec_id:
                fields["exec_id"] = report.exec_id
            self.journal.emit(now, "fill", **fields)
            if self.cash is not None:  # the account's cash follows every fill and its fee
                self.cash -= order.side.sign * report.qty * report.price + fee
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
                self.count_error()
                self.journal.emit(now, "report_inconsistent", order_id=order.order_id,
                                  detail=str(exc))
            return
        fields = dict(order_id=order.order_id, symbol=order.symbol,
                      role=order.role.value)
        if report.reason:
            fields["reason"] = report.reason
        self.journal.emit(now, _REPORT_EVENT[report.kind], **fields)
        if report.kind is ReportKind.REJECTED:
            self.count_error()
        if not order.is_working:
            self._order_done(order)

    def restore_exec_ids(self, exec_ids: list[str]) -> None:
        """A restart: the executions the journal holds are seen (the most recent ones,
        as many as a running kernel remembers), so a venue replaying them after the
        restart does not count them twice."""
        seen = self._seen_exec_ids
        for exec_id in exec_ids[-_RECENT:]:
            seen[exec_id] = None

    def _on_broker_fee(self, order: Order, report: ExecReport) -> None:
        """The broker's commission for a fill already charged at the model's fee: P&L
        (and so every loss limit) takes the difference, journaled as ``fee_reported``."""
        charged = self.fee_ledger.on_broker_fee(order, report)
        if charged is None or report.fee is None:
            return
        delta = report.fee - charged
        ticker = self.tickers[order.symbol]
        if delta:
            if self.cash is not None:
                self.cash -= delta
            ticker.position.charge(delta)
            ticker.trade_realized -= delta
            self.realized_total -= delta
        self.journal.emit(self.clock.now_ns(), "fee_reported", order_id=order.order_id,
                          symbol=order.symbol, exec_id=report.exec_id,
                          fee=fmt_units(report.fee), model_fee=fmt_units(charged))
        if delta > 0:
            self.after_fill(ticker)

    def count_error(self) -> None:
        """One more venue error (a reject, an impossible or unknown report, a failed
        reconciliation): each is counted and the count is judged at once."""
        self.ks.errors += 1
        self._check_errors()

    def _check_errors(self) -> None:
        limit = self.config.risk.max_errors
        if (self.ks.errors_reached(limit) if self.protections.error_count_restarts
                else self.ks.errors == limit):  # the old count, which a reset never restarted
            self.kill_switch("error_count", KillAction.CANCEL_ALL)

    def on_feed_stale(self) -> None:
        """A ticker's feed went stale; when every feed is, stop opening anything."""
        if self.config.risk.stale_kill_switch and all_stale(
                t.stale for t in self.tickers.values()):
            self.ks.stale_feeds = tuple(self.tickers)
            self.kill_switch("stale_data", KillAction.STOP_NEW_TRADES)

    def on_feed_resumed(self) -> None:
        """A ticker's feed is back: the all-feeds-stale switch is a data condition, not a
        loss, so it lifts itself once every feed it judged stale has resumed (any other
        reason in force stays)."""
        if self.ks.active and self.protections.stale_lifts_itself and self.ks.stale_lifts(
                {s for s, t in self.tickers.items() if t.stale}):
            guard.lift_kill_switch(self, "stale_data", "data_resumed")

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
        reconnect.on_connection(self, up, reason)

    async def wait_connected(self) -> None:
        if self.connected:
            return
        w = Wakeup()
        self._connected_waiters.append(w)
        await w.wait()

    # ------------------------------------------------------------ portfolio guard

    def after_fill(self, ticker: Ticker) -> None:
        risk = self.config.risk
        if not self.ks.has(CUMULATIVE) and reached(self.realized_total,
                                                   risk.max_loss_cumulative):
            # the realized loss of the run is a kill switch like any other (in force
            # until a person resets it); what is working is cancelled, not only blocked
            self.kill_switch(CUMULATIVE, KillAction.STOP_NEW_TRADES)
            for t in self.tickers.values():
                t.cancel_entries(f"kill switch: {CUMULATIVE}")
        if self.config.risk.daily_loss_limit is not None:
            guard.check_daily_loss(self)
            guard.arm_guard(self)
        if self.config.risk.max_drawdown_pct is not None:
            guard.check_drawdown(self)
            guard.arm_guard(self)

    def day_pnl(self) -> int | Fraction:
        return guard.day_pnl(self)

    def kill_switch(self, reason: str, action: KillAction, by: str | None = None) -> None:
        """Fire the kill switch (``guard.kill_switch``: the escalation and its reset)."""
        guard.kill_switch(self, reason, action, by)

    def restore_kill_switch(self, reason: str, action: KillAction) -> None:
        guard.restore_kill_switch(self, reason, action)

    def reset_kill_switch(self, who: str) -> None:
        guard.reset_kill_switch(self, who)

    def operator_flatten(self, symbol: str, by: str | None = None) -> str:
        return guard.operator_flatten(self, symbol, by)

    # ------------------------------------------------------------ summary

    def journal_run_finished(self, violations: list[str]) -> None:
        run_summary.journal_run_finished(self, violations)

    def summary(self) -> dict[str, Any]:
        return run_summary.summary(self)
