"""The scenario file's schema (format v1; SCENARIO_FORMAT.md is the contract).

attrs classes the strict converter structures a scenario file into: their field
types are the first check (unknown keys, floats for integers and inexact decimals are
refused there). Values that name a closed set (signal sides, order roles, kill-switch
actions) stay the file's words here, are checked against the kernel's enums by
``scenario_rules`` and become enums where they enter the kernel.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NewType

import attrs

from ..kernel.config import Duration, Money, Price, TradingConfig
from ..kernel.instruments import Instrument
from ..kernel.killswitch import KillAction
from ..kernel.orders import Role
from ..kernel.signals import SignalSide
from ..kernel.units import UnitError, shown, to_units

SignedMoney = NewType("SignedMoney", int)

SIDES = tuple(s.value for s in SignalSide)
SIGNAL_SOURCES = ("scenario", "news")  # who a scenario's signal claims to come from
ROLES = tuple(r.value for r in Role)
KILL_ACTIONS = tuple(a.value for a in KillAction)
OPERATOR_ACTIONS = ("kill_switch", "reset_kill_switch", "flatten")
SINGLE_FAULTS = ("latency", "partial_fill", "duplicate_reports")  # venue-wide settings
FAULT_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys) besides "kind"
    "latency": (set(), {"order", "report", "data"}),
    "reject": ({"t", "for"}, {"role"}),
    "no_fill": ({"t", "for"}, set()),
    "partial_fill": ({"max_qty"}, set()),
    "disconnect": ({"t", "for"}, set()),
    "duplicate_reports": ({"p"}, set()),
    "crash": ({"t", "restart_after"}, set()),
}


@attrs.frozen
class AccountSpec:
    cash: Money = Money(to_units(1_000_000))


@attrs.frozen
class TickSpec:
    t: Duration
    last: Price | None = None
    bid: Price | None = None
    ask: Price | None = None
    bid_size: int | None = None
    ask_size: int | None = None


@attrs.frozen
class WalkSpec:
    every: Duration
    vol_bps: Decimal
    drift_bps: Decimal = Decimal(0)
    start: Price | None = None  # addition to v1: the walk's first price when no tick precedes it


@attrs.frozen
class GapSpec:
    t: Duration
    pct: Decimal


@attrs.frozen
class HaltSpec:
    t: Duration
    for_: Duration


@attrs.frozen
class BadQuoteSpec:
    """Addition to v1: a quote the feed delivers to the kernel as written (crossed,
    non-positive, a print outside its book) without it ever being the exchange's book:
    bad data the kernel must refuse. ``bid``/``ask`` 0: that side empty."""

    t: Duration
    last: SignedMoney
    bid: SignedMoney = SignedMoney(0)
    ask: SignedMoney = SignedMoney(0)


@attrs.frozen
class MarketSpec:
    spread: Price = Price(0)
    depth: int = 1_000_000
    # addition to v1: the slippage model; a market order (or a triggered stop) fills this
    # many ticks beyond the touch (default 0: at the touch, as the contract describes)
    slippage_ticks: int = 0
    ticks: list[TickSpec] = attrs.Factory(list)
    walk: WalkSpec | None = None
    gaps: list[GapSpec] = attrs.Factory(list)
    halts: list[HaltSpec] = attrs.Factory(list)
    # additions to v1: market data from a CSV or Parquet file (relative to the scenario's
    # folder) instead of ticks or a walk; format "ticks" or "bars" (OHLC, see
    # sim/datafiles.py); bar_interval when a bars file's spacing cannot be inferred
    file: str | None = None
    format: str | None = None
    bar_interval: Duration | None = None
    bad_quotes: list[BadQuoteSpec] = attrs.Factory(list)  # addition to v1: bad feed data


DATA_FORMATS = ("ticks", "bars")


@attrs.frozen
class SignalSpec:
    t: Duration
    symbol: str
    side: str  # one of SIDES
    published: Duration | None = None
    source: str | None = None  # addition to v1: scenario (default) or news (signal priority)


@attrs.frozen
class FaultSpec:
    kind: str
    t: Duration | None = None
    for_: Duration | None = None
    role: str | None = None  # one of ROLES
    order: Duration | None = None
    report: Duration | None = None
    data: Duration | None = None
    max_qty: int | None = None
    p: Decimal | None = None
    restart_after: Duration | None = None  # crash: how long the kernel stays dead


@attrs.frozen
class OperatorSpec:
    """Addition to v1: an operator's manual act at time t (kill switch, its reset, or
    a flatten of one symbol's position)."""

    t: Duration
    action: str  # one of OPERATOR_ACTIONS
    mode: str = KillAction.CLOSE_ALL.value  # for kill_switch: one of KILL_ACTIONS
    symbol: str | None = None  # for flatten (and only for flatten): the symbol to exit


@attrs.frozen
class PnlBound:
    min: SignedMoney | None = None
    max: SignedMoney | None = None


@attrs.frozen
class ExpectSpec:
    final_position: dict[str, int] = attrs.Factory(dict)
    max_position: dict[str, int] = attrs.Factory(dict)
    realized_pnl: dict[str, PnlBound] = attrs.Factory(dict)
    events: list[dict[str, Any]] = attrs.Factory(list)
    no_events: list[dict[str, Any]] = attrs.Factory(list)
    counts: list[dict[str, Any]] = attrs.Factory(list)


@attrs.frozen
class Scenario:
    version: int
    name: str
    duration: Duration
    instruments: list[Instrument]
    description: str = ""
    seed: int = 0
    start: str | None = None
    account: AccountSpec = AccountSpec()
    config: TradingConfig = TradingConfig()
    market: dict[str, MarketSpec] = attrs.Factory(dict)
    signals: list[SignalSpec] = attrs.Factory(list)
    faults: list[FaultSpec] = attrs.Factory(list)
    operator: list[OperatorSpec] = attrs.Factory(list)
    expect: ExpectSpec = ExpectSpec()
    # not part of the file: where it came from, the hash of its bytes, and the
    # command line's ``--set PATH=VALUE`` overrides applied to it (journaled in the header)
    source: str = ""
    sha256: str = ""
    overrides: tuple[str, ...] = ()

    @property
    def instrument_map(self) -> dict[str, Instrument]:
        return {i.symbol: i for i in self.instruments}

    @property
    def start_unix_ns(self) -> int | None:
        if self.start is None:
            return None
        session = self.config.session
        return parse_start(self.start, None if session is None else session.timezone)


def parse_start(text: str, timezone: str | None = None) -> int:
    """Unix ns of an ISO 8601 time. Without an offset it is read in ``timezone`` (the
    session's, when the config has one); without either it is refused."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        reason = str(exc)
        if "offset must be a timedelta" in reason:
            reason = "the time zone offset must be within -23:59..+23:59"
        elif "Invalid isoformat" in reason:
            reason = "expected e.g. 2025-11-03T14:30:00Z"
        raise UnitError(f"cannot parse {shown(text)} as an ISO 8601 time ({reason})") from None
    if when.tzinfo is None and timezone is not None:
        from ..kernel.risk.session import zone

        when = when.replace(tzinfo=zone(timezone))
    if when.tzinfo is None:
        raise UnitError(f"{text!r} has no time zone (add Z or +00:00)")
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
