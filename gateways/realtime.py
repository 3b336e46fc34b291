"""The simulated exchange paced by the wall clock, for the wire-protocol gateways.

``triotrade run`` drives the exchange in virtual time as fast as it can; a gateway
serves the same exchange to real client libraries, so here virtual time follows the
wall clock (times ``speed``). Orders from clients arrive "now", reports and quotes go
out to listeners synchronously (a gateway buffers them per connection).

The scenario's faults are built by ``sim.faults.build_faults``, the same function
``triotrade run`` uses, and applied on this clock: exchange faults (rejects, no fills,
partial fills, duplicate reports) inside the exchange; ``latency`` delays orders and
cancels on their way in, reports and quotes on their way out; ``disconnect`` windows
go to outage listeners (a gateway drops its clients' sessions for the window).

``start_on_connect`` holds virtual time at 0 until ``start()`` is called (a gateway
calls it at the first market-data subscription), so a client that connects late
still sees the scenario from its beginning.
"""
from __future__ import annotations

import heapq
import math
import random
from typing import Any, Callable

import trio

from ..kernel.instruments import Instrument
from ..kernel.units import NS_PER_S
from ..kernel.venue import ExecReport
from ..sim.determinism import derive_seed
from ..sim.engine import Engine
from ..sim.exchange import Exchange, XOrder
from ..sim.faults import build_faults
from ..sim.market import generate
from ..sim.scenario import Scenario, market_path_specs

QuoteListener = Callable[[int, tuple[int, ...]], None]  # (idx, tick)
ReportListener = Callable[[ExecReport], None]
OutageListener = Callable[[bool], None]  # True: the session goes down


