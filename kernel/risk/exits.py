"""Exit levels, and which exit rule fires on the current mark.

Rules are asked in a fixed order and the first that holds names the exit: the
per-trade loss limit first (it is money, whatever the levels say), then the price
levels (stop loss, take profit, trailing stop, in that order), then the hold time.
One answer per check: the ticker triggers at most one exit and the single-exit lock
keeps it that way.

Levels are integer price units. A long position is marked at the bid and a short at the
ask (where its exit would fill), falling back to the last trade when that side is empty.
"""
from __future__ import annotations

from ..config import Exits


def exit_levels(qty: int, avg: int, hwm: int, exits: Exits) -> dict[str, int]:
    """Trigger prices of the configured price rules for a position of ``qty`` at ``avg``;
    ``hwm`` is the best price since it opened (0: none yet, no trailing level)."""
    if not qty:
        return {}
    out: dict[str, int] = {}
    sign = 1 if qty > 0 else -1
    if exits.stop_loss is not None:
        out["stop_loss"] = avg - sign * exits.stop_loss.below(avg)
    if exits.take_profit is not None:
        out["take_profit"] = avg + sign * exits.take_profit.below(avg)
    if exits.trailing_stop is not None and hwm:
        out["trailing_stop"] = hwm - sign * exits.trailing_stop.below(hwm)
    return out


def price_exit(long: bool, mark: int, levels: dict[str, int]) -> str | None:
    """The first price rule whose level the mark has reached, or None (no mark: None)."""
    if not mark:
        return None
    for rule, level in levels.items():
        if rule == "take_profit":
            hit = mark >= level if long else mark <= level
        else:
            hit = mark <= level if long else mark >= level
        if hit:
            return rule
    return None


def hold_expired(opened_ns: int | None, now_ns: int, hold_ns: int | None) -> bool:
    """The position has been held for ``hold_ns`` (None: no hold-time rule)."""
    return hold_ns is not None and opened_ns is not None and now_ns - opened_ns >= hold_ns
