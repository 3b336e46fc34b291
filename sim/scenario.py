"""Scenario files, format v1 (SCENARIO_FORMAT.md is the contract).

Loading is two passes: cattrs structures the YAML into attrs classes with strict
hooks (no unknown keys, no floats for integers, exact decimals), then ``_validate``
checks what types cannot (declared symbols, tick order, fault kinds...). Every
problem is reported as ``(key.path, message)``; nothing runs unless there are none.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, NewType

import attrs
import cattrs
import yaml

from ..kernel.config import (
    ConfigError,
    Duration,
    Money,
    Price,
    TradingConfig,
    flatten_errors,
    make_converter,
    validate_config,
)
from ..kernel.instruments import Instrument
from ..kernel.units import UnitError, parse_decimal, parse_duration, to_units

SignedMoney = NewType("SignedMoney", int)


@functools.cache
def scenario_converter() -> cattrs.Converter:
    """The config's strict converter, plus the scenario's own types; built on first use."""
    conv = make_converter()
    conv.register_structure_hook(SignedMoney, lambda v, _: to_units(v))
    return conv

SIDES = ("BUY", "SELL", "EXIT")
ROLES = ("ENTRY", "TAKE_PROFIT", "STOP_LOSS", "EXIT", "EMERGENCY_EXIT", "DANGLING_SHARES")
SINGLE_FAULTS = ("latency", "partial_fill", "duplicate_reports")  # venue-wide settings
FAULT_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required keys, optional keys) besides "kind"
    "latency": (set(), {"order", "report", "data"}),
    "reject": ({"t", "for"}, {"role"}),
    "no_fill": ({"t", "for"}, set()),
    "partial_fill": ({"max_qty"}, set()),
    "disconnect": ({"t", "for"}, set()),
    "duplicate_reports": ({"p"}, set()),
}


@attrs.frozen
class InstrumentSpec:
    symbol: str
    tick_size: Decimal
    lot_size: int = 1
    currency: str = "USD"
    exchange: str = "SMART"

    def to_instrument(self) -> Instrument:
        return Instrument(self.symbol, self.tick_size, self.lot_size, self.currency,
                          self.exchange)


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


@attrs.frozen
class SignalSpec:
    t: Duration
    symbol: str
    side: str
    published: Duration | None = None


@attrs.frozen
class FaultSpec:
    kind: str
    t: Duration | None = None
    for_: Duration | None = None
    role: str | None = None
    order: Duration | None = None
    report: Duration | None = None
    data: Duration | None = None
    max_qty: int | None = None
    p: Decimal | None = None


@attrs.frozen
class OperatorSpec:
    """Addition to v1: an operator's manual act at time t (kill switch, its reset)."""

    t: Duration
    action: str  # "kill_switch" | "reset_kill_switch"
    mode: str = "close_all"  # for kill_switch: stop_new_trades | cancel_all | close_all


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
    instruments: list[InstrumentSpec]
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
    # not part of the file: where it came from and the hash of its bytes
    source: str = ""
    sha256: str = ""

    @property
    def instrument_map(self) -> dict[str, Instrument]:
        return {i.symbol: i.to_instrument() for i in self.instruments}

    @property
    def start_unix_ns(self) -> int | None:
        if self.start is None:
            return None
        return _parse_start(self.start)


