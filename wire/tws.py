"""The TWS API wire format, as ``ib_async`` 2.x speaks it.

Framing: after a handshake (``API\\0`` + a length-prefixed ``v<min>..<max>[ options]``)
every message is a 4-byte big-endian length followed by NUL-terminated text fields.
The server answers the handshake with ``<version>\\0<time>\\0`` and from then on the
field layout of each message depends on that negotiated version.

Ground truth for every layout here is ``ib_async``'s own ``decoder.py`` (what it
reads) and ``client.py`` (what it writes); the field lists below follow them field
by field so a reader can check one against the other. We negotiate
``SERVER_VERSION`` (178, the highest ``ib_async`` 2.1 offers: a real gateway would
pick the same) and encode the version-dependent fields for 164..178 only.

Nothing here does I/O or keeps state: builders return ``bytes`` frames, parsers take
field lists. Prices are text on the wire and exact integers (1e-8 units) in here;
no float is ever formatted.
"""
from __future__ import annotations

import enum
import struct
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Iterable, Sequence

import attrs

from ..kernel.units import UnitError, fmt_units, to_units

SERVER_VERSION = 178
MIN_CLIENT_VERSION = 164  # below this the contract-details layout changes; not encoded
UNSET_DOUBLE = "1.7976931348623157E308"  # what TWS sends for "no value" doubles
UNSET_INTEGER = "2147483647"
HEADER = b"API\0"


