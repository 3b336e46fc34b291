"""The run's fee ledger: what each fill is charged, from the model or from the broker.

The kernel asks it once per fill and once per broker commission report, and applies
what it answers to positions and P&L. It holds the one piece of state fees need beyond
an order: which fills were charged what, so a broker's commission that arrives after
its fill (IB sends ``commissionReport`` after ``execDetails``) can replace the model's
figure, and a commission that arrives first can be used by its fill. Both memories are
bounded: a long live session does not grow with its fill count.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .fees import Fees
from .orders import Order, Side
from .venue import ExecReport

KEPT = 8192  # fills (and early commissions) remembered for a later commission report


def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
    memory[key] = value
    if len(memory) > KEPT:
        memory.popitem(last=False)


class FeeLedger:
    def __init__(self, fees: Fees) -> None:
        self.fees = fees
        self._journal_fees = fees.charged  # without a model, fills carry no fee field
        self._fills: OrderedDict[str, tuple[int, bool]] = OrderedDict()  # exec id -> fee, broker's?
        self._early: OrderedDict[str, int] = OrderedDict()  # exec id -> broker fee

    def on_fill(self, order: Order, report: ExecReport) -> tuple[int, str | None]:
        """This fill's fee (money units) and its source to journal (None: journal none).

        The model prices the whole order: the fill is charged the order's fee after it
        minus what the order was already charged, so minimums and caps hold per order."""
        order.filled_notional += report.qty * report.price
        broker = report.fee
        if broker is None and report.exec_id:
            broker = self._early.pop(report.exec_id, None)
        source: str | None
        if broker is not None:
            fee, source = broker, "broker"
        else:
            model = self.fees.for_symbol(order.symbol)
            fee = model.order_fee(order.side is Side.BUY, order.filled_qty,
                                  order.filled_notional) - order.fee_charged
            source = "model" if self._journal_fees else None
        order.fee_charged += fee
        if report.exec_id:
            _remember(self._fills, report.exec_id, (fee, broker is not None))
        return fee, source

    def on_broker_fee(self, order: Order, report: ExecReport) -> int | None:
        """A broker's commission for a fill: the fee that fill was charged until now
        (the caller charges the difference), or None when there is nothing to change
        (no fill yet: kept for it; already the broker's figure: a repeat)."""
        if report.fee is None or not report.exec_id:
            return None
        known = self._fills.get(report.exec_id)
        if known is None:
            _remember(self._early, report.exec_id, report.fee)
            return None
        charged, from_broker = known
        if from_broker:
            return None
        self._fills[report.exec_id] = (report.fee, True)
        order.fee_charged += report.fee - charged
        return charged
