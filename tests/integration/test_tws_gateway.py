"""The TWS gateway, end to end with the real ib_async client.

* The acceptance script ``tests/support/ib_done_when.py`` (plain ib_async, public API
  only) against ``triotrade serve --protocol tws`` started as a subprocess, the way a
  user would.
* The CLI's own contract: ``listening on HOST:PORT``, exit 2 on bad input, 0 on SIGTERM.
* Gateway behaviours the script does not reach, with the gateway in-process and an
  ib_async script in a worker thread (its own asyncio loop): partial fills and per-order
  commissions, GTD expiry, snapshots, account data, what-if, modification refused,
  an order's life across a client reconnect, unsupported requests answered, not hung.
"""
from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio
from conftest import PYTHON, REPO, cli_env
from ib_async import IB, LimitOrder, MarketOrder, Stock, StopOrder
from tws_support import Gateway, gateway, scenario, wait_until

SCRIPT = REPO / "tests" / "support" / "ib_done_when.py"
IB_TIMEOUT = 30.0


# ------------------------------------------------------------------ the CLI path


async def _start_cli_gateway(args: list[str], cwd: Path) -> tuple[trio.Process, int, list[str]]:
    """``python -m triotrade serve --protocol tws ...``; returns once it is listening."""
    proc = await trio.lowlevel.open_process(
        [PYTHON, "-m", "triotrade", "serve", "--protocol", "tws", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=cli_env())
    assert proc.stdout is not None
    buf = b""
    lines: list[str] = []
    with trio.move_on_after(60):
        while True:
            chunk = await proc.stdout.receive_some(4096)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += [d.decode() for d in done]
            for line in lines:
                if line.startswith("listening on "):
                    host, _, port = line[len("listening on "):].rpartition(":")
                    assert host == "127.0.0.1"
                    return proc, int(port), lines
    proc.kill()
    err = await proc.stderr.receive_some(65536) if proc.stderr else b""
    raise AssertionError(f"gateway never printed 'listening on': {lines} {err!r}")


async def test_done_when_script_against_triotrade_serve(workdir: Path) -> None:
    """An ib_async script written against the public API works unchanged."""
    proc, port, _ = await _start_cli_gateway(["--port", "0"], workdir)  # the default scenario
    try:
        result = await trio.run_process(
            [PYTHON, str(SCRIPT), "127.0.0.1", str(port), "ACME"], capture_stdout=True,
            capture_stderr=True, check=False, cwd=workdir, env=cli_env())
        out = result.stdout.decode()
        assert result.returncode == 0, out + result.stderr.decode()
        for step in ("managedAccounts()", "qualified ACME", "market data",
                     "MarketOrder BUY 100 filled", "cancelOrder -> Cancelled, error 202",
                     "StopOrder SELL 100", "StopOrder BUY 10 triggered", "LimitOrder SELL 10",
                     "rejected with error 201", "positions() ACME = 100",
                     "openTrades() lists exactly the working stop", "fills(): 3 fills",
                     "reqExecutionsAsync()", "refused (error 326)", "ok: done"):
            assert step in out, f"missing step {step!r} in:\n{out}"
    finally:
        proc.send_signal(signal.SIGTERM)
        with trio.move_on_after(20):
            code = await proc.wait()
        if proc.returncode is None:
            proc.kill()
            raise AssertionError("the gateway did not stop on SIGTERM")
    assert code == 0


async def test_serve_cli_errors(workdir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nduration: 1m\ninstruments: []\nbogus: 1\n")
    r = await trio.run_process([PYTHON, "-m", "triotrade", "serve", "--protocol", "tws",
                                str(bad)], capture_stdout=True, capture_stderr=True,
                               check=False, cwd=workdir, env=cli_env())
    err = r.stderr.decode()
    assert r.returncode == 2 and f"{bad}: bogus:" in err and "Traceback" not in err
    # a port already taken: a message and exit 2, not a traceback
    proc, port, _ = await _start_cli_gateway(["--port", "0"], workdir)
    try:
        r = await trio.run_process([PYTHON, "-m", "triotrade", "serve", "--protocol", "tws",
                                    "--port", str(port)], capture_stdout=True,
                                   capture_stderr=True, check=False, cwd=workdir, env=cli_env())
        err = r.stderr.decode()
        assert r.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in err, err
        assert "Traceback" not in err
    finally:
        proc.send_signal(signal.SIGINT)
        with trio.move_on_after(20):
            assert await proc.wait() == 0


# ------------------------------------------------------------------ in-process gateway


def run_ib(script: Callable[..., Awaitable[Any]], *args: Any) -> Awaitable[Any]:
    """Run an ib_async coroutine function in a worker thread with its own loop."""

    def main() -> Any:
        return asyncio.run(asyncio.wait_for(script(*args), 90))

    return trio.to_thread.run_sync(main)


async def until(cond: Callable[[], bool], what: str, timeout: float = IB_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def connected(port: int, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=IB_TIMEOUT)
    return ib


def push(g: Gateway, *args: Any, **kw: Any) -> None:
    """From the ib_async thread: push a quote in the trio thread and wait for it."""
    trio.from_thread.run_sync(lambda: g.push(*args, **kw))


async def test_partial_fills_and_per_order_commission() -> None:
    async with gateway(scenario(depth=30)) as g:

        async def script() -> None:
            ib = await connected(g.port, 1)
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            trade = ib.placeOrder(c, MarketOrder("BUY", 100))
            await until(lambda: trade.orderStatus.filled == 30, "the first partial fill")
            assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 70
            push(g, "ACME", "99.99", "100.03", ask_size=50)
            await until(lambda: trade.orderStatus.filled == 80, "the second partial fill")
            push(g, "ACME", "99.99", "100.05", ask_size=500)
            await until(lambda: trade.orderStatus.status == "Filled", "the order to complete")
            await until(lambda: len(trade.fills) == 3
                        and all(f.commissionReport.execId for f in trade.fills), "3 fills")
            shares = [f.execution.shares for f in trade.fills]
            prices = [f.execution.price for f in trade.fills]
            cum = [f.execution.cumQty for f in trade.fills]
            assert shares == [30, 50, 20] and prices == [100.01, 100.03, 100.05]
            assert cum == [30, 80, 100]
            # avgPrice = (30*100.01 + 50*100.03 + 20*100.05) / 100, exact on the wire
            assert trade.fills[-1].execution.avgPrice == 100.028
            fees = [f.commissionReport.commission for f in trade.fills]
            assert fees == [1.0, 0.0, 0.0]  # IB's $1 minimum applies once per order
            ib.disconnect()

        await run_ib(script)
        assert g.broker.positions["ACME"].qty == 100


async def test_gtd_expiry_snapshot_account_and_unsupported() -> None:
    async with gateway() as g:

        async def script() -> None:
            ib = await connected(g.port, 2)
            errors: list[tuple[int, int, str]] = []
            ib.errorEvent += lambda r, code, text, c: errors.append((r, code, text))
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            # snapshot market data (reqTickersAsync) completes with tickSnapshotEnd
            [t] = await ib.reqTickersAsync(c)
            assert (t.bid, t.ask, t.last) == (99.99, 100.01, 100.0)
            # GTD: expires on its own, reported as a cancel with the reason
            gtd = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + 2))
            trade = ib.placeOrder(c, LimitOrder("BUY", 10, 90, tif="GTD", goodTillDate=gtd))
            await until(lambda: trade.orderStatus.status == "Submitted", "GTD order working")
            await until(lambda: trade.orderStatus.status == "Cancelled", "GTD expiry", 15)
            await until(lambda: any(e[0] == trade.order.orderId and e[1] == 202
                                    and "expired" in e[2] for e in errors), "202 with reason")
            # account values and summary
            await until(lambda: any(v.tag == "NetLiquidation" for v in ib.accountValues()),
                        "account values")
            cash = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
            assert cash["TotalCashValue"] == "1000000.00"
            summary = await ib.accountSummaryAsync()
            assert {"NetLiquidation", "TotalCashValue"} <= {v.tag for v in summary}
            # what-if: margin numbers, no order
            state = await ib.whatIfOrderAsync(c, LimitOrder("BUY", 100, 100))
            assert float(state.initMarginChange) > 0 and state.commission == 1.0
            assert g.broker.orders.get((2, 0)) is None
            # modification is refused without killing the order (321 = validation warning)
            rest = ib.placeOrder(c, LimitOrder("BUY", 5, 80))
            await until(lambda: rest.orderStatus.status == "Submitted", "resting order")
            rest.order.lmtPrice = 81
            ib.placeOrder(c, rest.order)
            await until(lambda: any(e[0] == rest.order.orderId and e[1] == 321 for e in errors),
                        "modification refused")
            # off-tick price: 110, order not taken
            bad = ib.placeOrder(c, LimitOrder("BUY", 5, 80.005))
            await until(lambda: any(e[0] == bad.order.orderId and e[1] == 110 for e in errors),
                        "error 110")
            # history is not kept: an error ends the request instead of a hang
            bars = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
            assert not bars
            ib.disconnect()

        await run_ib(script)
        working = [bo for bo in g.broker.orders.values() if bo.working]
        assert [bo.lmt for bo in working] == [80 * 10**8]  # the modification did not apply


async def test_orders_survive_a_client_reconnect() -> None:
    """Orders live at the broker, not in the connection: a reconnecting client finds them."""
    async with gateway() as g:

        async def first() -> tuple[int, int]:
            ib = await connected(g.port, 5)
            [c] = await ib.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            stop = ib.placeOrder(c, StopOrder("SELL", 10, 95, orderRef="STOP_LOSS:O9:t"))
            buy = ib.placeOrder(c, MarketOrder("BUY", 10))
            await until(lambda: buy.orderStatus.status == "Filled"
                        and stop.orderStatus.status == "PreSubmitted", "fill and stop")
            ids = stop.order.orderId, stop.order.permId
            ib.disconnect()
            return ids

        stop_id, stop_perm = await run_ib(first)
        await wait_until(lambda: not g.clients(), "the gateway to drop the client")
        g.push("ACME", "94.00", "94.02")  # the stop triggers while the client is away

        async def second() -> None:
            ib = await connected(g.port, 5)
            # nextValidId continues past every id the client used
            assert ib.client.getReqId() > stop_id
            done = [t for t in ib.trades() if t.order.permId == stop_perm]
            assert done and done[0].orderStatus.status == "Filled", ib.trades()
            assert done[0].order.orderRef == "STOP_LOSS:O9:t"
            fills = [f for f in ib.fills() if f.execution.permId == stop_perm]
            assert [(f.execution.shares, f.execution.price) for f in fills] == [(10, 94.0)]
            assert fills[0].execution.orderRef == "STOP_LOSS:O9:t"
            assert not [p for p in ib.positions() if p.position]
            assert not ib.openTrades()
            ib.disconnect()

        await run_ib(second)


async def test_other_clients_and_bad_requests_do_not_disturb() -> None:
    async with gateway() as g:

        async def script() -> None:
            a = await connected(g.port, 1)
            b = await connected(g.port, 2)
            [ca] = await a.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            rest = a.placeOrder(ca, LimitOrder("BUY", 5, 80))
            await until(lambda: rest.orderStatus.status == "Submitted", "resting order")
            # b sees a's order only through reqAllOpenOrders
            assert not await b.reqOpenOrdersAsync()
            everyone = await b.reqAllOpenOrdersAsync()
            assert [t.order.permId for t in everyone] == [rest.order.permId]
            # b's market data follows pushed quotes
            [cb] = await b.qualifyContractsAsync(Stock("ACME", "SMART", "USD"))
            t = b.reqMktData(cb)
            await until(lambda: t.bid == 99.99, "b's first quote")
            push(g, "ACME", "101.10", "101.14", bid_size=300, ask_size=200)
            await until(lambda: t.bid == 101.10 and t.ask == 101.14, "b's pushed quote")
            assert (t.bidSize, t.askSize) == (300, 200)
            b.cancelMktData(cb)
            # an unknown contract is error 200 for that request, not a dead session
            [none] = await b.qualifyContractsAsync(Stock("NOPE", "SMART", "USD"))
            assert none is None
            assert (await b.reqCurrentTimeAsync()).year >= 2024
            a.reqGlobalCancel()
            await until(lambda: rest.orderStatus.status == "Cancelled", "global cancel")
            a.disconnect()
            b.disconnect()

        await run_ib(script)


def test_script_is_plain_ib_async() -> None:
    """The Done-when script must not lean on triotrade: public ib_async API only."""
    text = SCRIPT.read_text()
    assert "triotrade" not in text.split('"""', 2)[2]
    assert "from ib_async import IB, LimitOrder, MarketOrder, Stock, StopOrder" in text
    assert not re.search(r"\._[A-Za-z]", text), "private attribute access in the script"
