"""Restarts and adoption, as the invariant checker follows them.

A restarted kernel (a simulated ``crash``, a live ``--resume``) journals what it restored
(``restarted``), adopts the venue's positions and working orders (``position_adopted``,
``order_adopted``) and reconciles (``reconciled`` at start). The checker must carry its
own books across that seam: to judge ``state_survives_restart`` against what it already
knows, to hold ``no_entry_before_reconciliation``, and to count adopted shares and orders
like fills and working orders. These events come once per restart, never per tick, so
they live here as functions of the checker (its dispatch calls them directly, one call
each, as it called them as methods) and leave its per-event class to the hot checks.
"""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..kernel.units import to_units
from .invariants_text import CLOSE_ALL, ENTRY, as_text, money, oid_key

if TYPE_CHECKING:
    from .invariants import InvariantChecker


def on_adopted_position(c: InvariantChecker, ev: dict[str, Any]) -> None:
    """Shares booked from the venue's books: counted like a fill at the adopted
    price (exposure, position == fills and the P&L replay all include them). An
    adopted position may be above the cap: reducing it is the kernel's next act."""
    sym = ev["symbol"]
    signed = int(ev["qty"])
    c.position[sym] = c.position.get(sym, 0) + signed
    c._account(sym, signed, to_units(ev["avg_price"]))
    absq = abs(c.position[sym])
    if absq > c.max_abs_position.get(sym, 0):
        c.max_abs_position[sym] = absq
    if c.position[sym] != int(ev["position"]):
        c._violate(ev, "position_equals_fills",
                   f"{sym} adopted to {ev['position']}, fills and adoptions say "
                   f"{c.position[sym]}")
    if not c.position[sym]:
        c._exiting.pop(sym, None)  # booked flat (it went while the process was dead)


def on_restarted(c: InvariantChecker, ev: dict[str, Any]) -> None:
    """A restart continues from the earlier run's books. In the same journal (a
    simulated crash) the checker already knows them: what the kernel restored must
    be what the journal says (``state_survives_restart``). A live restart's new
    journal starts from the restored books, its kill switches and its realized P&L."""
    c._restarting = True
    c._adopted_since_restart = set()
    c.connected = True  # a fresh session (the old one died with the process)
    if c.orders or c.position or c.halted_by or c.close_all:
        check_restored(c, ev)
        return
    for sym, book in sorted(ev["books"].items()):
        qty, avg = int(book["qty"]), to_units(book["avg_price"])
        realized = Fraction(to_units(book["realized_pnl"]))
        c.position[sym] = qty
        c.cost[sym] = Fraction(qty * avg)
        c.cash[sym] = int(realized) - qty * avg
        c.realized[sym] = realized
        c.realized_total += realized
        if abs(qty) > c.max_abs_position.get(sym, 0):
            c.max_abs_position[sym] = abs(qty)
    c.realized_total = sum(c.realized.values(), Fraction(0))
    for what in ev["kill_switch"]:
        if what.endswith(f"({CLOSE_ALL})"):
            c.close_all = True
        elif c.halted_by is None:
            c.halted_by = f"kill switch {what} (before the restart)"


def check_restored(c: InvariantChecker, ev: dict[str, Any]) -> None:
    problems = []
    if (c.halted_by is not None or c.close_all) and not ev["kill_switch"]:
        problems.append(f"a kill switch was in force ({c.halted_by or 'close_all'}) "
                        "and the restart dropped it")
    restored = to_units(ev["realized_pnl"])
    if 2 * abs(c.realized_total - restored) > 2 * max(1, len(c.realized)):
        problems.append(f"realized P&L {money(c.realized_total)} restored as "
                        f"{ev['realized_pnl']}")
    books = ev["books"]
    for sym, qty in sorted(c.position.items()):
        got = int(books.get(sym, {}).get("qty", "0"))
        if got != qty:
            problems.append(f"{sym} position {qty} restored as {got}")
    if c._last_oid and oid_key(ev["last_order_id"])[0] != c._last_oid:
        problems.append(f"order ids up to O{c._last_oid} were used and the restart "
                        f"says {ev['last_order_id'] or 'none'}")
    for p in problems:
        c._violate(ev, "state_survives_restart", p)
    # the restored cost is the journal's average, rounded to its text: continue the
    # replay from the same basis the kernel continues from
    for sym, book in ev["books"].items():
        qty = int(book["qty"])
        if qty and qty == c.position.get(sym, 0):
            avg = to_units(book["avg_price"])
            c.cost[sym] = Fraction(qty * avg)
            realized = c.realized.get(sym, Fraction(0))
            c.cash[sym] = int(to_units(book["realized_pnl"])) - qty * avg
            c.realized[sym] = Fraction(to_units(book["realized_pnl"]))
            c.realized_total += c.realized[sym] - realized


def on_start_reconciled(c: InvariantChecker, ev: dict[str, Any]) -> None:
    """The restart's reconciliation: orders the dead kernel had working that the new
    one did not adopt ended while it was dead (filled or cancelled: the position
    difference, if any, is adopted). Entries may go out from now on."""
    c._restarting = False
    for oid in [o for o, rec in c.orders.items()
                if rec["live"] and o not in c._adopted_since_restart]:
        c._done(oid, ev["ts_ns"])


def on_adopted_order(c: InvariantChecker, ev: dict[str, Any]) -> None:
    oid, sym, role = ev["order_id"], ev["symbol"], as_text(ev["role"])
    c._adopted_since_restart.add(oid)
    known = c.orders.get(oid)
    if known is not None:
        # still working from before the crash: fills while the kernel was dead are
        # in the venue's filled count (and in the adopted position), not in fills
        gained = max(0, int(ev["filled"]) - known["filled"])
        known["filled"] += gained
        if known["role"] == ENTRY and known["live"]:
            c.working_entry[sym] = c.working_entry.get(sym, 0) - gained
        return
    qty, filled = int(ev["qty"]), int(ev["filled"])
    c.orders[oid] = {"symbol": sym, "role": role, "side": as_text(ev["side"]), "qty": qty,
                     "filled": filled, "live": True, "ts": ev["ts_ns"]}
    if role == ENTRY:
        c.working_entry[sym] = c.working_entry.get(sym, 0) + qty - filled
    else:
        live = c.working_exits.setdefault(sym, set())
        live.add(oid)
        if len(live) > 1:
            c._violate(ev, "single_working_exit",
                       f"{sym} has {len(live)} working exits: {', '.join(sorted(live))}")
