"""The Kite gateway against hostile clients: each reproduction, then real kiteconnect.

Raw HTTP and WebSocket traffic on loopback against a gateway in its own thread; after
each, the offending request got Kite's own answer (HTTP 4xx with the error envelope,
or a WebSocket close with a reason), nothing was logged as a traceback or an ERROR,
and a real ``kiteconnect`` client is still served (``kite_probe``).
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import PYTHON, cli_env
from hostile import GatewayThread, LogTrap, http_exchange, kite_probe, status_of
from kite_helpers import ACCESS_TOKEN, API_KEY, SYMBOL_EQ, gateway_scenario
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from triotrade.gateways.limits import SessionLimits
from triotrade.sim import scenario as scenario_mod

AUTH = f"Authorization: token {API_KEY}:{ACCESS_TOKEN}\r\nX-Kite-Version: 3\r\n"


@pytest.fixture
def trap() -> LogTrap:
    with LogTrap() as t:
        yield t


def _gateway(**kw: object) -> GatewayThread:
    return GatewayThread("kite", scenario_mod.from_dict(gateway_scenario()), api_key=API_KEY,
                         access_token=ACCESS_TOKEN, **kw)  # type: ignore[arg-type]


def _served_after(gw: GatewayThread, trap: LogTrap) -> None:
    assert gw.alive, f"the gateway died: {gw.error!r}"
    assert kite_probe(gw.port, API_KEY, ACCESS_TOKEN)[f"NSE:{SYMBOL_EQ}"]["last_price"] > 0
    assert not trap.tracebacks(), trap.tracebacks()


def _kite(gw: GatewayThread) -> KiteConnect:
    return KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=f"http://127.0.0.1:{gw.port}")


@pytest.mark.parametrize("raw", [
    b"POST /orders/regular HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
    b"POST /orders/regular HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
    b"POST /orders/regular HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffffffff\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
], ids=["short-body", "bad-chunk", "huge-chunk", "negative-length", "tls", "huge-head"])
def test_malformed_http_is_answered_4xx_or_closed(trap: LogTrap, raw: bytes) -> None:
    with _gateway() as gw:
        answer = http_exchange(gw.port, raw)
        status = status_of(answer)
        assert status is None or 400 <= status < 500, answer[:200]
        _served_after(gw, trap)


@pytest.mark.parametrize("field, value", [
    ("quantity", "1e5000"), ("quantity", "1e400"), ("quantity", "٥"), ("quantity", "Infinity"),
    ("quantity", "9" * 5000), ("price", "1" * 5000), ("price", "NaN"), ("price", "1e400"),
    ("validity_ttl", "1e99"), ("disclosed_quantity", "1e9999"),
], ids=lambda v: v[:12])
def test_form_numbers_are_bounded_before_conversion(trap: LogTrap, field: str, value: str) -> None:
    with _gateway() as gw:
        form = {"exchange": "NSE", "tradingsymbol": SYMBOL_EQ, "transaction_type": "BUY",
                "quantity": "1", "product": "CNC", "order_type": "LIMIT", "price": "1500.00",
                "validity": "TTL" if field == "validity_ttl" else "DAY", "validity_ttl": "5"}
        form[field] = value
        body = "&".join(f"{k}={quote(v)}" for k, v in form.items()).encode()
        raw = (f"POST /orders/regular HTTP/1.1\r\nHost: x\r\n{AUTH}"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        answer = http_exchange(gw.port, raw)
        assert status_of(answer) == 400, answer[:300]
        envelope = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert envelope["error_type"] == "InputException" and field in envelope["message"]
        assert len(envelope["message"]) < 200
        assert gw.call(lambda: not gw.kite.book.orders)
        _served_after(gw, trap)


def test_quote_keys_that_only_look_like_digits(trap: LogTrap) -> None:
    with _gateway() as gw:
        for key in ("%C2%B2", "%D9%A5", "9" * 5000):
            raw = (f"GET /quote/ltp?i={key} HTTP/1.1\r\nHost: x\r\n{AUTH}Connection: close"
                   "\r\n\r\n").encode()
            answer = http_exchange(gw.port, raw)
            assert status_of(answer) == 200, answer[:300]
            assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["data"] == {}
        _served_after(gw, trap)


def test_quantities_past_the_cap_or_the_funds_are_refused_as_kite_does(trap: LogTrap) -> None:
    with _gateway(max_order_qty=100_000) as gw:
        kite = _kite(gw)
        order = dict(variety="regular", exchange="NSE", tradingsymbol=SYMBOL_EQ,
                     transaction_type="BUY", product="CNC", order_type="MARKET")
        with pytest.raises(kex.InputException) as capped:
            kite.place_order(quantity=100_001, **order)
        assert "at most 100000" in str(capped.value)
        with pytest.raises(kex.OrderException) as funds:  # 1 000 000 INR buys 666 at 1500.10
            kite.place_order(quantity=1000, **order)
        assert "Insufficient funds" in str(funds.value)
        assert kite.place_order(quantity=300, **order)  # the touch shows 400
        assert kite.positions()["net"][0]["quantity"] == 300
        _served_after(gw, trap)


def _ws_session(port: int, messages: list[str], until_closed: bool = False) -> tuple[list, object]:
    """Send ``messages`` on the ticker; collect text replies (and the close, if any)."""
    import trio
    import trio_websocket

    async def main() -> tuple[list, object]:
        url = f"ws://127.0.0.1:{port}/ws?api_key={API_KEY}&access_token={ACCESS_TOKEN}"
        texts: list = []
        closed: object = None
        async with trio_websocket.open_websocket_url(url) as ws:
            for m in messages:
                try:
                    await ws.send_message(m)
                except trio_websocket.ConnectionClosed as exc:
                    closed = exc.reason
                    break
            with trio.move_on_after(20):
                while closed is None:
                    try:
                        msg = await ws.get_message()
                    except trio_websocket.ConnectionClosed as exc:
                        closed = exc.reason
                        break
                    if isinstance(msg, str):
                        texts.append(json.loads(msg))
                        if not until_closed and len(texts) >= len(messages):
                            break
        return texts, closed

    return trio.run(main)


def test_ticker_messages_with_impossible_tokens_get_an_error_reply(trap: LogTrap) -> None:
    with _gateway() as gw:
        texts, closed = _ws_session(gw.port, [
            '{"a":"subscribe","v":[Infinity]}', '{"a":"subscribe","v":[1e400]}',
            '{"a":"subscribe","v":[' + "9" * 5000 + "]}", '{"a":"mode","v":["full",[-1]]}',
            '{"a":"subscribe","v":[true]}', "[" * 100000 + "]" * 100000, '{"a":"x"}',
        ])
        assert closed is None
        assert len(texts) == 7 and all(t["type"] == "error" for t in texts), texts
        _served_after(gw, trap)


def test_a_ticker_client_that_keeps_sending_garbage_is_closed_with_a_reason(
        trap: LogTrap) -> None:
    with _gateway() as gw:
        _, closed = _ws_session(gw.port, ['{"a":"nope"}'] * 150, until_closed=True)
        assert closed is not None and closed.code == 1008 and "invalid" in closed.reason
        _served_after(gw, trap)


def test_a_request_that_never_completes_times_out(trap: LogTrap) -> None:
    with _gateway(limits=SessionLimits(handshake_timeout_s=0.5, idle_timeout_s=0.5)) as gw:
        started = b"POST /orders/regular HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"
        assert http_exchange(gw.port, started, shut_write=False) == b""  # closed on us
        assert http_exchange(gw.port, b"", shut_write=False) == b""  # idle connection
        trickle = socket.create_connection(("127.0.0.1", gw.port), timeout=20)
        head = b"GET /user/profile HTTP/1.1\r\nX-Slow: " + b"a" * 400  # never completes
        sent = 0
        for byte in head:  # a byte every 20 ms: each read is in time, the head never is
            try:
                trickle.sendall(bytes([byte]))
            except OSError:
                break
            sent += 1
            time.sleep(0.02)  # pacing the trickle, not a timing assertion
        trickle.close()
        assert sent < len(head), "a head trickled byte by byte was never cut off"
        _served_after(gw, trap)


# ------------------------------------------------------------------ serve's credentials


def _serve_kite(workdir: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """``serve --protocol kite`` until it listens, one kiteconnect call, then SIGTERM."""
    proc = subprocess.Popen([PYTHON, "-m", "triotrade", "serve", "--protocol", "kite",
                             "--port", "0", *args], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    port = 0
    for _ in range(200):
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            port = int(line.rsplit(":", 1)[1])
            break
    try:
        if port:
            kite = KiteConnect(API_KEY, access_token=ACCESS_TOKEN,
                               root=f"http://127.0.0.1:{port}")
            assert kite.profile()["user_id"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return port, out, err


def test_serve_kite_reads_credentials_from_the_environment(workdir: Path) -> None:
    env = cli_env(KITE_API_KEY=API_KEY, KITE_ACCESS_TOKEN=ACCESS_TOKEN)
    port, out, err = _serve_kite(workdir, [], env)
    assert port, err
    assert "warning" not in err and ACCESS_TOKEN not in out + err


def test_serve_kite_credential_flags_still_work_but_warn(workdir: Path) -> None:
    env = cli_env()
    env.pop("KITE_API_KEY", None)
    env.pop("KITE_ACCESS_TOKEN", None)
    port, out, err = _serve_kite(workdir, ["--api-key", API_KEY, "--access-token", ACCESS_TOKEN],
                                 env)
    assert port, err
    assert "warning: --api-key and --access-token" in err and "ps" in err
    assert ACCESS_TOKEN not in out + err


def test_serve_kite_without_credentials_is_a_usage_error(workdir: Path) -> None:
    env = {k: v for k, v in cli_env().items() if not k.startswith("KITE_")}
    r = subprocess.run([PYTHON, "-m", "triotrade", "serve", "--protocol", "kite", "--port", "0"],
                       cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "KITE_API_KEY" in r.stderr and "Traceback" not in r.stderr
