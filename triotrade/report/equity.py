"""The price path and the equity curve, marked to market from what the journal holds.

Equity here is P&L net of fees: the signed cash flows of every fill, minus fees, plus
each open position at its symbol's mark. A symbol's mark is the close of its latest
``bar`` event when the journal has bars; a journal without bars (written before they
existed, or with ``bar_interval: 0``) is marked at every price-bearing event it does
have: fill prices and ``gap_detected.to_price``. At the end, ``run_finished.marks``
(when the run ended holding a position) gives the run's own mark, the price an exit
would get, so the report and the run summary value an open position alike. The report
says which was used,
because a journal without bars sees none of the moves between those events, so its
drawdown and volatility are lower bounds.

All money is ``Decimal``. Points that share a timestamp collapse to the last one (the
state once everything at that instant was applied), so a fill and its position update
never show as a spike.
"""
from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, Iterable

import attrs

from ..kernel.units import NS_PER_S

ZERO = Decimal(0)
DEFAULT_BAR_INTERVAL_NS = NS_PER_S


class Marking(enum.Enum):
    BARS = "bars"  # bar closes (plus fills and gaps between them)
    EVENTS = "events"  # fills and gap prices only: no bars in the journal


@attrs.define
class Series:
    """A step function of time: ``values[i]`` holds from ``times[i]`` until the next."""

    times: list[int] = attrs.Factory(list)
    values: list[Decimal] = attrs.Factory(list)

    def put(self, ts: int, value: Decimal) -> None:
        if self.times and self.times[-1] == ts:
            self.values[-1] = value
        else:
            self.times.append(ts)
            self.values.append(value)


@attrs.define
class Bar:
    ts_ns: int
    start_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@attrs.define
class SymbolPath:
    symbol: str
    bars: list[Bar] = attrs.Factory(list)
    prices: Series = attrs.Factory(Series)  # every mark, bars or events
    position: Series = attrs.Factory(Series)
    equity: Series = attrs.Factory(Series)  # this symbol's P&L net of fees, marked
    cash: Decimal = ZERO
    fees: Decimal = ZERO
    qty: Decimal = ZERO
    mark: Decimal | None = None
    in_market_ns: int = 0
    _opened_at: int | None = None

    def pnl(self) -> Decimal:
        held = self.qty * self.mark if (self.qty and self.mark is not None) else ZERO
        return self.cash + held - self.fees


@attrs.define
class PricePath:
    symbols: dict[str, SymbolPath]
    equity: Series  # the portfolio's P&L net of fees, marked
    marking: Marking
    bar_interval_ns: int
    start_ns: int
    end_ns: int
    in_market_ns: int  # time with any position open

    @property
    def marks(self) -> dict[str, Decimal]:
        return {s: p.mark for s, p in self.symbols.items() if p.mark is not None}


def _bar_interval(header: dict[str, Any], bars: list[tuple[int, int]]) -> int:
    for key in ("bar_interval_ns",):
        if type(header.get(key)) is int and header[key] > 0:
            return int(header[key])
    widths = sorted(end - start for end, start in bars if end > start)
    if widths:
        return widths[len(widths) // 2]
    return DEFAULT_BAR_INTERVAL_NS


def build_path(header: dict[str, Any], events: Iterable[dict[str, Any]]) -> PricePath:
    """Walk the journal once: marks, positions and equity, per symbol and in total."""
    events = list(events)
    has_bars = any(e["type"] == "bar" for e in events)
    symbols: dict[str, SymbolPath] = {}
    total = Series()
    open_count = 0
    any_open_since: int | None = None
    in_market = 0
    bar_spans: list[tuple[int, int]] = []
    live = header.get("live") is not None or "start_unix_ns" in header
    # a simulated run starts at virtual t=0 and lasts its horizon; a live one spans
    # its events
    start = 0 if not live else (events[0]["ts_ns"] if events else 0)
    end = max(events[-1]["ts_ns"] if events else 0, start)

    total.put(start, ZERO)

    def sym(name: str) -> SymbolPath:
        if name not in symbols:
            symbols[name] = SymbolPath(name)
            symbols[name].equity.put(start, ZERO)
        return symbols[name]

    last_pnl: dict[str, Decimal] = {}
    running = [ZERO]  # the portfolio's P&L, kept by differences: O(1) per event

    def record(ts: int, path: SymbolPath) -> None:
        pnl = path.pnl()
        running[0] += pnl - last_pnl.get(path.symbol, ZERO)
        last_pnl[path.symbol] = pnl
        path.equity.put(ts, pnl)
        total.put(ts, running[0])

    for e in events:
        kind = e["type"]
        ts = e["ts_ns"]
        if kind == "bar":
            p = sym(e["symbol"])
            bar = Bar(ts, int(e.get("start_ns", ts)), Decimal(e["open"]), Decimal(e["high"]),
                      Decimal(e["low"]), Decimal(e["close"]))
            p.bars.append(bar)
            bar_spans.append((ts, bar.start_ns))
            p.mark = bar.close
            p.prices.put(ts, bar.close)
            record(ts, p)
        elif kind == "fee_reported":  # live: the broker's commission replaces the model's
            p = sym(e["symbol"])
            p.fees += Decimal(e["fee"]) - Decimal(e["model_fee"])
            record(ts, p)
        elif kind == "fill":
            p = sym(e["symbol"])
            qty, price = Decimal(e["qty"]), Decimal(e["price"])
            sign = 1 if e["side"] == "BUY" else -1
            was_open = bool(p.qty)
            p.qty += sign * qty
            p.cash -= sign * qty * price
            p.fees += Decimal(e.get("fee") or 0)
            p.mark = price
            p.prices.put(ts, price)
            p.position.put(ts, p.qty)
            if not was_open and p.qty:
                p._opened_at = ts
                open_count += 1
                if open_count == 1:
                    any_open_since = ts
            elif was_open and not p.qty:
                assert p._opened_at is not None
                p.in_market_ns += ts - p._opened_at
                p._opened_at = None
                open_count -= 1
                if open_count == 0 and any_open_since is not None:
                    in_market += ts - any_open_since
                    any_open_since = None
            record(ts, p)
        elif kind == "gap_detected" and not has_bars and e.get("to_price") is not None:
            p = sym(e["symbol"])
            p.mark = Decimal(e["to_price"])
            p.prices.put(ts, p.mark)
            record(ts, p)
        elif kind == "position_changed":
            p = sym(e["symbol"])
            if p.mark is not None:
                record(ts, p)
        elif kind == "run_finished" and isinstance(e.get("marks"), dict):
            # the run's own end-of-run mark of each open position (where an exit would
            # fill: the bid for a long, the ask for a short), the mark the summary uses
            for name, raw in sorted(e["marks"].items()):
                p = sym(name)
                p.mark = Decimal(raw)
                record(ts, p)
    for p in symbols.values():
        if p._opened_at is not None:
            p.in_market_ns += end - p._opened_at
        if not p.position.times:
            p.position.put(start, ZERO)
        p.position.put(end, p.qty)
        if p.prices.times and not p.bars:
            p.prices.put(end, p.prices.values[-1])  # the last price holds to the end
        if p.equity.times:
            p.equity.put(end, p.pnl())
    if any_open_since is not None:
        in_market += end - any_open_since
    if total.times:
        total.put(end, total.values[-1])
    return PricePath(symbols, total, Marking.BARS if has_bars else Marking.EVENTS,
                     _bar_interval(header, bar_spans), start, end, in_market)
