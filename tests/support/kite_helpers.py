"""Shared pieces of the Kite tests: a gateway on loopback, clients, patient waits.

Everything waits on conditions with generous deadlines (never a bare sleep), so a
loaded 2-core machine makes the tests slower, not flaky.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import trio
from kiteconnect import KiteConnect

from triotrade.kernel.units import PRICE_SCALE, to_units
from triotrade.sim import scenario as scenario_mod
from triotrade.gateways.kite import KiteGateway
from triotrade.gateways.realtime import RealtimeMarket

API_KEY = "kite-test-key"
ACCESS_TOKEN = "kite-test-token-s3cr3t"  # tests grep outputs for this: it must never show

SYMBOL_EQ = "INFY"
SYMBOL_OPT = "NIFTY25N2024000CE"
SYMBOL_IDX = "NIFTY 50"
SYMBOL_CDS = "USDINR25NOVFUT"


def gateway_scenario() -> dict[str, Any]:
    """NSE equity, NFO weekly option, an index and a CDS future, each holding a quote."""
    return {
        "version": 1,
        "name": "kite-gateway-test",
        "duration": "1h",
        "instruments": [
            {"symbol": SYMBOL_EQ, "tick_size": "0.05", "lot_size": 1, "currency": "INR",
             "exchange": "NSE"},
            {"symbol": SYMBOL_OPT, "tick_size": "0.05", "lot_size": 75, "currency": "INR",
             "exchange": "NFO"},
            {"symbol": SYMBOL_IDX, "tick_size": "0.05", "lot_size": 1, "currency": "INR",
             "exchange": "INDICES"},
            {"symbol": SYMBOL_CDS, "tick_size": "0.0025", "lot_size": 1, "currency": "INR",
             "exchange": "CDS"},
        ],
        "account": {"cash": "1000000"},
        "market": {
            SYMBOL_EQ: {"ticks": [{"t": "0s", "bid": "1500.00", "ask": "1500.10",
                                   "bid_size": 500, "ask_size": 400}]},
            SYMBOL_OPT: {"ticks": [{"t": "0s", "bid": "119.95", "ask": "120.05",
                                    "bid_size": 750, "ask_size": 750}]},
            SYMBOL_IDX: {"ticks": [{"t": "0s", "last": "24000.00"}]},
            SYMBOL_CDS: {"ticks": [{"t": "0s", "bid": "83.2500", "ask": "83.2525",
                                    "bid_size": 100, "ask_size": 100}]},
        },
    }


async def start_gateway(nursery: trio.Nursery, scn: dict[str, Any] | None = None, *,
                        speed: float = 1.0, **kw: Any) -> KiteGateway:
    market = RealtimeMarket(scenario_mod.from_dict(scn or gateway_scenario()), speed=speed)
    gateway = KiteGateway(market, API_KEY, ACCESS_TOKEN, start_cash=10**6 * PRICE_SCALE, **kw)
    await nursery.start(gateway.serve, "127.0.0.1", 0)
    await nursery.start(market.run)
    # the scenario's t=0 quotes go out on the market task's first step: wait for them, so
    # a quote a test pushes is never overwritten by the opening one
    await wait_until(lambda: all(t is not None for t in market.last_tick), "opening quotes")
    return gateway


def rest_root(gw: KiteGateway) -> str:
    return f"http://127.0.0.1:{gw.port}"


def ws_root(gw: KiteGateway) -> str:
    return f"ws://127.0.0.1:{gw.port}/ws"


def client(gw: KiteGateway, access_token: str = ACCESS_TOKEN) -> KiteConnect:
    return KiteConnect(API_KEY, access_token=access_token, root=rest_root(gw))


async def call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """A blocking kiteconnect call, off the trio thread (the gateway runs on it)."""
    return await trio.to_thread.run_sync(functools.partial(fn, *args, **kw))


async def wait_until(pred: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    with trio.move_on_after(timeout_s):
        while not pred():
            await trio.sleep(0.005)
        return
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def push(gw: KiteGateway, symbol: str, bid: str, ask: str, bid_size: int = 1000,
         ask_size: int = 1000, last: str | None = None) -> None:
    gw.market.push_tick(symbol, to_units(bid), to_units(ask),
                        None if last is None else to_units(last), bid_size, ask_size)
