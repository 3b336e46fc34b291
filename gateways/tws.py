"""A TWS API gateway on the simulated exchange: point ``ib_async`` at it and trade.

Two objects, because a real deployment has two: ``TwsBroker`` is IB's side (one
account, the books of record, every order and execution of the day, the market) and
``TwsGateway`` is the IB Gateway application (a TCP listener and one ``Session`` per
API client). Killing a gateway drops every connection, exactly like killing IB
Gateway; the broker keeps the positions, working orders and executions, so a client
that reconnects to a restarted gateway can reconcile against them. That is the
property the live adapter's reconnect logic must be tested against.

The market is a ``gateways.realtime.RealtimeMarket``: the same exchange and fill rules as
``triotrade run``, paced by trio's clock (times ``speed``). The only wall-clock read
is one anchor taken when the broker starts, so that times on the wire (execution
times, good-till-date orders) are real Unix times as the client expects.

What is served (the messages ``ib_async`` 2.x needs): handshake, nextValidId,
managedAccounts, farm-status notices (2104/2106/2158), contract details, market data
(streaming and snapshot), placeOrder -> openOrder / orderStatus / execDetails /
commissionReport, cancelOrder -> orderStatus Cancelled + error 202, rejects as error
201 (110 for an off-tick price, 200 for an unknown contract), optionally the 10349
TIF-preset warning, open/all-open/completed orders, positions (kept
pushed), account updates (kept pushed), account summary, executions, current time,
and error 326 + close for a clientId already in use. Orders: MKT, LMT, STP with DAY,
GTC, GTD, IOC. Not served (answered with an error, never silence): combos, algos,
conditions, brackets/OCA, order modification (321, the order stays live), history.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import sys
import time
import zlib
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

import attrs
import trio

from ..kernel.orders import Role
from ..kernel.positions import Position
from ..kernel.units import NS_PER_S, PRICE_SCALE, fmt_units, to_units
from ..kernel.venue import ExecReport, ReportKind
from .realtime import RealtimeMarket
from ..wire import tws as P

log = logging.getLogger("triotrade.gateway.tws")

ROLES = frozenset(r.value for r in Role)
_OTYPE = {"MKT": "MARKET", "LMT": "LIMIT", "STP": "STOP"}
_TIFS = ("DAY", "GTC", "GTD", "IOC")
_WORKING = ("PendingSubmit", "PreSubmitted", "Submitted")
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


def role_of(order_ref: str) -> str:
    """Orders from the live adapter carry ``ROLE:order_id:run`` in orderRef."""
    head = order_ref.split(":", 1)[0].strip().upper()
    return head if head in ROLES else ""


def con_id_for(symbol: str) -> int:
    """A stable contract id per symbol (same across gateway restarts and scenarios)."""
    return 100_000_000 + zlib.crc32(symbol.encode("utf-8")) % 800_000_000


def fmt_ib_time(wall_ns: int) -> str:
    t = dt.datetime.fromtimestamp(wall_ns // NS_PER_S, dt.timezone.utc)
    return t.strftime("%Y%m%d %H:%M:%S") + " UTC"


def parse_ib_time(text: str) -> int | None:
    """TWS date-times -> Unix ns. ``YYYYMMDD-HH:MM:SS`` is UTC; a trailing zone name is
    honoured; no zone means the gateway's zone, which is UTC."""
    s = text.strip()
    if not s:
        return None
    zone: dt.tzinfo = dt.timezone.utc
    if "-" in s[8:9]:
        date_part, clock = s[:8], s[9:]
    else:
        parts = s.split()
        if len(parts) == 1 and len(s) == 8:
            date_part, clock = s, "23:59:59"
        elif len(parts) >= 2:
            date_part, clock = parts[0], parts[1]
            if len(parts) >= 3:
                name = parts[2]
                if name.upper() not in ("UTC", "GMT"):
                    from zoneinfo import ZoneInfo

                    zone = ZoneInfo(name)
        else:
            raise ValueError(f"cannot read {text!r} as a TWS date-time")
    t = dt.datetime.strptime(date_part + clock, "%Y%m%d%H:%M:%S").replace(tzinfo=zone)
    return int(t.timestamp()) * NS_PER_S


# ---------------------------------------------------------------- the broker's records


@attrs.define(eq=False)
class BrokerOrder:
    client_id: int
    order_id: int
    perm_id: int
    xid: str  # the exchange's order id
    symbol: str
    action: str  # BUY | SELL
    qty: int
    order_type: str  # MKT | LMT | STP
    lmt: int | None
    aux: int | None
    tif: str
    good_till: str
    order_ref: str
    account: str
    outside_rth: bool = False
    status: str = "PendingSubmit"
    filled: int = 0
    notional: int = 0  # sum of qty * price units over fills (exact)
    last_fill: int = 0
    commission: Decimal = Decimal(0)
    cancel_requested: bool = False
    completed_time: str = ""
    completed_status: str = ""

    @property
    def working(self) -> bool:
        return self.status in _WORKING

    @property
    def avg_fill(self) -> Fraction:
        return Fraction(self.notional, self.filled) if self.filled else Fraction(0)


