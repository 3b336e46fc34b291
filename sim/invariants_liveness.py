"""The world the liveness invariants are judged in, read from the scenario.

``exit_liveness`` and ``order_terminal`` (catalogued in ``sim/invariants.py``) bound how
long an exit or an order may take, and a bound is only fair in time the kernel could
have used: no disconnect or crash, no ``no_fill``, no reject window for emergency exits,
no halt, and a book with liquidity to count on. This module derives those windows and
latencies once per run (``RunFacts``) and judges, at shutdown, the orders still working;
the per-event deadline checks stay on the checker, in the hot path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ..kernel.units import NS_PER_S
from .invariants_text import EMERGENCY_EXIT, ENTRY, oid_key, secs

if TYPE_CHECKING:
    from .invariants import InvariantChecker
    from .scenario import Scenario

EXIT_ATTEMPTS = 3  # emergency attempts the exit-liveness bound allows per unit of progress

Intervals = tuple[tuple[int, int], ...]


def _merge(spans: list[tuple[int, int]]) -> Intervals:
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _stale_book(spec: Any, horizon: int, refresh: int, ceiling: int) -> list[tuple[int, int]]:
    """When a thin book may be used up: displayed size is consumed by fills and comes
    back only with the next quote, so a quote that is held longer than ``refresh`` (one
    emergency retry) and shows less than the largest position is no liquidity to
    count on. Such stretches are not healthy time for the exit-liveness bound."""
    out: list[tuple[int, int]] = []
    quotes: list[tuple[int, int]] = []  # (t, smaller displayed size) of each refresh
    for tk in spec.ticks:
        sizes = [spec.depth if x is None else x for x in (tk.bid_size, tk.ask_size)]
        quotes.append((tk.t, min(sizes)))
    quotes += [(t, spec.depth) for t, _ in spec.gaps]
    walk_from = None
    if spec.walk is not None:
        walk_from = spec.ticks[-1].t + spec.walk.every if spec.ticks else 0
        if spec.walk.every > refresh and spec.depth < ceiling:
            out.append((walk_from, horizon + 1))
    quotes.sort()
    for i, (t, size) in enumerate(quotes):
        if walk_from is not None and t >= walk_from:
            break
        nxt = quotes[i + 1][0] if i + 1 < len(quotes) else horizon + 1
        if walk_from is not None:
            nxt = min(nxt, walk_from)
        if nxt - t > refresh and size < ceiling:
            out.append((t + refresh, nxt))
    return out


@attrs.frozen
class RunFacts:
    """What the liveness invariants need to know about the world (from the scenario)."""

    horizon: int
    order_lat: int = 0
    report_lat: int = 0
    data_lat: int = 0
    entry_ttl: int = 5 * NS_PER_S
    exit_ttl: int = 10 * NS_PER_S
    retry: int = 10 * NS_PER_S
    max_order_rate: int = 10
    max_loss_cumulative: int | None = None
    disconnects: Intervals = ()
    blocked: dict[str, Intervals] = attrs.Factory(dict)  # per symbol: exits cannot fill
    blocked_all: Intervals = ()  # for symbols without market data (never traded)

    @classmethod
    def from_scenario(cls, scn: "Scenario") -> "RunFacts":
        from .scenario import market_path_specs

        lat = (0, 0, 0)
        disconnects: list[tuple[int, int]] = []
        common: list[tuple[int, int]] = []
        for f in scn.faults:
            if f.kind == "latency":
                lat = (f.order or 0, f.report or 0, f.data or 0)
            elif f.kind == "disconnect" and f.t is not None and f.for_ is not None:
                disconnects.append((f.t, f.t + f.for_))
                common.append((f.t, f.t + f.for_))
            elif f.kind == "crash" and f.t is not None and f.restart_after is not None:
                # a dead kernel can neither end an order nor exit: its downtime counts
                # like a disconnect for the bounds
                disconnects.append((f.t, f.t + f.restart_after))
                common.append((f.t, f.t + f.restart_after))
            elif f.kind == "no_fill" and f.t is not None and f.for_ is not None:
                common.append((f.t, f.t + f.for_))
            elif (f.kind == "reject" and f.t is not None and f.for_ is not None
                  and f.role in (None, EMERGENCY_EXIT)):
                common.append((f.t, f.t + f.for_))
        cfg = scn.config
        sizing = cfg.sizing
        ceiling = max([sizing.max_position_size] + [t.max_position_size for t in sizing.tier_list])
        retry = cfg.emergency.retry_interval
        blocked = {sym: _merge(common + list(spec.halts)
                               + _stale_book(spec, scn.duration, retry, ceiling))
                   for sym, spec in market_path_specs(scn).items()}
        return cls(
            horizon=scn.duration, order_lat=lat[0], report_lat=lat[1], data_lat=lat[2],
            entry_ttl=cfg.entries.entry_order_ttl, exit_ttl=cfg.exits.exit_order_ttl,
            retry=cfg.emergency.retry_interval, max_order_rate=cfg.risk.max_order_rate,
            max_loss_cumulative=cfg.risk.max_loss_cumulative,
            disconnects=_merge(disconnects), blocked=blocked, blocked_all=_merge(common),
        )

    @property
    def exit_bound(self) -> int:
        lat = self.order_lat + self.report_lat + self.data_lat
        return self.exit_ttl + EXIT_ATTEMPTS * 2 * self.retry + 2 * lat + 2 * NS_PER_S

    def healthy_deadline(self, sym: str, since: int, span: int) -> int:
        """The first T >= since with [T, T+span) free of blocked time, plus span."""
        t = since
        for a, b in self.blocked.get(sym, self.blocked_all):
            if b <= t:
                continue
            if a < t + span:
                t = b
                continue
            break
        return t + span

    def after_disconnects(self, t: int, slack: int = 0) -> int:
        """``t`` pushed past any disconnect covering it (then ``slack`` more)."""
        for a, b in self.disconnects:
            if a <= t < b:
                t = b + slack
        return t


def on_shutdown(c: InvariantChecker, ev: dict[str, Any]) -> None:
    f = c.facts
    if f is None:
        return
    now = ev["ts_ns"]
    left = set(ev.get("exits_left_working") or ())
    for oid, o in sorted(c.orders.items(), key=lambda kv: oid_key(kv[0])):
        if not o["live"] or o.get("gtc"):
            continue  # a resting venue stop stays at the broker on purpose
        ttl = f.entry_ttl if o["role"] == ENTRY else max(f.exit_ttl, f.retry)
        due = f.after_disconnects(o["ts"] + ttl + f.order_lat + f.report_lat)
        if due < now:
            what = "left working by the shutdown" if oid in left else "still working"
            c._violate(ev, "order_terminal",
                       f"{o['role']} {oid} ({o['symbol']}) sent at {secs(o['ts'])} is "
                       f"{what} at {secs(now)}; it was due to end by {secs(due)}")
