"""Reconciliation: bring our order records in line with IB's books before the session is up.

Runs at the first connect, after every reconnect and after IB's 1101/1102: open orders
(ack what is working), completed orders (finish what ended while away), executions
(replay every fill we have not reported, deduplicated by execId), positions (compared
with what our fills imply; the result is in the ``venue_reconnected`` reason), market
data resubscribed and a fresh quote awaited. An order that IB never saw (lost in the
drop) is reported rejected.
"""
from __future__ import annotations

import asyncio
import logging

from ...kernel.venue import ReportKind
from .conventions import load_ib_async

log = logging.getLogger("triotrade.venues.ibkr")


class Reconcile:
    """The reconciliation passes of ``IbkrVenue``, in the venue thread."""

    def _progress(self) -> tuple[int, int]:
        """(fills reported, orders finished): taken before a reconnect, for its summary."""
        return self.fills_reported, self.orders_finished

    async def _a_reconcile(self, *, first: bool, since: tuple[int, int] | None = None) -> str:
        """Bring our records in line with IB's books. Runs before the session is 'up'.

        ``since``: the progress counters from before the connection was (re)opened;
        ib_async's own startup sync already replays executions inside connectAsync.
        """
        ib = self._ib
        t = self.request_timeout
        fills_before, done_before = since if since is not None else self._progress()
        opened = await asyncio.wait_for(ib.reqOpenOrdersAsync(), t)
        await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), t)
        await asyncio.wait_for(ib.reqExecutionsAsync(self._exec_filter()), t)
        positions = await asyncio.wait_for(ib.reqPositionsAsync(), t)
        open_ids = {tr.order.orderId for tr in opened if tr.order.clientId in (self.client_id, 0)}
        open_perms = {tr.order.permId for tr in opened if tr.order.permId}
        lost: list[str] = []
        unknown: list[str] = []
        for rec in self._recs.values():
            if rec.done or rec.pending is not None:
                continue
            if rec.ib_id in open_ids or (rec.perm_id and rec.perm_id in open_perms):
                self._ack(rec)
                continue
            info = (self._completed_info.get(("perm", rec.perm_id)) if rec.perm_id else None) \
                or self._completed_info.get(("ref", rec.ref))
            if info is not None:
                status, text, filled = info
                broker_filled = int(filled) if filled >= 0 else rec.filled
                if status == "Filled":
                    if rec.filled < rec.qty:
                        unknown.append(f"{rec.order_id} filled at IB but executions missing")
                        rec.broker_filled = max(rec.broker_filled, rec.qty)
                        self._schedule_catch_up(rec)
                    continue
                if status == "Inactive" or text.lower().startswith("rejected"):
                    kind, why = ReportKind.REJECTED, text or "rejected at IB"
                    if rec.acked or rec.filled:
                        kind, why = ReportKind.CANCELLED, text or "inactive at IB"
                else:
                    kind, why = self._cancel_kind(rec, text if "expire" in text.lower() else "")
                    if kind is ReportKind.CANCELLED and text and not rec.cancel_requested:
                        why = text
                self._terminal(rec, kind, why, broker_filled)
                continue
            if not rec.acked and rec.filled == 0:
                lost.append(rec.order_id)
                self._terminal(rec, ReportKind.REJECTED, "never reached IB: the connection "
                               "dropped before it was acknowledged", 0)
            else:
                unknown.append(f"{rec.order_id} unknown to IB")
        broker = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            sym = p.contract.symbol
            broker[sym] = broker.get(sym, 0) + int(p.position)
        if first:
            self._baseline = dict(broker)
            pos_text = "positions " + (", ".join(f"{s} {q}" for s, q in sorted(broker.items())
                                                 if q) or "flat")
        else:
            mismatch = []
            for sym in sorted(set(broker) | set(self._fill_pos) | set(self._baseline)):
                want = self._baseline.get(sym, 0) + self._fill_pos.get(sym, 0)
                have = broker.get(sym, 0)
                if want != have:
                    mismatch.append(f"{sym} IB {have} vs fills {want}")
            pos_text = ("positions match" if not mismatch
                        else "POSITION MISMATCH: " + "; ".join(mismatch))
            if mismatch:
                log.error("reconciliation: %s", pos_text)
        fills_now, done_now = self._progress()
        parts = [f"{fills_now - fills_before} fill(s) replayed",
                 f"{done_now - done_before} order(s) finished while away",
                 f"{sum(1 for r in self._recs.values() if not r.done)} working"]
        if lost:
            parts.append(f"{len(lost)} lost ({', '.join(lost)})")
        if unknown:
            parts.append("UNRESOLVED: " + "; ".join(unknown))
            log.error("reconciliation: %s", "; ".join(unknown))
        parts.append(pos_text)
        return "reconciled: " + ", ".join(parts)

    async def _a_resubscribe(self) -> None:
        subs = []
        for sub in self._subs.values():
            if sub.contract is None:  # subscribed during an outage
                c = self._contracts.get(sub.symbol)
                if c is None:
                    [c] = await asyncio.wait_for(self._ib.qualifyContractsAsync(
                        load_ib_async().Stock(sub.symbol, "SMART", "USD")), self.request_timeout)
                    if c is None:
                        log.error("IB knows no stock %r: no market data for it", sub.symbol)
                        continue
                    self._contracts[sub.symbol] = c
                sub.contract = c
            subs.append(sub)
        for sub in subs:
            self._start_ticker(sub)
        if not subs or self.quote_wait <= 0:
            return
        events = [s.fresh for s in subs if s.fresh is not None]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), self.quote_wait)
        except asyncio.TimeoutError:
            stale = [s.symbol for s in subs if s.fresh is not None and not s.fresh.is_set()]
            log.warning("no quote yet after resubscribing %s", ", ".join(stale))
