"""The Kite gateway, judged by Zerodha's own clients.

The first test is the acceptance run: ``triotrade serve --protocol kite`` in a
subprocess, a script using only the public ``kiteconnect`` API against it, and the
real ``KiteTicker`` (Twisted, in its own subprocess) receiving full-mode ticks and an
order update. The rest start the gateway in-process on 127.0.0.1 and check the
corners: error envelopes and their exception classes, order types, validities,
modify, rate limit, exact JSON numbers, the ticker's modes, heartbeats and postbacks.
"""
from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import trio
import trio_websocket
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from conftest import PYTHON, REPO, TESTS, cli_env
from kite_helpers import (ACCESS_TOKEN, API_KEY, SYMBOL_CDS, SYMBOL_EQ, SYMBOL_IDX, SYMBOL_OPT,
                          call, client, push, rest_root, start_gateway, wait_until, ws_root)
from triotrade.wire import kite as wire

NFO_SCENARIO = REPO / "scenarios" / "live" / "kite_nfo_gap.yaml"
OPTION = "NIFTY25N2024000CE"


# ------------------------------------------------------------------ the Done-when script


class ServeProcess:
    """``triotrade serve --protocol kite`` in a subprocess, its stdout read by a thread."""

    def __init__(self, cwd: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "triotrade", "serve", "--protocol", "kite", "--api-key", API_KEY,
             "--access-token", ACCESS_TOKEN, "--port", "0", *extra],
            cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_listening(self, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if line.startswith("listening on "):
                return int(line.rsplit(":", 1)[1])
        err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        raise AssertionError(f"no 'listening on' line; stdout {self.seen}, stderr {err}")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "\n".join(self.seen) + (err or "")


def _settled(kite: KiteConnect, order_id: str, status: str) -> list[dict[str, Any]]:
    """The order's history once it reaches ``status`` (bounded: 30 s of polling)."""
    deadline = time.monotonic() + 30
    while True:
        history = kite.order_history(order_id)
        if history[-1]["status"] == status or time.monotonic() > deadline:
            return history
        time.sleep(0.01)


def test_done_when_kiteconnect_and_kiteticker_against_triotrade_serve(workdir: Path) -> None:
    server = ServeProcess(workdir, str(NFO_SCENARIO))
    try:
        port = server.wait_listening()
        root = f"http://127.0.0.1:{port}"
        kite = KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=root)

        (opt,) = [i for i in kite.instruments("NFO") if i["tradingsymbol"] == OPTION]
        assert (opt["lot_size"], opt["tick_size"], opt["segment"]) == (75, 0.05, "NFO-OPT")
        assert (opt["name"], opt["strike"], opt["instrument_type"]) == ("NIFTY", 24000.0, "CE")
        assert str(opt["expiry"]) == "2025-11-20"
        token = opt["instrument_token"]
        assert wire.segment_of(token) == wire.SEGMENTS["NFO"]
        assert kite.instruments("NSE") == []

        key = f"NFO:{OPTION}"
        assert kite.ltp(key)[key] == {"instrument_token": token, "last_price": 120.0}
        q = kite.quote([key])[key]
        assert len(q["depth"]["buy"]) == len(q["depth"]["sell"]) == 5
        assert q["depth"]["buy"][0] == {"price": 119.95, "quantity": 750, "orders": 1}
        assert q["depth"]["sell"][0] == {"price": 120.05, "quantity": 750, "orders": 1}
        assert q["ohlc"]["open"] == 120.0 and q["instrument_token"] == token

        market_id = kite.place_order(variety="regular", exchange="NFO", tradingsymbol=OPTION,
                                     transaction_type="BUY", quantity=75, product="MIS",
                                     order_type="MARKET")
        # the scenario's latency fault (orders 20 ms, reports 10 ms) is served too: wait
        history = _settled(kite, market_id, "COMPLETE")
        statuses = [h["status"] for h in history]
        assert statuses[0] == "PUT ORDER REQ RECEIVED" and "OPEN" in statuses
        assert statuses[-1] == "COMPLETE"
        assert history[-1]["average_price"] == 120.05 and history[-1]["filled_quantity"] == 75

        limit_id = kite.place_order(variety="regular", exchange="NFO", tradingsymbol=OPTION,
                                    transaction_type="BUY", quantity=150, product="NRML",
                                    order_type="LIMIT", price=100)
        _settled(kite, limit_id, "OPEN")
        by_id = {o["order_id"]: o for o in kite.orders()}
        assert by_id[limit_id]["status"] == "OPEN" and by_id[limit_id]["pending_quantity"] == 150
        assert by_id[market_id]["status"] == "COMPLETE"
        with pytest.raises(kex.InputException) as bad:
            kite.place_order(variety="regular", exchange="NFO", tradingsymbol=OPTION,
                             transaction_type="BUY", quantity=10, product="MIS",
                             order_type="MARKET")
        assert bad.value.code == 400 and "lot size" in str(bad.value)
        assert kite.cancel_order("regular", limit_id) == limit_id
        assert _settled(kite, limit_id, "CANCELLED")[-1]["status"] == "CANCELLED"

        (pos,) = kite.positions()["net"]
        assert (pos["tradingsymbol"], pos["quantity"], pos["product"]) == (OPTION, 75, "MIS")
        assert pos["average_price"] == 120.05
        (trade,) = kite.trades()
        assert (trade["order_id"], trade["quantity"], trade["average_price"]) == (
            market_id, 75, 120.05)

        stranger = KiteConnect(API_KEY, access_token="not-the-token", root=root)
        with pytest.raises(kex.TokenException) as denied:
            stranger.orders()
        assert denied.value.code == 403

        ticker = subprocess.run(
            [PYTHON, str(TESTS / "support" / "kite_ticker_script.py"), str(port), API_KEY, ACCESS_TOKEN,
             str(token), OPTION, "NFO", "75"],
            cwd=workdir, env=cli_env(), capture_output=True, text=True, timeout=60)
        events = [json.loads(line) for line in ticker.stdout.splitlines() if line.startswith("{")]
        kinds = [e["kind"] for e in events]
        assert ("done", "ok") in [(e["kind"], e["data"]) for e in events], (kinds, ticker.stderr)
        full = [e["data"] for e in events if e["kind"] == "tick" and e["data"]["mode"] == "full"]
        assert len(full) >= 3
        first = full[0]
        assert first["instrument_token"] == token
        assert first["last_price"] in (120.0, 102.0)  # 102: a crawling machine, after t=12s
        last = Decimal(repr(first["last_price"]))
        assert first["depth"]["buy"][0] == {"quantity": 750, "orders": 1,
                                            "price": float(last - Decimal("0.05"))}
        assert first["depth"]["sell"][0] == {"quantity": 750, "orders": 1,
                                             "price": float(last + Decimal("0.05"))}
        assert len(first["depth"]["buy"]) == len(first["depth"]["sell"]) == 5
        updates = [e["data"] for e in events if e["kind"] == "order"]
        assert updates[-1]["status"] == "COMPLETE" and updates[-1]["tradingsymbol"] == OPTION
        assert updates[-1]["filled_quantity"] == 75
    finally:
        output = server.stop()
    assert ACCESS_TOKEN not in output
    assert "Traceback" not in output