class ScenarioError(Exception):
    """Invalid scenario: each problem is (key.path, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {path}: {msg}" if path else f"{self.source}: {msg}"
                for path, msg in self.problems]


# ---------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _rename_for(data: Any, path: str, problems: list[tuple[str, str]]) -> Any:
    """YAML's ``for`` is a Python keyword: fields call it ``for_``. The file must say
    ``for``: a ``for_`` in the file is an unknown key, not a silent synonym."""
    if isinstance(data, dict) and ("for" in data or "for_" in data):
        data = dict(data)
        if "for_" in data:
            data.pop("for_")
            problems.append((f"{path}.for_", "unknown key (the key is 'for')"))
        if "for" in data:
            data["for_"] = data.pop("for")
    return data


def _duplicate_keys(node: Any, path: str = "", _active: frozenset[int] = frozenset()
                    ) -> list[tuple[str, str]]:
    """Duplicate mapping keys anywhere in a composed YAML document, by key path."""
    if id(node) in _active:  # an alias cycle
        return []
    active = _active | {id(node)}
    out: list[tuple[str, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                sub = f"{path}.{key}" if path else key
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key)
                if ident in seen:
                    out.append((sub, f"duplicate key (lines {seen[ident]} and {line})"))
                else:
                    seen[ident] = line
            else:
                sub = path
            out.extend(_duplicate_keys(value_node, sub, active))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.extend(_duplicate_keys(item, f"{path}[{i}]", active))
    return out


def _load_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        dups = _duplicate_keys(node)
        if dups:
            raise ScenarioError(source, dups)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _parse_start(text: str) -> int:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UnitError(f"cannot parse {text!r} as an ISO 8601 time") from None
    if when.tzinfo is None:
        raise UnitError(f"{text!r} has no time zone (add Z or +00:00)")
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


# ---------------------------------------------------------------- loading


def load(path: str | Path) -> Scenario:
    p = Path(path)
    source = str(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(source, [("", f"cannot read file: {exc.strerror or exc}")]) from None
    return loads(raw, source)


def loads(raw: bytes | str, source: str = "<scenario>") -> Scenario:
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        data = _load_yaml(raw.decode("utf-8"), source)
    except UnicodeDecodeError:
        raise ScenarioError(source, [("", "file is not UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(source, [(where, f"invalid YAML: {problem}")]) from None
    return from_dict(data, source, hashlib.sha256(raw).hexdigest())


def from_dict(data: Any, source: str = "<scenario>", sha256: str = "") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", "a scenario file must be a YAML mapping")])
    problems: list[tuple[str, str]] = []
    data = dict(data)
    if "start" in data and isinstance(data["start"], dt.datetime):
        data["start"] = data["start"].isoformat()
    # the keyword `for` and per-kind fault keys, before cattrs sees them
    market = data.get("market")
    if isinstance(market, dict):
        market = {k: dict(v) if isinstance(v, dict) else v for k, v in market.items()}
        for sym, spec in market.items():
            if isinstance(spec, dict) and isinstance(spec.get("halts"), list):
                spec["halts"] = [_rename_for(h, f"market.{sym}.halts[{j}]", problems)
                                 for j, h in enumerate(spec["halts"])]
        data["market"] = market
    faults = data.get("faults")
    if isinstance(faults, list):
        for i, f in enumerate(faults):
            if isinstance(f, dict):
                problems.extend(_check_fault_keys(f, f"faults[{i}]"))
        data["faults"] = [_rename_for(f, f"faults[{i}]", problems) for i, f in enumerate(faults)]
    if "source" in data or "sha256" in data:
        for key in ("source", "sha256"):
            if key in data:
                problems.append((key, "unknown key"))
                data.pop(key)
    try:
        scn: Scenario = scenario_converter().structure(data, Scenario)
    except Exception as exc:  # noqa: BLE001 - flattened into path-named problems
        problems.extend(_fix_for(p) for p in flatten_errors(exc))
        raise ScenarioError(source, _dedupe(problems)) from None
    scn = attrs.evolve(scn, source=source, sha256=sha256)
    problems.extend(_validate(scn))
    if problems:
        raise ScenarioError(source, _dedupe(problems))
    return scn


_FOR_SEGMENT = re.compile(r"\.for_(?=$|[.\[])")


def _fix_for(problem: tuple[str, str]) -> tuple[str, str]:
    """Report the field ``for_`` under the name the file uses, ``for``."""
    path, msg = problem
    return _FOR_SEGMENT.sub(".for", path), msg.replace("'for_'", "'for'")


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _check_fault_keys(fault: dict[str, Any], path: str) -> list[tuple[str, str]]:
    kind = fault.get("kind")
    if kind is None:
        return [(f"{path}.kind", "required key 'kind' is missing")]
    if kind not in FAULT_KEYS:
        return [(f"{path}.kind", f"unknown fault kind {kind!r} (one of: {', '.join(FAULT_KEYS)})")]
    required, optional = FAULT_KEYS[kind]
    out = []
    for key in sorted(set(fault) - {"kind"} - required - optional):
        out.append((f"{path}.{key}", f"not a key of a {kind} fault"))
    for key in sorted(required - set(fault)):
        out.append((f"{path}.{key}", f"required for a {kind} fault"))
    return out


def _validate(s: Scenario) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if s.version != 1:
        out.append(("version", f"unsupported format version {s.version} (this build reads 1)"))
    if s.duration <= 0:
        out.append(("duration", "must be positive"))
    if s.start is not None:
        try:
            _parse_start(s.start)
        except UnitError as exc:
            out.append(("start", str(exc)))
    declared: dict[str, InstrumentSpec] = {}
    if not s.instruments:
        out.append(("instruments", "at least one instrument is required"))
    for i, inst in enumerate(s.instruments):
        p = f"instruments[{i}]"
        if not inst.symbol:
            out.append((f"{p}.symbol", "must not be empty"))
        if inst.symbol in declared:
            out.append((f"{p}.symbol", f"{inst.symbol!r} is declared twice"))
        declared[inst.symbol] = inst
        if inst.tick_size <= 0:
            out.append((f"{p}.tick_size", "must be positive"))
        else:
            try:
                to_units(inst.tick_size)
            except UnitError as exc:
                out.append((f"{p}.tick_size", str(exc)))
        if inst.lot_size <= 0:
            out.append((f"{p}.lot_size", "must be positive"))

    def need_symbol(sym: str, path: str) -> None:
        if sym not in declared:
            out.append((path, f"symbol {sym!r} is not declared under instruments"))

    if s.account.cash <= 0:
        out.append(("account.cash", "must be positive"))
    out.extend(validate_config(s.config))
    for i, sym in enumerate(s.config.tickers):
        need_symbol(sym, f"config.tickers[{i}]")
    for sym in s.config.strategies:
        need_symbol(sym, f"config.strategies.{sym}")

    for sym, m in s.market.items():
        p = f"market.{sym}"
        need_symbol(sym, p)
        inst = declared.get(sym)
        tick_units = to_units(inst.tick_size) if inst is not None and inst.tick_size > 0 else 0
        if m.spread < 0:
            out.append((f"{p}.spread", "must not be negative"))
        if m.depth <= 0:
            out.append((f"{p}.depth", "must be positive"))
        if m.slippage_ticks < 0:
            out.append((f"{p}.slippage_ticks", "must not be negative"))
        prev_t = -1
        for j, tk in enumerate(m.ticks):
            tp = f"{p}.ticks[{j}]"
            if tk.t <= prev_t:
                out.append((f"{tp}.t", "tick times must increase (out of order)"))
            prev_t = max(prev_t, tk.t)
            if tk.t > s.duration:
                out.append((f"{tp}.t", "is after the scenario's duration"))
            if tk.last is None and tk.bid is None and tk.ask is None:
                out.append((tp, "a tick needs last, or bid/ask"))
            for key in ("last", "bid", "ask"):
                v = getattr(tk, key)
                if v is not None:
                    if v <= 0:
                        out.append((f"{tp}.{key}", "must be positive"))
                    elif tick_units and v % tick_units:
                        out.append((f"{tp}.{key}",
                                    f"not a multiple of tick_size {inst.tick_size}"))  # type: ignore[union-attr]
            for key in ("bid_size", "ask_size"):
                v = getattr(tk, key)
                if v is not None and v < 0:
                    out.append((f"{tp}.{key}", "must not be negative"))
            if tk.bid is not None and tk.ask is not None and tk.bid > tk.ask:
                out.append((tp, "bid is above ask (crossed quote)"))
        if m.walk is not None:
            wp = f"{p}.walk"
            if m.walk.every <= 0:
                out.append((f"{wp}.every", "must be positive"))
            if m.walk.vol_bps < 0:
                out.append((f"{wp}.vol_bps", "must not be negative"))
            if not m.ticks and m.walk.start is None:
                out.append((f"{wp}.start", "needed when the walk has no explicit tick before it"))
            if m.walk.start is not None and m.walk.start <= 0:
                out.append((f"{wp}.start", "must be positive"))
            elif m.walk.start is not None and tick_units and m.walk.start % tick_units:
                out.append((f"{wp}.start", f"not a multiple of tick_size {inst.tick_size}"))  # type: ignore[union-attr]
        if not m.ticks and m.walk is None:
            out.append((p, "a market needs ticks or a walk"))
        for j, g in enumerate(m.gaps):
            if g.pct <= -100:
                out.append((f"{p}.gaps[{j}].pct", "must be above -100"))
        for j, h in enumerate(m.halts):
            if h.for_ <= 0:
                out.append((f"{p}.halts[{j}].for", "must be positive"))

    for i, sig in enumerate(s.signals):
        p = f"signals[{i}]"
        need_symbol(sig.symbol, f"{p}.symbol")
        if sig.side not in SIDES:
            out.append((f"{p}.side", f"must be one of {', '.join(SIDES)}, got {sig.side!r}"))
        if sig.t > s.duration:
            out.append((f"{p}.t", "is after the scenario's duration"))
        if sig.published is not None and sig.published > sig.t:
            out.append((f"{p}.published", "is after the signal's t (published in the future)"))
    first_of: dict[str, int] = {}
    for i, f in enumerate(s.faults):
        p = f"faults[{i}]"
        if f.kind in SINGLE_FAULTS:
            # each sets one venue-wide parameter: a second would silently replace the first
            if f.kind in first_of:
                out.append((f"{p}.kind", f"a second {f.kind} fault: faults[{first_of[f.kind]}] "
                                         f"already sets it (only one is allowed)"))
            else:
                first_of[f.kind] = i
        if f.role is not None and f.role not in ROLES:
            out.append((f"{p}.role", f"must be one of {', '.join(ROLES)}, got {f.role!r}"))
        if f.for_ is not None and f.for_ <= 0:
            out.append((f"{p}.for", "must be positive"))
        if f.max_qty is not None and f.max_qty <= 0:
            out.append((f"{p}.max_qty", "must be positive"))
        if f.p is not None and not 0 <= f.p <= 1:
            out.append((f"{p}.p", "must be between 0 and 1"))

    for i, op in enumerate(s.operator):
        p = f"operator[{i}]"
        if op.action not in ("kill_switch", "reset_kill_switch"):
            out.append((f"{p}.action", f"must be kill_switch or reset_kill_switch, got {op.action!r}"))
        if op.mode not in ("stop_new_trades", "cancel_all", "close_all"):
            out.append((f"{p}.mode", f"must be stop_new_trades, cancel_all or close_all, got {op.mode!r}"))
        if op.t > s.duration:
            out.append((f"{p}.t", "is after the scenario's duration"))

    e = s.expect
    for key in ("final_position", "max_position", "realized_pnl"):
        for sym in getattr(e, key):
            need_symbol(sym, f"expect.{key}.{sym}")
    for sym, v in e.max_position.items():
        if v < 0:
            out.append((f"expect.max_position.{sym}", "must not be negative"))
    for sym, bound in e.realized_pnl.items():
        if bound.min is not None and bound.max is not None and bound.min > bound.max:
            out.append((f"expect.realized_pnl.{sym}", "min is above max: nothing can pass"))
    for key in ("events", "no_events", "counts"):
        for i, m in enumerate(getattr(e, key)):
            out.extend(_check_matcher(m, f"expect.{key}[{i}]", counts=key == "counts",
                                      declared=declared))
    return out


def _check_matcher(m: dict[str, Any], path: str, *, counts: bool,
                   declared: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if not isinstance(m.get("type"), str):
        out.append((f"{path}.type", "required: the event type to match"))
    for key in ("after", "before"):
        if key in m:
            try:
                parse_duration(m[key])
            except UnitError as exc:
                out.append((f"{path}.{key}", str(exc)))
    if counts:
        if "min" not in m and "max" not in m:
            out.append((path, "a count needs min and/or max"))
        for key in ("min", "max"):
            if key in m and (isinstance(m[key], bool) or not isinstance(m[key], int) or m[key] < 0):
                out.append((f"{path}.{key}", "must be a non-negative integer"))
    for key, v in m.items():
        if isinstance(v, (dict, list)):
            out.append((f"{path}.{key}", "must be a plain value"))
        if isinstance(v, float):
            # YAML numbers in matchers are compared as decimals; keep them exact
            m[key] = str(parse_decimal(v))
    if "symbol" in m and isinstance(m["symbol"], str):
        if m["symbol"] not in declared:
            out.append((f"{path}.symbol", f"symbol {m['symbol']!r} is not declared under instruments"))
    return out


def market_path_specs(s: Scenario) -> dict[str, Any]:
    """Scenario market sections as sim.market.PathSpec objects."""
    from .market import PathSpec, PathTick, merge_halts
    from .market import WalkSpec as MWalk

    out = {}
    for inst in s.instruments:
        m = s.market.get(inst.symbol)
        if m is None:
            continue
        walk = None
        if m.walk is not None:
            walk = MWalk(m.walk.every, Fraction(m.walk.vol_bps), Fraction(m.walk.drift_bps),
                         m.walk.start)
        out[inst.symbol] = PathSpec(
            tick_units=to_units(inst.tick_size),
            spread=m.spread,
            depth=m.depth,
            ticks=tuple(PathTick(t.t, t.last, t.bid, t.ask, t.bid_size, t.ask_size)
                        for t in m.ticks),
            walk=walk,
            gaps=tuple(sorted((g.t, Fraction(g.pct)) for g in m.gaps)),
            halts=merge_halts((h.t, h.t + h.for_) for h in m.halts),
        )
    return out


__all__ = ["Scenario", "ScenarioError", "load", "loads", "from_dict", "ConfigError"]
