"""Restart without loss: the day's state rebuilt from the journal of an earlier run.

The journal is the kernel's durable state: every decision is in it, in order. A kernel
that died (a crash, kill -9, a power cut) restarts from it instead of from nothing, so
a loss limit continues rather than starting again at zero, a kill switch that had fired
is still in force (a restart is not a reset), a held position keeps its cost and its
trade start time, and no order id of the earlier run is handed out again. What the
journal cannot know (fills that happened while the process was dead, orders in flight
that were never journaled as acknowledged) the venue reconciliation that follows finds
by role tag and by position.

Read from the journal: each ticker's last ``position_changed`` (qty, average, realized),
when the open trade started, the best fill price of the open trade (the trailing
stop's high-water mark: ticks are not journaled, so the mark restarts from the best
fill and rises with the next ticks), every ``kill_switch`` and ``kill_switch_reset``,
the highest order id, the orders still working when the journal ends (and what of
them had filled), and the execution ids of the fills (journaled live and with
``exits.venue_stop``), so an execution the venue reports again after the restart is
recognised as seen and not counted twice.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable

import attrs

from .killswitch import KillAction
from .rulebook import RuleMemory
from .units import fmt_units, to_units
from .venue import VenueError

if TYPE_CHECKING:
    from .runtime import Kernel

_TERMINAL = ("order_cancelled", "order_rejected", "order_expired")


@attrs.define
class Held:
    qty: int = 0
    cost: int = 0  # qty * average price, units
    realized: int = 0
    opened_ns: int | None = None
    best: int = 0  # best fill price of the open trade (trailing stop's mark)
    trades: int = 0
    realized_at_open: int = 0  # realized P&L when the open trade began (per-trade loss)
    exiting: str | None = None  # the exit rule that fired for the open trade, if any


@attrs.define
class DayState:
    """What a restarted kernel takes over from the journal of its earlier run."""

    source: str
    events: int = 0
    held: dict[str, Held] = attrs.Factory(dict)
    fired: list[tuple[str, str]] = attrs.Factory(list)  # kill switches since the last reset
    last_order_id: str = ""
    working: dict[str, dict[str, Any]] = attrs.Factory(dict)  # order_id -> submitted event
    day_start_ns: int | None = None
    filled: dict[str, int] = attrs.Factory(dict)  # order_id -> qty filled, per the journal
    exec_ids: list[str] = attrs.Factory(list)  # the fills' execution ids, in journal order
    rules: RuleMemory = attrs.Factory(RuleMemory)  # cooldowns, clip, priority, session day

    @property
    def realized_total(self) -> int:
        return sum(h.realized for h in self.held.values())


def read_day(events: Iterable[dict[str, Any]], source: str) -> DayState:
    """Fold an earlier run's journal (header first or not) into its end-of-run state."""
    day = DayState(source)
    ids: list[tuple[int, str]] = []
    filled = day.filled
    for ev in events:
        t = ev.get("type")
        if t == "header":
            day.day_start_ns = ev.get("start_unix_ns")
            continue
        day.events += 1
        day.rules.fold(ev)
        if t == "position_changed":  # after every fill and every adoption
            sym = ev["symbol"]
            h = day.held.setdefault(sym, Held())
            qty = int(ev["qty"])
            avg = to_units(Decimal(ev["avg_price"]))
            if h.qty == 0 and qty:
                h.opened_ns = ev["ts_ns"]
                h.trades += 1
                h.best = avg
                h.realized_at_open = h.realized
            if qty == 0:
                h.opened_ns = None
                h.best = 0
                h.exiting = None
            h.qty = qty
            h.cost = qty * avg
            h.realized = to_units(Decimal(ev["realized_pnl"]))
        elif t == "fill":
            sym = ev["symbol"]
            h = day.held.setdefault(sym, Held())
            price = to_units(Decimal(ev["price"]))
            if h.qty > 0 or (h.qty == 0 and ev["side"] == "BUY"):
                h.best = max(h.best, price)
            else:
                h.best = min(h.best, price) if h.best else price
            oid = ev["order_id"]
            filled[oid] = filled.get(oid, 0) + int(ev["qty"])
            if ev.get("exec_id"):
                day.exec_ids.append(ev["exec_id"])
            sub = day.working.get(oid)
            if sub is not None and filled[oid] >= int(sub["qty"]):
                del day.working[oid]
        elif t == "order_submitted" or t == "order_adopted":
            oid = ev["order_id"]
            digits = "".join(c for c in oid if c.isdigit())
            if digits and oid[:1].isalpha():
                ids.append((int(digits), oid))
            day.working[oid] = ev
        elif t in _TERMINAL:
            day.working.pop(ev["order_id"], None)
        elif t in ("exit_triggered", "emergency_started"):
            h = day.held.setdefault(ev["symbol"], Held())
            if h.qty and h.exiting is None:
                h.exiting = ev["reason"]
        elif t == "kill_switch":
            pair = (ev["reason"], ev["action"])
            if pair not in day.fired:
                day.fired.append(pair)
        elif t == "kill_switch_reset":
            day.fired.clear()
    if ids:
        day.last_order_id = max(ids)[1]
    return day


