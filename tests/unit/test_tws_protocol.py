"""The gateway's wire layouts, checked against ib_async's own decoder and encoder.

Every message the gateway builds is fed to ``ib_async.decoder.Decoder`` (the code
that reads it in production) and the decoded objects are compared field by field:
a layout off by one field shows up as a wrong value here, not as a mysterious hang
in an end-to-end test. The other direction: ``ib_async.client.Client.placeOrder``
serialises orders (including the optional blocks) and our parser walks them.
"""
from __future__ import annotations

import math
from datetime import timezone
from decimal import Decimal
from typing import Any

import pytest
from ib_async import LimitOrder, MarketOrder, Stock, StopOrder, TagValue
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.order import Order as IbOrder

from triotrade.wire import tws as P
from triotrade.wire.tws import fmt_ib_time, parse_ib_time

VERSIONS = (166, 176, 177, 178)
SPEC = P.StockSpec(123456789, "ACME", "USD", "SMART", "NASDAQ", Decimal("0.01"), 2)


class _Ib:
    TimezoneTWS = ""


class Recording:
    """Stands in for ib_async's Wrapper: records every call the decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.ib = _Ib()
        self.defaultTimezone = timezone.utc

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(data: bytes, version: int = 178) -> list[tuple[str, tuple[Any, ...]]]:
    rec = Recording()
    dec = Decoder(rec, version)  # type: ignore[arg-type]
    reader = P.FrameReader()
    reader.handshake_done = True
    reader.feed(data)
    for fields in reader.messages():
        handler = dec.handlers[int(fields[0])]
        handler(fields)  # not interpret(): it would swallow a layout error
    return rec.calls


def one(data: bytes, version: int = 178) -> tuple[str, tuple[Any, ...]]:
    calls = decode(data, version)
    assert len(calls) == 1, calls
    return calls[0]


def view(**kw: Any) -> P.OrderView:
    base = dict(order_id=17, client_id=3, perm_id=1000042, action="BUY", quantity=100,
                order_type="LMT", lmt_price="100.25", aux_price="", tif="GTD",
                account="DU000001", order_ref="ENTRY:O1:abc", outside_rth=False,
                good_till="20260101-12:00:05", status="Submitted", filled=40,
                completed_time="20260101 12:00:01 UTC", completed_status="Cancelled by Trader")
    base.update(kw)
    return P.OrderView(**base)


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_layout(version: int) -> None:
    name, (oid, contract, order, state) = one(P.open_order(version, SPEC, view()), version)
    assert name == "openOrder" and oid == 17
    assert (contract.conId, contract.symbol, contract.secType, contract.exchange,
            contract.currency) == (123456789, "ACME", "STK", "SMART", "USD")
    assert (order.orderId, order.clientId, order.permId) == (17, 3, 1000042)
    assert (order.action, order.totalQuantity, order.orderType) == ("BUY", 100.0, "LMT")
    assert order.lmtPrice == 100.25 and order.tif == "GTD"
    assert order.goodTillDate == "20260101-12:00:05"
    assert (order.account, order.orderRef) == ("DU000001", "ENTRY:O1:abc")
    assert order.whatIf is False and order.conditions == []
    assert state.status == "Submitted"
    assert order.autoCancelParent is False


def test_open_order_what_if() -> None:
    nums = {"initMarginChange": "2500.00", "commission": "1.00", "commissionCurrency": "USD"}
    _, (_, _, order, state) = one(P.open_order(178, SPEC, view(), what_if=nums))
    assert order.whatIf is True
    assert state.initMarginChange == "2500.00" and state.commission == 1.0


@pytest.mark.parametrize("version", VERSIONS)
def test_completed_order_layout(version: int) -> None:
    name, (contract, order, state) = one(P.completed_order(version, SPEC, view()), version)
    assert name == "completedOrder"
    assert contract.symbol == "ACME" and contract.conId == 123456789
    assert (order.permId, order.orderRef, order.action) == (1000042, "ENTRY:O1:abc", "BUY")
    assert order.totalQuantity == 100.0 and order.filledQuantity == 40.0
    assert order.goodTillDate == "20260101-12:00:05"
    assert state.status == "Submitted"
    assert state.completedTime == "20260101 12:00:01 UTC"
    assert state.completedStatus == "Cancelled by Trader"


@pytest.mark.parametrize("version", (166, 177, 178))
def test_exec_details_and_commission(version: int) -> None:
    ex = P.ExecView(exec_id="000f4241.00000001.01.01", order_id=17, client_id=3,
                    perm_id=1000042, time="20260101 12:00:01 UTC", account="DU000001",
                    exchange="NASDAQ", side="BOT", shares=40, price="100.25", cum_qty=40,
                    avg_price="100.25", order_ref="ENTRY:O1:abc")
    name, (req_id, contract, e) = one(P.exec_details(version, -1, SPEC, ex), version)
    assert name == "execDetails" and req_id == -1
    assert contract.symbol == "ACME" and contract.exchange == "NASDAQ"
    assert (e.execId, e.orderId, e.clientId, e.permId) == (ex.exec_id, 17, 3, 1000042)
    assert (e.side, e.shares, e.price, e.cumQty, e.avgPrice) == ("BOT", 40.0, 100.25, 40.0, 100.25)
    assert e.orderRef == "ENTRY:O1:abc" and e.acctNumber == "DU000001"
    assert e.time.year == 2026 and e.time.second == 1
    name, (report,) = one(P.commission_report(ex.exec_id, Decimal("1.00"), "USD", None))
    assert name == "commissionReport"
    assert report.execId == ex.exec_id and report.commission == 1.0
    assert report.realizedPNL > 1e300  # TWS's "unset" double: an opening trade
    _, (closing,) = one(P.commission_report("x", Decimal("1.25"), "USD", Decimal("-3.50")))
    assert closing.realizedPNL == -3.5


@pytest.mark.parametrize("version", (164, 176, 178))
def test_contract_details_layout(version: int) -> None:
    name, (req_id, cd) = one(P.contract_details(version, 9, SPEC, "ACME Corp"), version)
    assert name == "contractDetails" and req_id == 9
    c = cd.contract
    assert (c.symbol, c.secType, c.exchange, c.currency, c.conId) == (
        "ACME", "STK", "SMART", "USD", 123456789)
    assert c.primaryExchange == "NASDAQ" and c.localSymbol == "ACME"
    assert cd.minTick == 0.01 and cd.longName == "ACME Corp"
    assert (cd.minSize, cd.sizeIncrement, cd.suggestedSizeIncrement) == (1.0, 1.0, 100.0)
    assert cd.stockType == "COMMON" and cd.marketRuleIds == "26"
    assert one(P.contract_details_end(9))[0] == "contractDetailsEnd"


def test_small_messages() -> None:
    assert one(P.order_status(17, "Submitted", 40, 60, "100.25", 1000042, 0, "100.25", 3)) == (
        "orderStatus", (17, "Submitted", 40.0, 60.0, 100.25, 1000042, 0, 100.25, 3, "", 0.0))
    assert one(P.error(178, 17, 202, "Order Canceled - reason:")) == (
        "error", (17, 202, "Order Canceled - reason:", ""))
    assert one(P.error(160, -1, 2104, "ok"), 160) == ("error", (-1, 2104, "ok", ""))
    assert one(P.next_valid_id(5)) == ("nextValidId", (5,))
    assert one(P.managed_accounts("DU000001")) == ("managedAccounts", ("DU000001",))
    assert one(P.current_time(1_700_000_000)) == ("currentTime", (1_700_000_000,))
    assert one(P.tick_price(4, P.TickType.BID, "99.99", 300)) == (
        "priceSizeTick", (4, 1, 99.99, 300.0))
    assert one(P.tick_req_params(4, Decimal("0.01"), "SMART")) == (
        "tickReqParams", (4, 0.01, "SMART", 3))
    assert one(P.market_data_type(4, 1)) == ("marketDataType", (4, 1))
    assert one(P.tick_snapshot_end(4)) == ("tickSnapshotEnd", (4,))
    assert one(P.open_order_end()) == ("openOrderEnd", ())
    assert one(P.completed_orders_end()) == ("completedOrdersEnd", ())
    assert one(P.exec_details_end(8)) == ("execDetailsEnd", (8,))
    assert one(P.position_end()) == ("positionEnd", ())
    assert one(P.account_download_end("DU000001")) == ("accountDownloadEnd", ("DU000001",))
    assert one(P.account_update_time("12:05")) == ("updateAccountTime", ("12:05",))
    assert one(P.account_value("NetLiquidation", "1000.00", "USD", "DU000001")) == (
        "updateAccountValue", ("NetLiquidation", "1000.00", "USD", "DU000001"))
    assert one(P.account_summary(6, "DU000001", "TotalCashValue", "5.00", "USD")) == (
        "accountSummary", (6, "DU000001", "TotalCashValue", "5.00", "USD"))
    assert one(P.account_summary_end(6)) == ("accountSummaryEnd", (6,))
    assert one(P.account_update_multi(6, "DU000001", "CashBalance", "5.00", "USD")) == (
        "accountUpdateMulti", (6, "DU000001", "", "CashBalance", "5.00", "USD"))
    assert one(P.account_update_multi_end(6)) == ("accountUpdateMultiEnd", (6,))
    name, (account, contract, qty, avg) = one(P.position("DU000001", SPEC, -40, "100.125"))
    assert (name, account, contract.symbol, contract.conId, qty, avg) == (
        "position", "DU000001", "ACME", 123456789, -40.0, 100.125)
    name, args = one(P.portfolio_value(SPEC, 40, "101.00", "4040.00", "100.50", "20.00",
                                       "0.00", "DU000001"))
    assert name == "updatePortfolio"
    assert args[0].symbol == "ACME" and args[0].primaryExchange == "NASDAQ"
    assert args[1:] == (40.0, 101.0, 4040.0, 100.5, 20.0, 0.0, "DU000001")


def test_no_floats_on_the_wire() -> None:
    with pytest.raises(TypeError):
        P.frame([1, 0.1])


def test_framing_and_handshake() -> None:
    r = P.FrameReader()
    body = b"v157..178 +PACEAPI"
    data = P.HEADER + len(body).to_bytes(4, "big") + body + P.frame([71, 2, 7, ""])
    for i in range(len(data)):  # byte by byte: partial reads must work
        r.feed(data[i:i + 1])
        if not r.handshake_done:
            hello = r.handshake()
            if hello is not None:
                assert hello == (157, 178, "+PACEAPI")
    assert r.handshake_done
    assert r.messages() == [["71", "2", "7", ""]]
    with pytest.raises(P.ProtocolError):
        bad = P.FrameReader()
        bad.feed(b"GET / HTTP/1.1\r\n")
        bad.handshake()


def _serialise(version: int, order_id: int, contract: Any, order: IbOrder) -> list[str]:
    """What ib_async puts on the wire for placeOrder at ``version``."""
    client = Client(Recording())
    client.connState = Client.CONNECTED
    client._serverVersion = version  # noqa: SLF001
    sent: list[str] = []
    client.sendMsg = sent.append  # type: ignore[method-assign]
    client.placeOrder(order_id, contract, order)
    assert len(sent) == 1
    fields = sent[0].split("\0")
    assert fields.pop() == ""
    return fields


@pytest.mark.parametrize("version", VERSIONS)
def test_place_order_parse(version: int) -> None:
    o = LimitOrder("BUY", 100, Decimal("100.25"), tif="GTD", goodTillDate="20260101-12:00:05",
                   orderRef="ENTRY:O1:abc")
    po = P.parse_place_order(_serialise(version, 11, Stock("ACME", "SMART", "USD"), o), version)
    assert (po.order_id, po.action, po.quantity, po.order_type) == (11, "BUY", 100, "LMT")
    assert po.lmt_price == 100_25_000_000 and po.aux_price is None
    assert (po.tif, po.good_till, po.order_ref) == ("GTD", "20260101-12:00:05", "ENTRY:O1:abc")
    assert po.contract.symbol == "ACME" and po.contract.exchange == "SMART"
    assert po.transmit and not po.what_if and po.conditions == 0 and not po.unsupported

    stop = P.parse_place_order(_serialise(version, 12, Stock("ACME", "SMART", "USD"),
                                          StopOrder("SELL", 50, 95.5)), version)
    assert stop.order_type == "STP" and stop.aux_price == 95_50_000_000 and stop.lmt_price is None
    mkt = P.parse_place_order(_serialise(version, 13, Stock("ACME", "SMART", "USD"),
                                         MarketOrder("SELL", 5)), version)
    assert mkt.order_type == "MKT" and mkt.tif == "" and mkt.quantity == 5


def test_place_order_walks_optional_blocks() -> None:
    """Algo params, a hedge, delta-neutral and scale blocks all shift later fields."""
    o = LimitOrder("BUY", 10, 1.5, algoStrategy="Adaptive",
                   algoParams=[TagValue("adaptivePriority", "Normal")], hedgeType="D",
                   hedgeParam="0.5", deltaNeutralOrderType="MKT", scalePriceIncrement=0.1,
                   scaleInitLevelSize=5, scaleSubsLevelSize=5, whatIf=True)
    po = P.parse_place_order(_serialise(178, 21, Stock("ACME", "SMART", "USD"), o), 178)
    assert po.algo == "Adaptive" and po.what_if is True and po.conditions == 0


def test_ib_times_round_trip() -> None:
    ns = 1_767_268_805 * 1_000_000_000
    assert fmt_ib_time(ns) == "20260101 12:00:05 UTC"
    assert parse_ib_time("20260101-12:00:05") == ns
    assert parse_ib_time("20260101 12:00:05 UTC") == ns
    assert parse_ib_time("20260101 07:00:05 US/Eastern") == ns
    assert parse_ib_time("") is None
    assert not math.isnan(float(P.UNSET_DOUBLE))
