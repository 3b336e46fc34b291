"""IbkrVenue under the contract harness: the real adapter, ib_async, the TWS gateway.

The gateway (trio, in the test's nursery) serves the contract market on a loopback
port; IbkrVenue runs ib_async in its own asyncio thread and talks to it over TCP, so
every request and report crosses the real TWS wire protocol. Time is the wall clock.
``drop`` kills the gateway (every connection closes, like killing IB Gateway; the
broker behind it keeps its books) and ``restore`` starts a new one on the same port:
the adapter must notice, reconnect, reconcile and resubscribe on its own.
"""
from __future__ import annotations

from typing import Callable

import trio

from triotrade.sim import scenario as scenario_mod
from triotrade.sim.exchange import Window
from triotrade.gateways.tws import TwsBroker, TwsGateway
from triotrade.gateways.realtime import RealtimeMarket
from triotrade.venues.ibkr import IbkrVenue

from .harness import (
    RecordingSink,
    contract_instrument,
    contract_scenario_dict,
    units,
    wait_wall_clock,
)


class IbkrHarness:
    name = "ibkr"

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.instrument = contract_instrument()
        self.market = RealtimeMarket(scenario_mod.from_dict(contract_scenario_dict()))
        self.broker = TwsBroker(self.market)
        self.gateway = TwsGateway(self.broker, "127.0.0.1", 0)
        self.sink = RecordingSink()
        self.venue: IbkrVenue  # set in start()

    async def start(self) -> None:
        await self.nursery.start(self.broker.run)
        await self.nursery.start(self.gateway.serve)
        # quick backoff and heartbeat: the production code paths, test-sized
        self.venue = IbkrVenue("127.0.0.1", self.gateway.port, client_id=11,
                               backoff=(0.05, 0.1, 0.2, 0.5), heartbeat=2.0,
                               request_timeout=10.0, connect_timeout=10.0)
        await self.venue.connect(self.sink)
        await self.venue.subscribe(self.instrument, self.sink.on_quote)

    async def quote(self, bid: str, ask: str, bid_size: int = 1000, ask_size: int = 1000) -> None:
        self.market.push_tick("ACME", units(bid), units(ask), None, bid_size, ask_size)
        await trio.lowlevel.checkpoint()

    async def wait_for(self, pred: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        # wall-clock venue: allow for a loaded machine on top of the test's own budget
        await wait_wall_clock("ibkr", pred, what, max(timeout_s, 20.0))

    def reject_orders(self, on: bool) -> None:
        self.market.exchange.faults.rejects[:] = [Window(0, 10**18)] if on else []

    async def drop(self) -> None:
        self.gateway.kill()
        await self.gateway.stopped.wait()

    async def restore(self) -> None:
        self.gateway = TwsGateway(self.broker, "127.0.0.1", self.gateway.port)
        await self.nursery.start(self.gateway.serve)


async def make_ibkr_harness(nursery: trio.Nursery) -> IbkrHarness:
    h = IbkrHarness(nursery)
    await h.start()
    return h
