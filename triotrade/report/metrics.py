"""Performance metrics, in total and per symbol, from the trades and the equity curve.

Money is ``Decimal`` throughout: P&L, fees, drawdown in money, profit factor and the
drawdown percentage are exact (the two ratios are rounded to 4 decimals at the end).
Sharpe and Sortino are floats, because they are statistics of a sample, not amounts.

Counting: a trade is closed flat to flat; a win has net P&L > 0, a loss < 0 (a trade
that nets exactly 0 is neither); win rate is wins / closed trades. Profit factor is the
sum of winning net P&L over the absolute sum of losing net P&L (``None`` when nothing
lost). An open trade at the end is reported apart and counts in none of these.

Drawdown is measured on equity marked to market at every mark of the path (see
``equity``), net of fees: the largest fall from a running peak. With the account's
starting cash known (``account_cash`` in the journal header) equity is cash + P&L and
the percentage is the fall over the peak equity; without it the fall is measured from a
starting P&L of 0 in money only.

Sharpe and Sortino (risk-free rate 0): the equity curve is sampled at the end of every
bar interval of the run (the last value at or before each sample); each interval's
return is the change in equity over the equity at its start when cash is known, else
the change in P&L itself (returns on a constant, unknown capital: the ratio is the
same for any capital). Sharpe = mean / sample standard deviation, Sortino = mean /
downside deviation (root mean square of the negative returns, over all intervals);
both are annualised by sqrt(intervals per year), a year being 252 trading days of
6.5 hours. Annualising a few minutes of returns says nothing (a 3-minute run can show
-198), so both are shown only when the run spans at least ``MIN_RETURN_INTERVALS``
intervals and a trading day (6.5 h) of data; otherwise, or with no variation, ``None``
(the report prints "-" and says why in its method notes).
"""
from __future__ import annotations

import math
from bisect import bisect_right
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from ..kernel.units import NS_PER_S
from .equity import PricePath, Series
from .trades import Trade

ZERO = Decimal(0)
TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600
MAX_SAMPLES = 2_000_000
_RATIO = Decimal("0.0001")
MIN_RETURN_INTERVALS = 30
MIN_RATIO_SPAN_NS = int(6.5 * 3600) * NS_PER_S  # a trading day


def ratios_shown(span_ns: int, intervals: int) -> bool:
    """Whether a run is long enough for Sharpe and Sortino to mean something."""
    return intervals >= MIN_RETURN_INTERVALS and span_ns >= MIN_RATIO_SPAN_NS


@attrs.define
class Drawdown:
    money: Decimal = ZERO
    pct: Decimal | None = None  # percent of the peak equity (needs the starting cash)
    peak_ns: int | None = None
    trough_ns: int | None = None


