"""Signals: strategy or news intents as the kernel receives them."""
from __future__ import annotations

import enum

import attrs

from .orders import Side


class SignalSide(enum.StrEnum):
    """What a signal asks for: open long, open short, or close what is held."""

    BUY = "BUY"
    SELL = "SELL"
    EXIT = "EXIT"

    @property
    def order_side(self) -> Side:
        """The side of the entry order (not meaningful for EXIT)."""
        return Side.BUY if self is SignalSide.BUY else Side.SELL


@attrs.frozen
class Signal:
    symbol: str
    side: SignalSide = attrs.field(converter=SignalSide)
    ts_ns: int
    published_ns: int | None = None  # news: when the alert was published
    source: str = "scenario"
    size: int | None = None  # strategy intents: a quantity wish, clipped to the caps
    note: str | None = None  # strategy intents: the reason given, journaled
