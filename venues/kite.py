"""Zerodha Kite: the live Venue on ``kiteconnect`` REST and our own trio ticker client.

REST goes through the real ``kiteconnect.KiteConnect`` client. It is blocking
(``requests``), so every call runs in a worker thread (``trio.to_thread``) behind a
``CapacityLimiter``; order actions (place, modify, cancel) also pass a sliding-window
pacer so we never exceed Kite's 10 order requests per second, and a 429 that slips
through anyway is retried (Kite refused it before placing anything).

Market data and order updates come from Kite's ticker WebSocket, spoken here with
``trio-websocket`` rather than ``KiteTicker`` (which needs Twisted's reactor on its own
thread). The binary packets are parsed by ``wire.kite``, the same code the
simulated gateway encodes with. A ping every ``ping_interval`` must be answered within
``ping_timeout``: a socket that went silent without closing (a NAT dropped it, the
laptop slept) is detected and replaced. Reconnects back off exponentially, resubscribe
every instrument in full mode, reconcile orders over REST (postbacks sent while we were
away are lost), and only then tell the kernel the session is up, so the kernel's own
reconciliation sees the fills it missed.

Order updates (postbacks) arrive as text messages. A change of ``filled_quantity`` is
turned into FILL reports from the order's trades (``order_trades``), one per Kite
trade with ``exec_id = "kite:<trade_id>"``, so a postback repeated, or replayed by
reconciliation, can never count a fill twice. Terminal reports (CANCELLED, EXPIRED)
are held back until every fill before them has been reported: a fill after a cancel
would be an impossible transition for the kernel.

The kernel's orders map to Kite as: MARKET -> ``MARKET`` (with market protection),
LIMIT -> ``LIMIT``, STOP -> ``SL-M``, or ``SL`` with a limit a few ticks through the
trigger for options (exchanges refuse SL-M on options). Kite has no sub-minute
good-till-date, so an order's ``expire_ns`` is kept here: a timer cancels it and the
cancel is reported as EXPIRED. There is no GTT anywhere: a GTT fires on the broker's
schedule, and GTT lag through a gap is the incident this project exists to prevent;
protection is the kernel's gap detector and market exits.

Prices are exact: binary ticks are integers (paise) scaled to units, JSON numbers are
read as ``Decimal(repr(float))`` (the shortest text that round-trips, which is the text
Kite sent) or as Decimals directly for our own WebSocket parsing; no float arithmetic
touches money. Credentials never appear in a log line, an exception or the journal.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import json
import logging
import math
import os
import sys
import time
from collections import deque
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TypeVar
from urllib.parse import quote

import attrs
import requests
import trio
import trio_websocket
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from ..kernel.errors import find_exception
from ..kernel.config import Duration, converter, flatten_errors
from ..kernel.instruments import Instrument
from ..kernel.orders import Order, OrderType
from ..kernel.units import NS_PER_S, fmt_units, to_units
from ..kernel.venue import ExecReport, OpenOrder, QuoteHandler, ReportKind, VenueError, VenueSink
from ..wire import kite as wire
from .live import (
    LiveConfig,
    LiveConfigError,
    instruments_of,
    parse_live_config,
    read_config_yaml,
    run_live,
)

log = logging.getLogger("triotrade.kite")
T = TypeVar("T")
_SESSIONS = itertools.count(1)
# kiteconnect grew ``market_protection`` within 5.x; older clients would refuse the keyword
_HAS_MARKET_PROTECTION = ("market_protection"
                          in inspect.signature(KiteConnect.place_order).parameters)

PRODUCTION_ROOT = "https://api.kite.trade"
PRODUCTION_WS = "wss://ws.kite.trade"
# statuses that mean the exchange has the order (the first one seen is our ACCEPTED)
ACK_STATUSES = frozenset({"OPEN", "TRIGGER PENDING", "UPDATE", "MODIFIED", "MODIFY PENDING",
                          "MODIFY VALIDATION PENDING", "CANCEL PENDING"})
WORKING_STATUSES = frozenset({"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING",
                              "AMO REQ RECEIVED"}) | ACK_STATUSES
PRODUCTS = ("MIS", "NRML", "CNC")
STOP_TYPES = ("auto", "SL-M", "SL")


@attrs.frozen
class KiteSettings:
    """The ``kite:`` section of a live config: how orders are sent and the socket kept."""

    product: str = "MIS"  # MIS intraday, NRML carry-forward F&O, CNC equity delivery
    stop_order_type: str = "auto"  # auto: SL for options, SL-M otherwise
    stop_limit_ticks: int = 20  # SL: the limit this many ticks beyond the trigger
    market_protection: int | None = -1  # MARKET/SL-M protection: -1 auto, 1..100 %, null none
    order_rate: int = 10  # order requests per second (Kite's limit)
    rest_threads: int = 4
    rest_timeout: Duration = Duration(7 * NS_PER_S)
    ping_interval: Duration = Duration(2_500_000_000)
    ping_timeout: Duration = Duration(5 * NS_PER_S)
    reconnect_min: Duration = Duration(250_000_000)
    reconnect_max: Duration = Duration(5 * NS_PER_S)
    connect_timeout: Duration = Duration(15 * NS_PER_S)
    reconcile_interval: Duration = Duration(2 * NS_PER_S)

    def problems(self, path: str = "kite") -> list[tuple[str, str]]:
        out = []
        if self.product not in PRODUCTS:
            out.append((f"{path}.product", f"must be one of {', '.join(PRODUCTS)}"))
        if self.stop_order_type not in STOP_TYPES:
            out.append((f"{path}.stop_order_type", f"must be one of {', '.join(STOP_TYPES)}"))
        if self.stop_limit_ticks <= 0:
            out.append((f"{path}.stop_limit_ticks", "must be positive"))
        mp = self.market_protection
        if mp is not None and mp != -1 and not 0 < mp <= 100:
            out.append((f"{path}.market_protection", "must be -1 (auto), 1..100 or null"))
        if not 0 < self.order_rate <= 10:
            out.append((f"{path}.order_rate", "must be 1..10 (Kite allows 10 per second)"))
        if self.rest_threads <= 0:
            out.append((f"{path}.rest_threads", "must be positive"))
        for key in ("rest_timeout", "ping_interval", "ping_timeout", "reconnect_min",
                    "reconnect_max", "connect_timeout", "reconcile_interval"):
            if getattr(self, key) <= 0:
                out.append((f"{path}.{key}", "must be positive"))
        if self.reconnect_min > self.reconnect_max:
            out.append((f"{path}.reconnect_min", "is above reconnect_max"))
        return out


def _s(ns: int) -> float:
    return ns / NS_PER_S


@attrs.frozen
class KiteInstrumentInfo:
    """What the adapter needs from Kite's instrument master for one symbol."""

    symbol: str
    exchange: str
    token: int
    tick_size: Decimal
    lot_size: int
    segment: str
    instrument_type: str

    @property
    def is_option(self) -> bool:
        return self.instrument_type in ("CE", "PE")

    @property
    def tick_units(self) -> int:
        return to_units(self.tick_size)


