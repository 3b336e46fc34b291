"""Account queries: positions, open orders and cash, from Kite's REST API."""
from __future__ import annotations

import requests
from kiteconnect import exceptions as kex

from ...kernel.venue import OpenOrder, VenueError
from .config import WORKING_STATUSES
from .rest import safe, units


class Account:
    """The account queries of ``KiteVenue``."""

    async def positions(self) -> dict[str, int]:
        self._check_open()
        try:
            data = await self._rest(self.kite.positions)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"positions: {safe(exc)}") from None
        out: dict[str, int] = {}
        for row in data.get("net", []):
            sym = str(row["tradingsymbol"])
            out[sym] = out.get(sym, 0) + int(row["quantity"])
        return {s: q for s, q in out.items() if q}

    async def open_orders(self) -> list[OpenOrder]:
        self._check_open()
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"orders: {safe(exc)}") from None
        out = []
        for o in orders:
            if str(o.get("status")) not in WORKING_STATUSES:
                continue
            rec = self._match(o)
            out.append(OpenOrder(rec.order_id if rec else f"kite:{o['order_id']}",
                                 str(o["tradingsymbol"]), str(o["transaction_type"]),
                                 int(o["quantity"]), int(o.get("filled_quantity") or 0),
                                 rec.role if rec else "UNKNOWN"))
        return out

    async def cash(self) -> int:
        self._check_open()
        try:
            data = await self._rest(self.kite.margins, "equity")
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"margins: {safe(exc)}") from None
        return units(data["net"])
