"""Exposure and the per-ticker cap: what a ticker holds, and how much more it may ask for.

Exposure is the filled position *plus* the working and queued entries: an entry that
has not filled yet will, and a limit that counted filled shares only let a burst of
entries overshoot the cap (each looked alone under it). The naive count survives only
as a weakening the corpus uses to prove that.

The cap is checked three times, all through these functions: when an entry is planned
(``room``), again when it is about to be sent after a pacing wait (``fit``: the world
may have changed), and on every entry fill (``cap_reached_on_fill``: a tiered cap can
shrink under working orders).
"""
from __future__ import annotations


def exposure(filled: int, working: int, queued: int, counts_working: bool = True) -> int:
    """|filled| + working + queued entry shares (``counts_working`` False: the naive,
    overshooting count of filled shares only)."""
    if not counts_working:
        return abs(filled)
    return abs(filled) + working + queued


def room(cap: int, exposure_now: int) -> int:
    """Shares the cap still allows (negative: above it)."""
    return cap - exposure_now


def fit(order_qty: int, cap: int, exposure_now: int, order_remaining: int) -> int:
    """The quantity an entry about to be sent may keep: its own remaining shares are in
    ``exposure_now`` already, so they are taken out before the room is measured (may be
    <= 0: the entry cannot go at all). The caller rounds to lots."""
    return min(order_qty, cap - (exposure_now - order_remaining))


def cap_reached_on_fill(filled: int, exposure_now: int, cap: int) -> bool:
    """After an entry fill: cancel the working entries? Yes when the filled position
    alone has reached the cap, or filled + working is above it (a tiered cap can shrink
    under working orders). Not at exposure == cap: those entries fit."""
    return abs(filled) >= cap or exposure_now > cap
