"""Freshness: whether a signal or a feed is recent enough to trade on.

An alert that arrives long after it was published describes a move that is over; a price
that stopped ticking may be far from the market. Both are judged on integer nanoseconds
of the kernel's clock, never the wall clock.
"""
from __future__ import annotations

from typing import Iterable


def signal_age_refusal(age_ns: int, freshness_ns: int) -> str | None:
    """Why a signal published ``age_ns`` ago is refused, or None when it is fresh."""
    if age_ns > freshness_ns:
        return f"stale: published {age_ns // 1_000_000}ms ago"
    if age_ns < 0:
        return "published in the future (clock skew?)"
    return None


def feed_stale(now_ns: int, last_tick_ns: int, stale_after_ns: int) -> bool:
    """No tick for ``stale_after_ns``."""
    return now_ns - last_tick_ns >= stale_after_ns


def all_stale(stale_flags: Iterable[bool]) -> bool:
    """Every feed is stale (and there is at least one): nothing may open."""
    any_feed = False
    for stale in stale_flags:
        if not stale:
            return False
        any_feed = True
    return any_feed
