"""Timelines of what went wrong or was refused: the events a trader must not miss.

A run can end ``OK`` with a stale-data kill switch in the middle and a refused entry
after it; the trade list shows neither. These rows do: every kill switch fired and
reset (with its reason and action), every refused signal or entry (a ``signal`` with
``accepted: false``, ``risk_rejected``, ``news_rejected``, ``entry_dropped``), venue
disconnects and reconnects, stale and resumed feeds, and invariant violations.

A refused signal is journaled twice when the risk check refused it (the ``signal``
and the ``risk_rejected`` that says why, at the same instant). Both are listed, but a
refusal is one intent: the counts count it once, by the signal and its reason, as the
run summary does; a ``risk_rejected`` with no refused signal beside it (and every
``entry_dropped`` and ``news_rejected``) is counted under its own event.
"""
from __future__ import annotations

import enum
from collections import Counter
from typing import Any, Iterable

import attrs


class Kind(enum.Enum):
    KILL_SWITCH = "kill switch"
    REFUSED = "refused"
    VENUE = "venue"
    FEED = "feed"
    INVARIANT = "invariant"


_KIND_OF = {
    "kill_switch": Kind.KILL_SWITCH, "kill_switch_reset": Kind.KILL_SWITCH,
    "risk_rejected": Kind.REFUSED, "news_rejected": Kind.REFUSED,
    "entry_dropped": Kind.REFUSED,
    "venue_disconnected": Kind.VENUE, "venue_reconnected": Kind.VENUE,
    "feed_stale": Kind.FEED, "feed_resumed": Kind.FEED,
    "invariant_violated": Kind.INVARIANT,
}


@attrs.define(frozen=True)
class Row:
    ts_ns: int
    kind: Kind
    event: str  # the journal event type
    symbol: str | None
    what: str  # reason / action / detail, for a person

    def as_json(self) -> dict[str, Any]:
        return {"ts_ns": self.ts_ns, "kind": self.kind.value, "event": self.event,
                "symbol": self.symbol, "what": self.what}


def _what(e: dict[str, Any]) -> str:
    t = e["type"]
    if t == "kill_switch":
        return f"fired: {e.get('reason')} -> {e.get('action')}"
    if t == "kill_switch_reset":
        return f"reset by {e.get('by', '?')} (was {e.get('was', '?')})"
    if t == "signal":
        return f"{e.get('side')} refused: {e.get('reason')}"
    if t == "entry_dropped":
        return f"{e.get('side')} {e.get('qty')} dropped: {e.get('reason')}"
    if t == "invariant_violated":
        return f"{e.get('invariant')}: {e.get('detail')}"
    if t in ("risk_rejected", "news_rejected"):
        return str(e.get("reason"))
    return t.replace("_", " ")


def timeline(events: Iterable[dict[str, Any]]) -> list[Row]:
    rows = []
    for e in events:
        t = e["type"]
        kind = _KIND_OF.get(t)
        if t == "signal" and e.get("accepted") is False:
            kind = Kind.REFUSED
        if kind is None:
            continue
        sym = e.get("symbol")
        rows.append(Row(e["ts_ns"], kind, t, sym if isinstance(sym, str) else None, _what(e)))
    return rows


def _refusals(rows: Iterable[Row]) -> list[tuple[str, str]]:
    """Each refusal once, as ``(event, reason)``: a ``risk_rejected`` that says why the
    signal journaled at the same instant for the same symbol was refused is that one."""
    out: list[tuple[str, str]] = []
    signals: set[tuple[int, str | None, str]] = set()
    for r in rows:
        if r.kind is not Kind.REFUSED:
            continue
        reason = r.what.split(": ", 1)[1] if r.event in ("signal", "entry_dropped") \
            and ": " in r.what else r.what
        if r.event == "signal":
            signals.add((r.ts_ns, r.symbol, reason))
        elif r.event == "risk_rejected" and (r.ts_ns, r.symbol, reason) in signals:
            continue  # the same intent, already counted by its signal
        out.append((r.event, reason))
    return out


def refused_by_reason(rows: Iterable[Row]) -> dict[str, int]:
    """``{"signal: kill switch: stale_data": 1, ...}``, most frequent first."""
    c = Counter(f"{event}: {reason}" for event, reason in _refusals(rows))
    return dict(c.most_common())


def signals_refused(rows: Iterable[Row]) -> int:
    """How many signals were refused (what the run summary's ``signals refused`` counts)."""
    return sum(1 for event, _ in _refusals(rows) if event == "signal")


def kill_switch_counts(rows: Iterable[Row]) -> dict[str, int]:
    c = Counter(r.event for r in rows if r.kind is Kind.KILL_SWITCH)
    return {"fired": c.get("kill_switch", 0), "reset": c.get("kill_switch_reset", 0)}
