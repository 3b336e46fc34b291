"""Kite's order-management layer over the simulated exchange.

The exchange (``sim.exchange`` via ``RealtimeMarket``) knows orders, fills and quotes.
Kite adds what a Kite client sees: order ids and the status ladder (``PUT ORDER REQ
RECEIVED`` ... ``OPEN`` / ``TRIGGER PENDING`` / ``COMPLETE`` / ``CANCELLED`` /
``REJECTED``), order history, a trade book with trade ids, positions per product,
margins, quotes, input validation with Kite's exception types, and postbacks.

Order types map onto the exchange as:

* ``MARKET`` -> exchange MARKET; ``LIMIT`` -> exchange LIMIT.
* ``SL-M`` -> exchange STOP (triggers on the quote, fills at the first price after: a
  gap is filled at the gapped price, as SCENARIO_FORMAT.md promises).
* ``SL`` (stop-limit) -> held here as TRIGGER PENDING; when the quote crosses the
  trigger it goes to the exchange as a LIMIT at ``price``. The exchange has no
  stop-limit of its own and does not need one.

Validity: ``DAY`` never expires (the simulated session does not close), ``IOC``
cancels what does not fill on arrival, ``TTL`` expires after ``validity_ttl`` minutes
of exchange time. Money is exact: prices are integer units; how they, the errors and
the form fields look on the wire is ``kite_rest``.

Risk checks as Kite's RMS makes them: a quantity above ``max_order_qty`` is refused
(InputException), and an order that grows the position beyond what the account's live
balance pays for is refused with Kite's "Insufficient funds" wording (OrderException).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import time
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

from ..kernel.units import NS_PER_S, fmt_units, to_units
from ..kernel.venue import ExecReport, ReportKind
from .kite_instruments import KiteInstrument
from .kite_records import KOrder, PositionRow, Stats
from .kite_rest import (
    IST,
    form_int,
    form_price,
    form_value,
    input_error,
    ist,
    order_error,
    px,
)
from .limits import MAX_ORDER_QTY
from .realtime import RealtimeMarket

VARIETIES = ("regular", "amo", "co", "iceberg", "auction")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("MIS", "NRML", "CNC", "MTF")
VALIDITIES = ("DAY", "IOC", "TTL")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


Postback = Callable[[KOrder, str], None]  # (order, postback status)

log = logging.getLogger("triotrade.gateway.kite")


class KiteBook:
    """Orders, trades, positions and quotes of one simulated Kite account."""

    def __init__(self, market: RealtimeMarket, master: list[KiteInstrument],
                 start_cash: int, max_order_qty: int = MAX_ORDER_QTY) -> None:
        self.market = market
        self.max_order_qty = max_order_qty
        self.master = master
        self.by_key = {i.key: i for i in master}
        self.by_token = {i.token: i for i in master}
        self.by_idx = {i.idx: i for i in master}
        self.orders: dict[str, KOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self.positions: dict[tuple[int, str], PositionRow] = {}
        self.stats = [Stats() for _ in master]
        self.start_cash = start_cash
        self.cash_delta = 0
        self._seq = 0
        self._trade_seq = 0
        self._execs: set[str] = set()  # exchange exec ids already booked
        self._quiet: set[str] = set()  # order ids mid-modify: swallow the exchange's ack/cancel
        self._postbacks: list[Postback] = []
        market.add_report_listener(self.on_report)
        market.add_quote_listener(self.on_quote)

    def add_postback_listener(self, fn: Postback) -> None:
        self._postbacks.append(fn)

    def remove_postback_listener(self, fn: Postback) -> None:
        if fn in self._postbacks:
            self._postbacks.remove(fn)

    # ------------------------------------------------------------ status changes

    def _set(self, o: KOrder, status: str, message: str | None = None,
             postback: str | None = None) -> None:
        now = time.time()
        o.status = status
        if message is not None:
            o.status_message = message
        o.update_ts = now
        o.history.append(o.as_dict())
        if postback is not None:
            for fn in list(self._postbacks):
                fn(o, postback)

    def _next_id(self) -> str:
        self._seq += 1
        day = dt.datetime.now(IST).strftime("%y%m%d")
        return f"{day}{self._seq:09d}"

    # ------------------------------------------------------------ lookups

    def instrument(self, exchange: str, symbol: str) -> KiteInstrument:
        inst = self.by_key.get(f"{exchange}:{symbol}")
        if inst is None:
            raise input_error(f"Invalid `tradingsymbol` {symbol!r} on {exchange}: "
                              "instrument not found")
        return inst

    # ------------------------------------------------------------ order entry

    def place(self, variety: str, params: dict[str, list[str]]) -> KOrder:
        one = form_value
        if variety not in VARIETIES:
            raise input_error(f"Invalid variety `{variety}`")
        if variety != "regular":
            raise input_error(f"Variety `{variety}` is not offered by the simulated exchange")
        exchange = one(params, "exchange")
        symbol = one(params, "tradingsymbol")
        assert exchange is not None and symbol is not None
        inst = self.instrument(exchange, symbol)
        if not inst.tradable:
            raise input_error(f"{inst.key} is an index and cannot be traded")
        side = one(params, "transaction_type")
        if side not in ("BUY", "SELL"):
            raise input_error(f"Invalid `transaction_type` {side!r}: BUY or SELL")
        otype = one(params, "order_type")
        if otype not in ORDER_TYPES:
            raise input_error(f"Invalid `order_type` {otype!r}: one of {', '.join(ORDER_TYPES)}")
        product = one(params, "product")
        if product not in PRODUCTS:
            raise input_error(f"Invalid `product` {product!r}: one of {', '.join(PRODUCTS)}")
        if product == "CNC" and inst.exchange not in ("NSE", "BSE"):
            raise input_error(f"Product CNC is for equity delivery; use NRML or MIS on "
                              f"{inst.exchange}")
        qty = form_int(one(params, "quantity"), "quantity")
        if qty <= 0:
            raise input_error(f"Invalid `quantity` {qty}: must be positive")
        if qty > self.max_order_qty:
            raise input_error(f"Invalid `quantity` {qty}: at most {self.max_order_qty} per order")
        if qty % inst.lot_size:
            raise input_error(f"Quantity {qty} should be a multiple of the lot size "
                              f"{inst.lot_size}")
        validity = one(params, "validity", required=False) or "DAY"
        if validity not in VALIDITIES:
            raise input_error(f"Invalid `validity` {validity!r}: one of {', '.join(VALIDITIES)}")
        ttl = form_int(one(params, "validity_ttl", required=False), "validity_ttl")
        if validity == "TTL" and not 0 < ttl <= 24 * 60:
            raise input_error("`validity_ttl` (minutes, 1 to 1440) is required for TTL orders")
        price = form_price(one(params, "price", required=False), "price", inst)
        trigger = form_price(one(params, "trigger_price", required=False), "trigger_price", inst)
        if otype in ("LIMIT", "SL") and price <= 0:
            raise input_error(f"`price` is required for {otype} orders")
        if otype in ("SL", "SL-M") and trigger <= 0:
            raise input_error(f"`trigger_price` is required for {otype} orders")
        if otype == "SL" and ((side == "BUY" and price < trigger) or
                              (side == "SELL" and price > trigger)):
            raise input_error("Trigger price must be on the near side of the limit price for "
                              f"a {side} SL order")
        disclosed = form_int(one(params, "disclosed_quantity", required=False),
                              "disclosed_quantity")
        if disclosed < 0 or disclosed > qty:
            raise input_error("Invalid `disclosed_quantity`")
        protection = form_int(one(params, "market_protection", required=False),
                               "market_protection")
        if protection not in (-1, 0) and not 0 < protection <= 100:
            raise input_error("Invalid `market_protection`: -1 (auto), or 1 to 100 percent")
        tag = one(params, "tag", required=False)
        if tag is not None and not _TAG.match(tag):
            raise input_error("Invalid `tag`: up to 20 letters, digits, _ or -")
        self._margin_check(inst, 1 if side == "BUY" else -1, qty,
                           price if otype in ("LIMIT", "SL") else trigger)
        order = KOrder(self._next_id(), inst, variety, side, otype, product, validity, ttl, qty,
                       price if otype in ("LIMIT", "SL") else 0,
                       trigger if otype in ("SL", "SL-M") else 0, disclosed, tag, protection,
                       time.time())
        self.orders[order.order_id] = order
        log.info("order %s: %s %d %s %s %s", order.order_id, side, qty, inst.key, otype, product)
        self._set(order, "PUT ORDER REQ RECEIVED")
        self._set(order, "VALIDATION PENDING")
        self._set(order, "OPEN PENDING")
        order.exchange_order_id = f"1{order.order_id}"
        order.exchange_ts = time.time()
        if otype == "SL":
            self._set(order, "TRIGGER PENDING", postback="TRIGGER PENDING")
            self._maybe_trigger(order)
        else:
            self._to_exchange(order, order.quantity)
        return order

    def _margin_check(self, inst: KiteInstrument, sign: int, qty: int, price: int) -> None:
        """RMS: the value an order adds to the position must be covered by the live balance."""
        held = sum(row.buy_qty - row.sell_qty for (idx, _p), row in self.positions.items()
                   if idx == inst.idx)
        after = held + sign * qty
        if abs(after) <= abs(held):
            return  # reducing or closing: always allowed
        st = self.stats[inst.idx]
        est = max(price, st.ask if sign > 0 else st.bid, st.last)
        required = (abs(after) - abs(held)) * est
        available = self.start_cash + self.cash_delta
        if required > available:
            raise order_error(f"Insufficient funds. Required margin is {fmt_units(required, 2)} "
                              f"but available margin is {fmt_units(max(available, 0), 2)}.")

    def _expire_ns(self, o: KOrder) -> int | None:
        if o.validity == "TTL":
            return self.market.virtual_now() + o.validity_ttl * 60 * NS_PER_S
        return None

    def _to_exchange(self, o: KOrder, qty: int) -> None:
        otype = {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL-M": "STOP", "SL": "LIMIT"}[o.order_type]
        price = {"MARKET": None, "LIMIT": o.price, "SL-M": o.trigger_price,
                 "SL": o.price}[o.order_type]
        o.at_exchange = True
        self.market.submit(o.order_id, o.inst.symbol, "ENTRY", o.sign, qty, otype, price,
                           self._expire_ns(o))
        if o.validity == "IOC" and o.working:
            self._quiet.discard(o.order_id)  # this cancel is the real outcome: report it
            self.market.cancel(o.order_id)

    def modify(self, variety: str, order_id: str, params: dict[str, list[str]]) -> KOrder:
        o = self.orders.get(order_id)
        if o is None or o.variety != variety:
            raise input_error(f"Couldn't find that `order_id` ({order_id}).")
        if not o.working:
            raise order_error(f"Order cannot be modified as it is {o.status}.")
        one = form_value
        qty = form_int(one(params, "quantity", required=False), "quantity", o.quantity)
        if qty <= o.filled or qty % o.inst.lot_size:
            raise input_error(f"Invalid `quantity` {qty}: must be a multiple of the lot size "
                              f"{o.inst.lot_size} above the filled {o.filled}")
        otype = one(params, "order_type", required=False) or o.order_type
        if otype not in ORDER_TYPES:
            raise input_error(f"Invalid `order_type` {otype!r}")
        price_text = one(params, "price", required=False)
        trigger_text = one(params, "trigger_price", required=False)
        price = form_price(price_text, "price", o.inst) if price_text is not None else o.price
        trigger = (form_price(trigger_text, "trigger_price", o.inst) if trigger_text is not None
                   else o.trigger_price)
        if otype in ("LIMIT", "SL") and price <= 0:
            raise input_error(f"`price` is required for {otype} orders")
        if otype in ("SL", "SL-M") and trigger <= 0:
            raise input_error(f"`trigger_price` is required for {otype} orders")
        self._set(o, "MODIFY VALIDATION PENDING")
        self._set(o, "MODIFY PENDING")
        self._quiet.add(o.order_id)
        try:
            if o.at_exchange:
                self.market.cancel(o.order_id)
            o.quantity, o.order_type = qty, otype
            o.price = price if otype in ("LIMIT", "SL") else 0
            o.trigger_price = trigger if otype in ("SL", "SL-M") else 0
            o.modified = True
            o.at_exchange = False
            self._set(o, "MODIFIED")
            if otype == "SL":
                self._set(o, "TRIGGER PENDING", postback="UPDATE")
                self._maybe_trigger(o)
            else:
                self._set(o, "TRIGGER PENDING" if otype == "SL-M" else "OPEN", postback="UPDATE")
                self._to_exchange(o, o.quantity - o.filled)
        finally:
            self._quiet.discard(o.order_id)
        return o

    def cancel(self, variety: str, order_id: str) -> KOrder:
        o = self.orders.get(order_id)
        if o is None or o.variety != variety:
            raise input_error(f"Couldn't find that `order_id` ({order_id}).")
        if not o.working:
            raise order_error(f"Order cannot be cancelled as it is {o.status}.")
        if o.at_exchange:
            if not self.market.cancel(o.order_id):
                raise order_error("Order cannot be cancelled as it is being processed. Try later.")
        else:
            o.cancelled = o.quantity - o.filled
            self._set(o, "CANCELLED", "Cancelled by the user", postback="CANCELLED")
        return o

    # ------------------------------------------------------------ exchange reports

    def on_report(self, r: ExecReport) -> None:
        o = self.orders.get(r.order_id)
        if o is None:
            return
        if r.kind is ReportKind.ACCEPTED:
            if o.order_id in self._quiet:
                return
            status = "TRIGGER PENDING" if o.order_type == "SL-M" else "OPEN"
            self._set(o, status, postback=status)
        elif r.kind is ReportKind.REJECTED:
            o.cancelled = 0
            self._set(o, "REJECTED", f"RMS: {r.reason}" if r.reason else "Rejected by the exchange",
                      postback="REJECTED")
        elif r.kind is ReportKind.FILL:
            if r.exec_id:
                if r.exec_id in self._execs:
                    return  # the exchange repeated itself (duplicate_reports fault)
                self._execs.add(r.exec_id)
            self._fill(o, r.qty, r.price)
        elif r.kind is ReportKind.CANCELLED:
            if o.order_id in self._quiet:
                return
            o.cancelled = o.quantity - o.filled
            msg = ("Cancelled by the exchange (IOC)" if o.validity == "IOC"
                   else "Cancelled by the user")
            self._set(o, "CANCELLED", msg, postback="CANCELLED")
        elif r.kind is ReportKind.EXPIRED:
            o.cancelled = o.quantity - o.filled
            self._set(o, "CANCELLED", "Order expired (TTL)", postback="CANCELLED")

    def _fill(self, o: KOrder, qty: int, price: int) -> None:
        now = time.time()
        o.filled += qty
        o.fill_value += qty * price
        self._trade_seq += 1
        trade_id = f"{50000000 + self._trade_seq}"
        self.trades.append({
            "trade_id": trade_id,
            "order_id": o.order_id,
            "exchange_order_id": o.exchange_order_id,
            "tradingsymbol": o.inst.symbol,
            "exchange": o.inst.exchange,
            "instrument_token": o.inst.token,
            "product": o.product,
            "average_price": px(price),
            "quantity": qty,
            "fill_timestamp": ist(now),
            "order_timestamp": ist(o.placed),
            "exchange_timestamp": ist(now),
            "transaction_type": o.transaction_type,
        })
        row = self.positions.setdefault((o.inst.idx, o.product), PositionRow())
        if o.sign > 0:
            row.buy_qty += qty
            row.buy_value += qty * price
        else:
            row.sell_qty += qty
            row.sell_value += qty * price
        self.cash_delta -= o.sign * qty * price
        log.info("fill %s: %s %d %s @ %s (%d/%d)", o.order_id, o.transaction_type, qty,
                 o.inst.key, px(price), o.filled, o.quantity)
        st = self.stats[o.inst.idx]
        st.volume += qty
        st.turnover += qty * price
        st.last_qty = qty
        st.last_trade_ts = now
        if o.filled >= o.quantity:
            self._set(o, "COMPLETE", postback="COMPLETE")
        else:
            self._set(o, "OPEN", postback="UPDATE")

    # ------------------------------------------------------------ market data

    def on_quote(self, idx: int, tick: tuple[int, ...]) -> None:
        st = self.stats[idx]
        last = tick[4]
        if not st.has_quote:
            st.open = st.high = st.low = st.close = last
            st.has_quote = True
        st.high = max(st.high, last)
        st.low = min(st.low, last)
        st.last, st.bid, st.ask = last, tick[2], tick[3]
        st.bid_size, st.ask_size = tick[5], tick[6]
        st.ts = time.time()
        for o in list(self.orders.values()):
            if o.inst.idx == idx and o.order_type == "SL" and not o.at_exchange and o.working:
                self._maybe_trigger(o)

    def _maybe_trigger(self, o: KOrder) -> None:
        st = self.stats[o.inst.idx]
        if not st.has_quote:
            return
        hit = st.ask >= o.trigger_price if o.sign > 0 else st.bid <= o.trigger_price
        if hit:
            self._quiet.add(o.order_id)
            try:
                self._set(o, "OPEN", postback="UPDATE")
                self._to_exchange(o, o.quantity - o.filled)
            finally:
                self._quiet.discard(o.order_id)

    def ensure_stats(self) -> None:
        """Fill stats from the market's last ticks (quotes asked for before any listener ran)."""
        for inst in self.master:
            tick = self.market.last_tick[inst.idx]
            if tick is not None and not self.stats[inst.idx].has_quote:
                self.on_quote(inst.idx, tick)

    def quote(self, inst: KiteInstrument, kind: str) -> dict[str, Any]:
        st = self.stats[inst.idx]
        last = px(st.last)
        if kind == "ltp":
            return {"instrument_token": inst.token, "last_price": last}
        ohlc = {"open": px(st.open), "high": px(st.high), "low": px(st.low), "close": px(st.close)}
        if kind == "ohlc":
            return {"instrument_token": inst.token, "last_price": last, "ohlc": ohlc}
        band = st.close // 5
        tick = to_units(inst.tick_size) or 1
        depth_buy = [{"price": px(st.bid), "quantity": st.bid_size,
                      "orders": 1 if st.bid_size else 0}]
        depth_sell = [{"price": px(st.ask), "quantity": st.ask_size,
                       "orders": 1 if st.ask_size else 0}]
        empty = {"price": Decimal(0), "quantity": 0, "orders": 0}
        depth_buy += [dict(empty) for _ in range(4)]
        depth_sell += [dict(empty) for _ in range(4)]
        return {
            "instrument_token": inst.token,
            "timestamp": ist(st.ts or None),
            "last_trade_time": ist(st.last_trade_ts or None),
            "last_price": last,
            "last_quantity": st.last_qty,
            "buy_quantity": st.bid_size,
            "sell_quantity": st.ask_size,
            "volume": st.volume,
            "average_price": px(Fraction(st.turnover, st.volume)) if st.volume else Decimal(0),
            "oi": 0,
            "oi_day_high": 0,
            "oi_day_low": 0,
            "net_change": px(st.last - st.close),
            "lower_circuit_limit": px(max(st.close - band, 0) // tick * tick),
            "upper_circuit_limit": px((st.close + band) // tick * tick),
            "ohlc": ohlc,
            "depth": {"buy": depth_buy, "sell": depth_sell},
        }

    # ------------------------------------------------------------ account

    def positions_payload(self) -> dict[str, Any]:
        rows = []
        for (idx, product), row in sorted(self.positions.items(), key=lambda kv: kv[0]):
            inst = self.by_idx[idx]
            st = self.stats[idx]
            qty = row.buy_qty - row.sell_qty
            value = row.sell_value - row.buy_value  # cash flow so far
            pnl = value + qty * st.last
            closed = min(row.buy_qty, row.sell_qty)
            buy_avg = Fraction(row.buy_value, row.buy_qty) if row.buy_qty else Fraction(0)
            sell_avg = Fraction(row.sell_value, row.sell_qty) if row.sell_qty else Fraction(0)
            realised = closed * (sell_avg - buy_avg)
            unrealised = Fraction(pnl) - realised
            avg = Fraction(0)
            if qty > 0:
                avg = buy_avg
            elif qty < 0:
                avg = sell_avg
            rows.append({
                "tradingsymbol": inst.symbol, "exchange": inst.exchange,
                "instrument_token": inst.token, "product": product, "quantity": qty,
                "overnight_quantity": 0, "multiplier": 1, "average_price": px(avg),
                "close_price": px(st.close), "last_price": px(st.last), "value": px(value),
                "pnl": px(pnl), "m2m": px(pnl), "unrealised": px(unrealised),
                "realised": px(realised), "buy_quantity": row.buy_qty, "buy_price": px(buy_avg),
                "buy_value": px(row.buy_value), "buy_m2m": px(row.buy_value),
                "sell_quantity": row.sell_qty, "sell_price": px(sell_avg),
                "sell_value": px(row.sell_value), "sell_m2m": px(row.sell_value),
                "day_buy_quantity": row.buy_qty, "day_buy_price": px(buy_avg),
                "day_buy_value": px(row.buy_value), "day_sell_quantity": row.sell_qty,
                "day_sell_price": px(sell_avg), "day_sell_value": px(row.sell_value),
            })
        return {"net": rows, "day": [dict(r) for r in rows]}

    def margins_segment(self, segment: str) -> dict[str, Any]:
        if segment == "commodity":
            zero = Decimal(0)
            return {"enabled": False, "net": zero,
                    "available": {"adhoc_margin": zero, "cash": zero, "opening_balance": zero,
                                  "live_balance": zero, "collateral": zero,
                                  "intraday_payin": zero},
                    "utilised": {}}
        live = self.start_cash + self.cash_delta
        return {
            "enabled": True,
            "net": px(live),
            "available": {"adhoc_margin": Decimal(0), "cash": px(self.start_cash),
                          "opening_balance": px(self.start_cash), "live_balance": px(live),
                          "collateral": Decimal(0), "intraday_payin": Decimal(0)},
            "utilised": {"debits": px(max(-self.cash_delta, 0)), "exposure": Decimal(0),
                         "m2m_realised": Decimal(0), "m2m_unrealised": Decimal(0),
                         "option_premium": Decimal(0), "payout": Decimal(0), "span": Decimal(0),
                         "holding_sales": Decimal(0), "turnover": Decimal(0),
                         "liquid_collateral": Decimal(0), "stock_collateral": Decimal(0),
                         "delivery": Decimal(0)},
        }

    def last_prices(self) -> dict[int, str]:
        return {i.idx: format(px(self.stats[i.idx].last), "f") for i in self.master
                if self.stats[i.idx].has_quote}


__all__ = ["KiteBook", "KOrder", "Stats", "PositionRow"]
