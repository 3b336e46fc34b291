"""Hostile clients for the gateways: raw bytes on loopback, and the well-behaved probe after.

The hostile-input tests and the boundary fuzzers share these. A gateway runs in a
thread of its own (``GatewayThread``: its own ``trio.run``), so a test can throw
blocking sockets at it and then check, with the real ``ib_async`` or ``kiteconnect``
client, that it still serves a well-behaved one. ``LogTrap`` records every log
record the gateway emits, so "printed no traceback" is an assertion, not a hope.
Only 127.0.0.1; every socket has a timeout, every loop a bound.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from typing import Any, Callable

import trio

from triotrade.gateways.kite import KiteGateway
from triotrade.gateways.limits import SessionLimits
from triotrade.gateways.realtime import RealtimeMarket
from triotrade.gateways.tws import TwsBroker, TwsGateway
from triotrade.sim.scenario import Scenario
from triotrade.wire import tws as P

HOST = "127.0.0.1"
SOCKET_TIMEOUT_S = 20.0


class LogTrap(logging.Handler):
    """Every record under ``triotrade``; fails a test that logged a traceback or an ERROR."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def __enter__(self) -> "LogTrap":
        logger = logging.getLogger("triotrade")
        self._level = logger.level
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("triotrade")
        logger.removeHandler(self)
        logger.setLevel(self._level)

    def tracebacks(self) -> list[str]:
        """Records that would print a traceback, or say *we* failed (ERROR and above)."""
        with self._lock:
            return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records
                    if r.levelno >= logging.ERROR
                    or (r.exc_info and r.levelno >= logging.INFO)]

    def warnings(self) -> list[str]:
        with self._lock:
            return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


class GatewayThread:
    """A TWS or Kite gateway on its own trio loop in a daemon thread, on loopback."""

    def __init__(self, protocol: str, scn: Scenario, *, limits: SessionLimits | None = None,
                 api_key: str = "k", access_token: str = "t", **kw: Any) -> None:
        self.protocol = protocol
        self.scn = scn
        self.limits = limits
        self.api_key = api_key
        self.access_token = access_token
        self.kw = kw
        self.port = 0
        self.error: BaseException | None = None
        self.broker: TwsBroker | None = None
        self.kite: KiteGateway | None = None
        self.market: RealtimeMarket | None = None
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> "GatewayThread":
        self._thread.start()
        if not self._ready.wait(60) or self.error is not None:
            raise AssertionError(f"gateway did not start: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None and self._cancel is not None:
            try:
                self._token.run_sync_soon(self._cancel.cancel)
            except trio.RunFinishedError:
                pass
        self._thread.join(30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.error is None

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:  # noqa: BLE001 - the test reads it: the gateway died
            self.error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        market = self.market = RealtimeMarket(self.scn)
        with trio.CancelScope() as scope:
            self._cancel = scope
            async with trio.open_nursery() as nursery:
                if self.protocol == "tws":
                    broker = self.broker = TwsBroker(market, limits=self.limits, **self.kw)
                    gw = TwsGateway(broker, HOST, 0)
                    await nursery.start(broker.run)
                    await nursery.start(gw.serve)
                    self.port = gw.port
                else:
                    kite = self.kite = KiteGateway(market, self.api_key, self.access_token,
                                                   limits=self.limits, **self.kw)
                    self.port = await nursery.start(kite.serve, HOST, 0)
                    await nursery.start(market.run)
                self._ready.set()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the gateway's trio thread (its state is not thread-safe)."""
        return trio.from_thread.run_sync(fn, trio_token=self._token)


# ------------------------------------------------------------------ TWS, raw


def tws_connect(port: int, *, handshake: bool = True) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT_S)
    if handshake:
        body = f"v{P.MIN_CLIENT_VERSION}..{P.SERVER_VERSION}".encode()
        sock.sendall(P.HEADER + struct.pack(">I", len(body)) + body)
        read_frame(sock)  # the server hello
    return sock


def tws_frame(*fields: str) -> bytes:
    return P.frame(list(fields))


def read_frame(sock: socket.socket) -> list[str] | None:
    """One length-prefixed message's fields; None at EOF."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    body = _read_exact(sock, n)
    if body is None:
        return None
    fields = body.decode("utf-8", "replace").split("\0")
    return fields[:-1] if fields and fields[-1] == "" else fields


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def read_until_closed(sock: socket.socket, limit: int = 10_000) -> list[list[str]]:
    """Every message until the server closes (bounded); errors are (4, 2, id, code, text)."""
    out: list[list[str]] = []
    for _ in range(limit):
        fields = read_frame(sock)
        if fields is None:
            return out
        out.append(fields)
    raise AssertionError(f"the server did not close after {limit} messages")


def errors_in(messages: list[list[str]]) -> list[tuple[int, str]]:
    return [(int(m[3]), m[4]) for m in messages if m and m[0] == str(int(P.Out.ERR_MSG))
            and len(m) > 4]


def start_api(sock: socket.socket, client_id: int) -> None:
    sock.sendall(tws_frame(str(int(P.In.START_API)), "2", str(client_id), ""))


def ib_probe(port: int, client_id: int) -> float:
    """A real ib_async client connects, asks the time and for a quote, disconnects."""
    from ib_async import IB, Stock

    async def main() -> float:
        ib = IB()
        await ib.connectAsync(HOST, port, clientId=client_id, timeout=30)
        try:
            await ib.reqCurrentTimeAsync()
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            [t] = await ib.reqTickersAsync(c)
            return float(t.last)
        finally:
            ib.disconnect()

    return asyncio.run(asyncio.wait_for(main(), 60))


# ------------------------------------------------------------------ Kite, raw


def http_exchange(port: int, raw: bytes, *, shut_write: bool = True) -> bytes:
    """Send raw bytes, read what comes back until the server closes (bounded)."""
    with socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(raw)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while len(out) < 1 << 20:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
        return out


def status_of(response: bytes) -> int | None:
    if not response.startswith(b"HTTP/1.1 "):
        return None
    return int(response[9:12])


def kite_probe(port: int, api_key: str, access_token: str) -> Any:
    """A real kiteconnect client reads the profile and a quote."""
    from kiteconnect import KiteConnect

    kite = KiteConnect(api_key, access_token=access_token, root=f"http://{HOST}:{port}")
    kite.profile()
    return kite.ltp("NSE:INFY")
