"""HTTP/1.1 and a WebSocket upgrade on one trio listener: h11 + trio-websocket.

Kite serves REST and its ticker on different hosts, but the gateway's contract is
one port (REST at ``/``, the ticker at ``/ws``), and ``trio_websocket.serve_websocket``
owns the whole listener, so it cannot share a port with plain HTTP. The split:

* **h11** (already installed with wsproto) parses every request. It is sans-I/O, small,
  maintained by the same people as trio, and handles keep-alive, chunked bodies and
  protocol errors, which ``requests.Session`` (inside ``kiteconnect``) exercises.
* When a request asks to upgrade to ``websocket``, h11 pauses; we rebuild the request
  head from h11's raw header list, prepend it (and any bytes already read past it) to
  the socket stream, and hand that stream to ``trio_websocket.wrap_server_stream``,
  which runs the real handshake, framing, ping/pong and close logic. We do not
  re-implement any of WebSocket.

``WsStream`` is that prefixed stream; it also has a ``frozen`` switch so tests can turn
a connection into a silent dead socket (nothing read, nothing written, TCP still up),
which only real ping/pong on the client can detect.

Anything h11 refuses, in the head or in the body (a body shorter than its
Content-Length, a bad chunk), is answered 400 when a response can still be sent and
the connection is closed; a request must arrive whole within ``handshake_timeout_s``,
a keep-alive connection may idle ``idle_timeout_s`` and a response the peer never
reads times out (``gateways.limits``), so no client can hold a connection forever.
"""
from __future__ import annotations

import json
from typing import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import attrs
import h11
import trio
import trio_websocket

from .limits import SessionLimits, enable_keepalive
from .problems import ProblemLog, shorten

MAX_BODY = 1 << 20
MAX_HEAD = 64 * 1024
READ_SIZE = 64 * 1024


@attrs.frozen
class HttpRequest:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def form(self) -> dict[str, list[str]]:
        """An ``application/x-www-form-urlencoded`` body (what requests sends for data=)."""
        if not self.body:
            return {}
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def params(self) -> dict[str, list[str]]:
        """Query and form fields together (Kite reads both the same way)."""
        out = {k: list(v) for k, v in self.query.items()}
        for k, v in self.form().items():
            out.setdefault(k, []).extend(v)
        return out


@attrs.frozen
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]
WsHandler = Callable[[trio_websocket.WebSocketRequest, "WsStream"], Awaitable[None]]


class WsStream(trio.abc.Stream):
    """The socket stream after an upgrade: replays the request head first, can be frozen."""

    def __init__(self, inner: trio.abc.Stream, prefix: bytes) -> None:
        self._inner = inner
        self._prefix = prefix
        self.frozen = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self.frozen:
            await trio.sleep_forever()
        if self._prefix:
            n = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            await trio.lowlevel.checkpoint()
            return data
        data = await self._inner.receive_some(max_bytes)
        if self.frozen:  # what arrived while frozen is never seen: a dead peer
            await trio.sleep_forever()
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.frozen:
            await trio.sleep_forever()
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._inner.aclose()


def json_response(status: int, payload: object) -> HttpResponse:
    return HttpResponse(status, json.dumps(payload).encode())


def _request_head(ev: h11.Request) -> bytes:
    """The request head as bytes again, for the WebSocket handshake parser."""
    lines = [ev.method + b" " + ev.target + b" HTTP/" + ev.http_version]
    for name, value in ev.headers.raw_items():
        lines.append(name + b": " + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _is_upgrade(ev: h11.Request) -> bool:
    for name, value in ev.headers:
        if name == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


class _Closed(Exception):
    pass


async def _next_event(conn: h11.Connection, stream: trio.abc.Stream,
                      timeout_s: float) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        with trio.move_on_after(timeout_s) as scope:
            data = await stream.receive_some(READ_SIZE)
        if scope.cancelled_caught:
            raise _Closed("idle")
        conn.receive_data(data)  # b"" marks EOF


async def _send(conn: h11.Connection, stream: trio.abc.Stream, event: object,
                timeout_s: float) -> None:
    data = conn.send(event)  # type: ignore[arg-type]
    if data:
        with trio.move_on_after(timeout_s) as scope:
            await stream.send_all(data)
        if scope.cancelled_caught:
            raise _Closed("the peer does not read")


async def _respond(conn: h11.Connection, stream: trio.abc.Stream, resp: HttpResponse,
                   timeout_s: float = SessionLimits().send_timeout_s) -> None:
    headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body))),
               ("Server", "triotrade-kite-gateway"), *resp.headers]
    await _send(conn, stream, h11.Response(status_code=resp.status, headers=headers), timeout_s)
    await _send(conn, stream, h11.Data(data=resp.body), timeout_s)
    await _send(conn, stream, h11.EndOfMessage(), timeout_s)


