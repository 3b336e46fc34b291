"""Instruments: what the kernel needs to know to price, size and round an order.

There is one instrument class. Scenario files and live config files both declare
instruments with the same keys, are structured straight into ``Instrument`` by the
strict converter, and are checked by the same ``instrument_problems``: a tick size the
simulator refuses is refused live too.
"""
from __future__ import annotations

from decimal import Decimal

import attrs

from .units import PRICE_SCALE, UnitError, decimals_of, to_units


def _tick_units(inst: Instrument) -> int:
    return int(inst.tick_size * PRICE_SCALE)


def _price_places(inst: Instrument) -> int:
    return decimals_of(inst.tick_size)


@attrs.frozen
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int = 1
    currency: str = "USD"
    exchange: str = "SMART"

    # derived once: they are read on every order and every journaled price
    tick_units: int = attrs.field(init=False, eq=False, repr=False,
                                  default=attrs.Factory(_tick_units, takes_self=True))
    price_places: int = attrs.field(init=False, eq=False, repr=False,
                                    default=attrs.Factory(_price_places, takes_self=True))

    def round_lots(self, qty: int) -> int:
        """Largest multiple of the lot size not above ``qty``."""
        return (qty // self.lot_size) * self.lot_size

    def floor_tick(self, units: int) -> int:
        t = self.tick_units
        return (units // t) * t

    def ceil_tick(self, units: int) -> int:
        t = self.tick_units
        return -((-units) // t) * t


def instrument_problems(instruments: list[Instrument], path: str = "instruments"
                        ) -> list[tuple[str, str]]:
    """What types cannot say about a declared list of instruments, as (key.path, problem).

    At least one; symbols non-empty and unique; a positive tick size the price units can
    hold exactly; a lot size of at least one.
    """
    out: list[tuple[str, str]] = []
    if not instruments:
        out.append((path, "at least one instrument is required"))
    seen: set[str] = set()
    for i, inst in enumerate(instruments):
        p = f"{path}[{i}]"
        if not inst.symbol:
            out.append((f"{p}.symbol", "must not be empty"))
        if inst.symbol in seen:
            out.append((f"{p}.symbol", f"{inst.symbol!r} is declared twice"))
        seen.add(inst.symbol)
        if inst.tick_size <= 0:
            out.append((f"{p}.tick_size", "must be positive"))
        else:
            try:
                to_units(inst.tick_size)
            except UnitError as exc:
                out.append((f"{p}.tick_size", str(exc)))
        if inst.lot_size <= 0:
            out.append((f"{p}.lot_size", "must be positive"))
    return out
