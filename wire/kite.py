"""Kite Connect's ticker wire format: binary tick packets, tokens and text messages.

One module for both ends of the wire. The live adapter (``venues.kite``) decodes
what the exchange sends; the simulated gateway (``gateways.kite``) encodes it.
Sharing the layouts means a change to one side is a change to the other, and the
test that runs the real ``KiteTicker`` against the gateway keeps both honest with
Zerodha's own parser (``KiteTicker._parse_binary``).

Layouts (all big-endian, unsigned 32-bit unless noted):

* message: ``uint16`` packet count, then per packet ``uint16`` length + bytes.
  A 1-byte message is a heartbeat.
* ltp (8): token, last price.
* quote (44): token, last, last qty, avg traded price, volume, total buy qty,
  total sell qty, open, high, low, close.
* full (184): quote + last trade time, oi, oi day high, oi day low, exchange
  timestamp, then 10 depth entries of 12 bytes (qty, price, ``uint16`` orders,
  2 bytes padding): 5 bids, then 5 offers.
* index quote (28): token, last, high, low, open, close, change; index full (32):
  + exchange timestamp.

Prices on the wire are integers: paise (divide by 100), except CDS (1e7) and
BCD/NCO (1e4). ``instrument_token & 0xff`` is the segment, which picks the divisor.
The kernel's price unit is 1e-8, so each wire price is an exact integer multiple
of units; nothing here touches a float.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Iterable

import attrs

from ..kernel.units import PRICE_SCALE

# segment codes, as in KiteTicker.EXCHANGE_MAP
SEGMENTS: dict[str, int] = {
    "NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7, "MCXSX": 8,
    "INDICES": 9, "NCO": 12,
}
SEGMENT_INDICES = SEGMENTS["INDICES"]

MODE_LTP = "ltp"
MODE_QUOTE = "quote"
MODE_FULL = "full"
MODES = (MODE_LTP, MODE_QUOTE, MODE_FULL)

LEN_LTP = 8
LEN_QUOTE = 44
LEN_FULL = 184
LEN_INDEX_QUOTE = 28
LEN_INDEX_FULL = 32
DEPTH_LEVELS = 5

HEARTBEAT = b"\x00"

_HEAD = struct.Struct(">H")
_LTP = struct.Struct(">II")
_QUOTE = struct.Struct(">11I")
_FULL_EXTRA = struct.Struct(">5I")
_DEPTH = struct.Struct(">IIHxx")
_INDEX_QUOTE = struct.Struct(">7I")
_INDEX_FULL = struct.Struct(">8I")
_U32 = 0xFFFFFFFF


class WireError(ValueError):
    """A packet or message that does not follow the layouts above."""


def segment_of(token: int) -> int:
    return token & 0xFF


def make_token(exchange_token: int, segment: int) -> int:
    """``instrument_token = exchange_token << 8 | segment`` (how Kite builds them)."""
    if not 0 < exchange_token < 1 << 24:
        raise ValueError(f"exchange token {exchange_token} does not fit in 24 bits")
    return (exchange_token << 8) | segment


def divisor(segment: int) -> int:
    """What a wire price is divided by to get rupees (KiteTicker._parse_binary)."""
    if segment == SEGMENTS["CDS"]:
        return 10_000_000
    if segment in (SEGMENTS["BCD"], SEGMENTS["NCO"]):
        return 10_000
    return 100


def units_per_wire(segment: int) -> int:
    """Price units (1e-8) in one wire price step of this segment."""
    return PRICE_SCALE // divisor(segment)


def wire_to_units(value: int, segment: int) -> int:
    return value * units_per_wire(segment)


def units_to_wire(units: int, segment: int) -> int:
    """Units to a wire integer; a price finer than the segment's step is refused."""
    step = units_per_wire(segment)
    q, r = divmod(units, step)
    if r:
        raise WireError(f"price of {units} units is not a multiple of the wire step {step}")
    if not 0 <= q <= _U32:
        raise WireError(f"price of {units} units does not fit the 32-bit wire field")
    return q


@attrs.define(slots=True)
class DepthLevel:
    qty: int = 0
    price: int = 0  # wire integer
    orders: int = 0


def _empty_depth() -> list[DepthLevel]:
    return [DepthLevel() for _ in range(DEPTH_LEVELS)]


@attrs.define(slots=True)
class TickPacket:
    """One instrument's tick with wire integers (prices undivided), any mode."""

    token: int
    mode: str = MODE_FULL
    last: int = 0
    last_qty: int = 0
    avg_price: int = 0
    volume: int = 0
    buy_qty: int = 0
    sell_qty: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    last_trade_time: int = 0  # unix seconds
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_ts: int = 0  # unix seconds
    change: int = 0  # index packets only (the exchange's own net change field)
    buy: list[DepthLevel] = attrs.Factory(_empty_depth)
    sell: list[DepthLevel] = attrs.Factory(_empty_depth)

    @property
    def segment(self) -> int:
        return self.token & 0xFF

    @property
    def is_index(self) -> bool:
        return self.segment == SEGMENT_INDICES


