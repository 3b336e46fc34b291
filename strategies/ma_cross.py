"""Moving-average cross on integer prices, O(1) per tick.

Running sums over ring buffers: no allocation and no Decimal per tick. A golden cross
(fast crosses above slow) says BUY; a death cross says EXIT for a long-only
strategy, or SELL when ``allow_short``.
"""
from __future__ import annotations

from ..kernel.signals import SignalSide
from .base import BUY, EXIT, SELL


class MovingAverageCross:
    __slots__ = ("fast", "slow", "_fbuf", "_sbuf", "_fsum", "_ssum", "_n", "_state", "allow_short")

    def __init__(self, fast: int = 20, slow: int = 50, allow_short: bool = False) -> None:
        if not 0 < fast < slow:
            raise ValueError("need 0 < fast < slow")
        self.fast = fast
        self.slow = slow
        self._fbuf = [0] * fast
        self._sbuf = [0] * slow
        self._fsum = 0
        self._ssum = 0
        self._n = 0
        self._state = 0  # +1 fast above slow, -1 below, 0 unknown
        self.allow_short = allow_short

    def on_price(self, ts_ns: int, price: int) -> SignalSide | None:
        n = self._n
        fi = n % self.fast
        si = n % self.slow
        self._fsum += price - self._fbuf[fi]
        self._fbuf[fi] = price
        self._ssum += price - self._sbuf[si]
        self._sbuf[si] = price
        self._n = n + 1
        if n + 1 < self.slow:
            return None
        # compare fast/slow averages without division: fsum/fast vs ssum/slow
        lhs = self._fsum * self.slow
        rhs = self._ssum * self.fast
        state = 1 if lhs > rhs else (-1 if lhs < rhs else self._state)
        prev = self._state
        self._state = state
        if prev == 0 or state == prev:
            return None
        if state > 0:
            return BUY
        return SELL if self.allow_short else EXIT
