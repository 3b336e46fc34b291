"""Execution replay: the live session's own reports, fed back to the replayed kernel.

The estimated venue answers orders with the simulator's fill model, so a divergence
may be the model's. Here the simulated exchange still carries the recorded quotes to
the kernel, but orders never reach it: each order the replayed kernel sends is matched
to the live kernel's order of the same id (ids are the kernel's own run-scoped
counters, so the n-th order of both runs has the same id while their decisions agree)
and must agree on symbol, role, side, quantity and type. A matching order receives
exactly the reports the live one received, each at the same delay after the send as
live; one that does not match, or that the live kernel never sent, is rejected and
named as a divergence. An order whose live send failed (``not sent: ...``) fails the
same way. Reports the live kernel got for orders it did not know (``report_unknown_order``)
arrive at their recorded times. Disconnect windows behave as in any simulated run:
reports due while the session is down are delivered when it comes back.
"""
from __future__ import annotations

from typing import Any

import attrs

from ..kernel.orders import Order
from ..kernel.units import to_units
from ..kernel.venue import ExecReport, OpenOrder, ReportKind, VenueError
from ..sim.venue import SimVenue

NOT_SENT = "not sent: "


@attrs.frozen
class LiveOrder:
    t: int
    key: tuple[str, ...]  # symbol, role, side, qty, order_type
    not_sent: str | None  # the send failed live, with this reason
    reports: tuple[tuple[int, ExecReport], ...]  # (delay after the send, report)


@attrs.define
class ExecPlan:
    orders: dict[str, LiveOrder]
    orphans: list[tuple[int, ExecReport]]  # (t, report) for orders the live kernel never had
    # what the venue held when the live kernel started (its start reconciliation): the
    # replayed kernel's own start reconciliation finds the same, adopts the same
    holdings: dict[str, tuple[int, int | None]] = attrs.Factory(dict)
    working: list[OpenOrder] = attrs.Factory(list)


def _start_books(events: list[dict[str, Any]]) -> tuple[dict[str, tuple[int, int | None]],
                                                        list[OpenOrder]]:
    start = next((e for e in events if e["type"] == "reconciled" and e.get("when") == "start"),
                 None)
    if start is None:
        return {}, []
    avg = {e["symbol"]: to_units(e["avg_price"]) for e in events
           if e["type"] == "position_adopted" and e.get("source") == "venue"}
    holdings = {sym: (int(q), avg.get(sym)) for sym, q in start["positions"].items() if int(q)}
    working = [OpenOrder(e["order_id"], e["symbol"], e["side"], int(e["qty"]), int(e["filled"]),
                         e["role"]) for e in events if e["type"] == "order_adopted"]
    return holdings, working


def plan_of(events: list[dict[str, Any]], start_ns: int) -> ExecPlan:
    """The live orders and their reports, from a recorded journal."""
    sent: dict[str, dict[str, Any]] = {}
    not_sent: dict[str, str] = {}
    for e in events:
        if e["type"] == "order_submitted":
            sent.setdefault(e["order_id"], e)
        elif e["type"] == "order_rejected" and e.get("reason", "").startswith(NOT_SENT):
            not_sent[e["order_id"]] = e["reason"][len(NOT_SENT):]
    reports: dict[str, list[tuple[int, ExecReport]]] = {}
    orphans: list[tuple[int, ExecReport]] = []
    for e in events:
        if e["type"] != "exec_report":
            continue
        rep = ExecReport(ReportKind(e["kind"]), e["order_id"], 0, int(e["qty"]),
                         to_units(e["price"]), e.get("reason", ""), e.get("exec_id", ""),
                         to_units(e["fee"]) if "fee" in e else None)
        o = sent.get(e["order_id"])
        if o is None:
            orphans.append((e["received_ns"] - start_ns, rep))
        else:
            reports.setdefault(e["order_id"], []).append((e["received_ns"] - o["ts_ns"], rep))
    orders = {oid: LiveOrder(o["ts_ns"] - start_ns,
                             (o["symbol"], o["role"], o["side"], o["qty"], o["order_type"]),
                             not_sent.get(oid), tuple(reports.get(oid, ())))
              for oid, o in sent.items()}
    holdings, working = _start_books(events)
    return ExecPlan(orders, orphans, holdings, working)