def encode_packet(p: TickPacket, mode: str | None = None) -> bytes:
    """The packet bytes for ``mode`` (default: the packet's own mode)."""
    mode = mode or p.mode
    if mode == MODE_LTP:
        return _LTP.pack(p.token, p.last)
    if p.is_index:
        if mode == MODE_QUOTE:
            return _INDEX_QUOTE.pack(p.token, p.last, p.high, p.low, p.open, p.close,
                                     p.change & _U32)
        return _INDEX_FULL.pack(p.token, p.last, p.high, p.low, p.open, p.close,
                                p.change & _U32, p.exchange_ts)
    head = _QUOTE.pack(p.token, p.last, p.last_qty, p.avg_price, p.volume, p.buy_qty,
                       p.sell_qty, p.open, p.high, p.low, p.close)
    if mode == MODE_QUOTE:
        return head
    if mode != MODE_FULL:
        raise WireError(f"unknown mode {mode!r}")
    parts = [head, _FULL_EXTRA.pack(p.last_trade_time, p.oi, p.oi_day_high, p.oi_day_low,
                                    p.exchange_ts)]
    for side in (p.buy, p.sell):
        levels = list(side[:DEPTH_LEVELS]) + _empty_depth()[len(side):]
        for lvl in levels[:DEPTH_LEVELS]:
            parts.append(_DEPTH.pack(lvl.qty, lvl.price, min(lvl.orders, 0xFFFF)))
    return b"".join(parts)


def encode_message(packets: Iterable[bytes]) -> bytes:
    packets = list(packets)
    if len(packets) > 0xFFFF:
        raise WireError("too many packets for one message")
    out = [_HEAD.pack(len(packets))]
    for pk in packets:
        out.append(_HEAD.pack(len(pk)))
        out.append(pk)
    return b"".join(out)


def split_message(data: bytes) -> list[bytes]:
    """The packets of a binary message; a heartbeat (or any message < 2 bytes) has none."""
    if len(data) < 2:
        return []
    (count,) = _HEAD.unpack_from(data, 0)
    out = []
    j = 2
    for _ in range(count):
        if j + 2 > len(data):
            raise WireError("truncated message: packet length missing")
        (n,) = _HEAD.unpack_from(data, j)
        if j + 2 + n > len(data):
            raise WireError("truncated message: packet shorter than its length")
        out.append(data[j + 2:j + 2 + n])
        j += 2 + n
    return out


def decode_packet(pk: bytes) -> TickPacket:
    """Any of the five packet layouts, by length (as KiteTicker does)."""
    n = len(pk)
    if n == LEN_LTP:
        token, last = _LTP.unpack(pk)
        return TickPacket(token, MODE_LTP, last)
    if n in (LEN_INDEX_QUOTE, LEN_INDEX_FULL):
        if n == LEN_INDEX_QUOTE:
            token, last, high, low, open_, close, change = _INDEX_QUOTE.unpack(pk)
            ts = 0
        else:
            token, last, high, low, open_, close, change, ts = _INDEX_FULL.unpack(pk)
        if change & 0x80000000:
            change -= 1 << 32
        return TickPacket(token, MODE_QUOTE if n == LEN_INDEX_QUOTE else MODE_FULL, last,
                          open=open_, high=high, low=low, close=close, change=change,
                          exchange_ts=ts)
    if n in (LEN_QUOTE, LEN_FULL):
        (token, last, lq, avg, vol, bq, sq, open_, high, low, close) = _QUOTE.unpack_from(pk, 0)
        p = TickPacket(token, MODE_QUOTE if n == LEN_QUOTE else MODE_FULL, last, lq, avg, vol,
                       bq, sq, open_, high, low, close)
        if n == LEN_FULL:
            (p.last_trade_time, p.oi, p.oi_day_high, p.oi_day_low,
             p.exchange_ts) = _FULL_EXTRA.unpack_from(pk, LEN_QUOTE)
            off = 64
            for side in (p.buy, p.sell):
                for lvl in side:
                    lvl.qty, lvl.price, lvl.orders = _DEPTH.unpack_from(pk, off)
                    off += _DEPTH.size
        return p
    raise WireError(f"unknown packet length {n}")


def decode_message(data: bytes) -> list[TickPacket]:
    return [decode_packet(pk) for pk in split_message(data)]


# exchanges Kite lists; any other scenario/config exchange (e.g. the default SMART) is NSE
KITE_EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX")


def kite_exchange(scenario_exchange: str) -> tuple[str, str | None]:
    """(Kite exchange, forced segment) for a scenario's ``exchange`` field.

    ``INDICES`` (or ``NSE-INDICES``/``BSE-INDICES``) marks an index: listed on NSE (BSE),
    segment INDICES, not tradable. Unknown exchanges (the default SMART) are served
    as NSE so any scenario can be pointed at a Kite client.
    """
    ex = scenario_exchange.upper()
    if ex in ("INDICES", "NSE-INDICES"):
        return "NSE", "INDICES"
    if ex == "BSE-INDICES":
        return "BSE", "INDICES"
    if ex in KITE_EXCHANGES:
        return ex, None
    return "NSE", None


# ---------------------------------------------------------------- text messages


def subscribe_message(tokens: Iterable[int]) -> str:
    return json.dumps({"a": "subscribe", "v": list(tokens)})


def unsubscribe_message(tokens: Iterable[int]) -> str:
    return json.dumps({"a": "unsubscribe", "v": list(tokens)})


def mode_message(mode: str, tokens: Iterable[int]) -> str:
    return json.dumps({"a": "mode", "v": [mode, list(tokens)]})


def order_update_message(order_json: str) -> str:
    """A postback over the WebSocket; ``order_json`` is the order already as JSON text."""
    return '{"type":"order","id":"","data":' + order_json + "}"


def error_message(text: str) -> str:
    return json.dumps({"type": "error", "data": text})


def parse_text(payload: str | bytes) -> dict[str, Any] | None:
    """A text message as a dict, or None when it is not a JSON object."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        return None
    return data if isinstance(data, dict) else None
