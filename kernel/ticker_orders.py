"""One ticker's two order tasks: the order queue and the emergency retry.

Both run in the ticker's nursery (``Ticker.run`` starts the queue, ``start_emergency``
the retry) and are the only places a ticker's orders are created and submitted, so
they live apart from the synchronous tick and report paths in kernel/ticker.py. They
are module-level functions of the ticker rather than methods: each is awaited once per
order action, never per tick, and the ticker's state they drive stays on the ticker.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from . import venue_stop
from .orders import OrderType, Role, Side
from .risk import exposure as exposure_rules

if TYPE_CHECKING:
    from .ticker import Ticker

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


async def order_queue_loop(t: Ticker) -> None:
    """Serialises this ticker's order actions: exits first, entries staggered.

    The task only waits here; a pass it would make at once with nothing to wait for
    (no stagger, no pacing) the simulator runs synchronously instead, right after the
    event that asked for it (kernel/handoff.py), with the same effect and no trio
    round trip."""
    k = t.k
    while True:
        due, next_entry = queue_due(t)
        if not due:
            await t.wake_queue.wait_until(k.clock, next_entry)
        await queue_pass(t)


def queue_due(t: Ticker) -> tuple[bool, int | None]:
    """(whether the queue has work to do now, when the next staggered entry is due)."""
    k = t.k
    next_entry: int | None = None
    if t.pending_entries and t.last_entry_sent_ns is not None:
        next_entry = t.last_entry_sent_ns + k.config.entries.staggered_order_delay
    due = bool(t.exit_request or t.cancel_entries_pending or t.reduce_request or
               (t.pending_entries and (next_entry is None or next_entry <= k.clock.now_ns()))
               or (t.venue_stop is not None and t.venue_stop.wanted()))
    return due, next_entry


async def queue_pass(t: Ticker) -> None:
    """One pass of the queue: the exit, the reduction, the cancels, one due entry.

    At most ``3 + len(t.entries)`` paced venue actions (kernel/handoff.py counts on it)."""
    k = t.k
    if t.exit_request is not None:
        reason, _ = t.exit_request
        await _send_exit(t, reason)
        t.exit_request = None
    if t.reduce_request:
        await _send_reduce(t)
    if t.cancel_entries_pending:
        t.cancel_entries_pending = False
        for order in list(t.entries.values()):
            if not order.cancel_requested:
                await k.cancel(order)
    if t.venue_stop is not None:
        await venue_stop.service(t)
    if t.pending_entries:
        now = k.clock.now_ns()
        if t.last_entry_sent_ns is None or \
                now >= t.last_entry_sent_ns + k.config.entries.staggered_order_delay:
            side, qty, reason = t.pending_entries.popleft()
            await _send_entry(t, side, qty)


async def _send_entry(t: Ticker, side: Side, qty: int) -> None:
    k = t.k
    refusal = k.entry_block_reason()
    if refusal is None and (t.exiting or t.exit_order is not None):
        refusal = "exit in progress"
    if refusal is None and t.stale and k.protections.stale_blocks_entries:
        refusal = "feed stale"
    now = k.clock.now_ns()
    if refusal is not None:
        k.journal.emit(now, "risk_rejected", symbol=t.symbol, reason=refusal)
        return
    # re-check the cap at send time: fills may have landed since the signal
    _, cap = t.sizing()
    # this entry has left the queue: it is not counted in the exposure
    qty = t.inst.round_lots(min(qty, exposure_rules.room(cap, t.exposure())))
    if qty <= 0:
        k.journal.emit(now, "risk_rejected", symbol=t.symbol,
                       reason=f"max_position_size {cap} reached")
        return
    price = t.ask if side is Side.BUY else t.bid
    order = k.new_order(t.symbol, Role.ENTRY, side, qty, OrderType.LIMIT, price,
                        now + k.config.entries.entry_order_ttl)
    t.entries[order.order_id] = order
    t.last_entry_sent_ns = now
    t.arm_monitor()
    exposure = t.exposure()
    if exposure > t.max_exposure:
        t.max_exposure = exposure
    await k.submit(order)


async def _send_exit(t: Ticker, reason: str) -> None:
    k = t.k
    if not (k.protections.single_exit_lock
            and (t.exit_order is not None or t.emergency_running)):
        await venue_stop.clear(t)  # the resting stop goes first: never two exits
    qty = abs(t.position.qty)
    if not qty or (k.protections.single_exit_lock
                   and (t.exit_order is not None or t.emergency_running)):
        return
    side = Side.SELL if t.position.qty > 0 else Side.BUY
    now = k.clock.now_ns()
    order = k.new_order(t.symbol, EXIT_ROLE.get(reason, Role.EXIT), side, qty,
                        OrderType.MARKET, None, now + k.config.exits.exit_order_ttl)
    t.exit_order = order
    await k.submit(order)


async def _send_reduce(t: Ticker) -> None:
    if t.exit_order is None and not t.emergency_running:
        await venue_stop.clear(t)  # the resting stop goes first: never two exits
    qty, t.reduce_request = min(t.reduce_request, abs(t.position.qty)), 0
    if not qty or t.exit_order is not None or t.emergency_running:
        return  # an exit already working takes the whole position
    k = t.k
    side = Side.SELL if t.position.qty > 0 else Side.BUY
    now = k.clock.now_ns()
    order = k.new_order(t.symbol, Role.DANGLING_SHARES, side, qty, OrderType.MARKET,
                        None, now + k.config.exits.exit_order_ttl)
    t.exit_order = order
    await k.submit(order)


async def emergency_loop(t: Ticker, reason: str) -> None:
    """Cancel the previous exit, send a fresh one at the touch, until flat.

    The first attempt is a limit at the touch; every later one crosses it by
    ``(attempt - 1) * EMERGENCY_STEP_BPS`` (a marketable limit that fills at the
    best price available, with a collar that widens until the exit gets done)."""
    k = t.k
    interval = k.config.emergency.retry_interval
    attempt = 0
    try:
        while t.position.qty:
            give_up = k.protections.emergency_max_attempts
            if give_up is not None and t.emergency_attempts >= give_up:
                await trio.sleep_forever()  # a weakened kernel: the naive "try once" exit
            if not k.connected:
                await k.wait_connected()
                continue
            await venue_stop.clear(t)  # the resting stop goes first: never two exits
            old = t.exit_order
            if old is not None and old.is_working:
                if not old.cancel_requested:
                    await k.cancel(old)
                deadline = k.clock.now_ns() + interval
                while old.is_working and k.clock.now_ns() < deadline:
                    await t.wake_emergency.wait_until(k.clock, deadline)
                if old.is_working:
                    continue  # the venue has not confirmed the cancel: never two exits
            if not t.position.qty:
                break
            attempt += 1
            t.emergency_attempts += 1
            qty = abs(t.position.qty)
            side = Side.SELL if t.position.qty > 0 else Side.BUY
            price = t.bid if side is Side.SELL else t.ask
            if price and attempt > 1 and k.protections.emergency_retries_cross:
                # Retries escalate: a limit at the touch never fills in a market that
                # runs away faster than data + order latency (a fuzz find), so each
                # retry crosses the touch by one more EMERGENCY_STEP_BPS.
                step = price * (attempt - 1) * EMERGENCY_STEP_BPS // 10_000
                if side is Side.SELL:
                    price = max(t.inst.floor_tick(price - step), 0)
                else:
                    price = t.inst.ceil_tick(price + step)
            now = k.clock.now_ns()
            k.journal.emit(now, "emergency_retry", symbol=t.symbol, attempt=attempt)
            if price:
                order = k.new_order(t.symbol, Role.EMERGENCY_EXIT, side, qty,
                                    OrderType.LIMIT, price, now + interval)
            else:
                order = k.new_order(t.symbol, Role.EMERGENCY_EXIT, side, qty,
                                    OrderType.MARKET, None, now + interval)
            t.exit_order = order
            await k.submit(order)
            # wait out the interval even after a reject: retries are paced, not spun
            deadline = now + interval
            while t.position.qty and k.clock.now_ns() < deadline:
                await t.wake_emergency.wait_until(k.clock, deadline)
        k.journal.emit(k.clock.now_ns(), "emergency_finished", symbol=t.symbol,
                       attempt=attempt)
    finally:
        t.emergency_running = False
        t.exiting = bool(t.position.qty)
