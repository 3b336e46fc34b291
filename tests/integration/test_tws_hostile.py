"""The TWS gateway against hostile clients: each reproduction, then a real ib_async client.

Every test throws raw bytes at a gateway running in its own thread and then checks
the three things that matter: the offending connection got TWS's own error (or was
closed), the gateway logged no traceback and no ERROR, and a well-behaved ib_async
client is served afterwards (``ib_probe``). Only loopback; every loop is bounded.
"""
from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest
from hostile import (
    GatewayThread,
    LogTrap,
    errors_in,
    ib_probe,
    read_frame,
    read_until_closed,
    start_api,
    tws_connect,
    tws_frame,
)
from tws_support import scenario

from triotrade.gateways.limits import SessionLimits


@pytest.fixture
def trap() -> LogTrap:
    with LogTrap() as t:
        yield t


def _served_after(gw: GatewayThread, trap: LogTrap, client_id: int = 900) -> None:
    assert gw.alive, f"the gateway died: {gw.error!r}"
    assert ib_probe(gw.port, client_id) > 0
    assert not trap.tracebacks(), trap.tracebacks()


def test_start_api_with_missing_fields_is_refused_not_fatal(trap: LogTrap) -> None:
    with GatewayThread("tws", scenario()) as gw:
        sock = tws_connect(gw.port)
        sock.sendall(b"\0\0\0\x0371\0")  # the 8-byte startApi: no version, no client id
        messages = read_until_closed(sock)
        assert any(code == 320 and "startApi" in text for code, text in errors_in(messages))
        _served_after(gw, trap)


def test_a_client_id_of_a_million_digits_is_refused_at_once(trap: LogTrap) -> None:
    with GatewayThread("tws", scenario()) as gw:
        for cid in ("1e1000000", "9" * 5000, "-5", "NaN", "1e1000000000"):
            sock = tws_connect(gw.port)
            sock.sendall(tws_frame("71", "2", cid, ""))
            messages = read_until_closed(sock)
            assert any(code == 320 for code, _ in errors_in(messages)), (cid, messages)
        _served_after(gw, trap)


def _quantity_errors(port: int, client_id: int, qty: object) -> tuple[str, list[int]]:
    """ib_async places a market order of ``qty`` (sent as ib_async writes it)."""
    import asyncio

    from ib_async import IB, MarketOrder, Stock

    async def main() -> tuple[str, list[int]]:
        ib = IB()
        codes: list[int] = []
        ib.errorEvent += lambda r, code, text, c: codes.append(code)
        await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=30)
        try:
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            order = MarketOrder("BUY", 1)
            order.totalQuantity = qty  # type: ignore[assignment]
            trade = ib.placeOrder(c, order)
            for _ in range(3000):
                if trade.isDone() or any(code in (201, 320, 321) for code in codes):
                    break
                await asyncio.sleep(0.01)
            return trade.orderStatus.status, codes
        finally:
            ib.disconnect()

    return asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize("qty", [Decimal("1e999"), float("inf"), float("nan"), -100, 10.5, 0,
                                 2_000_000, "1" * 41], ids=repr)
def test_impossible_quantities_are_rejected_with_201(trap: LogTrap, qty: object) -> None:
    with GatewayThread("tws", scenario()) as gw:
        status, codes = _quantity_errors(gw.port, 5, qty)
        # too long to be a number at all is malformed (320/321); the rest are orders IB refuses
        expected = 201 if not isinstance(qty, str) else 321
        assert expected in codes, (status, codes)
        assert not gw.call(lambda: gw.broker.positions), "an impossible order filled"
        assert not gw.call(lambda: [o for o in gw.broker.orders.values() if o.working])
        _served_after(gw, trap)


def test_orders_beyond_buying_power_are_rejected_like_ib(trap: LogTrap) -> None:
    import asyncio

    from ib_async import IB, MarketOrder, Stock

    with GatewayThread("tws", scenario()) as gw:

        async def main() -> list[tuple[int, str]]:
            ib = IB()
            errors: list[tuple[int, str]] = []
            ib.errorEvent += lambda r, code, text, c: errors.append((code, text))
            await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=30)
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            # 1 000 000 USD of cash buys at most 4 000 000 USD of stock at 100.01
            big = ib.placeOrder(c, MarketOrder("BUY", 50_000))
            ok = ib.placeOrder(c, MarketOrder("BUY", 100))
            for _ in range(3000):
                if big.isDone() and ok.isDone():
                    break
                await asyncio.sleep(0.01)
            assert big.orderStatus.status == "Cancelled", big.orderStatus
            assert ok.orderStatus.status == "Filled", ok.orderStatus
            ib.disconnect()
            return errors

        errors = asyncio.run(asyncio.wait_for(main(), 60))
        assert any(code == 201 and "INITIAL MARGIN" in text for code, text in errors), errors
        assert gw.call(lambda: gw.broker.positions["ACME"].qty) == 100
        lines = [r.getMessage() for r in trap.records if r.name == "triotrade.gateway.tws"]
        assert any(line.startswith("order C3-") and "BUY 100 ACME" in line for line in lines)
        assert any(line.startswith("fill C3-") and "BUY 100 ACME" in line for line in lines)
        _served_after(gw, trap)


