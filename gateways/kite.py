"""Kite Connect served by the simulated exchange: REST and the ticker on one port.

``triotrade serve --protocol kite --api-key K --access-token T [SCENARIO]`` replays
SCENARIO's market in real time (x ``--speed``) and serves it the way Zerodha does, so
``kiteconnect.KiteConnect(api_key, access_token=T, root="http://HOST:PORT")`` and
``KiteTicker(api_key, T, root="ws://HOST:PORT/ws")`` work without change:

* REST (``kite_http``, ``kite_rest`` + ``kite_book``): Kite's routes and form fields, the
  ``{"status": "success", "data": ...}`` envelope, errors as ``{"status": "error",
  "message", "error_type"}`` with the HTTP status ``kiteconnect`` maps to the right
  exception (403 TokenException for wrong credentials, 400 InputException for bad
  input, 429 NetworkException over the order-rate limit of 10/s, 404/405 otherwise).
* the ticker at ``/ws`` (auth in the ``api_key``/``access_token`` query): subscribe /
  unsubscribe / mode text messages, binary ltp/quote/full (and index) packets
  (``wire.kite``), order postbacks as ``{"type": "order", "data": ...}`` text
  messages, and a 1-byte heartbeat each second the line is otherwise idle.

Ticks are conflated per connection: a slow reader gets the newest state of each
instrument rather than an ever-growing queue (Kite does the same). Postbacks are never
dropped while the connection lives; a reader so slow that ``MAX_WS_TEXTS`` of them
pile up is disconnected (close code 1008 with the reason) instead.

Hostile clients are expected: every text message is checked before it is used
(tokens are integers of the 32-bit range, at most ``MAX_SUBSCRIPTIONS`` of them), a
connection that keeps sending invalid messages is closed with a reason, and no
request, HTTP or WebSocket, can raise past its own connection (``_handle``).

Depth is the simulated exchange's top of book; levels 2-5 are empty because
the exchange models only the touch, and showing liquidity that cannot be traded
against would mislead.
"""
from __future__ import annotations

import hmac
import logging
import re
from collections import deque
from fractions import Fraction
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import trio
import trio_websocket

from ..kernel.units import PRICE_SCALE
from ..kernel.wakeup import Wakeup
from ..sim.scenario import Scenario
from ..wire import kite as wire
from .kite_book import KiteBook
from .kite_http import HttpRequest, HttpResponse, WsStream, serve_connection
from .kite_instruments import KiteInstrument, build_master, instruments_csv
from .kite_records import KOrder
from .limits import SessionLimits
from .kite_rest import (
    KiteError,
    dumps,
    error_body,
    error_response,
    http_error,
    input_error,
    success,
)
from .problems import ProblemLog, shorten
from .realtime import RealtimeMarket

log = logging.getLogger("triotrade.gateway.kite")

HEARTBEAT_S = 1.0
ORDER_RATE = 10  # order placements/modifications/cancellations per second per session
WS_PATH = "/ws"
MAX_SUBSCRIPTIONS = 3000  # Kite's own limit per ticker connection
MAX_WS_TEXTS = 10_000  # postbacks and replies waiting for one slow reader
MAX_BAD_WS_MESSAGES = 100
_TOKEN_MAX = 0xFFFFFFFF


def _token(value: object) -> int:
    """A subscribe/mode token as sent: a JSON integer of the 32-bit range, nothing else."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _TOKEN_MAX:
        raise ValueError(f"instrument tokens are integers from 0 to {_TOKEN_MAX}, got "
                         f"{shorten(value, 40)}")
    return value


def _peer_of(stream: trio.abc.Stream) -> str:
    """HOST:PORT of the peer, through the upgrade's prefixed stream if there is one."""
    inner = getattr(stream, "_inner", stream)
    try:
        return "%s:%s" % inner.socket.getpeername()[:2]
    except (AttributeError, OSError):
        return "?"


