"""SimVenue under the contract harness: the engine's virtual time advanced on demand."""
from __future__ import annotations

import random
from typing import Callable

import trio

from triotrade.kernel.units import NS_PER_S
from triotrade.sim.engine import Engine
from triotrade.sim.exchange import Exchange, ExchangeFaults, Window
from triotrade.sim.venue import Latency, SimVenue

from .harness import RecordingSink, contract_instrument, units

STEP_NS = 50_000_000  # each wait step advances virtual time 50 ms


class SimHarness:
    name = "sim"

    def __init__(self) -> None:
        self.instrument = contract_instrument()
        self.engine = Engine()
        self.faults = ExchangeFaults()
        box: list[SimVenue] = []
        self.exchange = Exchange(self.engine, ["ACME"], self.faults, random.Random(0),
                                 lambda r: box[0].on_exchange_report(r))
        self.venue = SimVenue(self.engine, self.exchange, {"ACME": self.instrument},
                              Latency(order=5_000_000, report=5_000_000), 10**16)
        box.append(self.venue)
        self.sink = RecordingSink()

    async def start(self) -> None:
        await self.venue.connect(self.sink)
        await self.quote("100.00", "100.02")
        await self.venue.subscribe(self.instrument, self.sink.on_quote)

    async def quote(self, bid: str, ask: str, bid_size: int = 1000, ask_size: int = 1000) -> None:
        b, a = units(bid), units(ask)
        self.venue.deliver_tick((self.engine.now, 0, b, a, (b + a) // 2, bid_size, ask_size))
        await self._advance(0)

    async def _advance(self, ns: int) -> None:
        await self.engine.run(None, None, self.engine.now + ns)

    async def wait_for(self, pred: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        waited = 0
        while not pred():
            if waited > timeout_s * NS_PER_S:
                raise AssertionError(f"[sim] timed out ({timeout_s}s virtual) waiting for {what}")
            await self._advance(STEP_NS)
            waited += STEP_NS
        await trio.lowlevel.checkpoint()

    def reject_orders(self, on: bool) -> None:
        self.faults.rejects[:] = [Window(0, 10**18)] if on else []

    async def drop(self) -> None:
        self.venue.set_down()
        await self._advance(0)

    async def restore(self) -> None:
        self.venue.set_up()
        await self._advance(0)


async def make_sim_harness(nursery: trio.Nursery) -> SimHarness:
    h = SimHarness()
    await h.start()
    return h
