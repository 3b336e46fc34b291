"""What a scenario may cost to run, decided before it runs: ticks, horizon, value ranges.

A scenario whose every value is well-formed can still be unrunnable: ``duration:
1000d`` with a one-second walk is 86 million ticks, ``walk.every: 1ns`` over an hour
3.6 trillion, ``check_interval: 1ns`` wakes the monitor as often, a drift of 1e30
basis points per step grows prices past any memory, and a moving average over a
trillion ticks allocates its window up front. ``check`` must refuse what ``run``
cannot finish, so the loader computes the work here (walk steps over the horizon,
explicit ticks, gaps, halts, monitor and retry wake-ups) and refuses it with the
figure and the option that raises the limit.

``VALUE_BOUNDS`` is the one table of numeric ranges the loader accepts beyond the
types: the tests sample every range it lists and run the result, so "check accepts
it" means "run finishes".
"""
from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import attrs

from ..kernel.config import MAX_MA_WINDOW, MIN_INTERVAL
from ..kernel.strict_yaml import YamlLimits
from ..kernel.units import NS_PER_S, fmt_duration
from .scenario_schema import Scenario

DEFAULT_MAX_TICKS = 10_000_000  # under a minute of simulation on one core
DEFAULT_MAX_DURATION = 30 * 86400 * NS_PER_S  # 30 days of virtual time


@attrs.frozen
class Limits:
    """The resources a scenario may ask for; the CLI's ``--max-ticks`` and
    ``--max-duration`` raise the first two."""

    max_ticks: int = DEFAULT_MAX_TICKS
    max_duration: int = DEFAULT_MAX_DURATION
    yaml: YamlLimits = YamlLimits()


@attrs.frozen
class Bound:
    """A closed numeric range ``[low, high]`` (``None``: that side is unbounded here)."""

    low: Decimal | None
    high: Decimal | None

    def problem(self, value: Decimal | int) -> str | None:
        if self.low is not None and value < self.low:
            return f"must be at least {self.low}, got {value}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high}, got {value}"
        return None


# key (as it appears under market.SYMBOL or config) -> accepted range
VALUE_BOUNDS: dict[str, Bound] = {
    # basis points per walk step: 50% per step is already a market no stop survives
    "walk.vol_bps": Bound(Decimal(0), Decimal(5000)),
    "walk.drift_bps": Bound(Decimal(-1000), Decimal(1000)),
    # a gap moves the price by pct percent: down to just above zero, up to 100x
    "gaps.pct": Bound(Decimal("-99.99"), Decimal(10000)),
    # moving-average windows, in ticks (checked by the trading config's own rules,
    # which live configs share)
    "strategies.fast": Bound(Decimal(1), Decimal(MAX_MA_WINDOW - 1)),
    "strategies.slow": Bound(Decimal(2), Decimal(MAX_MA_WINDOW)),
}


def cost_problems(s: Scenario, limits: Limits) -> list[tuple[str, str]]:
    """Located problems for a scenario that would cost more than ``limits`` allow."""
    out = list(_value_problems(s))
    if s.duration > limits.max_duration:
        out.append(("duration", f"{fmt_duration(s.duration)} is beyond the horizon limit "
                                f"{fmt_duration(limits.max_duration)} "
                                f"(raise it with --max-duration)"))
        return out  # the work below would only restate it
    for path, what, count in work(s):
        if count > limits.max_ticks:
            out.append((path, f"{what} (more than the limit {limits.max_ticks}; "
                              f"raise it with --max-ticks)"))
    total = sum(n for _, what, n in work(s) if what.startswith("the market"))
    if total > limits.max_ticks and not out:
        out.append(("market", f"the markets would generate {total} ticks in all (more than "
                              f"the limit {limits.max_ticks}; raise it with --max-ticks)"))
    return out


def market_ticks(s: Scenario, symbol: str) -> int:
    """How many ticks ``market.SYMBOL`` generates over the horizon (an upper bound:
    halts swallow some, each halt adds at most one reopening tick)."""
    m = s.market[symbol]
    n = len(m.ticks) + len(m.gaps) + len(m.halts)
    if m.walk is not None and m.walk.every > 0:
        first = m.ticks[-1].t + m.walk.every if m.ticks else 0
        if first <= s.duration:
            n += (s.duration - first) // m.walk.every + 1
    return n


def work(s: Scenario) -> Iterator[tuple[str, str, int]]:
    """``(key.path, what, count)`` for everything that repeats over the horizon."""
    for sym in s.market:
        yield f"market.{sym}", f"the market would generate {market_ticks(s, sym)} ticks", \
            market_ticks(s, sym)
    tickers = max(1, len(s.instruments))
    mon = s.config.monitor
    if mon.check_interval > 0:
        n = s.duration // mon.check_interval * tickers
        yield ("config.monitor.check_interval",
               f"the position monitor would wake up to {n} times", n)
    retry = s.config.emergency.retry_interval
    if retry > 0:
        n = s.duration // retry * tickers
        yield "config.emergency.retry_interval", f"emergency retries could run {n} times", n


def _value_problems(s: Scenario) -> Iterator[tuple[str, str]]:
    for sym, m in s.market.items():
        p = f"market.{sym}"
        if m.walk is not None:
            if 0 < m.walk.every < MIN_INTERVAL:
                yield (f"{p}.walk.every",
                       f"{fmt_duration(m.walk.every)} is below the minimum "
                       f"{fmt_duration(MIN_INTERVAL)}")
            for key in ("vol_bps", "drift_bps"):
                problem = VALUE_BOUNDS[f"walk.{key}"].problem(getattr(m.walk, key))
                if problem:
                    yield f"{p}.walk.{key}", problem
        for j, g in enumerate(m.gaps):
            problem = VALUE_BOUNDS["gaps.pct"].problem(g.pct)
            if problem:
                yield f"{p}.gaps[{j}].pct", problem