@attrs.define(eq=False)
class _Rec:
    """Our side of one order: the kernel's id, Kite's id, and what was reported."""

    order_id: str
    symbol: str
    side: str
    qty: int
    role: str
    tag: str
    expire_ns: int | None
    kite_id: str | None = None
    filled: int = 0  # reported to the kernel
    kite_filled: int = 0  # Kite's filled_quantity, as last seen
    kite_status: str = ""
    trade_ids: set[str] = attrs.Factory(set)
    acked: bool = False
    done: bool = False
    user_cancel: bool = False
    expiring: bool = False
    placed: trio.Event = attrs.Factory(trio.Event)  # the placement attempt finished
    last_seen: float = 0.0
    unknown_since: float | None = None  # placement reply lost and not in the order book


class _Refused(Exception):
    """Kite refused an order outright (4xx): it never existed at the exchange."""


def _safe(exc: BaseException) -> str:
    """An exception as text fit for the journal: Kite's own message, never a URL."""
    if isinstance(exc, kex.KiteException):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _units(value: Any) -> int:
    """A price from Kite JSON (float, int, str or Decimal) as exact units."""
    return to_units(value)  # floats go through repr(): the text Kite sent


class KiteVenue:
    """The Venue protocol over Kite Connect. Construct with a nursery for its tasks."""

    name = "kite"

    def __init__(self, api_key: str, access_token: str, *, instruments: dict[str, Instrument],
                 nursery: trio.Nursery, root: str = PRODUCTION_ROOT, ws_root: str = PRODUCTION_WS,
                 settings: KiteSettings = KiteSettings(),
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.settings = settings
        self.root = root
        self.ws_root = ws_root
        self._nursery = nursery
        self._clock_ns = clock_ns
        self.kite = KiteConnect(api_key, access_token=access_token, root=root,
                                timeout=_s(settings.rest_timeout))
        # the one place credentials are kept; never logged (see __repr__)
        self._ws_url = (f"{ws_root}?api_key={quote(api_key, safe='')}"
                        f"&access_token={quote(access_token, safe='')}")
        self.instruments = dict(instruments)
        self._limiter = trio.CapacityLimiter(settings.rest_threads)
        self._order_times: deque[float] = deque()
        self._order_lock = trio.Lock()
        self._apply_lock = trio.Lock()
        self._tables: dict[str, dict[str, KiteInstrumentInfo]] = {}
        self._info: dict[str, KiteInstrumentInfo] = {}
        self._subs: dict[int, tuple[str, QuoteHandler]] = {}
        self._orders: dict[str, _Rec] = {}
        self._working: dict[str, _Rec] = {}
        self._by_kite: dict[str, _Rec] = {}
        self._by_tag: dict[str, _Rec] = {}
        # tags tie postbacks to our orders before place_order even returns; unique per
        # session so an order of an earlier run is never taken for one of ours
        self._tag_prefix = ("t" + _base36(int(time.time()) % 36**4).rjust(4, "0")
                            + _base36(next(_SESSIONS) % 36**2).rjust(2, "0"))
        self._updates_send, self._updates_recv = trio.open_memory_channel[dict[str, Any]](math.inf)
        self.sink: VenueSink | None = None
        self._ws: trio_websocket.WebSocketConnection | None = None
        self._ws_up = False
        self._reported_up = False
        self._ever_connected = False
        self._ready = trio.Event()
        self._first_failure: str | None = None
        self._scope: trio.CancelScope | None = None
        self._tasks: trio.Nursery = nursery  # replaced by the session's own nursery
        self._stopped = trio.Event()
        self._closed = False
        # observability (tests and the operator read these)
        self.ticks = 0
        self.heartbeats = 0
        self.pongs = 0
        self.dead_sockets = 0
        self.reconnects = 0
        self.postbacks = 0
        self.errors: deque[str] = deque(maxlen=256)  # recent problems, newest last
        self.order_requests: deque[float] = deque(maxlen=10_000)  # trio time of each sent

    def __repr__(self) -> str:  # never show credentials
        return f"<KiteVenue root={self.root!r} ws={self.ws_root!r}>"

    # ------------------------------------------------------------ REST plumbing

    async def _rest(self, fn: Callable[..., T], *args: Any, order: bool = False, **kw: Any) -> T:
        """One kiteconnect call in a worker thread; order actions are paced first."""
        if order:
            await self._pace()
        call = functools.partial(fn, *args, **kw)
        try:
            return await trio.to_thread.run_sync(call, limiter=self._limiter,
                                                 abandon_on_cancel=not order)
        except kex.TokenException as exc:
            self._token_failed(exc)
            raise

    async def _pace(self) -> None:
        """Sliding window of ``order_rate`` per second (with a margin for clock skew)."""
        window = 1.1  # the exchange counts on arrival; leave room for jitter in between
        async with self._order_lock:
            times = self._order_times
            now = trio.current_time()
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= self.settings.order_rate:
                await trio.sleep_until(times[0] + window)
                now = trio.current_time()
                while times and times[0] <= now - window:
                    times.popleft()
            times.append(now)
            self.order_requests.append(now)

    def _token_failed(self, exc: BaseException) -> None:
        reason = "Kite refused the access token (TokenException): log in again"
        self.errors.append(reason)
        if self._reported_up:
            self._connection(False, reason)

    def _connection(self, up: bool, reason: str) -> None:
        if up == self._reported_up:
            return
        self._reported_up = up
        if self.sink is not None:
            self.sink.on_connection(up, reason)

    def _check_open(self) -> None:
        if self._closed:
            raise VenueError("the Kite session is closed")
        if self.sink is None:
            raise VenueError("the Kite session is not connected")

    # ------------------------------------------------------------ instruments

    async def _table(self, exchange: str) -> dict[str, KiteInstrumentInfo]:
        table = self._tables.get(exchange)
        if table is None:
            try:
                rows = await self._rest(self.kite.instruments, exchange)
            except (kex.KiteException, requests.RequestException) as exc:
                raise VenueError(f"cannot load Kite's {exchange} instruments: "
                                 f"{_safe(exc)}") from None
            table = {}
            for r in rows:
                info = KiteInstrumentInfo(str(r["tradingsymbol"]), str(r["exchange"]),
                                          int(r["instrument_token"]),
                                          Decimal(repr(float(r["tick_size"]))),
                                          int(r["lot_size"]), str(r["segment"]),
                                          str(r["instrument_type"]))
                table.setdefault(info.symbol, info)
            self._tables[exchange] = table
        return table

    async def _resolve(self, inst: Instrument) -> KiteInstrumentInfo:
        info = self._info.get(inst.symbol)
        if info is not None:
            return info
        exchange, forced = wire.kite_exchange(inst.exchange)
        table = await self._table(exchange)
        info = table.get(inst.symbol)
        if info is None or (forced == "INDICES") != (info.segment == "INDICES"):
            raise VenueError(f"{inst.symbol} is not listed on Kite's {exchange}")
        if info.segment != "INDICES":
            if info.lot_size != inst.lot_size:
                raise VenueError(f"{inst.symbol}: lot_size {inst.lot_size} in the config, "
                                 f"{info.lot_size} at Kite")
            if info.tick_size != inst.tick_size:
                raise VenueError(f"{inst.symbol}: tick_size {inst.tick_size} in the config, "
                                 f"{info.tick_size} at Kite")
        self._info[inst.symbol] = info
        return info

    async def instrument(self, symbol: str) -> Instrument:
        """A symbol the config does not list (news discovery): NSE first, then NFO."""
        for exchange in ("NSE", "NFO", "BSE", "BFO"):
            info = (await self._table(exchange)).get(symbol)
            if info is not None and info.segment != "INDICES":
                inst = Instrument(symbol, info.tick_size, info.lot_size, "INR", exchange)
                self.instruments[symbol] = inst
                self._info[symbol] = info
                return inst
        raise VenueError(f"no instrument {symbol!r} at Kite (NSE, NFO, BSE, BFO)")

    # ------------------------------------------------------------ session

    async def connect(self, sink: VenueSink) -> None:
        if self._closed:
            raise VenueError("the Kite session is closed")
        try:
            await self._rest(self.kite.profile)
        except kex.TokenException:
            raise VenueError("Kite refused the API key / access token (TokenException)") from None
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"cannot reach Kite at {self.root}: {_safe(exc)}") from None
        for inst in self.instruments.values():
            await self._resolve(inst)
        self.sink = sink
        await self._nursery.start(self._session)
        with trio.move_on_after(_s(self.settings.connect_timeout)):
            await self._ready.wait()
        if not self._ready.is_set():
            why = self._first_failure or "no answer"
            await self.close()
            raise VenueError(f"Kite ticker did not connect within "
                             f"{_s(self.settings.connect_timeout):g}s: {why}")

    async def _session(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    self._tasks = nursery
                    nursery.start_soon(self._ticker_loop)
                    nursery.start_soon(self._update_worker)
                    nursery.start_soon(self._reconcile_loop)
                    task_status.started()
        finally:
            self._ws = None
            self._ws_up = False
            self._stopped.set()

    async def close(self) -> None:
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
            with trio.move_on_after(2):
                await self._stopped.wait()
        else:
            await trio.lowlevel.checkpoint()

    # ------------------------------------------------------------ ticker

    async def _ticker_loop(self) -> None:
        st = self.settings
        delay = _s(st.reconnect_min)
        while True:
            connected, reason = await self._ticker_session()
            self._ws = None
            self._ws_up = False
            if not self._ever_connected and self._first_failure is None:
                self._first_failure = reason
            self._connection(False, reason)
            if connected:
                delay = _s(st.reconnect_min)
            await trio.sleep(delay)
            delay = min(delay * 2, _s(st.reconnect_max))

    async def _ticker_session(self) -> tuple[bool, str]:
        """One WebSocket connection, start to end: (was it ever open, why it ended)."""
        st = self.settings
        outcome: list[str] = []
        opened = False
        try:
            with trio.CancelScope() as abort:
                async with trio_websocket.open_websocket_url(
                        self._ws_url, extra_headers=[(b"X-Kite-Version", b"3")],
                        message_queue_size=1024, connect_timeout=_s(st.connect_timeout),
                        disconnect_timeout=1.0) as ws:
                    opened = True
                    self._ws = ws
                    await self._send_subscriptions(ws)
                    if not self._ever_connected:
                        self._ever_connected = True
                        self._ws_up = True
                        self._reported_up = True  # the kernel counts connect() returning as up
                        self._ready.set()
                    else:
                        self.reconnects += 1
                        self._tasks.start_soon(self._after_reconnect, ws)
                    reason, dead = await self._read(ws)
                    outcome.append(reason)
                    if dead:  # no close handshake with a peer that stopped answering
                        abort.cancel()
        except trio_websocket.ConnectionRejected as exc:
            if exc.status_code == 403:
                self._token_failed(exc)
                outcome.append("ticker refused the access token (HTTP 403 TokenException)")
            else:
                outcome.append(f"ticker handshake refused (HTTP {exc.status_code})")
        except trio_websocket.ConnectionClosed as exc:
            outcome.append(f"ticker closed ({exc.reason.code if exc.reason else 'no code'})")
        except trio_websocket.HandshakeError as exc:
            if not outcome:
                cause = exc.__cause__ or exc.__context__
                outcome.append(f"ticker connection failed ({type(cause or exc).__name__})")
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            outcome.append(f"ticker connection lost ({type(exc).__name__})")
        return opened, outcome[0] if outcome else "ticker connection ended"

    async def _send_subscriptions(self, ws: trio_websocket.WebSocketConnection) -> None:
        tokens = sorted(self._subs)
        if tokens:
            await ws.send_message(wire.subscribe_message(tokens))
            await ws.send_message(wire.mode_message(wire.MODE_FULL, tokens))

    async def _after_reconnect(self, ws: trio_websocket.WebSocketConnection) -> None:
        """Catch up on what happened while away, then tell the kernel we are back."""
        ok = await self._reconcile()
        if self._ws is ws:
            self._ws_up = True
            state = "reconciled" if ok else "NOT reconciled"
            self._connection(True, f"ticker reconnected, {len(self._subs)} instrument(s) "
                                   f"resubscribed, orders {state}")

    async def _read(self, ws: trio_websocket.WebSocketConnection) -> tuple[str, bool]:
        """Read messages until the socket closes or stops answering pings (dead=True)."""
        why: list[str] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pinger, ws, nursery.cancel_scope, why)
            try:
                while True:
                    msg = await ws.get_message()
                    if isinstance(msg, bytes):
                        self._on_binary(msg)
                    else:
                        self._on_text(msg)
            except trio_websocket.ConnectionClosed as exc:
                code = exc.reason.code if exc.reason else "no code"
                why.append(f"ticker closed by the server ({code})")
                nursery.cancel_scope.cancel()
        dead = bool(why) and why[0].startswith("no pong")
        return (why[0] if why else "ticker connection ended"), dead

    async def _pinger(self, ws: trio_websocket.WebSocketConnection, scope: trio.CancelScope,
                      why: list[str]) -> None:
        st = self.settings
        while True:
            await trio.sleep(_s(st.ping_interval))
            with trio.move_on_after(_s(st.ping_timeout)) as timer:
                try:
                    await ws.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if timer.cancelled_caught:
                self.dead_sockets += 1
                why.append(f"no pong within {_s(st.ping_timeout):g}s: the ticker socket is dead")
                scope.cancel()
                return
            self.pongs += 1

    def _on_binary(self, data: bytes) -> None:
        if len(data) < 2:
            self.heartbeats += 1
            return
        now = self._clock_ns()
        try:
            packets = wire.split_message(data)
        except wire.WireError as exc:
            self.errors.append(f"bad ticker message: {exc}")
            return
        for pk in packets:
            try:
                p = wire.decode_packet(pk)
            except wire.WireError as exc:
                self.errors.append(f"bad ticker packet: {exc}")
                continue
            sub = self._subs.get(p.token)
            if sub is None:
                continue
            step = wire.units_per_wire(p.segment)
            last = p.last * step
            b, a = p.buy[0], p.sell[0]
            bid = b.price * step if b.qty and b.price else last
            ask = a.price * step if a.qty and a.price else last
            self.ticks += 1
            sub[1](now, bid, ask, last, b.qty, a.qty)

    def _on_text(self, text: str) -> None:
        try:
            data = json.loads(text, parse_float=Decimal)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "order" and isinstance(data.get("data"), dict):
            self.postbacks += 1
            self._updates_send.send_nowait(data["data"])
        elif kind == "error":
            self.errors.append(f"ticker error: {data.get('data')}")
            log.warning("Kite ticker error: %s", data.get("data"))

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None:
        info = await self._resolve(instrument)
        self._subs[info.token] = (instrument.symbol, on_quote)
        ws = self._ws
        if ws is not None:
            try:
                await ws.send_message(wire.subscribe_message([info.token]))
                await ws.send_message(wire.mode_message(wire.MODE_FULL, [info.token]))
            except trio_websocket.ConnectionClosed:
                pass  # resubscribed on reconnect

    # ------------------------------------------------------------ orders out

    def _params(self, order: Order, info: KiteInstrumentInfo, tag: str) -> dict[str, Any]:
        st = self.settings
        places = max(2, _places(info.tick_size))
        p: dict[str, Any] = dict(variety="regular", exchange=info.exchange,
                                 tradingsymbol=info.symbol, transaction_type=order.side.value,
                                 quantity=order.qty, product=st.product, validity="DAY", tag=tag)
        if order.order_type is OrderType.MARKET:
            p["order_type"] = "MARKET"
            if st.market_protection is not None and _HAS_MARKET_PROTECTION:
                p["market_protection"] = st.market_protection
        elif order.order_type is OrderType.LIMIT:
            assert order.price is not None
            p["order_type"] = "LIMIT"
            p["price"] = fmt_units(order.price, places)
        else:
            assert order.price is not None
            kind = st.stop_order_type
            if kind == "auto":
                kind = "SL" if info.is_option else "SL-M"
            p["order_type"] = kind
            p["trigger_price"] = fmt_units(order.price, places)
            if kind == "SL":
                tick = info.tick_units
                through = st.stop_limit_ticks * tick
                sell = order.side.value == "SELL"
                limit = order.price - through if sell else order.price + through
                p["price"] = fmt_units(max(limit, tick), places)
            elif st.market_protection is not None and _HAS_MARKET_PROTECTION:
                p["market_protection"] = st.market_protection
        return p

    async def submit(self, order: Order) -> None:
        self._check_open()
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise VenueError(f"no instrument {order.symbol!r} in this Kite session")
        info = await self._resolve(inst)
        rec = _Rec(order.order_id, order.symbol, order.side.value, order.qty, order.role.value,
                   f"{self._tag_prefix}{order.order_id}"[:20], order.expire_ns,
                   last_seen=trio.current_time())
        self._orders[rec.order_id] = rec
        self._working[rec.order_id] = rec
        self._by_tag[rec.tag] = rec
        params = self._params(order, info, rec.tag)
        try:
            kite_id = await self._place(params)
        except _Refused as exc:
            self._finish(rec)
            rec.placed.set()
            self._report(ReportKind.REJECTED, rec, reason=str(exc))
            return
        except BaseException:
            self._finish(rec)
            rec.placed.set()
            raise
        if kite_id is None:
            # Kite's reply was lost and the order book does not show it (yet): the order
            # stays SUBMITTED; reconciliation binds it by its tag, or after a few passes
            # without it reports it rejected (an order Kite never listed does not exist)
            if rec.kite_id is None:
                rec.unknown_since = trio.current_time()
        elif rec.kite_id is None:
            self._bind(rec, kite_id)
        rec.placed.set()
        if rec.expire_ns is not None and not rec.done:
            self._tasks.start_soon(self._expire_at, rec)

    async def _place(self, params: dict[str, Any]) -> str | None:
        """Kite's order id; None when the outcome is unknown; raises when surely not placed."""
        for attempt in range(5):
            try:
                return str(await self._rest(self.kite.place_order, order=True, **params))
            except kex.TokenException:
                raise VenueError("Kite refused the access token (TokenException)") from None
            except kex.KiteException as exc:
                if exc.code == 429:
                    await trio.sleep(0.2 * (attempt + 1))
                    continue  # refused before placement: safe to send again
                if 400 <= exc.code < 500:
                    raise _Refused(_safe(exc)) from None
                failure: BaseException = exc
            except requests.RequestException as exc:
                failure = exc
            # Did Kite take it? (a timeout or a 5xx does not say.) Look for our tag.
            found = await self._find_by_tag(params["tag"])
            if found is None:
                self.errors.append(f"place_order outcome unknown: {_safe(failure)}")
            return found
        raise VenueError("order not placed: Kite kept answering 429 (too many requests)")

    async def _find_by_tag(self, tag: str) -> str | None:
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException):
            return None
        for o in orders:
            if o.get("tag") == tag or tag in (o.get("tags") or []):
                return str(o["order_id"])
        return None

    async def cancel(self, order_id: str) -> None:
        self._check_open()
        rec = self._orders.get(order_id)
        if rec is None:
            raise VenueError(f"order {order_id} was not sent through this Kite session")
        if rec.done:
            await trio.lowlevel.checkpoint()
            return
        rec.user_cancel = True
        await self._cancel(rec)

    async def _cancel(self, rec: _Rec) -> None:
        if rec.kite_id is None:
            with trio.move_on_after(_s(self.settings.rest_timeout)):
                await rec.placed.wait()
            if rec.kite_id is None:
                if rec.done:
                    return
                raise VenueError(f"order {rec.order_id} is not placed yet")
        for attempt in range(5):
            try:
                await self._rest(self.kite.cancel_order, "regular", rec.kite_id, order=True)
                return
            except kex.TokenException:
                raise VenueError("Kite refused the access token (TokenException)") from None
            except kex.KiteException as exc:
                if exc.code == 429:
                    await trio.sleep(0.2 * (attempt + 1))
                    continue
                if 400 <= exc.code < 500:
                    # already complete, cancelled or rejected: its postback says which
                    rec.last_seen = 0.0  # reconcile it at the next pass
                    return
                raise VenueError(f"cancel not confirmed: {_safe(exc)}") from None
            except requests.RequestException as exc:
                raise VenueError(f"cancel not confirmed: {_safe(exc)}") from None
        raise VenueError("cancel not sent: Kite kept answering 429 (too many requests)")

    async def _expire_at(self, rec: _Rec) -> None:
        """Kite has no sub-minute good-till-date: cancel at expiry, report EXPIRED."""
        assert rec.expire_ns is not None
        delay = (rec.expire_ns - self._clock_ns()) / NS_PER_S
        if delay > 0:
            await trio.sleep(delay)
        for attempt in range(5):
            if rec.done or rec.user_cancel:
                return
            rec.expiring = True
            try:
                await self._cancel(rec)
                return
            except VenueError:
                await trio.sleep(min(1.0 * (attempt + 1), 5.0))

    # ------------------------------------------------------------ orders in

    def _report(self, kind: ReportKind, rec: _Rec, *, qty: int = 0, price: int = 0,
                reason: str = "", exec_id: str = "") -> None:
        if self.sink is not None:
            self.sink.on_report(ExecReport(kind, rec.order_id, self._clock_ns(), qty, price,
                                           reason, exec_id))

    def _bind(self, rec: _Rec, kite_id: str) -> None:
        rec.kite_id = kite_id
        self._by_kite[kite_id] = rec

    def _finish(self, rec: _Rec) -> None:
        rec.done = True
        self._working.pop(rec.order_id, None)

    def _match(self, data: dict[str, Any]) -> _Rec | None:
        rec = self._by_kite.get(str(data.get("order_id") or ""))
        if rec is None:
            tags = [data.get("tag"), *(data.get("tags") or [])]
            for tag in tags:
                if isinstance(tag, str) and tag in self._by_tag:
                    rec = self._by_tag[tag]
                    break
        return rec

    async def _update_worker(self) -> None:
        async for data in self._updates_recv:
            await self._apply_safely(data)

    async def _apply_safely(self, data: dict[str, Any]) -> None:
        try:
            await self._apply(data)
        except (KeyError, TypeError, ValueError) as exc:
            # a malformed update must not take the session (and the stops) down with it;
            # the order is reconciled from the order book on a later pass
            self.errors.append(f"bad order update ({type(exc).__name__}: {exc})")
            log.warning("Kite order update not understood: %s: %s", type(exc).__name__, exc)

    async def _apply(self, data: dict[str, Any]) -> None:
        """One order update (postback or order-book row), applied in order, exactly once."""
        async with self._apply_lock:
            rec = self._match(data)
            if rec is None or rec.done:
                return
            kite_id = str(data.get("order_id") or "")
            if rec.kite_id is None and kite_id:
                self._bind(rec, kite_id)
            status = str(data.get("status") or "")
            rec.kite_status = status
            rec.kite_filled = max(rec.kite_filled, int(data.get("filled_quantity") or 0))
            rec.last_seen = trio.current_time()
            if not rec.acked and status in ACK_STATUSES:
                rec.acked = True
                self._report(ReportKind.ACCEPTED, rec)
            if rec.kite_filled > rec.filled:
                await self._sync_fills(rec)
            if rec.filled >= rec.qty:
                self._finish(rec)
                return
            if status == "REJECTED" and rec.filled == 0:
                self._finish(rec)
                reason = str(data.get("status_message") or "rejected by Kite")
                self._report(ReportKind.REJECTED, rec, reason=reason)
            elif status == "CANCELLED" and rec.filled >= rec.kite_filled:
                self._finish(rec)
                if rec.expiring and not rec.user_cancel:
                    self._report(ReportKind.EXPIRED, rec,
                                 reason="good-till-date expiry (cancelled by the adapter)")
                else:
                    self._report(ReportKind.CANCELLED, rec,
                                 reason=str(data.get("status_message") or "cancelled"))
            # else: working, or fills still missing; the reconcile loop comes back to it

    async def _sync_fills(self, rec: _Rec) -> None:
        """Report the order's trades we have not reported yet (dedupe by trade id)."""
        delay = 0.02
        for _ in range(6):
            try:
                trades = await self._rest(self.kite.order_trades, rec.kite_id)
            except (kex.KiteException, requests.RequestException) as exc:
                self.errors.append(f"order_trades {rec.order_id}: {_safe(exc)}")
                trades = []
            for t in sorted(trades, key=lambda t: (len(str(t.get("trade_id"))),
                                                   str(t.get("trade_id")))):
                trade_id = str(t.get("trade_id"))
                if trade_id in rec.trade_ids:
                    continue
                qty = int(t["quantity"])
                if rec.filled + qty > rec.qty:
                    self.errors.append(f"trade {trade_id} would overfill {rec.order_id}")
                    continue
                rec.trade_ids.add(trade_id)
                rec.filled += qty
                self._report(ReportKind.FILL, rec, qty=qty, price=_units(t["average_price"]),
                             exec_id=f"kite:{trade_id}")
            if rec.filled >= rec.kite_filled:
                return
            await trio.sleep(delay)
            delay *= 2

    async def _reconcile(self) -> bool:
        """Apply Kite's order book to every order still working here."""
        if not self._working:
            return True
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException) as exc:
            self.errors.append(f"reconcile: {_safe(exc)}")
            return False
        for data in orders:
            rec = self._match(data)
            if rec is not None and not rec.done:
                await self._apply_safely(data)
        patience = 3 * _s(self.settings.reconcile_interval)
        now = trio.current_time()
        for rec in list(self._working.values()):
            if (rec.kite_id is None and rec.unknown_since is not None
                    and now - rec.unknown_since >= patience):
                self._finish(rec)
                self._report(ReportKind.REJECTED, rec,
                             reason="not placed: Kite's reply was lost and its order book "
                                    "never listed the order")
        return True

    async def _reconcile_loop(self) -> None:
        interval = _s(self.settings.reconcile_interval)
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            if self._ws_up and any((r.kite_id is not None and now - r.last_seen >= interval)
                                   or (r.kite_id is None and r.unknown_since is not None)
                                   for r in list(self._working.values())):
                await self._reconcile()

    # ------------------------------------------------------------ queries

    async def positions(self) -> dict[str, int]:
        self._check_open()
        try:
            data = await self._rest(self.kite.positions)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"positions: {_safe(exc)}") from None
        out: dict[str, int] = {}
        for row in data.get("net", []):
            sym = str(row["tradingsymbol"])
            out[sym] = out.get(sym, 0) + int(row["quantity"])
        return {s: q for s, q in out.items() if q}

    async def open_orders(self) -> list[OpenOrder]:
        self._check_open()
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"orders: {_safe(exc)}") from None
        out = []
        for o in orders:
            if str(o.get("status")) not in WORKING_STATUSES:
                continue
            rec = self._match(o)
            out.append(OpenOrder(rec.order_id if rec else f"kite:{o['order_id']}",
                                 str(o["tradingsymbol"]), str(o["transaction_type"]),
                                 int(o["quantity"]), int(o.get("filled_quantity") or 0),
                                 rec.role if rec else "UNKNOWN"))
        return out

    async def cash(self) -> int:
        self._check_open()
        try:
            data = await self._rest(self.kite.margins, "equity")
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"margins: {_safe(exc)}") from None
        return _units(data["net"])


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _places(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


@asynccontextmanager
async def open_kite_venue(api_key: str, access_token: str, *, instruments: dict[str, Instrument],
                          root: str = PRODUCTION_ROOT, ws_root: str = PRODUCTION_WS,
                          settings: KiteSettings = KiteSettings(),
                          clock_ns: Callable[[], int] = time.time_ns) -> AsyncIterator[KiteVenue]:
    """A KiteVenue whose background tasks live exactly as long as this block."""
    async with trio.open_nursery() as nursery:
        venue = KiteVenue(api_key, access_token, instruments=instruments, nursery=nursery,
                          root=root, ws_root=ws_root, settings=settings, clock_ns=clock_ns)
        try:
            yield venue
        finally:
            with trio.CancelScope(shield=True):
                await venue.close()
            nursery.cancel_scope.cancel()


# ---------------------------------------------------------------- config and CLI


def load_kite_config(path: str | Path) -> tuple[LiveConfig, KiteSettings]:
    """A live config file plus its optional ``kite:`` section, every problem named."""
    source = str(path)
    data = read_config_yaml(path)
    problems: list[tuple[str, str]] = []
    settings = KiteSettings()
    if isinstance(data, dict) and "kite" in data:
        data = dict(data)
        section = data.pop("kite")
        if section is None:
            section = {}
        if not isinstance(section, dict):
            problems.append(("kite", "must be a mapping"))
        else:
            try:
                settings = converter().structure(section, KiteSettings)
            except Exception as exc:  # noqa: BLE001 - flattened into key paths
                problems.extend(flatten_errors(exc, "kite"))
            else:
                problems.extend(settings.problems())
    cfg: LiveConfig | None = None
    try:
        cfg = parse_live_config(data, source)
    except LiveConfigError as exc:
        problems = exc.problems + problems
    if cfg is not None:
        for i, inst in enumerate(cfg.instruments):
            exchange, forced = wire.kite_exchange(inst.exchange)
            if forced is None and exchange != inst.exchange.upper():
                problems.append((f"instruments[{i}].exchange",
                                 f"{inst.exchange!r} is not a Kite exchange "
                                 f"(one of {', '.join(wire.KITE_EXCHANGES)})"))
    if problems:
        raise LiveConfigError(source, problems)
    assert cfg is not None
    return cfg, settings


def endpoints(host: str, port: int | None) -> tuple[str, str]:
    """REST root and ticker URL: Zerodha's without --port, a gateway's with one."""
    if port is None:
        return PRODUCTION_ROOT, PRODUCTION_WS
    shown = f"[{host}]" if ":" in host else host
    if port == 443:
        return f"https://{shown}", f"wss://{shown}/ws"
    return f"http://{shown}:{port}", f"ws://{shown}:{port}/ws"




def cli_run(*, config_path: str | Path, host: str, port: int | None, client_id: int,
            live: bool, journal_path: str | Path | None) -> int:
    """``triotrade run --venue kite --config F [--live]``: 0 ran, 1 failed, 2 bad input."""
    del client_id  # an IB notion; Kite sessions are per access token
    try:
        cfg, settings = load_kite_config(config_path)
    except LiveConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 2
    api_key = os.environ.get("KITE_API_KEY", "").strip()
    access_token = os.environ.get("KITE_ACCESS_TOKEN", "").strip()
    missing = [n for n, v in (("KITE_API_KEY", api_key), ("KITE_ACCESS_TOKEN", access_token))
               if not v]
    if missing:
        print(f"kite: set {' and '.join(missing)} in the environment (credentials are read "
              "only from there, never from the command line or the config)", file=sys.stderr)
        return 2
    root, ws_root = endpoints(host, port)
    if journal_path is None:
        journal_path = Path("runs") / f"live-kite-{int(time.time())}.jsonl"
    print(f"kite: {root} (ticker {ws_root}), product {settings.product}, "
          f"{'LIVE orders' if live else 'watching only (no --live)'}", flush=True)
    print(f"journal: {journal_path}", flush=True)

    async def main() -> None:
        async with open_kite_venue(api_key, access_token, instruments=instruments_of(cfg),
                                   root=root, ws_root=ws_root, settings=settings) as venue:
            await run_live(venue, cfg, journal_path, live=live,
                           header={"venue": "kite", "endpoint": root, "product": settings.product})

    try:
        trio.run(main)
    except BaseException as exc:  # noqa: BLE001 - trio groups errors; report ours plainly
        if find_exception(exc, KeyboardInterrupt) is not None:
            print("kite: stopped (Ctrl-C); the journal is complete", file=sys.stderr)
            return 0
        venue_error = find_exception(exc, VenueError)
        if venue_error is not None:
            print(f"kite: {venue_error}", file=sys.stderr)
            return 1
        os_error = find_exception(exc, OSError)
        if os_error is not None:
            print(f"kite: {journal_path}: {os_error.strerror or os_error}", file=sys.stderr)
            return 2
        raise
    print("kite: run finished", flush=True)
    return 0


__all__ = ["KiteVenue", "KiteSettings", "KiteInstrumentInfo", "open_kite_venue",
           "load_kite_config", "endpoints", "cli_run"]
