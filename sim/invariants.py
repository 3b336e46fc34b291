"""Safety and liveness invariants, checked on every journal event as it is written.

The checker rebuilds the world from the journal alone (orders, fills, positions,
cash) and does not trust the kernel's own bookkeeping: a kernel bug that corrupts its
state would otherwise also corrupt the check. A violation is journaled as
``invariant_violated`` at the moment it is detected, so it is part of the digest.

Safety (each name is what ``invariant_violated.invariant`` says):

``exposure_cap``
    An entry is never sent while filled + working entries would exceed the cap in
    force (checked at ``order_submitted``); a fill never takes the position above the
    highest cap any tier allows; and once an entry fill reaches the cap in force
    (filled >= cap, or filled + working > cap: the cap can shrink under working
    entries with tiered sizing) the entries then working must be cancelled: none of
    them may fill at the exchange later than a cancel could have arrived (order
    latency + a conservative bound on the max_order_rate wait, extended over
    disconnects; reports replayed at a reconnect are not judged). Fills already in
    flight are allowed; fills the kernel could have prevented are not.
``single_working_exit``
    Per ticker, at most one exit order (any non-ENTRY role) is working at a time.
``fill_known_order`` / ``no_overfill``
    Every fill names an order the kernel submitted, and never fills it beyond its qty.
``position_equals_fills``
    ``position_changed.qty`` equals the signed sum of the ticker's fills.
``pnl_identity``
    cash + marked positions == start cash + realized + unrealized, realized being net of
    fees. The cash is the checker's own: the fills' cash flows, less their fees. The mark
    cancels out of both sides (unrealized = qty * (mark - avg)), so it is checked in
    the mark-free form ``cash_flow + qty * avg_price == realized_pnl`` per ticker on
    every ``position_changed``, within the rounding of the journaled text (half a unit
    of 1e-8 per share and on realized). The kernel's realized P&L must also equal the
    checker's own average-cost replay of the fills (same tolerance).
``no_entry_after_close_all``
    No ENTRY order after a ``close_all`` kill switch until ``kill_switch_reset``.
``no_entry_after_kill_switch``
    No ENTRY order after any other kill switch (stop_new_trades, cancel_all: disconnect,
    stale data, error count, reconciliation, operator) or after the realized P&L of
    the run reached ``-max_loss_cumulative`` (recomputed here from the fills, not taken
    from the kernel's journal), until ``kill_switch_reset``.
``no_order_while_disconnected``
    Between ``venue_disconnected`` and ``venue_reconnected`` no order reaches the venue.
    The kernel may journal ``order_submitted`` (the intent) but the very next event
    must be its ``order_rejected`` with reason ``not sent: ...``: anything else (an
    ack, a fill, another event first) means it was handed to a dead session.

Liveness (need the scenario: fault windows, halts, latencies, TTLs):

``exit_liveness``
    Once an exit is triggered (``exit_triggered`` or ``emergency_started`` with a
    position open), the position must make progress (a fill that reduces it) or be
    flat within a bound B of *healthy* time: time with no disconnect, no ``no_fill``,
    no reject window that covers EMERGENCY_EXIT orders, no halt of that ticker, and
    liquidity to count on (a quote showing less than the largest cap, held longer
    than one retry interval, may be used up: that stretch is not healthy).
    B = exit_order_ttl + EXIT_ATTEMPTS * 2 * retry_interval + 2 * (order + report +
    data latency) + 2 s. (Each emergency attempt takes at most two retry intervals:
    waiting out the cancel of the previous exit, then the new exit's life.) Checked
    on every event and at shutdown.
``order_terminal``
    Every order reaches a terminal state (filled, cancelled, rejected, expired) by its
    good-till-date expiry + order latency + report latency (reports held by a
    disconnect: at the reconnect). At shutdown an order still working whose due time
    is before the horizon is a violation; orders whose expiry is beyond the horizon
    are what the shutdown cancels (entries) or deliberately leaves working
    (``shutdown.exits_left_working``).

Restarts (a ``crash`` fault, a live ``--resume``):

``state_survives_restart``
    What a restarted kernel journals as restored (``restarted``) is what the journal
    says: the positions, the realized P&L (loss limits continue), a kill switch in
    force (a restart is not a reset), the order ids used.
``no_entry_before_reconciliation``
    After ``restarted``, no ENTRY order until the start-up ``reconciled``.
``order_id_unique``
    No order id is sent twice (nothing is sent twice for one intent).

Adopted positions (``position_adopted``) count like fills in exposure, position ==
fills and the P&L replay; adopted orders (``order_adopted``) count as working.

``liveness`` (the runner's watchdog: a livelock) is reported by the runner.

Vocabulary:

``journal_catalogue``
    Every event is one ``kernel/events.py`` describes: a known type, its required
    fields, no field it does not list, each of its kind. The checks above, the
    ``expect:`` matchers and the docs all read fields by those names; an event that
    drifted from the catalogue would make them look at nothing.
"""
from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