# ------------------------------------------------------------------ REST corners


async def test_error_envelopes_map_to_kiteconnect_exceptions(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery, order_rate=100)  # refusals count against the limit too
    kite = client(gw)
    root = rest_root(gw)

    with pytest.raises(kex.TokenException):
        await call(KiteConnect("wrong-key", access_token=ACCESS_TOKEN, root=root).positions)
    raw = await call(requests.get, f"{root}/orders", headers={"X-Kite-Version": "3"})
    assert raw.status_code == 403 and raw.json()["error_type"] == "TokenException"
    auth = {"Authorization": f"token {API_KEY}:{ACCESS_TOKEN}"}
    raw = await call(requests.get, f"{root}/orders", headers=auth)
    assert raw.status_code == 400 and raw.json()["error_type"] == "InputException"
    raw = await call(requests.get, f"{root}/nowhere", headers={**auth, "X-Kite-Version": "3"})
    assert raw.status_code == 404 and raw.json()["status"] == "error"
    raw = await call(requests.patch, f"{root}/orders", headers={**auth, "X-Kite-Version": "3"})
    assert raw.status_code == 405

    def order(**kw: Any) -> Any:
        base = dict(variety="regular", exchange="NSE", tradingsymbol=SYMBOL_EQ,
                    transaction_type="BUY", quantity=1, product="MIS", order_type="LIMIT",
                    price=1500)
        base.update(kw)
        return call(kite.place_order, **base)

    refusals = {
        "unknown symbol": dict(tradingsymbol="NOPE"),
        "bad product": dict(product="XYZ"),
        "off the tick grid": dict(price="1500.03"),
        "LIMIT without price": dict(price=None),
        "SL-M without trigger": dict(order_type="SL-M", price=None),
        "CNC on NFO": dict(exchange="NFO", tradingsymbol=SYMBOL_OPT, quantity=75, product="CNC"),
        "an index": dict(tradingsymbol=SYMBOL_IDX),
        "zero quantity": dict(quantity=0),
        "bad variety": dict(variety="gtt"),
        "bad validity": dict(validity="GTC"),
        "long tag": dict(tag="x" * 21),
    }
    for what, kw in refusals.items():
        with pytest.raises(kex.InputException):
            await order(**kw)
            pytest.fail(f"{what} was accepted")
    done = await order(order_type="MARKET", price=None)
    with pytest.raises(kex.OrderException):
        await call(kite.cancel_order, "regular", done)
    with pytest.raises(kex.InputException):
        await call(kite.order_history, "999")
    assert gw.book.orders[done].status == "COMPLETE"


