"""Market data: contracts, instruments, tickers, and the latency probes around them.

A quote is read from ib_async's Ticker, converted to exact units (``price_units``, with
a small per-subscription cache) and posted to trio with one ``run_sync_soon``.

``probe``: an optional ``probe(point, perf_counter_ns, info)`` callback at the points
the benchmark needs (``rx`` a socket chunk reaches ib_async, ``quote`` the quote goes
to trio, ``quote_in`` trio delivers it, ``submit`` the kernel submits, ``submit_run``
it runs in the venue thread, ``placing`` ib_async is called, ``write``/``written``
around the socket write). None by default: then nothing is timed and nothing is
wrapped; the hot path pays one ``is not None`` test.
"""
from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any

import attrs

from ...kernel.instruments import Instrument
from ...kernel.units import UnitError
from ...kernel.venue import QuoteHandler, VenueError
from .conventions import load_ib_async, price_units

log = logging.getLogger("triotrade.venues.ibkr")


@attrs.define(eq=False)
class Sub:
    symbol: str
    contract: Any
    on_quote: QuoteHandler
    ticker: Any = None
    fresh: asyncio.Event | None = None
    cache: dict[float, int] = attrs.Factory(dict)


class MarketData:
    """Contracts, instruments and quotes of ``IbkrVenue``, in the venue thread."""

    def _install_probe(self, ib: Any) -> None:
        """The probe points inside ib_async (installed only when a probe is given).

        ``rx``: ib_async's client calls ``tcpDataArrived`` first thing when the socket
        hands it a chunk, before decoding it. ``write`` / ``written``: around ib_async's
        ``Connection.sendMsg`` (``transport.write``: the bytes go into the socket);
        the info is the framed message.
        """
        probe = self._probe
        assert probe is not None
        client = ib.client
        arrived = client._tcpDataArrived  # noqa: SLF001 - ib_async's own optional hook
        clock = time.perf_counter_ns

        def on_arrival() -> None:
            probe("rx", clock(), None)
            if arrived is not None:
                arrived()

        client._tcpDataArrived = on_arrival  # noqa: SLF001
        conn = client.conn
        send = conn.sendMsg

        def send_msg(msg: bytes) -> None:
            probe("write", clock(), msg)
            send(msg)
            probe("written", clock(), msg)

        conn.sendMsg = send_msg

    def _probed_quote(self, on_quote: QuoteHandler) -> QuoteHandler:
        probe = self._probe
        assert probe is not None
        clock = time.perf_counter_ns

        def stamped(ts: int, bid: int, ask: int, last: int, bs: int, asz: int) -> None:
            probe("quote_in", clock(), (bid, ask, last))
            on_quote(ts, bid, ask, last, bs, asz)

        return stamped

    async def _a_contract(self, symbol: str, currency: str = "USD") -> Any:
        c = self._contracts.get(symbol)
        if c is not None:
            return c
        self._require_up()
        [c] = await asyncio.wait_for(
            self._ib.qualifyContractsAsync(load_ib_async().Stock(symbol, "SMART", currency)),
            self.request_timeout)
        if c is None:
            raise VenueError(f"IB knows no {currency} stock {symbol!r} on SMART")
        self._contracts[symbol] = c
        return c

    async def _a_instrument(self, symbol: str) -> Instrument:
        self._require_up()
        details = await asyncio.wait_for(
            self._ib.reqContractDetailsAsync(load_ib_async().Stock(symbol, "SMART", "USD")),
            self.request_timeout)
        if not details:
            raise VenueError(f"IB knows no USD stock {symbol!r} on SMART")
        d = details[0]
        c = d.contract
        c.exchange = "SMART"
        self._contracts.setdefault(symbol, c)
        tick = Decimal(repr(d.minTick)) if d.minTick and d.minTick > 0 else Decimal("0.01")
        size = int(d.sizeIncrement) if d.sizeIncrement and d.sizeIncrement >= 1 else 1
        return Instrument(symbol, tick, size, c.currency or "USD", "SMART")

    async def _a_subscribe(self, inst: Instrument, on_quote: QuoteHandler) -> None:
        old = self._subs.get(inst.symbol)
        if self._probe is not None:
            on_quote = self._probed_quote(on_quote)
        if self._state != "up":
            # an outage: remember it; the reconnect qualifies and subscribes
            self._subs[inst.symbol] = Sub(inst.symbol, self._contracts.get(inst.symbol),
                                           on_quote)
            return
        contract = await self._a_contract(inst.symbol, inst.currency)
        if old is not None and old.ticker is not None and self._state == "up":
            try:
                self._ib.cancelMktData(old.contract)
            except Exception:  # noqa: BLE001
                log.debug("cancelMktData failed", exc_info=True)
        sub = Sub(inst.symbol, contract, on_quote)
        self._subs[inst.symbol] = sub
        if self._state == "up":
            self._start_ticker(sub)

    def _start_ticker(self, sub: Sub) -> None:
        sub.fresh = asyncio.Event()
        ticker = self._ib.reqMktData(sub.contract, "", False, False)
        sub.ticker = ticker

        def on_update(t: Any) -> None:
            if sub.ticker is t:
                self._on_ticker(sub, t)

        ticker.updateEvent += on_update

    def _units(self, sub: Sub, value: float) -> int:
        u = sub.cache.get(value)
        if u is None:
            if len(sub.cache) > 4096:
                sub.cache.clear()
            u = sub.cache[value] = price_units(value)
        return u

    def _on_ticker(self, sub: Sub, t: Any) -> None:
        bid, ask, last = t.bid, t.ask, t.last
        if not (bid > 0 and ask > 0):  # NaN (no quote yet) and -1 (empty side) fail this
            return
        try:
            b = self._units(sub, bid)
            a = self._units(sub, ask)
            lst = self._units(sub, last) if last > 0 else (b + a) // 2
        except UnitError:
            log.warning("unreadable quote for %s: %r/%r/%r", sub.symbol, bid, ask, last)
            return
        bs = int(t.bidSize) if t.bidSize == t.bidSize and t.bidSize > 0 else 0
        asz = int(t.askSize) if t.askSize == t.askSize and t.askSize > 0 else 0
        probe = self._probe
        if probe is not None:
            probe("quote", time.perf_counter_ns(), (b, a, lst))
        self._post(sub.on_quote, time.time_ns(), b, a, lst, bs, asz)
        if sub.fresh is not None:
            sub.fresh.set()
