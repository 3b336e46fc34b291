"""The Strategy protocol: the kernel feeds prices, a strategy answers with a side or None.

Strategies are synchronous and allocation-light because they run on the tick path.
"""
from __future__ import annotations

from typing import Protocol

BUY = "BUY"
SELL = "SELL"
EXIT = "EXIT"


class Strategy(Protocol):
    def on_price(self, ts_ns: int, price: int) -> str | None:
        """Return "BUY", "SELL", "EXIT" or None for this price (integer units)."""
        ...
