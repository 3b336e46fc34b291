"""News alerts: freshness window and de-duplication, as pure synchronous code.

The seed this project grew from traded news: the same alert arrived several times
(several feeds, re-publications), and alerts arrived minutes after publication when
the move was over. Both are judged here, on the alert's own publication time.
"""
from __future__ import annotations

from collections import OrderedDict

from ..kernel.risk.freshness import signal_age_refusal


class NewsAlertFilter:
    """Accept an alert once, and only while it is fresh."""

    __slots__ = ("freshness_ns", "_seen")

    def __init__(self, freshness_ns: int) -> None:
        self.freshness_ns = freshness_ns
        # (symbol, side, published) -> first seen; insertion-ordered so pruning is O(1)
        self._seen: OrderedDict[tuple[str, str, int], int] = OrderedDict()

    def judge(self, symbol: str, side: str, now_ns: int, published_ns: int) -> tuple[bool, str]:
        """(accepted, reason) for an alert published at ``published_ns`` seen at ``now_ns``."""
        refusal = signal_age_refusal(now_ns - published_ns, self.freshness_ns)
        if refusal is not None:
            return False, refusal
        key = (symbol, side, published_ns)
        if key in self._seen:
            return False, "duplicate alert"
        self._seen[key] = now_ns
        # an alert older than the freshness window can no longer be accepted anyway
        seen = self._seen
        while seen:
            first = next(iter(seen))
            if now_ns - first[2] <= self.freshness_ns:
                break
            seen.popitem(last=False)
        return True, "fresh"
