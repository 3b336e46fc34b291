"""The ``expect:`` block: matching journal events and final state against a scenario."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from ..kernel.units import fmt_duration, fmt_units, parse_duration
from .invariants_text import as_decimal
from .scenario import Scenario
from .scenario_rules import MATCHER_KEYS


@attrs.frozen
class Check:
    name: str
    ok: bool
    detail: str


def matches(ev: dict[str, Any], m: dict[str, Any]) -> bool:
    if ev.get("type") != m.get("type"):
        return False
    ts = ev.get("ts_ns", 0)
    if "after" in m and ts < parse_duration(m["after"]):
        return False
    if "before" in m and ts >= parse_duration(m["before"]):
        return False
    for key, want in m.items():
        if key == "type" or key in MATCHER_KEYS:
            continue
        if key not in ev:
            return False
        have = ev[key]
        if isinstance(want, bool) or isinstance(have, bool):
            if want != have:
                return False
            continue
        if str(want) == str(have):
            continue
        dw, dh = as_decimal(want), as_decimal(have)
        if dw is None or dh is None or dw != dh:
            return False
    return True


def describe(m: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in m.items()) + "}"


def check(scn: Scenario, events: list[dict[str, Any]], final_positions: dict[str, int],
          realized: dict[str, Any], max_positions: dict[str, int]) -> list[Check]:
    e = scn.expect
    out: list[Check] = []
    for sym, want in e.final_position.items():
        have = final_positions.get(sym, 0)
        out.append(Check(f"final_position {sym} == {want}", have == want, f"was {have}"))
    for sym, cap in e.max_position.items():
        have = max_positions.get(sym, 0)
        out.append(Check(f"max_position {sym} <= {cap}", have <= cap, f"peaked at {have}"))
    for sym, bound in e.realized_pnl.items():
        have = Decimal(fmt_units(realized.get(sym, 0)))
        ok = True
        parts = []
        if bound.min is not None:
            lo = Decimal(fmt_units(bound.min))
            ok &= have >= lo
            parts.append(f">= {lo}")
        if bound.max is not None:
            hi = Decimal(fmt_units(bound.max))
            ok &= have <= hi
            parts.append(f"<= {hi}")
        out.append(Check(f"realized_pnl {sym} {' and '.join(parts)}", ok, f"was {have}"))
    for m in e.events:
        n = sum(1 for ev in events if matches(ev, m))
        out.append(Check(f"event {describe(m)}", n > 0, f"matched {n}"))
    for m in e.no_events:
        hits = [ev for ev in events if matches(ev, m)]
        detail = f"matched {len(hits)}"
        if hits:
            detail += f", first at {fmt_duration(hits[0]['ts_ns'])}"
        out.append(Check(f"no event {describe(m)}", not hits, detail))
    for m in e.counts:
        spec = {k: v for k, v in m.items() if k not in ("min", "max")}
        n = sum(1 for ev in events if matches(ev, spec))
        ok = ("min" not in m or n >= m["min"]) and ("max" not in m or n <= m["max"])
        bounds = " ".join(f"{k} {m[k]}" for k in ("min", "max") if k in m)
        out.append(Check(f"count {describe(spec)} {bounds}", ok, f"counted {n}"))
    return out
