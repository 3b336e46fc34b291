"""The portfolio guard: the kill switches, the loss limits and the operator's flatten.

These are the stops that act on the whole portfolio rather than on one order. The
decisions are the risk core's (``kernel/risk/killswitch.py``: the one kill-switch object
the kernel holds as ``Kernel.ks``; ``kernel/risk/losses.py``: the loss limits); this
module carries them out (journal, cancel, flatten), off the tick and report paths, and
the ``Kernel`` keeps one-line methods for the public acts. The per-fill check
(``Kernel.after_fill``) stays on the kernel and calls in only when a daily loss limit is
configured.
"""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from .risk.killswitch import KillAction
from .risk.losses import mark, open_pnl, reached
from .risk.portfolio import Book, Refusal, drawdown_reached, entry_refusal

if TYPE_CHECKING:
    from .runtime import Kernel


def day_pnl(k: "Kernel") -> int | Fraction:
    """Realized plus open P&L, each open position marked where its exit would fill."""
    # the day's: from when the session day began (kernel/rulebook.py moves the base)
    return k.realized_total - k.day_pnl_base + open_pnl((t.position, t.bid, t.ask, t.last)
                                                        for t in k.tickers.values())


def check_daily_loss(k: "Kernel") -> None:
    """The daily loss limit closes everything; once closing, there is nothing to add."""
    limit = k.config.risk.daily_loss_limit
    if limit is None or k.close_all_active:
        return
    if reached(k.day_pnl(), limit):
        k.kill_switch("daily_loss_limit", KillAction.CLOSE_ALL)


def portfolio_refusal(k: "Kernel", symbol: str, qty: int, price: int) -> Refusal | None:
    """The portfolio limits asked for an entry of ``qty`` on ``symbol`` (0: re-checked
    before sending, when the entry is counted in its ticker's books already)."""
    books = [Book(s, t.exposure(), t.last, t.committed()) for s, t in k.tickers.items()]
    return entry_refusal(k.config.risk, books, symbol, qty, price, k.cash)


def journal_refusal(k: "Kernel", symbol: str, qty: int, limit: Refusal) -> None:
    k.journal.emit(k.clock.now_ns(), "risk_rejected", symbol=symbol, reason=limit.text,
                   limit=limit.limit, qty=str(qty), value=limit.fmt(limit.value),
                   max=limit.fmt(limit.maximum))


def equity(k: "Kernel") -> int | Fraction:
    """Cash plus every position marked where its exit would fill (fees are in the cash)."""
    assert k.cash is not None
    total: int | Fraction = k.cash
    for t in k.tickers.values():
        qty = t.position.qty
        if qty:
            total += qty * mark(qty, t.bid, t.ask, t.last)
    return total


def check_drawdown(k: "Kernel") -> None:
    """Equity this many percent below its peak closes everything (kill switch close_all)."""
    pct = k.config.risk.max_drawdown_pct
    if pct is None or k.cash is None or k.close_all_active:
        return
    now = equity(k)
    if k.equity_peak is None or now > k.equity_peak:
        k.equity_peak = now
    if drawdown_reached(int(now), int(k.equity_peak), pct):
        k.kill_switch("max_drawdown", KillAction.CLOSE_ALL)


def kill_switch(k: "Kernel", reason: str, action: KillAction, by: str | None = None) -> None:
    """Fire the kill switch. Actions escalate: stop_new_trades < cancel_all < close_all.

    Reset is manual (``reset_kill_switch``): the kernel never talks itself back
    into opening positions after something went wrong. ``by`` names who asked when
    a person did it from outside the run (``ctl``: the control socket).
    """
    now = k.clock.now_ns()
    if not k.ks.fire(reason, action):
        return
    if by is None:
        k.journal.emit(now, "kill_switch", reason=reason, action=action.value)
    else:
        k.journal.emit(now, "kill_switch", reason=reason, action=action.value, by=by)
    if action.includes(KillAction.CANCEL_ALL):
        for t in k.tickers.values():
            t.cancel_entries(f"kill switch: {reason}")
    if action.includes(KillAction.CLOSE_ALL):
        for t in k.tickers.values():
            if t.position.qty:
                t.request_exit("kill_switch", None)


def restore_kill_switch(k: "Kernel", reason: str, action: KillAction) -> None:
    """A kill switch that fired before a restart is still in force (not journaled
    again: ``restarted`` lists it)."""
    k.ks.fire(reason, action)


def reset_kill_switch(k: "Kernel", who: str) -> None:
    """The manual reset: journaled, and only entries are re-allowed."""
    k.journal.emit(k.clock.now_ns(), "kill_switch_reset", by=who,
                 was=k.halt_reason or "")
    errors = k.ks.errors
    k.ks.reset()
    k.equity_peak = None  # the drawdown is measured again from the equity at the reset
    if not k.protections.error_count_restarts:
        k.ks.errors = errors


def lift_kill_switch(k: "Kernel", reason: str, by: str) -> None:
    """A self-lifting reason (``stale_data``) is over: out of force and journaled as a
    reset by ``by``; every other reason in force stays, and so does what it blocks."""
    if k.ks.lift(reason):
        k.journal.emit(k.clock.now_ns(), "kill_switch_reset", by=by, was=reason)


def operator_flatten(k: "Kernel", symbol: str, by: str | None = None) -> str:
    """An operator's manual exit of one symbol's position, at market; what happened.

    It goes through the same exit path as every rule (``exit_triggered`` with reason
    ``operator``), so the single-exit lock holds: while an exit already works, the
    request is journaled as ignored. Flat with working entries: they are cancelled.
    """
    ticker = k.tickers.get(symbol)
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


def arm_guard(k: "Kernel") -> None:
    """The portfolio guard's periodic check: a timer chain while anything is held."""
    if k._guard_timer is None:
        k._guard_timer = k.clock.call_at(
            k.clock.now_ns() + k.config.monitor.check_interval, _guard_fire, k)


def _guard_fire(k: "Kernel") -> None:
    """The timer's tick: check again, and re-arm only while something is held."""
    k._guard_timer = None
    if any(t.position.qty for t in k.tickers.values()):
        check_daily_loss(k)
        check_drawdown(k)
        arm_guard(k)
