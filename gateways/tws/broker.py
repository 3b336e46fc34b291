"""``TwsBroker``: IB's side of the wire, assembled from its layers.

The broker is built in layers, each one concern, each using only those below it:
``books`` (state, clocks, views) -> ``market_data`` (marks, quote fan-out) ->
``account`` (account and position answers) -> ``orders`` (order entry and exchange
reports). This module puts them together, wires the exchange's listeners and runs
the market.
"""
from __future__ import annotations

import logging

import trio

from ..realtime import RealtimeMarket
from ..limits import MAX_ORDER_QTY, SessionLimits
from .orders import OrderDesk
from .records import Commissions

log = logging.getLogger("triotrade.gateway.tws")


class TwsBroker(OrderDesk):
    """IB's side of the wire: account, orders, executions, positions and the market.

    Survives gateway restarts. Every method is synchronous and runs in trio's thread;
    sessions are told about events through their (non-blocking) send queues.
    """

    def __init__(self, market: RealtimeMarket, *, account: str = "DU000001",
                 primary_exchange: str = "NASDAQ", commissions: Commissions | None = None,
                 warn_tif_preset: bool = False, limits: SessionLimits | None = None,
                 max_order_qty: int = MAX_ORDER_QTY) -> None:
        super().__init__(market, account=account, primary_exchange=primary_exchange,
                         commissions=commissions, warn_tif_preset=warn_tif_preset,
                         limits=limits, max_order_qty=max_order_qty)
        market.add_report_listener(self._on_report)
        market.add_quote_listener(self._on_quote)
        market.add_outage_listener(self.set_offline)
        self.offline = False

    def set_offline(self, down: bool) -> None:
        """A scenario ``disconnect``: every API session is dropped and new ones refused for
        the window, as when IB's side goes away; the books are kept for the reconnect."""
        self.offline = down
        if down:
            sessions = list(self.sessions.values())
            log.warning("scenario disconnect: dropping %d client session(s)", len(sessions))
            for sess in sessions:
                sess.drop("scenario disconnect", client_fault=False)
        else:
            log.warning("scenario disconnect over: accepting clients again")

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the market (its path in real time, then expiries); forever."""
        self._anchor()
        await self.market.run(task_status=task_status)
