"""The broker's state: specs, orders, executions, positions, sessions and its clocks.

``Books`` is the base of the broker's layers (``market_data`` -> ``account`` ->
``orders`` -> ``broker.TwsBroker``): it holds everything IB keeps across gateway
restarts, the lookups every layer shares (contract resolution, the views an order
and an execution are shown through), and the one wall-clock anchor. It decides
nothing; the layers above it act.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import trio

from ...kernel.positions import Position
from ...kernel.units import NS_PER_S, fmt_units
from ...wire import tws as P
from ..limits import MAX_ORDER_QTY, SessionLimits
from ..problems import ProblemLog
from ..realtime import RealtimeMarket
from .records import BrokerExec, BrokerOrder, Commissions, con_id_for

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("triotrade.gateway.tws")


class Books:
    """What IB's side of the wire keeps: one account's records and who is connected."""

    def __init__(self, market: RealtimeMarket, *, account: str = "DU000001",
                 primary_exchange: str = "NASDAQ", commissions: Commissions | None = None,
                 warn_tif_preset: bool = False, limits: SessionLimits | None = None,
                 max_order_qty: int = MAX_ORDER_QTY) -> None:
        self.market = market
        self.limits = limits or SessionLimits()
        self.max_order_qty = max_order_qty
        self.problems = ProblemLog(log)
        # IB sends warning 10349 ("TIF was set to DAY based on order preset") for orders
        # whose TIF a preset overrode; the order stays live. ib_async treats it as an error
        # and marks the Trade Cancelled locally, which is the trap the live adapter must
        # not fall into, so tests switch this on; plain scripts should not see it.
        self.warn_tif_preset = warn_tif_preset
        self.account = account
        self.commissions = commissions or Commissions()
        scn = market.scenario
        self.currency = scn.instruments[0].currency if scn.instruments else "USD"
        self.specs: dict[str, P.StockSpec] = {}
        for inst in scn.instruments:
            self.specs[inst.symbol] = P.StockSpec(con_id_for(inst.symbol), inst.symbol,
                                                  inst.currency, "SMART", primary_exchange,
                                                  inst.tick_size, inst.price_places)
        self.by_con_id = {s.con_id: s for s in self.specs.values()}
        self.orders: dict[tuple[int, int], BrokerOrder] = {}
        self.by_xid: dict[str, BrokerOrder] = {}
        self.completed: list[BrokerOrder] = []
        self.execs: list[BrokerExec] = []
        self.booked_execs: set[str] = set()  # exchange exec ids already booked
        self.positions: dict[str, Position] = {}
        self.next_ids: dict[int, int] = {}
        self.sessions: dict[int, Session] = {}
        self.cash0 = scn.account.cash
        self.commission_units = 0
        self._perm = 1_000_000
        self._exec_n = 0
        self._wall0: int | None = None
        self._trio0 = 0.0
        # test hooks: message ids the broker leaves unanswered (a stalled gateway), and
        # live execDetails/commission reports lost on the wire (reqExecutions still has them)
        self.stall: set[int] = set()
        self.lose_exec_reports = False

    # ------------------------------------------------------------ clocks

    def _anchor(self) -> None:
        if self._wall0 is None:
            self._wall0 = time.time_ns()  # the one wall-clock read: times on the wire are Unix
            self._trio0 = trio.current_time()

    def wall_now(self) -> int:
        self._anchor()
        assert self._wall0 is not None
        return self._wall0 + int((trio.current_time() - self._trio0) * NS_PER_S)

    def to_virtual(self, wall_ns: int) -> int:
        """A wall-clock instant -> the market's virtual time (the market runs x speed)."""
        now_v = self.market.virtual_now()
        return now_v + int((wall_ns - self.wall_now()) * self.market.speed)

    # ------------------------------------------------------------ sessions

    def attach(self, sess: Session) -> bool:
        assert sess.client_id is not None
        if sess.client_id in self.sessions:
            return False
        self.sessions[sess.client_id] = sess
        return True

    def detach(self, sess: Session) -> None:
        if sess.client_id is not None and self.sessions.get(sess.client_id) is sess:
            del self.sessions[sess.client_id]

    def next_id(self, client_id: int) -> int:
        return self.next_ids.get(client_id, 1)

    def resolve(self, q: P.ContractQuery) -> P.StockSpec | None:
        if q.con_id:
            spec = self.by_con_id.get(q.con_id)
            if spec is None or (q.symbol and q.symbol.upper() != spec.symbol.upper()):
                return None
            return spec
        spec = self.specs.get(q.symbol) or self.specs.get(q.symbol.upper())
        if spec is None and q.local_symbol:
            spec = self.specs.get(q.local_symbol)
        if spec is None:
            return None
        if q.sec_type and q.sec_type.upper() != "STK":
            return None
        if q.currency and q.currency.upper() != spec.currency.upper():
            return None
        return spec

    def broadcast_error(self, req_id: int, code: int, text: str) -> None:
        """Send a notice to every connected client (e.g. 1100/1102 connectivity)."""
        for sess in list(self.sessions.values()):
            sess.error(req_id, code, text)

    # ------------------------------------------------------------ views

    def order_view(self, bo: BrokerOrder) -> P.OrderView:
        spec = self.specs[bo.symbol]
        return P.OrderView(
            order_id=bo.order_id, client_id=bo.client_id, perm_id=bo.perm_id, action=bo.action,
            quantity=bo.qty, order_type=bo.order_type,
            lmt_price=P.price_text(bo.lmt, spec.places) if bo.lmt is not None else "",
            aux_price=P.price_text(bo.aux, spec.places) if bo.aux is not None else "",
            tif=bo.tif, account=bo.account, order_ref=bo.order_ref, outside_rth=bo.outside_rth,
            good_till=bo.good_till, status=bo.status, filled=bo.filled,
            completed_time=bo.completed_time, completed_status=bo.completed_status)

    def status_msg(self, bo: BrokerOrder) -> bytes:
        spec = self.specs[bo.symbol]
        avg = fmt_units(bo.avg_fill, spec.places) if bo.filled else "0"
        last = fmt_units(bo.last_fill, spec.places) if bo.filled else "0"
        return P.order_status(bo.order_id, bo.status, bo.filled, bo.qty - bo.filled, avg,
                              bo.perm_id, 0, last, bo.client_id)

    def exec_view(self, ex: BrokerExec) -> P.ExecView:
        bo = ex.order
        spec = self.specs[bo.symbol]
        return P.ExecView(exec_id=ex.exec_id, order_id=bo.order_id, client_id=bo.client_id,
                          perm_id=bo.perm_id, time=P.fmt_ib_time(ex.wall_ns), account=bo.account,
                          exchange=spec.primary, side="BOT" if bo.action == "BUY" else "SLD",
                          shares=ex.shares, price=fmt_units(ex.price, spec.places),
                          cum_qty=ex.cum_qty, avg_price=fmt_units(ex.avg_price, spec.places),
                          order_ref=bo.order_ref)