def test_a_reader_that_never_reads_is_dropped_alone(trap: LogTrap) -> None:
    limits = SessionLimits(max_queued_bytes=256 * 1024, send_timeout_s=5.0)
    with GatewayThread("tws", scenario(), limits=limits) as gw:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(20)
        sock.connect(("127.0.0.1", gw.port))
        body = b"v164..178"
        sock.sendall(b"API\0" + len(body).to_bytes(4, "big") + body)
        start_api(sock, 7)
        try:
            for req_id in range(1, 2001):  # 2 000 subscriptions, never read
                sock.sendall(tws_frame("1", "11", str(req_id), "0", "ACME", "STK", "", "0", "",
                                       "", "SMART", "", "USD", "", "", "0", "", "0", "0", ""))
        except (ConnectionResetError, BrokenPipeError):
            pass  # dropped already, while still subscribing: what is asserted below
        # push quotes until the gateway gives up on the client (bounded)
        for i in range(20_000):
            if gw.call(lambda: 7 not in gw.broker.sessions):
                break
            bid = f"{99 + (i % 50) / 100:.2f}"
            units = int(Decimal(bid) * 10**8)
            gw.call(lambda u=units: gw.market.push_tick("ACME", u, u + 2 * 10**6))
            if i % 100 == 0:
                time.sleep(0.01)
        assert gw.call(lambda: 7 not in gw.broker.sessions), "the slow reader was never dropped"
        assert any("dropped" in w for w in trap.warnings()), trap.warnings()
        sock.close()
        _served_after(gw, trap)


def test_a_silent_connection_times_out(trap: LogTrap) -> None:
    limits = SessionLimits(handshake_timeout_s=0.5)
    with GatewayThread("tws", scenario(), limits=limits) as gw:
        sock = socket.create_connection(("127.0.0.1", gw.port), timeout=20)
        assert sock.recv(100) == b""  # closed by the server, nothing sent either way
        half = tws_connect(gw.port)  # handshake, then no startApi
        assert read_until_closed(half) == []
        _served_after(gw, trap)


def test_messages_before_start_api_close_the_line_and_log_little(trap: LogTrap) -> None:
    with GatewayThread("tws", scenario()) as gw:
        sock = tws_connect(gw.port)
        try:
            for _ in range(1000):
                sock.sendall(tws_frame("49", "1"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_until_closed(sock)
        lines = [w for w in trap.warnings() if "startApi" in w]
        assert 1 <= len(lines) <= 2, lines
        _served_after(gw, trap)


def test_field_garbage_gets_320_and_no_traceback(trap: LogTrap) -> None:
    with GatewayThread("tws", scenario()) as gw:
        sock = tws_connect(gw.port)
        start_api(sock, 8)
        garbage = [
            ("1",), ("1", "11", "1e999999"), ("1", "11", "5", "NaN", "ACME"),
            ("3", "1e5"), ("4", "2", "x" * 100000), ("6", "2", "1", "ok"),
            ("7", "3", "1", "9" * 4000), ("9", "1", "Infinity"), ("62", "1", "-1", "All", ""),
            ("99999999999999999999999",), ("-1",), ("\x7f",),
        ]
        for fields in garbage:
            sock.sendall(tws_frame(*fields))
        invalid_utf8 = b"6\x002\x001\x00\xff\xfe\x00"
        sock.sendall(len(invalid_utf8).to_bytes(4, "big") + invalid_utf8)
        sock.sendall(tws_frame("49", "1"))
        for _ in range(500):
            m = read_frame(sock)
            if m is None or m[0] == "49":
                break
        sock.close()
        _served_after(gw, trap)


def test_a_served_disconnect_drops_the_sessions_for_the_window(trap: LogTrap) -> None:
    scn = scenario(faults=[{"kind": "disconnect", "t": "1s", "for": "8s"}])
    with GatewayThread("tws", scn) as gw:
        sock = tws_connect(gw.port)
        start_api(sock, 11)
        messages = read_until_closed(sock)  # the outage ends the session
        assert any(m[0] == "9" for m in messages), "no nextValidId before the outage"
        assert gw.call(lambda: gw.broker.offline)
        late = tws_connect(gw.port)
        start_api(late, 12)
        assert 502 in [code for code, _ in errors_in(read_until_closed(late))]
        for _ in range(1200):  # the window ends on the scenario's clock (bounded wait)
            if not gw.call(lambda: gw.broker.offline):
                break
            time.sleep(0.05)
        _served_after(gw, trap)
