"""Order and execution reports: IB's raw messages turned into the kernel's ``ExecReport``s.

Order state comes from the server's own messages, tapped at the wrapper (orderStatus,
execDetails, openOrder, completedOrder, error). We do not read ib_async's
``Trade.orderStatus``: ib_async turns every non-warning error code on an order (10349
"TIF set to DAY by preset", for instance) into a local ``Cancelled`` although the order
is still working at IB. Here only 201/200/103/110/... on an order IB has not
acknowledged is a reject; 202 or a server ``Cancelled`` status is a cancel (or an
expiry, when its good-till-date has passed and we did not ask); any other code on an
order is logged and changes nothing.

A terminal status that claims more filled shares than we have seen executions for is
held back until those executions arrive (or, after a grace period, executions are
requested again), so the kernel never sees "cancelled" before the last fill.

ib_async keeps every Trade of a session (~45 objects each, in reference cycles through
their events). Finished orders are forgotten, with their ib_async Trades and Fills,
after ``retain_done_s`` or beyond the ``retain_done`` most recent, so a long session's
heap, and the garbage collector's pauses, do not grow by the order.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

import attrs

from ...kernel.orders import Side
from ...kernel.units import UnitError, to_units
from ...kernel.venue import ExecReport, ReportKind
from .conventions import (
    ACKED_STATUSES,
    CANCEL_CODE,
    CANCELLED_STATUSES,
    CLIENT_ID_IN_USE,
    LINK_LOST,
    LINK_RESTORED,
    LINK_RESTORED_DATA_LOST,
    REJECT_CODES,
    load_ib_async,
    price_units,
)

log = logging.getLogger("triotrade.venues.ibkr")
EXEC_OWNERS_KEPT = 8192  # execution id -> our order id, for the commission that follows


@attrs.define(eq=False)
class Rec:
    """Our record of one order we sent: what we told the kernel, and IB's ids for it."""

    order_id: str
    symbol: str
    role: str
    side: Side
    qty: int
    expire_ns: int | None
    ref: str
    ib_order: Any
    ib_id: int = 0
    perm_id: int = 0
    acked: bool = False
    done: bool = False  # a terminal report went to the kernel
    filled: int = 0  # executions reported to the kernel
    broker_filled: int = 0  # what IB's last orderStatus said
    exec_ids: set[str] = attrs.Factory(set)
    cancel_requested: bool = False
    pending: tuple[ReportKind, str, int] | None = None  # terminal report held for fills
    catch_up_scheduled: bool = False
    sent_epoch: int = 0


