"""Building what a TWS API server sends: every message the gateway answers with.

Each builder follows ``ib_async.decoder.Decoder``'s handler for that message, field by
field (the comments name the fields), for versions 164..178. Builders take views
(``StockSpec``, ``OrderView``, ``ExecView``) with prices already as wire text and
return one ``bytes`` frame; nothing here keeps state.
"""
from __future__ import annotations

from decimal import Decimal

import attrs

from .fields import UNSET_DOUBLE
from .framing import frame
from .ids import Out, TickType


@attrs.frozen
class StockSpec:
    """What the gateway tells clients about one instrument."""

    con_id: int
    symbol: str
    currency: str
    exchange: str  # routing exchange (SMART)
    primary: str  # listing exchange
    tick_size: Decimal
    places: int
    sec_type: str = "STK"

    def fields(self, *, with_primary: bool = False, exchange: str | None = None) -> list[object]:
        """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
        [primaryExchange,] currency, localSymbol, tradingClass."""
        out: list[object] = [self.con_id, self.symbol, self.sec_type, "", "0", "", "",
                             self.exchange if exchange is None else exchange]
        if with_primary:
            out.append(self.primary)
        out += [self.currency, self.symbol, self.symbol]
        return out

def error(version: int, req_id: int, code: int, text: str) -> bytes:
    fields: list[object] = [Out.ERR_MSG, 2, req_id, code, text]
    if version >= 166:
        fields.append("")  # advancedOrderRejectJson
    return frame(fields)


def next_valid_id(order_id: int) -> bytes:
    return frame([Out.NEXT_VALID_ID, 1, order_id])


def managed_accounts(accounts: str) -> bytes:
    return frame([Out.MANAGED_ACCTS, 1, accounts])


def current_time(unix_s: int) -> bytes:
    return frame([Out.CURRENT_TIME, 1, unix_s])


def tick_price(req_id: int, tick: TickType, price: str, size: int) -> bytes:
    # msgId, version, reqId, tickType, price, size, attrMask
    return frame([Out.TICK_PRICE, 6, req_id, tick, price, size, 0])


def tick_size(req_id: int, tick: TickType, size: int) -> bytes:
    return frame([Out.TICK_SIZE, 6, req_id, tick, size])


def tick_req_params(req_id: int, min_tick: Decimal, bbo_exchange: str) -> bytes:
    return frame([Out.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, 3])


def market_data_type(req_id: int, kind: int) -> bytes:
    return frame([Out.MARKET_DATA_TYPE, 1, req_id, kind])


def tick_snapshot_end(req_id: int) -> bytes:
    return frame([Out.TICK_SNAPSHOT_END, 1, req_id])


def contract_details(version: int, req_id: int, s: StockSpec, long_name: str) -> bytes:
    fields: list[object] = [Out.CONTRACT_DATA]
    if version < 164:
        raise ValueError("contract details layout below version 164 is not encoded")
    fields += [req_id, s.symbol, s.sec_type, "", "0", "", s.exchange, s.currency, s.symbol,
               s.symbol,  # marketName
               s.symbol,  # tradingClass
               s.con_id, s.tick_size,
               "",  # multiplier
               "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,DAY,GTC,GTD,IOC,LMT,MKT,STP",  # orderTypes
               f"SMART,{s.primary}",  # validExchanges
               1,  # priceMagnifier
               0,  # underConId
               long_name, s.primary,
               "",  # contractMonth
               "Simulated", "Simulated", "Simulated",  # industry, category, subcategory
               "UTC",  # timeZoneId
               "", "",  # tradingHours, liquidHours: always open
               "", "",  # evRule, evMultiplier
               0,  # secIdList
               1,  # aggGroup
               "", "",  # underSymbol, underSecType
               "26",  # marketRuleIds
               "",  # realExpirationDate
               "COMMON",  # stockType
               "1", "1", "100"]  # minSize, sizeIncrement, suggestedSizeIncrement
    return frame(fields)


def contract_details_end(req_id: int) -> bytes:
    return frame([Out.CONTRACT_DATA_END, 1, req_id])


@attrs.frozen
class OrderView:
    """An order as the open/completed-order messages show it."""

    order_id: int
    client_id: int
    perm_id: int
    action: str
    quantity: int
    order_type: str
    lmt_price: str
    aux_price: str
    tif: str
    account: str
    order_ref: str
    outside_rth: bool
    good_till: str
    status: str
    filled: int
    completed_time: str = ""
    completed_status: str = ""