async def test_order_rate_limit_answers_429(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery, order_rate=3)
    kite = client(gw)

    def burst() -> int:
        for i in range(10):
            try:
                kite.place_order("regular", "NSE", SYMBOL_EQ, "BUY", 1, "MIS", "LIMIT", price=1000)
            except kex.NetworkException as exc:
                assert exc.code == 429
                return i
        return -1

    assert await call(burst) == 3


async def test_stop_orders_fill_at_the_gapped_price(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery)
    kite = client(gw)
    await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 20, "MIS", "MARKET")
    slm = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "SELL", 10, "MIS", "SL-M",
                     trigger_price=1450)
    sl = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "SELL", 10, "MIS", "SL",
                    trigger_price=1450, price="1440.00")
    assert gw.book.orders[slm].status == gw.book.orders[sl].status == "TRIGGER PENDING"
    push(gw, SYMBOL_EQ, "1380.00", "1380.10")  # gap straight through both triggers
    hist = await call(kite.order_history, slm)
    # SL-M: a market order at the first price after the gap, never the trigger
    assert hist[-1]["status"] == "COMPLETE" and hist[-1]["average_price"] == 1380.0
    # SL: became a limit at 1440 when triggered; the market is below it, so it rests
    assert gw.book.orders[sl].status == "OPEN" and gw.book.orders[sl].filled == 0
    push(gw, SYMBOL_EQ, "1445.00", "1445.10")
    assert gw.book.orders[sl].status == "COMPLETE"
    assert (await call(kite.order_history, sl))[-1]["average_price"] == 1445.0
    assert (await call(kite.positions))["net"][0]["quantity"] == 0


