"""Signals: strategy or news intents as the kernel receives them."""
from __future__ import annotations

import attrs


@attrs.frozen
class Signal:
    symbol: str
    side: str  # "BUY" | "SELL" | "EXIT"
    ts_ns: int
    published_ns: int | None = None  # news: when the alert was published
    source: str = "scenario"
