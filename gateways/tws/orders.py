"""The order desk: placeOrder and cancelOrder in, exchange reports out as IB words them.

An order is validated the way TWS does it (error 201 with a reason, 110 for an
off-tick price, 200 for an unknown contract, 103 for a reused id, 321 for what the
simulator does not model; the order is never silently dropped). Quantities must be
whole, positive and at most the broker's ``max_order_qty``; an order that would take
the position's value past the account's buying power (four times net liquidation, as
``account_values`` reports it) is rejected with 201 as IB's margin check does. Then
it is submitted to
the simulated exchange. The exchange's reports become openOrder / orderStatus /
execDetails / commissionReport messages for the owning client; executions and
completed orders are kept for the queries that ask for them later.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from ...kernel.positions import Position
from ...kernel.units import PRICE_SCALE, fmt_units, to_units
from ...kernel.venue import ExecReport, ReportKind
from ...wire import tws as P
from .account import AccountAnswers
from .records import BrokerExec, BrokerOrder, role_of

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("triotrade.gateway.tws")

_OTYPE = {"MKT": "MARKET", "LMT": "LIMIT", "STP": "STOP"}
_TIFS = ("DAY", "GTC", "GTD", "IOC")


class OrderDesk(AccountAnswers):
    """The broker layer that takes orders and turns exchange reports into IB messages."""

    # ------------------------------------------------------------ order entry

    def place(self, sess: Session, po: P.PlaceOrder) -> None:
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
        qty = int(po.quantity) if problem is None else 0
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
        log.info("order %s: client %d %s %d %s %s", bo.xid, cid, bo.action, qty, bo.symbol,
                 bo.order_type)
        if self.warn_tif_preset:
            sess.error(oid, 10349, "Order TIF was set to DAY based on order preset.")
        expire_v: int | None = None
        if tif == "GTD":
            try:
                wall = P.parse_ib_time(po.good_till)
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
        if not q.is_finite() or q <= 0 or q != q.to_integral_value():
            return 201, f"order quantity must be a positive whole number, got {q}"
        if q > self.max_order_qty:
            return 201, (f"order quantity {q} exceeds the maximum of {self.max_order_qty} "
                         "shares per order")
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
        return self._margin_problem(po, spec, int(q), price)

    def _margin_problem(self, po: P.PlaceOrder, spec: P.StockSpec, qty: int,
                        price: int | None) -> tuple[int, str] | None:
        """IB's initial-margin check: the gross position value after this order must stay
        within buying power. Orders that only reduce a position always pass."""
        sign = -1 if po.action in ("SELL", "SSHORT") else 1
        pos = self.positions.get(spec.symbol)
        was = pos.qty if pos is not None else 0
        after = was + sign * qty
        if abs(after) <= abs(was):
            return None
        mark = self.mark(spec.symbol)
        px = max(price or 0, mark)
        gross = abs(after) * px
        for sym, other in self.positions.items():
            if sym != spec.symbol and other.qty:
                gross += abs(other.qty) * self.mark(sym)
        cash = self.cash0 + self.market.exchange.cash_delta - self.commission_units
        net = cash + sum(p.qty * self.mark(s) for s, p in self.positions.items())
        power = 4 * net
        if gross <= power:
            return None
        need = fmt_units(gross // 4, 2)
        have = fmt_units(max(net, 0), 2)
        return 201, (f"YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION "
                     f"YOUR EQUITY WITH LOAN VALUE [{have} {spec.currency}] MUST EXCEED THE "
                     f"INITIAL MARGIN [{need} {spec.currency}]")

    def _what_if(self, sess: Session, po: P.PlaceOrder, spec: P.StockSpec) -> None:
        """Margin preview: an openOrder with whatIf set and the margin numbers filled."""
        q = po.quantity
        qty = int(q) if q.is_finite() and 0 < q <= self.max_order_qty else 0
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

    def cancel(self, sess: Session, order_id: int) -> None:
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

    def _owner(self, bo: BrokerOrder) -> Session | None:
        return self.sessions.get(bo.client_id)

    def _finish(self, bo: BrokerOrder, status: str, completed: str) -> None:
        bo.status = status
        bo.completed_time = P.fmt_ib_time(self.wall_now())
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
            if r.exec_id:
                if r.exec_id in self.booked_execs:
                    return  # the exchange repeated itself (the duplicate_reports fault)
                self.booked_execs.add(r.exec_id)
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

    def _fill(self, bo: BrokerOrder, r: ExecReport, sess: Session | None) -> None:
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
        log.info("fill %s: %s %d %s @ %s (%d/%d)", bo.xid, bo.action, r.qty, bo.symbol,
                 fmt_units(r.price, spec.places), bo.filled, bo.qty)
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
        self.push_account_update(bo.symbol)

    # ------------------------------------------------------------ queries

    def send_open_orders(self, sess: Session, all_clients: bool) -> None:
        for bo in self.orders.values():
            if bo.working and (all_clients or bo.client_id == sess.client_id):
                spec = self.specs[bo.symbol]
                sess.send(P.open_order(sess.version, spec, self.order_view(bo)))
                sess.send(self.status_msg(bo))
        sess.send(P.open_order_end())

    def send_completed_orders(self, sess: Session) -> None:
        for bo in self.completed:
            sess.send(P.completed_order(sess.version, self.specs[bo.symbol], self.order_view(bo)))
        sess.send(P.completed_orders_end())

    def send_executions(self, sess: Session, req_id: int, f: list[str]) -> None:
        # [7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side]
        f = f + [""] * (10 - len(f))
        client = P.parse_int(f[3])
        acct, since_text, symbol, sec_type, side = f[4], f[5], f[6], f[7], f[9]
        try:
            since = P.parse_ib_time(since_text) if since_text else None
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
