"""The real ``KiteTicker`` (Twisted + autobahn) against a Kite gateway, as a script.

KiteTicker runs Twisted's reactor, which cannot share a process with trio (and cannot
be restarted), so the tests run this in a subprocess. It prints one JSON object per
line: ``tick`` for every tick, ``order`` for every order update, ``close``/``error``
for the socket's end, and ``done`` when it saw what it came for:

    python kite_ticker_script.py PORT API_KEY ACCESS_TOKEN TOKEN SYMBOL EXCHANGE QTY

After the first full-mode tick it places a MARKET order through KiteConnect and waits
for that order's COMPLETE update over the socket, then for two more full ticks.
"""
from __future__ import annotations

import json
import sys
import threading

from kiteconnect import KiteConnect, KiteTicker
from twisted.internet import reactor


def main() -> None:
    port, api_key, access_token, token, symbol, exchange, qty = sys.argv[1:8]
    token_i = int(token)
    kws = KiteTicker(api_key, access_token, root=f"ws://127.0.0.1:{port}/ws", reconnect=False)
    rest = KiteConnect(api_key, access_token=access_token, root=f"http://127.0.0.1:{port}")
    state = {"full": 0, "placed": False, "complete": False, "closing": False}

    lock = threading.Lock()  # the order is placed from a reactor worker thread

    def emit(kind: str, data: object) -> None:
        line = json.dumps({"kind": kind, "data": data}, default=str) + "\n"
        with lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def place() -> None:
        order_id = rest.place_order("regular", exchange, symbol, "BUY", int(qty), "MIS", "MARKET")
        emit("placed", order_id)

    def finish(reason: str) -> None:
        if not state["closing"]:
            state["closing"] = True
            emit("done", reason)
            kws.close()
            reactor.callLater(2, reactor.stop)

    def on_connect(ws: KiteTicker, response: object) -> None:
        emit("connect", None)
        ws.subscribe([token_i])
        ws.set_mode(ws.MODE_FULL, [token_i])

    def on_ticks(ws: KiteTicker, ticks: list[dict]) -> None:
        for t in ticks:
            emit("tick", t)
            if t.get("mode") == "full" and t.get("instrument_token") == token_i:
                state["full"] += 1
                if not state["placed"]:
                    state["placed"] = True
                    reactor.callInThread(place)
        if state["complete"] and state["full"] >= 3:
            finish("ok")

    def on_order_update(ws: KiteTicker, data: dict) -> None:
        emit("order", data)
        if data.get("status") == "COMPLETE":
            state["complete"] = True

    def on_close(ws: KiteTicker, code: object, reason: object) -> None:
        emit("close", [code, str(reason)])
        if reactor.running:
            reactor.callLater(0.1, reactor.stop)

    def on_error(ws: KiteTicker, code: object, reason: object) -> None:
        emit("error", [code, str(reason)])

    kws.on_connect = on_connect
    kws.on_ticks = on_ticks
    kws.on_order_update = on_order_update
    kws.on_close = on_close
    kws.on_error = on_error
    reactor.callLater(25, finish, "timeout")
    kws.connect()


if __name__ == "__main__":
    main()