def open_order(version: int, s: StockSpec, o: OrderView, *, what_if: dict[str, str] | None = None) -> bytes:
    """The layout ``ib_async.decoder.Decoder.openOrder`` unpacks, field by field."""
    f: list[object] = [Out.OPEN_ORDER, o.order_id]
    f += s.fields()  # conId .. tradingClass (exchange, not primary)
    f += [o.action, o.quantity, o.order_type, o.lmt_price, o.aux_price, o.tif,
          "",  # ocaGroup
          o.account,
          "O",  # openClose
          0,  # origin
          o.order_ref, o.client_id, o.perm_id, o.outside_rth,
          0,  # hidden
          "0",  # discretionaryAmt
          "",  # goodAfterTime
          "",  # deprecated sharesAllocation
          "", "", ""]  # faGroup, faMethod, faPercentage
    if version < 177:
        f.append("")  # faProfile
    f += ["",  # modelCode
          o.good_till,
          "",  # rule80A
          "", "", 0, "", -1,  # percentOffset, settlingFirm, shortSaleSlot, designatedLocation, exemptCode
          0,  # auctionStrategy
          "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
          0,  # displaySize
          0, 0, 0,  # blockOrder, sweepToFill, allOrNone
          "",  # minQty
          0,  # ocaType
          0, 0,  # eTradeOnly, firmQuoteOnly
          "",  # nbboPriceCap
          0,  # parentId
          0,  # triggerMethod
          "", "",  # volatility, volatilityType
          "",  # deltaNeutralOrderType (empty: no delta-neutral block)
          "",  # deltaNeutralAuxPrice
          0,  # continuousUpdate
          "",  # referencePriceType
          "", "",  # trailStopPrice, trailingPercent
          "", "",  # basisPoints, basisPointsType
          "",  # comboLegsDescrip
          0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams
          "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
          "",  # hedgeType
          0, "", "", 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
          0,  # delta-neutral contract present
          "",  # algoStrategy
          0,  # solicited
          1 if what_if is not None else 0,
          o.status]
    w = what_if or {}
    for key in ("initMarginBefore", "maintMarginBefore", "equityWithLoanBefore",
                "initMarginChange", "maintMarginChange", "equityWithLoanChange",
                "initMarginAfter", "maintMarginAfter", "equityWithLoanAfter",
                "commission", "minCommission", "maxCommission", "commissionCurrency",
                "warningText"):
        f.append(w.get(key, ""))
    f += [0, 0,  # randomizeSize, randomizePrice
          0,  # conditions
          "",  # adjustedOrderType
          "", "", "", "", "", "",  # triggerPrice, trailStopPrice, lmtPriceOffset, adjusted stop/limit/trailing
          0,  # adjustableTrailingUnit
          "", "", "",  # softDollarTier name, val, displayName
          "",  # cashQty
          0, 0, 0, 0]  # dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice, usePriceMgmtAlgo
    if version >= 159:
        f.append("")  # duration
    if version >= 160:
        f.append("")  # postToAts
    if version >= 162:
        f.append(0)  # autoCancelParent
    if version >= 170:
        f += ["", "", "", "", ""]  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsets
    return frame(f)


def open_order_end() -> bytes:
    return frame([Out.OPEN_ORDER_END, 1])


def completed_order(version: int, s: StockSpec, o: OrderView) -> bytes:
    """The layout ``ib_async.decoder.Decoder.completedOrder`` unpacks (no orderId in it)."""
    f: list[object] = [Out.COMPLETED_ORDER]
    f += s.fields()
    f += [o.action, o.quantity, o.order_type, o.lmt_price, o.aux_price, o.tif,
          "",  # ocaGroup
          o.account, "O", 0, o.order_ref, o.perm_id, o.outside_rth,
          0,  # hidden
          "0",  # discretionaryAmt
          "",  # goodAfterTime
          "", "", ""]  # faGroup, faMethod, faPercentage
    if version < 177:
        f.append("")
    f += ["",  # modelCode
          o.good_till,
          "", "", "", 0, "", -1,  # rule80A, percentOffset, settlingFirm, shortSaleSlot, designatedLocation, exemptCode
          "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
          0,  # displaySize
          0, 0,  # sweepToFill, allOrNone
          "",  # minQty
          0,  # ocaType
          0,  # triggerMethod
          "", "",  # volatility, volatilityType
          "", "",  # deltaNeutralOrderType (empty), deltaNeutralAuxPrice
          0, "",  # continuousUpdate, referencePriceType
          "", "",  # trailStopPrice, trailingPercent
          "",  # comboLegsDescrip
          0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams
          "", "", "",  # scale sizes and increment
          "",  # hedgeType
          "", "", 0,  # clearingAccount, clearingIntent, notHeld
          0,  # delta-neutral contract present
          "",  # algoStrategy
          0,  # solicited
          o.status,
          0, 0,  # randomizeSize, randomizePrice
          0,  # conditions
          "", "", "",  # trailStopPrice, lmtPriceOffset, cashQty
          0, 0,  # dontUseAutoPriceForHedge, isOmsContainer
          "",  # autoCancelDate
          o.filled,  # filledQuantity
          0,  # refFuturesConId
          0,  # autoCancelParent
          "",  # shareholder
          0, 0,  # imbalanceOnly, routeMarketableToBbo
          0,  # parentPermId
          o.completed_time, o.completed_status]
    if version >= 170:
        f += ["", "", "", "", ""]
    return frame(f)


