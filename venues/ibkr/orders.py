"""Orders out: the kernel's ``Order`` built as an ib_async order, placed, cancelled.

Orders carry ``ROLE:order_id:run`` in ``orderRef`` (the role first; the run tag keeps
refs unique across runs on the same account and day). Prices go out as exact Decimals,
quantities as integers, good-till-date as whole UTC seconds. A submit whose contract
is known is placed right in the venue thread's callback (no asyncio Task, no await):
the exit path's hot path.
"""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from ...kernel.orders import Order, OrderType, Side
from ...kernel.units import fmt_units
from ...kernel.venue import VenueError
from .conventions import gtd_text, order_ref
from .fast_path import OrderMaker
from .reports import Rec


class Orders:
    """Building, placing and cancelling the orders of ``IbkrVenue``, in the venue thread."""

    def _build(self, order: Order, contract: Any) -> Any:
        action = "BUY" if order.side is Side.BUY else "SELL"
        qty = float(order.qty)  # exact: integers below 2**53
        price: Decimal | None = None
        if order.order_type is not OrderType.MARKET:
            if order.price is None or order.price <= 0:
                raise VenueError(f"{order.order_type.value} order {order.order_id} has no price")
            # exact decimal text, at least two places (ib_async sends str(Decimal) as is)
            price = Decimal(fmt_units(order.price, 2))
        maker = self._maker
        if maker is None:
            maker = self._maker = OrderMaker()
        o = maker.make(order.order_type, action, qty, price)
        o.orderRef = order_ref(order, self.run_tag)
        if self.account:
            o.account = self.account
        if order.expire_ns is not None:
            o.tif = "GTD"
            o.goodTillDate = gtd_text(order.expire_ns)
        else:
            o.tif = "GTC"
        return o

    def _a_submit(self, order: Order) -> Any:
        """Place the order now when its contract is known (the hot path: no Task, no
        await); otherwise return a coroutine that qualifies the contract first."""
        probe = self._probe
        if probe is not None:
            probe("submit_run", time.perf_counter_ns(), order)
        self._require_up()
        if order.order_id in self._sent_ids:
            raise VenueError(f"order id {order.order_id} was already sent")
        contract = self._contracts.get(order.symbol)
        if contract is None:
            return self._a_submit_qualified(order)
        self._place(order, contract)
        return None

    async def _a_submit_qualified(self, order: Order) -> None:
        contract = await self._a_contract(order.symbol)
        self._require_up()  # the await may have seen the session drop
        if order.order_id in self._sent_ids:
            raise VenueError(f"order id {order.order_id} was already sent")
        self._place(order, contract)

    def _place(self, order: Order, contract: Any) -> None:
        ib_order = self._build(order, contract)
        probe = self._probe
        if probe is not None:
            probe("placing", time.perf_counter_ns(), order)
        trade = self._ib.placeOrder(contract, ib_order)
        rec = Rec(order.order_id, order.symbol, order.role.value, order.side, order.qty,
                   order.expire_ns, ib_order.orderRef, ib_order, ib_id=trade.order.orderId,
                   sent_epoch=self._epoch)
        self._sent_ids.add(order.order_id)
        self._recs[order.order_id] = rec
        self._by_ib[rec.ib_id] = rec
        self._by_ref[rec.ref] = rec

    def _a_cancel(self, order_id: str) -> None:
        rec = self._recs.get(order_id)
        if rec is None:
            if order_id in self._sent_ids:
                return  # finished and forgotten
            raise VenueError(f"order {order_id} was never sent to IB")
        if rec.done:
            return
        self._require_up()
        rec.cancel_requested = True
        self._ib.cancelOrder(rec.ib_order)