class Reports:
    """The wrapper taps of ``IbkrVenue`` and what they report, in the venue thread."""

    def _report(self, kind: ReportKind, rec: Rec, *, qty: int = 0, price: int = 0,
                reason: str = "", exec_id: str = "") -> None:
        sink = self._sink
        if sink is None:
            return
        self._post(sink.on_report,
                   ExecReport(kind, rec.order_id, time.time_ns(), qty, price, reason, exec_id))

    # ---------------------------------------------------------------- wrapper taps

    def _install_taps(self, ib: Any) -> None:
        """See IB's raw messages, after ib_async has had them, without its interpretation."""
        w = ib.wrapper

        def tap(name: str, ours: Callable[..., None]) -> None:
            original = getattr(w, name)

            def both(*args: Any) -> None:
                original(*args)
                try:
                    ours(*args)
                except Exception:  # noqa: BLE001
                    self.internal_errors += 1
                    log.exception("IbkrVenue failed handling %s%r", name, args)

            setattr(w, name, both)

        tap("orderStatus", self._on_status)
        tap("openOrder", self._on_open_order)
        tap("completedOrder", self._on_completed_order)
        tap("execDetails", self._on_exec)
        tap("commissionReport", self._on_commission)
        tap("error", self._on_error)

    def _find(self, client_id: int, order_id: int, perm_id: int, ref: str) -> Rec | None:
        if order_id and (client_id == self.client_id or client_id == 0):
            rec = self._by_ib.get(order_id)
            if rec is not None:
                return rec
        if perm_id:
            rec = self._by_perm.get(perm_id)
            if rec is not None:
                return rec
        if ref:
            return self._by_ref.get(ref)
        return None

    def _learn_perm(self, rec: Rec, perm_id: int) -> None:
        if perm_id and rec.perm_id != perm_id:
            rec.perm_id = perm_id
            self._by_perm[perm_id] = rec

    def _ack(self, rec: Rec) -> None:
        if not rec.acked and not rec.done:
            rec.acked = True
            if rec.filled == 0:  # after a fill the kernel must not see an ack
                self._report(ReportKind.ACCEPTED, rec)

    def _on_status(self, order_id: int, status: str, filled: float, remaining: float,
                   avg: float, perm_id: int, parent_id: int, last: float, client_id: int,
                   why_held: str = "", mkt_cap: float = 0.0) -> None:
        rec = self._find(client_id, order_id, perm_id, "")
        if rec is None:
            return
        self._learn_perm(rec, perm_id)
        rec.broker_filled = max(rec.broker_filled, int(filled))
        if rec.broker_filled > rec.filled:
            self._schedule_catch_up(rec)  # executions should follow; make sure they do
        if rec.done:
            return
        if status in ACKED_STATUSES:
            self._ack(rec)
        elif status == "Filled":
            rec.acked = True  # the fills themselves carry the news
        elif status in CANCELLED_STATUSES:
            kind, reason = self._cancel_kind(rec, "")
            self._terminal(rec, kind, reason, int(filled))
        elif status == "Inactive":
            if not rec.acked and rec.filled == 0:
                self._terminal(rec, ReportKind.REJECTED, "inactive at IB", int(filled))
            else:
                log.warning("order %s is Inactive at IB (%s); left working", rec.order_id,
                            why_held)

    def _on_open_order(self, order_id: int, contract: Any, order: Any, state: Any) -> None:
        if getattr(order, "whatIf", False):
            return
        rec = self._find(order.clientId, order_id, order.permId, order.orderRef)
        if rec is None:
            return
        self._learn_perm(rec, order.permId)
        if not rec.done and state.status in ACKED_STATUSES:
            self._ack(rec)

    def _on_completed_order(self, contract: Any, order: Any, state: Any) -> None:
        filled = order.filledQuantity
        try:
            filled_f = float(filled)
        except (TypeError, ValueError):
            filled_f = -1.0
        info = (state.status, state.completedStatus, filled_f if filled_f < 1e300 else -1.0)
        if order.permId:
            self._completed_info[("perm", order.permId)] = info
        if order.orderRef:
            self._completed_info[("ref", order.orderRef)] = info

    def _on_exec(self, req_id: int, contract: Any, ex: Any) -> None:
        rec = self._find(ex.clientId, ex.orderId, ex.permId, ex.orderRef)
        if rec is None:
            return
        self._learn_perm(rec, ex.permId)
        if ex.execId in rec.exec_ids:
            return
        shares = float(ex.shares)
        qty = int(shares)
        if qty != shares or qty <= 0:
            log.error("execution %s of %s: %r shares is not a positive whole number",
                      ex.execId, rec.order_id, ex.shares)
            return
        try:
            price = price_units(ex.price)
        except UnitError:
            log.error("execution %s of %s: bad price %r", ex.execId, rec.order_id, ex.price)
            return
        rec.exec_ids.add(ex.execId)
        self._exec_owner[ex.execId] = rec.order_id
        if len(self._exec_owner) > EXEC_OWNERS_KEPT:
            self._exec_owner.popitem(last=False)
        rec.filled += qty
        self.fills_reported += 1
        self._fill_pos[rec.symbol] = self._fill_pos.get(rec.symbol, 0) + rec.side.sign * qty
        if rec.done:
            log.error("fill %s for %s after its terminal report; delivering it anyway",
                      ex.execId, rec.order_id)
        self._report(ReportKind.FILL, rec, qty=qty, price=price, exec_id=ex.execId)
        if rec.filled >= rec.qty:
            rec.pending = None
            self._retire(rec)
        elif rec.pending is not None and rec.filled >= rec.pending[2]:
            kind, reason, _ = rec.pending
            rec.pending = None
            self._retire(rec)
            self._report(kind, rec, reason=reason)

    def _on_commission(self, report: Any) -> None:
        """IB's commission for one execution, after its execDetails: the kernel replaces
        the fee model's figure with it (``fee_source: broker`` / ``fee_reported``)."""
        order_id = self._exec_owner.get(report.execId)
        sink = self._sink
        if order_id is None or sink is None:
            return
        try:
            fee = to_units(report.commission)
        except UnitError:
            log.error("commission report %s: bad commission %r", report.execId,
                      report.commission)
            return
        self._post(sink.on_report, ExecReport(ReportKind.FEE, order_id, time.time_ns(),
                                              exec_id=report.execId, fee=fee))

    def _on_error(self, req_id: int, code: int, text: str, advanced: str = "") -> None:
        self.notices.append((req_id, code, text))
        if code == CLIENT_ID_IN_USE:
            self._connect_errors.append(code)
            if self._refused is not None:
                self._refused.set()
            return
        if code == LINK_LOST:
            log.warning("IB: %s (%d)", text, code)
            if self._state == "up":
                self._state = "link_down"
                self._stop_heartbeat()
                self._connection(False, f"IB connectivity lost ({code}): {text}")
            return
        if code in (LINK_RESTORED, LINK_RESTORED_DATA_LOST):
            log.warning("IB: %s (%d)", text, code)
            if self._state == "link_down":
                self._state = "restoring"
                asyncio.ensure_future(self._a_link_restored(code))
            return
        if 2100 <= code < 2200:
            log.debug("IB notice %d: %s", code, text)  # farm status etc.: informational
            return
        rec = self._by_ib.get(req_id) if req_id > 0 else None
        if rec is None:
            if req_id > 0 and code in REJECT_CODES | {CANCEL_CODE}:
                log.debug("IB error %d for request %d: %s", code, req_id, text)
            else:
                log.info("IB message %d (reqId %d): %s", code, req_id, text)
            return
        if code == CANCEL_CODE:
            reason = text.split("reason:", 1)[1].strip() if "reason:" in text else ""
            kind, why = self._cancel_kind(rec, reason)
            self._terminal(rec, kind, why, rec.broker_filled)
        elif code in REJECT_CODES and not rec.acked and rec.filled == 0:
            self._terminal(rec, ReportKind.REJECTED, f"IB {code}: {text}", 0)
        else:
            # 10349 (TIF changed by preset), 399, 404, 161, 10147/10148 (cancel refused),
            # 321 (modify refused)...: the order lives on; its fate arrives as a status.
            log.warning("IB %d on order %s (still working): %s", code, rec.order_id, text)

    def _cancel_kind(self, rec: Rec, reason: str) -> tuple[ReportKind, str]:
        if rec.cancel_requested:
            return ReportKind.CANCELLED, reason or "cancelled"
        if "expire" in reason.lower() or (
                rec.expire_ns is not None
                and time.time_ns() >= rec.expire_ns - self.expiry_slack_ns):
            return ReportKind.EXPIRED, reason or "good-till-date expired"
        return ReportKind.CANCELLED, reason or "cancelled by IB"

    def _terminal(self, rec: Rec, kind: ReportKind, reason: str, broker_filled: int) -> None:
        if rec.done or rec.pending is not None:
            return
        if broker_filled > rec.filled:
            # IB says more was filled than we have executions for: hold the terminal
            # report until they arrive, so no fill lands after a cancel
            rec.pending = (kind, reason, broker_filled)
            self._schedule_catch_up(rec)
            return
        self._retire(rec)
        self._report(kind, rec, reason=reason)

    def _retire(self, rec: Rec) -> None:
        """The order is finished: keep its record a while (late or replayed messages
        about it are recognised and ignored), then forget it, and ib_async's Trade
        and Fills for it too. ib_async keeps every Trade of a session, ~45 objects
        each; a heap that grows by the order makes the garbage collector's full
        passes grow with it (tens of ms after a few thousand orders, paid on
        whatever tick or order is in flight when one starts)."""
        if rec.done:
            return
        rec.done = True
        self.orders_finished += 1
        retired = self._retired
        now = time.monotonic()
        retired.append((now, rec))
        horizon = now - self.retain_done_s
        while len(retired) > self.retain_done or retired[0][0] < horizon:
            self._forget(retired.popleft()[1])

    def _forget(self, rec: Rec) -> None:
        for index, key in ((self._recs, rec.order_id), (self._by_ib, rec.ib_id),
                           (self._by_perm, rec.perm_id), (self._by_ref, rec.ref)):
            if index.get(key) is rec:  # type: ignore[attr-defined]
                del index[key]  # type: ignore[attr-defined]
        ib = self._ib
        if ib is None:
            return
        w = ib.wrapper
        try:
            keys = [(w.clientId, rec.ib_id)] if rec.ib_id > 0 else []
            if rec.perm_id:
                keys.append(rec.perm_id)
                trade = w.permId2Trade.get(rec.perm_id)
                if trade is not None and trade.order.orderRef == rec.ref:
                    del w.permId2Trade[rec.perm_id]
            for key in keys:
                trade = w.trades.get(key)
                if trade is not None and trade.order.orderRef == rec.ref:
                    del w.trades[key]
                    # an eventkit Event keeps the last values it emitted, the Trade
                    # itself: a reference cycle per Trade, which only a full collection
                    # would free (~80 ms for a few thousand Trades). Break it.
                    for name in getattr(trade, "events", ()):
                        event = getattr(trade, name, None)
                        if getattr(event, "_value", None) is not None:
                            event._value = None
            for exec_id in rec.exec_ids:
                w.fills.pop(exec_id, None)
        except (AttributeError, TypeError):  # another ib_async layout: keep its books
            log.debug("could not prune ib_async's records of %s", rec.order_id, exc_info=True)

    def _schedule_catch_up(self, rec: Rec) -> None:
        if not rec.catch_up_scheduled:
            rec.catch_up_scheduled = True
            asyncio.get_running_loop().call_later(self.terminal_grace, self._catch_up, rec)

    def _catch_up(self, rec: Rec) -> None:
        """IB's status is ahead of the executions we have: ask for them again, then
        finish a held terminal report even if they still do not come (and say so)."""
        rec.catch_up_scheduled = False
        if rec.filled >= rec.broker_filled and rec.pending is None:
            return

        async def fetch_then_finish() -> None:
            try:
                if self._state == "up":
                    await asyncio.wait_for(self._ib.reqExecutionsAsync(self._exec_filter()),
                                           self.request_timeout)
            except Exception:  # noqa: BLE001
                log.warning("re-requesting executions for %s failed", rec.order_id, exc_info=True)
            if rec.filled < rec.broker_filled:
                log.error("order %s: IB reports %d filled, executions for %d", rec.order_id,
                          rec.broker_filled, rec.filled)
            if rec.pending is not None and not rec.done:
                kind, reason, _ = rec.pending
                rec.pending = None
                self._retire(rec)
                self._report(kind, rec, reason=reason)

        asyncio.ensure_future(fetch_then_finish())

    def _exec_filter(self) -> Any:
        return load_ib_async().ExecutionFilter(clientId=self.client_id)
