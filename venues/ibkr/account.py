"""Account queries: positions, open orders and cash, as IB's books have them."""
from __future__ import annotations

import asyncio

from ...kernel.units import to_units
from ...kernel.venue import OpenOrder, VenueError
from .conventions import parse_order_ref


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

    async def _a_open_orders(self) -> list[OpenOrder]:
        self._require_up()
        trades = await asyncio.wait_for(self._ib.reqOpenOrdersAsync(), self.request_timeout)
        out = []
        for tr in trades:
            o = tr.order
            rec = self._find(o.clientId, o.orderId, o.permId, o.orderRef)
            parsed = parse_order_ref(o.orderRef or "")
            role = rec.role if rec else (parsed[0] if parsed else "")
            oid = rec.order_id if rec else f"ib:{o.permId}"
            filled = rec.filled if rec else int(tr.orderStatus.filled)
            out.append(OpenOrder(oid, tr.contract.symbol, o.action, int(o.totalQuantity),
                                 filled, role))
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
