"""Instruments: what the kernel needs to know to price, size and round an order."""
from __future__ import annotations

from decimal import Decimal

import attrs

from .units import PRICE_SCALE, decimals_of


@attrs.frozen
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int = 1
    currency: str = "USD"
    exchange: str = "SMART"

    # derived once: they are read on every order and every journaled price
    tick_units: int = attrs.field(init=False, eq=False, repr=False)
    price_places: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "tick_units", int(self.tick_size * PRICE_SCALE))
        object.__setattr__(self, "price_places", decimals_of(self.tick_size))

    def round_lots(self, qty: int) -> int:
        """Largest multiple of the lot size not above ``qty``."""
        return (qty // self.lot_size) * self.lot_size

    def floor_tick(self, units: int) -> int:
        t = self.tick_units
        return (units // t) * t

    def ceil_tick(self, units: int) -> int:
        t = self.tick_units
        return -((-units) // t) * t