@attrs.define
class Metrics:
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    open_trades: int
    open_pnl: Decimal  # open trades' net P&L, marked at the end
    profit_factor: Decimal | None
    avg_holding_ns: int | None
    time_in_market_ns: int
    time_in_market_pct: Decimal | None
    max_drawdown: Drawdown
    sharpe: float | None
    sortino: float | None
    return_intervals: int = 0  # how many interval returns Sharpe and Sortino would use

    def as_json(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else format(d, "f")

        def f(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {
            "trades": self.trades, "wins": self.wins, "losses": self.losses,
            "win_rate": s(self.win_rate), "gross_pnl": s(self.gross_pnl),
            "fees": s(self.fees), "net_pnl": s(self.net_pnl),
            "open_trades": self.open_trades, "open_pnl": s(self.open_pnl),
            "profit_factor": s(self.profit_factor), "avg_holding_ns": self.avg_holding_ns,
            "time_in_market_ns": self.time_in_market_ns,
            "time_in_market_pct": s(self.time_in_market_pct),
            "max_drawdown": s(self.max_drawdown.money),
            "max_drawdown_pct": s(self.max_drawdown.pct),
            "sharpe": f(self.sharpe), "sortino": f(self.sortino),
        }


def _ratio(num: Decimal, den: Decimal) -> Decimal:
    return (num / den).quantize(_RATIO, rounding=ROUND_HALF_EVEN)


def max_drawdown(curve: Series, cash: Decimal | None) -> Drawdown:
    """The largest fall of ``cash + curve`` (or of the P&L curve itself) from a peak."""
    base = cash if cash is not None else ZERO
    peak = base
    peak_ns = curve.times[0] if curve.times else None
    out = Drawdown(pct=ZERO if cash is not None else None)
    for ts, pnl in zip(curve.times, curve.values):
        equity = base + pnl
        if equity > peak:
            peak, peak_ns = equity, ts
        fall = peak - equity
        if fall > out.money:
            out.money, out.peak_ns, out.trough_ns = fall, peak_ns, ts
        if cash is not None and peak > 0:
            pct = _ratio(fall * 100, peak)
            if out.pct is None or pct > out.pct:
                out.pct = pct
    return out


def interval_returns(curve: Series, start_ns: int, end_ns: int, interval_ns: int,
                     cash: Decimal | None) -> tuple[list[float], int]:
    """Per-interval returns of the curve sampled every ``interval_ns`` (and the step used)."""
    if not curve.times or end_ns <= start_ns or interval_ns <= 0:
        return [], interval_ns
    step = interval_ns
    while (end_ns - start_ns) // step > MAX_SAMPLES:
        step *= 2
    samples: list[Decimal] = []
    t = start_ns
    while t <= end_ns:
        i = bisect_right(curve.times, t) - 1
        samples.append(curve.values[i] if i >= 0 else ZERO)
        t += step
    if (end_ns - start_ns) % step:
        samples.append(curve.values[-1])
    out: list[float] = []
    for prev, cur in zip(samples, samples[1:]):
        if cash is None:
            out.append(float(cur - prev))
        else:
            base = cash + prev
            out.append(float((cur - prev) / base) if base > 0 else 0.0)
    return out, step


def sharpe_sortino(returns: list[float], step_ns: int) -> tuple[float | None, float | None]:
    n = len(returns)
    if n < 2:
        return None, None
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1)
    annual = math.sqrt(TRADING_SECONDS_PER_YEAR / (step_ns / NS_PER_S))
    sharpe = mean / math.sqrt(var) * annual if var > 0 else None
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / n)
    sortino = mean / down * annual if down > 0 else None
    return sharpe, sortino


def compute(trades: list[Trade], curve: Series, *, in_market_ns: int, start_ns: int,
            end_ns: int, interval_ns: int, cash: Decimal | None) -> Metrics:
    """The metrics of ``trades`` (one symbol's or all) and their equity ``curve``."""
    closed = [t for t in trades if not t.is_open]
    opened = [t for t in trades if t.is_open]
    wins = [t for t in closed if t.net_pnl > 0]
    losses = [t for t in closed if t.net_pnl < 0]
    won = sum((t.net_pnl for t in wins), ZERO)
    lost = -sum((t.net_pnl for t in losses), ZERO)
    holds = [t.holding_ns for t in closed if t.holding_ns is not None]
    span = end_ns - start_ns
    returns, step = interval_returns(curve, start_ns, end_ns, interval_ns, cash)
    sharpe, sortino = sharpe_sortino(returns, step) if ratios_shown(span, len(returns)) \
        else (None, None)
    return Metrics(
        trades=len(closed), wins=len(wins), losses=len(losses),
        win_rate=_ratio(Decimal(len(wins)), Decimal(len(closed))) if closed else None,
        gross_pnl=sum((t.gross_pnl for t in closed), ZERO),
        fees=sum((t.fees for t in closed), ZERO),
        net_pnl=sum((t.net_pnl for t in closed), ZERO),
        open_trades=len(opened), open_pnl=sum((t.net_pnl for t in opened), ZERO),
        profit_factor=_ratio(won, lost) if lost > 0 else None,
        avg_holding_ns=sum(holds) // len(holds) if holds else None,
        time_in_market_ns=in_market_ns,
        time_in_market_pct=_ratio(Decimal(in_market_ns * 100), Decimal(span)) if span > 0 else None,
        max_drawdown=max_drawdown(curve, cash), sharpe=sharpe, sortino=sortino,
        return_intervals=len(returns),
    )


def compute_all(trades: list[Trade], path: PricePath,
                cash: Decimal | None) -> tuple[Metrics, dict[str, Metrics]]:
    """The portfolio's metrics and each symbol's (symbols with a trade or a mark)."""
    kw = dict(start_ns=path.start_ns, end_ns=path.end_ns, interval_ns=path.bar_interval_ns,
              cash=cash)
    total = compute(trades, path.equity, in_market_ns=path.in_market_ns, **kw)  # type: ignore[arg-type]
    per: dict[str, Metrics] = {}
    for sym in sorted(path.symbols):
        p = path.symbols[sym]
        per[sym] = compute([t for t in trades if t.symbol == sym], p.equity,
                           in_market_ns=p.in_market_ns, **kw)  # type: ignore[arg-type]
    return total, per