class In(enum.IntEnum):
    """Client -> server message ids (``ib_async.client``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_HISTORICAL_DATA = 20
    REQ_CURRENT_TIME = 49
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_COMPLETED_ORDERS = 99


class Out(enum.IntEnum):
    """Server -> client message ids (``ib_async.decoder``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    TICK_REQ_PARAMS = 81
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


class TickType(enum.IntEnum):
    BID_SIZE = 0
    BID = 1
    ASK = 2
    ASK_SIZE = 3
    LAST = 4
    LAST_SIZE = 5


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API."""


# ---------------------------------------------------------------- framing


Field = "str | int | bool | Decimal | None"


def _enc(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, enum.Enum):
        return _enc(value.value)
    # floats would be lossy and Fractions are not wire values: refuse both loudly
    raise TypeError(f"cannot put a {type(value).__name__} on the TWS wire: {value!r}")


def join_fields(texts: list[str]) -> str:
    """The body of one message: each field's text followed by a NUL.

    The one definition of the field framing, used by ``frame`` here and by the IB
    adapter's fast encoder (whose length prefix ib_async adds).
    """
    return "\0".join(texts) + "\0" if texts else ""


def frame(fields: Iterable[object]) -> bytes:
    """One message: length prefix + NUL-terminated fields."""
    body = join_fields([_enc(f) for f in fields]).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def server_hello(version: int, conn_time: str) -> bytes:
    body = f"{version}\0{conn_time}\0".encode()
    return struct.pack(">I", len(body)) + body


class FrameReader:
    """Incremental parser: the handshake first, then length-prefixed field lists."""

    MAX_MESSAGE = 1 << 24

    def __init__(self) -> None:
        self._buf = bytearray()
        self.handshake_done = False

    def feed(self, data: bytes) -> None:
        self._buf += data

    def handshake(self) -> tuple[int, int, str] | None:
        """``(min_version, max_version, options)`` once the client hello is complete."""
        if len(self._buf) < 8:
            return None
        if bytes(self._buf[:4]) != HEADER:
            raise ProtocolError("expected the TWS API handshake ('API\\0')")
        (n,) = struct.unpack(">I", self._buf[4:8])
        if n > 1024:
            raise ProtocolError("oversized handshake")
        if len(self._buf) < 8 + n:
            return None
        text = bytes(self._buf[8:8 + n]).decode("ascii", errors="replace")
        del self._buf[:8 + n]
        self.handshake_done = True
        spec, _, options = text.partition(" ")
        if not spec.startswith("v") or ".." not in spec:
            raise ProtocolError(f"bad version range {text!r}")
        lo, _, hi = spec[1:].partition("..")
        try:
            return int(lo), int(hi), options
        except ValueError:
            raise ProtocolError(f"bad version range {text!r}") from None

    def messages(self) -> list[list[str]]:
        out: list[list[str]] = []
        buf = self._buf
        while len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if n > self.MAX_MESSAGE:
                raise ProtocolError(f"message of {n} bytes")
            if len(buf) < 4 + n:
                break
            text = bytes(buf[4:4 + n]).decode("utf-8", errors="replace")
            del buf[:4 + n]
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            if fields:
                out.append(fields)
        return out


# ---------------------------------------------------------------- values


def price_text(units: int | Fraction | None, places: int = 2) -> str:
    """A price on the wire ("" when unset), from exact units."""
    if units is None:
        return ""
    return fmt_units(units, places)


def parse_price(text: str) -> int | None:
    """Wire text -> units; "" and the TWS 'unset' sentinel mean no price."""
    t = text.strip()
    if not t or t.upper() in (UNSET_DOUBLE.upper(), "1.7976931348623157E+308", "INFINITE"):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise ProtocolError(f"bad price {text!r}") from None
    if abs(d) > Decimal("1e15"):  # an 'unset' double spelled some other way
        return None
    try:
        return to_units(d)
    except UnitError as exc:
        raise ProtocolError(str(exc)) from None


def parse_int(text: str, default: int = 0) -> int:
    t = text.strip()
    if not t:
        return default
    try:
        return int(t)
    except ValueError:
        try:
            d = Decimal(t)
        except InvalidOperation:
            raise ProtocolError(f"bad integer {text!r}") from None
        if d != d.to_integral_value():
            raise ProtocolError(f"bad integer {text!r}")
        return int(d)


def parse_bool(text: str) -> bool:
    t = text.strip()
    return bool(t) and t not in ("0", "false", "False")


def parse_quantity(text: str) -> Decimal:
    try:
        return Decimal(text.strip() or "0")
    except InvalidOperation:
        raise ProtocolError(f"bad quantity {text!r}") from None


# ---------------------------------------------------------------- contracts


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


@attrs.frozen
class ContractQuery:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary: str
    currency: str
    local_symbol: str


def parse_contract(fields: Sequence[str], at: int) -> ContractQuery:
    """The 12 contract fields ``ib_async`` sends (client.send's Contract handler)."""
    if len(fields) < at + 12:
        raise ProtocolError("truncated contract")
    f = fields[at:at + 12]
    return ContractQuery(con_id=parse_int(f[0]), symbol=f[1], sec_type=f[2], exchange=f[7],
                         primary=f[8], currency=f[9], local_symbol=f[10])


# ---------------------------------------------------------------- placeOrder


@attrs.frozen
class PlaceOrder:
    """The fields of a placeOrder the simulator acts on (the rest are walked past)."""

    order_id: int
    contract: ContractQuery
    action: str
    quantity: Decimal
    order_type: str
    lmt_price: int | None
    aux_price: int | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    good_after: str
    good_till: str
    what_if: bool
    algo: str
    conditions: int
    unsupported: str = ""  # why the simulator cannot take this order, if it cannot


class _Cursor:
    def __init__(self, fields: Sequence[str], at: int) -> None:
        self.f = fields
        self.i = at

    def take(self, n: int = 1) -> list[str]:
        if self.i + n > len(self.f):
            raise ProtocolError("truncated placeOrder")
        out = list(self.f[self.i:self.i + n])
        self.i += n
        return out

    def one(self) -> str:
        return self.take(1)[0]


def parse_place_order(fields: Sequence[str], version: int) -> PlaceOrder:
    """Walk ``ib_async.client.Client.placeOrder``'s field list for ``version``."""
    c = _Cursor(fields, 1)
    order_id = parse_int(c.one())
    contract = parse_contract(fields, c.i)
    c.take(12)
    c.take(2)  # secIdType, secId
    (action, qty, otype, lmt, aux, tif, oca, account, _open_close, _origin, order_ref,
     transmit, parent_id, _block, _sweep, _display, _trigger, outside_rth, _hidden) = c.take(19)
    base = dict(order_id=order_id, contract=contract, action=action.upper(),
                quantity=parse_quantity(qty), order_type=otype.upper().strip(),
                lmt_price=parse_price(lmt), aux_price=parse_price(aux), tif=tif.upper().strip(),
                oca_group=oca, account=account, order_ref=order_ref,
                transmit=parse_bool(transmit) if transmit else True,
                parent_id=parse_int(parent_id), outside_rth=parse_bool(outside_rth))
    if contract.sec_type.upper() == "BAG":
        return PlaceOrder(**base, good_after="", good_till="", what_if=False, algo="",
                          conditions=0, unsupported="combo (BAG) orders")
    c.take(1)  # deprecated sharesAllocation
    _disc, good_after, good_till = c.take(3)
    c.take(3)  # faGroup, faMethod, faPercentage
    if version < 177:
        c.take(1)  # faProfile
    rest = c.take(24)  # modelCode .. deltaNeutralAuxPrice
    dn_order_type = rest[22]
    if dn_order_type:
        c.take(8)
    cont = c.take(7)  # continuousUpdate .. scalePriceIncrement
    inc_text = cont[6].strip()
    try:
        inc = Decimal(inc_text) if inc_text else None
    except InvalidOperation:
        inc = None
    if inc is not None and 0 < inc < Decimal("1e300"):
        c.take(7)
    _table, _start, _stop, hedge_type = c.take(4)
    if hedge_type:
        c.take(1)
    c.take(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if parse_bool(c.one()):
        c.take(3)  # delta-neutral contract
    algo = c.one()
    if algo:
        n = parse_int(c.one())
        c.take(2 * n)
    _algo_id, what_if, _misc, _solicited, _rsize, _rprice = c.take(6)
    if otype.upper() in ("PEG BENCH", "PEGBENCH"):
        c.take(5)
    conditions = parse_int(c.one())
    return PlaceOrder(**base, good_after=good_after, good_till=good_till,
                      what_if=parse_bool(what_if), algo=algo, conditions=conditions)


# ---------------------------------------------------------------- outgoing messages


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


__all__ = [name for name in dir() if not name.startswith("_")]
