"""KiteVenue under the contract harness: the real adapter against the Kite gateway.

The gateway serves the contract market over loopback (REST + ticker on one port); the
venue talks to it through the real ``kiteconnect`` client and its trio-websocket ticker.
Quotes are pushed into the gateway's exchange, time is the wall clock, and ``drop``
takes the ticker down (connections cut, new ones refused) until ``restore``.
"""
from __future__ import annotations

from typing import Callable

import trio

from triotrade.kernel.units import PRICE_SCALE
from triotrade.sim import scenario as scenario_mod
from triotrade.sim.exchange import Window
from triotrade.gateways.kite import KiteGateway
from triotrade.gateways.realtime import RealtimeMarket
from triotrade.venues.kite import KiteSettings, KiteVenue

from .harness import (
    RecordingSink,
    contract_instrument,
    contract_scenario_dict,
    units,
    wait_wall_clock,
)

API_KEY = "contract-key"
ACCESS_TOKEN = "contract-token"
# fast enough for tests, the same code paths as production
SETTINGS = KiteSettings(ping_interval=500_000_000, ping_timeout=1_000_000_000,
                        reconnect_min=50_000_000, reconnect_max=500_000_000,
                        reconcile_interval=1_000_000_000)


class KiteHarness:
    name = "kite"

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.instrument = contract_instrument()
        self.market = RealtimeMarket(scenario_mod.from_dict(contract_scenario_dict()))
        self.gateway = KiteGateway(self.market, API_KEY, ACCESS_TOKEN,
                                   start_cash=10**8 * PRICE_SCALE)
        self.sink = RecordingSink()
        self.venue: KiteVenue  # set in start()

    async def start(self) -> None:
        port = await self.nursery.start(self.gateway.serve, "127.0.0.1", 0)
        await self.nursery.start(self.market.run)
        # the opening quote goes out on the market task's first step; a quote pushed by a
        # test must come after it, never be overwritten by it
        await self.wait_for(lambda: self.market.last_tick[0] is not None, "the opening quote")
        self.venue = KiteVenue(API_KEY, ACCESS_TOKEN, instruments={"ACME": self.instrument},
                               nursery=self.nursery, root=f"http://127.0.0.1:{port}",
                               ws_root=f"ws://127.0.0.1:{port}/ws", settings=SETTINGS)
        await self.venue.connect(self.sink)
        await self.venue.subscribe(self.instrument, self.sink.on_quote)

    async def quote(self, bid: str, ask: str, bid_size: int = 1000, ask_size: int = 1000) -> None:
        self.market.push_tick("ACME", units(bid), units(ask), None, bid_size, ask_size)
        await trio.lowlevel.checkpoint()

    async def wait_for(self, pred: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        await wait_wall_clock("kite", pred, what, timeout_s)

    def reject_orders(self, on: bool) -> None:
        self.market.exchange.faults.rejects[:] = [Window(0, 10**18)] if on else []

    async def drop(self) -> None:
        self.gateway.set_ws_down(True)
        await trio.lowlevel.checkpoint()

    async def restore(self) -> None:
        self.gateway.set_ws_down(False)
        await trio.lowlevel.checkpoint()


async def make_kite_harness(nursery: trio.Nursery) -> KiteHarness:
    h = KiteHarness(nursery)
    await h.start()
    return h
