"""Safety invariants, checked on every journal event as it is written.

The checker rebuilds the world from the journal alone (orders, fills, positions) and
does not trust the kernel's own bookkeeping: a kernel bug that corrupts its state
would otherwise also corrupt the check. A violation is journaled as
``invariant_violated`` at the moment it happens, so it is part of the digest.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from ..kernel.journal import Journal

CapFn = Callable[[str], tuple[int, int]]  # symbol -> (cap now, highest cap any tier allows)


class InvariantChecker:
    def __init__(self, journal: Journal, cap_for: CapFn) -> None:
        self.journal = journal
        self.cap_for = cap_for
        self.orders: dict[str, dict[str, Any]] = {}  # order_id -> {symbol, role, side, qty, filled, live}
        self.position: dict[str, int] = {}
        self.working_entry: dict[str, int] = {}
        self.working_exits: dict[str, set[str]] = {}
        self.close_all = False
        self.violations: list[dict[str, str]] = []
        self.max_abs_position: dict[str, int] = {}
        self._in_emit = False

    def __call__(self, ev: dict[str, Any]) -> None:
        t = ev["type"]
        if t == "invariant_violated":
            return
        if t == "order_submitted":
            oid = ev["order_id"]
            sym = ev["symbol"]
            role = _s(ev["role"])
            qty = int(ev["qty"])
            self.orders[oid] = {"symbol": sym, "role": role, "side": _s(ev["side"]),
                                "qty": qty, "filled": 0, "live": True}
            if role == "ENTRY":
                if self.close_all:
                    self._violate(ev, "no_entry_after_close_all",
                                  f"entry {oid} for {sym} after a close_all kill switch")
                self.working_entry[sym] = self.working_entry.get(sym, 0) + qty
                self._check_exposure(ev, sym)
            else:
                live = self.working_exits.setdefault(sym, set())
                live.add(oid)
                if len(live) > 1:
                    self._violate(ev, "single_working_exit",
                                  f"{sym} has {len(live)} working exits: {', '.join(sorted(live))}")
        elif t == "fill":
            oid = ev["order_id"]
            o = self.orders.get(oid)
            if o is None:
                self._violate(ev, "fill_known_order", f"fill for unknown order {oid}")
                return
            qty = int(ev["qty"])
            o["filled"] += qty
            if o["filled"] > o["qty"]:
                self._violate(ev, "no_overfill", f"{oid} filled {o['filled']} of {o['qty']}")
            sym = o["symbol"]
            sign = 1 if o["side"] == "BUY" else -1
            self.position[sym] = self.position.get(sym, 0) + sign * qty
            absq = abs(self.position[sym])
            if absq > self.max_abs_position.get(sym, 0):
                self.max_abs_position[sym] = absq
            if o["role"] == "ENTRY":
                self.working_entry[sym] = self.working_entry.get(sym, 0) - qty
            ceiling = self.cap_for(sym)[1]
            if absq > ceiling:
                self._violate(ev, "exposure_cap", f"{sym} position {absq} above cap {ceiling}")
            if o["filled"] >= o["qty"]:
                self._done(oid)
        elif t in ("order_cancelled", "order_rejected", "order_expired"):
            self._done(ev["order_id"])
        elif t == "position_changed":
            sym = ev["symbol"]
            if int(ev["qty"]) != self.position.get(sym, 0):
                self._violate(ev, "position_equals_fills",
                              f"{sym} position {ev['qty']} but fills sum to "
                              f"{self.position.get(sym, 0)}")
        elif t == "kill_switch" and ev.get("action") == "close_all":
            self.close_all = True
        elif t == "kill_switch_reset":
            self.close_all = False

    def _done(self, oid: str) -> None:
        o = self.orders.pop(oid, None)  # forgotten once terminal: memory stays flat
        if o is None or not o["live"]:
            return
        o["live"] = False
        sym = o["symbol"]
        if o["role"] == "ENTRY":
            self.working_entry[sym] = self.working_entry.get(sym, 0) - (o["qty"] - o["filled"])
        else:
            self.working_exits.get(sym, set()).discard(oid)

    def _check_exposure(self, ev: dict[str, Any], sym: str) -> None:
        """Checked when an entry is sent: filled + working entries within today's cap.

        (Fills move quantity from working to filled, so they cannot raise exposure;
        they are checked against the highest cap, which a shrinking tier cap may
        leave exposure above until the cancels land.)"""
        exposure = abs(self.position.get(sym, 0)) + self.working_entry.get(sym, 0)
        cap = self.cap_for(sym)[0]
        if exposure > cap:
            self._violate(ev, "exposure_cap", f"{sym} exposure {exposure} above cap {cap}")

    def _violate(self, ev: dict[str, Any], name: str, detail: str) -> None:
        v = {"invariant": name, "detail": detail}
        self.violations.append(v)
        self.journal.emit(ev["ts_ns"], "invariant_violated", **v)


def _s(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def as_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except Exception:  # noqa: BLE001
        return None
