"""What types cannot say about a scenario: the cross-field rules, as located problems.

``scenario_schema`` has structured the file; here every reference and ordering is
checked (declared symbols, increasing tick times, prices on the tick grid, one of each
venue-wide fault, matchers in the ``expect:`` block...). Each rule appends a
``(key.path, problem)`` pair and carries on, so a file's author sees every mistake at
once; nothing runs unless the list is empty.
"""
from __future__ import annotations

from typing import Any

from ..kernel.events import matcher_problems
from ..kernel.instruments import Instrument
from ..kernel.session import setup_problems
from ..kernel.units import UnitError, parse_decimal, parse_duration, to_units
from .scenario_schema import (
    DATA_FORMATS,
    FAULT_KEYS,
    KILL_ACTIONS,
    SINGLE_FAULTS,
    OPERATOR_ACTIONS,
    ROLES,
    SIDES,
    SIGNAL_SOURCES,
    Scenario,
    parse_start,
)

MATCHER_KEYS = ("after", "before", "min", "max")  # a matcher's own keys, not event fields


def check_fault_keys(fault: dict[str, Any], path: str) -> list[tuple[str, str]]:
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


def validate(s: Scenario) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if s.version != 1:
        out.append(("version", f"unsupported format version {s.version} (this build reads 1)"))
    if s.duration <= 0:
        out.append(("duration", "must be positive"))
    session = s.config.session
    if s.start is not None:
        try:
            parse_start(s.start, None if session is None else session.timezone)
        except UnitError as exc:
            if session is None or "time zone" not in str(exc) or "unknown" not in str(exc):
                out.append(("start", str(exc)))  # (an unknown session zone: said there)
    elif session is not None:
        out.append(("config.session", "needs start: the calendar time of the scenario's t=0"))
    out.extend(setup_problems(s.instruments, s.config))
    declared: dict[str, Instrument] = {inst.symbol: inst for inst in s.instruments}

    def need_symbol(sym: str, path: str) -> None:
        if sym not in declared:
            out.append((path, f"symbol {sym!r} is not declared under instruments"))

    if s.account.cash <= 0:
        out.append(("account.cash", "must be positive"))

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
        for j, bq in enumerate(m.bad_quotes):
            if bq.t > s.duration:
                out.append((f"{p}.bad_quotes[{j}].t", "is after the scenario's duration"))
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
        if m.file is not None:
            for key in ("ticks", "walk"):
                if getattr(m, key):
                    out.append((f"{p}.{key}", "a market with a file takes no ticks or walk "
                                              "(gaps and halts still apply on top)"))
            if not m.file.strip():
                out.append((f"{p}.file", "must name a CSV or Parquet file"))
        else:
            for key in ("format", "bar_interval"):
                if getattr(m, key) is not None:
                    out.append((f"{p}.{key}", "only for a market read from a file"))
            if not m.ticks and m.walk is None:
                out.append((p, "a market needs ticks, a walk or a file"))
        if m.format is not None and m.format not in DATA_FORMATS:
            out.append((f"{p}.format", f"must be {_either(DATA_FORMATS)}, got {m.format!r}"))
        if m.bar_interval is not None and m.bar_interval <= 0:
            out.append((f"{p}.bar_interval", "must be positive"))
        if m.bar_interval is not None and m.format != "bars":
            out.append((f"{p}.bar_interval", "only for format: bars"))
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
        if sig.source is not None and sig.source not in SIGNAL_SOURCES:
            out.append((f"{p}.source", f"must be one of {', '.join(SIGNAL_SOURCES)}, "
                                       f"got {sig.source!r}"))
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
        if f.kind == "crash" and f.t is not None and f.restart_after is not None:
            if f.restart_after <= 0:
                out.append((f"{p}.restart_after", "must be positive"))
            elif f.t + f.restart_after >= s.duration:
                out.append((f"{p}.restart_after", "the restart must come before the "
                                                  "scenario's duration"))

    for i, op in enumerate(s.operator):
        p = f"operator[{i}]"
        if op.action not in OPERATOR_ACTIONS:
            out.append((f"{p}.action", f"must be {_either(OPERATOR_ACTIONS)}, got {op.action!r}"))
        if op.mode not in KILL_ACTIONS:
            out.append((f"{p}.mode", f"must be {_either(KILL_ACTIONS)}, got {op.mode!r}"))
        if op.t > s.duration:
            out.append((f"{p}.t", "is after the scenario's duration"))
        if op.action == "flatten":
            if op.symbol is None:
                out.append((f"{p}.symbol", "flatten needs the symbol whose position to exit"))
            else:
                need_symbol(op.symbol, f"{p}.symbol")
        elif op.symbol is not None:
            out.append((f"{p}.symbol", f"only flatten takes a symbol, not {op.action!r}"))

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


def warnings(s: Scenario) -> list[tuple[str, str]]:
    """What is legal but probably not meant, as located ``(key.path, note)`` pairs: the
    file runs, and ``check`` and ``run`` print these on stderr."""
    return [(f"market.{inst.symbol}", f"instrument {inst.symbol!r} has no market: entry, so "
             "it never quotes and nothing can trade it")
            for inst in s.instruments if inst.symbol not in s.market]


def _check_matcher(m: dict[str, Any], path: str, *, counts: bool,
                   declared: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if not isinstance(m.get("type"), str):
        out.append((f"{path}.type", "required: the event type to match"))
    window: dict[str, int] = {}
    for key in ("after", "before"):
        if key in m:
            try:
                window[key] = parse_duration(m[key])
            except UnitError as exc:
                out.append((f"{path}.{key}", str(exc)))
    if len(window) == 2 and window["after"] >= window["before"]:
        out.append((f"{path}.before", f"empty time window: after {m['after']} is not earlier "
                                      f"than before {m['before']} (nothing can match)"))
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
    out.extend(matcher_problems(m, path, MATCHER_KEYS))
    return out


def _either(words: tuple[str, ...]) -> str:
    """``a, b or c``: the choices in an error message."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
