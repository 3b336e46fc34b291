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

# ASCII digits only: \d (and int(), and Decimal()) also take other scripts' digits
_DURATION_RE = re.compile(r"([0-9]+)(ns|us|ms|s|m|h|d)")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_ADJUSTED = 30  # no price or amount has more than 30 digits before the point
# no number in a config is longer, more precise or further from 1 than this: bounds
# that keep every conversion linear (Python's int(str) is quadratic, and capped)
MAX_NUMBER_TEXT = 60
MAX_DIGITS = 40
MIN_ADJUSTED = -40
MAX_DURATION_DIGITS = 18  # 18 digits of ns are 31 years
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


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` for an error message, cut short: a message names the value,
    it does not repeat a 5 000-digit number or an alias-expanded list."""
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text)} characters)"


def parse_duration(text: object) -> int:
    """``"250ms"`` -> 250_000_000 ns. Integer + unit only, as the format says."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"expected a duration like '250ms', '10s', '5m', got {shown(text)}")
    if len(text) > MAX_NUMBER_TEXT:
        raise UnitError(f"duration {shown(text)} is too long")
    m = _DURATION_RE.fullmatch(text.strip())
    if not m:
        raise UnitError(f"cannot parse duration {shown(text)} (integer + unit: ms, s, m, h)")
    if len(m.group(1).lstrip("0")) > MAX_DURATION_DIGITS:
        raise UnitError(f"duration {shown(text)} has more than {MAX_DURATION_DIGITS} digits")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)]


def fmt_duration(ns: int) -> str:
    """A time as people write it in scenarios: ``2s``, ``1.5s``, ``30d``, ``1ms``.

    The largest unit that divides it exactly; a time of a second or more that is not a
    whole second is decimal seconds (``1.5s``). Exact (no float), so two different times
    never print alike."""
    if ns >= NS_PER_S and ns % NS_PER_S:
        return f"{Decimal(ns) / NS_PER_S:f}s"
    for unit in ("d", "h", "m", "s", "ms", "us"):
        size = _DURATION_UNITS[unit]
        if ns and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def parse_decimal(value: object) -> Decimal:
    """Strings and YAML numbers, read exactly. Floats go through their shortest repr."""
    if isinstance(value, bool):
        raise UnitError(f"expected a number, got {shown(value)}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    elif isinstance(value, str):
        if len(value) > MAX_NUMBER_TEXT or not _DECIMAL_RE.fullmatch(value.strip()):
            raise UnitError(f"cannot parse {shown(value)} as a decimal number")
        try:
            d = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only numerals
            raise UnitError(f"cannot parse {shown(value)} as a decimal number") from None
    else:
        raise UnitError(f"expected a number or numeric string, got {type(value).__name__}")
    if not d.is_finite():
        raise UnitError(f"{shown(value)} is not a finite number")
    if d:
        if len(d.as_tuple().digits) > MAX_DIGITS:
            raise UnitError(f"{shown(value)} has more than {MAX_DIGITS} digits")
        if d.adjusted() > _MAX_ADJUSTED:
            raise UnitError(f"{shown(value)} is too large (at most 1e{_MAX_ADJUSTED})")
        if d.adjusted() < MIN_ADJUSTED:
            raise UnitError(f"{shown(value)} is too small (at least 1e{MIN_ADJUSTED})")
    return d


def to_units(value: object) -> int:
    """A price or money amount as integer 1e-8 units; refuses anything finer.

    Integer arithmetic on the decimal's digits: Decimal operations round to the
    context's 28 digits, and a price must never be rounded silently."""
    d = parse_decimal(value)
    if d and d.adjusted() >= _MAX_ADJUSTED:
        raise UnitError(f"{shown(value)} is too large for a price or amount")
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)  # finite: parse_decimal refuses the rest
    n = int("".join(map(str, digits)))
    shift = exp + PRICE_DECIMALS
    if n == 0:
        return 0
    if shift < -len(digits):  # a nonzero digit lies beyond the 8th place (no 10**huge)
        raise UnitError(f"{shown(value)} has more than {PRICE_DECIMALS} decimal places")
    units: int  # int ** int is typed Any (a negative exponent gives a float)
    if shift >= 0:
        units = n * 10**shift
    else:
        units, rest = divmod(n, 10**-shift)
        if rest:
            raise UnitError(f"{shown(value)} has more than {PRICE_DECIMALS} decimal places")
    return -units if sign else units


def units_to_decimal(units: int | Fraction, places: int = 2) -> Decimal:
    """Units back to a Decimal with at least ``places`` decimals, more only if needed.

    A Fraction is rounded (half to even, exactly) to whole units first. Built from
    the digits, so nothing is rounded to the decimal context and zero is never -0."""
    if isinstance(units, Fraction):
        units = round(units)
    digits = str(abs(units)).rjust(PRICE_DECIMALS + 1, "0")
    whole, frac = digits[:-PRICE_DECIMALS], digits[-PRICE_DECIMALS:].rstrip("0")
    if len(frac) < places:
        frac = frac.ljust(places, "0")
    sign = "-" if units < 0 else ""
    return Decimal(f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}")


def fmt_units(units: int | Fraction, places: int = 2) -> str:
    """Price/money units as text with at least ``places`` decimals (more only if needed).

    Integers take a pure-integer path: this runs for every journaled price.
    """
    if type(units) is int or (isinstance(units, Fraction) and units.denominator == 1):
        n = int(units)
        sign = "-" if n < 0 else ""
        whole, frac = divmod(abs(n), PRICE_SCALE)
        digits = f"{frac:0{PRICE_DECIMALS}d}".rstrip("0")
        if len(digits) < places:
            digits = digits + "0" * (places - len(digits))
        return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"
    return format(units_to_decimal(units, places), "f")


def decimals_of(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0
