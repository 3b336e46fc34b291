"""Helpers for the IB tests: an in-process TWS gateway and a recording venue sink.

The gateway runs in the test's own trio loop (it is trio code); ``ib_async`` runs in
another thread (IbkrVenue's own, or ``trio.to_thread``) and talks to it over loopback
TCP, so every byte goes through the real ``ib_async`` client and decoder.

Waiting is on conditions (a trio.Event poked on every callback), never on sleeps.
"""
from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, AsyncIterator, Callable

import trio

from triotrade.kernel.units import to_units
from triotrade.kernel.venue import ExecReport, ReportKind
from triotrade.sim import scenario as scenario_mod
from triotrade.gateways.tws import TwsBroker, TwsGateway
from triotrade.gateways.realtime import RealtimeMarket

TIMEOUT = 30.0  # generous: a loaded 2-core CI box must never flake


def scenario(*, depth: int = 1000, faults: list[dict[str, Any]] | None = None,
             symbols: tuple[str, ...] = ("ACME",), walk: bool = False,
             extra: dict[str, Any] | None = None) -> scenario_mod.Scenario:
    """A quiet market: one quote at t=0 (bid 99.99 / ask 100.01), then only what tests push."""
    market: dict[str, Any] = {}
    for sym in symbols:
        spec: dict[str, Any] = {"spread": "0.02", "depth": depth,
                                "ticks": [{"t": "0s", "last": "100.00"}]}
        if walk:
            spec["walk"] = {"every": "100ms", "vol_bps": 2}
        market[sym] = spec
    data: dict[str, Any] = {
        "version": 1, "name": "ib-test", "seed": 7, "duration": "1h",
        "instruments": [{"symbol": s, "tick_size": "0.01"} for s in symbols],
        "market": market,
        "faults": faults or [],
    }
    data.update(extra or {})
    return scenario_mod.from_dict(data, "<ib-test>")


def px(text: str) -> int:
    return to_units(Decimal(text))


class Gateway:
    """A broker plus a restartable gateway in front of it, inside a test nursery."""

    def __init__(self, nursery: trio.Nursery, broker: TwsBroker, host: str) -> None:
        self.nursery = nursery
        self.broker = broker
        self.market = broker.market
        self.host = host
        self.port = 0
        self.gw: TwsGateway | None = None

    async def start(self, port: int = 0) -> None:
        gw = TwsGateway(self.broker, self.host, port)
        await self.nursery.start(gw.serve)
        self.gw = gw
        self.port = gw.port

    async def kill(self) -> None:
        """Like killing IB Gateway: every connection drops, the broker keeps its books."""
        assert self.gw is not None
        self.gw.kill()
        await self.gw.stopped.wait()

    async def restart(self) -> None:
        await self.start(self.port)

    def push(self, symbol: str, bid: str, ask: str, *, last: str | None = None,
             bid_size: int = 1000, ask_size: int = 1000) -> None:
        self.market.push_tick(symbol, px(bid), px(ask), None if last is None else px(last),
                              bid_size, ask_size)

    def clients(self) -> list[int]:
        return sorted(self.broker.sessions)


@asynccontextmanager
async def gateway(scn: scenario_mod.Scenario | None = None, *, speed: float = 1.0,
                  **broker_kw: Any) -> AsyncIterator[Gateway]:
    async with trio.open_nursery() as nursery:
        market = RealtimeMarket(scn or scenario(), speed=speed)
        broker = TwsBroker(market, **broker_kw)
        await nursery.start(broker.run)
        g = Gateway(nursery, broker, "127.0.0.1")
        await g.start()
        try:
            yield g
        finally:
            nursery.cancel_scope.cancel()


class Recorder:
    """A VenueSink that keeps everything and lets tests wait for conditions."""

    def __init__(self) -> None:
        self.reports: list[ExecReport] = []
        self.connections: list[tuple[bool, str]] = []
        self.quotes: dict[str, list[tuple[int, ...]]] = {}
        self._changed = trio.Event()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def on_report(self, report: ExecReport) -> None:
        self.reports.append(report)
        self._poke()

    def on_connection(self, up: bool, reason: str) -> None:
        self.connections.append((up, reason))
        self._poke()

    def quote_handler(self, symbol: str) -> Callable[..., None]:
        box = self.quotes.setdefault(symbol, [])

        def on_quote(ts: int, bid: int, ask: int, last: int, bs: int, asz: int) -> None:
            box.append((ts, bid, ask, last, bs, asz))
            self._poke()

        return on_quote

    async def wait(self, pred: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        with trio.move_on_after(timeout):
            while not pred():
                await self._changed.wait()
            return
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                             f"reports={self.reports} connections={self.connections}")

    def of(self, order_id: str, kind: ReportKind | None = None) -> list[ExecReport]:
        return [r for r in self.reports
                if r.order_id == order_id and (kind is None or r.kind is kind)]

    def kinds(self, order_id: str) -> list[str]:
        """The order's state reports (a commission, FEE, is not a state: see ``fees``)."""
        return [r.kind.value for r in self.reports
                if r.order_id == order_id and r.kind is not ReportKind.FEE]

    def fees(self, order_id: str) -> list[tuple[str, int | None]]:
        return [(r.exec_id, r.fee) for r in self.of(order_id, ReportKind.FEE)]

    def filled(self, order_id: str) -> int:
        return sum(r.qty for r in self.of(order_id, ReportKind.FILL))


async def wait_until(pred: Callable[[], bool], what: str, timeout: float = TIMEOUT,
                     poll: float = 0.01) -> None:
    """For state outside a Recorder (the broker's books): poll trio's clock, bounded."""
    with trio.move_on_after(timeout):
        while not pred():
            await trio.sleep(poll)
        return
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
