"""Boundary fuzzers: Hypothesis against running gateways on loopback.

The invariant, for every example: the gateway is still alive, still serves a
well-behaved client, and logged no traceback and no ERROR. Between examples a cheap
raw probe checks the first part; a real ``ib_async`` / ``kiteconnect`` call checks
it every ``REAL_PROBE_EVERY`` examples and once at the end.

* TWS: valid requests as ``ib_async`` 2.x writes them (recorded from its own encoder),
  with fields replaced by hostile values, truncated, or sent under a wrong length
  prefix; and client ids that are not client ids.
* Kite: HTTP requests (methods, paths, headers, form bodies, broken framing) and
  ticker WebSocket frames (JSON with hostile values, non-JSON, binary).

Profiles. CI runs the short one (``EXAMPLES`` examples per fuzzer, the default 40).
The long one is the same tests with more examples and a time bound, from the
command line::

    TRIOTRADE_GATEWAY_FUZZ_EXAMPLES=3000 TRIOTRADE_GATEWAY_FUZZ_SECONDS=900 \\
        pytest -p no:randomly tests/integration/test_gateway_fuzz.py -s

Each fuzzer prints how many requests it sent (``-s`` shows the line). Every loop is
bounded in count and time; only 127.0.0.1 is ever contacted.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hostile import (
    GatewayThread,
    LogTrap,
    http_exchange,
    ib_probe,
    kite_probe,
    read_frame,
    tws_connect,
)
from kite_helpers import ACCESS_TOKEN, API_KEY, SYMBOL_EQ, gateway_scenario
from tws_support import scenario

from triotrade.gateways.limits import SessionLimits
from triotrade.sim import scenario as scenario_mod

EXAMPLES = int(os.environ.get("TRIOTRADE_GATEWAY_FUZZ_EXAMPLES", "40"))
SECONDS = float(os.environ.get("TRIOTRADE_GATEWAY_FUZZ_SECONDS", "120"))
REAL_PROBE_EVERY = 25
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck), derandomize=False)
# short timeouts so a request the gateway (rightly) leaves waiting does not stall the run
LIMITS = SessionLimits(handshake_timeout_s=2.0, idle_timeout_s=2.0, send_timeout_s=5.0)
READ_TIMEOUT_S = 10.0

pytestmark = pytest.mark.fuzz

HOSTILE_TEXT = st.sampled_from([
    "", "0", "-1", "1e1000000", "1e999", "-1e999", "9" * 5000, "NaN", "sNaN", "inf", "Infinite",
    "-Infinity", "1.7976931348623157E308", "2147483647", "9223372036854775808", "0x10",
    "1_000", " 7 ", "١٢٣", "²", "\u0000", "\ufffd", "ACME", "acme", "BAG", "SMART", "USD",
    "LMT", "MKT", "STP", "GTD", "20250101-00:00:00", "99999999-99:99:99", "x" * 70000,
])
FIELD_TEXT = st.one_of(HOSTILE_TEXT, st.text(max_size=40),
                       st.integers(-(2 ** 70), 2 ** 70).map(str),
                       st.decimals(allow_nan=True, allow_infinity=True).map(str))


class _Budget:
    """Counts requests and stops generating work past the time bound."""

    def __init__(self) -> None:
        self.requests = 0
        self.examples = 0
        self.deadline = time.monotonic() + SECONDS

    @property
    def expired(self) -> bool:
        return time.monotonic() > self.deadline


# ------------------------------------------------------------------ TWS


def _ib_templates() -> list[list[str]]:
    """Requests as ib_async's own encoder writes them at server version 178."""
    from ib_async import (
        Client,
        ExecutionFilter,
        LimitOrder,
        MarketOrder,
        Stock,
        StopOrder,
    )
    from ib_async.wrapper import Wrapper

    class Recorder(Client):
        def __init__(self) -> None:
            super().__init__(Wrapper(None))  # type: ignore[arg-type]
            self.sent: list[list[str]] = []
            self._serverVersion = 178

        def isConnected(self) -> bool:
            return True

        def sendMsg(self, msg: str) -> None:
            self.sent.append(msg.split("\0")[:-1])

    r = Recorder()
    acme = Stock("ACME", "SMART", "USD")
    r.placeOrder(1, acme, LimitOrder("BUY", 10, 99.5))
    r.placeOrder(2, acme, MarketOrder("SELL", 5))
    r.placeOrder(3, acme, StopOrder("SELL", 5, 95, tif="GTD", goodTillDate="20300101-00:00:00"))
    r.reqMktData(5, acme, "", False, False, [])
    r.reqMktData(6, acme, "", True, False, [])
    r.reqContractDetails(7, acme)
    r.reqAccountSummary(8, "All", "NetLiquidation,$LEDGER")
    r.reqExecutions(9, ExecutionFilter())
    r.reqAccountUpdates(True, "")
    r.reqAccountUpdatesMulti(10, "", "", False)
    r.reqPositions()
    r.cancelOrder(1, "")
    r.cancelMktData(5)
    r.reqOpenOrders()
    r.reqAllOpenOrders()
    r.reqCompletedOrders(False)
    r.reqIds(1)
    r.reqGlobalCancel()
    return r.sent