async def start_held_tickers(kernel: "Kernel", day: DayState) -> None:
    """A symbol the journal traded that the config does not list (a discovered
    ticker, held or with P&L booked today) gets its supervisor back before the day
    is applied."""
    for sym in sorted(day.held):
        h = day.held[sym]
        if (not h.qty and not h.realized) or sym in kernel.tickers:
            continue
        try:
            inst = kernel.instruments.get(sym) or await kernel.venue.instrument(sym)
        except VenueError:
            continue  # the reconciliation reports what the venue holds of it
        kernel.journal.emit(kernel.clock.now_ns(), "ticker_started", symbol=sym, via="restart")
        await kernel.start_ticker(inst)


def apply_day(kernel: "Kernel", day: DayState) -> None:
    """Put the day's state into a freshly built kernel whose tickers have started, and
    journal ``restarted`` with what was restored. Called before the venue
    reconciliation, so anything the venue did meanwhile shows up as a difference."""
    for sym, h in sorted(day.held.items()):
        ticker = kernel.tickers.get(sym)
        if ticker is None:
            continue
        pos = ticker.position
        pos.qty, pos.cost, pos.realized, pos.opened_ns = h.qty, h.cost, h.realized, h.opened_ns
        ticker.trades = h.trades
        ticker.hwm = h.best if h.qty else 0
        ticker.trade_realized = h.realized - h.realized_at_open if h.qty else 0
        if h.qty:
            ticker.arm_monitor()
    kernel.realized_total = day.realized_total
    kernel.restore_exec_ids(day.exec_ids)
    if day.last_order_id:
        kernel.ids.advance_past(day.last_order_id)
    for reason, action in day.fired:
        kernel.restore_kill_switch(reason, KillAction(action))
    kernel.journal.emit(
        kernel.clock.now_ns(), "restarted", source=day.source, events=day.events,
        positions={s: str(h.qty) for s, h in sorted(day.held.items()) if h.qty},
        books={s: {"qty": str(h.qty), "avg_price": fmt_units(h.cost // h.qty if h.qty else 0),
                   "realized_pnl": fmt_units(h.realized)} for s, h in sorted(day.held.items())},
        realized_pnl=fmt_units(day.realized_total),
        kill_switch=[f"{r} ({a})" for r, a in day.fired],
        last_order_id=day.last_order_id,
        working_orders=sorted(day.working))


def resume_exits(kernel: "Kernel", day: DayState) -> None:
    """An exit that was under way when the process died is taken up again at once,
    after the reconciliation has settled the position (an exit is never forgotten)."""
    for sym, h in sorted(day.held.items()):
        ticker = kernel.tickers.get(sym)
        if h.exiting is not None and ticker is not None and ticker.position.qty:
            ticker.request_exit(h.exiting, "restart")