async def test_validity_ioc_ttl_and_modify(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery, speed=600.0)  # a TTL minute passes in 0.1 s
    kite = client(gw)
    push(gw, SYMBOL_EQ, "1500.00", "1500.10", ask_size=30)
    ioc = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 100, "MIS", "LIMIT",
                     price="1500.10", validity="IOC")
    o = (await call(kite.order_history, ioc))[-1]
    assert (o["status"], o["filled_quantity"], o["cancelled_quantity"]) == ("CANCELLED", 30, 70)

    ttl = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 5, "MIS", "LIMIT",
                     price="1400.00", validity="TTL", validity_ttl=1)
    await wait_until(lambda: gw.book.orders[ttl].status == "CANCELLED", "TTL expiry")
    assert "expired" in (gw.book.orders[ttl].status_message or "").lower()

    push(gw, SYMBOL_EQ, "1500.00", "1500.10", ask_size=500)
    resting = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 5, "MIS", "LIMIT",
                         price="1490.00")
    assert await call(kite.modify_order, "regular", resting, quantity=8,
                      price="1500.10") == resting
    o = (await call(kite.order_history, resting))[-1]
    assert (o["status"], o["filled_quantity"], o["average_price"], o["modified"]) == (
        "COMPLETE", 8, 1500.1, True)
    assert "MODIFIED" in [h["status"] for h in await call(kite.order_history, resting)]
    with pytest.raises(kex.OrderException):
        await call(kite.modify_order, "regular", resting, price="1490.00")


async def test_json_numbers_are_exact(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery)
    kite = client(gw)
    # three fills at different prices: an average of 1500.1333... written exactly
    push(gw, SYMBOL_EQ, "1500.00", "1500.10", ask_size=1)
    oid = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 3, "MIS", "LIMIT",
                     price="1500.20")
    push(gw, SYMBOL_EQ, "1500.00", "1500.15", ask_size=1)
    push(gw, SYMBOL_EQ, "1500.00", "1500.15", ask_size=1)
    raw = await call(requests.get, f"{rest_root(gw)}/orders/{oid}",
                     headers={"Authorization": f"token {API_KEY}:{ACCESS_TOKEN}",
                              "X-Kite-Version": "3"})
    last = json.loads(raw.text, parse_float=Decimal)["data"][-1]
    assert last["average_price"] == Decimal("1500.13333333")
    assert last["price"] == Decimal("1500.2") and last["status"] == "COMPLETE"
    q = (await call(kite.quote, f"CDS:{SYMBOL_CDS}"))[f"CDS:{SYMBOL_CDS}"]
    assert Decimal(repr(q["depth"]["sell"][0]["price"])) == Decimal("83.2525")
    m = await call(kite.margins, "equity")
    assert Decimal(repr(m["net"])) == Decimal("1000000") - Decimal("4500.40")
    assert (await call(kite.ohlc, f"NSE:{SYMBOL_EQ}"))[f"NSE:{SYMBOL_EQ}"]["last_price"] == 1500.075


# ------------------------------------------------------------------ the ticker