import attrs

from ..kernel.events import event_problems
from ..kernel.journal import Journal
from ..kernel.killswitch import KillAction
from ..kernel.orders import Role, Side
from ..kernel.units import NS_PER_S, fmt_duration, to_units

if TYPE_CHECKING:
    from .scenario import Scenario

CapFn = Callable[[str], tuple[int, int]]  # symbol -> (cap now, highest cap any tier allows)

EXIT_ATTEMPTS = 3  # emergency attempts the exit-liveness bound allows per unit of progress

Intervals = tuple[tuple[int, int], ...]

# the journal's words for what the checks look at (the checker reads text, not objects)
_ENTRY = Role.ENTRY.value
_EMERGENCY_EXIT = Role.EMERGENCY_EXIT.value
_BUY = Side.BUY.value
_CLOSE_ALL = KillAction.CLOSE_ALL.value


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
                  and f.role in (None, _EMERGENCY_EXIT)):
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


class InvariantChecker:
    def __init__(self, journal: Journal, cap_for: CapFn,
                 scenario: "Scenario | None" = None, facts: RunFacts | None = None) -> None:
        self.journal = journal
        self.cap_for = cap_for
        if facts is None and scenario is not None:
            facts = RunFacts.from_scenario(scenario)
        self.facts = facts
        # order_id -> {symbol, role, side, qty, filled, live, ts}; live orders only
        self.orders: dict[str, dict[str, Any]] = {}
        self.position: dict[str, int] = {}
        self.working_entry: dict[str, int] = {}
        self.working_exits: dict[str, set[str]] = {}
        self.close_all = False
        self.halted_by: str | None = None  # a kill switch (other than close_all) in force
        self.violations: list[dict[str, str]] = []
        self.max_abs_position: dict[str, int] = {}
        # P&L: the checker's own average-cost replay of the fills
        self.cash: dict[str, int] = {}  # per symbol, money units
        self.cost: dict[str, Fraction] = {}
        self.realized: dict[str, Fraction] = {}
        self.realized_total = Fraction(0)
        self.loss_breached = False
        # venue session, as journaled
        self.connected = True
        self._not_sent: str | None = None  # order submitted while disconnected
        # entries that must be cancelled: order_id -> time the cap was reached
        self._cancel_due: dict[str, int] = {}
        self._sends: deque[int] = deque(maxlen=1024)  # recent order_submitted times
        self._ends: deque[int] = deque(maxlen=1024)  # recent times an order ended
        # restarts: every order id ever sent (one intent, one order), and the state
        # between a restart and its reconciliation
        self._order_ids: set[str] = set()  # membership only, never iterated
        self._last_oid = 0  # the highest order id number sent
        self._restarting = False
        self._adopted_since_restart: set[str] = set()  # membership only
        # exit liveness: symbol -> (since, deadline)
        self._exiting: dict[str, tuple[int, int]] = {}

    # ------------------------------------------------------------ dispatch

    def __call__(self, ev: dict[str, Any]) -> None:
        t = ev["type"]
        if t == "invariant_violated":
            return
        for problem in event_problems(ev):
            self._violate(ev, "journal_catalogue", problem)
        if self._not_sent is not None:
            self._check_not_sent(ev)
        if self._exiting:
            self._check_exit_deadlines(ev, ev["ts_ns"])
        if t == "order_submitted":
            self._on_submitted(ev)
        elif t == "fill":
            self._on_fill(ev)
        elif t in ("order_cancelled", "order_rejected", "order_expired"):
            self._done(ev["order_id"], ev["ts_ns"])
        elif t == "position_changed":
            self._on_position(ev)
        elif t == "restarted":
            self._on_restarted(ev)
        elif t == "reconciled" and ev.get("when") == "start":
            self._on_start_reconciled(ev)
        elif t == "position_adopted":
            self._on_adopted_position(ev)
        elif t == "order_adopted":
            self._on_adopted_order(ev)
        elif t == "kill_switch":
            if ev.get("action") == _CLOSE_ALL:
                self.close_all = True
            elif self.halted_by is None:
                self.halted_by = f"kill switch {ev.get('reason')} ({ev.get('action')})"
        elif t == "kill_switch_reset":
            self.close_all = False
            self.halted_by = None
            self.loss_breached = False
        elif t == "venue_disconnected":
            self.connected = False
        elif t == "venue_reconnected":
            self.connected = True
        elif t in ("exit_triggered", "emergency_started"):
            sym = ev["symbol"]
            if self.position.get(sym, 0) and sym not in self._exiting:
                self._start_exiting(sym, ev["ts_ns"])
        elif t == "shutdown":
            self._on_shutdown(ev)

    # ------------------------------------------------------------ orders

    def _on_submitted(self, ev: dict[str, Any]) -> None:
        oid = ev["order_id"]
        sym = ev["symbol"]
        role = _s(ev["role"])
        qty = int(ev["qty"])
        if oid in self._order_ids:
            self._violate(ev, "order_id_unique",
                          f"order id {oid} was sent before: an id is never sent twice "
                          "(one intent, one order)")
        self._order_ids.add(oid)
        self._last_oid = max(self._last_oid, _oid_key(oid)[0])
        if role == _ENTRY and self._restarting:
            self._violate(ev, "no_entry_before_reconciliation",
                          f"entry {oid} for {sym} after a restart, before its reconciliation")
        self.orders[oid] = {"symbol": sym, "role": role, "side": _s(ev["side"]),
                            "qty": qty, "filled": 0, "live": True, "ts": ev["ts_ns"]}
        if not self.connected:
            self._not_sent = oid
        self._sends.append(ev["ts_ns"])
        if role == _ENTRY:
            if self.close_all:
                self._violate(ev, "no_entry_after_close_all",
                              f"entry {oid} for {sym} after a close_all kill switch")
            elif self.halted_by is not None:
                self._violate(ev, "no_entry_after_kill_switch",
                              f"entry {oid} for {sym} after {self.halted_by}")
            elif self.loss_breached:
                self._violate(ev, "no_entry_after_kill_switch",
                              f"entry {oid} for {sym} after realized P&L "
                              f"{_money(self.realized_total)} reached -max_loss_cumulative")
            self.working_entry[sym] = self.working_entry.get(sym, 0) + qty
            self._check_exposure(ev, sym)
        else:
            live = self.working_exits.setdefault(sym, set())
            live.add(oid)
            if len(live) > 1:
                self._violate(ev, "single_working_exit",
                              f"{sym} has {len(live)} working exits: {', '.join(sorted(live))}")

    def _on_adopted_position(self, ev: dict[str, Any]) -> None:
        """Shares booked from the venue's books: counted like a fill at the adopted
        price (exposure, position == fills and the P&L replay all include them). An
        adopted position may be above the cap: reducing it is the kernel's next act."""
        sym = ev["symbol"]
        signed = int(ev["qty"])
        self.position[sym] = self.position.get(sym, 0) + signed
        self._account(sym, signed, to_units(ev["avg_price"]))
        absq = abs(self.position[sym])
        if absq > self.max_abs_position.get(sym, 0):
            self.max_abs_position[sym] = absq
        if self.position[sym] != int(ev["position"]):
            self._violate(ev, "position_equals_fills",
                          f"{sym} adopted to {ev['position']}, fills and adoptions say "
                          f"{self.position[sym]}")

    def _on_restarted(self, ev: dict[str, Any]) -> None:
        """A restart continues from the earlier run's books. In the same journal (a
        simulated crash) the checker already knows them: what the kernel restored must
        be what the journal says (``state_survives_restart``). A live restart's new
        journal starts from the restored books, its kill switches and its realized P&L."""
        self._restarting = True
        self._adopted_since_restart = set()
        self.connected = True  # a fresh session (the old one died with the process)
        if self.orders or self.position or self.halted_by or self.close_all:
            self._check_restored(ev)
            return
        for sym, book in sorted(ev["books"].items()):
            qty, avg = int(book["qty"]), to_units(book["avg_price"])
            realized = Fraction(to_units(book["realized_pnl"]))
            self.position[sym] = qty
            self.cost[sym] = Fraction(qty * avg)
            self.cash[sym] = int(realized) - qty * avg
            self.realized[sym] = realized
            self.realized_total += realized
            if abs(qty) > self.max_abs_position.get(sym, 0):
                self.max_abs_position[sym] = abs(qty)
        self.realized_total = sum(self.realized.values(), Fraction(0))
        for what in ev["kill_switch"]:
            if what.endswith(f"({_CLOSE_ALL})"):
                self.close_all = True
            elif self.halted_by is None:
                self.halted_by = f"kill switch {what} (before the restart)"

    def _check_restored(self, ev: dict[str, Any]) -> None:
        problems = []
        if (self.halted_by is not None or self.close_all) and not ev["kill_switch"]:
            problems.append(f"a kill switch was in force ({self.halted_by or 'close_all'}) "
                            "and the restart dropped it")
        restored = to_units(ev["realized_pnl"])
        if 2 * abs(self.realized_total - restored) > 2 * max(1, len(self.realized)):
            problems.append(f"realized P&L {_money(self.realized_total)} restored as "
                            f"{ev['realized_pnl']}")
        books = ev["books"]
        for sym, qty in sorted(self.position.items()):
            got = int(books.get(sym, {}).get("qty", "0"))
            if got != qty:
                problems.append(f"{sym} position {qty} restored as {got}")
        if self._last_oid and _oid_key(ev["last_order_id"])[0] != self._last_oid:
            problems.append(f"order ids up to O{self._last_oid} were used and the restart "
                            f"says {ev['last_order_id'] or 'none'}")
        for p in problems:
            self._violate(ev, "state_survives_restart", p)
        # the restored cost is the journal's average, rounded to its text: continue the
        # replay from the same basis the kernel continues from
        for sym, book in ev["books"].items():
            qty = int(book["qty"])
            if qty and qty == self.position.get(sym, 0):
                avg = to_units(book["avg_price"])
                self.cost[sym] = Fraction(qty * avg)
                realized = self.realized.get(sym, Fraction(0))
                self.cash[sym] = int(to_units(book["realized_pnl"])) - qty * avg
                self.realized[sym] = Fraction(to_units(book["realized_pnl"]))
                self.realized_total += self.realized[sym] - realized

    def _on_start_reconciled(self, ev: dict[str, Any]) -> None:
        """The restart's reconciliation: orders the dead kernel had working that the new
        one did not adopt ended while it was dead (filled or cancelled: the position
        difference, if any, is adopted). Entries may go out from now on."""
        self._restarting = False
        for oid in [o for o, rec in self.orders.items()
                    if rec["live"] and o not in self._adopted_since_restart]:
            self._done(oid, ev["ts_ns"])

    def _on_adopted_order(self, ev: dict[str, Any]) -> None:
        oid, sym, role = ev["order_id"], ev["symbol"], _s(ev["role"])
        self._adopted_since_restart.add(oid)
        known = self.orders.get(oid)
        if known is not None:
            # still working from before the crash: fills while the kernel was dead are
            # in the venue's filled count (and in the adopted position), not in fills
            gained = max(0, int(ev["filled"]) - known["filled"])
            known["filled"] += gained
            if known["role"] == _ENTRY and known["live"]:
                self.working_entry[sym] = self.working_entry.get(sym, 0) - gained
            return
        qty, filled = int(ev["qty"]), int(ev["filled"])
        self.orders[oid] = {"symbol": sym, "role": role, "side": _s(ev["side"]), "qty": qty,
                            "filled": filled, "live": True, "ts": ev["ts_ns"]}
        if role == _ENTRY:
            self.working_entry[sym] = self.working_entry.get(sym, 0) + qty - filled
        else:
            live = self.working_exits.setdefault(sym, set())
            live.add(oid)
            if len(live) > 1:
                self._violate(ev, "single_working_exit",
                              f"{sym} has {len(live)} working exits: {', '.join(sorted(live))}")

    def _check_not_sent(self, ev: dict[str, Any]) -> None:
        oid, self._not_sent = self._not_sent, None
        if (ev["type"] == "order_rejected" and ev.get("order_id") == oid
                and str(ev.get("reason", "")).startswith("not sent")):
            return
        self._violate(ev, "no_order_while_disconnected",
                      f"order {oid} submitted while the venue was disconnected was not "
                      f"refused before sending (next event: {ev['type']})")

    def _on_fill(self, ev: dict[str, Any]) -> None:
        oid = ev["order_id"]
        o = self.orders.get(oid)
        if o is None:
            self._violate(ev, "fill_known_order", f"fill for unknown order {oid}")
            return
        ts = ev["ts_ns"]
        qty = int(ev["qty"])
        o["filled"] += qty
        if o["filled"] > o["qty"]:
            self._violate(ev, "no_overfill", f"{oid} filled {o['filled']} of {o['qty']}")
        sym = o["symbol"]
        sign = 1 if o["side"] == _BUY else -1
        before = self.position.get(sym, 0)
        after = before + sign * qty
        self.position[sym] = after
        self._account(sym, sign * qty, to_units(ev["price"]))
        fee = ev.get("fee")
        if fee is not None:  # paid in cash, and realized P&L is net of it
            units = to_units(fee)
            self.cash[sym] -= units
            self.realized[sym] = self.realized.get(sym, Fraction(0)) - units
            self.realized_total -= units
        absq = abs(after)
        if absq > self.max_abs_position.get(sym, 0):
            self.max_abs_position[sym] = absq
        if o["role"] == _ENTRY:
            self.working_entry[sym] = self.working_entry.get(sym, 0) - qty
            self._entry_fill_cap(ev, oid, sym, ts)
        ceiling = self.cap_for(sym)[1]
        if absq > ceiling:
            self._violate(ev, "exposure_cap", f"{sym} position {absq} above cap {ceiling}")
        if o["filled"] >= o["qty"]:
            self._done(oid, ts)
        if sym in self._exiting:
            if after == 0:
                del self._exiting[sym]
            elif abs(after) < abs(before):  # progress: the bound starts again
                self._start_exiting(sym, ts)

    def _done(self, oid: str, ts: int) -> None:
        self._cancel_due.pop(oid, None)
        o = self.orders.pop(oid, None)  # forgotten once terminal: memory stays flat
        if o is None or not o["live"]:
            return
        self._ends.append(ts)
        o["live"] = False
        sym = o["symbol"]
        if o["role"] == _ENTRY:
            self.working_entry[sym] = self.working_entry.get(sym, 0) - (o["qty"] - o["filled"])
        else:
            self.working_exits.get(sym, set()).discard(oid)

    # ------------------------------------------------------------ exposure

    def _check_exposure(self, ev: dict[str, Any], sym: str) -> None:
        """Checked when an entry is sent: filled + working entries within today's cap."""
        exposure = abs(self.position.get(sym, 0)) + self.working_entry.get(sym, 0)
        cap = self.cap_for(sym)[0]
        if exposure > cap:
            self._violate(ev, "exposure_cap", f"{sym} exposure {exposure} above cap {cap}")

    def _pacing_bound(self, t: int) -> int:
        """How long max_order_rate pacing can delay an action requested at ``t``.

        Pacing waits only when the last second holds max_order_rate actions sent to
        the venue. Cancels are not journaled, so each order live in that second counts
        as a possible cancel (at most one per order reaches the venue; actions a dead
        session refuses use no budget), on top of the sends."""
        rate = self.facts.max_order_rate if self.facts is not None else 10
        since = t - NS_PER_S
        recent = sum(1 for s in self._sends if since < s <= t)
        ended = sum(1 for s in self._ends if since < s <= t)
        ahead = recent + len(self.orders) + ended + 1
        if ahead < rate:
            return 0
        return NS_PER_S * (ahead // rate + 1)

    def _entry_fill_cap(self, ev: dict[str, Any], oid: str, sym: str, ts: int) -> None:
        """The fill-time cap check: entries working when the cap was reached must not
        fill later than a cancel sent then could have reached the exchange."""
        facts = self.facts
        due = self._cancel_due.get(oid)
        if due is not None and facts is not None and self.connected:
            # a report held by a disconnect is replayed before venue_reconnected: its
            # exchange time is unknown, so only live reports are judged
            slack = facts.order_lat + self._pacing_bound(due)
            deadline = facts.after_disconnects(due + slack, slack)
            at_exchange = ts - facts.report_lat
            if at_exchange > deadline:
                self._violate(ev, "exposure_cap",
                              f"{sym} entry {oid} filled at {_secs(at_exchange)} although the "
                              f"cap was reached at {_secs(due)} (cancel due by {_secs(deadline)})")
                self._cancel_due.pop(oid, None)
        pos = abs(self.position.get(sym, 0))
        cap = self.cap_for(sym)[0]
        working = self.working_entry.get(sym, 0)
        if pos >= cap or pos + working > cap:
            for other, o in self.orders.items():
                if o["symbol"] == sym and o["role"] == _ENTRY and o["live"] and (
                        other != oid or o["filled"] < o["qty"]):
                    self._cancel_due.setdefault(other, ts)

    # ------------------------------------------------------------ positions and P&L

    def _account(self, sym: str, signed: int, px: int) -> None:
        """Average-cost replay of one fill (the same convention as the kernel)."""
        self.cash[sym] = self.cash.get(sym, 0) - signed * px
        pos = self.position[sym] - signed  # before this fill
        cost = self.cost.get(sym, Fraction(0))
        if pos == 0 or (pos > 0) == (signed > 0):
            self.cost[sym] = cost + signed * px
            return
        closing = min(abs(signed), abs(pos))
        avg = cost / pos
        direction = 1 if pos > 0 else -1
        realized = direction * closing * (px - avg)
        self.realized[sym] = self.realized.get(sym, Fraction(0)) + realized
        self.realized_total += realized
        rest = abs(signed) - closing
        if pos + signed == 0:
            self.cost[sym] = Fraction(0)
        elif rest:
            self.cost[sym] = Fraction((1 if signed > 0 else -1) * rest * px)
        else:
            self.cost[sym] = cost - direction * closing * avg

    def _on_position(self, ev: dict[str, Any]) -> None:
        sym = ev["symbol"]
        qty = int(ev["qty"])
        if qty != self.position.get(sym, 0):
            self._violate(ev, "position_equals_fills",
                          f"{sym} position {ev['qty']} but fills sum to "
                          f"{self.position.get(sym, 0)}")
        avg = to_units(ev["avg_price"])
        realized = to_units(ev["realized_pnl"])
        cash = self.cash.get(sym, 0)
        # |rounding| <= |qty| * 0.5 (avg) + 0.5 (realized), in units of 1e-8
        if 2 * abs(cash + qty * avg - realized) > abs(qty) + 2:
            self._violate(ev, "pnl_identity",
                          f"{sym}: cash flow {_money(cash)} + {qty} x avg {ev['avg_price']} "
                          f"!= realized {ev['realized_pnl']}")
        elif 2 * abs(self.realized.get(sym, Fraction(0)) - realized) > 2:
            self._violate(ev, "pnl_identity",
                          f"{sym}: realized {ev['realized_pnl']} but the fills' average-cost "
                          f"realized P&L is {_money(self.realized.get(sym, Fraction(0)))}")
        limit = self.facts.max_loss_cumulative if self.facts is not None else None
        if limit is not None and not self.loss_breached and self.realized_total <= -limit:
            self.loss_breached = True

    # ------------------------------------------------------------ liveness

    def _start_exiting(self, sym: str, since: int) -> None:
        if self.facts is None:
            return
        f = self.facts
        self._exiting[sym] = (since, f.healthy_deadline(sym, since, f.exit_bound))

    def _check_exit_deadlines(self, ev: dict[str, Any], now: int) -> None:
        for sym, (since, deadline) in list(self._exiting.items()):
            if now > deadline:
                del self._exiting[sym]
                self._violate(ev, "exit_liveness",
                              f"{sym} still {self.position.get(sym, 0)} at {_secs(now)}: no "
                              f"progress since {_secs(since)} though the venue was healthy "
                              f"long enough to exit by {_secs(deadline)}")

    def _on_shutdown(self, ev: dict[str, Any]) -> None:
        f = self.facts
        if f is None:
            return
        now = ev["ts_ns"]
        left = set(ev.get("exits_left_working") or ())
        for oid, o in sorted(self.orders.items(), key=lambda kv: _oid_key(kv[0])):
            if not o["live"]:
                continue
            ttl = f.entry_ttl if o["role"] == _ENTRY else max(f.exit_ttl, f.retry)
            due = f.after_disconnects(o["ts"] + ttl + f.order_lat + f.report_lat)
            if due < now:
                what = "left working by the shutdown" if oid in left else "still working"
                self._violate(ev, "order_terminal",
                              f"{o['role']} {oid} ({o['symbol']}) sent at {_secs(o['ts'])} is "
                              f"{what} at {_secs(now)}; it was due to end by {_secs(due)}")

    # ------------------------------------------------------------ reporting

    def _violate(self, ev: dict[str, Any], name: str, detail: str) -> None:
        v = {"invariant": name, "detail": detail}
        self.violations.append(v)
        self.journal.emit(ev["ts_ns"], "invariant_violated", **v)


def _oid_key(oid: str) -> tuple[int, str]:
    digits = "".join(c for c in oid if c.isdigit())
    return (int(digits) if digits else 0, oid)


def _secs(ns: int) -> str:
    return fmt_duration(ns)


def _money(units: Fraction | int) -> str:
    from ..kernel.units import fmt_units

    return fmt_units(units)


def _s(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def as_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except Exception:  # noqa: BLE001
        return None


def live_checker(journal: Journal, cap_for: CapFn) -> InvariantChecker:
    """The checker of a live run: every invariant that needs no scenario (the
    liveness bounds need its fault windows and latencies, so they stay off)."""
    return InvariantChecker(journal, cap_for)
