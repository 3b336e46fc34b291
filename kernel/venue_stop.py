"""Protection at the venue: a resting stop that outlives the process (``exits.venue_stop``).

All the kernel's exits live in the process. If it dies (kill -9, a power cut, a crash
fault) nothing can exit, and a gap while it is dead runs through every stop it knows.
With ``exits.venue_stop`` set, a resting stop order (role ``STOP_LOSS``, type ``STOP``:
IB ``STP``, Kite ``SL-M``) is kept at the venue for the whole position, so the venue
itself exits when the price trades through it, dead process or not.

The rules, each one here:

* the trigger is the average entry price minus the distance for a long (plus for a
  short), rounded to the tick towards the entry: the venue never lets the position
  lose more than the configured distance because of rounding;
* it is kept in line with the position: after every fill it is compared with what the
  position needs (quantity, trigger) and, when they differ, cancelled and, once the
  cancel is confirmed, placed again (never two resting at once: a gap would fill both);
  when the position is flat it is cancelled;
* the kernel's own exits stay primary and never double-sell: every kernel exit (the
  order queue's exit and reduce, the emergency retry) first calls ``clear``, which
  cancels the resting stop and returns only once the venue confirmed the cancel or
  reported the stop filled; the exit is then sized from the position as it is (what
  the stop filled needs no exit). While a kernel exit is in charge no stop is placed;
* a fill of the resting stop is a normal fill of the kernel's own order;
* a restart finds it again by its role tag (``adopt``), or, when it filled while the
  process was dead, takes its fills from the venue's execution list (``recover``).

The order actions run in the ticker's order queue (``kernel/ticker_orders.py``): it
asks ``wanted`` when it looks for work and awaits ``service``. Nothing here runs on
the tick path.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .orders import Order, OrderState, OrderType, Role, Side
from .units import to_units
from .venue import ExecReport, OpenOrder, ReportKind
from .wakeup import Wakeup

if TYPE_CHECKING:
    from .config import Distance
    from .restore import DayState
    from .runtime import Kernel
    from .ticker import Ticker


class VenueStop:
    """The resting stop of one ticker: what it should be, and the order that is."""

    __slots__ = ("t", "distance", "order", "waiters", "refused")

    def __init__(self, ticker: "Ticker", distance: "Distance") -> None:
        self.t = ticker
        self.distance = distance
        self.order: Order | None = None  # the resting stop, working or last known
        # who waits in ``clear`` for the stop's outcome (the order queue's exit and the
        # emergency retry can both be waiting): each is woken by its next report
        self.waiters: list[Wakeup] = []
        self.refused: tuple[int, int] | None = None  # the target the venue rejected

    def target(self) -> tuple[int, int]:
        """(qty, trigger) the resting stop should have now; qty 0: none (flat, or a
        kernel exit is in charge of the position)."""
        t = self.t
        pos = t.position.qty
        if (not pos or t.exiting or t.exit_order is not None or t.emergency_running
                or t.exit_request is not None or t.reduce_request):
            return 0, 0
        avg = int(t.position.avg_price)
        step = self.distance.below(avg)
        if pos > 0:
            trigger = t.inst.ceil_tick(avg - step)
        else:
            trigger = t.inst.floor_tick(avg + step)
        if trigger <= 0:
            return 0, 0  # a distance past zero: no stop can protect a long there
        return abs(pos), trigger

    def due(self) -> bool:
        """The resting stop differs from what the position needs."""
        want = self.target()
        o = self.order
        if o is not None and o.is_working:
            if o.cancel_requested:
                return False  # the cancel's outcome comes back as a report
            return (o.remaining, o.price) != want
        return want[0] > 0 and want != self.refused

    def wanted(self) -> bool:
        """Work for the order queue; never while the session is down or a restart's
        reconciliation is settling the books (the next monitor check asks again)."""
        k = self.t.k
        return k.connected and not k.reconciler.pending and self.due()

    def changed(self, order: Order) -> None:
        """A report about the resting stop: wake whoever waits on it."""
        if order.state is OrderState.REJECTED:
            self.refused = (order.qty, order.price or 0)
        for w in self.waiters:
            w.set()
        self.poke()

    def poke(self) -> None:
        """After a fill or an exit finished: the queue looks at the stop again."""
        if self.wanted():
            self.t.wake_queue.set()


async def service(t: "Ticker") -> None:
    """Bring the resting stop in line with the position: cancel one that no longer
    fits (it is replaced when the cancel's report comes back), place a missing one."""
    vs = t.venue_stop
    if vs is None or not vs.wanted():
        return
    k = t.k
    o = vs.order
    if o is not None and o.is_working:
        await k.cancel(o)
        return
    qty, trigger = vs.target()
    side = Side.SELL if t.position.qty > 0 else Side.BUY
    order = k.new_order(t.symbol, Role.STOP_LOSS, side, qty, OrderType.STOP, trigger, None)
    vs.order = order
    vs.refused = None
    await k.submit(order)


async def clear(t: "Ticker") -> None:
    """Before a kernel exit: the resting stop is cancelled, and the cancel confirmed
    (or the stop filled), so the kernel's exit and the venue's never both work."""
    vs = t.venue_stop
    if vs is None:
        return
    k = t.k
    if not k.protections.venue_stop_cancelled_first:
        return  # a weakened kernel: its exit goes out beside the resting stop
    interval = k.config.monitor.check_interval
    o = vs.order
    while o is not None and o.is_working:
        if not k.connected:
            await k.wait_connected()
            continue
        if not o.cancel_requested:
            await k.cancel(o)
        if o.is_working:
            wake = Wakeup()
            vs.waiters.append(wake)
            try:
                await wake.wait_until(k.clock, k.clock.now_ns() + interval)
            finally:
                vs.waiters.remove(wake)


def left_working(k: "Kernel") -> list[str]:
    """The resting stops a shutdown leaves at the venue, on purpose: the broker keeps
    protecting the positions the process no longer watches."""
    out = []
    for t in k.tickers.values():
        vs = t.venue_stop
        if vs is not None and vs.order is not None and vs.order.is_working:
            out.append(vs.order.order_id)
    return out


# ------------------------------------------------------------ restarts


def poke_all(k: "Kernel") -> None:
    """The reconciliation is over: every resting stop is looked at again."""
    for t in k.tickers.values():
        if t.venue_stop is not None:
            t.venue_stop.poke()


def adopt(ticker: "Ticker", oo: OpenOrder, order: Order) -> bool:
    """A working ``STOP_LOSS`` stop of ours found at the venue (a restart): it is the
    resting stop, not an exit of the kernel's; True when taken as such. It is resized
    for the position as booked by the next look of the order queue."""
    vs = ticker.venue_stop
    if vs is None or oo.order_type != OrderType.STOP.value or oo.role != Role.STOP_LOSS.value:
        return False
    if vs.order is not None and vs.order.is_working:
        return False  # one resting stop per position: the second found is cancelled
    order.order_type = OrderType.STOP
    order.price = oo.price
    vs.order = order
    vs.poke()
    return True


async def recover(k: "Kernel", open_orders: list[OpenOrder]) -> None:
    """A resting stop the journal left working that is no longer working at the venue
    filled (or was cancelled) while the process was dead: its fills are taken from
    the venue's execution list, as the fills of our own order they are; the part the
    journal already holds is not counted again."""
    day: DayState | None = k.restore
    executions: Any = getattr(k.venue, "executions", None)
    if day is None or k.config.exits.venue_stop is None:
        return
    at_venue = {o.order_id for o in open_orders}
    for oid, ev in sorted(day.working.items()):
        ticker = k.tickers.get(ev["symbol"])
        if (ev.get("role") != Role.STOP_LOSS.value or ev.get("order_type") != OrderType.STOP.value
                or oid in at_venue or oid in k.orders or ticker is None
                or ticker.venue_stop is None):
            continue
        filled = day.filled.get(oid, 0)
        order = Order(oid, ticker.symbol, Role.STOP_LOSS, Side(ev["side"]), int(ev["qty"]),
                      OrderType.STOP, to_units(Decimal(ev["price"])), None, ev["ts_ns"],
                      OrderState.PARTIALLY_FILLED if filled else OrderState.ACCEPTED, filled)
        k.orders[oid] = order
        ticker.venue_stop.order = order
        # taken back from the earlier run like any order of ours (a live restart's new
        # journal must know it before its fills)
        k.journal.emit(k.clock.now_ns(), "order_adopted", order_id=oid, symbol=order.symbol,
                       role=Role.STOP_LOSS.value, side=order.side.value, qty=str(order.qty),
                       filled=str(filled), source="own")
        reports: list[ExecReport] = []
        if executions is not None:
            reports = [r for r in await executions() if r.order_id == oid]
        for r in reports:
            if filled >= r.qty:  # journaled before the crash
                filled -= r.qty
                continue
            k.on_report(r)
        if order.is_working:  # not at the venue and not (fully) filled: it is gone
            k.on_report(ExecReport(ReportKind.CANCELLED, oid, k.clock.now_ns(),
                                   reason="not working at the venue after the restart"))
