"""The live venue's behaviour, estimated from its recorded reports, as scenario faults.

The simulated venue knows one order latency (orders and cancels reach the exchange
that much later; the acknowledgement and a marketable fill come on arrival), a report
latency, reject windows per role, and partial fills against displayed size (which the
recorded quotes carry). So the estimate is: order latency = the median order -> ack
delay seen live (report latency 0: the ack's delay already holds both ways); each
order the venue rejected live becomes a reject window over its arrival; partial fills
are left to the recorded sizes. The distributions (p50/p90/max of order -> ack and
order -> first fill) are printed, so a person can see what the single number stands for.
"""
from __future__ import annotations

from typing import Any

import attrs

from ..kernel.units import NS_PER_S


@attrs.frozen
class Estimate:
    faults: list[dict[str, Any]]
    notes: list[str]
    order_latency_ns: int


def _quantile(xs: list[int], q: float) -> int:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def _dist(name: str, xs: list[int]) -> str:
    if not xs:
        return f"{name}: none recorded"
    ms = [x / (NS_PER_S / 1000) for x in xs]
    return (f"{name}: n={len(xs)} p50={_quantile(xs, .5) / 1e6:.2f}ms "
            f"p90={_quantile(xs, .9) / 1e6:.2f}ms max={max(ms):.2f}ms")


def estimate(events: list[dict[str, Any]], start_ns: int) -> Estimate:
    sent = {e["order_id"]: e for e in events if e["type"] == "order_submitted"}
    ack: dict[str, int] = {}
    fill: dict[str, int] = {}
    fills_per: dict[str, int] = {}
    rejected: list[dict[str, Any]] = []
    for e in events:
        if e["type"] != "exec_report" or e["order_id"] not in sent:
            continue
        delay = e["received_ns"] - sent[e["order_id"]]["ts_ns"]
        if e["kind"] == "ACCEPTED":
            ack.setdefault(e["order_id"], delay)
        elif e["kind"] == "FILL":
            fill.setdefault(e["order_id"], delay)
            fills_per[e["order_id"]] = fills_per.get(e["order_id"], 0) + 1
        elif e["kind"] == "REJECTED":
            rejected.append(sent[e["order_id"]])
    latency = _quantile(list(ack.values()), .5) if ack else 0
    faults: list[dict[str, Any]] = [{"kind": "latency", "order": f"{latency}ns", "report": "0ns"}]
    for o in rejected:
        faults.append({"kind": "reject", "t": f"{max(o['ts_ns'] - start_ns, 0)}ns",
                       "for": f"{latency + 1_000_000}ns", "role": o["role"]})
    partial = sorted(oid for oid, n in fills_per.items() if n > 1)
    notes = [_dist("order -> ack", list(ack.values())),
             _dist("order -> first fill", list(fill.values())),
             f"rejects: {len(rejected)}" + (" (as reject windows)" if rejected else ""),
             f"partially filled orders: {len(partial)}"
             + (f" ({', '.join(partial)}; the replay fills against the recorded sizes)"
                if partial else ""),
             f"estimated venue: order latency {latency / 1e6:.2f}ms (the median ack delay)"]
    return Estimate(faults, notes, latency)