class Ticker:
    """A bare trio-websocket client of the gateway's ticker, keeping every message."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self.binary: list[bytes] = []
        self.texts: list[dict[str, Any]] = []

    async def pump(self) -> None:
        try:
            while True:
                msg = await self.ws.get_message()
                if isinstance(msg, bytes):
                    self.binary.append(msg)
                else:
                    self.texts.append(json.loads(msg))
        except trio_websocket.ConnectionClosed:
            pass

    def packets(self) -> list[wire.TickPacket]:
        return [p for m in self.binary for p in wire.decode_message(m)]


async def test_ticker_auth_modes_heartbeats_and_postbacks(nursery: trio.Nursery) -> None:
    gw = await start_gateway(nursery, heartbeat_s=0.2)
    with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
        async with trio_websocket.open_websocket_url(
                f"{ws_root(gw)}?api_key={API_KEY}&access_token=wrong"):
            pass
    assert rejected.value.status_code == 403
    assert json.loads(rejected.value.body)["error_type"] == "TokenException"

    tokens = {s: gw.token(s) for s in (SYMBOL_EQ, SYMBOL_OPT, SYMBOL_IDX, SYMBOL_CDS)}
    async with trio_websocket.open_websocket_url(
            f"{ws_root(gw)}?api_key={API_KEY}&access_token={ACCESS_TOKEN}") as ws:
        t = Ticker(ws)
        nursery.start_soon(t.pump)
        await ws.send_message(wire.subscribe_message(tokens.values()))
        await ws.send_message(wire.mode_message("full", [tokens[SYMBOL_EQ], tokens[SYMBOL_IDX]]))
        await ws.send_message(wire.mode_message("ltp", [tokens[SYMBOL_CDS]]))
        await ws.send_message("{not json")
        await wait_until(lambda: any(x.get("type") == "error" for x in t.texts), "error message")

        def lengths() -> dict[int, set[int]]:
            out: dict[int, set[int]] = {}
            for m in t.binary:
                for pk in wire.split_message(m):
                    out.setdefault(int.from_bytes(pk[:4], "big"), set()).add(len(pk))
            return out

        await wait_until(lambda: 184 in lengths().get(tokens[SYMBOL_EQ], set())
                         and 32 in lengths().get(tokens[SYMBOL_IDX], set())
                         and 8 in lengths().get(tokens[SYMBOL_CDS], set())
                         and 44 in lengths().get(tokens[SYMBOL_OPT], set()), "a packet per mode")
        await wait_until(lambda: wire.HEARTBEAT in t.binary, "a heartbeat while idle")

        push(gw, SYMBOL_EQ, "1501.00", "1501.10", 300, 200)
        await wait_until(lambda: any(p.token == tokens[SYMBOL_EQ] and p.buy[0].price == 150100
                                     for p in t.packets()), "the pushed quote")
        eq = [p for p in t.packets() if p.token == tokens[SYMBOL_EQ]][-1]
        assert (eq.sell[0].price, eq.buy[0].qty, eq.sell[0].qty) == (150110, 300, 200)

        kite = client(gw)
        oid = await call(kite.place_order, "regular", "NSE", SYMBOL_EQ, "BUY", 2, "MIS", "MARKET",
                         tag="mytag1")
        await wait_until(lambda: any(x.get("type") == "order" and x["data"]["status"] == "COMPLETE"
                                     for x in t.texts), "the COMPLETE postback")
        updates = [x["data"] for x in t.texts if x.get("type") == "order"]
        assert [u["status"] for u in updates] == ["OPEN", "COMPLETE"]
        assert updates[-1]["order_id"] == oid and updates[-1]["tag"] == "mytag1"
        assert updates[-1]["average_price"] == 1501.1 and updates[-1]["filled_quantity"] == 2

        await ws.send_message(wire.unsubscribe_message([tokens[SYMBOL_EQ]]))
        await trio.sleep(0.2)  # let the unsubscribe land before the quote that must not show
        seen = len([p for p in t.packets() if p.token == tokens[SYMBOL_EQ]])
        push(gw, SYMBOL_EQ, "1502.00", "1502.10")
        push(gw, SYMBOL_OPT, "118.00", "118.10")
        await wait_until(lambda: any(p.token == tokens[SYMBOL_OPT] and p.last == 11805
                                     for p in t.packets()), "the option quote")
        assert len([p for p in t.packets() if p.token == tokens[SYMBOL_EQ]]) == seen


async def test_scenario_disconnect_fault_takes_kite_offline(nursery: trio.Nursery) -> None:
    from kite_helpers import gateway_scenario
    from triotrade.sim import scenario as scenario_mod
    from triotrade.gateways.kite import serve_kite

    scn = gateway_scenario()
    scn["faults"] = [{"kind": "disconnect", "t": "300ms", "for": "700ms"}]
    gw = await nursery.start(lambda task_status: serve_kite(
        scenario_mod.from_dict(scn), port=0, api_key=API_KEY, access_token=ACCESS_TOKEN,
        task_status=task_status))
    kite = client(gw)
    assert await call(kite.ltp, f"NSE:{SYMBOL_EQ}")
    await wait_until(lambda: gw.rest_refusing, "the outage")
    with pytest.raises(kex.NetworkException) as down:
        await call(kite.positions)
    assert down.value.code == 503
    with pytest.raises(trio_websocket.ConnectionRejected) as refused:
        async with trio_websocket.open_websocket_url(
                f"{ws_root(gw)}?api_key={API_KEY}&access_token={ACCESS_TOKEN}"):
            pass
    assert refused.value.status_code == 503
    await wait_until(lambda: not gw.rest_refusing, "the end of the outage")
    assert (await call(kite.positions)) == {"net": [], "day": []}
