"""The venue connection: what the kernel does when the session drops and comes back.

A disconnect is journaled and (unless weakened) fires the ``cancel_all`` kill switch:
working entries cannot be cancelled while the venue is away, so that is done on the
reconnect. A reconnect restores protection first (a stop may have been crossed
meanwhile), then squares our books with the venue's. None of this is on the tick or
report path; ``Kernel.on_connection`` hands the callback here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .killswitch import KillAction
from .orders import Order, OrderState, Side
from .units import NS_PER_S
from .venue import VenueError

if TYPE_CHECKING:
    from .runtime import Kernel

LOOKS = 3  # a books difference must persist this many looks to be a mismatch


def on_connection(k: "Kernel", up: bool, reason: str) -> None:
    """The venue's session went down or came back (``Kernel.on_connection``)."""
    now = k.clock.now_ns()
    if up == k.connected:
        return
    k.connected = up
    if not up:
        k.journal.emit(now, "venue_disconnected", reason=reason)
        # entries working at the venue cannot be cancelled now: do it on reconnect
        if k.protections.disconnect_kill_switch:
            k.kill_switch("venue_disconnected", KillAction.CANCEL_ALL)
        return
    k.journal.emit(now, "venue_reconnected", reason=reason)
    if k._root is not None:
        k._root.start_soon(after_reconnect, k)
    else:  # pragma: no cover - a venue that reconnects before the kernel runs
        restore_protection(k)


async def after_reconnect(k: "Kernel") -> None:
    """Restore protection at once, then reconcile with the venue's books.

    A fill can land between the venue's answer and our own books (an exit that
    went out on the fresh quote fills during the await), so a difference has to
    persist over a few looks, a second apart, before it is called a mismatch.
    """
    restore_protection(k)  # exits first: a stop may have been crossed meanwhile
    mismatches: list[str] | None = None
    venue_positions: dict[str, int] = {}
    open_count = 0
    for attempt in range(1, LOOKS + 1):
        try:
            venue_positions = await k.venue.positions()
            open_orders = await k.venue.open_orders()
        except VenueError as exc:
            k.journal.emit(k.clock.now_ns(), "reconcile_failed", reason=str(exc))
            k.count_error()
            mismatches = None
            break
        open_count = len(open_orders)
        mismatches = compare_books(k, venue_positions, {o.order_id for o in open_orders})
        if not mismatches or attempt == LOOKS:
            break
        await k.clock.sleep_until(k.clock.now_ns() + NS_PER_S)
    if mismatches is not None:
        k.journal.emit(k.clock.now_ns(), "reconciled",
                       positions={s: str(q) for s, q in sorted(venue_positions.items())},
                       open_orders=str(open_count), mismatches=mismatches)
        if mismatches:
            k.kill_switch("reconciliation_mismatch", KillAction.STOP_NEW_TRADES)
        elif (k.config.risk.resume_after_reconnect
              # the disconnect alone: a loss limit or a person's kill switch that fired
              # meanwhile (or before) stays in force, for a person to reset
              and k.ks.reasons == ["venue_disconnected"] and not k.close_all_active):
            k.reset_kill_switch("reconciliation")
    # entries the disconnect kept us from cancelling
    for ticker in k.tickers.values():
        ticker.cancel_entries("reconnect after kill switch" if k.halt_reason
                              else "reconnect")


def compare_books(k: "Kernel", venue_positions: dict[str, int], venue_open: set[str]) -> list[str]:
    """Differences between our books and the venue's that working orders cannot explain.

    With report latency the venue is ahead of us by the fills in flight; those can
    only come from orders still working here, so a position difference no larger
    than what those orders could still fill (in the right direction) is not a
    mismatch. Anything else is.
    """
    out = []
    for sym in sorted(set(venue_positions) | set(k.tickers)):
        ours = k.tickers[sym].position.qty if sym in k.tickers else 0
        theirs = venue_positions.get(sym, 0)
        if ours == theirs:
            continue
        diff = theirs - ours
        can_buy = sum(o.remaining for o in k.orders.values()
                      if o.symbol == sym and o.is_working and o.side is Side.BUY)
        can_sell = sum(o.remaining for o in k.orders.values()
                       if o.symbol == sym and o.is_working and o.side is Side.SELL)
        if -can_sell <= diff <= can_buy:
            continue  # fills in flight from our working orders
        out.append(f"{sym}: kernel {ours}, venue {theirs}")
    for order in k.orders.values():
        if order.is_working and order.order_id not in venue_open and not _in_flight(order):
            out.append(f"{order.order_id}: working here, unknown at venue")
    return out


def _in_flight(order: Order) -> bool:
    """Submitted but not yet acknowledged: the venue may not list it yet."""
    return order.state is OrderState.SUBMITTED


def restore_protection(k: "Kernel") -> None:
    """Wake whoever waited for the venue, then protect every position again: an exit
    lost while disconnected goes to the emergency retry."""
    waiters, k._connected_waiters = k._connected_waiters, []
    for w in waiters:
        w.set()
    for ticker in k.tickers.values():
        ticker.check_exits("reconnect")
        if ticker.exit_order is None and ticker.exiting and ticker.position.qty:
            ticker.start_emergency("exit lost while disconnected")
