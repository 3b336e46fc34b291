"""TWS field values: prices, integers, booleans and quantities as text on the wire.

Prices are text on the wire and exact integers (1e-8 units) in here; "" and TWS's
"unset" sentinels mean no value. No float is ever parsed or formatted.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ...kernel.units import UnitError, fmt_units, to_units
from .framing import ProtocolError

UNSET_DOUBLE = "1.7976931348623157E308"  # what TWS sends for "no value" doubles
UNSET_INTEGER = "2147483647"


def price_text(units: int | Fraction | None, places: int = 2) -> str:
    """A price on the wire ("" when unset), from exact units."""
    if units is None:
        return ""
    return fmt_units(units, places)


def parse_price(text: str) -> int | None:
    """Wire text -> units; "" and the TWS 'unset' sentinel mean no price."""
    t = text.strip()
    if not t or t.upper() in (UNSET_DOUBLE.upper(), "1.7976931348623157E+308", "INFINITE"):
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise ProtocolError(f"bad price {text!r}") from None
    if abs(d) > Decimal("1e15"):  # an 'unset' double spelled some other way
        return None
    try:
        return to_units(d)
    except UnitError as exc:
        raise ProtocolError(str(exc)) from None


def parse_int(text: str, default: int = 0) -> int:
    t = text.strip()
    if not t:
        return default
    try:
        return int(t)
    except ValueError:
        try:
            d = Decimal(t)
        except InvalidOperation:
            raise ProtocolError(f"bad integer {text!r}") from None
        if d != d.to_integral_value():
            raise ProtocolError(f"bad integer {text!r}") from None
        return int(d)


def parse_bool(text: str) -> bool:
    t = text.strip()
    return bool(t) and t not in ("0", "false", "False")


def parse_quantity(text: str) -> Decimal:
    try:
        return Decimal(text.strip() or "0")
    except InvalidOperation:
        raise ProtocolError(f"bad quantity {text!r}") from None