@attrs.define(eq=False)
class BrokerExec:
    exec_id: str
    order: BrokerOrder
    wall_ns: int
    shares: int
    price: int
    cum_qty: int
    avg_price: Fraction
    commission: Decimal
    realized: Decimal | None


@attrs.define
class Commissions:
    """IBKR Pro fixed-rate style: per share, a minimum and a cap per order."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_pct: Decimal = Decimal("1")  # of the order's traded value

    def total(self, shares: int, value: Decimal) -> Decimal:
        if shares <= 0 or self.per_share == 0:
            return Decimal(0)
        fee = max(self.minimum, self.per_share * shares)
        cap = value * self.max_pct / 100
        if cap > 0:
            fee = min(fee, cap)
        return fee.quantize(Decimal("0.00000001"))


class TwsBroker:
    """IB's side of the wire: account, orders, executions, positions and the market.

    Survives gateway restarts. Every method is synchronous and runs in trio's thread;
    sessions are told about events through their (non-blocking) send queues.
    """

    def __init__(self, market: RealtimeMarket, *, account: str = "DU000001",
                 primary_exchange: str = "NASDAQ", commissions: Commissions | None = None,
                 warn_tif_preset: bool = False) -> None:
        self.market = market
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
        self.positions: dict[str, Position] = {}
        self.next_ids: dict[int, int] = {}
        self.sessions: dict[int, "Session"] = {}
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
        market.add_report_listener(self._on_report)
        market.add_quote_listener(self._on_quote)

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

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the market (its path in real time, then expiries); forever."""
        self._anchor()
        await self.market.run(task_status=task_status)

    # ------------------------------------------------------------ sessions

    def attach(self, sess: "Session") -> bool:
        assert sess.client_id is not None
        if sess.client_id in self.sessions:
            return False
        self.sessions[sess.client_id] = sess
        return True

    def detach(self, sess: "Session") -> None:
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
                          perm_id=bo.perm_id, time=fmt_ib_time(ex.wall_ns), account=bo.account,
                          exchange=spec.primary, side="BOT" if bo.action == "BUY" else "SLD",
                          shares=ex.shares, price=fmt_units(ex.price, spec.places),
                          cum_qty=ex.cum_qty, avg_price=fmt_units(ex.avg_price, spec.places),
                          order_ref=bo.order_ref)

    def mark(self, symbol: str) -> int:
        tick = self.market.last_tick[self.market.exchange.index[symbol]]
        return tick[4] if tick is not None else 0

    def account_values(self) -> list[tuple[str, str, str]]:
        ccy = self.currency
        cash = self.cash0 + self.market.exchange.cash_delta - self.commission_units
        held = 0
        gross = 0
        unreal = Fraction(0)
        realized = Fraction(0)
        for sym, pos in self.positions.items():
            realized += pos.realized
            if pos.qty:
                m = self.mark(sym)
                held += pos.qty * m
                gross += abs(pos.qty) * m
                unreal += pos.unrealized(m)
        net = cash + held
        money = lambda u: fmt_units(u, 2)  # noqa: E731
        return [
            ("AccountCode", self.account, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", ccy, ccy),
            ("NetLiquidation", money(net), ccy),
            ("TotalCashValue", money(cash), ccy),
            ("SettledCash", money(cash), ccy),
            ("CashBalance", money(cash), ccy),
            ("CashBalance", money(cash), "BASE"),
            ("AvailableFunds", money(net), ccy),
            ("ExcessLiquidity", money(net), ccy),
            ("BuyingPower", money(4 * net), ccy),
            ("EquityWithLoanValue", money(net), ccy),
            ("GrossPositionValue", money(gross), ccy),
            ("UnrealizedPnL", money(unreal), ccy),
            ("RealizedPnL", money(realized), ccy),
        ]

    def portfolio_msg(self, symbol: str) -> bytes:
        spec = self.specs[symbol]
        pos = self.positions[symbol]
        m = self.mark(symbol)
        return P.portfolio_value(spec, pos.qty, fmt_units(m, spec.places),
                                 fmt_units(pos.qty * m, 2), fmt_units(pos.avg_price, 8),
                                 fmt_units(pos.unrealized(m), 2), fmt_units(pos.realized, 2),
                                 self.account)

    def position_msg(self, symbol: str) -> bytes:
        pos = self.positions[symbol]
        return P.position(self.account, self.specs[symbol], pos.qty, fmt_units(pos.avg_price, 8))

    # ------------------------------------------------------------ order entry

    def place(self, sess: "Session", po: P.PlaceOrder) -> None:
        assert sess.client_id is not None
        cid = sess.client_id
        oid = po.order_id
        key = (cid, oid)
        existing = self.orders.get(key)
        if existing is not None:
            if existing.working:
                # IB would modify the order; we do not, and say so without killing it
                # (321 is a validation error: the order stays live, ib_async agrees).
                sess.error(oid, 321, "Error validating request.-'bW' : cause - order "
                           "modification is not supported by the triotrade simulator")
            else:
                sess.error(oid, 103, "Duplicate order id")
            return
        if oid <= 0:
            sess.error(oid, 103, "Duplicate order id")
            return
        if oid < self.next_id(cid) and not po.what_if:
            sess.error(oid, 103, "Duplicate order id")
            return
        spec = self.resolve(po.contract)
        if spec is None:
            sess.error(oid, 200, "No security definition has been found for the request")
            return
        if po.what_if:
            self._what_if(sess, po, spec)
            return
        self.next_ids[cid] = max(self.next_id(cid), oid + 1)
        problem = self._problem(po, spec)
        qty = int(po.quantity) if po.quantity == po.quantity.to_integral_value() else 0
        self._perm += 1
        tif = po.tif or "DAY"
        bo = BrokerOrder(cid, oid, self._perm, f"C{cid}-{oid}", spec.symbol,
                         "SELL" if po.action == "SSHORT" else po.action, qty, po.order_type,
                         po.lmt_price if po.order_type == "LMT" else None,
                         po.aux_price if po.order_type == "STP" else None, tif, po.good_till,
                         po.order_ref, po.account or self.account, po.outside_rth)
        self.orders[key] = bo
        self.by_xid[bo.xid] = bo
        if problem is not None:
            code, text = problem
            self._finish(bo, "Inactive", f"Rejected: {text}")
            sess.error(oid, code, text if code != 201 else f"Order rejected - reason:{text}")
            return
        if self.warn_tif_preset:
            sess.error(oid, 10349, "Order TIF was set to DAY based on order preset.")
        expire_v: int | None = None
        if tif == "GTD":
            try:
                wall = parse_ib_time(po.good_till)
            except (ValueError, KeyError) as exc:
                self._finish(bo, "Inactive", f"Rejected: bad goodTillDate: {exc}")
                sess.error(oid, 201, f"Order rejected - reason:invalid goodTillDate "
                           f"{po.good_till!r}")
                return
            assert wall is not None
            expire_v = max(self.to_virtual(wall), 0)
        price = bo.lmt if bo.order_type == "LMT" else bo.aux
        self.market.submit(bo.xid, bo.symbol, role_of(bo.order_ref),
                           1 if bo.action == "BUY" else -1, bo.qty, _OTYPE[bo.order_type], price,
                           expire_v)
        if tif == "IOC" and bo.working:
            bo.cancel_requested = True
            self.market.cancel(bo.xid)

    def _problem(self, po: P.PlaceOrder, spec: P.StockSpec) -> tuple[int, str] | None:
        """Why this order cannot be taken: (error code, text); None when it can."""
        if po.unsupported:
            return 201, f"{po.unsupported} are not supported by the triotrade simulator"
        if po.order_type not in _OTYPE:
            return 201, (f"order type {po.order_type!r} is not supported by the triotrade "
                         "simulator (MKT, LMT, STP)")
        if po.action not in ("BUY", "SELL", "SSHORT"):
            return 201, f"invalid action {po.action!r}"
        q = po.quantity
        if q <= 0 or q != q.to_integral_value():
            return 201, f"order quantity must be a positive whole number, got {q}"
        inst = self.market.instruments[spec.symbol]
        if int(q) % inst.lot_size:
            return 201, f"order quantity {q} is not a multiple of the lot size {inst.lot_size}"
        if po.tif and po.tif not in _TIFS:
            return 201, f"time in force {po.tif!r} is not supported by the triotrade simulator"
        if po.tif == "GTD" and not po.good_till:
            return 201, "GTD order without goodTillDate"
        if po.account and po.account != self.account:
            return 201, f"unknown account {po.account!r}"
        if po.parent_id or not po.transmit or po.oca_group:
            return 201, ("attached, untransmitted and OCA orders are not supported by the "
                         "triotrade simulator")
        if po.algo or po.conditions:
            return 201, "algos and order conditions are not supported by the triotrade simulator"
        price = po.lmt_price if po.order_type == "LMT" else (
            po.aux_price if po.order_type == "STP" else None)
        if po.order_type in ("LMT", "STP"):
            if price is None or price <= 0:
                return 201, f"{po.order_type} order needs a positive price"
            tick = int(spec.tick_size * PRICE_SCALE)
            if price % tick:
                return 110, ("The price does not conform to the minimum price variation for "
                             "this contract.")
        return None

    def _what_if(self, sess: "Session", po: P.PlaceOrder, spec: P.StockSpec) -> None:
        """Margin preview: an openOrder with whatIf set and the margin numbers filled."""
        qty = int(po.quantity) if po.quantity > 0 else 0
        price = po.lmt_price or po.aux_price or self.mark(spec.symbol)
        value = Decimal(qty * price) / PRICE_SCALE
        margin = (value / 4).quantize(Decimal("0.01"))
        fee = self.commissions.total(qty, value)
        equity = Decimal(fmt_units(self.cash0 + self.market.exchange.cash_delta
                                   - self.commission_units, 2))
        nums = {k: str(v) for k, v in (
            ("initMarginBefore", Decimal(0)), ("maintMarginBefore", Decimal(0)),
            ("equityWithLoanBefore", equity), ("initMarginChange", margin),
            ("maintMarginChange", margin), ("equityWithLoanChange", -fee),
            ("initMarginAfter", margin), ("maintMarginAfter", margin),
            ("equityWithLoanAfter", equity - fee), ("commission", fee),
            ("minCommission", fee), ("maxCommission", fee))}
        nums["commissionCurrency"] = spec.currency
        view = P.OrderView(order_id=po.order_id, client_id=sess.client_id or 0, perm_id=0,
                           action=po.action, quantity=qty, order_type=po.order_type,
                           lmt_price="", aux_price="", tif=po.tif, account=self.account,
                           order_ref=po.order_ref, outside_rth=False, good_till=po.good_till,
                           status="PreSubmitted", filled=0)
        sess.send(P.open_order(sess.version, spec, view, what_if=nums))

    def cancel(self, sess: "Session", order_id: int) -> None:
        assert sess.client_id is not None
        bo = self.orders.get((sess.client_id, order_id))
        if bo is None:
            sess.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        if not bo.working:
            sess.error(order_id, 10148, f"OrderId {order_id} that needs to be cancelled cannot "
                       f"be cancelled, state: {bo.status}.")
            return
        bo.cancel_requested = True
        if not self.market.cancel(bo.xid):  # pragma: no cover - books and exchange disagree
            log.error("order %s working at the broker but not at the exchange", bo.xid)

    def global_cancel(self) -> None:
        for bo in list(self.orders.values()):
            if bo.working:
                bo.cancel_requested = True
                self.market.cancel(bo.xid)

    # ------------------------------------------------------------ exchange events

    def _owner(self, bo: BrokerOrder) -> "Session | None":
        return self.sessions.get(bo.client_id)

    def _finish(self, bo: BrokerOrder, status: str, completed: str) -> None:
        bo.status = status
        bo.completed_time = fmt_ib_time(self.wall_now())
        bo.completed_status = completed
        self.completed.append(bo)

    def _on_report(self, r: ExecReport) -> None:
        bo = self.by_xid.get(r.order_id)
        if bo is None:
            return
        sess = self._owner(bo)
        spec = self.specs[bo.symbol]
        if r.kind is ReportKind.ACCEPTED:
            bo.status = "PreSubmitted" if bo.order_type == "STP" else "Submitted"
            if sess is not None:
                sess.send(P.open_order(sess.version, spec, self.order_view(bo)))
                sess.send(self.status_msg(bo))
        elif r.kind is ReportKind.FILL:
            self._fill(bo, r, sess)
        elif r.kind is ReportKind.CANCELLED:
            ioc = bo.tif == "IOC"
            self._finish(bo, "Cancelled", "Cancelled: IOC remainder" if ioc else
                         "Cancelled by Trader" if bo.cancel_requested else "Cancelled")
            if sess is not None:
                sess.send(self.status_msg(bo))
                sess.error(bo.order_id, 202, "Order Canceled - reason:")
        elif r.kind is ReportKind.EXPIRED:
            self._finish(bo, "Cancelled", "Cancelled: good-till-date expired")
            if sess is not None:
                sess.send(self.status_msg(bo))
                sess.error(bo.order_id, 202, "Order Canceled - reason:good-till-date expired")
        elif r.kind is ReportKind.REJECTED:
            self._finish(bo, "Inactive", f"Rejected: {r.reason}")
            if sess is not None:
                sess.error(bo.order_id, 201, f"Order rejected - reason:{r.reason}")

    def _fill(self, bo: BrokerOrder, r: ExecReport, sess: "Session | None") -> None:
        spec = self.specs[bo.symbol]
        before = self.commissions.total(bo.filled, Decimal(bo.notional) / PRICE_SCALE)
        bo.filled += r.qty
        bo.notional += r.qty * r.price
        bo.last_fill = r.price
        after = self.commissions.total(bo.filled, Decimal(bo.notional) / PRICE_SCALE)
        fee = after - before
        bo.commission += fee
        self.commission_units += to_units(fee)
        pos = self.positions.get(bo.symbol)
        if pos is None:
            pos = self.positions[bo.symbol] = Position(bo.symbol)
        sign = 1 if bo.action == "BUY" else -1
        was = pos.qty
        realized_f = pos.apply_fill(sign, r.qty, r.price, r.ts_ns)
        closing = was != 0 and (was > 0) != (sign > 0)
        realized = None
        if closing:
            realized = (Decimal(realized_f.numerator) / Decimal(realized_f.denominator)
                        / PRICE_SCALE - fee).quantize(Decimal("0.00000001"))
        self._exec_n += 1
        ex = BrokerExec(f"{bo.perm_id:08x}.{self._exec_n:08x}.01.01", bo, self.wall_now(),
                        r.qty, r.price, bo.filled, bo.avg_fill, fee, realized)
        self.execs.append(ex)
        if bo.filled >= bo.qty:
            self._finish(bo, "Filled", "Filled")
        elif bo.status == "PreSubmitted":
            bo.status = "Submitted"  # a stop that triggered and started filling
        if sess is not None:
            if not self.lose_exec_reports:
                sess.send(P.exec_details(sess.version, -1, spec, self.exec_view(ex)))
            sess.send(self.status_msg(bo))
            if not self.lose_exec_reports:
                sess.send(P.commission_report(ex.exec_id, fee, spec.currency, realized))
        for other in list(self.sessions.values()):
            if other.positions_sub:
                other.send(self.position_msg(bo.symbol))
            if other.account_sub:
                other.send(self.portfolio_msg(bo.symbol))
                for tag, value, ccy in self.account_values():
                    other.send(P.account_value(tag, value, ccy, self.account))
                other.send(P.account_update_time(self._hhmm()))

    def _hhmm(self) -> str:
        return dt.datetime.fromtimestamp(self.wall_now() // NS_PER_S,
                                         dt.timezone.utc).strftime("%H:%M")

    def _on_quote(self, idx: int, tick: tuple[int, ...]) -> None:
        if not self.sessions:
            return
        symbol = self.market.symbols[idx]
        places = self.specs[symbol].places
        bid = fmt_units(tick[2], places)
        ask = fmt_units(tick[3], places)
        last = fmt_units(tick[4], places)
        for sess in list(self.sessions.values()):
            for req_id in sess.md_by_idx.get(idx, ()):
                sess.send(_quote_frames(req_id, bid, ask, last, tick[5], tick[6]))

    # ------------------------------------------------------------ queries

    def send_open_orders(self, sess: "Session", all_clients: bool) -> None:
        for bo in self.orders.values():
            if bo.working and (all_clients or bo.client_id == sess.client_id):
                spec = self.specs[bo.symbol]
                sess.send(P.open_order(sess.version, spec, self.order_view(bo)))
                sess.send(self.status_msg(bo))
        sess.send(P.open_order_end())

    def send_completed_orders(self, sess: "Session") -> None:
        for bo in self.completed:
            sess.send(P.completed_order(sess.version, self.specs[bo.symbol], self.order_view(bo)))
        sess.send(P.completed_orders_end())

    def send_executions(self, sess: "Session", req_id: int, f: list[str]) -> None:
        # [7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side]
        f = f + [""] * (10 - len(f))
        client = P.parse_int(f[3])
        acct, since_text, symbol, sec_type, side = f[4], f[5], f[6], f[7], f[9]
        try:
            since = parse_ib_time(since_text) if since_text else None
        except (ValueError, KeyError):
            since = None
        for ex in self.execs:
            bo = ex.order
            if client and bo.client_id != client:
                continue
            if acct and acct != bo.account:
                continue
            if since is not None and ex.wall_ns < since:
                continue
            if symbol and symbol.upper() != bo.symbol.upper():
                continue
            if sec_type and sec_type.upper() != "STK":
                continue
            if side and side.upper() not in (bo.action, "BOT" if bo.action == "BUY" else "SLD"):
                continue
            spec = self.specs[bo.symbol]
            sess.send(P.exec_details(sess.version, req_id, spec, self.exec_view(ex)))
            sess.send(P.commission_report(ex.exec_id, ex.commission, spec.currency, ex.realized))
        sess.send(P.exec_details_end(req_id))

    def send_positions(self, sess: "Session") -> None:
        for sym in self.positions:
            sess.send(self.position_msg(sym))
        sess.send(P.position_end())

    def send_account(self, sess: "Session") -> None:
        for tag, value, ccy in self.account_values():
            sess.send(P.account_value(tag, value, ccy, self.account))
        for sym, pos in self.positions.items():
            if pos.qty:
                sess.send(self.portfolio_msg(sym))
        sess.send(P.account_update_time(self._hhmm()))
        sess.send(P.account_download_end(self.account))


def _quote_frames(req_id: int, bid: str, ask: str, last: str, bid_size: int,
                  ask_size: int) -> bytes:
    return (P.tick_price(req_id, P.TickType.BID, bid, bid_size)
            + P.tick_price(req_id, P.TickType.ASK, ask, ask_size)
            + P.tick_price(req_id, P.TickType.LAST, last, 0))


# ---------------------------------------------------------------- one API connection


class Session:
    """One API client connection: a reader (requests) and a writer (a queue of frames).

    Broker events arrive synchronously from the exchange; they are queued here and a
    writer task sends them, coalescing whatever is queued into one ``send_all`` so that
    the three ticks of a quote reach the client in one read.
    """

    def __init__(self, broker: TwsBroker, stream: trio.abc.Stream, peer: str) -> None:
        self.broker = broker
        self.stream = stream
        self.peer = peer
        self.version = P.SERVER_VERSION
        self.client_id: int | None = None
        self.md: dict[int, int] = {}  # reqId -> instrument index
        self.md_by_idx: dict[int, list[int]] = {}
        self.positions_sub = False
        self.account_sub = False
        self._send, self._recv = trio.open_memory_channel[bytes | None](math.inf)
        self._closing = False

    def send(self, data: bytes) -> None:
        if not self._closing:
            try:
                self._send.send_nowait(data)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                pass

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(P.error(self.version, req_id, code, text))

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer, nursery.cancel_scope)
                await self._reader()
                self._send.send_nowait(None)  # flush what is queued, then stop
                self._closing = True
        finally:
            self.broker.detach(self)
            self._unsubscribe_all()
            log.info("client %s (%s) disconnected", self.client_id, self.peer)

    async def _writer(self, scope: trio.CancelScope) -> None:
        try:
            async for data in self._recv:
                if data is None:
                    break
                chunks = [data]
                stop = False
                while True:
                    try:
                        more = self._recv.receive_nowait()
                    except trio.WouldBlock:
                        break
                    if more is None:
                        stop = True
                        break
                    chunks.append(more)
                await self.stream.send_all(b"".join(chunks))
                if stop:
                    break
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    async def _reader(self) -> None:
        reader = P.FrameReader()
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            reader.feed(data)
            try:
                if not reader.handshake_done:
                    hello = reader.handshake()
                    if hello is None:
                        continue
                    lo, hi, _options = hello
                    version = min(hi, P.SERVER_VERSION)
                    if version < max(lo, P.MIN_CLIENT_VERSION):
                        log.warning("client %s offers v%d..%d; we speak %d..%d", self.peer,
                                    lo, hi, P.MIN_CLIENT_VERSION, P.SERVER_VERSION)
                        return
                    self.version = version
                    conn_time = fmt_ib_time(self.broker.wall_now())
                    self.send(P.server_hello(version, conn_time))
                for fields in reader.messages():
                    if not self._handle(fields):
                        return
            except P.ProtocolError as exc:
                log.warning("client %s: %s; closing", self.peer, exc)
                return

    # ------------------------------------------------------------ requests

    def _handle(self, f: list[str]) -> bool:
        """Handle one request; False closes the connection."""
        try:
            msg = int(f[0])
        except ValueError:
            raise P.ProtocolError(f"bad message id {f[0]!r}") from None
        b = self.broker
        if self.client_id is None:
            if msg != P.In.START_API:
                log.warning("client %s sent message %d before startApi", self.peer, msg)
                return True
            return self._start_api(f)
        if msg in b.stall:
            return True
        try:
            handler = _HANDLERS[msg]
        except KeyError:
            self.error(-1, 321, f"Error validating request.-'{msg}' : cause - message type "
                       f"{msg} is not supported by the triotrade TWS simulator")
            return True
        try:
            handler(self, f)
        except (IndexError, ValueError, P.ProtocolError) as exc:
            log.warning("client %s: malformed message %d: %s", self.peer, msg, exc)
            self.error(-1, 320, f"Error reading request: message {msg}: {exc}")
        except Exception:  # noqa: BLE001 - one bad request must not take the gateway down
            log.exception("client %s: message %d failed", self.peer, msg)
            self.error(-1, 320, f"Error reading request: message {msg}: internal error")
        return True

    def _start_api(self, f: list[str]) -> bool:
        cid = P.parse_int(f[2])
        self.client_id = cid
        if not self.broker.attach(self):
            self.client_id = None  # not ours: do not detach the session that owns the id
            self.error(-1, 326, "Unable to connect as the client id is already in use. "
                       "Retry with a unique client id.")
            log.info("client %s refused: clientId %d in use", self.peer, cid)
            return False
        log.info("client %s connected as clientId %d (v%d)", self.peer, cid, self.version)
        self.send(P.managed_accounts(self.broker.account))
        self.send(P.next_valid_id(self.broker.next_id(cid)))
        for code, text in FARM_NOTICES:
            self.error(-1, code, text)
        return True

    def _req_mkt_data(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        q = P.parse_contract(f, 3)
        i = 15
        if q.sec_type.upper() == "BAG":
            self.error(req_id, 200, "combo market data is not supported by the triotrade simulator")
            return
        if P.parse_bool(f[i]):
            i += 3
        i += 1
        snapshot = P.parse_bool(f[i + 1]) if len(f) > i + 1 else False
        spec = self.broker.resolve(q)
        if spec is None:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        m = self.broker.market
        idx = m.exchange.index[spec.symbol]
        self.send(P.market_data_type(req_id, 1))
        self.send(P.tick_req_params(req_id, spec.tick_size, "SMART"))
        tick = m.last_tick[idx]
        if tick is not None:
            self.send(_quote_frames(req_id, fmt_units(tick[2], spec.places),
                                    fmt_units(tick[3], spec.places),
                                    fmt_units(tick[4], spec.places), tick[5], tick[6]))
        if snapshot:
            self.send(P.tick_snapshot_end(req_id))
            return
        self._cancel_mkt_data_id(req_id)
        self.md[req_id] = idx
        self.md_by_idx.setdefault(idx, []).append(req_id)

    def _cancel_mkt_data_id(self, req_id: int) -> None:
        idx = self.md.pop(req_id, None)
        if idx is not None:
            ids = self.md_by_idx.get(idx, [])
            if req_id in ids:
                ids.remove(req_id)

    def _unsubscribe_all(self) -> None:
        self.md.clear()
        self.md_by_idx.clear()

    def _cancel_mkt_data(self, f: list[str]) -> None:
        self._cancel_mkt_data_id(P.parse_int(f[2]))

    def _place_order(self, f: list[str]) -> None:
        try:
            po = P.parse_place_order(f, self.version)
        except P.ProtocolError as exc:
            oid = P.parse_int(f[1]) if len(f) > 1 else -1
            self.error(oid, 321, f"Error validating request.-'bO' : cause - {exc}")
            return
        self.broker.place(self, po)

    def _cancel_order(self, f: list[str]) -> None:
        self.broker.cancel(self, P.parse_int(f[2]))

    def _req_open_orders(self, f: list[str]) -> None:
        self.broker.send_open_orders(self, all_clients=False)

    def _req_all_open_orders(self, f: list[str]) -> None:
        self.broker.send_open_orders(self, all_clients=True)

    def _req_completed_orders(self, f: list[str]) -> None:
        self.broker.send_completed_orders(self)

    def _req_acct_data(self, f: list[str]) -> None:
        subscribe = P.parse_bool(f[2])
        acct = f[3] if len(f) > 3 else ""
        if acct and acct != self.broker.account:
            self.error(-1, 321, f"Error validating request.-'bA' : cause - unknown account {acct}")
            return
        self.account_sub = subscribe
        if subscribe:
            self.broker.send_account(self)

    def _req_account_updates_multi(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        for tag, value, ccy in self.broker.account_values():
            self.send(P.account_update_multi(req_id, self.broker.account, tag, value, ccy))
        self.send(P.account_update_multi_end(req_id))

    def _req_account_summary(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        tags = {t.strip() for t in (f[4] if len(f) > 4 else "").split(",") if t.strip()}
        ledger = any(t.startswith("$LEDGER") for t in tags)
        for tag, value, ccy in self.broker.account_values():
            if tag in tags or (ledger and tag == "CashBalance" and ccy != "BASE"):
                self.send(P.account_summary(req_id, self.broker.account, tag, value, ccy))
        self.send(P.account_summary_end(req_id))

    def _req_executions(self, f: list[str]) -> None:
        self.broker.send_executions(self, P.parse_int(f[2]), f)

    def _req_positions(self, f: list[str]) -> None:
        self.positions_sub = True
        self.broker.send_positions(self)

    def _cancel_positions(self, f: list[str]) -> None:
        self.positions_sub = False

    def _req_contract_data(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        q = P.parse_contract(f, 3)
        spec = self.broker.resolve(q)
        if spec is None or (q.exchange and q.exchange.upper() not in
                            ("SMART", spec.primary.upper(), spec.exchange.upper())):
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        self.send(P.contract_details(self.version, req_id, spec,
                                     f"{spec.symbol} (triotrade simulated stock)"))
        self.send(P.contract_details_end(req_id))

    def _req_ids(self, f: list[str]) -> None:
        assert self.client_id is not None
        self.send(P.next_valid_id(self.broker.next_id(self.client_id)))

    def _req_managed_accts(self, f: list[str]) -> None:
        self.send(P.managed_accounts(self.broker.account))

    def _req_current_time(self, f: list[str]) -> None:
        self.send(P.current_time(self.broker.wall_now() // NS_PER_S))

    def _req_global_cancel(self, f: list[str]) -> None:
        self.broker.global_cancel()

    def _req_historical(self, f: list[str]) -> None:
        req_id = P.parse_int(f[1])
        self.error(req_id, 162, "Historical Market Data Service error message:HMDS query "
                   "returned no data (the triotrade simulator keeps no history)")

    def _ignore(self, f: list[str]) -> None:
        pass


_HANDLERS: dict[int, Callable[[Session, list[str]], None]] = {
    P.In.REQ_MKT_DATA: Session._req_mkt_data,
    P.In.CANCEL_MKT_DATA: Session._cancel_mkt_data,
    P.In.PLACE_ORDER: Session._place_order,
    P.In.CANCEL_ORDER: Session._cancel_order,
    P.In.REQ_OPEN_ORDERS: Session._req_open_orders,
    P.In.REQ_ACCT_DATA: Session._req_acct_data,
    P.In.REQ_EXECUTIONS: Session._req_executions,
    P.In.REQ_IDS: Session._req_ids,
    P.In.REQ_CONTRACT_DATA: Session._req_contract_data,
    P.In.REQ_AUTO_OPEN_ORDERS: Session._ignore,
    P.In.REQ_ALL_OPEN_ORDERS: Session._req_all_open_orders,
    P.In.REQ_MANAGED_ACCTS: Session._req_managed_accts,
    P.In.REQ_HISTORICAL_DATA: Session._req_historical,
    P.In.REQ_CURRENT_TIME: Session._req_current_time,
    P.In.REQ_GLOBAL_CANCEL: Session._req_global_cancel,
    P.In.REQ_MARKET_DATA_TYPE: Session._ignore,
    P.In.REQ_POSITIONS: Session._req_positions,
    P.In.REQ_ACCOUNT_SUMMARY: Session._req_account_summary,
    P.In.CANCEL_ACCOUNT_SUMMARY: Session._ignore,
    P.In.CANCEL_POSITIONS: Session._cancel_positions,
    P.In.REQ_ACCOUNT_UPDATES_MULTI: Session._req_account_updates_multi,
    P.In.CANCEL_ACCOUNT_UPDATES_MULTI: Session._ignore,
    P.In.REQ_COMPLETED_ORDERS: Session._req_completed_orders,
    14: Session._ignore,  # setServerLogLevel
}


# ---------------------------------------------------------------- the listener


class TwsGateway:
    """The IB Gateway application: a TCP listener in front of a ``TwsBroker``.

    ``await nursery.start(gw.serve)`` returns once it accepts connections (``gw.port``
    is then the bound port, useful with port 0). ``gw.kill()`` drops every connection
    and stops listening; a new ``TwsGateway`` on the same broker is a restart.
    """

    def __init__(self, broker: TwsBroker, host: str = "127.0.0.1", port: int = 4002) -> None:
        self.broker = broker
        self.host = host
        self.port = port
        self.sessions: list[Session] = []
        self.cancel_scope = trio.CancelScope()
        self.stopped = trio.Event()

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.cancel_scope:
                listeners = await trio.open_tcp_listeners(self.port, host=self.host)
                sock = listeners[0].socket
                self.port = sock.getsockname()[1]
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(trio.serve_listeners, self._handle, listeners)
                    task_status.started()
        finally:
            self.stopped.set()

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            peer = "%s:%s" % stream.socket.getpeername()[:2]
        except OSError:
            peer = "?"
        sess = Session(self.broker, stream, peer)
        self.sessions.append(sess)
        try:
            await sess.run()
        finally:
            self.sessions.remove(sess)

    def kill(self) -> None:
        """Stop listening and drop every connection (the broker keeps its books)."""
        self.cancel_scope.cancel()


def describe(broker: TwsBroker) -> str:
    m = broker.market
    return (f"scenario {m.scenario.name!r} at {m.speed:g}x; account {broker.account}; "
            f"stocks: {', '.join(sorted(broker.specs))} (Stock(SYMBOL, 'SMART', "
            f"'{broker.currency}'))")


def cli_serve(scn: Any, *, host: str, port: int, speed: float, seed: int | None) -> int:
    """``triotrade serve --protocol tws``: serve until SIGINT/SIGTERM; 0 on a clean stop."""
    import signal

    async def main() -> int:
        market = RealtimeMarket(scn, seed=seed, speed=speed)
        broker = TwsBroker(market)
        gateway = TwsGateway(broker, host, port)
        code = 0
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(broker.run)
                try:
                    await nursery.start(gateway.serve)
                except OSError as exc:
                    print(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          file=sys.stderr, flush=True)
                    code = 2
                    nursery.cancel_scope.cancel()
                    return code
                print(f"listening on {host}:{gateway.port}", flush=True)
                print(describe(broker), flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        return code

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return trio.run(main)
    except KeyboardInterrupt:  # pragma: no cover - a signal that raced the receiver
        return 0


__all__ = ["TwsBroker", "TwsGateway", "Session", "BrokerOrder", "BrokerExec", "Commissions",
           "cli_serve", "con_id_for", "role_of", "parse_ib_time", "fmt_ib_time"]
