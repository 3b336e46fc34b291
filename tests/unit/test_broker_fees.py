"""A broker's own commission (IB's commissionReport) replaces the model's fee.

The fill is journaled at once with the model's fee (the risk checks cannot wait for the
commission); when the broker's figure arrives the kernel charges the difference to
realized P&L and journals ``fee_reported``. A commission that comes before its fill is
kept and used by the fill itself (``fee_source: broker``); a repeated one changes nothing.
"""
from __future__ import annotations

from decimal import Decimal

import attrs

from conftest import px
from kernel_support import events, make_kernel, running, settle
from triotrade.kernel.config import TradingConfig
from triotrade.kernel.fees import FeeKind, FeeModel, Fees
from triotrade.kernel.signals import Signal
from triotrade.kernel.venue import ExecReport, ReportKind

IB_MODEL = TradingConfig(fees=Fees(FeeModel(FeeKind.PER_SHARE)))


def fee_report(kernel, order_id: str, exec_id: str, fee: str) -> None:  # type: ignore[no-untyped-def]
    kernel.on_report(ExecReport(ReportKind.FEE, order_id, kernel.clock.now_ns(),
                                exec_id=exec_id, fee=px(fee)))


async def test_the_broker_commission_corrects_the_model_fee() -> None:
    kernel, venue, clock = make_kernel(IB_MODEL)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        venue.fill(entry, 100, "100.02")
        [fill] = events(kernel, "fill")
        assert (fill["fee"], fill["fee_source"]) == ("1.00", "model")  # IB min 1.00
        pos = kernel.tickers["ACME"].position
        assert (pos.realized, pos.fees) == (-px("1.00"), px("1.00"))
        fee_report(kernel, entry.order_id, "X1", "1.35")
        fee_report(kernel, entry.order_id, "X1", "1.35")  # repeated: once only
        [rep] = events(kernel, "fee_reported")
        assert (rep["exec_id"], rep["fee"], rep["model_fee"]) == ("X1", "1.35", "1.00")
        assert (pos.realized, pos.fees) == (-px("1.35"), px("1.35"))
        assert kernel.realized_total == -px("1.35")
        assert Decimal(kernel.summary()["ACME"]["fees"]) == Decimal("1.35")


async def test_a_commission_before_its_fill_is_the_fill_fee() -> None:
    kernel, venue, clock = make_kernel(attrs.evolve(IB_MODEL, fees=Fees()))  # no model
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        fee_report(kernel, entry.order_id, "X1", "0.70")
        venue.fill(entry, 100, "100.02")  # the fake venue's first exec id is X1
        [fill] = events(kernel, "fill")
        assert (fill["fee"], fill["fee_source"]) == ("0.70", "broker")
        assert events(kernel, "fee_reported") == []
        assert kernel.tickers["ACME"].position.realized == -px("0.70")


async def test_the_kernel_prices_partial_fills_per_order() -> None:
    kernel, venue, clock = make_kernel(IB_MODEL)
    async with running(kernel):
        venue.quote("ACME", "100.00", "100.02")
        kernel.on_signal(Signal("ACME", "BUY", clock.now_ns()))
        await settle()
        [entry] = venue.submitted
        venue.report(ReportKind.ACCEPTED, entry)
        for _ in range(4):
            venue.fill(entry, 25, "100.02")
        # 100 shares: 0.50 -> the 1.00 minimum, once for the order, on its first fill
        assert [f["fee"] for f in events(kernel, "fill")] == ["1.00", "0.00", "0.00", "0.00"]
        assert kernel.tickers["ACME"].position.fees == px("1.00")