class RealtimeMarket:
    POLL_S = 0.05  # the longest the pump sleeps without looking at the exchange's timers

    def __init__(self, scn: Scenario, seed: int | None = None, speed: float = 1.0, *,
                 start_on_connect: bool = False) -> None:
        if not 0 < speed < math.inf:
            raise ValueError("speed must be positive and finite")
        self.scenario = scn
        self.seed = scn.seed if seed is None else seed
        self.speed = speed
        self.engine = Engine()
        self.symbols = [i.symbol for i in scn.instruments]
        self.instruments: dict[str, Instrument] = scn.instrument_map
        self.faults = build_faults(scn)
        self.latency = self.faults.latency
        self.exchange = Exchange(self.engine, self.symbols, self.faults.exchange,
                                 random.Random(derive_seed(self.seed, "faults")), self._on_report)
        for sym, m in scn.market.items():
            book = self.exchange.books[self.exchange.index[sym]]
            book.slippage = m.slippage_ticks * self.instruments[sym].tick_units
        self._quote_listeners: list[QuoteListener] = []
        self._report_listeners: list[ReportListener] = []
        self._outage_listeners: list[OutageListener] = []
        self.last_tick: list[tuple[int, ...] | None] = [None] * len(self.symbols)
        self._t0: float | None = None
        self._in_flight: set[str] = set()  # orders delayed by latency, not yet at the exchange
        self._nudge = trio.Event()
        self.start_on_connect = start_on_connect
        self.started = trio.Event()  # virtual t=0 has been fixed (set by run or start)
        self.finished = trio.Event()  # the scenario's market path has been played
        self.down = False

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

    def add_outage_listener(self, fn: OutageListener) -> None:
        self._outage_listeners.append(fn)

    def _on_report(self, report: ExecReport) -> None:
        if self.latency.report:
            self._later(self.latency.report, self._deliver_report, report)
        else:
            self._deliver_report(report)

    def _deliver_report(self, report: ExecReport) -> None:
        for fn in list(self._report_listeners):
            fn(report)

    def _set_down(self, down: bool) -> None:
        self.down = down
        for fn in list(self._outage_listeners):
            fn(down)

    def _later(self, delay_ns: int, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Run ``fn(arg)`` ``delay_ns`` of virtual time from now, on the pump's clock."""
        self.engine.call_at(max(self.virtual_now(), self.engine.now) + delay_ns, fn, arg)
        self._nudge.set()

    # ------------------------------------------------------------ time

    def virtual_now(self) -> int:
        if self._t0 is None:
            return 0
        return max(int((trio.current_time() - self._t0) * self.speed * NS_PER_S), 0)

    def start(self) -> None:
        """Fix virtual t=0 now (with ``start_on_connect``, the first subscription calls it)."""
        if self._t0 is None:
            self._t0 = trio.current_time()
            self.started.set()

    def _wall(self, v_ns: int) -> float:
        assert self._t0 is not None
        return self._t0 + v_ns / NS_PER_S / self.speed

    async def _wait_until(self, v_ns: float) -> None:
        """Sleep until virtual ``v_ns`` (inf: forever), running timed exchange events
        (expiries, delayed orders and reports, outages) on time meanwhile."""
        heap = self.engine._heap  # noqa: SLF001 - the engine's own queue, processed synchronously
        while True:
            due = heap[0][0] if heap else math.inf
            target = min(due, v_ns)
            self._nudge = trio.Event()
            # client actions nudge us when they schedule something; the poll is a backstop
            # for events the exchange schedules on its own (expiries of resting orders)
            wake = trio.current_time() + self.POLL_S
            if target < math.inf:
                wake = min(wake, self._wall(int(target)))
            with trio.move_on_at(wake):
                await self._nudge.wait()
            if self.virtual_now() < target:
                continue  # nudged, or the backstop: look again
            if due <= v_ns:
                self._advance(max(int(due), self.engine.now))
            else:
                return

    def _sync_time(self) -> None:
        """Run exchange events (expiries) due by now, then stamp the engine with now."""
        now = max(self.virtual_now(), self.engine.now)
        self._advance(now)

    def _advance(self, until: int) -> None:
        heap = self.engine._heap  # noqa: SLF001 - the engine's own queue, processed synchronously
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
        """A client order reaches the exchange now (or ``latency.order`` later)."""
        self._sync_time()
        idx = self.exchange.index[symbol]
        xo = XOrder(order_id, idx, role, sign, qty, otype, price, expire_ns)
        if self.latency.order:
            self._in_flight.add(order_id)
            self._later(self.latency.order, self._arrive, xo)
        else:
            self.exchange.arrive(xo)
        self._nudge.set()

    def _arrive(self, xo: XOrder) -> None:
        self._in_flight.discard(xo.order_id)
        self.exchange.arrive(xo)

    def cancel(self, order_id: str) -> bool:
        """Cancel now (or ``latency.order`` later); False when the exchange no longer has
        it working. A cancel sent after an order still in flight arrives after it."""
        self._sync_time()
        if order_id in self._in_flight:
            self._later(self.latency.order, self._cancel_arrive, order_id)
            return True
        xo = self.exchange.orders.get(order_id)
        if xo is None or not xo.working:
            return False
        if self.latency.order:
            self._later(self.latency.order, self._cancel_arrive, order_id)
        else:
            self.exchange.cancel_arrive(order_id)
        self._nudge.set()
        return True

    def _cancel_arrive(self, order_id: str) -> None:
        xo = self.exchange.orders.get(order_id)
        if xo is not None and xo.working:
            self.exchange.cancel_arrive(order_id)

    def push_tick(self, symbol: str, bid: int, ask: int, last: int | None = None,
                  bid_size: int = 1_000_000, ask_size: int = 1_000_000) -> None:
        """Inject a quote now (tests, and gateways driven by hand); prices in units."""
        self._sync_time()
        idx = self.exchange.index[symbol]
        tick = (self.engine.now, idx, bid, ask, (bid + ask) // 2 if last is None else last,
                bid_size, ask_size)
        self.exchange.on_tick(tick)
        self._publish(tick)

    def _publish(self, tick: tuple[int, ...]) -> None:
        """A quote to the listeners, ``latency.data`` after the exchange saw it."""
        if self.latency.data:
            self._later(self.latency.data, self._deliver_quote, tick)
        else:
            self._deliver_quote(tick)

    def _deliver_quote(self, tick: tuple[int, ...]) -> None:
        idx = tick[1]
        self.last_tick[idx] = tick
        for fn in list(self._quote_listeners):
            fn(idx, tick)

    # ------------------------------------------------------------ the pump

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Replay the scenario's market path in real time (x speed), then hold the last quote.

        With ``start_on_connect`` the path waits for ``start()``; until then the market
        stands at its first quote (t=0), so a client can look at it before it moves.
        """
        scn = self.scenario
        specs = market_path_specs(scn)
        gens = [generate(self.exchange.index[s], spec, scn.duration,
                         derive_seed(self.seed, f"market:{s}")) for s, spec in specs.items()]
        ticks = iter(gens[0] if len(gens) == 1 else heapq.merge(*gens))
        self._schedule_timed()
        first = next(ticks, None)
        if first is not None and first[0] == 0 and self.start_on_connect:
            # the opening quote is there for the first subscriber to see
            self.exchange.on_tick(first)
            self._deliver_quote(first)
            first = None
        if not self.start_on_connect:
            self.start()
        task_status.started()
        await self.started.wait()
        if first is not None:
            await self._play(first)
        for tick in ticks:
            await self._play(tick)
        self.finished.set()
        await self._wait_until(math.inf)  # expiries and other timed events go on

    async def run_timers(self,
                         task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Only the clock, no market path: for a market driven by ``push_tick`` alone.

        Latency, expiries and outages are timed events; without ``run`` or this task
        nothing would ever deliver them."""
        self._schedule_timed()
        self.start()
        task_status.started()
        await self._wait_until(math.inf)

    def _schedule_timed(self) -> None:
        """Outages and trading halts at their virtual times, as the runner schedules them."""
        for start, end in self.faults.outages:
            self.engine.call_at(start, self._set_down, True)
            self.engine.call_at(end, self._set_down, False)
        for sym, spec in market_path_specs(self.scenario).items():
            idx = self.exchange.index[sym]
            for start, end in spec.halts:
                self.engine.call_at(start, lambda i: self.exchange.set_halted(i, True), idx)
                self.engine.call_at(end, lambda i: self.exchange.set_halted(i, False), idx)

    async def _play(self, tick: tuple[int, ...]) -> None:
        await self._wait_until(tick[0])
        self._advance(max(tick[0], self.engine.now))
        self.exchange.on_tick(tick)
        self._publish(tick)