def _peer(stream: trio.abc.Stream) -> str:
    try:
        return "%s:%s" % stream.socket.getpeername()[:2]  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return "?"


async def serve_connection(stream: trio.abc.Stream, http: HttpHandler, ws: WsHandler,
                           ws_paths: tuple[str, ...],
                           error_body: Callable[[int, str], HttpResponse], *,
                           limits: SessionLimits | None = None,
                           problems: ProblemLog | None = None) -> None:
    """Serve one TCP connection: HTTP requests until close, or one WebSocket session.

    Whatever the peer sends, this returns (the connection closed) or keeps serving;
    no client mistake escapes it to end the listener's other connections.
    """
    limits = limits or SessionLimits()
    enable_keepalive(stream, limits.keepalive_idle_s)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    peer = _peer(stream)

    def problem(text: str) -> None:
        if problems is not None:
            problems.problem(peer, text)

    try:
        await _serve_requests(conn, stream, http, ws, ws_paths, error_body, limits)
    except h11.RemoteProtocolError as exc:
        problem(f"malformed HTTP request: {shorten(str(exc))}")
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            try:
                await _respond(conn, stream, error_body(exc.error_status_hint,
                                                        "Malformed HTTP request"),
                               limits.send_timeout_s)
            except (_Closed, h11.LocalProtocolError, trio.BrokenResourceError,
                    trio.ClosedResourceError):
                pass
    except _Closed as exc:
        if str(exc) != "idle":
            problem(f"connection dropped: {exc}")
    except h11.LocalProtocolError as exc:  # pragma: no cover - our own HTTP mistake
        problem(f"HTTP state error: {shorten(str(exc))}")
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(1):
                await stream.aclose()


async def _serve_requests(conn: h11.Connection, stream: trio.abc.Stream, http: HttpHandler,
                          ws: WsHandler, ws_paths: tuple[str, ...],
                          error_body: Callable[[int, str], HttpResponse],
                          limits: SessionLimits) -> None:
    send_s = limits.send_timeout_s
    while True:
        # between requests a keep-alive connection may idle, and the next request's head
        # must be complete within that time (no byte-a-minute heads); once a request has
        # started, its body must arrive within the handshake timeout
        with trio.move_on_after(limits.idle_timeout_s) as idle:
            event = await _next_event(conn, stream, limits.idle_timeout_s)
        if idle.cancelled_caught:
            return
        if isinstance(event, (h11.ConnectionClosed,)) or event is h11.PAUSED:
            return
        if not isinstance(event, h11.Request):
            return
        with trio.move_on_after(limits.handshake_timeout_s) as whole:
            request_event = event
            body = bytearray()
            too_big = False
            while True:
                ev = await _next_event(conn, stream, limits.handshake_timeout_s)
                if isinstance(ev, h11.Data):
                    if len(body) + len(ev.data) > MAX_BODY:
                        too_big = True
                    else:
                        body += ev.data
                elif isinstance(ev, h11.EndOfMessage):
                    break
                elif isinstance(ev, h11.ConnectionClosed):
                    return
        if whole.cancelled_caught:
            raise _Closed(f"request not complete within {limits.handshake_timeout_s:g} s")
        target = request_event.target.decode("ascii", "replace")
        split = urlsplit(target)
        if _is_upgrade(request_event):
            if (split.path.rstrip("/") or "/") not in ws_paths:
                await _respond(conn, stream, error_body(404, "Route not found"), send_s)
                return
            trailing, _ = conn.trailing_data
            prefixed = WsStream(stream, _request_head(request_event) + trailing)
            await _serve_ws(prefixed, ws)
            return
        headers: dict[str, str] = {}
        for name, value in request_event.headers:
            headers[name.decode("latin-1")] = value.decode("latin-1")
        request = HttpRequest(request_event.method.decode("ascii", "replace"), target,
                              split.path, parse_qs(split.query, keep_blank_values=True),
                              headers, bytes(body))
        if too_big:
            resp = error_body(413, "Request body too large")
        else:
            resp = await http(request)
        await _respond(conn, stream, resp, send_s)
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            return


async def _serve_ws(stream: WsStream, handler: WsHandler) -> None:
    async with trio.open_nursery() as nursery:
        request = await trio_websocket.wrap_server_stream(nursery, stream)
        try:
            await handler(request, stream)
        finally:
            nursery.cancel_scope.cancel()
