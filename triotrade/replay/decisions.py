"""The kernel's decisions, as read from a journal: what a replay must reproduce.

A decision is something the kernel chose, not something that happened to it: a signal
taken or refused (and why), an order sent (role, side, quantity, type), an exit rule
that fired (reason, and what ran the check), the kill switch. Fills, acks and bars
are the world's answer and are compared only to explain a divergence. Each decision
has a *key*, the part both runs must agree on; its time and the rest (a limit price,
the signal's source) are shown beside it but compared only by time tolerance.
"""
from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Decision:
    t: int  # ns since the run's start
    kind: str  # signal, order, exit, kill_switch
    key: tuple[str, ...]
    text: str  # one line, for people
    order_id: str = ""

    def __str__(self) -> str:
        return self.text


def _signal(e: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    taken = "accepted" if e["accepted"] else "refused"
    return ((e["symbol"], e["side"], taken, e["reason"]),
            f"signal {e['side']} {e['symbol']} {taken} ({e['reason']})")


def _order(e: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    price = f" @ {e['price']}" if e.get("price") else ""
    return ((e["symbol"], e["role"], e["side"], e["qty"], e["order_type"]),
            f"order {e['order_id']} {e['role']} {e['side']} {e['qty']} {e['symbol']} "
            f"{e['order_type']}{price}")


def _exit(e: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    via = e.get("via", "")
    return ((e["symbol"], e["reason"], via),
            f"exit {e['symbol']} triggered: {e['reason']}" + (f" via {via}" if via else ""))


def _kill(e: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    return ((e["reason"], e["action"]), f"kill switch {e['action']} ({e['reason']})")


_READERS = {"signal": ("signal", _signal), "order_submitted": ("order", _order),
            "exit_triggered": ("exit", _exit), "kill_switch": ("kill_switch", _kill)}


def extract(events: list[dict[str, Any]], start_ns: int) -> list[Decision]:
    """The decisions of a journal, in journal order, times relative to ``start_ns``."""
    out = []
    for e in events:
        spec = _READERS.get(e["type"])
        if spec is None:
            continue
        kind, reader = spec
        key, text = reader(e)
        out.append(Decision(e["ts_ns"] - start_ns, kind, key, text, e.get("order_id", "")))
    return out
