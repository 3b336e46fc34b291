"""Live decisions against replayed ones: aligned, judged, the first divergence explained.

The two lists are aligned on their keys (``difflib``: a decision only one side made
shows as a gap on the other), and an aligned pair whose times differ by more than the
tolerance is a divergence too (the same exit, a check later, is another decision).
The explanation looks at what the kernel was told before the first divergence, in the
order a person would check it: a config or strategy file that is not the one recorded,
an order the live kernel never sent (execution mode), a fill at another price, size or
time, a report that came late; if none of these, the kernel itself decided otherwise.
"""
from __future__ import annotations

import difflib
from typing import Any, Sequence

import attrs

from ..kernel.units import NS_PER_S
from .decisions import Decision


@attrs.frozen
class Row:
    live: Decision | None
    replay: Decision | None
    same: bool


@attrs.define
class DecisionDiff:
    rows: list[Row]
    first: int | None  # index of the first divergent row
    explanation: list[str] = attrs.Factory(list)

    @property
    def matches(self) -> bool:
        return self.first is None


def secs(ns: int) -> str:
    return f"{ns / NS_PER_S:.3f}s"


def align(live: Sequence[Decision], replay: Sequence[Decision], tolerance_ns: int
          ) -> DecisionDiff:
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=[d.key for d in live], b=[d.key for d in replay],
                                      autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(live[i1:i2], replay[j1:j2]):
                rows.append(Row(a, b, abs(a.t - b.t) <= tolerance_ns))
            continue
        n = max(i2 - i1, j2 - j1)
        for k in range(n):
            a = live[i1 + k] if i1 + k < i2 else None
            b = replay[j1 + k] if j1 + k < j2 else None
            rows.append(Row(a, b, False))
    first = next((i for i, r in enumerate(rows) if not r.same), None)
    return DecisionDiff(rows, first)


def render(diff: DecisionDiff, title: str) -> list[str]:
    out = [title, f"{'':2}{'t live':>10} {'t replay':>10}  {'live':<52} replay"]
    for i, r in enumerate(diff.rows):
        mark = "=" if r.same else ("!" if i == diff.first else "x")
        tl = secs(r.live.t) if r.live else "-"
        tr = secs(r.replay.t) if r.replay else "-"
        left = r.live.text if r.live else "(none)"
        right = r.replay.text if r.replay else "(none)"
        if r.same and r.live and r.replay and left == right:
            right = "same"
        out.append(f"{mark:2}{tl:>10} {tr:>10}  {left:<52} {right}")
    if diff.first is None:
        out.append(f"decisions match: {len(diff.rows)} of {len(diff.rows)}")
    else:
        r = diff.rows[diff.first]
        t = min(d.t for d in (r.live, r.replay) if d is not None)
        out.append(f"first divergence at t={secs(t)} (row {diff.first + 1} of {len(diff.rows)}):")
        out.extend(f"  {line}" for line in diff.explanation)
    return out


def _fills(events: list[dict[str, Any]], start_ns: int, until: int) -> list[tuple[Any, ...]]:
    return [(e["ts_ns"] - start_ns, e["order_id"], e["role"], e["side"], e["qty"], e["price"])
            for e in events if e["type"] == "fill" and e["ts_ns"] - start_ns <= until]


def explain(diff: DecisionDiff, live_events: list[dict[str, Any]], live_start: int,
            replay_events: list[dict[str, Any]], changes: Sequence[str],
            unsent: Sequence[str], tolerance_ns: int, inherited: Sequence[str] = ()
            ) -> list[str]:
    """Why the first divergence happened, most telling cause first."""
    assert diff.first is not None
    r = diff.rows[diff.first]
    out: list[str] = []
    if r.live is not None and r.replay is not None:
        out.append(f"live: {r.live} at {secs(r.live.t)}; replay: {r.replay} at {secs(r.replay.t)}"
                   + ("" if r.live.key != r.replay.key else
                      f" (the same decision, {secs(abs(r.live.t - r.replay.t))} apart: more "
                      f"than the tolerance of {secs(tolerance_ns)})"))
    elif r.live is not None:
        out.append(f"live: {r.live} at {secs(r.live.t)}; the replayed kernel did not")
    elif r.replay is not None:
        out.append(f"replay: {r.replay} at {secs(r.replay.t)}; the live kernel did not")
    causes = [f"changed since the recording: {c}" for c in changes]
    causes += [f"state the replay does not have: {c}" for c in inherited]
    causes += [f"execution replay: {u}" for u in unsent]
    t = min(d.t for d in (r.live, r.replay) if d is not None)
    fl = _fills(live_events, live_start, t + tolerance_ns)
    fr = _fills(replay_events, 0, t + tolerance_ns)
    for a, b in zip(fl, fr):
        if a[1:] != b[1:]:
            causes.append(f"a fill the simulator gave otherwise: live {a[1]} {a[2]} {a[3]} "
                          f"{a[4]} @ {a[5]} at {secs(a[0])}, replay {b[1]} {b[2]} {b[3]} {b[4]} "
                          f"@ {b[5]} at {secs(b[0])}")
            break
        if abs(a[0] - b[0]) > tolerance_ns:
            causes.append(f"a fill at another time: {a[1]} {a[2]} {a[4]} @ {a[5]} filled at "
                          f"{secs(a[0])} live, at {secs(b[0])} in the replay")
            break
    else:
        if len(fl) != len(fr):
            extra, side = (fl[len(fr)], "live") if len(fl) > len(fr) else (fr[len(fl)], "replay")
            causes.append(f"a fill only the {side} run had before it: {extra[1]} {extra[2]} "
                          f"{extra[3]} {extra[4]} @ {extra[5]} at {secs(extra[0])}")
    late = [e for e in live_events if e["type"] == "report_late"
            and e["ts_ns"] - live_start <= t + tolerance_ns]
    if late:
        e = late[0]
        causes.append(f"a report that came late live: {e['kind']} for {e['order_id']} at "
                      f"{secs(e['ts_ns'] - live_start)}, after it had reached {e['state']}")
    if not causes:
        causes.append("nothing the kernel was told differs before it (same quotes, signals, "
                      "config, strategy files and fills): the kernel decided otherwise")
    return out + ["cause: " + c for c in causes]
