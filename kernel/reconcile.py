"""Squaring the kernel's books with the venue's: at start, and every ``reconcile.interval``.

A kernel that assumes it starts flat will, against an account that already holds
shares, buy past its cap and report a position the broker does not have. So before
any entry is possible a live kernel asks the venue what it holds and what is working,
and journals what it found:

* a position it did not open is **adopted** (``position_adopted``): booked at the
  venue's average price (the current mark when the venue gives none), counted in
  exposure, and protected by the configured exits at once (the position monitor is
  armed; its first check is within one ``check_interval``);
* a working order tagged with one of our roles (IB ``orderRef``, Kite ``tag``) is
  ours from an earlier run: adopted with its role (``order_adopted``), so it is
  counted and can be cancelled;
* a working order without our tag is foreign and follows
  ``reconcile.foreign_orders``: ``adopt``, ``cancel`` or ``halt`` (the kill switch
  ``stop_new_trades``: nobody decided what that order is for);
* a position above the cap is reduced to it by a ``DANGLING_SHARES`` order.

While running, positions are compared again every ``reconcile.interval``; a
difference that working orders cannot explain and that persists over a few looks
is adopted the same way (a manual order placed mid-day), journaled as a mismatch.

Entries are refused while a reconciliation is pending (``entry_block_reason``), so
"no entry before the reconciliation is journaled" holds by construction.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .killswitch import KillAction
from .orders import Order, OrderState, OrderType, Role, Side
from .units import NS_PER_S, fmt_units
from .venue import OpenOrder, VenueError
from .venue_stop import adopt as adopt_venue_stop, poke_all as poke_venue_stops
from .venue_stop import recover as recover_venue_stops

if TYPE_CHECKING:
    from .runtime import Kernel
    from .ticker import Ticker

LOOKS = 3  # a position difference must persist this many looks to be adopted mid-run
_ROLES = {r.value: r for r in Role}
FOREIGN = "foreign_orders"  # the kill switch's reason under the halt policy


class Reconciler:
    """The start-up and periodic reconciliation of one kernel."""

    def __init__(self, kernel: "Kernel") -> None:
        self.k = kernel
        self.pending = False  # entries are refused while True
        self._suspect: dict[str, int] = {}  # symbol -> looks the same difference was seen

    # ------------------------------------------------------------ at start

    async def at_start(self) -> None:
        """Before any entry: adopt what the venue holds and has working, journaled."""
        k = self.k
        self.pending = True
        try:
            try:
                holdings = await self._holdings()
                open_orders = await k.venue.open_orders()
            except VenueError as exc:
                k.journal.emit(k.clock.now_ns(), "reconcile_failed", reason=str(exc))
                # books unknown: nothing may be opened until a human looks
                k.kill_switch("reconcile_failed", KillAction.STOP_NEW_TRADES)
                return
            notes: list[str] = []
            for oo in sorted(open_orders, key=lambda o: o.order_id):
                await self._order_found(oo, notes)
            await recover_venue_stops(k, open_orders)  # a resting stop that filled while down
            held = {s for s, t in k.tickers.items() if t.position.qty and s not in holdings}
            for sym in sorted(set(holdings) | held):  # and what we hold that the venue does not
                qty, avg = holdings.get(sym, (0, None))
                ticker = await self._ticker_for(sym)
                if ticker is None:
                    notes.append(f"{sym}: venue holds {qty}, instrument unknown")
                    continue
                diff = qty - ticker.position.qty
                if diff:
                    self.adopt_position(ticker, diff, avg, "venue")
            k.journal.emit(k.clock.now_ns(), "reconciled",
                           positions={s: str(q) for s, (q, _) in sorted(holdings.items())},
                           open_orders=str(len(open_orders)), mismatches=notes,
                           when="start")
            for ticker in k.tickers.values():
                self.reduce_over_cap(ticker)
        finally:
            self.pending = False
            poke_venue_stops(k)  # the books are settled: resting stops may be placed

    async def _holdings(self) -> dict[str, tuple[int, int | None]]:
        """symbol -> (signed qty, average price or None), from the venue."""
        venue: Any = self.k.venue
        details = getattr(venue, "holdings", None)
        if details is not None:
            got: dict[str, tuple[int, int | None]] = await details()
            return {s: v for s, v in got.items() if v[0]}
        return {s: (q, None) for s, q in (await venue.positions()).items() if q}

    async def _ticker_for(self, symbol: str) -> "Ticker | None":
        k = self.k
        ticker = k.tickers.get(symbol)
        if ticker is not None:
            return ticker
        try:
            inst = k.instruments.get(symbol) or await k.venue.instrument(symbol)
        except VenueError:
            return None
        k.journal.emit(k.clock.now_ns(), "ticker_started", symbol=symbol, via="reconciliation")
        return await k.start_ticker(inst)

    async def _order_found(self, oo: OpenOrder, notes: list[str]) -> None:
        k = self.k
        if oo.order_id in k.orders:
            return  # already ours in this process
        role = _ROLES.get(oo.role)
        policy = k.config.reconcile.foreign_orders
        if role is None:
            if policy == "cancel":
                notes.append(f"{oo.order_id}: foreign {oo.side} {oo.qty} {oo.symbol}, cancelled")
                try:
                    await k.venue.cancel(oo.order_id)
                except VenueError as exc:
                    notes.append(f"{oo.order_id}: cancel failed: {exc}")
                return
            if policy == "halt":
                notes.append(f"{oo.order_id}: foreign {oo.side} {oo.qty} {oo.symbol}, halted")
                k.kill_switch(FOREIGN, KillAction.STOP_NEW_TRADES)
                return
        ticker = await self._ticker_for(oo.symbol)
        if ticker is None:
            notes.append(f"{oo.order_id}: {oo.symbol} instrument unknown")
            return
        side = Side(oo.side)
        if role is None:  # adopted foreign order: an exit if it reduces, else an entry
            pos = ticker.position.qty
            reduces = pos != 0 and (pos > 0) == (side is Side.SELL)
            role = Role.EXIT if reduces else Role.ENTRY
        order = Order(oo.order_id, oo.symbol, role, side, oo.qty, OrderType.MARKET, None,
                      None, k.clock.now_ns(), OrderState.ACCEPTED, oo.filled_qty)
        if order.filled_qty:
            order.state = OrderState.PARTIALLY_FILLED
        k.ids.advance_past(oo.order_id)
        k.orders[order.order_id] = order
        if role is Role.ENTRY:
            ticker.entries[order.order_id] = order
        elif adopt_venue_stop(ticker, oo, order):
            pass  # our resting stop at the venue: kept, resized for the position
        elif ticker.exit_order is None:
            ticker.exit_order = order
        else:  # never two working exits: the second one found goes
            notes.append(f"{oo.order_id}: a second working exit for {oo.symbol}, cancelled")
            await k.cancel(order)
        k.journal.emit(k.clock.now_ns(), "order_adopted", order_id=order.order_id,
                       symbol=order.symbol, role=role.value, side=side.value, qty=str(oo.qty),
                       filled=str(oo.filled_qty),
                       source="own" if _ROLES.get(oo.role) else "foreign")
        ticker.arm_monitor()

    # ------------------------------------------------------------ adoption

    def adopt_position(self, ticker: "Ticker", diff: int, avg: int | None, source: str) -> None:
        """Book ``diff`` shares the venue holds and we did not (signed), and protect them."""
        k = self.k
        now = k.clock.now_ns()
        price = avg if avg else ((ticker.bid if diff > 0 else ticker.ask) or ticker.last)
        price = ticker.inst.floor_tick(int(price)) if price else 0
        pos = ticker.position
        was_flat = pos.qty == 0
        realized = pos.apply_fill(1 if diff > 0 else -1, abs(diff), price, now)
        k.realized_total += realized
        if was_flat and pos.qty:
            ticker.trades += 1
            ticker.hwm = price
        k.journal.emit(now, "position_adopted", symbol=ticker.symbol, qty=str(diff),
                       avg_price=fmt_units(price, ticker.inst.price_places),
                       position=str(pos.qty), source=source)
        # the position as booked, as after any fill: what a later restart reads back
        # (an adoption that reduces the position realizes P&L)
        k.journal.emit(now, "position_changed", symbol=ticker.symbol, qty=str(pos.qty),
                       avg_price=fmt_units(pos.avg_price, ticker.inst.price_places),
                       realized_pnl=fmt_units(pos.realized))
        exposure = ticker.exposure()
        if exposure > ticker.max_exposure:
            ticker.max_exposure = exposure
        ticker.arm_monitor()
        if ticker.has_quote:
            ticker.check_exits("reconcile")

    def reduce_over_cap(self, ticker: "Ticker") -> None:
        """A position above the cap (a manual order, a fill while down) goes back to it."""
        _, cap = ticker.sizing()
        excess = abs(ticker.position.qty) - cap
        if excess > 0:
            ticker.cancel_entries("position above max_position_size")
            ticker.request_reduce(ticker.inst.round_lots(excess) or excess)

    # ------------------------------------------------------------ while running

    async def periodic(self) -> None:
        """Compare positions with the venue every ``reconcile.interval`` (a second
        later while a difference is being watched)."""
        k = self.k
        interval = k.config.reconcile.interval
        while True:
            await k.clock.sleep_until(k.clock.now_ns() + (NS_PER_S if self._suspect
                                                          else interval))
            if not k.connected or self.pending:
                continue
            try:
                holdings = await self._holdings()
            except VenueError:
                continue  # the reconnect path reports a venue that cannot answer
            await self.compare(holdings)

    async def compare(self, holdings: dict[str, tuple[int, int | None]]) -> None:
        """One look: a difference seen LOOKS times in a row is adopted."""
        k = self.k
        seen: set[str] = set()
        for sym in sorted(set(holdings) | set(k.tickers)):
            ticker = k.tickers.get(sym)
            ours = ticker.position.qty if ticker is not None else 0
            theirs, avg = holdings.get(sym, (0, None))
            diff = theirs - ours
            if not diff or (ticker is not None and _in_flight(ticker, diff)):
                continue
            seen.add(sym)
            looks = self._suspect.get(sym, 0) + 1
            self._suspect[sym] = looks
            if looks < LOOKS:
                continue
            del self._suspect[sym]
            ticker = ticker or await self._ticker_for(sym)
            if ticker is None:
                continue
            k.journal.emit(k.clock.now_ns(), "reconciled",
                           positions={s: str(q) for s, (q, _) in sorted(holdings.items())},
                           open_orders="0", mismatches=[f"{sym}: kernel {ours}, venue {theirs}"],
                           when="periodic")
            # a manual trade: booked at the venue's average when it adds, else the mark
            self.adopt_position(ticker, diff, avg if abs(theirs) > abs(ours) else None,
                                "periodic")
            self.reduce_over_cap(ticker)
        for sym in [s for s in self._suspect if s not in seen]:
            del self._suspect[sym]


def _in_flight(ticker: "Ticker", diff: int) -> bool:
    """A difference our own working orders can still explain (fills in flight)."""
    can_buy = sum(o.remaining for o in ticker.k.orders.values()
                  if o.symbol == ticker.symbol and o.is_working and o.side is Side.BUY)
    can_sell = sum(o.remaining for o in ticker.k.orders.values()
                   if o.symbol == ticker.symbol and o.is_working and o.side is Side.SELL)
    return -can_sell <= diff <= can_buy


def as_units(avg: Any) -> int | None:
    """A venue's average price (Decimal or text) as price units, None when absent."""
    from decimal import Decimal

    from .units import to_units

    if avg is None:
        return None
    try:
        value = Decimal(str(avg))
    except Exception:  # noqa: BLE001 - a venue's odd number is no average at all
        return None
    if not value.is_finite() or value <= 0:
        return None
    return to_units(value.quantize(Decimal("0.00000001")))

