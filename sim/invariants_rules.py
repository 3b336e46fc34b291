"""The invariants of the session, cooldown, threshold and clip rules.

Part of the invariant checker (``sim/invariants.py``, which names them all): built
only when the scenario sets one of these keys, and fed every event. It keeps its own
record from the journal (stop-loss exits, positions, trade openings) rather than the
kernel's; the calendar is the one in ``kernel/risk/session.py``, placed on the clock
by the scenario's ``start`` as the kernel's is.

``no_entry_outside_session``
    No accepted entry signal and no ENTRY order sent when the session refuses entries.
``no_entry_during_cooldown``
    No accepted entry signal and no ENTRY order on a ticker within
    ``stop_loss_cooldown`` of a stop-loss exit leaving it flat.
``no_add_after_trade_threshold``
    No accepted entry signal adding to an open trade (same side) ``trade_threshold``
    or more after the trade opened (its first fill).
``clip_after_activation``
    A ``clip`` exit only in a trade whose clip was armed (``clip_armed``) at a P&L of
    at least ``clip_activation``.
``session_end_at_flatten``
    A ``session_end`` exit only at a ``flatten_at`` moment.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..kernel.risk.session import Calendar
from ..kernel.units import to_units
from .invariants_text import ENTRY, secs

if TYPE_CHECKING:
    from .invariants import InvariantChecker
    from .scenario import Scenario


class RulesWatch:
    @classmethod
    def build(cls, scenario: "Scenario | None") -> "RulesWatch | None":
        if scenario is None:
            return None
        cfg = scenario.config
        e, x = cfg.entries, cfg.exits
        if (cfg.session is None and e.stop_loss_cooldown is None and e.trade_threshold is None
                and x.clip_activation is None):
            return None
        return cls(scenario)

    def __init__(self, scenario: "Scenario") -> None:
        cfg = scenario.config
        s = cfg.session
        self.calendar: Calendar | None = None if s is None else Calendar.build(
            timezone=s.timezone, epoch_ns=scenario.start_unix_ns or 0, open=s.open,
            close=s.close, days=s.days, entry_delay=s.entry_delay,
            entry_cutoff=s.entry_cutoff, flatten_at=s.flatten_at)
        self.cooldown = cfg.entries.stop_loss_cooldown
        self.threshold = cfg.entries.trade_threshold
        self.activation = cfg.exits.clip_activation
        self.qty: dict[str, int] = {}
        self.opened: dict[str, int] = {}
        self.stopping: dict[str, bool] = {}
        self.stopped_flat: dict[str, int] = {}
        self.armed: dict[str, int] = {}  # the P&L the clip was armed at, this trade

    def __call__(self, c: "InvariantChecker", ev: dict[str, Any]) -> None:
        t = ev["type"]
        if t == "signal":
            if ev.get("accepted") is True and ev.get("reason") == "entry":
                self._entry(c, ev, "entry signal")
                self._threshold(c, ev)
        elif t == "order_submitted":
            if ev.get("role") == ENTRY:
                self._entry(c, ev, f"entry {ev['order_id']}")
        elif t == "position_changed":
            sym, qty = ev["symbol"], int(ev["qty"])
            before = self.qty.get(sym, 0)
            self.qty[sym] = qty
            if qty and (not before or (before > 0) != (qty > 0)):
                self.opened[sym] = ev["ts_ns"]
            if not qty:
                self.opened.pop(sym, None)
                self.armed.pop(sym, None)
                if self.stopping.pop(sym, False):
                    self.stopped_flat[sym] = ev["ts_ns"]
        elif t == "clip_armed":
            self.armed[ev["symbol"]] = to_units(ev["pnl"])
        elif t == "exit_triggered":
            self._exit(c, ev)

    def _entry(self, c: "InvariantChecker", ev: dict[str, Any], what: str) -> None:
        ts, sym = ev["ts_ns"], ev["symbol"]
        if self.calendar is not None:
            why = self.calendar.entry_refusal(ts)
            if why is not None:
                c._violate(ev, "no_entry_outside_session", f"{what} for {sym} at {secs(ts)}: {why}")
        flat_at = self.stopped_flat.get(sym)
        if self.cooldown is not None and flat_at is not None and ts < flat_at + self.cooldown:
            c._violate(ev, "no_entry_during_cooldown",
                       f"{what} for {sym} at {secs(ts)}, within stop_loss_cooldown of the "
                       f"stop-loss exit flat at {secs(flat_at)}")

    def _threshold(self, c: "InvariantChecker", ev: dict[str, Any]) -> None:
        sym, ts = ev["symbol"], ev["ts_ns"]
        opened, qty = self.opened.get(sym), self.qty.get(sym, 0)
        if self.threshold is None or opened is None or not qty:
            return
        if (qty > 0) == (ev["side"] == "BUY") and ts - opened >= self.threshold:
            c._violate(ev, "no_add_after_trade_threshold",
                       f"entry signal adding to {sym}'s trade opened at {secs(opened)} "
                       f"accepted at {secs(ts)}")

    def _exit(self, c: "InvariantChecker", ev: dict[str, Any]) -> None:
        sym, reason = ev["symbol"], ev.get("reason")
        if reason == "stop_loss":
            self.stopping[sym] = True
        elif reason == "clip":
            armed = self.armed.get(sym)
            if armed is None or self.activation is None or armed < self.activation:
                c._violate(ev, "clip_after_activation",
                           f"clip exit of {sym} at {secs(ev['ts_ns'])} in a trade whose clip "
                           f"was not armed at clip_activation")
        elif reason == "session_end" and ev.get("via") != "restart":  # resumed after a crash
            cal = self.calendar
            ts = ev["ts_ns"]
            if cal is None or cal.flatten_at is None or cal.next_at(ts - 1, cal.flatten_at) != ts:
                c._violate(ev, "session_end_at_flatten",
                           f"session_end exit of {sym} at {secs(ts)}, not at flatten_at")
