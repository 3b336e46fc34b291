"""Exponential moving-average momentum cross on integer prices, O(1) per tick.

Each EMA follows ``ema += (price - ema) * 2 / (n + 1)``, kept in integer fixed point
(``FRAC_BITS`` binary places below the price unit) with floor division, so a run is
bit-identical everywhere and never touches a float. Both averages start at the first
price; like the simple-average cross, nothing is said until ``slow`` prices have been
seen, and only a change of side after that is a signal: the fast EMA crossing above
the slow one says BUY, crossing below says EXIT (SELL when ``allow_short``).

Written against the public strategy interface: ``on_price`` answering with an
``Intent`` whose reason is journaled. The intents are built once, here, not per tick.
"""
from __future__ import annotations

from .base import Action, Intent

FRAC_BITS = 16


class EmaCross:
    __slots__ = ("fast", "slow", "allow_short", "_ef", "_es", "_n", "_state", "_up", "_down")

    def __init__(self, fast: int = 12, slow: int = 26, allow_short: bool = False) -> None:
        if not 0 < fast < slow:
            raise ValueError("need 0 < fast < slow")
        self.fast = fast
        self.slow = slow
        self.allow_short = allow_short
        self._ef = 0  # fast EMA, price units << FRAC_BITS
        self._es = 0
        self._n = 0
        self._state = 0  # +1 fast above slow, -1 below, 0 unknown
        self._up = Intent(Action.BUY, reason=f"EMA{fast} crossed above EMA{slow}")
        self._down = Intent(Action.SELL if allow_short else Action.EXIT,
                            reason=f"EMA{fast} crossed below EMA{slow}")

    def on_price(self, ts_ns: int, price: int) -> Intent | None:
        p = price << FRAC_BITS
        n = self._n
        self._n = n + 1
        if n == 0:
            self._ef = self._es = p
        else:
            self._ef += (p - self._ef) * 2 // (self.fast + 1)
            self._es += (p - self._es) * 2 // (self.slow + 1)
        if n + 1 < self.slow:
            return None
        ef, es = self._ef, self._es
        state = 1 if ef > es else (-1 if ef < es else self._state)
        prev = self._state
        self._state = state
        if prev == 0 or state == prev:
            return None
        return self._up if state > 0 else self._down

    @property
    def averages(self) -> tuple[int, int]:
        """(fast, slow) EMA in price units, rounded down (for tests and debugging)."""
        return self._ef >> FRAC_BITS, self._es >> FRAC_BITS
