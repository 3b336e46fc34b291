"""Sizing: the unit and the cap a ticker trades at the current price.

A tier list sets both by price band (a cheap stock is traded in more shares than an
expensive one); the first band that holds the price wins, and a price in no band, or
no price yet, falls back to the flat sizes. The unit is clipped to the room the cap
leaves (``kernel/risk/exposure.py``) and rounded to whole lots by the caller's
instrument.
"""
from __future__ import annotations

from decimal import Decimal

from ..config import Sizing

_UNITS = Decimal(10**8)


def unit_and_cap(sizing: Sizing, last: int) -> tuple[int, int]:
    """(unit size, max size) for the price ``last`` (units), from the tier list if any."""
    if sizing.tier_list and last:
        px = Decimal(last) / _UNITS
        for tier in sizing.tier_list:
            if tier.price_min <= px <= tier.price_max:
                return tier.unit_position_size, tier.max_position_size
    return sizing.unit_position_size, sizing.max_position_size
