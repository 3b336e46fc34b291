"""Reports a trader reads, built from a journal alone: trades, metrics, timelines, charts.

The journal is the one input, so a simulated run and a live session give the same kind
of report: ``build(path)`` reads it (``triotrade.journal``), groups fills into trades
(``trades``), marks the price path and the equity curve (``equity``), computes the
metrics (``metrics``) and the timelines of kill switches, refusals and faults
(``timelines``). ``html.render`` turns a ``Report`` into one self-contained HTML file;
``Report.as_json`` is what ``triotrade report --json`` prints.

The computing modules need only the standard library and attrs; the HTML needs plotly
(the ``report`` extra), imported when rendering.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from .. import journal as journal_mod
from .equity import Marking, PricePath, build_path
from .metrics import (
    MIN_RETURN_INTERVALS,
    Metrics,
    compute_all,
    ratios_shown,
)
from .timelines import Row, kill_switch_counts, refused_by_reason, signals_refused, timeline
from .trades import Trade, build_trades, mark_open

METHOD_NOTES = {
    "sharpe": "Sharpe and Sortino: risk-free rate 0; equity sampled at the end of every "
              "bar interval; per-interval returns (change in equity over equity at the "
              "interval's start when the starting cash is known, else the change in P&L: "
              "returns on a constant capital); Sharpe = mean / sample std, Sortino = "
              "mean / downside deviation (RMS of negative returns over all intervals); "
              "annualised by sqrt(intervals per year), a year = 252 days x 6.5 h.",
    "bars": "Equity is marked to market at every bar close, fill and gap, net of fees.",
    "events": "This journal has no bar events: equity is marked only at fills and gap "
              "prices, so moves between them are not seen (drawdown and volatility are "
              "lower bounds).",
    "cash_known": "Drawdown percent is of peak equity (starting cash + P&L).",
    "cash_unknown": "The journal header has no account_cash: drawdown is in money from a "
                    "starting P&L of 0; no percentage.",
}


@attrs.define
class Report:
    source: str
    header: dict[str, Any]
    trades: list[Trade]
    path: PricePath
    total: Metrics
    per_symbol: dict[str, Metrics]
    timeline: list[Row]
    cash: Decimal | None
    events: list[dict[str, Any]] = attrs.field(repr=False)

    @property
    def time_origin_ns(self) -> int:
        return journal_mod.time_origin_ns(self.header)

    _by_symbol: dict[str, list[dict[str, Any]]] | None = attrs.field(default=None, repr=False)

    def events_of(self, symbol: str) -> list[dict[str, Any]]:
        """The journal events of one symbol, in order (grouped once, on first use)."""
        if self._by_symbol is None:
            self._by_symbol = {}
            for e in self.events:
                sym = e.get("symbol")
                if isinstance(sym, str):
                    self._by_symbol.setdefault(sym, []).append(e)
        return self._by_symbol.get(symbol, [])

    @property
    def live(self) -> bool:
        h = self.header
        return h.get("live") is not None or "start_unix_ns" in h

    @property
    def notes(self) -> list[str]:
        out = [METHOD_NOTES["bars" if self.path.marking is Marking.BARS else "events"],
               METHOD_NOTES["cash_known" if self.cash is not None else "cash_unknown"],
               METHOD_NOTES["sharpe"]]
        if self.path.marking is Marking.EVENTS:
            out.append(f"Bar interval assumed: {self.path.bar_interval_ns / 1e9:g} s.")
        span = self.path.end_ns - self.path.start_ns
        intervals = self.total.return_intervals
        if not ratios_shown(span, intervals):
            out.append(f"Sharpe and Sortino are not shown (-): the run spans {span / 1e9:g} s "
                       f"in {intervals} return interval(s); annualised ratios need at least "
                       f"{MIN_RETURN_INTERVALS} intervals and a trading day (6.5 h) of data.")
        return out

    def as_json(self) -> dict[str, Any]:
        rows = self.timeline
        return {
            "journal": self.source,
            "scenario": self.header.get("scenario"),
            "seed": self.header.get("seed"),
            "live": self.live,
            "marking": self.path.marking.value,
            "bar_interval_ns": self.path.bar_interval_ns,
            "account_cash": None if self.cash is None else format(self.cash, "f"),
            "total": self.total.as_json(),
            "per_symbol": {s: m.as_json() for s, m in self.per_symbol.items()},
            "kill_switches": kill_switch_counts(rows),
            "signals_refused": signals_refused(rows),
            "refused_by_reason": refused_by_reason(rows),
            "trades": [t.as_dict() for t in self.trades],
            "timeline": [r.as_json() for r in rows],
            "method": self.notes,
        }


def _cash(header: dict[str, Any]) -> Decimal | None:
    raw = header.get("account_cash")
    if raw is None and isinstance(header.get("account"), dict):
        raw = header["account"].get("cash")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def build(path: str | Path) -> Report:
    """The report of the journal at ``path`` (``JournalReadError`` if it is unreadable)."""
    header = journal_mod.read_header(path)
    events = list(journal_mod.iter_events(path))
    cash = _cash(header)
    trades = build_trades(events)
    price_path = build_path(header, events)
    mark_open(trades, price_path.marks)
    total, per = compute_all(trades, price_path, cash)
    return Report(str(path), header, trades, price_path, total, per, timeline(events), cash,
                  events)