class RecordedReportsVenue(SimVenue):
    """A SimVenue whose orders are answered by the recorded reports (see module doc)."""

    name = "sim (recorded executions)"

    def __init__(self, *args: Any, plan: ExecPlan) -> None:
        super().__init__(*args)
        self.plan = plan
        self.unsent: list[str] = []  # orders the live kernel did not send: divergences
        self._filled: dict[str, int] = {}
        self._orders: dict[str, Order] = {}
        self._done: set[str] = set()
        self._held_pos: dict[str, int] = {s: q for s, (q, _) in plan.holdings.items()}
        self._adopted = {o.order_id: o for o in plan.working}
        for t, rep in plan.orphans:
            self.engine.call_at(max(t, 0), self._deliver_now, rep)

    def _deliver_now(self, rep: ExecReport) -> None:
        self._deliver(attrs.evolve(rep, ts_ns=self.engine.now))

    def _deliver(self, report: ExecReport) -> None:
        adopted = self._adopted.get(report.order_id)
        if adopted is not None and report.kind is ReportKind.FILL and self.sink is not None:
            sign = 1 if adopted.side == "BUY" else -1
            self._held_pos[adopted.symbol] = self._held_pos.get(adopted.symbol, 0) + sign * report.qty
        if adopted is not None and report.kind is not ReportKind.FEE:
            self._adopted.pop(report.order_id, None)  # its fate is known: no longer listed
        order = self._orders.get(report.order_id)
        if order is not None and self.sink is not None:
            if report.kind is ReportKind.FILL:
                self._filled[report.order_id] = self._filled.get(report.order_id, 0) + report.qty
                self._held_pos[order.symbol] = (self._held_pos.get(order.symbol, 0)
                                                + order.side.sign * report.qty)
                if self._filled[report.order_id] >= order.qty:
                    self._done.add(report.order_id)
            elif report.kind in (ReportKind.CANCELLED, ReportKind.REJECTED, ReportKind.EXPIRED):
                self._done.add(report.order_id)
        super()._deliver(report)

    async def submit(self, order: Order) -> None:
        if not self.up:
            raise VenueError("session is down")
        live = self.plan.orders.get(order.order_id)
        key = (order.symbol, order.role.value, order.side.value, str(order.qty),
               order.order_type.value)
        self._orders[order.order_id] = order
        if live is None or live.key != key:
            what = " ".join(key)
            self.unsent.append(
                f"order {order.order_id} ({what}) at {self.engine.now / 1e9:.3f}s was not sent "
                "by the live kernel" + ("" if live is None else
                                        f" (its {order.order_id} was {' '.join(live.key)})")
                + "; rejected in the replay")
            self.engine.call_at(self.engine.now, self._deliver_now,
                                ExecReport(ReportKind.REJECTED, order.order_id, 0,
                                           reason="not sent by the live kernel"))
            return
        if live.not_sent is not None:
            raise VenueError(live.not_sent)
        for delay, rep in live.reports:
            self.engine.call_at(self.engine.now + max(delay, 0), self._deliver_now, rep)

    async def cancel(self, order_id: str) -> None:
        if not self.up:
            raise VenueError("session is down")
        # the outcome of the live cancel is among the order's recorded reports

    async def holdings(self) -> dict[str, tuple[int, int | None]]:
        """Positions with the average price the venue gave live, for an adoption."""
        pos = await self.positions()
        return {s: (q, self.plan.holdings.get(s, (0, None))[1]) for s, q in pos.items()}

    async def positions(self) -> dict[str, int]:
        await super().positions()  # its checkpoint
        return {s: q for s, q in self._held_pos.items() if q}

    async def open_orders(self) -> list[OpenOrder]:
        await super().open_orders()
        return list(self._adopted.values()) + [
            OpenOrder(o.order_id, o.symbol, o.side.value, o.qty, self._filled.get(o.order_id, 0),
                      o.role.value) for oid, o in self._orders.items() if oid not in self._done]
