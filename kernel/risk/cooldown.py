"""Two entry rules in time: the stop-loss cooldown and the trade threshold.

* After a stop-loss exit, the market just went against the signal; re-entering at once
  is the same bet placed again at a worse price. ``entries.stop_loss_cooldown`` keeps the
  ticker out of new entries for that long, counted from the moment the stop-loss exit
  left it flat.
* A trade is built by a burst of same-side signals; a signal long after the trade
  opened is no longer part of that burst but a chase. ``entries.trade_threshold``: an
  entry may add to an open trade only within this time of the trade's first fill; later
  same-side signals are refused until the ticker is flat again.

Pure: plain values in, a refusal (or None) out.
"""
from __future__ import annotations

from ..units import fmt_duration


def cooldown_refusal(now: int, stopped_flat_ns: int | None, cooldown: int | None) -> str | None:
    """Refused while within ``cooldown`` after a stop-loss exit went flat."""
    if cooldown is None or stopped_flat_ns is None:
        return None
    left = stopped_flat_ns + cooldown - now
    if left > 0:
        return f"stop_loss_cooldown: {fmt_duration(left)} left after a stop-loss exit"
    return None


def threshold_refusal(now: int, position_qty: int, adds_long: bool, opened_ns: int | None,
                      threshold: int | None) -> str | None:
    """Refused: an add to an open trade (same side) ``threshold`` or more after it opened."""
    if threshold is None or not position_qty or opened_ns is None:
        return None
    if (position_qty > 0) != adds_long:
        return None  # not an add (the opposite side is refused by its own rule)
    if now - opened_ns >= threshold:
        return (f"trade_threshold: the open trade is {fmt_duration(now - opened_ns)} old "
                f"(adds only within {fmt_duration(threshold)})")
    return None
