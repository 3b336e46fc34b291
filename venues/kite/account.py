"""Account queries: positions, open orders and cash, from Kite's REST API."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import requests
from kiteconnect import exceptions as kex

from ...kernel.reconcile import as_units
from ...kernel.venue import ExecReport, OpenOrder, ReportKind, VenueError
from .config import WORKING_STATUSES
from .orders import Rec, parse_tag
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

    async def holdings(self) -> dict[str, tuple[int, int | None]]:
        """Net positions with Kite's average price (start-up reconciliation adopts them)."""
        self._check_open()
        try:
            data = await self._rest(self.kite.positions)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"positions: {safe(exc)}") from None
        qty: dict[str, int] = {}
        cost: dict[str, Decimal] = {}
        for row in data.get("net", []):
            sym = str(row["tradingsymbol"])
            q = int(row["quantity"])
            qty[sym] = qty.get(sym, 0) + q
            cost[sym] = cost.get(sym, Decimal(0)) + q * Decimal(str(row.get("average_price") or 0))
        return {s: (q, as_units(cost[s] / q)) for s, q in qty.items() if q}

    def _adopt(self, o: dict[str, Any]) -> Rec | None:
        """An order of ours from an earlier session (its tag says so), recorded like one
        placed now: its updates reach the kernel and it can be cancelled."""
        tags = [o.get("tag"), *(o.get("tags") or [])]
        for tag in tags:
            parsed = parse_tag(tag)
            if parsed is None:
                continue
            role, oid = parsed
            rec = Rec(oid, str(o["tradingsymbol"]), str(o["transaction_type"]),
                      int(o["quantity"]), role, str(tag), None, acked=True,
                      filled=int(o.get("filled_quantity") or 0),
                      kite_filled=int(o.get("filled_quantity") or 0),
                      kite_status=str(o.get("status")))
            rec.placed.set()
            self._orders[oid] = rec
            self._working[oid] = rec
            self._by_tag[rec.tag] = rec
            self._bind(rec, str(o["order_id"]))
            return rec
        return None

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
            rec = self._match(o) or self._adopt(o)
            out.append(OpenOrder(rec.order_id if rec else f"kite:{o['order_id']}",
                                 str(o["tradingsymbol"]), str(o["transaction_type"]),
                                 int(o["quantity"]), int(o.get("filled_quantity") or 0),
                                 rec.role if rec else "UNKNOWN", *_type_and_price(o)))
        return out

    async def executions(self) -> list[ExecReport]:
        """Today's trades of orders carrying our tag, as fills of our order ids (Kite's
        trades carry no tag: the order book maps them): a restart takes the fills of a
        resting stop that filled while the process was dead from here."""
        self._check_open()
        try:
            orders = await self._rest(self.kite.orders)
            trades = await self._rest(self.kite.trades)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"trades: {safe(exc)}") from None
        ours = {str(o["order_id"]): parse_tag(o.get("tag")) for o in orders}
        out = []
        for t in trades:
            parsed = ours.get(str(t.get("order_id")))
            if parsed is None:
                continue
            out.append(ExecReport(ReportKind.FILL, parsed[1], time.time_ns(),
                                  int(t["quantity"]), units(t["average_price"]), "",
                                  f"kite:{t.get('trade_id')}"))
        return out

    async def cash(self) -> int:
        self._check_open()
        try:
            data = await self._rest(self.kite.margins, "equity")
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"margins: {safe(exc)}") from None
        return units(data["net"])


def _type_and_price(o: dict[str, Any]) -> tuple[str, int | None]:
    """A Kite order's type and price as the kernel names them: an ``SL-M`` is a STOP
    at its trigger (an adopted resting stop is recognised by it)."""
    kind = str(o.get("order_type"))
    if kind == "SL-M" or kind == "SL":
        return "STOP", as_units(o.get("trigger_price"))
    if kind == "LIMIT":
        return "LIMIT", as_units(o.get("price"))
    return ("MARKET" if kind == "MARKET" else ""), None
