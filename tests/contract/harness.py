"""The venue contract harness: one interface over every Venue implementation.

A Harness owns a venue connected to a market the test can steer (publish a quote,
make the venue reject, drop and restore the session) and a RecordingSink that keeps
what the venue reported. The contract tests are written once against it and run
against SimVenue (virtual time) and each live adapter talking to its gateway over
loopback (wall-clock time). A new adapter joins the suite by adding a factory to
``HARNESS_FACTORIES`` in conftest.py.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Awaitable, Callable, Protocol

import attrs
import trio

from triotrade.kernel.instruments import Instrument
from triotrade.kernel.venue import ExecReport, Venue


@attrs.define
class RecordingSink:
    """A VenueSink (and quote handler) that remembers everything, in order."""

    reports: list[ExecReport] = attrs.Factory(list)
    connection: list[tuple[bool, str]] = attrs.Factory(list)
    quotes: list[tuple[int, int, int, int, int, int]] = attrs.Factory(list)

    def on_report(self, report: ExecReport) -> None:
        self.reports.append(report)

    def on_connection(self, up: bool, reason: str) -> None:
        self.connection.append((up, reason))

    def on_quote(self, ts: int, bid: int, ask: int, last: int, bid_size: int,
                 ask_size: int) -> None:
        self.quotes.append((ts, bid, ask, last, bid_size, ask_size))

    def for_order(self, order_id: str) -> list[ExecReport]:
        return [r for r in self.reports if r.order_id == order_id]

    def filled(self, order_id: str) -> int:
        return sum(r.qty for r in self.for_order(order_id) if r.kind.value == "FILL")


class Harness(Protocol):
    name: str
    venue: Venue
    sink: RecordingSink
    instrument: Instrument

    async def quote(self, bid: str, ask: str, bid_size: int = 1000, ask_size: int = 1000) -> None:
        """Publish a quote at the venue's market now (prices as decimal strings)."""
        ...

    async def wait_for(self, pred: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
        """Let time pass (virtual or real) until ``pred()``; fail naming ``what``."""
        ...

    def reject_orders(self, on: bool) -> None:
        """Make the venue's exchange reject every new order (or stop doing so)."""
        ...

    async def drop(self) -> None:
        """Take the session down (the adapter must notice and report it)."""
        ...

    async def restore(self) -> None:
        """Bring it back (the adapter reconnects, resubscribes and reconciles)."""
        ...


HarnessFactory = Callable[[trio.Nursery], Awaitable[Harness]]


async def wait_wall_clock(name: str, pred: Callable[[], bool], what: str,
                          timeout_s: float) -> None:
    """``Harness.wait_for`` for venues on the wall clock (the live adapters)."""
    with trio.move_on_after(timeout_s):
        while not pred():
            await trio.sleep(0.005)
        return
    raise AssertionError(f"[{name}] timed out ({timeout_s}s) waiting for {what}")


def units(price: str) -> int:
    return int(Decimal(price) * 10**8)


def contract_instrument() -> Instrument:
    return Instrument("ACME", Decimal("0.01"), 1, "USD", "SMART")


def contract_scenario_dict() -> dict[str, Any]:
    """The market every harness serves: ACME at 100.00/100.02, quotes pushed by tests."""
    return {
        "version": 1,
        "name": "venue-contract",
        "duration": "1h",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
        "market": {"ACME": {"ticks": [{"t": "0s", "bid": "100.00", "ask": "100.02",
                                       "bid_size": 1000, "ask_size": 1000}]}},
    }