def completed_orders_end() -> bytes:
    return frame([Out.COMPLETED_ORDERS_END])


def order_status(order_id: int, status: str, filled: int, remaining: int, avg_fill: str,
                 perm_id: int, parent_id: int, last_fill: str, client_id: int,
                 why_held: str = "") -> bytes:
    # no version field: ib_async's handler skips only the message id
    return frame([Out.ORDER_STATUS, order_id, status, filled, remaining, avg_fill, perm_id,
                  parent_id, last_fill, client_id, why_held, ""])


@attrs.frozen
class ExecView:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    time: str
    account: str
    exchange: str
    side: str  # BOT | SLD
    shares: int
    price: str
    cum_qty: int
    avg_price: str
    order_ref: str


def exec_details(version: int, req_id: int, s: StockSpec, e: ExecView) -> bytes:
    f: list[object] = [Out.EXECUTION_DATA, req_id, e.order_id]
    f += s.fields(exchange=e.exchange)
    f += [e.exec_id, e.time, e.account, e.exchange, e.side, e.shares, e.price, e.perm_id,
          e.client_id,
          0,  # liquidation
          e.cum_qty, e.avg_price, e.order_ref,
          "", "",  # evRule, evMultiplier
          "",  # modelCode
          1]  # lastLiquidity: 1 = added (we do not model it; a constant)
    if version >= 178:
        f.append(0)  # pendingPriceRevision
    return frame(f)


def exec_details_end(req_id: int) -> bytes:
    return frame([Out.EXECUTION_DATA_END, 1, req_id])


def commission_report(exec_id: str, commission: Decimal, currency: str,
                      realized: Decimal | None) -> bytes:
    return frame([Out.COMMISSION_REPORT, 1, exec_id, commission, currency,
                  UNSET_DOUBLE if realized is None else realized, "", ""])


def position(account: str, s: StockSpec, qty: int, avg_cost: str) -> bytes:
    f: list[object] = [Out.POSITION_DATA, 3, account]
    f += s.fields(exchange="")
    f += [qty, avg_cost]
    return frame(f)


def position_end() -> bytes:
    return frame([Out.POSITION_END, 1])


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return frame([Out.ACCT_VALUE, 2, key, value, currency, account])


def portfolio_value(s: StockSpec, qty: int, market_price: str, market_value: str,
                    avg_cost: str, unrealized: str, realized: str, account: str) -> bytes:
    # conId, symbol, secType, lastTradeDate, strike, right, multiplier, primaryExchange,
    # currency, localSymbol, tradingClass
    f: list[object] = [Out.PORTFOLIO_VALUE, 8, s.con_id, s.symbol, s.sec_type, "", "0", "", "",
                       s.primary, s.currency, s.symbol, s.symbol]
    f += [qty, market_price, market_value, avg_cost, unrealized, realized, account]
    return frame(f)


def account_update_time(hhmm: str) -> bytes:
    return frame([Out.ACCT_UPDATE_TIME, 1, hhmm])


def account_download_end(account: str) -> bytes:
    return frame([Out.ACCT_DOWNLOAD_END, 1, account])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return frame([Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency])


def account_summary_end(req_id: int) -> bytes:
    return frame([Out.ACCOUNT_SUMMARY_END, 1, req_id])


def account_update_multi(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return frame([Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", tag, value, currency])


def account_update_multi_end(req_id: int) -> bytes:
    return frame([Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id])

