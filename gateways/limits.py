"""What one client connection may cost a simulated broker, and how a dead one is noticed.

The gateways serve scripts and bots their users wrote, so a client may be slow,
vanish without closing, or never finish a handshake. Each connection therefore has a
bounded amount of queued output (past it the client is dropped: the alternative is
the server's memory growing for as long as the client does not read), a deadline
for its handshake and for each write, and TCP keepalive so a peer that vanished is
noticed by the operating system even when nothing is being sent. The numbers are
attrs fields so tests can make them small; the defaults are generous for honest use.
"""
from __future__ import annotations

import socket

import attrs
import trio

MAX_ORDER_QTY = 1_000_000  # shares (or units) in one order: past this no honest order


@attrs.frozen
class SessionLimits:
    """Per-connection bounds; past one the connection is closed, nobody else notices."""

    max_queued_bytes: int = 8 << 20  # output waiting for a slow reader
    handshake_timeout_s: float = 30.0  # TWS: connect -> startApi; Kite: a request head
    idle_timeout_s: float = 300.0  # Kite HTTP: a keep-alive connection with no request
    send_timeout_s: float = 60.0  # one write the peer never drains (a half-open socket)
    max_messages_before_start: int = 50  # TWS requests sent before startApi
    max_bad_messages: int = 1000  # malformed requests answered before the line is closed
    max_market_data_lines: int = 100  # TWS: streaming subscriptions per client (IB's default)
    keepalive_idle_s: int = 60  # TCP keepalive


def enable_keepalive(stream: trio.abc.Stream, idle_s: int) -> None:
    """TCP keepalive on a socket stream, so a half-open connection ends by itself."""
    sock = getattr(stream, "socket", None)
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", idle_s), ("TCP_KEEPINTVL", max(idle_s // 6, 1)),
                            ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:  # pragma: no cover - a socket that is already gone
        pass
