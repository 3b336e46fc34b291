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

Session and entry rules in time (``invariants_rules.py``, only when the scenario sets
``config.session``, ``stop_loss_cooldown``, ``trade_threshold`` or the clip):

``no_entry_outside_session`` / ``no_entry_during_cooldown``
    No accepted entry signal and no ENTRY order when the session refuses entries, or
    within ``stop_loss_cooldown`` of a stop-loss exit leaving the ticker flat.
``no_add_after_trade_threshold``
    No accepted entry signal adding to a trade ``trade_threshold`` or more after it opened.
``clip_after_activation`` / ``session_end_at_flatten``
    A ``clip`` exit only once the trade's clip was armed at ``clip_activation``; a
    ``session_end`` exit only at a ``flatten_at`` moment.

Adopted positions (``position_adopted``) count like fills in exposure, position ==
fills and the P&L replay; adopted orders (``order_adopted``) count as working.

``liveness`` (the runner's watchdog: a livelock) is reported by the runner.

Portfolio and bad data (``invariants_portfolio.py``): ``open_positions``,
``committed_cash`` and ``quote_rejected_unchanged``.

Vocabulary:

``journal_catalogue``
    Every event is one ``kernel/events.py`` describes: a known type, its required
    fields, no field it does not list, each of its kind. The checks above, the
    ``expect:`` matchers and the docs all read fields by those names; an event that
    drifted from the catalogue would make them look at nothing.

This file is the catalogue and the per-event checker. Its cold parts live beside it:
``invariants_liveness.py`` (``RunFacts``: the scenario's latencies and healthy time,
and the ``order_terminal`` judgement at shutdown), ``invariants_restart.py`` (restart,
adoption and start-up reconciliation events), ``invariants_text.py`` (the journal's
words and the formatting of details).
"""
from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

from ..kernel.events import event_problems
from ..kernel.journal import Journal
from ..kernel.units import NS_PER_S
from .idset import IdSet
from .invariants_liveness import RunFacts, on_shutdown
from .invariants_rules import RulesWatch
from .invariants_portfolio import PortfolioChecks
from .invariants_restart import on_adopted_order, on_adopted_position, on_restarted, on_start_reconciled
from .invariants_text import BUY, CLOSE_ALL, ENTRY, as_text, money, oid_key, secs
from .invariants_text import text_units as to_units

if TYPE_CHECKING:
    from .scenario import Scenario

_NEVER = 2**63  # a time after every run's end
CapFn = Callable[[str], tuple[int, int]]  # symbol -> (cap now, highest cap any tier allows)


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
        # exact: ints while every division was exact, Fractions once one was not (as
        # kernel/positions.py keeps them; the same numbers, a fraction of the cost)
        self.cost: dict[str, int | Fraction] = {}
        self.realized: dict[str, int | Fraction] = {}
        self.realized_total: int | Fraction = 0
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
        self._order_ids = IdSet()  # membership only; runs of numbers: memory stays flat
        self._last_oid = 0  # the highest order id number sent
        self._restarting = False
        self._adopted_since_restart: set[str] = set()  # membership only
        # exit liveness: symbol -> (since, deadline)
        self._exiting: dict[str, tuple[int, int]] = {}
        # no deadline in _exiting is earlier (a bound, may be stale-early): an event
        # before it needs no look at each exiting ticker (1 000 tickers: every event)
        self._exit_due = _NEVER
        self.rules_watch = RulesWatch.build(scenario)  # None unless the scenario uses them
        self.portfolio = PortfolioChecks(scenario)  # invariants_portfolio.py

    # ------------------------------------------------------------ dispatch

    def _on_fee(self, sym: str, units: int) -> None:
        """A fee is paid in cash, and realized P&L is net of it."""
        self.cash[sym] -= units
        self.realized[sym] = self.realized.get(sym, 0) - units
        self.realized_total -= units

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
        if self.rules_watch is not None:
            self.rules_watch(self, ev)
        handler = _DISPATCH.get(t)
        if handler is not None:
            handler(self, ev)
        self.portfolio.on_event(ev, self.position, self.orders, self._violate)

    # the event types the dispatch table sends to a handler of their own (below)

    def _on_fee_reported(self, ev: dict[str, Any]) -> None:
        # the broker's commission replaces the model's
        self._on_fee(ev["symbol"], to_units(ev["fee"]) - to_units(ev["model_fee"]))

    def _on_order_ended(self, ev: dict[str, Any]) -> None:
        self._done(ev["order_id"], ev["ts_ns"])

    def _on_reconciled(self, ev: dict[str, Any]) -> None:
        if ev.get("when") == "start":
            on_start_reconciled(self, ev)

    def _on_kill_switch(self, ev: dict[str, Any]) -> None:
        if ev.get("action") == CLOSE_ALL:
            self.close_all = True
        elif self.halted_by is None:
            self.halted_by = f"kill switch {ev.get('reason')} ({ev.get('action')})"

    def _on_kill_switch_reset(self, ev: dict[str, Any]) -> None:
        self.close_all = False
        self.halted_by = None
        self.loss_breached = False

    def _on_disconnected(self, ev: dict[str, Any]) -> None:
        self.connected = False

    def _on_reconnected(self, ev: dict[str, Any]) -> None:
        self.connected = True

    def _on_exit_started(self, ev: dict[str, Any]) -> None:
        sym = ev["symbol"]
        if self.position.get(sym, 0) and sym not in self._exiting:
            self._start_exiting(sym, ev["ts_ns"])

    # ------------------------------------------------------------ orders

    def _on_submitted(self, ev: dict[str, Any]) -> None:
        oid = ev["order_id"]
        sym = ev["symbol"]
        role = as_text(ev["role"])
        qty = int(ev["qty"])
        if oid in self._order_ids:
            self._violate(ev, "order_id_unique",
                          f"order id {oid} was sent before: an id is never sent twice "
                          "(one intent, one order)")
        self._order_ids.add(oid)
        self._last_oid = max(self._last_oid, oid_key(oid)[0])
        if role == ENTRY and self._restarting:
            self._violate(ev, "no_entry_before_reconciliation",
                          f"entry {oid} for {sym} after a restart, before its reconciliation")
        if self._restarting:  # the new life's own order (an exit): not the dead one's
            self._adopted_since_restart.add(oid)
        self.orders[oid] = {"symbol": sym, "role": role, "side": as_text(ev["side"]),
                            "qty": qty, "filled": 0, "live": True, "ts": ev["ts_ns"]}
        if as_text(ev["order_type"]) == "STOP":  # a resting venue stop: good till cancelled
            self.orders[oid]["gtc"] = True
        if not self.connected:
            self._not_sent = oid
        self._sends.append(ev["ts_ns"])
        if role == ENTRY:
            if self.close_all:
                self._violate(ev, "no_entry_after_close_all",
                              f"entry {oid} for {sym} after a close_all kill switch")
            elif self.halted_by is not None:
                self._violate(ev, "no_entry_after_kill_switch",
                              f"entry {oid} for {sym} after {self.halted_by}")
            elif self.loss_breached:
                self._violate(ev, "no_entry_after_kill_switch",
                              f"entry {oid} for {sym} after realized P&L "
                              f"{money(self.realized_total)} reached -max_loss_cumulative")
            self.working_entry[sym] = self.working_entry.get(sym, 0) + qty
            self._check_exposure(ev, sym)
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
        sign = 1 if o["side"] == BUY else -1
        before = self.position.get(sym, 0)
        after = before + sign * qty
        self.position[sym] = after
        self._account(sym, sign * qty, to_units(ev["price"]))
        fee = ev.get("fee")
        if fee is not None:
            self._on_fee(sym, to_units(fee))
        absq = abs(after)
        if absq > self.max_abs_position.get(sym, 0):
            self.max_abs_position[sym] = absq
        if o["role"] == ENTRY:
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
        if o["role"] == ENTRY:
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
                              f"{sym} entry {oid} filled at {secs(at_exchange)} although the "
                              f"cap was reached at {secs(due)} (cancel due by {secs(deadline)})")
                self._cancel_due.pop(oid, None)
        pos = abs(self.position.get(sym, 0))
        cap = self.cap_for(sym)[0]
        working = self.working_entry.get(sym, 0)
        if pos >= cap or pos + working > cap:
            for other, o in self.orders.items():
                if o["symbol"] == sym and o["role"] == ENTRY and o["live"] and (
                        other != oid or o["filled"] < o["qty"]):
                    self._cancel_due.setdefault(other, ts)

    # ------------------------------------------------------------ positions and P&L

    def _account(self, sym: str, signed: int, px: int) -> None:
        """Average-cost replay of one fill (the same convention as the kernel)."""
        self.cash[sym] = self.cash.get(sym, 0) - signed * px
        pos = self.position[sym] - signed  # before this fill
        cost = self.cost.get(sym, 0)
        if pos == 0 or (pos > 0) == (signed > 0):
            self.cost[sym] = cost + signed * px
            return
        closing = min(abs(signed), abs(pos))
        avg = _div(cost, pos)
        direction = 1 if pos > 0 else -1
        realized = direction * closing * (px - avg)
        self.realized[sym] = self.realized.get(sym, 0) + realized
        self.realized_total += realized
        rest = abs(signed) - closing
        if pos + signed == 0:
            self.cost[sym] = 0
        elif rest:
            self.cost[sym] = (1 if signed > 0 else -1) * rest * px
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
                          f"{sym}: cash flow {money(cash)} + {qty} x avg {ev['avg_price']} "
                          f"!= realized {ev['realized_pnl']}")
        elif 2 * abs(self.realized.get(sym, 0) - realized) > 2:
            self._violate(ev, "pnl_identity",
                          f"{sym}: realized {ev['realized_pnl']} but the fills' average-cost "
                          f"realized P&L is {money(self.realized.get(sym, 0))}")
        limit = self.facts.max_loss_cumulative if self.facts is not None else None
        if limit is not None and not self.loss_breached and self.realized_total <= -limit:
            self.loss_breached = True

    # ------------------------------------------------------------ liveness

    def _start_exiting(self, sym: str, since: int) -> None:
        if self.facts is None:
            return
        f = self.facts
        deadline = f.healthy_deadline(sym, since, f.exit_bound)
        self._exiting[sym] = (since, deadline)
        if deadline < self._exit_due:
            self._exit_due = deadline

    def _check_exit_deadlines(self, ev: dict[str, Any], now: int) -> None:
        if now <= self._exit_due:
            return
        for sym, (since, deadline) in list(self._exiting.items()):
            if now > deadline:
                del self._exiting[sym]
                self._violate(ev, "exit_liveness",
                              f"{sym} still {self.position.get(sym, 0)} at {secs(now)}: no "
                              f"progress since {secs(since)} though the venue was healthy "
                              f"long enough to exit by {secs(deadline)}")
        self._exit_due = min((d for _, d in self._exiting.values()), default=_NEVER)

    # ------------------------------------------------------------ reporting

    def _violate(self, ev: dict[str, Any], name: str, detail: str) -> None:
        v = {"invariant": name, "detail": detail}
        self.violations.append(v)
        self.journal.emit(ev["ts_ns"], "invariant_violated", **v)




def _div(num: int | Fraction, den: int) -> int | Fraction:
    """num / den exactly: an int when it divides, else a Fraction."""
    if type(num) is int and num % den == 0:
        return num // den
    return Fraction(num) / den


_Handler = Callable[[InvariantChecker, dict[str, Any]], None]
# event type -> what the checker does with it, after the checks every event gets: one
# dict lookup per event instead of a chain of string comparisons
_DISPATCH: dict[str, _Handler] = {
    "order_submitted": InvariantChecker._on_submitted,
    "fill": InvariantChecker._on_fill,
    "fee_reported": InvariantChecker._on_fee_reported,
    "order_cancelled": InvariantChecker._on_order_ended,
    "order_rejected": InvariantChecker._on_order_ended,
    "order_expired": InvariantChecker._on_order_ended,
    "position_changed": InvariantChecker._on_position,
    "restarted": on_restarted,
    "reconciled": InvariantChecker._on_reconciled,
    "position_adopted": on_adopted_position,
    "order_adopted": on_adopted_order,
    "kill_switch": InvariantChecker._on_kill_switch,
    "kill_switch_reset": InvariantChecker._on_kill_switch_reset,
    "venue_disconnected": InvariantChecker._on_disconnected,
    "venue_reconnected": InvariantChecker._on_reconnected,
    "exit_triggered": InvariantChecker._on_exit_started,
    "emergency_started": InvariantChecker._on_exit_started,
    "shutdown": on_shutdown,
}


def live_checker(journal: Journal, cap_for: CapFn) -> InvariantChecker:
    """The checker of a live run: every invariant that needs no scenario (the
    liveness bounds need its fault windows and latencies, so they stay off)."""
    return InvariantChecker(journal, cap_for)
