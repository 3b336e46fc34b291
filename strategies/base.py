"""The Strategy protocol: the kernel feeds prices, a strategy answers with a side or None.

Strategies are synchronous and allocation-light because they run on the tick path.
"""
from __future__ import annotations

from typing import Protocol

from ..kernel.signals import SignalSide

BUY = SignalSide.BUY
SELL = SignalSide.SELL
EXIT = SignalSide.EXIT


class Strategy(Protocol):
    def on_price(self, ts_ns: int, price: int) -> SignalSide | None:
        """Return BUY, SELL, EXIT or None for this price (integer units)."""
        ...