class _WsSession:
    """One ticker connection: its subscriptions and what is waiting to be written."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, stream: WsStream) -> None:
        self.ws = ws
        self.stream = stream
        self.modes: dict[int, str] = {}  # token -> mode
        self.dirty: set[int] = set()
        self.texts: deque[str] = deque()
        self.wake = Wakeup()
        self.scope: trio.CancelScope | None = None
        self.dropped = False
        self.bad_messages = 0
        self.peer = "?"
        self.close_reason: str | None = None  # set: close with code 1008 and this reason

    def drop(self) -> None:
        self.dropped = True
        if self.scope is not None:
            self.scope.cancel()

    def refuse(self, reason: str) -> None:
        """End this connection with a close frame that says why (a policy violation)."""
        self.close_reason = reason
        if self.scope is not None:
            self.scope.cancel()


Route = Callable[[HttpRequest, re.Match[str]], Awaitable[HttpResponse]]


class KiteGateway:
    """Kite REST + ticker over a RealtimeMarket. ``serve`` runs the listener.

    Faults a test (or a scenario) can switch on, each what a real Kite session suffers:
    ``drop_ws`` (connections cut, no close frame), ``freeze_ws`` (silent dead sockets),
    ``set_ws_down`` (ticker cut and refused), ``set_offline`` (that plus REST 503, the
    scenario's ``disconnect`` fault), ``place_faults`` (an order refused with 503, or
    placed with its reply lost), ``market.exchange.faults`` (rejects, no fills).
    """

    def __init__(self, market: RealtimeMarket, api_key: str, access_token: str, *,
                 start_cash: int = 1_000_000 * PRICE_SCALE, order_rate: int = ORDER_RATE,
                 heartbeat_s: float = HEARTBEAT_S, limits: SessionLimits | None = None,
                 max_order_qty: int | None = None) -> None:
        self.market = market
        self.limits = limits or SessionLimits()
        self.problems = ProblemLog(log)
        self._api_key = api_key
        self._access_token = access_token
        self.master: list[KiteInstrument] = build_master(
            market.instruments[s] for s in market.symbols)
        self.book = KiteBook(market, self.master, start_cash,
                             **({} if max_order_qty is None else {"max_order_qty": max_order_qty}))
        self.order_rate = order_rate
        self.heartbeat_s = heartbeat_s
        self.sessions: set[_WsSession] = set()
        self.packets: dict[int, wire.TickPacket] = {}
        self._order_times: deque[float] = deque()
        self.port: int | None = None
        self.ws_refusing = False  # set_ws_down(): the ticker refuses connections (503)
        self.rest_refusing = False  # set_offline(): REST answers 503 as well
        # test hooks for the next order placements: "refuse" answers 503 without placing,
        # "lose_reply" places the order and answers 504 (a reply lost on the way back)
        self.place_faults: list[str] = []
        self.rest_requests = 0
        self.ws_connections = 0  # accepted, ever
        self.book.add_postback_listener(self._on_postback)
        market.add_quote_listener(self._on_quote)
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("GET", re.compile(r"^/instruments/?$"), self._instruments),
            ("GET", re.compile(r"^/instruments/(?P<exchange>[A-Za-z]+)$"), self._instruments),
            ("GET", re.compile(r"^/user/profile$"), self._profile),
            ("GET", re.compile(r"^/user/margins$"), self._margins),
            ("GET", re.compile(r"^/user/margins/(?P<segment>[a-z]+)$"), self._margins),
            ("GET", re.compile(r"^/orders$"), self._orders),
            ("GET", re.compile(r"^/orders/(?P<order_id>\d+)$"), self._order_history),
            ("GET", re.compile(r"^/orders/(?P<order_id>\d+)/trades$"), self._order_trades),
            ("POST", re.compile(r"^/orders/(?P<variety>[a-z]+)$"), self._place),
            ("PUT", re.compile(r"^/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)$"), self._modify),
            ("DELETE", re.compile(r"^/orders/(?P<variety>[a-z]+)/(?P<order_id>\d+)$"),
             self._cancel),
            ("GET", re.compile(r"^/trades$"), self._trades),
            ("GET", re.compile(r"^/portfolio/positions$"), self._positions),
            ("GET", re.compile(r"^/portfolio/holdings$"), self._holdings),
            ("GET", re.compile(r"^/quote$"), self._quote),
            ("GET", re.compile(r"^/quote/ohlc$"), self._quote),
            ("GET", re.compile(r"^/quote/ltp$"), self._quote),
        ]

    # ------------------------------------------------------------ serving

    async def serve(self, host: str, port: int, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on host:port (0 = any free port); ``started`` gets the bound port."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        # the ticker lives at /ws; an upgrade at / (Kite's own ticker root) is served too
        log.info("connection from %s", _peer_of(stream))
        try:
            await serve_connection(stream, self._http, self._ws, (WS_PATH, "/"), http_error,
                                   limits=self.limits, problems=self.problems)
        except Exception as exc:  # noqa: BLE001 - one connection must never end the listener
            self.problems.problem("?", f"connection failed: {type(exc).__name__}: "
                                  f"{shorten(str(exc))}")
            log.debug("connection failed", exc_info=True)

    def _authorized(self, api_key: str, access_token: str) -> bool:
        ok_key = hmac.compare_digest(api_key.encode(), self._api_key.encode())
        ok_token = hmac.compare_digest(access_token.encode(), self._access_token.encode())
        return ok_key and ok_token

    # ------------------------------------------------------------ REST

    async def _http(self, req: HttpRequest) -> HttpResponse:
        self.rest_requests += 1
        if self.rest_refusing:
            return error_response(503, "Service unavailable (simulated disconnect)",
                                  "NetworkException")
        path = req.path.rstrip("/") or "/"
        allowed = []
        for method, pattern, handler in self._routes:
            m = pattern.match(path)
            if m is None:
                continue
            allowed.append(method)
            if method != req.method:
                continue
            auth = req.headers.get("authorization", "")
            key, _, token = auth.removeprefix("token ").partition(":")
            if not auth.startswith("token ") or not self._authorized(key, token):
                return error_response(403, "Incorrect `api_key` or `access_token`.",
                                      "TokenException")
            version = req.headers.get("x-kite-version")
            if version != "3":
                return error_response(400, "Missing or unsupported `X-Kite-Version` header "
                                      "(this gateway speaks version 3).", "InputException")
            self.book.ensure_stats()
            try:
                return await handler(req, m)
            except KiteError as exc:
                return error_response(exc.status, exc.message, exc.error_type)
        if allowed:
            return error_response(405, f"Method {req.method} not allowed on {path}",
                                  "GeneralException")
        return error_response(404, "Route not found", "GeneralException")

    def _rate_check(self) -> None:
        now = trio.current_time()
        times = self._order_times
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= self.order_rate:
            raise KiteError("NetworkException", "Too many requests", 429)
        times.append(now)

    async def _instruments(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        exchange = m.groupdict().get("exchange")
        rows = [i for i in self.master if exchange is None or i.exchange == exchange.upper()]
        body = instruments_csv(rows, self.book.last_prices())
        return HttpResponse(200, body.encode(), "text/csv")

    async def _profile(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success({"user_id": "SIM001", "user_name": "Simulated Trader",
                        "user_shortname": "Sim", "user_type": "individual", "email": "",
                        "broker": "ZERODHA", "exchanges": sorted({i.exchange for i in self.master}),
                        "products": ["CNC", "NRML", "MIS"],
                        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"], "avatar_url": None,
                        "meta": {"demat_consent": "physical"}})

    async def _margins(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        segment = m.groupdict().get("segment")
        if segment is None:
            return success({"equity": self.book.margins_segment("equity"),
                            "commodity": self.book.margins_segment("commodity")})
        if segment not in ("equity", "commodity"):
            raise input_error(f"Invalid segment `{segment}`: equity or commodity")
        return success(self.book.margins_segment(segment))

    async def _orders(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success([o.as_dict() for o in self.book.orders.values()])

    def _order(self, order_id: str) -> KOrder:
        o = self.book.orders.get(order_id)
        if o is None:
            raise input_error(f"Couldn't find that `order_id` ({order_id}).")
        return o

    async def _order_history(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success(self._order(m["order_id"]).history)

    async def _order_trades(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        oid = self._order(m["order_id"]).order_id
        return success([t for t in self.book.trades if t["order_id"] == oid])

    async def _trades(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success(self.book.trades)

    async def _place(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        self._rate_check()
        fault = self.place_faults.pop(0) if self.place_faults else None
        if fault == "refuse":
            return error_response(503, "Service unavailable", "NetworkException")
        order = self.book.place(m["variety"], req.params())
        if fault == "lose_reply":
            return error_response(504, "Gateway timeout", "GeneralException")
        return success({"order_id": order.order_id})

    async def _modify(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        self._rate_check()
        order = self.book.modify(m["variety"], m["order_id"], req.params())
        return success({"order_id": order.order_id})

    async def _cancel(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        self._rate_check()
        order = self.book.cancel(m["variety"], m["order_id"])
        return success({"order_id": order.order_id})

    async def _positions(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success(self.book.positions_payload())

    async def _holdings(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        return success([])

    def _lookup(self, key: str) -> KiteInstrument | None:
        if key.isascii() and key.isdigit() and len(key) <= 10:
            return self.book.by_token.get(int(key))
        return self.book.by_key.get(key)

    async def _quote(self, req: HttpRequest, m: re.Match[str]) -> HttpResponse:
        keys = req.query.get("i", [])
        if not keys:
            raise input_error("No instruments given: pass one or more `i=EXCHANGE:SYMBOL`")
        if len(keys) > 1000:
            raise input_error(f"Too many instruments ({len(keys)}): at most 1000 per request")
        kind = {"/quote": "full", "/quote/ohlc": "ohlc", "/quote/ltp": "ltp"}[req.path.rstrip("/")]
        out: dict[str, Any] = {}
        for key in keys:
            inst = self._lookup(key)
            if inst is not None:
                out[key] = self.book.quote(inst, kind)
        return success(out)

    # ------------------------------------------------------------ ticker

    async def _ws(self, request: trio_websocket.WebSocketRequest, stream: WsStream) -> None:
        if self.ws_refusing:
            await request.reject(503, extra_headers=[(b"Content-Type", b"application/json")],
                                 body=error_body("Ticker unavailable", "NetworkException"))
            return
        query = parse_qs(urlsplit(request.path).query)
        api_key = query.get("api_key", [""])[-1]
        access_token = query.get("access_token", [""])[-1]
        if not self._authorized(api_key, access_token):
            body = error_body("Incorrect `api_key` or `access_token`.", "TokenException")
            await request.reject(403, extra_headers=[(b"Content-Type", b"application/json")],
                                 body=body)
            return
        ws = await request.accept()
        self.ws_connections += 1
        session = _WsSession(ws, stream)
        session.peer = _peer_of(stream)
        log.info("ticker connection from %s", session.peer)
        self.sessions.add(session)
        try:
            with trio.CancelScope() as scope:
                session.scope = scope
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._ws_reader, session, nursery.cancel_scope)
                    nursery.start_soon(self._ws_writer, session)
        finally:
            self.sessions.discard(session)
            log.info("ticker connection from %s closed", session.peer)
            # shutting down (our scope cancelled): no close handshake, the peer may be gone
            shutting_down = trio.current_effective_deadline() == float("-inf")
            with trio.CancelScope(shield=True):
                if session.close_reason is not None and not shutting_down:
                    self.problems.problem(session.peer, f"ticker closed: {session.close_reason}")
                    with trio.move_on_after(1):
                        await ws.aclose(1008, session.close_reason[:120])
                    await stream.aclose()
                elif session.dropped or stream.frozen or shutting_down:
                    await stream.aclose()  # abrupt: no close frame, like a network cut
                else:
                    with trio.move_on_after(1):
                        await ws.aclose()

    async def _ws_reader(self, session: _WsSession, done: trio.CancelScope) -> None:
        try:
            while True:
                msg = await session.ws.get_message()
                if isinstance(msg, str):
                    self._ws_command(session, msg)
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            done.cancel()

    def _ws_command(self, session: _WsSession, text: str) -> None:
        data = wire.parse_text(text)
        action = data.get("a") if data else None
        value = data.get("v") if data else None
        try:
            if action in ("subscribe", "unsubscribe"):
                if not isinstance(value, list) or len(value) > MAX_SUBSCRIPTIONS:
                    raise ValueError(f"`v` must be a list of at most {MAX_SUBSCRIPTIONS} "
                                     "instrument tokens")
                tokens = [_token(t) for t in value]
                for t in tokens:
                    if action == "unsubscribe":
                        session.modes.pop(t, None)
                        session.dirty.discard(t)
                    elif t in self.book.by_token:
                        session.modes.setdefault(t, wire.MODE_QUOTE)
                        session.dirty.add(t)
                        self.market.start()  # start_on_connect: the first subscription is t=0
            elif action == "mode":
                if not (isinstance(value, list) and len(value) == 2 and value[0] in wire.MODES
                        and isinstance(value[1], list) and len(value[1]) <= MAX_SUBSCRIPTIONS):
                    raise ValueError("`v` must be [mode, [tokens]] with mode ltp, quote or full")
                for t in [_token(x) for x in value[1]]:
                    if t in session.modes:
                        session.modes[t] = value[0]
                        session.dirty.add(t)
            else:
                raise ValueError(f"unknown action {shorten(repr(action), 40)}")
        except (TypeError, ValueError) as exc:
            session.bad_messages += 1
            if session.bad_messages == 1:
                self.problems.problem(session.peer, f"invalid ticker message: {exc}")
            if session.bad_messages >= MAX_BAD_WS_MESSAGES:
                session.refuse(f"{session.bad_messages} invalid messages")
                return
            self._queue_text(session, wire.error_message(f"Invalid message: {exc}"))
        session.wake.set()

    def _queue_text(self, session: _WsSession, text: str) -> None:
        if len(session.texts) >= MAX_WS_TEXTS:
            session.refuse(f"too slow: {MAX_WS_TEXTS} messages waiting")
            return
        session.texts.append(text)

    async def _ws_writer(self, session: _WsSession) -> None:
        last_sent = trio.current_time()
        try:
            while True:
                with trio.move_on_at(last_sent + self.heartbeat_s):
                    await session.wake.wait()
                with trio.move_on_after(self.limits.send_timeout_s) as timed:
                    last_sent = await self._ws_flush(session, last_sent)
                if timed.cancelled_caught:
                    self.problems.problem(session.peer, "ticker dropped: the client reads "
                                          f"nothing for {self.limits.send_timeout_s:g} s")
                    session.drop()
                    return
        except trio_websocket.ConnectionClosed:
            if session.scope is not None:
                session.scope.cancel()

    async def _ws_flush(self, session: _WsSession, last_sent: float) -> float:
        """Send what is waiting (texts, then the dirty ticks) or a heartbeat when due."""
        ws = session.ws
        sent = False
        while session.texts:
            await ws.send_message(session.texts.popleft())
            sent = True
        if session.dirty:
            tokens, session.dirty = sorted(session.dirty), set()
            packets = []
            for t in tokens:
                mode = session.modes.get(t)
                packet = self.packets.get(self.book.by_token[t].idx)
                if mode is not None and packet is not None:
                    packets.append(wire.encode_packet(packet, mode))
            if packets:
                await ws.send_message(wire.encode_message(packets))
                sent = True
        now = trio.current_time()
        if sent:
            return now
        if now >= last_sent + self.heartbeat_s:
            await ws.send_message(wire.HEARTBEAT)
            return now
        return last_sent

    def _on_quote(self, idx: int, tick: tuple[int, ...]) -> None:
        inst = self.master[idx]
        self.packets[idx] = self._packet(inst)
        token = inst.token
        for s in self.sessions:
            if token in s.modes:
                s.dirty.add(token)
                s.wake.set()

    def _packet(self, inst: KiteInstrument) -> wire.TickPacket:
        st = self.book.stats[inst.idx]
        seg = wire.segment_of(inst.token)
        step = wire.units_per_wire(seg)

        def w(units: int | Fraction) -> int:
            return max(0, min(round(Fraction(units) / step), 0xFFFFFFFF))

        cap = 0xFFFFFFFF
        p = wire.TickPacket(inst.token, wire.MODE_FULL, w(st.last), min(st.last_qty, cap),
                            w(Fraction(st.turnover, st.volume)) if st.volume else 0,
                            min(st.volume, cap), min(st.bid_size, cap), min(st.ask_size, cap),
                            w(st.open), w(st.high), w(st.low), w(st.close),
                            int(st.last_trade_ts), 0, 0, 0, int(st.ts),
                            w(st.last) - w(st.close))
        if st.bid_size:
            p.buy[0] = wire.DepthLevel(min(st.bid_size, cap), w(st.bid), 1)
        if st.ask_size:
            p.sell[0] = wire.DepthLevel(min(st.ask_size, cap), w(st.ask), 1)
        return p

    def _on_postback(self, order: KOrder, status: str) -> None:
        data = order.as_dict()
        data.update({"status": status, "unfilled_quantity": 0, "app_id": 0, "user_id": "SIM001",
                     "account_id": "SIM001", "checksum": ""})
        text = wire.order_update_message(dumps(data))
        for s in list(self.sessions):
            self._queue_text(s, text)
            s.wake.set()

    # ------------------------------------------------------------ test and ops hooks

    def drop_ws(self) -> int:
        """Cut every ticker connection without a close frame (a network drop)."""
        sessions = list(self.sessions)
        for s in sessions:
            s.drop()
        return len(sessions)

    def set_ws_down(self, down: bool) -> None:
        """Take the ticker down (cut every connection, refuse new ones) or bring it back."""
        self.ws_refusing = down
        if down:
            self.drop_ws()

    def set_offline(self, down: bool) -> None:
        """A scenario ``disconnect``: the ticker is cut and refused, REST answers 503."""
        self.rest_refusing = down
        self.set_ws_down(down)

    def freeze_ws(self) -> int:
        """Make every ticker connection a silent dead socket: TCP up, nothing moves."""
        sessions = list(self.sessions)
        for s in sessions:
            s.stream.frozen = True
        return len(sessions)

    def token(self, symbol: str) -> int:
        for inst in self.master:
            if inst.symbol == symbol:
                return inst.token
        raise KeyError(symbol)


async def serve_kite(scn: Scenario, *, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0,
                     seed: int | None = None, api_key: str, access_token: str,
                     start_on_connect: bool = False, max_order_qty: int | None = None,
                     task_status: trio.TaskStatus[KiteGateway] = trio.TASK_STATUS_IGNORED) -> None:
    """Replay ``scn``'s market and serve it over Kite until cancelled."""
    market = RealtimeMarket(scn, seed=seed, speed=speed, start_on_connect=start_on_connect)
    gateway = KiteGateway(market, api_key, access_token, start_cash=scn.account.cash,
                          max_order_qty=max_order_qty)
    market.add_outage_listener(gateway.set_offline)  # the scenario's disconnect windows
    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.serve, host, port)
        await nursery.start(market.run)
        task_status.started(gateway)


__all__ = ["KiteGateway", "serve_kite", "error_response"]