TEMPLATES = _ib_templates()


@st.composite
def tws_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """(what was done, the bytes): a recorded request, mutated."""
    fields = list(draw(st.sampled_from(TEMPLATES)))
    how = draw(st.sampled_from(["field", "fields", "truncate", "prefix", "extend", "raw"]))
    if how in ("field", "fields"):
        for _ in range(1 if how == "field" else draw(st.integers(2, 6))):
            i = draw(st.integers(0, len(fields) - 1))
            fields[i] = draw(FIELD_TEXT)
    elif how == "truncate":
        fields = fields[:draw(st.integers(0, len(fields)))]
    elif how == "extend":
        fields += draw(st.lists(FIELD_TEXT, max_size=5))
    body = "".join(f + "\0" for f in fields).encode("utf-8", "surrogatepass")
    if how == "raw":
        body = draw(st.binary(max_size=300))
    n = len(body)
    if how == "prefix":
        n = draw(st.sampled_from([0, 1, max(n - 3, 0), n + 7, 1 << 20, (1 << 32) - 1]))
    return how, struct.pack(">I", n) + body


def _tws_example(port: int, client_id: str, requests: list[bytes], budget: _Budget) -> None:
    sock = tws_connect(port)
    sock.settimeout(READ_TIMEOUT_S)
    try:
        sock.sendall(_frame(["71", "2", client_id, ""]))
        for raw in requests:
            sock.sendall(raw)
            budget.requests += 1
        sock.sendall(_frame(["49", "1"]))  # reqCurrentTime: everything before is answered
        # end of input: a request left incomplete by a wrong length prefix ends here too,
        # so the gateway answers what it can and closes instead of waiting for more bytes
        sock.shutdown(socket.SHUT_WR)
        for _ in range(5000):
            try:
                m = read_frame(sock)
            except (socket.timeout, OSError):
                return  # a wrong length prefix leaves the server waiting: it times out
            if m is None or m[0] == "49":
                return
    except OSError:  # broken pipe, reset, not connected
        return  # the gateway closed a connection it had every right to close
    finally:
        sock.close()


def _frame(fields: list[str]) -> bytes:
    body = "".join(f + "\0" for f in fields).encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(body)) + body


def test_tws_gateway_survives_mutated_requests() -> None:
    budget = _Budget()
    with LogTrap() as trap, GatewayThread("tws", scenario(), limits=LIMITS) as gw:

        @FUZZ_SETTINGS
        @given(client_id=st.one_of(st.integers(0, 999).map(str), FIELD_TEXT),
               requests=st.lists(tws_requests(), min_size=1, max_size=4))
        def example(client_id: str, requests: list[tuple[str, bytes]]) -> None:
            if budget.expired:
                return
            budget.examples += 1
            _tws_example(gw.port, client_id, [raw for _, raw in requests], budget)
            assert gw.alive, f"the gateway died: {gw.error!r}"
            assert not trap.tracebacks(), trap.tracebacks()
            if budget.examples % REAL_PROBE_EVERY == 0:
                assert ib_probe(gw.port, 990) > 0

        example()
        assert gw.alive and ib_probe(gw.port, 991) > 0
        assert not trap.tracebacks(), trap.tracebacks()
        print(f"\nTWS fuzz: {budget.examples} examples, {budget.requests} hostile requests, "
              f"{gw.broker.problems.total} problems logged "
              f"({len(trap.warnings())} lines printed)")


