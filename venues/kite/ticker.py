"""The ticker: Kite's WebSocket spoken with ``trio-websocket``, kept alive and resubscribed.

Market data and order updates come from Kite's ticker WebSocket, spoken here with
``trio-websocket`` rather than ``KiteTicker`` (which needs Twisted's reactor on its own
thread). The binary packets are parsed by ``wire.kite``, the same code the
simulated gateway encodes with. A ping every ``ping_interval`` must be answered within
``ping_timeout``: a socket that went silent without closing (a NAT dropped it, the
laptop slept) is detected and replaced. Reconnects back off exponentially, resubscribe
every instrument in full mode, reconcile orders over REST (postbacks sent while we were
away are lost), and only then tell the kernel the session is up, so the kernel's own
reconciliation sees the fills it missed.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import trio
import trio_websocket

from ...kernel.instruments import Instrument
from ...kernel.venue import QuoteHandler
from ...wire import kite as wire
from .config import seconds

log = logging.getLogger("triotrade.kite")


class Ticker:
    """The ticker WebSocket of ``KiteVenue``: quotes in, order updates queued."""

    async def _ticker_loop(self) -> None:
        st = self.settings
        delay = seconds(st.reconnect_min)
        while True:
            connected, reason = await self._ticker_session()
            self._ws = None
            self._ws_up = False
            if not self._ever_connected and self._first_failure is None:
                self._first_failure = reason
            self._connection(False, reason)
            if connected:
                delay = seconds(st.reconnect_min)
            await trio.sleep(delay)
            delay = min(delay * 2, seconds(st.reconnect_max))

    async def _ticker_session(self) -> tuple[bool, str]:
        """One WebSocket connection, start to end: (was it ever open, why it ended)."""
        st = self.settings
        outcome: list[str] = []
        opened = False
        try:
            with trio.CancelScope() as abort:
                async with trio_websocket.open_websocket_url(
                        self._ws_url, extra_headers=[(b"X-Kite-Version", b"3")],
                        message_queue_size=1024, connect_timeout=seconds(st.connect_timeout),
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
            await trio.sleep(seconds(st.ping_interval))
            with trio.move_on_after(seconds(st.ping_timeout)) as timer:
                try:
                    await ws.ping()
                except trio_websocket.ConnectionClosed:
                    return
            if timer.cancelled_caught:
                self.dead_sockets += 1
                why.append(f"no pong within {seconds(st.ping_timeout):g}s: the ticker socket is dead")
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
