"""Exact numbers: fixed-point prices, integer nanoseconds, and their text forms.

Prices travel through the tick path as integers in units of 1e-8 (``PRICE_SCALE``)
so that a tick costs integer compares, never a Decimal or a float. Decimals appear
only at the edges: parsing scenario/config text and writing the journal.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

PRICE_DECIMALS = 8
PRICE_SCALE = 10**PRICE_DECIMALS
NS_PER_S = 1_000_000_000

_DURATION_RE = re.compile(r"^(\d+)(ns|us|ms|s|m|h|d)$")
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}


class UnitError(ValueError):
    """A value that cannot be read as the exact quantity it claims to be."""


def parse_duration(text: object) -> int:
    """``"250ms"`` -> 250_000_000 ns. Integer + unit only, as the format says."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"expected a duration like '250ms', '10s', '5m', got {text!r}")
    m = _DURATION_RE.match(text.strip())
    if not m:
        raise UnitError(f"cannot parse duration {text!r} (integer + unit: ms, s, m, h)")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)]


def format_duration(ns: int) -> str:
    for unit in ("h", "m", "s", "ms", "us"):
        size = _DURATION_UNITS[unit]
        if ns and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def parse_decimal(value: object) -> Decimal:
    """Strings and YAML numbers, read exactly. Floats go through their shortest repr."""
    if isinstance(value, bool):
        raise UnitError(f"expected a number, got {value!r}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise UnitError(f"cannot parse {value!r} as a decimal number") from None
    else:
        raise UnitError(f"expected a number or numeric string, got {type(value).__name__}")
    if not d.is_finite():
        raise UnitError(f"{value!r} is not a finite number")
    return d


def to_units(value: object) -> int:
    """A price or money amount as integer 1e-8 units; refuses anything finer."""
    d = parse_decimal(value)
    scaled = d.scaleb(PRICE_DECIMALS)
    if scaled != scaled.to_integral_value():
        raise UnitError(f"{value!r} has more than {PRICE_DECIMALS} decimal places")
    return int(scaled)


def units_to_decimal(units: int | Fraction, places: int = 2) -> Decimal:
    """Units back to a Decimal with at least ``places`` decimals, more only if needed."""
    if isinstance(units, Fraction):
        q = Decimal(units.numerator) / Decimal(units.denominator)
        d = q.scaleb(-PRICE_DECIMALS).quantize(Decimal(1).scaleb(-PRICE_DECIMALS))
    else:
        d = Decimal(units).scaleb(-PRICE_DECIMALS)
    d = d.normalize()
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp > -places:
        d = d.quantize(Decimal(1).scaleb(-places))
    return d


def fmt_units(units: int | Fraction, places: int = 2) -> str:
    d = units_to_decimal(units, places)
    return format(d, "f")


def decimals_of(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0
