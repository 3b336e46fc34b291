"""Orders in: postbacks and order-book rows applied exactly once, fills from trades.

Order updates (postbacks) arrive as text messages. A change of ``filled_quantity`` is
turned into FILL reports from the order's trades (``order_trades``), one per Kite
trade with ``exec_id = "kite:<trade_id>"``, so a postback repeated, or replayed by
reconciliation, can never count a fill twice. Terminal reports (CANCELLED, EXPIRED)
are held back until every fill before them has been reported: a fill after a cancel
would be an impossible transition for the kernel.

Kite's order book is polled for orders that have gone quiet, and after a reconnect
(postbacks sent while we were away are lost), by ``_reconcile``.
"""
from __future__ import annotations

import logging
from typing import Any

import requests
import trio
from kiteconnect import exceptions as kex

from ...kernel.venue import ExecReport, ReportKind
from .config import ACK_STATUSES, seconds
from .orders import Rec
from .rest import safe, units

log = logging.getLogger("triotrade.kite")


class Reports:
    """Order updates of ``KiteVenue``, turned into the kernel's reports."""

    def _report(self, kind: ReportKind, rec: Rec, *, qty: int = 0, price: int = 0,
                reason: str = "", exec_id: str = "") -> None:
        if self.sink is not None:
            self.sink.on_report(ExecReport(kind, rec.order_id, self._clock_ns(), qty, price,
                                           reason, exec_id))

    def _bind(self, rec: Rec, kite_id: str) -> None:
        rec.kite_id = kite_id
        self._by_kite[kite_id] = rec

    def _finish(self, rec: Rec) -> None:
        rec.done = True
        self._working.pop(rec.order_id, None)

    def _match(self, data: dict[str, Any]) -> Rec | None:
        rec = self._by_kite.get(str(data.get("order_id") or ""))
        if rec is None:
            tags = [data.get("tag"), *(data.get("tags") or [])]
            for tag in tags:
                if isinstance(tag, str) and tag in self._by_tag:
                    rec = self._by_tag[tag]
                    break
        return rec

    async def _update_worker(self) -> None:
        async for data in self._updates_recv:
            await self._apply_safely(data)

    async def _apply_safely(self, data: dict[str, Any]) -> None:
        try:
            await self._apply(data)
        except (KeyError, TypeError, ValueError) as exc:
            # a malformed update must not take the session (and the stops) down with it;
            # the order is reconciled from the order book on a later pass
            self.errors.append(f"bad order update ({type(exc).__name__}: {exc})")
            log.warning("Kite order update not understood: %s: %s", type(exc).__name__, exc)

    async def _apply(self, data: dict[str, Any]) -> None:
        """One order update (postback or order-book row), applied in order, exactly once."""
        async with self._apply_lock:
            rec = self._match(data)
            if rec is None or rec.done:
                return
            kite_id = str(data.get("order_id") or "")
            if rec.kite_id is None and kite_id:
                self._bind(rec, kite_id)
            status = str(data.get("status") or "")
            rec.kite_status = status
            rec.kite_filled = max(rec.kite_filled, int(data.get("filled_quantity") or 0))
            rec.last_seen = trio.current_time()
            if not rec.acked and status in ACK_STATUSES:
                rec.acked = True
                self._report(ReportKind.ACCEPTED, rec)
            if rec.kite_filled > rec.filled:
                await self._sync_fills(rec)
            if rec.filled >= rec.qty:
                self._finish(rec)
                return
            if status == "REJECTED" and rec.filled == 0:
                self._finish(rec)
                reason = str(data.get("status_message") or "rejected by Kite")
                self._report(ReportKind.REJECTED, rec, reason=reason)
            elif status == "CANCELLED" and rec.filled >= rec.kite_filled:
                self._finish(rec)
                if rec.expiring and not rec.user_cancel:
                    self._report(ReportKind.EXPIRED, rec,
                                 reason="good-till-date expiry (cancelled by the adapter)")
                else:
                    self._report(ReportKind.CANCELLED, rec,
                                 reason=str(data.get("status_message") or "cancelled"))
            # else: working, or fills still missing; the reconcile loop comes back to it

    async def _sync_fills(self, rec: Rec) -> None:
        """Report the order's trades we have not reported yet (dedupe by trade id)."""
        delay = 0.02
        for _ in range(6):
            try:
                trades = await self._rest(self.kite.order_trades, rec.kite_id)
            except (kex.KiteException, requests.RequestException) as exc:
                self.errors.append(f"order_trades {rec.order_id}: {safe(exc)}")
                trades = []
            for t in sorted(trades, key=lambda t: (len(str(t.get("trade_id"))),
                                                   str(t.get("trade_id")))):
                trade_id = str(t.get("trade_id"))
                if trade_id in rec.trade_ids:
                    continue
                qty = int(t["quantity"])
                if rec.filled + qty > rec.qty:
                    self.errors.append(f"trade {trade_id} would overfill {rec.order_id}")
                    continue
                rec.trade_ids.add(trade_id)
                rec.filled += qty
                self._report(ReportKind.FILL, rec, qty=qty, price=units(t["average_price"]),
                             exec_id=f"kite:{trade_id}")
            if rec.filled >= rec.kite_filled:
                return
            await trio.sleep(delay)
            delay *= 2

    async def _reconcile(self) -> bool:
        """Apply Kite's order book to every order still working here."""
        if not self._working:
            return True
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException) as exc:
            self.errors.append(f"reconcile: {safe(exc)}")
            return False
        for data in orders:
            rec = self._match(data)
            if rec is not None and not rec.done:
                await self._apply_safely(data)
        patience = 3 * seconds(self.settings.reconcile_interval)
        now = trio.current_time()
        for rec in list(self._working.values()):
            if (rec.kite_id is None and rec.unknown_since is not None
                    and now - rec.unknown_since >= patience):
                self._finish(rec)
                self._report(ReportKind.REJECTED, rec,
                             reason="not placed: Kite's reply was lost and its order book "
                                    "never listed the order")
        return True

    async def _reconcile_loop(self) -> None:
        interval = seconds(self.settings.reconcile_interval)
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            if self._ws_up and any((r.kite_id is not None and now - r.last_seen >= interval)
                                   or (r.kite_id is None and r.unknown_since is not None)
                                   for r in list(self._working.values())):
                await self._reconcile()
