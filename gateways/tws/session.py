"""One API client connection: the handshake, the framing loop and every request handler.

A reader task parses frames (``wire.tws``) and dispatches each request through
``_HANDLERS``; a writer task drains a queue of frames the broker fills synchronously.
Requests the simulator does not serve are answered with an error, never silence;
a malformed request is answered with error 320 and the connection stays up.

A client must not be able to hurt anyone but itself. Every request, startApi
included, is handled inside one guard; numbers are bounded before conversion
(``wire.tws.fields``); what is queued for a client is bounded (``SessionLimits``) and a
reader too slow to keep up is dropped rather than allowed to grow the server's memory;
a connection that never finishes its handshake, or a send that the peer never drains,
times out. Problems are logged once each, rate-limited (``gateways.problems``).
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Callable

import trio

from ...kernel.units import NS_PER_S, fmt_units
from ...wire import tws as P
from ..limits import SessionLimits, enable_keepalive
from ..problems import shorten
from .market_data import quote_frames

if TYPE_CHECKING:
    from .broker import TwsBroker

log = logging.getLogger("triotrade.gateway.tws")

FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class Session:
    """One API client connection: a reader (requests) and a writer (a queue of frames).

    Broker events arrive synchronously from the exchange; they are queued here and a
    writer task sends them, coalescing whatever is queued into one ``send_all`` so that
    the three ticks of a quote reach the client in one read.
    """

    def __init__(self, broker: TwsBroker, stream: trio.abc.Stream, peer: str) -> None:
        self.broker = broker
        self.stream = stream
        self.peer = peer
        self.version = P.SERVER_VERSION
        self.client_id: int | None = None
        self.md: dict[int, int] = {}  # reqId -> instrument index
        self.md_by_idx: dict[int, list[int]] = {}
        self.positions_sub = False
        self.account_sub = False
        self.limits: SessionLimits = broker.limits
        self._send, self._recv = trio.open_memory_channel[bytes | None](math.inf)
        self._closing = False
        self._queued = 0  # bytes in the channel, not yet written
        self._scope: trio.CancelScope | None = None
        self._before_start = 0
        self._bad = 0
        self._started_scope = trio.CancelScope()  # replaced by the handshake timeout in run()
        self.dropped_reason = ""

    def problem(self, text: str) -> None:
        self.broker.problems.problem(self.peer, text)

    def send(self, data: bytes) -> None:
        if self._closing:
            return
        if self._queued + len(data) > self.limits.max_queued_bytes:
            self.drop(f"too slow: more than {self.limits.max_queued_bytes} bytes queued")
            return
        try:
            self._send.send_nowait(data)
            self._queued += len(data)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def drop(self, reason: str, *, client_fault: bool = True) -> None:
        """Close this connection now; nobody else notices. ``client_fault``: the client
        misbehaved (logged as a problem); otherwise the broker went away (a scenario's
        disconnect window)."""
        if self._closing:
            return
        self._closing = True
        self.dropped_reason = reason
        if client_fault:
            self.problem(f"dropped: {reason}")
        if self._scope is not None:
            self._scope.cancel()

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(P.error(self.version, req_id, code, text))

    async def run(self) -> None:
        enable_keepalive(self.stream, self.limits.keepalive_idle_s)
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                nursery.start_soon(self._writer, nursery.cancel_scope)
                with trio.move_on_after(self.limits.handshake_timeout_s) as started:
                    self._started_scope = started
                    await self._reader()
                if started.cancelled_caught and not self._closing:
                    self.problem(f"no startApi within {self.limits.handshake_timeout_s:g} s; "
                                 "closing")
                if not self._closing:
                    self._send.send_nowait(None)  # flush what is queued, then stop
                    self._closing = True
        finally:
            self.broker.detach(self)
            self._unsubscribe_all()
            log.info("client %s (%s) disconnected", self.client_id, self.peer)

    async def _writer(self, scope: trio.CancelScope) -> None:
        try:
            async for data in self._recv:
                if data is None:
                    break
                chunks = [data]
                stop = False
                while True:
                    try:
                        more = self._recv.receive_nowait()
                    except trio.WouldBlock:
                        break
                    if more is None:
                        stop = True
                        break
                    chunks.append(more)
                data = b"".join(chunks)
                with trio.move_on_after(self.limits.send_timeout_s) as timed:
                    await self.stream.send_all(data)
                if timed.cancelled_caught:
                    self.drop(f"peer read nothing for {self.limits.send_timeout_s:g} s")
                    break
                self._queued -= len(data)
                if stop:
                    break
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    async def _reader(self) -> None:
        reader = P.FrameReader()
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            reader.feed(data)
            try:
                if not reader.handshake_done:
                    hello = reader.handshake()
                    if hello is None:
                        continue
                    lo, hi, _options = hello
                    version = min(hi, P.SERVER_VERSION)
                    if version < max(lo, P.MIN_CLIENT_VERSION):
                        log.warning("client %s offers v%d..%d; we speak %d..%d", self.peer,
                                    lo, hi, P.MIN_CLIENT_VERSION, P.SERVER_VERSION)
                        return
                    self.version = version
                    conn_time = P.fmt_ib_time(self.broker.wall_now())
                    self.send(P.server_hello(version, conn_time))
                for fields in reader.messages():
                    if not self._handle(fields) or self._closing:
                        return
            except (P.ProtocolError, ArithmeticError) as exc:
                self.problem(f"{shorten(str(exc) or type(exc).__name__)}; closing")
                return

    # ------------------------------------------------------------ requests

    def _handle(self, f: list[str]) -> bool:
        """Handle one request; False closes the connection.

        Whatever the request holds, the outcome is an answer (an error 320/321 for a
        malformed or unsupported one) or this connection closing: never an exception
        that reaches the listener, which would end every other client's session too.
        """
        msg = P.parse_int(f[0], default=-1)  # a ProtocolError here closes the connection
        b = self.broker
        if self.client_id is None:
            if msg != P.In.START_API:
                self._before_start += 1
                if self._before_start == 1:
                    self.problem(f"sent message {msg} before startApi (ignored)")
                if self._before_start >= self.limits.max_messages_before_start:
                    self.problem(f"{self._before_start} messages before startApi; closing")
                    return False
                return True
            try:
                return self._start_api(f)
            except (IndexError, ValueError, ArithmeticError, P.ProtocolError) as exc:
                text = shorten(str(exc) or type(exc).__name__)
                self.problem(f"malformed startApi: {text}; closing")
                self.error(-1, 320, f"Error reading request: startApi: {text}")
                return False
        if msg in b.stall:
            return True
        try:
            handler = _HANDLERS[msg]
        except KeyError:
            self.error(-1, 321, f"Error validating request.-'{msg}' : cause - message type "
                       f"{msg} is not supported by the triotrade TWS simulator")
            return True
        try:
            handler(self, f)
        except (IndexError, ValueError, ArithmeticError, P.ProtocolError) as exc:
            self._bad += 1
            self.problem(f"malformed message {msg}: {shorten(str(exc))}")
            self.error(-1, 320, f"Error reading request: message {msg}: {shorten(str(exc))}")
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the gateway down
            self._bad += 1
            self.problem(f"message {msg} failed: {type(exc).__name__}: {shorten(str(exc))}")
            log.debug("message %d from %s failed", msg, self.peer, exc_info=True)
            self.error(-1, 320, f"Error reading request: message {msg}: internal error")
        if self._bad >= self.limits.max_bad_messages:
            self.problem(f"{self._bad} malformed requests; closing")
            return False
        return True

    def _start_api(self, f: list[str]) -> bool:
        cid = P.parse_int(f[2])
        if self.broker.offline:
            self.error(-1, 502, "Couldn't connect to TWS: the simulated broker is offline "
                       "(the scenario's disconnect window)")
            return False
        if not 0 <= cid <= 2 ** 31 - 1:
            self.error(-1, 320, f"Error reading request: startApi: client id {cid} out of "
                       "range")
            self.problem(f"client id {cid} out of range; closing")
            return False
        self.client_id = cid
        if not self.broker.attach(self):
            self.client_id = None  # not ours: do not detach the session that owns the id
            self.error(-1, 326, "Unable to connect as the client id is already in use. "
                       "Retry with a unique client id.")
            log.info("client %s refused: clientId %d in use", self.peer, cid)
            return False
        self._started_scope.deadline = math.inf  # the handshake timeout is over
        log.info("client %s connected as clientId %d (v%d)", self.peer, cid, self.version)
        self.send(P.managed_accounts(self.broker.account))
        self.send(P.next_valid_id(self.broker.next_id(cid)))
        for code, text in FARM_NOTICES:
            self.error(-1, code, text)
        return True

    def _req_mkt_data(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        q = P.parse_contract(f, 3)
        i = 15
        if q.sec_type.upper() == "BAG":
            self.error(req_id, 200, "combo market data is not supported by the triotrade simulator")
            return
        if P.parse_bool(f[i]):
            i += 3
        i += 1
        snapshot = P.parse_bool(f[i + 1]) if len(f) > i + 1 else False
        spec = self.broker.resolve(q)
        if spec is None:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        m = self.broker.market
        m.start()  # with start_on_connect, the first subscription is the scenario's t=0
        idx = m.exchange.index[spec.symbol]
        self.send(P.market_data_type(req_id, 1))
        self.send(P.tick_req_params(req_id, spec.tick_size, "SMART"))
        tick = m.last_tick[idx]
        if tick is not None:
            self.send(quote_frames(req_id, fmt_units(tick[2], spec.places),
                                    fmt_units(tick[3], spec.places),
                                    fmt_units(tick[4], spec.places), tick[5], tick[6]))
        if snapshot:
            self.send(P.tick_snapshot_end(req_id))
            return
        self._cancel_mkt_data_id(req_id)
        if len(self.md) >= self.limits.max_market_data_lines:
            self.error(req_id, 101, "Max number of tickers has been reached "
                       f"({self.limits.max_market_data_lines})")
            return
        self.md[req_id] = idx
        self.md_by_idx.setdefault(idx, []).append(req_id)

    def _cancel_mkt_data_id(self, req_id: int) -> None:
        idx = self.md.pop(req_id, None)
        if idx is not None:
            ids = self.md_by_idx.get(idx, [])
            if req_id in ids:
                ids.remove(req_id)

    def _unsubscribe_all(self) -> None:
        self.md.clear()
        self.md_by_idx.clear()

    def _cancel_mkt_data(self, f: list[str]) -> None:
        self._cancel_mkt_data_id(P.parse_int(f[2]))

    def _place_order(self, f: list[str]) -> None:
        try:
            po = P.parse_place_order(f, self.version)
        except P.ProtocolError as exc:
            oid = P.parse_int(f[1]) if len(f) > 1 else -1
            self.error(oid, 321, f"Error validating request.-'bO' : cause - {exc}")
            return
        self.broker.place(self, po)

    def _cancel_order(self, f: list[str]) -> None:
        self.broker.cancel(self, P.parse_int(f[2]))

    def _req_open_orders(self, f: list[str]) -> None:
        self.broker.send_open_orders(self, all_clients=False)

    def _req_all_open_orders(self, f: list[str]) -> None:
        self.broker.send_open_orders(self, all_clients=True)

    def _req_completed_orders(self, f: list[str]) -> None:
        self.broker.send_completed_orders(self)

    def _req_acct_data(self, f: list[str]) -> None:
        subscribe = P.parse_bool(f[2])
        acct = f[3] if len(f) > 3 else ""
        if acct and acct != self.broker.account:
            self.error(-1, 321, f"Error validating request.-'bA' : cause - unknown account {acct}")
            return
        self.account_sub = subscribe
        if subscribe:
            self.broker.send_account(self)

    def _req_account_updates_multi(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        for tag, value, ccy in self.broker.account_values():
            self.send(P.account_update_multi(req_id, self.broker.account, tag, value, ccy))
        self.send(P.account_update_multi_end(req_id))

    def _req_account_summary(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        tags = {t.strip() for t in (f[4] if len(f) > 4 else "").split(",") if t.strip()}
        ledger = any(t.startswith("$LEDGER") for t in tags)
        for tag, value, ccy in self.broker.account_values():
            if tag in tags or (ledger and tag == "CashBalance" and ccy != "BASE"):
                self.send(P.account_summary(req_id, self.broker.account, tag, value, ccy))
        self.send(P.account_summary_end(req_id))

    def _req_executions(self, f: list[str]) -> None:
        self.broker.send_executions(self, P.parse_int(f[2]), f)

    def _req_positions(self, f: list[str]) -> None:
        self.positions_sub = True
        self.broker.send_positions(self)

    def _cancel_positions(self, f: list[str]) -> None:
        self.positions_sub = False

    def _req_contract_data(self, f: list[str]) -> None:
        req_id = P.parse_int(f[2])
        q = P.parse_contract(f, 3)
        spec = self.broker.resolve(q)
        if spec is None or (q.exchange and q.exchange.upper() not in
                            ("SMART", spec.primary.upper(), spec.exchange.upper())):
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        self.send(P.contract_details(self.version, req_id, spec,
                                     f"{spec.symbol} (triotrade simulated stock)"))
        self.send(P.contract_details_end(req_id))

    def _req_ids(self, f: list[str]) -> None:
        assert self.client_id is not None
        self.send(P.next_valid_id(self.broker.next_id(self.client_id)))

    def _req_managed_accts(self, f: list[str]) -> None:
        self.send(P.managed_accounts(self.broker.account))

    def _req_current_time(self, f: list[str]) -> None:
        self.send(P.current_time(self.broker.wall_now() // NS_PER_S))

    def _req_global_cancel(self, f: list[str]) -> None:
        self.broker.global_cancel()

    def _req_historical(self, f: list[str]) -> None:
        req_id = P.parse_int(f[1])
        self.error(req_id, 162, "Historical Market Data Service error message:HMDS query "
                   "returned no data (the triotrade simulator keeps no history)")

    def _ignore(self, f: list[str]) -> None:
        pass


_HANDLERS: dict[int, Callable[[Session, list[str]], None]] = {
    P.In.REQ_MKT_DATA: Session._req_mkt_data,
    P.In.CANCEL_MKT_DATA: Session._cancel_mkt_data,
    P.In.PLACE_ORDER: Session._place_order,
    P.In.CANCEL_ORDER: Session._cancel_order,
    P.In.REQ_OPEN_ORDERS: Session._req_open_orders,
    P.In.REQ_ACCT_DATA: Session._req_acct_data,
    P.In.REQ_EXECUTIONS: Session._req_executions,
    P.In.REQ_IDS: Session._req_ids,
    P.In.REQ_CONTRACT_DATA: Session._req_contract_data,
    P.In.REQ_AUTO_OPEN_ORDERS: Session._ignore,
    P.In.REQ_ALL_OPEN_ORDERS: Session._req_all_open_orders,
    P.In.REQ_MANAGED_ACCTS: Session._req_managed_accts,
    P.In.REQ_HISTORICAL_DATA: Session._req_historical,
    P.In.REQ_CURRENT_TIME: Session._req_current_time,
    P.In.REQ_GLOBAL_CANCEL: Session._req_global_cancel,
    P.In.REQ_MARKET_DATA_TYPE: Session._ignore,
    P.In.REQ_POSITIONS: Session._req_positions,
    P.In.REQ_ACCOUNT_SUMMARY: Session._req_account_summary,
    P.In.CANCEL_ACCOUNT_SUMMARY: Session._ignore,
    P.In.CANCEL_POSITIONS: Session._cancel_positions,
    P.In.REQ_ACCOUNT_UPDATES_MULTI: Session._req_account_updates_multi,
    P.In.CANCEL_ACCOUNT_UPDATES_MULTI: Session._ignore,
    P.In.REQ_COMPLETED_ORDERS: Session._req_completed_orders,
    14: Session._ignore,  # setServerLogLevel
}
