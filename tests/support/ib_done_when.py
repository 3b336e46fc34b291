"""The TWS acceptance script: plain ib_async, public API only, no triotrade import.

Run it against anything that speaks the TWS API (IB Gateway paper, or
``triotrade serve --protocol tws``):

    python tests/support/ib_done_when.py HOST PORT [SYMBOL]

It prints one ``ok: ...`` line per step and exits 0, or prints ``FAILED: ...`` and
exits 1. It assumes an account that starts flat in SYMBOL and a quote that moves
less than a dollar or so while it runs.
"""
from __future__ import annotations

import asyncio
import math
import sys
import time

from ib_async import IB, LimitOrder, MarketOrder, Stock, StopOrder

TIMEOUT = 20.0


def ok(msg: str) -> None:
    print(f"ok: {msg}", flush=True)


async def wait_for(cond, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def good(x: float) -> bool:
    return x is not None and not math.isnan(x) and x > 0


async def main(host: str, port: int, symbol: str) -> None:
    ib = IB()
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    await ib.connectAsync(host, port, clientId=7, timeout=TIMEOUT)
    ok(f"connected, server version {ib.client.serverVersion()}")

    accounts = ib.managedAccounts()
    assert accounts, "no managed accounts"
    ok(f"managedAccounts() = {accounts}")

    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert contract is not None and contract.conId > 0, contract
    ok(f"qualified {contract.symbol} conId={contract.conId}")
    [bogus] = await ib.qualifyContractsAsync(Stock("NOSUCHSYMBOL", "SMART", "USD"))
    assert bogus is None
    ok("unknown symbol does not qualify")

    ticker = ib.reqMktData(contract)
    await wait_for(lambda: good(ticker.bid) and good(ticker.ask), "a two-sided quote")
    assert ticker.bid < ticker.ask, (ticker.bid, ticker.ask)
    ok(f"market data bid={ticker.bid} ask={ticker.ask} last={ticker.last} "
       f"sizes={ticker.bidSize}/{ticker.askSize}")

    # market order: fills
    buy = ib.placeOrder(contract, MarketOrder("BUY", 100))
    await wait_for(lambda: buy.orderStatus.status == "Filled", "the market order to fill")
    assert buy.orderStatus.filled == 100 and buy.remaining() == 0
    ok(f"MarketOrder BUY 100 filled at {buy.orderStatus.avgFillPrice}")

    # resting limit: open, listed by openTrades(), then cancelled (error 202)
    resting = ib.placeOrder(contract, LimitOrder("BUY", 50, round(ticker.bid - 5, 2)))
    await wait_for(lambda: resting.orderStatus.status == "Submitted", "the limit order to rest")
    assert resting in ib.openTrades()
    ok(f"LimitOrder rests ({resting.orderStatus.status}) and is in openTrades()")
    ib.cancelOrder(resting.order)
    await wait_for(lambda: resting.orderStatus.status == "Cancelled", "the cancel")
    await wait_for(lambda: any(e[0] == resting.order.orderId and e[1] == 202 for e in errors),
                   "error 202 for the cancelled order")
    assert resting not in ib.openTrades()
    ok("cancelOrder -> Cancelled, error 202")

    # a protective stop far below: works (not filled), listed as open
    stop = ib.placeOrder(contract, StopOrder("SELL", 100, round(ticker.bid - 10, 2)))
    await wait_for(lambda: stop.orderStatus.status in ("PreSubmitted", "Submitted"),
                   "the stop to be working")
    assert stop in ib.openTrades() and stop.orderStatus.filled == 0
    ok(f"StopOrder SELL 100 @ {stop.order.auxPrice} working ({stop.orderStatus.status})")

    # a buy stop below the market triggers at once and fills
    trig = ib.placeOrder(contract, StopOrder("BUY", 10, round(ticker.ask - 1, 2)))
    await wait_for(lambda: trig.orderStatus.status == "Filled", "the triggered stop to fill")
    ok(f"StopOrder BUY 10 triggered and filled at {trig.orderStatus.avgFillPrice}")

    # a marketable limit sell fills
    sell = ib.placeOrder(contract, LimitOrder("SELL", 10, round(ticker.bid - 0.5, 2)))
    await wait_for(lambda: sell.orderStatus.status == "Filled", "the marketable limit to fill")
    ok(f"LimitOrder SELL 10 filled at {sell.orderStatus.avgFillPrice}")

    # a rejected order (an order type the venue does not take) is error 201
    rej = ib.placeOrder(contract, LimitOrder("BUY", 1, round(ticker.bid - 5, 2), tif="FOK"))
    await wait_for(lambda: any(e[0] == rej.order.orderId and e[1] == 201 for e in errors),
                   "error 201 for the rejected order")
    await wait_for(lambda: rej.isDone(), "the rejected order to be done")
    ok("unsupported order rejected with error 201")

    # positions(): kept up to date by the gateway
    def acme_position() -> float:
        return sum(p.position for p in ib.positions() if p.contract.symbol == symbol)

    await wait_for(lambda: acme_position() == 100, f"positions() to show {symbol} 100")
    ok(f"positions() {symbol} = {acme_position():g}")

    # openTrades(): only the stop is still working
    open_ids = {t.order.orderId for t in ib.openTrades()}
    assert open_ids == {stop.order.orderId}, open_ids
    ok("openTrades() lists exactly the working stop")

    # fills() with commission reports
    mine = {buy.order.orderId, trig.order.orderId, sell.order.orderId}
    await wait_for(lambda: all(f.commissionReport.execId for f in ib.fills()
                               if f.execution.orderId in mine)
                   and sum(f.execution.shares for f in ib.fills()
                           if f.execution.orderId in mine) == 120,
                   "fills with commission reports")
    fills = [f for f in ib.fills() if f.execution.orderId in mine]
    assert all(f.commissionReport.commission > 0 for f in fills), fills
    ok(f"fills(): {len(fills)} fills, commissions "
       f"{sorted(f.commissionReport.commission for f in fills)}")

    # reqExecutionsAsync(): the same executions, from the server
    execs = await ib.reqExecutionsAsync()
    exec_ids = {f.execution.execId for f in execs}
    assert {f.execution.execId for f in fills} <= exec_ids, (exec_ids, fills)
    ok(f"reqExecutionsAsync(): {len(execs)} executions")

    # a second connection with the same clientId is refused
    ib2 = IB()
    errors2: list[int] = []
    ib2.errorEvent += lambda req_id, code, text, contract: errors2.append(code)
    refused = False
    try:
        await ib2.connectAsync(host, port, clientId=7, timeout=3)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        refused = True
    assert refused and not ib2.isConnected(), "second connection with clientId 7 was accepted"
    assert 326 in errors2, errors2
    ok("second connection with clientId 7 refused (error 326)")
    assert ib.isConnected(), "the first connection must survive the refused one"

    ib.cancelOrder(stop.order)
    await wait_for(lambda: stop.orderStatus.status == "Cancelled", "the stop to be cancelled")
    flat = ib.placeOrder(contract, MarketOrder("SELL", 100))
    await wait_for(lambda: flat.orderStatus.status == "Filled", "the flattening order")
    await wait_for(lambda: acme_position() == 0, "a flat position")
    ok("cancelled the stop and flattened")
    ib.disconnect()
    ok("done")


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 4002
    symbol = sys.argv[3] if len(sys.argv) > 3 else "ACME"
    try:
        asyncio.run(main(host, port, symbol))
    except Exception as exc:  # noqa: BLE001
        print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