# ------------------------------------------------------------------ Kite HTTP


AUTH_HEADERS = (f"Authorization: token {API_KEY}:{ACCESS_TOKEN}\r\n"
                "X-Kite-Version: 3\r\n")
PATHS = ["/orders/regular", "/orders/regular/1", "/orders", "/quote", "/quote/ltp",
         "/quote/ohlc", "/instruments", "/instruments/NSE", "/user/margins/equity",
         "/portfolio/positions", "/trades", "/user/profile", "/ws", "/", "/%00", "/..//"]
FORM_KEYS = ["exchange", "tradingsymbol", "transaction_type", "quantity", "product",
             "order_type", "price", "trigger_price", "validity", "validity_ttl",
             "disclosed_quantity", "market_protection", "tag", "i", "variety"]
GOOD_FORM = {"exchange": "NSE", "tradingsymbol": SYMBOL_EQ, "transaction_type": "BUY",
             "quantity": "1", "product": "CNC", "order_type": "MARKET"}


@st.composite
def kite_requests(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        # an authenticated, well-framed order with a field or two gone wrong: these reach
        # the order book's validation, margin check and the exchange
        form = dict(GOOD_FORM)
        for _ in range(draw(st.integers(0, 2))):
            form[draw(st.sampled_from(FORM_KEYS))] = draw(FIELD_TEXT)
        body = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in form.items()).encode()
        return (f"POST /orders/regular HTTP/1.1\r\nHost: 127.0.0.1\r\n{AUTH_HEADERS}"
                "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "G\x00T", "OPTIONS"]))
    path = draw(st.one_of(st.sampled_from(PATHS), st.text(max_size=30).map(
        lambda t: "/" + quote(t, safe="/?=&%"))))
    form = dict(GOOD_FORM)
    for _ in range(draw(st.integers(0, 4))):
        form[draw(st.sampled_from(FORM_KEYS))] = draw(FIELD_TEXT)
    body = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in form.items()).encode()
    if draw(st.booleans()):
        query = "i=" + quote(draw(FIELD_TEXT), safe="")
        path += ("&" if "?" in path else "?") + query
    auth = AUTH_HEADERS if draw(st.booleans()) else ""
    framing = draw(st.sampled_from(["ok", "short", "long", "chunked-bad", "chunked-ok",
                                    "no-length", "garbage-header", "binary"]))
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
    head += "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
    if framing == "ok":
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    if framing == "short":
        return (head + f"Content-Length: {len(body) + 50}\r\n\r\n").encode() + body
    if framing == "long":
        return (head + f"Content-Length: {max(len(body) - 5, 0)}\r\n\r\n").encode() + body
    if framing == "chunked-bad":
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"zz\r\n" + body
    if framing == "chunked-ok":
        return ((head + "Transfer-Encoding: chunked\r\n\r\n").encode()
                + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    if framing == "garbage-header":
        return (head + draw(st.text(max_size=50)).replace("\r", "") + "\r\n\r\n").encode(
            "utf-8", "surrogatepass")
    if framing == "binary":
        return draw(st.binary(max_size=500))
    return (head + "\r\n").encode()


def test_kite_gateway_survives_hostile_http() -> None:
    budget = _Budget()
    scn = scenario_mod.from_dict(gateway_scenario())
    with LogTrap() as trap, GatewayThread("kite", scn, limits=LIMITS, api_key=API_KEY,
                                          access_token=ACCESS_TOKEN) as gw:

        @FUZZ_SETTINGS
        @given(requests=st.lists(kite_requests(), min_size=1, max_size=3))
        def example(requests: list[bytes]) -> None:
            if budget.expired:
                return
            budget.examples += 1
            for raw in requests:
                try:
                    http_exchange(gw.port, raw)
                except (socket.timeout, OSError):
                    pass
                budget.requests += 1
            assert gw.alive, f"the gateway died: {gw.error!r}"
            assert not trap.tracebacks(), trap.tracebacks()
            if budget.examples % REAL_PROBE_EVERY == 0:
                _kite_served(gw)

        example()
        _kite_served(gw)
        assert not trap.tracebacks(), trap.tracebacks()
        print(f"\nKite HTTP fuzz: {budget.examples} examples, {budget.requests} hostile "
              f"requests, {len(gw.kite.book.orders)} orders placed, "
              f"{gw.kite.problems.total} problems logged")


def _kite_served(gw: GatewayThread) -> None:
    # the fuzzer may have placed orders and spent the rate limit: wait out one second
    for _ in range(3):
        try:
            assert kite_probe(gw.port, API_KEY, ACCESS_TOKEN)[f"NSE:{SYMBOL_EQ}"]
            return
        except Exception as exc:  # noqa: BLE001 - a 429 from the order-rate limit is honest
            if "Too many requests" not in str(exc):
                raise
            time.sleep(1.1)
    raise AssertionError("kiteconnect was refused three times")


# ------------------------------------------------------------------ Kite ticker


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=20)


