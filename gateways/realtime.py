"""The simulated exchange paced by the wall clock, for the wire-protocol gateways.

``triotrade run`` drives the exchange in virtual time as fast as it can; a gateway
serves the same exchange to real client libraries, so here virtual time follows the
wall clock (times ``speed``). Orders from clients arrive "now", reports and quotes go
out to listeners synchronously (a gateway buffers them per connection).
"""
from __future__ import annotations

import random
from typing import Callable

import trio

from ..kernel.instruments import Instrument
from ..kernel.units import NS_PER_S
from ..kernel.venue import ExecReport
from ..sim.determinism import derive_seed
from ..sim.engine import Engine
from ..sim.exchange import Exchange, ExchangeFaults, Window, XOrder
from ..sim.market import generate
from ..sim.scenario import Scenario, market_path_specs

QuoteListener = Callable[[int, tuple[int, ...]], None]  # (idx, tick)
ReportListener = Callable[[ExecReport], None]


class RealtimeMarket:
    def __init__(self, scn: Scenario, seed: int | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.scenario = scn
        self.seed = scn.seed if seed is None else seed
        self.speed = speed
        self.engine = Engine()
        self.symbols = [i.symbol for i in scn.instruments]
        self.instruments: dict[str, Instrument] = scn.instrument_map
        faults = ExchangeFaults()
        for f in scn.faults:
            if f.kind == "reject" and f.t is not None and f.for_ is not None:
                faults.rejects.append(Window(f.t, f.t + f.for_, f.role))
            elif f.kind == "no_fill" and f.t is not None and f.for_ is not None:
                faults.no_fills.append(Window(f.t, f.t + f.for_))
            elif f.kind == "partial_fill":
                faults.partial_max_qty = f.max_qty
        self.exchange = Exchange(self.engine, self.symbols, faults,
                                 random.Random(derive_seed(self.seed, "faults")), self._on_report)
        for sym, m in scn.market.items():
            book = self.exchange.books[self.exchange.index[sym]]
            book.slippage = m.slippage_ticks * self.instruments[sym].tick_units
        self._quote_listeners: list[QuoteListener] = []
        self._report_listeners: list[ReportListener] = []
        self.last_tick: list[tuple[int, ...] | None] = [None] * len(self.symbols)
        self._t0: float | None = None
        self.finished = trio.Event()

    # ------------------------------------------------------------ listeners

    def add_quote_listener(self, fn: QuoteListener) -> None:
        self._quote_listeners.append(fn)

    def remove_quote_listener(self, fn: QuoteListener) -> None:
        if fn in self._quote_listeners:
            self._quote_listeners.remove(fn)

    def add_report_listener(self, fn: ReportListener) -> None:
        self._report_listeners.append(fn)

    def remove_report_listener(self, fn: ReportListener) -> None:
        if fn in self._report_listeners:
            self._report_listeners.remove(fn)

    def _on_report(self, report: ExecReport) -> None:
        for fn in list(self._report_listeners):
            fn(report)

    # ------------------------------------------------------------ time

    def virtual_now(self) -> int:
        if self._t0 is None:
            return 0
        return int((trio.current_time() - self._t0) * self.speed * NS_PER_S)

    def _sync_time(self) -> None:
        """Run exchange events (expiries) due by now, then stamp the engine with now."""
        now = max(self.virtual_now(), self.engine.now)
        self._advance(now)

    def _advance(self, until: int) -> None:
        heap = self.engine._heap  # noqa: SLF001 - the engine's own queue, processed synchronously
        import heapq

        while heap and heap[0][0] <= until:
            entry = heapq.heappop(heap)
            if entry[2] is None:
                continue
            self.engine.now = entry[0]
            entry[2](entry[3])
        self.engine.now = until

    # ------------------------------------------------------------ order entry

    def submit(self, order_id: str, symbol: str, role: str, sign: int, qty: int, otype: str,
               price: int | None, expire_ns: int | None = None) -> None:
        """A client order reaches the exchange now. Reports go to the report listeners."""
        self._sync_time()
        idx = self.exchange.index[symbol]
        self.exchange.arrive(XOrder(order_id, idx, role, sign, qty, otype, price, expire_ns))

    def cancel(self, order_id: str) -> bool:
        """Cancel now; False when the exchange no longer has it working."""
        self._sync_time()
        xo = self.exchange.orders.get(order_id)
        if xo is None or not xo.working:
            return False
        self.exchange.cancel_arrive(order_id)
        return True

    def push_tick(self, symbol: str, bid: int, ask: int, last: int | None = None,
                  bid_size: int = 1_000_000, ask_size: int = 1_000_000) -> None:
        """Inject a quote now (tests, and gateways driven by hand); prices in units."""
        self._sync_time()
        idx = self.exchange.index[symbol]
        tick = (self.engine.now, idx, bid, ask, (bid + ask) // 2 if last is None else last,
                bid_size, ask_size)
        self.exchange.on_tick(tick)
        self.last_tick[idx] = tick
        for fn in list(self._quote_listeners):
            fn(idx, tick)

    # ------------------------------------------------------------ the pump

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Replay the scenario's market path in real time (x speed), then hold the last quote."""
        self._t0 = trio.current_time()
        scn = self.scenario
        specs = market_path_specs(scn)
        gens = [generate(self.exchange.index[s], spec, scn.duration,
                         derive_seed(self.seed, f"market:{s}")) for s, spec in specs.items()]
        import heapq

        ticks = gens[0] if len(gens) == 1 else heapq.merge(*gens)
        task_status.started()
        for tick in ticks:
            await trio.sleep_until(self._t0 + tick[0] / NS_PER_S / self.speed)
            self._advance(tick[0])
            self.exchange.on_tick(tick)
            self.last_tick[tick[1]] = tick
            for fn in list(self._quote_listeners):
                fn(tick[1], tick)
        self.finished.set()
        # keep expiries and other timed exchange events going after the path ends
        while True:
            heap = self.engine._heap  # noqa: SLF001
            if heap:
                await trio.sleep_until(self._t0 + heap[0][0] / NS_PER_S / self.speed)
                self._sync_time()
            else:
                await trio.sleep(0.05)
                self._sync_time()
