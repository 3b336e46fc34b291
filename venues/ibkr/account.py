"""Account queries: positions, open orders and cash, as IB's books have them."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from ...kernel.orders import Side
from ...kernel.reconcile import as_units
from ...kernel.units import to_units
from ...kernel.units import UnitError
from ...kernel.venue import ExecReport, OpenOrder, ReportKind, VenueError
from .conventions import parse_order_ref
from .reports import Rec, price_units

# IB's order types as the kernel names them (an adopted resting stop is recognised by it)
_IB_TYPES = {"MKT": "MARKET", "LMT": "LIMIT", "STP": "STOP"}


class Account:
    """The account queries of ``IbkrVenue``, in the venue thread."""

    async def _a_positions(self) -> dict[str, int]:
        self._require_up()
        positions = await asyncio.wait_for(self._ib.reqPositionsAsync(), self.request_timeout)
        out: dict[str, int] = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            out[p.contract.symbol] = out.get(p.contract.symbol, 0) + int(p.position)
        return {s: q for s, q in out.items() if q}

    async def _a_holdings(self) -> dict[str, tuple[int, int | None]]:
        """Positions with IB's average cost per share (what an adopted position is
        booked at)."""
        self._require_up()
        positions = await asyncio.wait_for(self._ib.reqPositionsAsync(), self.request_timeout)
        qty: dict[str, int] = {}
        cost: dict[str, Decimal] = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            sym = p.contract.symbol
            q = int(p.position)
            qty[sym] = qty.get(sym, 0) + q
            # ib_async hands avgCost over as a float: read it back as the decimal it printed
            cost[sym] = cost.get(sym, Decimal(0)) + q * Decimal(str(p.avgCost or 0))
        return {s: (q, as_units(cost[s] / q)) for s, q in qty.items() if q}

    def _adopt(self, tr: Any, role: str, order_id: str) -> Rec:
        """An order of ours from an earlier run (its orderRef says so): recorded like one
        sent in this session, so its reports reach the kernel and it can be cancelled."""
        o = tr.order
        filled = int(tr.orderStatus.filled)
        rec = Rec(order_id, tr.contract.symbol, role, Side(o.action), int(o.totalQuantity),
                  None, o.orderRef, o, ib_id=o.orderId, perm_id=o.permId, acked=True,
                  filled=filled, broker_filled=filled, sent_epoch=self._epoch)
        self._sent_ids.add(order_id)
        self._recs[order_id] = rec
        if o.clientId == self.client_id:
            self._by_ib[o.orderId] = rec
        if o.permId:
            self._by_perm[o.permId] = rec
        self._by_ref[o.orderRef] = rec
        self._contracts.setdefault(rec.symbol, tr.contract)
        return rec

    async def _a_open_orders(self) -> list[OpenOrder]:
        self._require_up()
        trades = await asyncio.wait_for(self._ib.reqOpenOrdersAsync(), self.request_timeout)
        out = []
        for tr in trades:
            o = tr.order
            rec = self._find(o.clientId, o.orderId, o.permId, o.orderRef)
            parsed = parse_order_ref(o.orderRef or "")
            if rec is None and parsed is not None and o.clientId == self.client_id:
                rec = self._adopt(tr, parsed[0], parsed[1])
            role = rec.role if rec else (parsed[0] if parsed else "")
            oid = rec.order_id if rec else f"ib:{o.permId}"
            filled = rec.filled if rec else int(tr.orderStatus.filled)
            otype = _IB_TYPES.get(str(o.orderType), "")
            price = o.auxPrice if otype == "STOP" else o.lmtPrice if otype == "LIMIT" else None
            if price is not None and not 0 < price < 1e12:
                price = None  # ib_async's UNSET_DOUBLE: IB did not say
            out.append(OpenOrder(oid, tr.contract.symbol, o.action, int(o.totalQuantity),
                                 filled, role, otype, as_units(price)))
        return out

    async def _a_executions(self) -> list[ExecReport]:
        """Today's executions of this client's orders that carry our orderRef, as fills
        of our order ids: a restart takes the fills of a resting stop that filled while
        the process was dead from here (``kernel/venue_stop.recover``)."""
        self._require_up()
        fills = await asyncio.wait_for(self._ib.reqExecutionsAsync(self._exec_filter()),
                                       self.request_timeout)
        out = []
        for f in fills:
            ex = f.execution
            parsed = parse_order_ref(ex.orderRef or "")
            shares = float(ex.shares)
            if parsed is None or shares != int(shares) or shares <= 0:
                continue
            try:
                price = price_units(ex.price)
            except UnitError:
                continue
            out.append(ExecReport(ReportKind.FILL, parsed[1], time.time_ns(), int(shares),
                                  price, "", ex.execId))
        return out

    async def _a_cash(self) -> int:
        self._require_up()
        values = self._ib.accountValues(self.account)
        if not any(v.tag == "TotalCashValue" for v in values):
            values = await asyncio.wait_for(self._ib.accountSummaryAsync(self.account),
                                            self.request_timeout)
        for ccy in ("USD", "BASE"):
            for v in values:
                if v.tag == "TotalCashValue" and v.currency == ccy:
                    return to_units(v.value)
        raise VenueError("IB reported no TotalCashValue for the account")