@st.composite
def ws_frames(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["command", "json", "text", "binary", "literal"]))
    if kind == "command":
        action = draw(st.sampled_from(["subscribe", "unsubscribe", "mode", "x", ""]))
        return json.dumps({"a": action, "v": draw(JSON_VALUE)})
    if kind == "json":
        return json.dumps(draw(JSON_VALUE))
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "literal":
        return draw(st.sampled_from([
            '{"a":"subscribe","v":[Infinity]}', '{"a":"subscribe","v":[NaN]}',
            '{"a":"subscribe","v":[1e400]}', '{"a":"mode","v":["full",[-Infinity]]}',
            '{"a":"subscribe","v":[' + "9" * 5000 + "]}", "[" * 50000,
            '{"a":"subscribe","v":[' + ",".join(["1"] * 4000) + "]}"]))
    return draw(st.text(max_size=100))


def test_kite_ticker_survives_hostile_frames() -> None:
    import trio
    import trio_websocket

    budget = _Budget()
    scn = scenario_mod.from_dict(gateway_scenario())
    url = None
    with LogTrap() as trap, GatewayThread("kite", scn, limits=LIMITS, api_key=API_KEY,
                                          access_token=ACCESS_TOKEN) as gw:
        url = f"ws://127.0.0.1:{gw.port}/ws?api_key={API_KEY}&access_token={ACCESS_TOKEN}"

        async def session(frames: list[str | bytes]) -> None:
            with trio.move_on_after(READ_TIMEOUT_S):
                try:
                    async with trio_websocket.open_websocket_url(url) as ws:
                        for frame in frames:
                            await ws.send_message(frame)
                            budget.requests += 1
                        await ws.send_message('{"a":"x"}')  # answered: all before it was read
                        while True:
                            msg = await ws.get_message()
                            if isinstance(msg, str) and "unknown action 'x'" in msg:
                                return
                except (trio_websocket.ConnectionClosed, trio_websocket.HandshakeError,
                        OSError):
                    return

        @FUZZ_SETTINGS
        @given(frames=st.lists(ws_frames(), min_size=1, max_size=5))
        def example(frames: list[str | bytes]) -> None:
            if budget.expired:
                return
            budget.examples += 1
            trio.run(session, frames)
            assert gw.alive, f"the gateway died: {gw.error!r}"
            assert not trap.tracebacks(), trap.tracebacks()
            if budget.examples % REAL_PROBE_EVERY == 0:
                _kite_served(gw)

        example()
        _kite_served(gw)
        assert not trap.tracebacks(), trap.tracebacks()
        print(f"\nKite ticker fuzz: {budget.examples} examples, {budget.requests} hostile "
              f"frames, {gw.kite.problems.total} problems logged")

